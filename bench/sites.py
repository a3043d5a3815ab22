"""Linking deposit records into sites (``layers.sites.build_sites``): time and peak RSS.

Sizes: the store's real records (8.5k with the mirror), then SYNTHETIC sets of 100k and
300k records made by repeating the real ones, each copy moved at random by up to
``--jitter-km`` (``bench/rank.py``'s ``synthetic_deposits``) and given its own dep_id, so
copies never link by dep_id or same-as, only by name where two layers' copies land near
each other. The synthetic sets are denser than the national data (the copies stay within
``--jitter-km`` of northern California), so they ask more of rule 3 than real data would.

Baseline, in the same run: candidate pairs alone by geopandas, a self ``sjoin`` with
``predicate="dwithin"`` at the link radius in EPSG:5070 (what one would write first).
Each case runs in its own process, so its peak RSS (``ru_maxrss``) is its own.

    .venv/bin/python bench/sites.py [--data-dir data] [--sizes real,100k,300k]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _common  # also puts the repository on sys.path
from rank import parse_size, synthetic_deposits

BENCH = Path(__file__).resolve()


def _records(data_dir: str, size: str, jitter_km: float) -> Any:
    import numpy as np

    from layers.schema import LayerKind
    from layers.store import open_store

    real = open_store(Path(data_dir)).kind_frame(LayerKind.DEPOSITS)
    n = parse_size(size)
    if n is None:
        return real
    frame = synthetic_deposits(real, n, jitter_km, seed=7)
    copy = np.arange(n) // len(real)
    has = frame["dep_id"].notna().to_numpy()
    dep = frame["dep_id"].to_numpy(dtype=object)
    dep[has] = [f"{d}{c:03d}" for d, c in zip(dep[has], copy[has], strict=True)]
    return frame.assign(dep_id=dep)


def child(args: argparse.Namespace) -> None:
    import geopandas as gpd

    from layers import catalog, sites
    from layers.readers import read_csv

    records = _records(args.data_dir, args.size, args.jitter_km)
    raw = Path(args.data_dir) / "raw"
    entry = catalog.layer("sites")
    same_as = sites.read_same_as(read_csv(str(raw / s.mirror_path), s) for s in entry.sources)
    out: dict[str, Any] = {"size": args.size, "records": len(records), "case": args.case}
    started = time.perf_counter()
    if args.case == "sites":
        frame, report = sites.build_sites(records, same_as)
        out |= {"sites": len(frame), "rules": report["rules"]}
        out["candidate_pairs"] = report["name_candidate_pairs"]
    else:
        points = gpd.GeoDataFrame(geometry=records.geometry.to_crs(5070).to_numpy(), crs=5070)
        pairs = gpd.sjoin(points, points, predicate="dwithin", distance=sites.LINK_DISTANCE_M)
        out["candidate_pairs"] = int((pairs.index < pairs["index_right"]).sum())
    out["seconds"] = round(time.perf_counter() - started, 2)
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--sizes", default="real,100k,300k")
    parser.add_argument("--jitter-km", type=float, default=25.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", default="real", help=argparse.SUPPRESS)
    parser.add_argument("--case", default="sites", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    machine = _common.machine_info()
    print("# Site linking: layers.sites.build_sites vs a geopandas dwithin self-join")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; machine shared with other work")
    for key, value in machine.items():
        print(f"  {key:<13} {value}")
    print(
        "| size | records | sites | candidate pairs | linking s | peak RSS MiB | "
        "sjoin candidates s | sjoin peak RSS MiB | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes.split(","):
        results = {}
        for case in ("sites", "sjoin"):
            command = [sys.executable, str(BENCH), "--child", "--size", size, "--case", case]
            command += ["--data-dir", args.data_dir, "--jitter-km", str(args.jitter_km)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            results[case] = json.loads(done.stdout.strip().splitlines()[-1])
        ours, base = results["sites"], results["sjoin"]
        label = size if size == "real" else f"{size} (synthetic)"
        print(
            f"| {label} | {ours['records']:,} | {ours['sites']:,} | {ours['candidate_pairs']:,} "
            f"| {ours['seconds']} | {ours['peak_rss_mib']} | {base['seconds']} "
            f"| {base['peak_rss_mib']} | {ours['seconds'] / max(base['seconds'], 1e-9):.1f}x |"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
