"""Raster PNG tiles: fedmin next to TiTiler serving the same COG files.

    .venv/bin/python bench/raster_tiles.py [--rounds 3] [--concurrency 16]

The same 39 tiles, z4 to z12 around the data, of two rasters: the prospectivity surface
of the default filter (the COG fedmin computed and cached for it) and the store's DEM.
fedmin runs with its rendered-tile cache off (``FEDMIN_TILE_CACHE_BYTES=0``), so every
request resolves the surface and cuts the tile from the COG with rio-tiler: the
*uncached* tile. TiTiler (``titiler.core``'s ``TilerFactory``, ``bench/_titiler_app.py``)
gets the file path, the same rescale, colormap and resampling. Both are one uvicorn
process on 127.0.0.1.

* **sequential**: the lean client (one kept-alive connection), each tile once per round,
  the two servers alternating by round; p50/p95 over all rounds;
* **concurrent**: ``--concurrency`` clients at once (a browser moving the view), each
  requesting the 39 tiles in its own order; per-request p50/p95 and tiles per second.

Ratios are fedmin / TiTiler in the same run. Needs ``titiler.core`` (the ``bench``
extra).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import _common  # noqa: E402

from geo.filters import DepositFilter  # noqa: E402
from layers.schema import LayerKind  # noqa: E402


def tiles_around(
    lon: float, lat: float, towards: tuple[float, float]
) -> list[tuple[int, int, int]]:
    """39 tiles: per zoom 4..12 the tile holding the point and its three neighbours on the
    side of ``towards`` (the raster's centre), plus three more at z12."""
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    dx = 1 if towards[0] >= lon else -1
    dy = 1 if towards[1] <= lat else -1  # tile rows grow southwards
    out = []
    for z in range(4, 13):
        t = tms.tile(lon, lat, z)
        out += [(z, t.x, t.y), (z, t.x + dx, t.y), (z, t.x, t.y + dy), (z, t.x + dx, t.y + dy)]
    out += [(12, t.x + 2 * dx, t.y), (12, t.x + 2 * dx, t.y + dy), (12, t.x, t.y + 2 * dy)]
    return out


def sequential(base: str, paths: list[str]) -> list[float]:
    client = _common.LeanClient(base)
    try:
        out = []
        for path in paths:
            seconds, status, _ = client.get(path)
            if status not in (200, 204, 404):  # 204 (fedmin) and 404 (TiTiler): no data
                raise RuntimeError(f"GET {path}: {status}")
            out.append(seconds)
        return out
    finally:
        client.close()


def concurrent(base: str, paths: list[str], clients: int) -> tuple[list[float], float]:
    """Per-request latencies and the wall time of ``clients`` threads, each requesting
    every path in its own rotated order."""
    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def worker(i: int) -> None:
        mine = paths[i % len(paths) :] + paths[: i % len(paths)]
        start.wait()  # connect after: an idle kept-alive connection is closed after 5 s
        client = _common.LeanClient(base)
        try:
            own = [client.get(p)[0] for p in mine]
        finally:
            client.close()
        with lock:
            latencies.extend(own)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    _common.install_cleanup()
    import rasterio
    import rasterio.warp

    from app.collections import PROSPECTIVITY

    store = _common.open_store()
    _common.print_header(
        "Raster tiles: fedmin vs TiTiler on the same COG files",
        f"39 PNG tiles z4-z12, uncached; sequential x{args.rounds} rounds and "
        f"{args.concurrency} concurrent clients",
        store,
    )
    fedmin = _common.fedmin_server(FEDMIN_TILE_CACHE_BYTES="0").start()
    titiler = _common.Server("_titiler_app:create_app", app_dir=BENCH_DIR).start()
    listed = json.loads(_common.LeanClient(fedmin.base).get("/rasters")[2])
    styles = {r["id"]: r["style"] for r in listed["rasters"]}  # TiTiler gets the same
    # The default filter's surface: asking for its TileJSON computes it (or waits for
    # the start-up prewarm), then the newest file with the default filter's tag is it.
    _common.LeanClient(fedmin.base, timeout=600).get(
        f"/rasters/{PROSPECTIVITY}/tiles/WebMercatorQuad/tilejson.json"
    )
    default = DepositFilter().to_dict()
    surface = next(
        p
        for p in sorted((Path(store.root) / "cache").glob("prospectivity-*.tif"))
        if json.loads(rasterio.open(p).tags()["filter"]) == default
    )
    dem_id = store.layer_ids(LayerKind.RASTER)[0]
    rasters = {
        PROSPECTIVITY: (surface, "bilinear"),
        dem_id: (store.raster_path(dem_id), "nearest"),
    }
    rows, notes = [], []
    for raster_id, (path, resampling) in rasters.items():
        style = styles[raster_id]
        with rasterio.open(path) as src:
            west, south, east, north = rasterio.warp.transform_bounds(
                src.crs, "EPSG:4326", *src.bounds
            )
        if raster_id == PROSPECTIVITY:  # the densest part: the surface's peak
            with rasterio.open(path) as src:
                band = src.read(1, out_shape=(src.height // 8, src.width // 8))
                r, c = divmod(int(band.argmax()), band.shape[1])
                x, y = src.xy(r * 8, c * 8)
                lon, lat = rasterio.warp.transform(src.crs, "EPSG:4326", [x], [y])
                lon, lat = lon[0], lat[0]
        else:
            lon, lat = (west + east) / 2, (south + north) / 2
        tiles = tiles_around(lon, lat, ((west + east) / 2, (south + north) / 2))
        fed_paths = [
            f"/rasters/{raster_id}/tiles/WebMercatorQuad/{z}/{x}/{y}.png" for z, x, y in tiles
        ]
        vmin, vmax = style["rescale"]
        query = (
            f"url={quote(str(path))}&rescale={vmin},{vmax}&colormap_name={style['colormap']}"
            f"&resampling={resampling}&reproject={resampling}"
        )
        tit_paths = [f"/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png?{query}" for z, x, y in tiles]
        seq = {"fedmin": [], "titiler": []}
        for i in range(args.rounds):
            order = (("fedmin", fedmin, fed_paths), ("titiler", titiler, tit_paths))
            for name, server, paths in order if i % 2 == 0 else order[::-1]:
                seq[name] += sequential(server.base, paths)
        conc = {
            "fedmin": concurrent(fedmin.base, fed_paths, args.concurrency),
            "titiler": concurrent(titiler.base, tit_paths, args.concurrency),
        }
        for name in ("fedmin", "titiler"):
            s, (lat_c, wall) = _common.summarize(seq[name]), conc[name]
            c = _common.summarize(lat_c)
            rows.append([raster_id, name, s["p50"], s["p95"], c["p50"], c["p95"],
                         len(lat_c) / wall])  # fmt: skip
            print(f"  done {raster_id} {name}: {rows[-1]}", file=sys.stderr)
        f_s, t_s = (_common.summarize(seq[n])["p50"] for n in ("fedmin", "titiler"))
        f_c, t_c = (_common.summarize(conc[n][0])["p50"] for n in ("fedmin", "titiler"))
        notes.append(
            f"{raster_id} ({path.name}): fedmin / TiTiler p50 sequential "
            f"{_common.ratio(f_s, t_s)}, with {args.concurrency} concurrent "
            f"{_common.ratio(f_c, t_c)}"
        )
    headers = ("raster", "server", "seq p50 ms", "seq p95 ms", "conc p50 ms", "conc p95 ms")
    _common.print_table((*headers, "conc tiles/s"), rows)
    print()
    for note in notes:
        print(note)
    print(f"load average (1 min) at the end: {_common.os.getloadavg()[0]:.2f} (shared machine)")
    fedmin.stop()
    titiler.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
