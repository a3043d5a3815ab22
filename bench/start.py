"""Start-up as a whole process: what a server pays before it can answer, checkouts A/B.

    .venv/bin/python bench/start.py --data-dir DIR [--vs PATH] [--repo PATH] [--runs 4]
                                    [--cold]

Each run is a fresh ``python`` that opens the store build under ``--data-dir`` and loads
what the server loads at start (``app.state.load_snapshot``: the engine and every eager
collection), then freezes and trims its heap as the app's lifespan does. Measured from
outside by the kernel's accounting of the finished child (``os.wait4``): wall time, CPU
time and peak RSS, plus the RSS the child reports after the trim (what it keeps).

``--cold`` deletes the build's ``cache/`` directory before every run, so each run enriches
the deposits and encodes the features again (a first start); give it only a data dir
made for benchmarks (``bench/national.py``'s synthetic stores), never the one you serve.
With ``--vs`` the runs alternate A B A B so a drift of the machine's speed hits both, and
the table gives A / B per figure, pair by pair, as medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import _common  # noqa: E402

CHILD = """
from app.settings import get_settings
from app.state import freeze_heap, load_snapshot
from geo.caches import release_free_memory
from layers.store import open_store
settings = get_settings()
snapshot = load_snapshot(open_store(settings.data_dir), settings)
freeze_heap()
release_free_memory()
print(int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
"""


def one_start(repo: Path, data_dir: Path, cold: bool) -> dict[str, float]:
    """One whole-process start of ``repo``'s code over ``data_dir``."""
    if cold:
        shutil.rmtree((data_dir / "store").resolve() / "cache", ignore_errors=True)
    env = os.environ | {
        "PYTHONPATH": str(repo),
        "FEDMIN_DATA_DIR": str(data_dir),
        "FEDMIN_LOG_LEVEL": "ERROR",
        "FEDMIN_STORE_CHECK_INTERVAL_S": "0",
    }
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", "import os\n" + CHILD],
        env=env,
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out = child.stdout.read() if child.stdout else b""
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"start of {repo} failed with exit code {child.returncode}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mib": usage.ru_maxrss / 1024,  # kilobytes on Linux
        "kept_mib": int(out.split()[-1]) / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="FEDMIN_DATA_DIR")
    parser.add_argument("--repo", type=Path, default=_common.REPO, help="checkout A")
    parser.add_argument("--vs", type=Path, default=None, help="checkout B, alternated")
    parser.add_argument("--runs", type=int, default=4, help="counted runs of each")
    parser.add_argument("--cold", action="store_true", help="delete the cache/ first")
    args = parser.parse_args(argv)
    repos = [args.repo, *([args.vs] if args.vs else [])]
    for repo in repos:  # warm-up: the page cache, and the cache files of a warm start
        one_start(repo, args.data_dir, args.cold)
    runs: dict[Path, list[dict[str, float]]] = {repo: [] for repo in repos}
    for _ in range(args.runs):
        for repo in repos:
            runs[repo].append(one_start(repo, args.data_dir, args.cold))
    figures = ("wall_s", "cpu_s", "peak_mib", "kept_mib")
    rows = [
        [str(repo), *(round(statistics.median(r[f] for r in runs[repo]), 2) for f in figures)]
        for repo in repos
    ]
    if args.vs:
        a, b = runs[args.repo], runs[args.vs]
        ratios = [
            f"{statistics.median(x[f] / y[f] for x, y in zip(a, b, strict=True)):.2f}x"
            for f in figures
        ]
        rows.append(["A / B (pairwise median)", *ratios])
    print(f"{'cold' if args.cold else 'cached'} starts over {args.data_dir}, {args.runs} runs")
    _common.print_table(["checkout", "wall s", "CPU s", "peak RSS MiB", "kept RSS MiB"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
