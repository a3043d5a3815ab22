"""Vector tiles: fedmin's MVT endpoint next to PostGIS ``ST_AsMVT`` over the same data.

    .venv/bin/python bench/postgis_tiles.py [--per-zoom 6] [--budget 240]

The baseline is a stock PostgreSQL 15 + PostGIS 3 (Debian packages, installed with
apt-get when missing), started for this run on 127.0.0.1 in a temporary directory, loaded
with the store's deposits and federal lands in EPSG:3857 with GIST indexes, answering the
classic tile query (``ST_TileEnvelope`` filter, ``ST_AsMVTGeom`` extent 4096 buffer 64,
``ST_AsMVT``) with the same properties fedmin puts in its tiles (read from a fedmin tile).

Tiles: a fixed list over the deposits, z6..z12: per zoom, the tiles holding deposits,
ranked by deposit count, sampled at evenly spaced ranks (dense and sparse tiles alike).

Cold and warm: the OS page cache cannot be dropped here, so *cold* is the first request of
each tile after a fresh server start (a fresh fedmin process; a restarted postgres and a
new connection), and *warm* pools the next passes over the same tiles (``--warm-passes``,
3 by default), which alternate between PostGIS and the fedmin series, so that load from
elsewhere on a shared machine hits them alike. PostGIS is measured as a query from Python
(psycopg, no HTTP layer): a lower bound for any tile server on it.
fedmin is measured over HTTP on one kept-alive connection with a lean client (a socket
and httptools' C parser, ``_common.LeanClient``): the stdlib's ``http.client`` would add
about 0.12 ms of client-side Python to every request, httpx about 0.4 ms.
CPU per tile (the server process's, or the postgres backend's, user + system time over the
warm passes) is the figure least disturbed by other load on a shared machine.

Stops postgres and removes its directory at exit, also on Ctrl-C. Needs ``psycopg[binary]``
(the bench extra; installed with pip when missing).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

TILE_PATH = "/collections/{collection}/tiles/WebMercatorQuad/{z}/{x}/{y}"
COLLECTIONS = ("deposits", "federal_lands")
#: Used only when fedmin's tile endpoint is not there to tell its properties.
DEFAULT_PROPERTIES = {
    "deposits": ["id", "name", "primary_commodity", "dev_status", "critical", "source"],
    "federal_lands": ["id", "name", "agency", "designation", "mineral_entry", "source"],
}
EXTENT, BUFFER = 4096, 64


# --- the fixed tiles -------------------------------------------------------------------------


def fixed_tiles(store, zooms: Sequence[int], per_zoom: int) -> list[tuple[int, int, int]]:
    """Per zoom, ``per_zoom`` tiles holding deposits at evenly spaced ranks of their count."""
    import morecantile
    import numpy as np

    from layers.schema import LayerKind

    tms = morecantile.tms.get("WebMercatorQuad")
    deposits = store.kind_frame(LayerKind.DEPOSITS)
    lon = deposits.geometry.x.to_numpy()
    lat = np.clip(deposits.geometry.y.to_numpy(), -85.0511, 85.0511)
    west, south, east, north = deposits.total_bounds
    tiles = []
    for z in zooms:
        n = 2**z
        xs = np.floor((lon + 180.0) / 360.0 * n).astype(np.int64)
        ys = np.floor((1.0 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2.0 * n)
        keys, counts = np.unique(
            np.stack([xs, ys.astype(np.int64)], axis=1), axis=0, return_counts=True
        )
        order = sorted(range(len(keys)), key=lambda i: (-counts[i], keys[i][0], keys[i][1]))
        picks = [
            order[round(k * (len(order) - 1) / max(per_zoom - 1, 1))]
            for k in range(min(per_zoom, len(order)))
        ]
        for i in dict.fromkeys(picks):
            x, y = int(keys[i][0]), int(keys[i][1])
            # morecantile is the reference for the tile grid: every pick lies in the extent
            # and holds its deposits.
            bounds = tms.bounds(morecantile.Tile(x, y, z))
            assert bounds.left < east and bounds.right > west, (z, x, y)
            assert bounds.bottom < north and bounds.top > south, (z, x, y)
            tiles.append((z, x, y))
    return tiles


def collection_frame(store, name: str):
    """The rows fedmin serves for a collection: deposits come enriched with land status
    by fedmin's engine (cached in the store), the other collections are the store's kind."""
    from layers.schema import LayerKind

    if name == "deposits":
        try:
            from geo.engine import open_engine

            return open_engine(store).deposits
        except ImportError:
            pass
    return store.kind_frame(LayerKind(name))


# --- postgres --------------------------------------------------------------------------------


def pg_bin_dir() -> Path | None:
    """The bin directory of a PostgreSQL that has the PostGIS extension installed."""
    for control in sorted(glob.glob("/usr/share/postgresql/*/extension/postgis.control")):
        version = Path(control).parts[4]
        bindir = Path(f"/usr/lib/postgresql/{version}/bin")
        if (bindir / "postgres").exists():
            return bindir
    return None


def ensure_postgis() -> Path:
    ok = c.ensure_debian_packages(["postgresql-15-postgis-3"], lambda: pg_bin_dir() is not None)
    if not ok:
        sys.exit(
            "PostgreSQL with PostGIS is not available (apt-get install postgresql-15-postgis-3)"
        )
    return pg_bin_dir()


def ensure_psycopg():
    try:
        import psycopg
    except ImportError:
        print("installing psycopg[binary] (the bench extra) with pip ...", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "psycopg[binary]>=3.1"], check=True
        )
        import psycopg
    return psycopg


class Postgres:
    """A throwaway cluster on 127.0.0.1: initdb in a temp dir, run as ``postgres`` when root."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="fedmin-pg-"))
        self.datadir = self.root / "data"
        self.port = c.free_port()
        self.proc: subprocess.Popen | None = None
        self.user: dict = {}
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self.user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        c.on_exit(self.cleanup)

    def _run(self, *args: str) -> None:
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, cwd=self.root, **self.user)

    def initdb(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        )

    def start(self) -> None:
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            [
                str(self.bindir / "postgres"),
                "-D",
                str(self.datadir),
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "listen_addresses=127.0.0.1",
                # durability does not matter for a read benchmark; the rest is stock.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            start_new_session=True,
            **self.user,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"postgres exited: {(self.root / 'postgres.log').read_text()[-2000:]}")
            ready = subprocess.run(
                [str(self.bindir / "pg_isready"), "-h", c.HOST, "-p", str(self.port), "-q"],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        sys.exit("postgres did not start within 60 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(2)  # SIGINT: fast shutdown
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def connect(self):
        psycopg = ensure_psycopg()
        return psycopg.connect(
            host=c.HOST,
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
            prepare_threshold=None,
        )


def _pg_type(series) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "bigint"
    if pd.api.types.is_float_dtype(series):
        return "double precision"
    return "text"


def _scalar(value):
    import numpy as np

    if value is None:
        return None
    if isinstance(value, list | tuple | np.ndarray):
        return ",".join(str(v) for v in value)
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        import json

        return json.dumps(value)
    return value


def load_collection(conn, name: str, frame, properties: Sequence[str]) -> int:
    """Create ``name`` (properties + geom in EPSG:3857), COPY the rows in, index, analyze."""
    import shapely
    from psycopg import sql

    frame = frame.to_crs(3857)
    columns = [p for p in properties if p in frame.columns]
    geoms = shapely.set_srid(frame.geometry.to_numpy(), 3857)
    hexes = shapely.to_wkb(geoms, hex=True, include_srid=True)
    table = sql.Identifier(name)
    cols = [sql.Identifier(col) for col in columns]
    defs = sql.SQL(", ").join(
        [
            sql.SQL("{} {}").format(col, sql.SQL(_pg_type(frame[p])))
            for col, p in zip(cols, columns, strict=True)
        ]
        + [sql.SQL("geom geometry(Geometry, 3857) NOT NULL")]
    )
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        cur.execute(sql.SQL("CREATE TABLE {} ({})").format(table, defs))
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
            table, sql.SQL(", ").join([*cols, sql.Identifier("geom")])
        )
        with cur.copy(copy_sql) as copy:
            values = [frame[p].tolist() for p in columns]
            for i, geom_hex in enumerate(hexes):
                copy.write_row([_scalar(v[i]) for v in values] + [geom_hex])
        cur.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(table))
        cur.execute(sql.SQL("ANALYZE {}").format(table))
    return len(frame)


