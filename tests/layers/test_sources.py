"""Fetching from official sources, against local emulators of the services (no internet).

The ArcGIS emulator serves REAL mirror layers (the northern California MLRS claims, the BLM
wilderness study areas) with a page size of 500, so every fetch pages; the file emulator
serves real mirror files with ETag and Range. Faults: a page that stalls past the timeout,
a 500 then success, a 429 with Retry-After, an ArcGIS error object, a page whose schema
changed, a count that disagrees with the pages, a connection cut mid-file, a truncated zip.
Each must give a retry, a resume or a clear error, never a half-written layer.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from typer.testing import CliRunner

from app import settings as settings_module
from app.cli import cli
from layers import provision, store
from layers.catalog import BLM_MLRS_CLAIMS, Layer, Source, layer
from layers.errors import FetchError, InvalidParameterError
from layers.readers import READERS
from layers.schema import LayerKind
from layers.sources import status as sources_status
from layers.sources.areas import Area
from layers.sources.http import Policy
from layers.sources.minmod import blob_sha1
from tests.emulators import ArcgisEmulator, EmulatedLayer, Fault, FileEmulator, running

CLAIMS_SERVICE = "Mining_Claims/MiningClaims/MapServer"
NLCS_SERVICE = "lands/BLM_Natl_NLCS_Generalized/FeatureServer"
#: Columns the gold-map extract added to the MLRS records; the official service lacks them.
NOT_OFFICIAL = ["status", "hasOverlap", "totalClaimsAtLocation"]
FAST = Policy(timeout=5.0, retries=3, backoff=0.05, interval=0.0)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def claims_frames(mirror_dir: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    active, closed = (
        gpd.read_file(mirror_dir / s.mirror_path).drop(columns=NOT_OFFICIAL)
        for s in layer("blm_claims").sources
    )
    return active, closed


@pytest.fixture
def arcgis_server(
    claims_frames: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame], mirror_dir: Path
) -> Iterator[ArcgisEmulator]:
    active, closed = claims_frames
    wsa = gpd.read_file(mirror_dir / layer("blm_wsa").primary.mirror_path)
    emulator = ArcgisEmulator(
        {
            CLAIMS_SERVICE: {
                1: EmulatedLayer("Mining Claims - Not Closed", active),
                2: EmulatedLayer("Mining Claims - Closed", closed),
            },
            NLCS_SERVICE: {2: EmulatedLayer("Wilderness Study Areas", wsa)},
        }
    )
    with running(emulator):
        yield emulator


def _claims_fetch(raw: Path, server: ArcgisEmulator, **kwargs: object) -> provision.FetchReport:
    return provision.fetch(
        [layer("blm_claims")],
        raw,
        None,
        progress=False,
        area=Area.parse("CA"),
        overrides={"blm_claims": server.url(CLAIMS_SERVICE)},
        policy=kwargs.pop("policy", FAST),
        **kwargs,
    )


def _files(root: Path) -> dict[str, str]:
    """sha256 of every file below ``root`` (hidden partial files included)."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): _sha(p.read_bytes()) for p in root.rglob("*") if p.is_file()
    }


# --- the must-show: paging every claim through the CLI -------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("FEDMIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FEDMIN_DATA_MIRROR", raising=False)
    monkeypatch.delenv("FEDMIN_SOURCE_OVERRIDES", raising=False)
    monkeypatch.setenv("FEDMIN_FETCH_BACKOFF_S", "0.05")
    monkeypatch.setenv("FEDMIN_FETCH_REQUEST_INTERVAL_S", "0")
    settings_module.get_settings.cache_clear()
    yield tmp_path / "data"
    settings_module.get_settings.cache_clear()


