"""The engine at national scale over HTTP: start-up, RSS, rankings, first prospectivity tile.

    .venv/bin/python bench/national.py [--sizes 8522,1e5,3e5,real] [--repo PATH]
                                       [--jitter-km 5] [--seed 20261127]

What issue 15's table measures, per deposit count, each step against a real server
(``app.main:create_app`` under uvicorn, one process, 127.0.0.1) with the lean client of
``bench/_common.py`` (sequential, one kept-alive connection):

1. **first start**: a fresh process over a store with no enrichment cache, until
   ``/health`` answers (the land-status overlay and distances of every deposit run here);
   RSS after start;
2. **default ranking** ``/rankings?top=100`` cold (first request), warm (the same again);
   with ``--cell-km`` at that cell size: give 25 (the map's overview cells) for every
   size, since all of them span the country and 5 km cells are over the cell limit there
   (a 400 answered in about 1 s, which is not a ranking);
3. **re-weighted**: the same filter with only the component weights changed, three
   distinct weight sets (each a new ranking), median; then **new filter**: the same
   ranking of the copper deposits only (``NEW_FILTER``), its components computed over
   the grid and cell statics the first ranking built;
4. **first prospectivity tile**: the z6 PNG tile over the median deposit (the surface is
   computed for it unless the server already has it), then six more uncached tiles of
   the same surface (z6-z9), median; RSS after;
5. **cached start**: a new process over the same store (enrichment cached); RSS; then
   **rank restarted**: its first default ranking (the components the first process
   wrote beside the store, ``geo.component_files``, read back);
6. **built store**: the build's warm step without the engine's files (**build warm**: enrichment,
   cell statics at the default cell sizes, the map's first ranking), then a new server
   with that ranking's components deleted: **rank built** is the default ranking
   computed over the grid and cell statics the build kept, **regional 5 km** a state's
   first ranking at the default cell size (``REGIONAL``); RSS after both.

Sizes other than ``real`` are synthetic: every deposit layer of the real store repeated
(below the real store's records: a random sample of each layer, in proportion) and each
copy jittered by up to ``--jitter-km`` km (``bench/rank.py``'s ``synthetic_deposits``:
uniform in a disc, reproducible seed, ids suffixed ``~j<copy>``),
written into a temporary store whose other layers are the real files (symlinked), without
the sites layer: each synthetic record is its own site, so ``size`` deposits are ranked
(with the real sites kept, the 3e5 store ranked the same 199,565 sites as ``real``). The
``real`` size is the real store copied the same way (so its first start is cold too).

``--repo`` serves another checkout's code (e.g. a worktree of ``main``) over the same
data, for before/after figures in one session; this script and its data preparation
always come from this checkout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import _common  # noqa: E402
from rank import parse_size, size_label, synthetic_deposits  # noqa: E402

#: The sizes of issue 15's table (8,522 was the northern California store) and the real one.
DEFAULT_SIZES = "8522,1e5,3e5,real"
REWEIGHTS = (
    "potential:0.5,underdevelopment:0.3,access:0.1,land:0.1",
    "potential:0.2,underdevelopment:0.2,access:0.3,land:0.3",
    "potential:1,underdevelopment:0,access:0,land:0",
)
RANKING = "/rankings?top=100"
#: A filter not ranked before: its components are computed over the store-wide grid
#: and cell statics the first ranking built (what a user's first own filter costs).
NEW_FILTER = "commodity=copper"
TILE = "/rasters/prospectivity/tiles/WebMercatorQuad/{z}/{x}/{y}.png"
#: A state's critical minerals at the default (5 km) cell size: its first ranking on a
#: built store (19,000 cells for the real store's Alaska).
REGIONAL = "/rankings?state=AK&commodity=critical&top=100"
#: The engine's files beside the store (``geo.engine``, ``geo.component_files``).
ENGINE_FILES = ("deposits_enriched-*", "grid-*", "components-*", "prospectivity-*")
#: The build's warm step, run with the served code (``fedmin data build`` runs it).
WARM = "from app.cli import _warm; from app.settings import get_settings; _warm(get_settings())"


def make_store(real_root: Path, target: Path, size: int | None, jitter_km: float, seed: int) -> str:
    """A data dir under ``target`` whose store is the real one with its deposits replaced."""
    import geopandas as gpd

    manifest = json.loads((real_root / "manifest.json").read_text())
    deposit_layers = [k for k, v in manifest["layers"].items() if v["kind"] == "deposits"]
    total = sum(manifest["layers"][k]["rows"] for k in deposit_layers)
    label = "real" if size is None else f"synthetic{size}"
    build_id = f"{manifest['build_id']}-{label}"
    root = target / "stores" / build_id
    root.mkdir(parents=True)
    if size is not None:  # each synthetic record its own site: ``size`` deposits ranked
        for layer_id in [k for k, v in manifest["layers"].items() if v["kind"] == "sites"]:
            del manifest["layers"][layer_id]
    files = {v["file"] for v in manifest["layers"].values()}
    for path in real_root.iterdir():
        if path.name in files:
            (root / path.name).symlink_to(path.resolve())
    if size is not None:
        for i, layer_id in enumerate(deposit_layers):
            record = manifest["layers"][layer_id]
            frame = gpd.read_parquet(real_root / record["file"])
            rows = max(1, round(size * len(frame) / total))  # each layer in proportion
            jittered = synthetic_deposits(frame, rows, jitter_km, seed + i)
            (root / record["file"]).unlink()
            jittered.to_parquet(root / record["file"])
            record["rows"] = len(jittered)
    manifest["build_id"] = build_id
    (root / "manifest.json").write_text(json.dumps(manifest))
    (target / "store").symlink_to(Path("stores") / build_id)
    return build_id


def median_tile(root: Path, zoom: int) -> tuple[int, int]:
    """The tile of ``zoom`` holding the median deposit location of the store."""
    import geopandas as gpd
    import morecantile

    manifest = json.loads((root / "manifest.json").read_text())
    frames = [
        gpd.read_parquet(root / v["file"], columns=["geometry"])
        for v in manifest["layers"].values()
        if v["kind"] == "deposits"
    ]
    lon = statistics.median(x for f in frames for x in f.geometry.x)
    lat = statistics.median(y for f in frames for y in f.geometry.y)
    tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, zoom)
    return tile.x, tile.y


def nearby_tiles(x: int, y: int, z: int) -> list[tuple[int, int, int]]:
    """Six tiles of the same area at z6-z9 (children of the z6 tile), none repeated."""
    out = [(z, x + 1, y)]
    for dz in (1, 2, 3):
        f = 2**dz
        out += [(z + dz, x * f + f // 2, y * f + f // 2)]
        if dz < 3:
            out += [(z + dz, x * f + f // 2 - 1, y * f + f // 2)]
    return out


class Client:
    """The lean client, reconnecting once when the server closed an idle connection
    (uvicorn closes kept-alive connections idle for 5 s)."""

    def __init__(self, base: str, timeout: float):
        self.base, self.timeout = base, timeout
        self.lean = _common.LeanClient(base, timeout=timeout)

    def get(self, path: str) -> tuple[float, int, int]:
        try:
            seconds, status, body = self.lean.get(path)
        except (ConnectionError, OSError):
            self.lean.close()
            self.lean = _common.LeanClient(self.base, timeout=self.timeout)
            seconds, status, body = self.lean.get(path)
        return seconds, status, len(body)

    def close(self) -> None:
        self.lean.close()


def run_size(size: int | None, args: argparse.Namespace, real_root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"size": size_label(size)}
    with tempfile.TemporaryDirectory(prefix="fedmin-bench-national-") as tmp:
        data = Path(tmp)
        started = time.perf_counter()
        make_store(real_root, data, size, args.jitter_km, args.seed)
        out["prepare_s"] = time.perf_counter() - started
        root = (data / "store").resolve()
        manifest = json.loads((root / "manifest.json").read_text())
        out["deposits"] = sum(
            v["rows"] for v in manifest["layers"].values() if v["kind"] == "deposits"
        )
        env = {
            "FEDMIN_DATA_DIR": str(data),
            "FEDMIN_STORE_CHECK_INTERVAL_S": "0",
            "FEDMIN_LOG_LEVEL": "WARNING",
            "FEDMIN_RANKING_TIME_BUDGET_S": "600",
        }
        server = _common.Server("app.main:create_app", env=env, app_dir=args.repo)
        started = time.perf_counter()
        server.start(timeout=args.timeout)
        out["first_start_s"] = time.perf_counter() - started
        out["rss_start_mib"] = server.rss_mib()
        x, y = median_tile(root, 6)
        client = Client(server.base, args.timeout)
        ranking = RANKING + (f"&cell_km={args.cell_km:g}" if args.cell_km else "")
        try:
            seconds, status, _ = client.get(ranking)
            out["rank_cold_s"], out["rank_status"] = seconds, status
            if status != 200:  # an error is not a ranking: its timings would mislead
                raise RuntimeError(f"{ranking} answered {status} (give --cell-km 25)")
            out["rank_warm_s"] = client.get(ranking)[0]
            times = [client.get(f"{ranking}&weights={w}")[0] for w in REWEIGHTS]
            out["reweighted_s"] = statistics.median(times)
            out["reweighted_all_s"] = times
            seconds, status, _ = client.get(f"{ranking}&{NEW_FILTER}")
            out["rank_new_filter_s"], out["rank_new_filter_status"] = seconds, status
            out["rss_ranked_mib"] = server.rss_mib()
            seconds, status, nbytes = client.get(TILE.format(z=6, x=x, y=y))
            out["tile_first_s"], out["tile_status"], out["tile_bytes"] = seconds, status, nbytes
            more = [client.get(TILE.format(z=z, x=tx, y=ty)) for z, tx, ty in nearby_tiles(x, y, 6)]
            out["tile_uncached_p50_s"] = statistics.median(t for t, _, _ in more)
            out["rss_tile_mib"] = server.rss_mib()
        finally:
            client.close()
            server.stop()
        server = _common.Server("app.main:create_app", env=env, app_dir=args.repo)
        started = time.perf_counter()
        server.start(timeout=args.timeout)
        out["cached_start_s"] = time.perf_counter() - started
        out["rss_cached_start_mib"] = server.rss_mib()
        client = Client(server.base, args.timeout)
        try:  # what a restarted server answers first: the components are on disk now
            out["rank_restart_s"] = client.get(ranking)[0]
        finally:
            client.close()
            server.stop()
        built(out, args, data, root, env, ranking)
        shutil.rmtree(data / "stores", ignore_errors=True)
    return out


def built(
    out: dict[str, Any],
    args: argparse.Namespace,
    data: Path,
    root: Path,
    env: dict[str, str],
    ranking: str,
) -> None:
    """Phase 6: the store as ``fedmin data build`` leaves it. Its warm step (the served
    code's ``app.cli._warm``) runs on a cache without the engine's files (the servers'
    encoded features and tiles are kept: their encoding is the first start's, not the
    ranking's, and would compete with it for the cores), timed; then the map's first ranking
    it wrote is deleted, so that a new server computes that ranking over the grid and cell
    statics the build kept (as for any filter's first ranking); then a regional filter at
    the default cell size (``REGIONAL``)."""
    for pattern in ENGINE_FILES:
        for path in (root / "cache").glob(pattern):
            path.unlink()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", WARM],
        cwd=args.repo,
        env={**os.environ, **env, "PYTHONPATH": str(args.repo)},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    out["warm_s"] = time.perf_counter() - started
    for path in (root / "cache").glob("components-*.npz"):
        path.unlink()
    server = _common.Server("app.main:create_app", env=env, app_dir=args.repo)
    server.start(timeout=args.timeout)
    client = Client(server.base, args.timeout)
    try:
        out["rank_built_s"] = client.get(ranking)[0]
        seconds, status, _ = client.get(REGIONAL)
        out["rank_regional_s"], out["rank_regional_status"] = seconds, status
        out["rss_built_mib"] = server.rss_mib()
    finally:
        client.close()
        server.stop()


COLUMNS = (
    "deposits",
    "first start s",
    "cached start s",
    "RSS start MiB",
    "RSS cached start MiB",
    "rank cold s",
    "rank restarted s",
    "rank new filter s",
    "rank warm ms",
    "re-weighted ms",
    "first tile s",
    "tile p50 ms",
    "RSS after tile MiB",
    "build warm s",
    "rank built s",
    "regional 5 km s",
    "RSS built MiB",
)


def row(r: dict[str, Any]) -> list[object]:
    if "error" in r:
        return [r["size"], *(["FAILED"] + ["-"] * (len(COLUMNS) - 2))]
    label = f"{r['deposits']:,}" + (" (real)" if r["size"] == "real" else " (synthetic)")
    return [
        label,
        round(r["first_start_s"], 2),
        round(r["cached_start_s"], 2),
        round(r["rss_start_mib"] or math.nan),
        round(r.get("rss_cached_start_mib") or math.nan),
        round(r["rank_cold_s"], 2),
        round(r.get("rank_restart_s", math.nan), 2),
        round(r.get("rank_new_filter_s", math.nan), 2),
        round(1000 * r["rank_warm_s"], 1),
        round(1000 * r["reweighted_s"], 1),
        round(r["tile_first_s"], 2),
        round(1000 * r["tile_uncached_p50_s"], 1),
        round(r["rss_tile_mib"] or math.nan),
        round(r.get("warm_s", math.nan), 1),
        round(r.get("rank_built_s", math.nan), 2),
        round(r.get("rank_regional_s", math.nan), 2),
        round(r.get("rss_built_mib") or math.nan),
    ]


def compare(before_path: Path, after_path: Path) -> None:
    """Both runs' tables and, per size and column, after / before."""
    before = {r["size"]: r for r in json.loads(before_path.read_text())}
    after = {r["size"]: r for r in json.loads(after_path.read_text())}
    for title, runs in (("before", before), ("after", after)):
        print(f"{title}:")
        _common.print_table(COLUMNS, [row(r) for r in runs.values()])
        print()
    print("after / before:")
    rows = []
    for size, a in after.items():
        b = before.get(size)
        if b is None or "error" in a or "error" in b:
            continue
        ra, rb = row(a), row(b)
        rows.append([ra[0], *(_common.ratio(x, y) for x, y in zip(ra[1:], rb[1:], strict=True))])
    _common.print_table(COLUMNS, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma list: real, 8522, 1e5, 3e5")
    parser.add_argument("--repo", type=Path, default=_common.REPO, help="checkout to serve")
    parser.add_argument("--jitter-km", type=float, default=5.0)
    parser.add_argument("--cell-km", type=float, default=None, help="ranking cell size")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per step")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("BEFORE", "AFTER"),
        help="two --json files: print both tables and the after/before ratios, run nothing",
    )
    args = parser.parse_args(argv)
    if args.compare:
        compare(*args.compare)
        return 0
    args.repo = args.repo.resolve()
    _common.install_cleanup()
    store = _common.open_store()
    real_root = Path(store.root)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    print("# National-scale engine over HTTP: start-up, RSS, rankings, first prospectivity tile")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"served code: {args.repo} ({_common.code_version_of(args.repo)})")
    print("machine:")
    for key, value in _common.machine_info().items():
        print(f"  {key:<13} {value}")
    print(
        f"data: store {store.build_id}; synthetic sizes: every deposit layer repeated and "
        f"jittered by up to {args.jitter_km:g} km (seed {args.seed}), other layers real"
    )
    print("client: one kept-alive connection, sequential; a fresh server process per start")
    print()
    results = []
    for size in sizes:
        try:
            result = run_size(size, args, real_root)
        except Exception as exc:  # a failed size is reported, the others still run
            result = {"size": size_label(size), "error": f"{type(exc).__name__}: {exc}"}
        results.append(result)
        print(f"  done {result['size']}: {json.dumps(result)}", file=sys.stderr)
    _common.print_table(COLUMNS, [row(r) for r in results])
    print()
    for r in results:
        if "error" in r:
            print(f"note: {r['size']} FAILED: {r['error']}")
        else:
            runs = [round(t, 3) for t in r["reweighted_all_s"]]
            print(
                f"note: {r['size']}: re-weighted runs {runs} s; "
                f"ranking status {r['rank_status']}, tile status {r['tile_status']} "
                f"({r['tile_bytes']} bytes); RSS after the rankings {r['rss_ranked_mib']:.0f} MiB"
            )
    load = _common.os.getloadavg()[0]
    print(f"load average (1 min) at the end: {load:.2f} on {_common.os.cpu_count()} cores "
          "(the machine is shared with other work: wall times are noisy)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
