"""Overlay + ranking: the memory and dask engines next to a plain geopandas ``sjoin``.

    .venv/bin/python bench/rank.py [--sizes real,1e5,1e6] [--engines memory,dask,dask-processes]
                                   [--jitter-km 5] [--seed 20261127] [--scheduler tcp://...]

Per data size, every case runs in a fresh subprocess (so one case's memory and caches do
not flatter the next):

* ``sjoin``: ``geopandas.sjoin(points, federal_lands, predicate="intersects")`` of the same
  points, including the lands' STRtree build: the baseline, timed in the same run;
* ``memory``: ``MemoryEngine`` (cache off): *overlay* is ``enrich`` (land status with
  precedence, distances to roads, rails and power lines, metric coordinates), *rank* one
  default ranking (all commodities, 5 km squares) with its validation;
* ``dask``: ``DaskEngine`` on its default ``LocalCluster`` (on up to 2 cores: one worker in
  the process, a thread per core), or on ``--scheduler``; ``dask-processes``: a
  ``LocalCluster`` of worker processes (dask's default layout: here 2 x 1 thread).

*startup* (loading the layers, building the trees, starting the cluster) is reported
apart. Ratios are engine time / sjoin time of the same points. The engine does much more
than the sjoin (precedence sort, three nearest-line searches, projection), so a ratio
above 1 is expected; what the ratio shows is how the extra work scales.

Peak memory: the largest resident set of the case, as the kernel reports it for the
finished subprocess (``os.wait4`` rusage ``ru_maxrss``, which numpy and GEOS allocations
count in, unlike tracemalloc), and the summed RSS of its whole process tree (the dask
worker processes included) sampled every 50 ms with psutil; the larger is shown.

Sizes other than ``real`` are synthetic: the real deposits repeated and each copy
jittered by up to ``--jitter-km`` km (uniform in a disc, reproducible ``--seed``), ids
suffixed ``~j<copy>``; the output says so. A case that exceeds ``--case-timeout`` or
``--max-rss-gib`` is killed and reported as such, not hidden.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
if str(REPO) not in sys.path:
    sys.path.insert(1, str(REPO))

ENGINES = ("memory", "dask", "dask-processes")
DEFAULT_SIZES = "real,1e5,1e6"
DEFAULT_SEED = 20261127
DEFAULT_JITTER_KM = 5.0
#: The grid grows with the jitter; the default cap (50 000 cells) is for interactive use.
BENCH_MAX_CELLS = 400_000
KM_PER_DEG_LAT = 111.32


# --- data ------------------------------------------------------------------------------------


def parse_size(text: str) -> int | None:
    """``real`` -> None (the store's deposits as they are); ``1e5`` or ``100000`` -> int."""
    text = text.strip().lower()
    if text == "real":
        return None
    value = float(text)
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"size: 'real' or a positive integer, got {text!r}")
    return int(value)


def size_label(size: int | None) -> str:
    if size is None:
        return "real"
    exp = math.log10(size)
    return f"10^{exp:.0f}" if exp == int(exp) else f"{size:,}"


def synthetic_deposits(real: Any, size: int, jitter_km: float, seed: int) -> Any:
    """``size`` deposits: the real ones repeated, each copy moved by up to ``jitter_km``.

    Row ``i`` is a copy of real row ``i mod n`` (copy ``i // n``, id suffixed ``~j<copy>``),
    displaced uniformly inside a disc of radius ``jitter_km``; reproducible for a seed.
    Fewer than ``n``: a random sample of the real rows (in their order), displaced alike.
    """
    import geopandas as gpd
    import numpy as np
    import shapely

    rng = np.random.default_rng(seed)
    n = len(real)
    source = np.arange(size) % n if size >= n else np.sort(rng.choice(n, size, replace=False))
    copy = np.arange(size) // n
    frame = real.iloc[source].reset_index(drop=True)
    lon = real.geometry.x.to_numpy()[source]
    lat = real.geometry.y.to_numpy()[source]
    r = jitter_km * np.sqrt(rng.uniform(0.0, 1.0, size))
    theta = rng.uniform(0.0, 2.0 * np.pi, size)
    lat2 = np.clip(lat + r * np.sin(theta) / KM_PER_DEG_LAT, -89.9, 89.9)
    lon2 = lon + r * np.cos(theta) / (KM_PER_DEG_LAT * np.cos(np.deg2rad(lat)))
    lon2 = (lon2 + 180.0) % 360.0 - 180.0
    frame["id"] = [f"{i}~j{c}" for i, c in zip(frame["id"].tolist(), copy.tolist(), strict=True)]
    return gpd.GeoDataFrame(frame, geometry=shapely.points(lon2, lat2), crs=real.crs)


