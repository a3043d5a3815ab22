"""Rebuilding the store under a running server: no broken or mixed response, then a switch.

The live test rebuilds the store twice (``layers.store.build(force=True)``, the real
build from the mirror's sources, of a few small layers: a national build takes minutes
and each loaded snapshot gigabytes) while two clients keep requesting
a live uvicorn server: every response must be a 200 from one complete build, the old
one or a new one, and afterwards ``/health`` reports the last build. The second rebuild
would prune the build the server started on; the server's lease keeps it while it is
still read.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.encoders.raster import render_png
from app.main import create_app
from app.settings import Settings
from app.state import ServingState
from geo.filters import DepositFilter
from layers import catalog, store
from layers.errors import StoreNotBuiltError
from layers.store import LEASE_PREFIX, STORE_LINK, Store
from tests.app.live import serve

SMALL_BOX = "-123.5,40.5,-122.5,41.5"
DEM_TILES = [f"/rasters/srtm_big_tujunga/tiles/WebMercatorQuad/11/{x}/815.png" for x in (350, 351)]
#: Requests the clients repeat; each names the build it was answered from.
PATHS = [
    "/health",
    "/collections/deposits/items?limit=3",
    "/collections/states/tiles/WebMercatorQuad/4/2/6",
    *DEM_TILES,  # read from the build directory at each request (tile cache off)
    f"/rankings?bbox={SMALL_BOX}&top=3",
]


#: A small real build (about 3 s, against 25 s for every regional layer): the northern
#: California MRDS and its sites, one land layer, one road layer, the boundaries and the
#: DEM. Enough for every path the clients request; the layers' own builds are tested in
#: ``tests/layers``.
RELOAD_LAYERS = [
    catalog.layer(layer_id)
    for layer_id in (
        "mrds",
        "sites",
        "usfs_ranger_districts",
        "ca_state_highways",
        "states",
        "counties",
        "srtm_big_tujunga",
    )
]


@pytest.fixture
def reload_dir(tmp_path: Path, data_dir: Path) -> Path:
    """A data dir with a small build (``RELOAD_LAYERS``) of the session's raw sources."""
    store.build(data_dir / "raw", tmp_path, layers=RELOAD_LAYERS, progress=False)
    return tmp_path


def _publish_copy(source: Path, data_dir: Path, build_id: str | None = None) -> Path:
    """Copy a build into ``data_dir`` (as ``build_id``) and point the store link at it."""
    build_id = build_id or source.name
    target = data_dir / store.STORES_DIR / build_id
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(f"{LEASE_PREFIX}*", "cache"))
    manifest = json.loads((target / store.MANIFEST).read_text())
    (target / store.MANIFEST).write_text(json.dumps({**manifest, "build_id": build_id}))
    temp = data_dir / ".store.test"
    temp.symlink_to(target.relative_to(data_dir))
    os.replace(temp, data_dir / STORE_LINK)
    return target


def _leases(build_dir: Path) -> list[Path]:
    return sorted(build_dir.glob(f"{LEASE_PREFIX}{os.getpid()}-*"))


def _answered_build(path: str, response: httpx.Response) -> str | None:
    """The build id a response body names, where it names one."""
    if path == "/health":
        return response.json()["store"]["build_id"]
    if path.startswith("/rankings"):
        return response.json()["manifest"]["build_id"]
    return None