def tile_sql(name: str, layer_name: str, properties: Sequence[str]):
    from psycopg import sql

    props = sql.SQL("").join(sql.SQL(", t.{}").format(sql.Identifier(p)) for p in properties)
    return sql.SQL(
        "SELECT ST_AsMVT(q, {layer}, {extent}, 'geom') FROM ("
        " SELECT ST_AsMVTGeom(t.geom, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {extent}, {buffer},"
        " true) AS geom{props}"
        " FROM {table} t"
        " WHERE t.geom && ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {margin})"
        ") q WHERE q.geom IS NOT NULL"
    ).format(
        layer=sql.Literal(layer_name),
        extent=sql.Literal(EXTENT),
        buffer=sql.Literal(BUFFER),
        props=props,
        table=sql.Identifier(name),
        margin=sql.Literal(BUFFER / EXTENT),
    )


def postgis_pass(conn, queries: dict, tiles, left) -> tuple[dict[str, list], dict[str, float]]:
    """One pass: per collection, [(seconds, tile bytes)] per tile (None past the budget),
    and the CPU seconds the postgres backend spent on it."""
    out: dict[str, list] = {}
    cpu: dict[str, float] = {}
    pid = conn.info.backend_pid
    with conn.cursor() as cur:
        for name, query in queries.items():
            cpu0 = c.process_cpu_seconds(pid)
            results = []
            for z, x, y in tiles:
                if left() <= 0:
                    results.append(None)
                    continue
                t0 = time.perf_counter()
                cur.execute(query, {"z": z, "x": x, "y": y})
                data = cur.fetchone()[0]
                results.append((time.perf_counter() - t0, bytes(data or b"")))
            out[name] = results
            cpu[name] = c.process_cpu_seconds(pid) - cpu0
    return out, cpu


