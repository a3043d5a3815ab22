"""``fedmin data build`` with and without the MinMod layers: time and peak memory.

    .venv/bin/python bench/build.py [--raw data/raw] [--out /tmp/fedmin-bench-build]

Two cases, each in a fresh subprocess building a store from the already fetched raw
sources (run ``fedmin data fetch`` first):

* ``baseline``: every catalog layer but the MinMod ones (the store as it was before them);
* ``national``: the whole catalog, MinMod layers included.

Per case: wall time, CPU time (user + system of the subprocess: on a shared machine this
is the figure that does not depend on what else runs), peak resident set
(``ru_maxrss`` of the finished subprocess) and the deposit records built. Ratios are
national / baseline of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

CASE = """
import json, sys
from pathlib import Path
from layers import catalog, store
from layers.schema import LayerKind
layers = catalog.LAYERS if sys.argv[3] == "national" else [
    entry for entry in catalog.LAYERS if entry not in catalog.MINMOD_LAYERS
]
result = store.build(Path(sys.argv[1]), Path(sys.argv[2]), layers=layers, force=True,
                     progress=False)
kinds = result.manifest["layers"].values()
print(json.dumps({"deposits": sum(r["rows"] or 0 for r in kinds
                                  if r["kind"] == LayerKind.DEPOSITS.value)}))
"""


def run_case(name: str, raw: Path, out: Path) -> dict:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", CASE, str(raw), str(out / name), name],
        stdout=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"case {name} failed with status {status}")
    deposits = json.loads(process.stdout.read().strip().splitlines()[-1])["deposits"]
    return {
        "case": name,
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_gib": round(usage.ru_maxrss / 2**20, 2),
        "deposit_records": deposits,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=Path("data/raw"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/fedmin-bench-build"))
    args = parser.parse_args()
    print(f"machine: {platform.node()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    results = [run_case(name, args.raw, args.out) for name in ("baseline", "national")]
    for row in results:
        print(json.dumps(row))
    base, national = results
    print(
        f"national / baseline: cpu x{national['cpu_s'] / base['cpu_s']:.1f}, "
        f"wall x{national['wall_s'] / base['wall_s']:.1f}, "
        f"peak RSS x{national['peak_rss_gib'] / base['peak_rss_gib']:.1f}, "
        f"deposit records x{national['deposit_records'] / base['deposit_records']:.0f}"
    )


if __name__ == "__main__":
    main()