def test_rebuilds_while_serving(reload_dir: Path, data_dir: Path) -> None:
    settings = Settings(
        data_dir=reload_dir, offline=True, store_check_interval_s=0.2, tile_cache_bytes=0
    )
    stores = reload_dir / store.STORES_DIR
    first = store.current_root(reload_dir).name
    seen: list[tuple[str, int, str | None, str | None]] = []
    stop = threading.Event()

    def client(base: str) -> None:
        with httpx.Client(base_url=base, timeout=120) as http:
            while not stop.is_set():
                for path in PATHS:
                    response = http.get(path)
                    named = _answered_build(path, response) if response.is_success else None
                    build = response.headers.get("fedmin-build")
                    seen.append((path, response.status_code, build, named))

    app = create_app(settings)
    with serve(app) as base:
        # A long request that started on the first build and outlasts both rebuilds.
        long_request = app.state.serving.acquire()
        clients = [threading.Thread(target=client, args=(base,)) for _ in range(2)]
        for thread in clients:
            thread.start()
        try:
            builds = [
                store.build(
                    data_dir / "raw", reload_dir, layers=RELOAD_LAYERS, force=True, progress=False
                ).manifest["build_id"]
                for _ in range(2)
            ]
            deadline = time.monotonic() + 120
            while httpx.get(f"{base}/health").json()["store"]["build_id"] != builds[-1]:
                assert time.monotonic() < deadline, "the server never switched to the new build"
                time.sleep(0.2)
            time.sleep(1.0)  # keep requesting the new build a little
        finally:
            stop.set()
            for thread in clients:
                thread.join()

        # The second rebuild prunes all but itself and the previous build, except what
        # the server still reads: the long request's build is intact and readable.
        assert long_request.build_id == first and (stores / first / store.MANIFEST).is_file()
        dem = long_request.rasters.spec("srtm_big_tujunga")
        resolved = long_request.rasters.resolve(dem, DepositFilter())
        assert resolved is not None
        assert render_png(resolved.path, 11, 350, 815, dem.style).startswith(b"\x89PNG")
        app.state.serving.release(long_request)
        assert not _leases(stores / first)  # its last request ended: lease dropped

        health = httpx.get(f"{base}/health")
        assert health.json()["store"]["build_id"] == builds[-1]
        assert health.headers["fedmin-build"] == builds[-1]
        assert len(_leases(stores / builds[-1])) == 1  # the server's lease on what it serves
        assert not _leases(stores / builds[0])

    failures = [s for s in seen if s[1] != 200]
    assert not failures, failures[:5]
    assert {s[2] for s in seen} <= {first, *builds}
    assert {first, builds[-1]} <= {s[2] for s in seen}, "requests ran before and after"
    mixed = [s for s in seen if s[3] is not None and s[3] != s[2]]
    assert not mixed, mixed[:5]
    assert len(seen) > 50


def test_a_lease_keeps_a_build_from_pruning(tmp_path: Path, data_dir: Path) -> None:
    """States-only builds (fast): build, lease, two more builds, release, prune."""
    states = [catalog.layer("states")]

    def build() -> Path:
        result = store.build(data_dir / "raw", tmp_path, layers=states, force=True, progress=False)
        return result.root

    first = build()
    lease = Store(first).lease()
    assert lease.held and lease.path.parent == first
    second, third = build(), build()
    assert first.is_dir() and second.is_dir() and third.is_dir()  # leased, so kept
    lease.release()
    lease.release()  # idempotent
    assert not lease.path.exists()
    fourth = build()
    assert not first.exists() and not second.exists()
    (fourth / f"{LEASE_PREFIX}999999-0").touch()  # left by a process that died: no lock
    build(), build()
    assert not fourth.exists()
    half = tmp_path / store.STORES_DIR / "pruned-or-half-written"
    half.mkdir()
    with pytest.raises(StoreNotBuiltError, match="not a complete store build"):
        store.StoreLease(half)  # no manifest: nothing to lease


