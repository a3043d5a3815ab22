"""RSS of one fedmin process across store switches: ten switches, RSS printed after each.

    .venv/bin/python bench/store_switch.py [--switches 10] [--load-seconds 8] [--store baseline]

A server keeps serving while ``data/store`` is pointed at new builds (``app.state``
switches to each in the background and closes the old one once its last request ends).
Rebuilding a store ten times would take too long, so the builds are copies of one: a
temporary data directory holds, under new build ids, directories whose files are
symbolic links to that build's (its enrichment cache included, renamed for the new id,
so each switch loads as a cached start would), each with its own ``manifest.json``.

Which build: ``--store baseline`` (the default) builds, once, into the temporary
directory, the store of every catalog layer but the MinMod ones from ``data/raw`` (the
8.5k-deposit store); ``--store current`` copies ``data/store`` (the national store: a
snapshot of it takes about two minutes to load and 7.5 GiB, and two live at once during a
switch, so it needs some 16 GiB free and half an hour).

The server (``FEDMIN_DATA_DIR`` = that directory, store check every 0.5 s) is loaded on
each build before the next switch: item pages, vector tiles with a filter of their own
per build, one ranking with weights of its own, prospectivity tiles.
So every cache a build has is filled, and what survives a switch shows up as growth.

Printed per switch: seconds until ``/health`` names the new build and the old one is
closed, and RSS then and after the load. The baseline is the RSS after the first switch
(and its load): the target (issue 14) is that after the tenth within 10 % of it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from layers import catalog
from layers import store as layers_store

MANIFEST = "manifest.json"
#: Commodities cycled through, one per build (so each build renders tiles of its own).
COMMODITIES = ("gold", "copper", "lithium", "tungsten", "silver", "uranium", "zinc", "lead")
#: The Nevada ranking: a real state, a cold ranking of a few seconds.
RANKING = "/rankings?state=NV&top=20&weights=access:{a},development:{d}"
TILES = [(7, 20, 48), (7, 21, 48), (6, 10, 24), (6, 11, 24), (5, 5, 12), (8, 42, 97)]
PROSPECTIVITY = "/rasters/prospectivity/tiles/WebMercatorQuad/{z}/{x}/{y}.png?commodity={c}"


def copy_build(source: Path, stores: Path, build_id: str) -> None:
    """``stores/build_id``: the files of ``source`` linked, its manifest rewritten."""
    target = stores / build_id
    target.mkdir()
    for path in source.iterdir():
        if path.name == MANIFEST or path.name.startswith("."):
            continue  # .in-use leases belong to the source's readers
        if path.is_dir():  # the engine cache: file names carry the build id
            (target / path.name).mkdir()
            for cached in path.iterdir():
                if cached.is_file():
                    name = cached.name.replace(source.name, build_id)
                    (target / path.name / name).symlink_to(cached)
        else:
            (target / path.name).symlink_to(path)
    manifest = json.loads((source / MANIFEST).read_text())
    manifest["build_id"] = build_id
    (target / MANIFEST).write_text(json.dumps(manifest))


def point_store_at(data_dir: Path, build_id: str) -> None:
    """Swap ``data_dir/store`` to ``stores/build_id`` in one rename, as a build does."""
    link = data_dir / "store"
    fresh = data_dir / f".store-{build_id}"
    fresh.symlink_to(Path("stores") / build_id)
    os.replace(fresh, link)


def wait_switched(server: c.Server, old: str, new: str, timeout: float) -> float:
    """Seconds until ``/health`` names ``new`` and the server has closed ``old``."""
    import httpx

    started = time.monotonic()
    closed = f"closed store build {old}"
    while time.monotonic() - started < timeout:
        build = httpx.get(server.base + "/health", timeout=30).json()["store"]["build_id"]
        if build == new and server.log is not None and closed in server.log.read_text():
            return time.monotonic() - started
        time.sleep(0.25)
    raise RuntimeError(f"the server did not switch from {old} to {new} in {timeout:g} s")


def load(server: c.Server, n: int, seconds: float) -> int:
    """Requests that fill the build's caches; returns how many were answered 200/204."""
    import httpx

    commodity = COMMODITIES[n % len(COMMODITIES)]
    paths = [RANKING.format(a=1 + n % 5, d=1 + n // 5)]
    paths += [f"/collections/deposits/items?limit=1000&offset={k * 1000}" for k in range(5)]
    paths += [
        f"/collections/deposits/tiles/WebMercatorQuad/{z}/{x}/{y}?commodity={commodity}"
        for z, x, y in TILES
    ]
    paths += [f"/collections/federal_lands/tiles/WebMercatorQuad/{z}/{x}/{y}" for z, x, y in TILES]
    paths += [PROSPECTIVITY.format(z=z, x=x, y=y, c=commodity) for z, x, y in TILES[:2]]
    ok = 0
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=server.base, timeout=300) as client:
        for path in paths:
            ok += client.get(path).status_code in (200, 204)
        while time.monotonic() < deadline:  # the rest of the time: cached answers
            ok += client.get(paths[ok % len(paths)]).status_code in (200, 204)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switches", type=int, default=10)
    parser.add_argument("--load-seconds", type=float, default=8.0, help="per build")
    parser.add_argument("--switch-timeout", type=float, default=600.0)
    parser.add_argument("--store", choices=("baseline", "current"), default="baseline")
    args = parser.parse_args(argv)
    c.install_cleanup()

    tmp = Path(tempfile.mkdtemp(prefix="fedmin-switch-"))
    c.on_exit(lambda: shutil.rmtree(tmp, ignore_errors=True))
    if args.store == "current":
        store = c.open_store()
    else:
        layers = [entry for entry in catalog.LAYERS if entry not in catalog.MINMOD_LAYERS]
        build = layers_store.build(
            c.data_dir() / "raw", tmp / "base", layers=layers, force=True, progress=True
        )
        store = layers_store.Store(build.root)
    c.print_header(
        "RSS across store switches",
        f"RSS of one server process after each of {args.switches} switches of data/store "
        f"(copies of the {args.store} build), each build loaded before the next switch",
        store,
    )
    source = Path(store.root)
    (tmp / "stores").mkdir()
    ids = [f"{source.name}.copy{n:02d}" for n in range(args.switches + 1)]
    copy_build(source, tmp / "stores", ids[0])
    point_store_at(tmp, ids[0])

    env = {"FEDMIN_DATA_DIR": str(tmp), "FEDMIN_STORE_CHECK_INTERVAL_S": "0.5"}
    rows = []
    with c.Server("app.main:create_app", env=env) as server:
        load(server, 0, args.load_seconds)
        start_rss = server.rss_mib()
        print(f"start + load on the first build: RSS {c.fmt(start_rss)} MiB", flush=True)
        for n in range(1, args.switches + 1):
            copy_build(source, tmp / "stores", ids[n])
            point_store_at(tmp, ids[n])
            took = wait_switched(server, ids[n - 1], ids[n], args.switch_timeout)
            switched = server.rss_mib()
            answered = load(server, n, args.load_seconds)
            loaded = server.rss_mib()
            shutil.rmtree(tmp / "stores" / ids[n - 1], ignore_errors=True)  # as pruning does
            rows.append((n, took, switched, answered, loaded))
            print(
                f"switch {n}: {took:.1f} s, RSS {c.fmt(switched)} MiB, "
                f"after {answered} requests {c.fmt(loaded)} MiB",
                flush=True,
            )

    print()
    first = rows[0]
    c.print_table(
        (
            "switch",
            "switch s",
            "RSS switched MiB",
            "vs 1st",
            "requests",
            "RSS loaded MiB",
            "vs 1st",
        ),
        [
            (n, took, sw, c.ratio(sw, first[2]), ok, ld, c.ratio(ld, first[4]))
            for n, took, sw, ok, ld in rows
        ],
    )
    last = rows[-1]
    growth = last[4] / first[4] - 1
    verdict = "met" if abs(growth) <= 0.10 else "NOT met"
    print(
        f"\nRSS after switch {last[0]} (loaded) {c.fmt(last[4])} MiB vs after switch 1 "
        f"{c.fmt(first[4])} MiB: {growth:+.1%} (target within 10 %: {verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
