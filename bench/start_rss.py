"""RSS of a server after start-up, and once its start-up's background work has ended.

    .venv/bin/python bench/start_rss.py [--sizes 3e5,real] [--repos PATH,PATH]
                                        [--seconds 30] [--seed 20261127]

``/health`` answers before a start's background work ends: the default filter's
prospectivity surface (the prewarm, which on a store without its files also builds the
store-wide grid and the first ranking) and, on a first start, the encoding of the large
collections' features. ``bench/national.py`` reads the RSS when ``/health`` answers; this
script follows it for ``--seconds`` after, once a second, and prints it at ``/health``,
its peak and where it settles (the last reading), for three starts over a store of each
size (``bench/national.py``'s ``make_store``; sizes as there):

* **bare**: nothing beside the store (no ``fedmin data build`` warm step);
* **built**: what the build's warm step keeps (enrichment, grids and cell statics, the
  first ranking's components), without the encoded features and surfaces of a server;
* **cached**: after a server has run on it (its features and the default surface too).

Each ``--repos`` checkout is served in turn over the same copies (before/after figures in
one run; this script and the data preparation come from this checkout).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import _common  # noqa: E402
from national import WARM, make_store  # noqa: E402
from rank import parse_size, size_label  # noqa: E402

#: What a server writes beside the store that the build's warm step does not.
SERVER_FILES = ("features-*", "tiles-*", "prospectivity-*")
STARTS = ("bare", "built", "cached")


def follow(data: Path, repo: Path, seconds: int) -> dict[str, float]:
    """One server start over ``data``: RSS (MiB) at ``/health``, peak and last reading."""
    env = {
        "FEDMIN_DATA_DIR": str(data),
        "FEDMIN_STORE_CHECK_INTERVAL_S": "0",
        "FEDMIN_LOG_LEVEL": "WARNING",
    }
    server = _common.Server("app.main:create_app", env=env, app_dir=repo)
    started = time.perf_counter()
    server.start(timeout=600)
    out = {"up_s": time.perf_counter() - started, "health_mib": server.rss_mib() or 0.0}
    readings = [out["health_mib"]]
    try:
        for _ in range(seconds):
            time.sleep(1)
            readings.append(server.rss_mib() or 0.0)
    finally:
        server.stop()
    return out | {"peak_mib": max(readings), "settled_mib": readings[-1]}


def prepare(kind: str, data: Path, repo: Path, seconds: int) -> None:
    """Leave beside the store what the ``kind`` of start finds there."""
    cache = next(data.glob("stores/*/cache"), None)
    if kind == "bare" and cache is not None:
        shutil.rmtree(cache)
    if kind == "built":
        env = {**os.environ, "FEDMIN_DATA_DIR": str(data), "PYTHONPATH": str(repo)}
        subprocess.run([sys.executable, "-c", WARM], cwd=repo, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        for pattern in SERVER_FILES:
            for path in data.glob(f"stores/*/cache/{pattern}"):
                path.unlink()
    if kind == "cached":  # a server ran over the built store and wrote its files
        follow(data, repo, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="3e5,real")
    parser.add_argument("--repos", default=str(_common.REPO), help="comma list of checkouts")
    parser.add_argument("--seconds", type=int, default=30, help="followed after /health")
    parser.add_argument("--jitter-km", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args(argv)
    _common.install_cleanup()
    repos = [Path(r).resolve() for r in args.repos.split(",") if r.strip()]
    real_root = Path(_common.open_store().root)
    print("# RSS after start-up and once its background work has ended")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; followed {args.seconds} s after /health")
    for key, value in _common.machine_info().items():
        print(f"  {key:<13} {value}")
    rows = []
    for size in [parse_size(s) for s in args.sizes.split(",") if s.strip()]:
        with tempfile.TemporaryDirectory(prefix="fedmin-bench-start-rss-") as tmp:
            made = Path(tmp) / "made"
            make_store(real_root, made, size, args.jitter_km, args.seed)
            for repo in repos:
                data = Path(tmp) / "data"
                shutil.copytree(made, data, symlinks=True)
                for kind in STARTS:  # in this order: each start leaves what the next finds
                    prepare(kind, data, repo, args.seconds)
                    r = follow(data, repo, args.seconds)
                    rows.append([size_label(size), _common.code_version_of(repo), kind,
                                 f"{r['up_s']:.1f}", f"{r['health_mib']:,.0f}",
                                 f"{r['peak_mib']:,.0f}", f"{r['settled_mib']:,.0f}"])  # fmt: skip
                    print(f"  done {rows[-1]}", file=sys.stderr)
                shutil.rmtree(data)
    columns = ("deposits", "code", "start", "up s", "RSS at /health MiB", "peak MiB",
               "settled MiB")  # fmt: skip
    _common.print_table(columns, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