def test_requests_keep_their_snapshot_across_a_swap(
    reload_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=reload_dir, offline=True, store_check_interval_s=0)
    serving = ServingState(settings)
    try:
        old = serving.acquire()  # a request in flight
        assert serving.refresh() is False  # nothing new yet
        new_root = _publish_copy(old.root, reload_dir, "20990101T000000-copy0001")
        assert serving.refresh() is True
        assert serving.current.build_id == "20990101T000000-copy0001"
        assert serving.current.root == new_root.resolve()
        # The in-flight request still has a complete, open old build.
        assert old.retired and old.lease.held and _leases(old.root)
        assert len(old.collections.get("deposits")) > 0
        dem = old.rasters.resolve(old.rasters.spec("srtm_big_tujunga"), DepositFilter())
        assert dem is not None and dem.path.exists()
        serving.release(old)  # its last request ends: closed, lease dropped
        assert not old.lease.held and not _leases(old.root)

        broken = _publish_copy(new_root, reload_dir, "20990101T000001-broken01")
        (broken / "mrds.parquet").write_bytes(b"not parquet")
        with caplog.at_level(logging.ERROR, logger="fedmin.state"):
            assert serving.refresh() is False
            assert serving.refresh() is False  # not retried until the link changes again
        assert serving.current.build_id == "20990101T000000-copy0001"
        assert len([r for r in caplog.records if "cannot load" in r.getMessage()]) == 1
        assert not _leases(broken)
    finally:
        serving.close()
    assert not serving.current.lease.held


def test_a_collection_that_fails_closes_the_engine_opened_beside_it(
    reload_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine opens on a thread while the collections that do not read it are built;
    when one of those fails, the start fails with its error and the engine is closed,
    and the build's lease is released (nothing left half-open)."""
    from app import collections, state
    from geo.engine import MemoryEngine

    closed: list[MemoryEngine] = []
    monkeypatch.setattr(MemoryEngine, "close", lambda self: closed.append(self))
    failing = next(s for s in collections.COLLECTIONS if s.id == "states")
    assert not failing.uses_engine

    def broken(*args: object) -> collections.Loaded:
        raise OSError("synthetic failure of the states layer")

    monkeypatch.setattr(
        collections,
        "COLLECTIONS",
        tuple(
            s if s is not failing else collections.CollectionSpec(s.id, s.title, "", broken)
            for s in collections.COLLECTIONS
        ),
    )
    built = Store(store.current_root(reload_dir))
    with pytest.raises(OSError, match="synthetic failure"):
        state.load_snapshot(built, Settings(data_dir=reload_dir))
    assert len(closed) == 1 and isinstance(closed[0], MemoryEngine)
    assert not list(built.root.glob(f"{LEASE_PREFIX}*"))


def test_a_first_start_serves_before_its_features_are_encoded(
    reload_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every collection's encoding deferred (``background_features_rows=1``) and
    held until the server is up, the start returns and serves tiles first; an item page
    then waits for its collection's encoding and serves the same features as ever."""
    from fastapi.testclient import TestClient

    from app import collections

    up = threading.Event()
    chunks = collections.EncodedFeatures._chunks.__func__  # type: ignore[attr-defined]

    def held_until_up(cls: type, *args: Any) -> Iterator[bytes]:
        # only the deferred encodings: the start encodes empty collections itself, and
        # holding those cost this test 3 x 60 s
        if threading.current_thread().name.startswith("fedmin-features"):
            up.wait(60)
        yield from chunks(cls, *args)

    monkeypatch.setattr(collections.EncodedFeatures, "_chunks", classmethod(held_until_up))
    settings = Settings(
        data_dir=reload_dir, offline=True, store_check_interval_s=0, background_features_rows=1
    )
    with TestClient(create_app(settings)) as client:
        deposits = client.app.state.serving.current.collections.get("deposits")
        assert not deposits._features.done()  # the start did not wait for the encoding
        tile = client.get("/collections/deposits/tiles/WebMercatorQuad/4/2/6")
        assert tile.status_code == 200 and tile.content  # tiles do not need the features
        up.set()
        page = client.get("/collections/deposits/items", params={"limit": 3}).json()
        first = page["features"][0]
        one = client.get(f"/collections/deposits/items/{first['id']}").json()
    assert [f["id"] for f in page["features"]] == deposits.ids[:3].tolist()
    assert one["properties"] == first["properties"]
    assert first["properties"]["name"] == deposits.frame["name"].iloc[0]
    assert first["geometry"]["coordinates"] == pytest.approx(
        [deposits.geoms[0].x, deposits.geoms[0].y]
    )