class SyntheticStore:
    """The real store with its deposit sites replaced (``deposit_sites`` reads them)."""

    def __init__(self, store: Any, deposits: Any, label: str):
        self._store = store
        self._deposits = deposits
        self.build_id = f"{store.build_id}+{label}"

    def kind_frame(self, kind: Any) -> Any:
        from layers.schema import LayerKind

        return self._deposits if kind == LayerKind.DEPOSITS else self._store.kind_frame(kind)

    def layer_ids(self, kind: Any = None) -> list[str]:
        """No sites layer: ``deposit_sites`` then serves the replaced deposits."""
        from layers.schema import LayerKind

        return [] if kind == LayerKind.SITES else self._store.layer_ids(kind)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def open_store(data_dir: str | None) -> Any:
    from layers.store import open_store as _open

    if data_dir:
        return _open(Path(data_dir))
    from app.settings import get_settings

    return _open(get_settings().data_dir)


# --- one case, in its own process ----------------------------------------------------------


def tree_cpu_s() -> float:
    """CPU seconds (user + system) of this process and its live descendants (dask
    workers): the work done, which a busy shared machine does not inflate as it does the
    wall time."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for proc in (me, *me.children(recursive=True)):
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def run_case(args: argparse.Namespace) -> dict[str, Any]:
    """Time one case; runs in the child process."""
    from layers.schema import LayerKind
    from layers.store import deposit_sites

    store = open_store(args.data_dir)
    real = deposit_sites(store)
    size = parse_size(args.size)
    deposits = real if size is None else synthetic_deposits(real, size, args.jitter_km, args.seed)
    out: dict[str, Any] = {"case": args.child, "deposits": len(deposits)}

    if args.child == "sjoin":
        import geopandas as gpd

        lands = store.kind_frame(LayerKind.FEDERAL_LANDS)[["id", "geometry"]]
        lands = lands.reset_index(drop=True)
        points = deposits[["id", "geometry"]]
        cpu = tree_cpu_s()
        started = time.perf_counter()
        pairs = gpd.sjoin(points, lands, how="inner", predicate="intersects")
        out["sjoin_s"] = time.perf_counter() - started
        out["sjoin_cpu_s"] = tree_cpu_s() - cpu
        out["pairs"] = len(pairs)
        return out

    from geo.engine import MemoryEngine
    from geo.scoring import RankParams

    target = store if size is None else SyntheticStore(store, deposits, f"jitter{args.seed}")
    started = time.perf_counter()
    if args.child == "memory":
        engine: Any = MemoryEngine(target, cache=False)
    else:
        from geo.dask_engine import DaskEngine

        engine = DaskEngine(
            target,
            cache=False,
            scheduler=args.scheduler,
            processes=True if args.child == "dask-processes" else None,
        )
        nthreads = engine.client.nthreads()
        out["cluster"] = f"{len(nthreads)} worker(s) x {max(nthreads.values())} thread(s)" + (
            f" at {args.scheduler}" if args.scheduler else ""
        )
    try:
        out["startup_s"] = time.perf_counter() - started
        cpu = tree_cpu_s()
        started = time.perf_counter()
        enriched = engine.deposits
        out["overlay_s"] = time.perf_counter() - started
        out["overlay_cpu_s"] = tree_cpu_s() - cpu
        out["federal"] = int((enriched["mineral_entry"] != "non_federal").sum())
        started = time.perf_counter()
        result = engine.rank(RankParams(top=100, max_cells=BENCH_MAX_CELLS))
        out["rank_s"] = time.perf_counter() - started
        out["cells"] = result.total_cells
        out["auc"] = result.validation.get("auc")
    finally:
        started = time.perf_counter()
        engine.close()
        out["close_s"] = time.perf_counter() - started
    return out


# --- the parent: subprocesses, memory, the table -----------------------------------------------


def _tree_rss(pid: int) -> int:
    """Summed RSS (bytes) of a process and all its descendants; 0 if it is gone."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