# --- fedmin ----------------------------------------------------------------------------------


def fedmin_pass(server, collections, tiles, left) -> tuple[dict[str, list], dict[str, float]]:
    """One pass over HTTP (the lean client, see ``LeanClient``): per collection,
    [(seconds, tile bytes)] per tile, and the CPU seconds the server process spent on it."""
    out: dict[str, list] = {}
    cpu: dict[str, float] = {}
    client = c.LeanClient(server.base)
    try:
        for name in collections:
            cpu0 = c.process_cpu_seconds(server.proc.pid)
            results = []
            for z, x, y in tiles:
                if left() <= 0:
                    results.append(None)
                    continue
                path = TILE_PATH.format(collection=name, z=z, x=x, y=y)
                seconds, status, body = client.get(path)
                if status not in (200, 204):
                    raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
                results.append((seconds, body))
            out[name] = results
            cpu[name] = c.process_cpu_seconds(server.proc.pid) - cpu0
    finally:
        client.close()
    return out, cpu


def noop_round_trip_ms(conn, repeats: int = 500) -> float:
    """p50 of ``SELECT 1`` on the open connection: what the baseline's client and protocol
    cost on their own, for reading its tile latencies."""
    seconds = []
    with conn.cursor() as cur:
        for _ in range(repeats):
            t0 = time.perf_counter()
            cur.execute("SELECT 1")
            cur.fetchone()
            seconds.append(time.perf_counter() - t0)
    return 1000 * sorted(seconds)[len(seconds) // 2]


def warm_passes(runs: dict[str, Any], passes: int) -> dict[str, tuple[dict, dict]]:
    """``passes`` rounds, each running every server's pass in turn; per server, its results
    pooled over the rounds (per collection, every pass's in turn) and the CPU seconds of
    all of them. A single pass after the cold one is still warming up: about 0.35, 0.32,
    0.28 ms p50 for fedmin's cached tiles in turn."""
    pooled: dict[str, tuple[dict, dict]] = {name: ({}, {}) for name in runs}
    for _ in range(passes):
        for name, run_pass in runs.items():
            results, seconds = run_pass()
            items, cpu = pooled[name]
            for collection, got in results.items():
                items.setdefault(collection, []).extend(got)
                cpu[collection] = cpu.get(collection, 0.0) + seconds[collection]
    return pooled


def tile_properties(results: dict[str, list]) -> dict[str, tuple[str, list[str]]]:
    """Per collection: (MVT layer name, property keys) of fedmin's tiles."""
    import mapbox_vector_tile

    found: dict[str, tuple[str, list[str]]] = {}
    for name, tiles in results.items():
        for item in tiles:
            if item is None or not item[1]:
                continue
            decoded = mapbox_vector_tile.decode(item[1])
            for layer_name, layer in decoded.items():
                keys: dict[str, None] = {}
                for feature in layer["features"]:
                    keys.update(dict.fromkeys(feature["properties"]))
                if layer["features"]:
                    found[name] = (layer_name, list(keys))
                    break
            if name in found:
                break
    return found


def feature_count(data: bytes) -> int:
    import mapbox_vector_tile

    if not data:
        return 0
    return sum(len(layer["features"]) for layer in mapbox_vector_tile.decode(data).values())


# --- the report ------------------------------------------------------------------------------


def series_stats(cold: list, warm: list, warm_cpu: float) -> dict[str, float]:
    cold_s = [r[0] for r in cold if r is not None]
    warm_s = [r[0] for r in warm if r is not None]
    sizes = [len(r[1]) for r in warm if r is not None] or [len(r[1]) for r in cold if r]
    sc, sw = c.summarize(cold_s), c.summarize(warm_s)
    return {
        "first": cold_s[0] * 1000 if cold_s else float("nan"),
        "cold_p50": sc["p50"],
        "cold_p95": sc["p95"],
        "warm_p50": sw["p50"],
        "warm_p95": sw["p95"],
        "n": min(len(cold_s), len(warm_s)),
        "bytes_p50": c.percentile(sizes, 50),
        "warm_cpu_ms": 1000 * warm_cpu / len(warm_s) if warm_s else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zooms", default="6-12", help="zoom range, e.g. 6-12")
    parser.add_argument("--per-zoom", type=int, default=6, help="tiles per zoom")
    parser.add_argument("--collections", default=",".join(COLLECTIONS))
    parser.add_argument(
        "--budget",
        type=float,
        default=240.0,
        help="seconds for all the timed passes (set-up excluded)",
    )
    parser.add_argument(
        "--warm-passes",
        type=int,
        default=3,
        help="passes after the cold one, pooled into the warm figures (both servers)",
    )
    parser.add_argument(
        "--skip-no-cache",
        action="store_true",
        help="skip the second fedmin series with FEDMIN_TILE_CACHE_BYTES=0",
    )
    args = parser.parse_args(argv)
    c.install_cleanup()

    low, high = (int(v) for v in args.zooms.split("-"))
    collections = [s for s in args.collections.split(",") if s]
    store = c.open_store()
    c.print_header(
        "Vector tiles: fedmin vs PostGIS ST_AsMVT",
        "latency of one MVT tile, sequential requests on 127.0.0.1, cold (first request per "
        "tile after a fresh server start) and warm (the next passes, pooled)",
        store,
    )
    tiles = fixed_tiles(store, range(low, high + 1), args.per_zoom)
    print(
        f"tiles: {len(tiles)} fixed tiles z{low}..z{high} over the deposits "
        f"({args.per_zoom} per zoom at evenly spaced ranks of deposit count)"
    )
    print("  " + " ".join(f"{z}/{x}/{y}" for z, x, y in tiles))
    print()

    with c.deadline(args.budget) as left, contextlib.ExitStack() as running:
        series = [("fedmin", {})]
        if not args.skip_no_cache:
            series.append(("fedmin, tile cache off", {"FEDMIN_TILE_CACHE_BYTES": "0"}))
        properties: dict[str, tuple[str, list[str]]] = {}
        # A first fedmin process tells which properties its tiles carry (PostGIS is
        # loaded with the same ones); it is stopped before anything is timed.
        with c.fedmin_server() as server:
            missing = c.require_paths(
                server.base, [TILE_PATH.format(collection=collections[0], z=0, x=0, y=0)]
            )
            if not missing:
                properties = tile_properties(fedmin_pass(server, collections, tiles, left)[0])
        if missing:
            print(f"fedmin does not serve {missing[0]} yet: PostGIS only, default properties")
            series = []

        # PostGIS: install, load, restart; its cold pass on a new connection.
        bindir = ensure_postgis()
        pg = Postgres(bindir)
        running.callback(pg.cleanup)
        pg.initdb()
        pg.start()
        loaded: dict[str, int] = {}
        missing_props: dict[str, list[str]] = {}
        queries = {}
        with pg.connect() as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            version = conn.execute("SELECT postgis_lib_version(), version()").fetchone()
            t0 = time.perf_counter()
            for name in collections:
                layer_name, props = properties.get(name, (name, DEFAULT_PROPERTIES[name]))
                frame = collection_frame(store, name)
                missing_props[name] = [p for p in props if p not in frame.columns]
                props = [p for p in props if p in frame.columns]
                loaded[name] = load_collection(conn, name, frame, props)
                queries[name] = tile_sql(name, layer_name, props)
                properties[name] = (layer_name, props)
            load_seconds = time.perf_counter() - t0
            conn.execute("CHECKPOINT")
            sizes = {
                name: conn.execute(
                    "SELECT pg_size_pretty(pg_total_relation_size(%s::regclass))", (name,)
                ).fetchone()[0]
                for name in collections
            }
        pg.stop()
        pg.start()
        conn = running.enter_context(pg.connect())
        pg_cold, _ = postgis_pass(conn, queries, tiles, left)
        floor_ms = noop_round_trip_ms(conn)

        # fedmin: a fresh process per series and its cold pass.
        servers = {label: running.enter_context(c.fedmin_server(**env)) for label, env in series}
        fedmin: dict[str, dict[str, Any]] = {
            label: {"cold": fedmin_pass(server, collections, tiles, left)[0]}
            for label, server in servers.items()
        }

        # Warm: the passes alternate between the servers, so a neighbour's burst on a
        # shared machine hits every series alike.
        runs = {"PostGIS": lambda: postgis_pass(conn, queries, tiles, left)}
        for label, server in servers.items():
            runs[label] = partial(fedmin_pass, server, collections, tiles, left)
        warm = warm_passes(runs, args.warm_passes)
        pg_warm, pg_warm_cpu = warm.pop("PostGIS")
        for label, (results, cpu) in warm.items():
            fedmin[label] |= {"warm": results, "warm_cpu": cpu, "rss": servers[label].rss_mib()}
        budget_left = left()

    print(f"PostGIS: {version[0]} on {version[1].split(',')[0]}; loaded in {load_seconds:.1f} s")
    print(f"  SELECT 1 round trip (the driver and protocol alone): p50 {floor_ms:.3f} ms")
    for name in collections:
        layer_name, props = properties[name]
        print(
            f"  {name}: {loaded[name]} rows, {sizes[name]} with index; MVT layer "
            f"{layer_name!r}, properties {', '.join(props)}"
        )
        if missing_props[name]:
            print(f"    not loaded (not in the frame): {', '.join(missing_props[name])}")
    for label, run in fedmin.items():
        print(f"{label}: server RSS after the passes {c.fmt(run['rss'])} MiB")
    if budget_left <= 0:
        print(f"NOTE: the {args.budget:.0f} s budget ran out; later tiles were skipped")
    print()

    for name in collections:
        print(f"## {name} (ms; {len(tiles)} tiles)")
        rows = []
        base = series_stats(pg_cold[name], pg_warm[name], pg_warm_cpu[name])
        rows.append(("PostGIS ST_AsMVT", base))
        for label, run in fedmin.items():
            stats = series_stats(run["cold"][name], run["warm"][name], run["warm_cpu"][name])
            rows.append((label, stats))
        c.print_table(
            (
                "series",
                "first",
                "cold p50",
                "cold p95",
                "warm p50",
                "warm p95",
                "warm CPU ms/tile (mean)",
                "tile bytes p50",
            ),
            [
                (
                    label,
                    s["first"],
                    s["cold_p50"],
                    s["cold_p95"],
                    s["warm_p50"],
                    s["warm_p95"],
                    s["warm_cpu_ms"],
                    s["bytes_p50"],
                )
                for label, s in rows
            ],
        )
        for label, s in rows[1:]:
            print(
                f"  {label} / PostGIS: cold p50 {c.ratio(s['cold_p50'], base['cold_p50'])}, "
                f"cold p95 {c.ratio(s['cold_p95'], base['cold_p95'])}, "
                f"warm p50 {c.ratio(s['warm_p50'], base['warm_p50'])}, "
                f"warm p95 {c.ratio(s['warm_p95'], base['warm_p95'])}, "
                f"warm CPU/tile {c.ratio(s['warm_cpu_ms'], base['warm_cpu_ms'])}"
            )
        if "fedmin" in fedmin:
            diffs = [
                (t, feature_count(a[1]), feature_count(b[1]))
                for t, a, b in zip(
                    tiles,
                    fedmin["fedmin"]["warm"][name][: len(tiles)],
                    pg_warm[name][: len(tiles)],
                    strict=True,
                )
                if a is not None and b is not None
            ]
            odd = [(t, fa, fb) for t, fa, fb in diffs if fa != fb]
            total_a = sum(fa for _, fa, _ in diffs)
            total_b = sum(fb for _, _, fb in diffs)
            print(
                f"  features in the tiles: fedmin {total_a}, PostGIS {total_b}; "
                f"{len(odd)} of {len(diffs)} tiles differ"
                + (
                    f" (e.g. {'/'.join(map(str, odd[0][0]))}: {odd[0][1]} vs {odd[0][2]})"
                    if odd
                    else ""
                )
            )
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
