"""The tile cache is bounded by the bytes it holds, not by its number of entries."""

from __future__ import annotations

from app.collections import TILE_ENTRY_OVERHEAD, TileBlob, TileCache


def test_the_tile_cache_holds_at_most_its_byte_budget() -> None:
    cache = TileCache(100_000)
    for i in range(500):  # 500 filters of a 9 kB tile: 4.5 MB if bounded by entries
        cache.put(("mvt", i), TileBlob(b"x" * 9_000))
    assert cache.bytes <= 100_000
    assert len(cache) == 100_000 // (9_000 + TILE_ENTRY_OVERHEAD)
    assert cache.get(("mvt", 499)) is not None and cache.get(("mvt", 0)) is None
    cache.put(("mvt", "z0"), TileBlob(b"x" * 200_000))  # larger than the budget: not kept
    assert cache.get(("mvt", "z0")) is None and cache.bytes <= 100_000
    off = TileCache(0)
    off.put(("mvt", 1), TileBlob(b"x"))
    assert len(off) == 0