def spawn_case(case: str, size: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Run one case in a fresh process (own session); watch its time and memory."""
    result_path = workdir / f"{case}-{size}.json"
    log_path = workdir / f"{case}-{size}.log"
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        case,
        "--size",
        size,
        "--jitter-km",
        str(args.jitter_km),
        "--seed",
        str(args.seed),
        "--result",
        str(result_path),
    ]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    if args.scheduler and case == "dask":
        command += ["--scheduler", args.scheduler]
    try:
        import psutil  # noqa: F401

        sample = True
    except ImportError:
        sample = False
    limit = args.max_rss_gib * 1024**3
    started = time.perf_counter()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    peak_tree = 0
    killed = None
    while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if sample:
            peak_tree = max(peak_tree, _tree_rss(proc.pid))
        elapsed = time.perf_counter() - started
        if killed is None and elapsed > args.case_timeout:
            killed = f"killed after {elapsed:.0f} s (--case-timeout {args.case_timeout:g})"
        elif killed is None and sample and peak_tree > limit:
            killed = (
                f"killed at {peak_tree / 1024**3:.1f} GiB resident "
                f"(--max-rss-gib {args.max_rss_gib:g})"
            )
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)  # the case's own session: it and its workers
            break
        time.sleep(0.05)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    out: dict[str, Any] = {
        "case": case,
        "wall_s": wall,
        "peak_rss_mib": max(usage.ru_maxrss / 1024, peak_tree / 1024**2),
        "maxrss_mib": usage.ru_maxrss / 1024,
        "tree_mib": peak_tree / 1024**2,
    }
    if killed:
        out["error"] = killed
    elif proc.returncode != 0 or not result_path.exists():
        tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
        out["error"] = f"exit {proc.returncode}: " + " / ".join(t.strip() for t in tail)
    else:
        out.update(json.loads(result_path.read_text()))
    return out


def _fallback_machine() -> dict[str, object]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version()}


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    try:
        import _common

        _common.print_table(headers, rows)
        return
    except Exception:  # the shared helper is optional here
        pass
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) + " |")


def print_header(args: argparse.Namespace, sizes: Sequence[str]) -> None:
    import shapely

    from layers.schema import LayerKind
    from layers.store import deposit_sites

    try:
        import _common

        machine = _common.machine_info()
    except Exception:
        machine = _fallback_machine()
    store = open_store(args.data_dir)
    deposits = deposit_sites(store)
    lands = store.kind_frame(LayerKind.FEDERAL_LANDS)
    infra = store.kind_frame(LayerKind.INFRASTRUCTURE)
    print("# Overlay + ranking: memory and dask engines next to a geopandas sjoin")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print("machine:")
    for key, value in machine.items():
        print(f"  {key:<13} {value}")
    print(f"data: store {store.build_id}")
    print(f"  deposits (real)      {len(deposits):>9,}")
    print(
        f"  federal-land polygons {len(lands):>8,} "
        f"({int(shapely.get_num_coordinates(lands.geometry.values).sum()):,} vertices)"
    )
    print(f"  infrastructure lines {len(infra):>9,} (road, rail, power)")
    synthetic = [s for s in sizes if parse_size(s) is not None]
    if synthetic:
        print(
            f"  synthetic: real deposits jittered by {args.jitter_km:g} km "
            f"(uniform in a disc, seed {args.seed}), ids suffixed ~j<copy>: "
            + ", ".join(f"{size_label(parse_size(s))} = {parse_size(s):,}" for s in synthetic)
        )
    print(
        "ranking: all commodities, 5 km squares, kernel reach 15 km, top 100, "
        f"max_cells {BENCH_MAX_CELLS:,}; one cold run per case, each in a fresh process"
    )
    print()


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


COLUMNS = (
    "deposits",
    "case",
    "startup s",
    "overlay s",
    "overlay cpu s",
    "rank s",
    "overlay+rank s",
    "overlay / sjoin",
    "(overlay+rank) / sjoin",
    "peak RSS MiB",
    "cells",
)


def sjoin_row(label: str, base: dict[str, Any]) -> list[object]:
    sjoin_s = base.get("sjoin_s")
    return [
        label,
        "sjoin (baseline)",
        "-",
        _fmt(sjoin_s),
        _fmt(base.get("sjoin_cpu_s")),
        "-",
        "-",
        "1" if sjoin_s else "-",
        "-",
        f"{base['peak_rss_mib']:.0f}",
        "-",
    ]


def engine_row(
    label: str, engine: str, case: dict[str, Any], sjoin_s: float | None
) -> list[object]:
    overlay, rank = case.get("overlay_s"), case.get("rank_s")
    total = overlay + rank if overlay is not None and rank is not None else None
    return [
        label,
        engine,
        _fmt(case.get("startup_s")),
        _fmt(overlay),
        _fmt(case.get("overlay_cpu_s")),
        _fmt(rank),
        _fmt(total),
        _fmt(overlay / sjoin_s if overlay and sjoin_s else None, 1),
        _fmt(total / sjoin_s if total and sjoin_s else None, 1),
        f"{case['peak_rss_mib']:.0f}",
        f"{case['cells']:,}" if "cells" in case else "-",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma list: real, 1e5, 1e6, ...")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="comma list of " + ", ".join(ENGINES)
    )
    parser.add_argument("--jitter-km", type=float, default=DEFAULT_JITTER_KM)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--scheduler", default=None, help="tcp://host:port for the dask engine")
    parser.add_argument("--data-dir", default=None, help="default: FEDMIN_DATA_DIR / ./data")
    parser.add_argument("--case-timeout", type=float, default=600.0, help="seconds per case")
    parser.add_argument("--max-rss-gib", type=float, default=12.0, help="kill a case above this")
    parser.add_argument("--child", choices=("sjoin", *ENGINES), help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        result = run_case(args)
        result["self_maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        Path(args.result).write_text(json.dumps(result))
        return 0

    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for s in sizes:
        parse_size(s)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        parser.error(f"--engines: unknown {unknown}; known: {list(ENGINES)}")
    print_header(args, sizes)

    rows: list[list[object]] = []
    notes: list[str] = []
    load_start = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fedmin-bench-rank-") as tmp:
        for size in sizes:
            label = size_label(parse_size(size))
            base = spawn_case("sjoin", size, args, Path(tmp))
            rows.append(sjoin_row(label, base))
            if "error" in base:
                notes.append(f"{label} sjoin: FAILED, {base['error']}")
            for engine in engines:
                case = spawn_case(engine, size, args, Path(tmp))
                rows.append(engine_row(label, engine, case, base.get("sjoin_s")))
                if "cluster" in case:
                    notes.append(f"{engine}: {case['cluster']}")
                if "error" in case:
                    notes.append(f"{label} {engine}: FAILED, {case['error']}")
                print(f"  done {label} {engine} in {case['wall_s']:.0f} s", file=sys.stderr)
    _print_table(COLUMNS, rows)
    print()
    for note in dict.fromkeys(notes):
        print(f"note: {note}")
    load_end = os.getloadavg()
    print(
        "startup: reading the layers, building the trees (and starting the cluster); "
        "overlay: engine.deposits (enrich, cache off); rank: one ranking with validation; "
        "cpu: CPU seconds of the case's processes (dask workers included) during the overlay"
    )
    print(
        "peak RSS: the larger of the case process's ru_maxrss and its process tree's summed "
        "RSS (dask workers included) sampled every 50 ms"
    )
    print(
        f"load average (1 min) at start {load_start[0]:.2f}, at end {load_end[0]:.2f} "
        f"on {os.cpu_count()} cores (a shared machine inflates wall times, not cpu)"
    )
    print(f"total benchmark wall time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
