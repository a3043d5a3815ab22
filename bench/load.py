"""Load: 1, 8 and 32 concurrent clients on a mix of items, tiles and rankings.

    .venv/bin/python bench/load.py [--concurrency 1,8,32] [--seconds 10]

Each level runs for a bounded time against fedmin (one uvicorn worker, as ``fedmin serve``)
and against the baseline, alternating in rounds: a bare FastAPI app in the same kind of
process answering the same paths with the same bytes fetched once from fedmin. Traffic
goes to 127.0.0.1 only. Prints p50/p95/p99 latency, requests/s and errors per level, with
the ratios fedmin / baseline. fedmin must answer every request: exits 1 on any error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from postgis_tiles import TILE_PATH, fixed_tiles

ITEMS = [
    "/collections/deposits/items?limit=100",
    "/collections/deposits/items?limit=100&offset=1000",
    "/collections/deposits/items?limit=100&bbox=-123.385,40.905,-122.39,41.74",
    "/collections/federal_lands/items?limit=100",
]
#: Per zoom 7..11, the tile holding the most deposits (the map's busiest view).
TILE_ZOOMS = range(7, 12)
RANKINGS = ["/rankings"]


def mix(available: dict[str, list[str]]) -> list[str]:
    """Interleaved: every item page and tile once, the rankings once per five requests."""
    pages = [p for kind in ("items", "tiles") for p in available.get(kind, [])]
    ranks = available.get("rankings", [])
    out: list[str] = []
    for i, path in enumerate(pages):
        out.append(path)
        if ranks and i % 4 == 3:
            out.append(ranks[(i // 4) % len(ranks)])
    return out or ranks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=12.0, help="per level and server")
    parser.add_argument("--rounds", type=int, default=3, help="alternations fedmin/bare")
    parser.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto")
    args = parser.parse_args(argv)
    levels = [int(v) for v in args.concurrency.split(",")]
    c.install_cleanup()

    store = c.open_store()
    c.print_header(
        "Load: fedmin vs a bare FastAPI app serving the same bytes",
        f"latency and throughput under {', '.join(map(str, levels))} concurrent clients "
        f"(closed loop, {args.seconds:g} s per server in {args.rounds} alternating rounds) "
        "on a mix of items, tiles and rankings",
        store,
    )
    tiles = [
        TILE_PATH.format(collection=collection, z=z, x=x, y=y)
        for collection in ("deposits", "federal_lands")
        for z, x, y in fixed_tiles(store, TILE_ZOOMS, per_zoom=1)
    ]
    with c.fedmin_server() as fedmin:
        available = {}
        for kind, paths in (("items", ITEMS), ("tiles", tiles), ("rankings", RANKINGS)):
            missing = c.require_paths(fedmin.base, paths)
            if missing:
                print(f"not served yet, left out of the mix: {', '.join(missing)}")
            available[kind] = [p for p in paths if p not in missing]
        paths = mix(available)
        if not paths:
            print("fedmin serves none of the endpoints yet: nothing to measure")
            return 0
        captured = c.capture(fedmin.base, paths)  # also fedmin's warm-up
        bad = {p: r["status"] for p, r in captured.items() if r["status"] >= 400}
        if bad:
            print(f"ERRORS while warming up: {bad}")
            return 1
        counts = {k: sum(p in v for p in paths) for k, v in available.items()}
        print(
            f"mix: {len(paths)} requests in a cycle ("
            + ", ".join(f"{k} {n}" for k, n in counts.items())
            + f"), responses {min(len(r['body']) // 2 for r in captured.values()):,}.."
            f"{max(len(r['body']) // 2 for r in captured.values()):,} bytes"
        )
        # One warm request per path, sequentially: which part of the mix costs what.
        by_kind: dict[str, list[float]] = {}
        client = c.LeanClient(fedmin.base)
        try:
            for kind, kind_paths in available.items():
                for path in kind_paths:
                    seconds, _, _ = client.get(path)
                    by_kind.setdefault(kind, []).append(seconds)
        finally:
            client.close()
        rows = []
        with c.replay_server(captured) as bare:
            servers = {"fedmin": fedmin, "bare": bare}
            for level in levels:
                r = c.run_paired(servers, paths, level, args.seconds, args.client, args.rounds)
                rows.append((level, r["fedmin"], r["bare"]))
            rss = fedmin.rss_mib()

    print(f"client: {rows[0][1].client}; fedmin RSS after the run {c.fmt(rss)} MiB")
    print()
    print("fedmin, one warm request at a time, by kind (ms):")
    c.print_table(
        ("kind", "paths", "p50", "max", "bytes p50"),
        [
            (
                kind,
                len(samples),
                c.summarize(samples)["p50"],
                c.summarize(samples)["max"],
                int(c.percentile([len(captured[p]["body"]) // 2 for p in available[kind]], 50)),
            )
            for kind, samples in by_kind.items()
        ],
    )
    print()
    c.print_table(
        (
            "clients",
            "server",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "CPU ms/req",
            "requests",
            "errors",
        ),
        [
            (level, label, r.rps, r.p50, r.p95, r.p99, r.max, r.cpu_ms, r.requests, r.errors)
            for level, f, b in rows
            for label, r in (("fedmin", f), ("bare", b))
        ],
    )
    print()
    print("fedmin / bare:")
    c.print_table(
        ("clients", "req/s", "p50", "p95", "p99", "CPU/req"),
        [
            (
                level,
                c.ratio(f.rps, b.rps),
                c.ratio(f.p50, b.p50),
                c.ratio(f.p95, b.p95),
                c.ratio(f.p99, b.p99),
                c.ratio(f.cpu_ms, b.cpu_ms),
            )
            for level, f, b in rows
        ],
    )
    errors = sum(f.errors for _, f, _ in rows)
    if errors:
        print(f"ERRORS from fedmin: {errors} {[(lvl, f.error_detail) for lvl, f, _ in rows]}")
        return 1
    print("errors from fedmin: 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
