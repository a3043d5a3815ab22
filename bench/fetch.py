"""ArcGIS paging: fedmin's resumable pager vs GDAL's ESRIJSON driver, on the emulator.

Serves the mirror's 2,000 closed BLM claims (real MLRS records) from the test emulator on
127.0.0.1 with maxRecordCount 500 (4 pages), then measures, in the same run:

* wall time of a full paged read: GDAL (``pyogrio.read_dataframe("ESRIJSON:<query>")``, in
  a subprocess because GDAL holds the GIL the emulator thread needs) vs fedmin
  (``layers.sources.arcgis.fetch_pages`` + reading the merged file with pyogrio);
* requests needed to finish after a failure at the last page: GDAL has no partial state, so
  it starts again; fedmin resumes from the stored pages.

Usage: ``.venv/bin/python bench/fetch.py [--repeat 3]``. The machine is shared: quote the
ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import pyogrio

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from layers.catalog import layer  # noqa: E402
from layers.errors import FetchError  # noqa: E402
from layers.sources import arcgis  # noqa: E402
from layers.sources.http import Policy, PoliteClient  # noqa: E402
from tests.emulators import ArcgisEmulator, EmulatedLayer, Fault, running  # noqa: E402

SERVICE = "Mining_Claims/MiningClaims/MapServer"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mirror", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    source = layer("blm_claims").sources[1]
    frame = gpd.read_file(args.mirror / source.mirror_path).drop(
        columns=["status", "hasOverlap", "totalClaimsAtLocation"]
    )
    emulator = ArcgisEmulator({SERVICE: {2: EmulatedLayer("Closed", frame)}})
    print(f"machine: {platform.machine()} {platform.python_version()}, shared/noisy")
    print(f"data: {len(frame)} closed MLRS claims (northern California), page size 500")
    with running(emulator):
        url = emulator.url(SERVICE, 2)
        gdal_url = f"ESRIJSON:{url}/query?where=1%3D1&outFields=*&f=json&orderByFields=OBJECTID+ASC"
        code = f"import pyogrio; print(len(pyogrio.read_dataframe({gdal_url!r})))"
        gdal, ours, startup = [], [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import pyogrio"], check=True)
            startup.append(time.perf_counter() - started)
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            gdal.append(time.perf_counter() - started)
            assert out.stdout.strip() == str(len(frame)), out.stderr
            with tempfile.TemporaryDirectory() as tmp, PoliteClient(Policy()) as client:
                started = time.perf_counter()
                paged = arcgis.fetch_pages(
                    client, [arcgis.Query(url)], Path(tmp), "bench", progress=False
                )
                merged = Path(tmp) / "merged.json"
                merged.write_bytes(paged.payload)
                assert len(pyogrio.read_dataframe(merged)) == len(frame)
                ours.append(time.perf_counter() - started)
        s0 = statistics.median(startup)
        g, o = statistics.median(gdal) - s0, statistics.median(ours)
        print(
            f"full read, median of {args.repeat}: GDAL {g:.2f} s (after subtracting a "
            f"{s0:.2f} s Python + pyogrio start-up), fedmin {o:.2f} s (fedmin/GDAL = {o / g:.2f})"
        )

        # Failure at the last page, then a rerun.
        with tempfile.TemporaryDirectory() as tmp, PoliteClient(Policy(retries=0)) as client:
            emulator.faults.append(Fault("page", "500", offset=1500, times=1))
            with contextlib.suppress(FetchError):
                arcgis.fetch_pages(client, [arcgis.Query(url)], Path(tmp), "bench", progress=False)
            before, pages_before = len(emulator.requests), len(emulator.pages())
            arcgis.fetch_pages(client, [arcgis.Query(url)], Path(tmp), "bench", progress=False)
            resumed = emulator.pages()[pages_before:]
            rerun_ours = len(emulator.requests) - before
        before = len(emulator.requests)
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        rerun_gdal = len(emulator.requests) - before
        print(
            f"after a failure at page 4 of 4, requests to finish: fedmin {rerun_ours} "
            f"(metadata, count, pages {resumed}), GDAL {rerun_gdal} (every page again); "
            f"ratio {rerun_ours / rerun_gdal:.2f}"
        )


if __name__ == "__main__":
    main()
