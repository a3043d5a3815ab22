"""The on-disk surface cache: bounded by bytes, least recently used files evicted."""

from __future__ import annotations

import os
from pathlib import Path

from geo.surface_cache import SurfaceCache


def _write(size: int):
    def create(path: Path) -> None:
        path.write_bytes(b"x" * size)

    return create


def test_least_recently_used_surfaces_are_evicted_past_the_budget(tmp_path: Path) -> None:
    cache = SurfaceCache(tmp_path, budget_bytes=2500)
    paths = [tmp_path / f"prospectivity-{i}.tif" for i in range(3)]
    for age, path in enumerate(paths):
        cache.get_or_create(path, _write(1000))
        os.utime(path, (1_000 + age, 1_000 + age))  # 0 oldest, 2 newest
    assert not paths[0].exists() and cache.evicted == 1  # 3000 > 2500: the oldest went
    assert cache.total_bytes() == 2000
    cache._touched.clear()
    cache.get_or_create(paths[1], _write(999))  # a hit: not rewritten, marked as used
    assert paths[1].stat().st_size == 1000 and paths[1].stat().st_mtime > 2_000
    cache.get_or_create(paths[0], _write(1000))  # back: now paths[2] is the oldest
    assert not paths[2].exists() and paths[0].exists() and paths[1].exists()
    (tmp_path / "deposits_enriched-x.parquet").write_bytes(b"y" * 10_000)
    assert cache.evict() == 0  # other files in the cache dir are not the cache's


def test_a_surface_larger_than_the_budget_is_kept_alone(tmp_path: Path) -> None:
    cache = SurfaceCache(tmp_path, budget_bytes=10)
    first = cache.get_or_create(tmp_path / "prospectivity-a.tif", _write(100))
    second = cache.get_or_create(tmp_path / "prospectivity-b.tif", _write(100))
    assert second.exists() and not first.exists()
