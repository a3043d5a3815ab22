"""Feature pages: requests per second of ``/collections/deposits/items?limit=100``.

    .venv/bin/python bench/features.py [--concurrency 8] [--seconds 10]

fedmin answers a fixed set of pages (offsets and bounding boxes, 100 features each); the
baseline is a bare FastAPI app in the same kind of process (one uvicorn worker, no access
log) answering the same paths with the same bytes, fetched once from fedmin. Same client
(wrk from Debian, installed when missing; else httpx), same concurrency, same duration,
one server under load at a time, alternating in rounds (a neighbour's burst on a shared
machine then hits both), on 127.0.0.1. The ratio fedmin / bare is the cost of
selecting, paging and serializing the features, over the cost of serving the bytes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

ITEMS = "/collections/deposits/items"
OFFSETS = (0, 100, 1000, 2500, 5000, 8000)
#: west, south, east, north: the northern California deposits (MRDS box), its quarters,
#: a small box around Redding, the Nevada tungsten belt, and one empty box.
BBOXES = (
    (-124.38, 40.07, -122.39, 41.74),
    (-124.38, 40.07, -123.385, 40.905),
    (-123.385, 40.905, -122.39, 41.74),
    (-122.6, 40.5, -122.3, 40.8),
    (-118.5, 38.0, -116.0, 41.0),
    (-100.0, 30.0, -99.0, 31.0),
)
GZIP_HEADERS = {"gzip": {"Accept-Encoding": "gzip"}}
LARGE_PAGES = [f"{ITEMS}?limit=1000&offset={o}" for o in (0, 1000, 5000, 20000)]
GROUPS = {
    "offset pages": [f"{ITEMS}?limit=100&offset={o}" for o in OFFSETS],
    "bbox pages": [f"{ITEMS}?limit=100&bbox={','.join(f'{v:g}' for v in bbox)}" for bbox in BBOXES],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=12.0, help="per group and server")
    parser.add_argument("--rounds", type=int, default=3, help="alternations fedmin/bare")
    parser.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto")
    args = parser.parse_args(argv)
    c.install_cleanup()

    store = c.open_store()
    c.print_header(
        "Feature pages: fedmin vs a bare FastAPI app serving the same bytes",
        f"requests/s and latency of GET {ITEMS}?limit=100 over fixed offsets and bboxes, "
        f"{args.concurrency} concurrent connections, {args.seconds:g} s per group and server "
        f"in {args.rounds} alternating rounds",
        store,
    )
    paths = [p for group in GROUPS.values() for p in group]
    with c.fedmin_server() as fedmin:
        missing = c.require_paths(fedmin.base, [ITEMS])
        if missing:
            print(f"fedmin does not serve {ITEMS} yet: nothing to measure")
            return 0
        captured = c.capture(fedmin.base, paths)  # also fedmin's warm-up
        bad = {p: r["status"] for p, r in captured.items() if r["status"] != 200}
        if bad:
            print(f"fedmin answered errors: {bad}")
            return 1
        sizes = [len(r["body"]) // 2 for r in captured.values()]
        print(
            f"pages: {len(paths)} ({', '.join(f'{k} {len(v)}' for k, v in GROUPS.items())}); "
            f"body {min(sizes):,}..{max(sizes):,} bytes"
        )
        with c.replay_server(captured) as bare:
            rows = []
            servers = {"fedmin": fedmin, "bare": bare}
            for group, group_paths in [*GROUPS.items(), ("all", paths)]:
                results = c.run_paired(
                    servers, group_paths, args.concurrency, args.seconds, args.client, args.rounds
                )
                rows.append((group, results["fedmin"], results["bare"]))
            gzip_rows = []
            for group, group_paths in (("100-feature pages", paths), ("1000-feature", LARGE_PAGES)):
                results = c.run_paired(
                    {"identity": fedmin, "gzip": fedmin},
                    group_paths,
                    args.concurrency,
                    args.seconds,
                    args.client,
                    args.rounds,
                    GZIP_HEADERS,
                )
                gzip_rows.append((group, results["identity"], results["gzip"]))
            rss = fedmin.rss_mib()

    client = rows[0][1].client
    print(f"client: {client}; fedmin RSS after the run {c.fmt(rss)} MiB")
    print()
    c.print_table(
        (
            "pages",
            "fedmin req/s",
            "bare req/s",
            "fedmin/bare req/s",
            "fedmin p50 ms",
            "bare p50 ms",
            "fedmin p95 ms",
            "bare p95 ms",
            "p50 ratio",
            "fedmin CPU ms/req",
            "bare CPU ms/req",
            "CPU ratio",
            "errors",
        ),
        [
            (
                group,
                f.rps,
                b.rps,
                c.ratio(f.rps, b.rps),
                f.p50,
                b.p50,
                f.p95,
                b.p95,
                c.ratio(f.p50, b.p50),
                f.cpu_ms,
                b.cpu_ms,
                c.ratio(f.cpu_ms, b.cpu_ms),
                f.errors + b.errors,
            )
            for group, f, b in rows
        ],
    )
    print()
    print("gzip: the same fedmin server, Accept-Encoding identity vs gzip")
    c.print_table(
        (
            "pages",
            "identity req/s",
            "gzip req/s",
            "gzip/identity req/s",
            "identity p50 ms",
            "gzip p50 ms",
            "identity CPU ms/req",
            "gzip CPU ms/req",
            "CPU ratio",
            "identity kB/req",
            "gzip kB/req",
            "bytes ratio",
        ),
        [
            (
                group,
                i.rps,
                g.rps,
                c.ratio(g.rps, i.rps),
                i.p50,
                g.p50,
                i.cpu_ms,
                g.cpu_ms,
                c.ratio(g.cpu_ms, i.cpu_ms),
                i.bytes / i.requests / 1000 if i.requests else float("nan"),
                g.bytes / g.requests / 1000 if g.requests else float("nan"),
                c.ratio(g.bytes / max(g.requests, 1), i.bytes / max(i.requests, 1)),
            )
            for group, i, g in gzip_rows
        ],
    )
    rows += gzip_rows
    errors = sum(f.errors + b.errors for _, f, b in rows)
    if errors:
        print(f"ERRORS: {errors} ({[(g, f.error_detail, b.error_detail) for g, f, b in rows]})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