def test_cli_fetch_states_ca_pages_through_every_claim(
    arcgis_server: ArcgisEmulator,
    claims_frames: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame],
    cli_env: Path,
    mirror_dir: Path,
) -> None:
    active, closed = claims_frames
    base = arcgis_server.url(CLAIMS_SERVICE)
    args = ["data", "fetch", "--states", "CA", "--layers", "blm_claims", "--source"]
    result = CliRunner().invoke(cli, [*args, f"blm_claims={base}", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "823 features in 2 pages" in result.output
    assert "2000 features in 4 pages" in result.output

    # Every page of both layers was requested once: 823 = 500 + 323, 2000 = 4 x 500.
    assert arcgis_server.pages(1) == [0, 500]
    assert arcgis_server.pages(2) == [0, 500, 1000, 1500]
    raw = cli_env / "raw"
    record = json.loads((raw / provision.FETCH_RECORD).read_text())
    closed_record = record[layer("blm_claims").sources[1].mirror_path]
    assert closed_record["origin"] == "arcgis"
    assert closed_record["area"] == {"states": ["CA"]}
    assert closed_record["features"] == 2000 and closed_record["pages"] == 4
    assert (
        closed_record["url"] == f"{base}/2"
        and closed_record["catalog_url"] == f"{BLM_MLRS_CLAIMS}/2"
    )
    [query] = closed_record["query"]
    assert query["label"] == "CA" and query["geometryType"] == "esriGeometryEnvelope"
    assert (raw / closed_record["path"]).is_file()
    assert not (raw / provision.PARTIAL_DIR).exists()  # pages removed once merged

    built = store.build(raw, cli_env, layers=[layer("blm_claims")], progress=False)
    rows = built.manifest["layers"]["blm_claims"]["rows"]
    unique = len(set(active["CSE_NR"]) | set(closed["CSE_NR"]))
    assert rows == unique > 500
    sources = built.manifest["layers"]["blm_claims"]["sources"]
    assert [s["fetched"]["area"] for s in sources] == [{"states": ["CA"]}] * 2
    assert sources[1]["fetched"]["sha256"] == sources[1]["sha256"] == closed_record["sha256"]

    # The same build and answers as from the mirror: counts, ids, statuses.
    mirror_raw = cli_env.parent / "mirror_raw"
    provision.fetch([layer("blm_claims")], mirror_raw, mirror_dir, progress=False, download=False)
    mirrored = store.build(
        mirror_raw, cli_env.parent / "mirror_data", layers=[layer("blm_claims")], progress=False
    )
    official = store.open_store(cli_env).frame("blm_claims").set_index("id").sort_index()
    mirror = (
        store.open_store(cli_env.parent / "mirror_data")
        .frame("blm_claims")
        .set_index("id")
        .sort_index()
    )
    assert mirrored.manifest["layers"]["blm_claims"]["rows"] == rows
    assert official.index.tolist() == mirror.index.tolist()
    assert (official["status"] == mirror["status"]).all()
    assert (official["claim_type"] == mirror["claim_type"]).all()
    assert official.loc["CA105243480", "name"] == "Schroeder # 20"
    listed = CliRunner().invoke(cli, ["data", "list"])
    assert listed.exit_code == 0, listed.output
    assert f"arcgis {base}/2 for CA, retrieved" in listed.output
    assert f"{rows:>6} rows" in listed.output


def test_gdal_pages_the_emulator_to_the_same_count(arcgis_server: ArcgisEmulator) -> None:
    """GDAL's own ESRIJSON paging (a separate process: GDAL holds the GIL) agrees."""
    url = (
        f"ESRIJSON:{arcgis_server.url(CLAIMS_SERVICE, 2)}/query?where=1%3D1&outFields=*"
        "&f=json&orderByFields=OBJECTID+ASC"
    )
    code = f"import pyogrio; print(len(pyogrio.read_dataframe({url!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "2000", out.stderr
    # GDAL's first request carries no resultOffset; it then follows exceededTransferLimit.
    assert arcgis_server.pages(2) == [500, 1000, 1500]


def test_land_layer_from_the_emulated_service_builds_like_the_mirror(
    arcgis_server: ArcgisEmulator, mirror_dir: Path, tmp_path: Path
) -> None:
    wsa = layer("blm_wsa")
    report = provision.fetch(
        [wsa],
        tmp_path / "raw",
        None,
        progress=False,
        overrides={"blm_wsa": arcgis_server.url(NLCS_SERVICE)},
        policy=FAST,
    )
    [item] = report.fetched
    assert item.origin == "arcgis" and item.detail == "1091 features in 3 pages"
    official = store.build(tmp_path / "raw", tmp_path / "data", layers=[wsa], progress=False)
    provision.fetch([wsa], tmp_path / "mraw", mirror_dir, progress=False, download=False)
    mirror = store.build(tmp_path / "mraw", tmp_path / "mdata", layers=[wsa], progress=False)
    a = store.open_store(tmp_path / "data").frame("blm_wsa").set_index("id").sort_index()
    b = store.open_store(tmp_path / "mdata").frame("blm_wsa").set_index("id").sort_index()
    assert official.manifest["layers"]["blm_wsa"]["rows"] == 1091
    # Fetched whole (no area): the catalog's nationwide, not-complete coverage stands.
    assert official.manifest["layers"]["blm_wsa"]["land_coverage"]["states"] == []
    assert mirror.manifest["layers"]["blm_wsa"]["rows"] == 1091
    assert a.index.tolist() == b.index.tolist()
    assert set(a["mineral_entry"]) == {"restricted"} and set(a["agency"]) == {"BLM"}
    # The same polygons (ESRI rings decoded by GDAL): areas agree to a millionth.
    ratio = a.to_crs(5070).area / b.to_crs(5070).area
    assert ratio.between(0.999999, 1.000001).all()


# --- faults ----------------------------------------------------------------------------


def test_500_then_success_and_arcgis_error_are_retried(
    arcgis_server: ArcgisEmulator, tmp_path: Path
) -> None:
    arcgis_server.faults += [
        Fault("page", "500", offset=500, times=1),
        Fault("count", "arcgis_error", times=1),
    ]
    report = _claims_fetch(tmp_path / "raw", arcgis_server)
    assert [f.detail for f in report.fetched] == [
        "823 features in 2 pages",
        "2000 features in 4 pages",
    ]
    assert arcgis_server.pages(1) == [0, 500, 500]  # the 500 once, then the page


def test_429_waits_for_retry_after(arcgis_server: ArcgisEmulator, tmp_path: Path) -> None:
    arcgis_server.faults.append(Fault("page", "429", offset=0, times=1, seconds=0.6))
    started = time.perf_counter()
    _claims_fetch(tmp_path / "raw", arcgis_server)
    assert time.perf_counter() - started >= 0.6  # Retry-After, not the 0.05 s back-off
    assert arcgis_server.pages(1)[:2] == [0, 0]


def test_stalled_page_times_out_and_is_retried(
    arcgis_server: ArcgisEmulator, tmp_path: Path
) -> None:
    arcgis_server.faults.append(Fault("page", "stall", offset=1000, times=1, seconds=6.0))
    policy = Policy(timeout=3.0, retries=2, backoff=0.05)
    report = _claims_fetch(tmp_path / "raw", arcgis_server, policy=policy)
    assert report.fetched[1].detail == "2000 features in 4 pages"
    assert arcgis_server.pages(2) == [0, 500, 1000, 1000, 1500]


def test_failed_page_names_itself_keeps_old_data_and_rerun_resumes(
    arcgis_server: ArcgisEmulator, tmp_path: Path, mirror_dir: Path
) -> None:
    raw = tmp_path / "raw"
    claims = layer("blm_claims")
    # An earlier good state: the mirror copy, recorded.
    provision.fetch([claims], raw, mirror_dir, progress=False, download=False)
    before = _files(raw)
    mirror_paths = [provision.resolve_source_path(raw, s) for s in claims.sources]
    arcgis_server.faults.append(Fault("page", "500", offset=1000, times=None))

    with pytest.raises(FetchError) as excinfo:
        _claims_fetch(raw, arcgis_server)
    message = str(excinfo.value)
    assert "layer blm_claims" in message and "page 2 (resultOffset 1000)" in message
    assert "HTTP 500" in message and "failed after 4 attempts" in message
    after = _files(raw)
    # Nothing half-written: the mirror files are as they were and the build still reads
    # them for BOTH sources (the finished not-closed fetch waits as "pending"); no closed
    # file exists; the closed layer's first two pages are kept to resume.
    assert {k: after[k] for k in before if k != provision.FETCH_RECORD} == {
        k: v for k, v in before.items() if k != provision.FETCH_RECORD
    }
    assert [provision.resolve_source_path(raw, s) for s in claims.sources] == mirror_paths
    record = json.loads((raw / provision.FETCH_RECORD).read_text())
    assert record[claims.sources[0].mirror_path]["pending"]["features"] == 823
    assert not any("mining_claims_closed.CA" in k for k in after)
    stored = sorted(k.rsplit("/", 1)[1] for k in after if k.startswith(".partial/") and "-p" in k)
    assert stored == ["q00-p00000.json", "q00-p00001.json"]

    arcgis_server.faults.clear()
    served1, served2 = len(arcgis_server.pages(1)), len(arcgis_server.pages(2))
    _claims_fetch(raw, arcgis_server)
    assert arcgis_server.pages(1)[served1:] == []  # the pending fetch was adopted
    assert arcgis_server.pages(2)[served2:] == [1000, 1500]  # resumed at the failed page
    clean = tmp_path / "clean"
    _claims_fetch(clean, arcgis_server)
    name = "downloads/blm_claims/blm_mlrs_mining_claims_closed.CA.json"
    assert _files(raw)[name] == _files(clean)[name]
    assert provision.resolve_source_path(raw, claims.sources[1]).endswith("closed.CA.json")


def test_schema_change_mid_fetch_is_a_clear_error(
    arcgis_server: ArcgisEmulator, tmp_path: Path
) -> None:
    arcgis_server.faults.append(Fault("page", "schema", offset=500, times=1))
    with pytest.raises(FetchError, match=r"page 1 has fields .*NEW_FIELD.*schema changed"):
        _claims_fetch(tmp_path / "raw", arcgis_server)
    assert not (tmp_path / "raw" / "downloads").exists()
    assert not list((tmp_path / "raw" / provision.PARTIAL_DIR / "arcgis").rglob("*-p*.json"))


def test_count_that_does_not_match_the_pages_is_a_clear_error(
    arcgis_server: ArcgisEmulator, tmp_path: Path
) -> None:
    arcgis_server.faults.append(Fault("count", "count_off", times=1))
    with pytest.raises(FetchError, match=r"counted 824 features but its pages held 823"):
        _claims_fetch(tmp_path / "raw", arcgis_server)
    assert not (tmp_path / "raw" / "downloads").exists()


def test_object_id_ranges_when_the_layer_cannot_page(
    claims_frames: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame], tmp_path: Path
) -> None:
    active, _ = claims_frames
    emulator = ArcgisEmulator(
        {CLAIMS_SERVICE: {1: EmulatedLayer("old server", active, supports_pagination=False)}}
    )
    entry = Layer(**{**layer("blm_claims").__dict__, "sources": layer("blm_claims").sources[:1]})
    with running(emulator):
        report = provision.fetch(
            [entry],
            tmp_path / "raw",
            None,
            progress=False,
            area=Area.parse("CA"),
            overrides={"blm_claims": emulator.url(CLAIMS_SERVICE)},
            policy=FAST,
        )
    assert report.fetched[0].detail == "823 features in 2 pages"
    wheres = [p["where"] for path, p in emulator.requests if "OBJECTID >=" in p.get("where", "")]
    assert wheres == [
        "(1=1) AND OBJECTID >= 1 AND OBJECTID <= 500",
        "(1=1) AND OBJECTID >= 501 AND OBJECTID <= 823",
    ]


# --- a killed fetch resumes to the same checksums -----------------------------------------


def test_sigkill_mid_fetch_resumes_to_the_same_checksums(
    arcgis_server: ArcgisEmulator, tmp_path: Path
) -> None:
    # Every closed-claims page takes 0.4 s, so the kill lands between pages 1 and 3.
    arcgis_server.faults.append(Fault("page", "delay", times=None, seconds=0.4))
    env = {
        **os.environ,
        "FEDMIN_DATA_DIR": str(tmp_path / "data"),
        "FEDMIN_FETCH_REQUEST_INTERVAL_S": "0",
        "FEDMIN_SOURCE_OVERRIDES": f"blm_claims={arcgis_server.url(CLAIMS_SERVICE)}",
    }
    env.pop("FEDMIN_DATA_MIRROR", None)
    command = [str(Path(sys.executable).parent / "fedmin"), "data", "fetch", "--states", "CA"]
    command += ["--quiet"]
    command += ["--layers", "blm_claims"]
    pages = tmp_path / "data" / "raw" / provision.PARTIAL_DIR / "arcgis" / "blm_claims"
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60

    def closed_pages() -> int:
        """Pages of the closed-claims query (layer 2) stored so far."""
        count = 0
        for page in pages.rglob("q00-p*.json"):
            with contextlib.suppress(FileNotFoundError):  # not-closed pages, removed once merged
                count += "/2/query" in (page.parent / "plan.json").read_text()
        return count

    while time.monotonic() < deadline and closed_pages() < 2:
        time.sleep(0.05)  # layer 1 merged, 2 pages of layer 2 stored, page 3 under way
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    raw = tmp_path / "data" / "raw"
    assert not (raw / "downloads/blm_claims/blm_mlrs_mining_claims_closed.CA.json").exists()
    served = len(arcgis_server.pages(2))

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    resumed = arcgis_server.pages(2)[served:]
    assert resumed[0] == 1000  # pages 0 and 500 of the closed claims were not fetched again

    arcgis_server.faults.clear()
    clean = tmp_path / "clean"
    _claims_fetch(clean, arcgis_server)
    got = json.loads((raw / provision.FETCH_RECORD).read_text())
    want = json.loads((clean / provision.FETCH_RECORD).read_text())
    assert {k: v["sha256"] for k, v in got.items()} == {k: v["sha256"] for k, v in want.items()}
    assert not list((raw / provision.PARTIAL_DIR).rglob("*.json"))


# --- whole files over HTTP: Range, ETag, truncated zips -----------------------------------


def _zip(member: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, data)
    return buffer.getvalue()


def _rail_layer(layer_id: str, source: Source, *, optional: bool = False) -> Layer:
    """A synthetic test layer: the real Natural Earth railroads, served as the test needs."""
    return Layer(
        id=layer_id,
        title="synthetic test layer: real railroads served by the file emulator",
        kind=LayerKind.INFRASTRUCTURE,
        sources=(source,),
        reader="vector",
        normalizer="infrastructure",
        publisher="synthetic test fixture",
        license="none",
        caveats="synthetic",
        options={"kind": "rail"},
        optional=optional,
    )


def _file_layer(url: str, member: str) -> Layer:
    source = Source("synthetic/railroads.geojson", url, archive_member=member)
    return _rail_layer("synthetic_national_file", source)


@pytest.fixture
def rail_zip(mirror_dir: Path) -> bytes:
    data = (mirror_dir / layer("railroads").primary.mirror_path).read_bytes()
    return _zip("railroads.geojson", data)


def test_cut_download_resumes_with_range_and_records_etag(rail_zip: bytes, tmp_path: Path) -> None:
    server = FileEmulator({"/geo/railroads.zip": rail_zip})
    server.faults.append(Fault("file", "cut", times=1, seconds=len(rail_zip) // 3))
    with running(server):
        url = server.url("/geo/railroads.zip")
        report = provision.fetch(
            [_file_layer(url, "railroads.geojson")],
            tmp_path / "raw",
            None,
            progress=False,
            policy=FAST,
        )
        etag = server.etag("/geo/railroads.zip")
    [item] = report.fetched
    assert item.sha256 == _sha(rail_zip) and item.bytes == len(rail_zip)
    ranges = [h.get("range") for m, p, h in server.requests]
    assert ranges == [None, f"bytes={len(rail_zip) // 3}-"]
    record = json.loads((tmp_path / "raw" / provision.FETCH_RECORD).read_text())
    entry = record["synthetic/railroads.geojson"]
    assert entry["etag"] == etag and entry["last_modified"].endswith("GMT")
    path = provision.resolve_source_path(
        tmp_path / "raw", _file_layer(url, "railroads.geojson").primary
    )
    assert pyogrio.read_info(path)["features"] == 1127  # Natural Earth railroads


def test_killed_download_resumes_on_the_next_run(rail_zip: bytes, tmp_path: Path) -> None:
    server = FileEmulator({"/geo/railroads.zip": rail_zip})
    # Every attempt of the first run drops after 1,000 bytes: the run fails, keeps the
    # 4,000 bytes it got (1 try + 3 retries, each resumed), and the next run asks for the rest.
    server.faults.append(Fault("file", "cut", times=4, seconds=1000))
    raw = tmp_path / "raw"
    with running(server):
        entry = _file_layer(server.url("/geo/railroads.zip"), "railroads.geojson")
        with pytest.raises(FetchError, match=r"4000 bytes are kept .* resumes"):
            provision.fetch([entry], raw, None, progress=False, policy=FAST)
        assert not (raw / "downloads").exists()
        report = provision.fetch([entry], raw, None, progress=False, policy=FAST)
    assert report.fetched[0].sha256 == _sha(rail_zip)
    assert "resumed at byte 4000" in report.fetched[0].detail
    assert [h.get("range") for _, _, h in server.requests] == [
        None,
        "bytes=1000-",
        "bytes=2000-",
        "bytes=3000-",
        "bytes=4000-",
    ]
    assert not (raw / provision.PARTIAL_DIR).exists()


def test_truncated_zip_is_an_error_and_keeps_the_previous_download(
    rail_zip: bytes, tmp_path: Path
) -> None:
    server = FileEmulator({"/geo/railroads.zip": rail_zip})
    raw = tmp_path / "raw"
    with running(server):
        entry = _file_layer(server.url("/geo/railroads.zip"), "railroads.geojson")
        provision.fetch([entry], raw, None, progress=False, policy=FAST)
        before = _files(raw)
        server.files["/geo/railroads.zip"] = rail_zip + b"changed"  # a new publication...
        server.faults.append(Fault("file", "truncate", times=None))  # ...served truncated
        with pytest.raises(FetchError, match=r"not a zip archive or is truncated"):
            provision.fetch([entry], raw, None, progress=False, policy=FAST, refresh=True)
    assert _files(raw) == before  # the previous download and record intact, no partial left


# --- status ----------------------------------------------------------------------------


def test_status_says_unchanged_changed_or_could_not_check(
    arcgis_server: ArcgisEmulator, tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    _claims_fetch(raw, arcgis_server)
    offline = sources_status.status([layer("blm_claims")], raw, online=False)
    assert [r.state for r in offline] == ["could not check"] * 2
    assert "offline" in offline[0].detail
    fetched = len(arcgis_server.pages())
    rows = sources_status.status([layer("blm_claims")], raw, online=True, policy=FAST)
    assert [r.state for r in rows] == ["unchanged", "unchanged"]
    assert "CA: 823 features" in rows[0].detail and "states CA" in rows[0].source
    assert len(arcgis_server.pages()) == fetched  # counted, nothing downloaded
    arcgis_server.services[CLAIMS_SERVICE][2].last_edit_date += 1
    rows = sources_status.status([layer("blm_claims")], raw, online=True, policy=FAST)
    assert [r.state for r in rows] == ["unchanged", "CHANGED"]
    assert "lastEditDate" in rows[1].detail
    unfetched = sources_status.status([layer("hifld_transmission_lines")], raw, online=True)
    assert unfetched[0].state == "not fetched"


def test_cli_status_offline_and_bad_area_input(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEDMIN_OFFLINE", "true")
    settings_module.get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["data", "status", "--layers", "blm_claims"])
    assert result.exit_code == 0 and "not fetched" in result.output
    bad = CliRunner().invoke(cli, ["data", "fetch", "--states", "NV,XX"])
    assert bad.exit_code == 2 and "unknown state code(s) ['XX']" in bad.output
    bad = CliRunner().invoke(cli, ["data", "fetch", "--bbox", "1,2,3"])
    assert bad.exit_code == 2 and "minx,miny,maxx,maxy" in bad.output
    bad = CliRunner().invoke(cli, ["data", "fetch", "--source", "blm_claims"])
    assert bad.exit_code == 2 and "LAYER=URL" in bad.output


def test_area_parts_split_alaska_at_the_antimeridian() -> None:
    parts = Area.parse("AK").parts()
    assert [label for label, _ in parts] == ["AK#0", "AK#1"]
    assert parts[0][1][0] < -179 and parts[1][1][2] > 179
    assert Area.parse(bbox="170,50,-170,60").parts() == [
        ("bbox#0", (170.0, 50.0, 180.0, 60.0)),
        ("bbox#1", (-180.0, 50.0, -170.0, 60.0)),
    ]
    with pytest.raises(InvalidParameterError, match="not both"):
        Area.parse("NV", "-120,35,-114,42")


# --- MinMod repository folder at a pinned commit --------------------------------------------


def test_minmod_folder_is_fetched_and_verified_against_git_blobs(
    mirror_dir: Path, tmp_path: Path
) -> None:
    """The catalog's MinMod folder source (usgs_porcu), not in the mirror: listed from the
    pinned commit's git tree, every bucket downloaded and checked against its blob id, and
    read by the MinMod reader exactly as the mirror copy is."""
    entry = layer("usgs_porcu")
    source = entry.primary
    folder = "data/mineral-sites/umn/mrdata_porcu"
    assert source.protocol == "minmod" and source.url.endswith(f"/tree/050de430/{folder}")
    local = mirror_dir / source.mirror_path
    # Upstream blobs: the mirror keeps large ones gzip-compressed (gunzip gives the blob).
    blobs = {
        p.name.removesuffix(".gz"): (
            gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
        )
        for p in local.glob("b*.json*")
    }
    owner, repo, commit = "DARPA-CRITICALMAAS", "ta2-minmod-data", "050de430"
    full = commit + "0" * 32  # the emulator resolves the abbreviated commit to this
    server = FileEmulator({f"/{owner}/{repo}/{full}/{folder}/{n}": b for n, b in blobs.items()})
    server.files[f"/repos/{owner}/{repo}/commits/{commit}"] = json.dumps({"sha": full}).encode()

    def sha1(data: bytes) -> str:
        return hashlib.sha1(
            f"blob {len(data)}\0".encode() + data, usedforsecurity=False
        ).hexdigest()

    tree = {
        "sha": full,
        "truncated": False,
        "tree": [
            {"path": f"{folder}/{n}", "type": "blob", "sha": sha1(b), "size": len(b)}
            for n, b in blobs.items()
        ],
    }
    server.files[f"/repos/{owner}/{repo}/git/trees/{full}"] = json.dumps(tree).encode()
    raw = tmp_path / "raw"
    with running(server):
        override = {entry.id: server.url("")}
        report = provision.fetch(
            [entry], raw, None, progress=False, policy=FAST, overrides=override
        )
        [item] = report.fetched
        assert item.origin == "minmod" and f"{len(blobs)} files verified" in item.detail
        fetched = Path(provision.resolve_source_path(raw, source))
        assert sorted(p.name for p in fetched.iterdir()) == sorted(blobs)
        assert all(blob_sha1(fetched / n) == sha1(b) for n, b in blobs.items())
        reader = READERS[entry.reader]
        assert len(reader(str(fetched), source)) == len(reader(str(local), source)) > 0

        name = sorted(blobs)[0]
        server.files[f"/{owner}/{repo}/{full}/{folder}/{name}"] = b"[]"
        with pytest.raises(FetchError, match=rf"{name} does not match git blob"):
            provision.fetch(
                [entry], tmp_path / "raw2", None, progress=False, policy=FAST, overrides=override
            )
    assert not (tmp_path / "raw2" / "downloads").exists()


def test_per_state_files_are_united_and_cover_the_fetched_states(
    mirror_dir: Path, tmp_path: Path
) -> None:
    """A synthetic per-state publication: the real Natural Earth railroads, served zipped
    under two state file names (NV 32, AZ 04), fetched like the TIGER state files."""
    data = (mirror_dir / layer("railroads").primary.mirror_path).read_bytes()
    server = FileEmulator(
        {
            f"/tiger/tl_{fips}_rail.zip": _zip(f"tl_{fips}_rail.geojson", data)
            for fips in ("32", "04")
        }
    )
    with running(server):
        source = Source(
            "synthetic/state_rail.vrt",
            server.url("/tiger/tl_{fips}_rail.zip"),
            archive_member="tl_{fips}_rail.geojson",
        )
        entry = _rail_layer("synthetic_state_files", source, optional=True)
        raw = tmp_path / "raw"
        report = provision.fetch(
            [entry], raw, None, progress=False, policy=FAST, area=Area.parse("NV,AZ")
        )
    assert report.fetched[0].detail == "2 state files"
    record = json.loads((raw / provision.FETCH_RECORD).read_text())["synthetic/state_rail.vrt"]
    assert [f["state"] for f in record["files"]] == ["NV", "AZ"]
    assert all(f["etag"] for f in record["files"])
    vrt = provision.resolve_source_path(raw, entry.primary)
    assert vrt.endswith(".NV-AZ.vrt")
    assert pyogrio.read_info(vrt)["features"] == 2 * 1127
    built = store.build(raw, tmp_path / "data", layers=[entry], progress=False)
    assert built.manifest["layers"][entry.id]["coverage_states"] == ["AZ", "NV"]
    # Without --states a per-state source cannot be fetched: an optional gap, said so.
    gap = provision.fetch([entry], tmp_path / "raw2", None, progress=False, policy=FAST)
    assert "give --states" in gap.absent[0].reason


def test_national_service_is_never_fetched_whole_as_a_side_effect(tmp_path: Path) -> None:
    """HIFLD has no mirror copy: a plain fetch records it absent, with why, before any
    request (a request would fail here with a connection error instead)."""
    hifld = layer("hifld_transmission_lines")
    report = provision.fetch([hifld], tmp_path / "raw", None, progress=False, policy=FAST)
    [gap] = report.absent
    assert "national service: give --states or --bbox" in gap.reason
    assert hifld.primary.url in gap.reason
