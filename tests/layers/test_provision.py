"""Tests of ``fedmin data fetch`` (layers.provision).

Mirror copies use the real data mirror (FEDMIN_DATA_MIRROR, default ``shared/data`` beside
the checkout). Downloads use a local HTTP server on 127.0.0.1 and synthetic layers whose ids
start with ``synthetic``: no test touches the internet.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import socket
import threading
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from layers import provision
from layers.catalog import Layer, Source, layer
from layers.errors import ChecksumMismatchError, FetchError, SourceMissingError
from layers.provision import FETCH_RECORD, fetch, resolve_source_path
from layers.schema import LayerKind

# --- fixtures ----------------------------------------------------------------------------


def _real_mirror_dir() -> Path:
    env = os.environ.get("FEDMIN_DATA_MIRROR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture
def real_mirror() -> Path:
    mirror = _real_mirror_dir()
    needed = [layer("nps_units").primary.mirror_path, layer("co_ut_wilderness").primary.mirror_path]
    if not all((mirror / mp).is_file() for mp in needed):
        pytest.skip(f"real data mirror not found at {mirror} (set FEDMIN_DATA_MIRROR)")
    return mirror


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files_under(root: Path) -> list[str]:
    """Every file below ``root`` (hidden .part files included), relative, sorted; not the
    fetch lock, an empty file kept on purpose (``flock`` needs a file to lock)."""
    if not root.exists():
        return []
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name != provision.FETCH_LOCK
    )


def _record(raw: Path) -> dict[str, dict[str, object]]:
    return json.loads((raw / FETCH_RECORD).read_text())


Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class LocalServer:
    """A tiny HTTP server: ``routes`` maps a request path to a handler function."""

    port: int
    routes: dict[str, Handler] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes) -> str:
        def handler(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)

        self.routes[path] = handler
        return self.url(path)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    state: LocalServer

    class RequestHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits[self.path] += 1
            route = state.routes.get(self.path)
            if route is None:
                self.send_error(404, "Not Found")
                return
            route(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
    httpd.daemon_threads = True
    state = LocalServer(port=httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()


def synthetic_layer(layer_id: str, *sources: Source, optional: bool = False) -> Layer:
    return Layer(
        id=layer_id,
        title=f"synthetic test layer {layer_id}",
        kind=LayerKind.INFRASTRUCTURE,
        sources=sources,
        reader="vector",
        normalizer="infrastructure",
        publisher="synthetic test fixture",
        license="none",
        caveats="synthetic",
        optional=optional,
    )


GEOJSON = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "synthetic point"},
                "geometry": {"type": "Point", "coordinates": [-122.5, 40.5]},
            }
        ],
    }
).encode()


def _closed_port_url(path: str) -> str:
    """A URL on a port nothing listens on: the connection is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


# --- mirror copies of real layers --------------------------------------------------------


def test_mirror_copy_of_real_layers_then_skip(real_mirror: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    layers = [layer("nps_units"), layer("co_ut_wilderness")]
    pins = {s.mirror_path: s.sha256 for lyr in layers for s in lyr.sources}
    pins.update(dict(layer("co_ut_wilderness").primary.companions))
    assert len(pins) == 6  # nps geojson + the shapefile and its 4 sidecars

    report = fetch(layers, raw, real_mirror, progress=False)

    assert {f.mirror_path for f in report.fetched} == set(pins)
    assert report.skipped == [] and report.absent == []
    record = _record(raw)
    for mirror_path, pin in pins.items():
        data = (raw / mirror_path).read_bytes()
        assert _sha(data) == pin
        assert record[mirror_path]["origin"] == "mirror"
        assert record[mirror_path]["path"] == mirror_path
        assert record[mirror_path]["sha256"] == pin
        assert record[mirror_path]["bytes"] == len(data)
        assert str(record[mirror_path]["retrieved"]).endswith("Z")
    assert not [name for name in _files_under(raw) if name.endswith(".part")]

    nps = layer("nps_units").primary
    assert resolve_source_path(raw, nps) == str((raw / nps.mirror_path).absolute())

    again = fetch(layers, raw, real_mirror, progress=False)
    assert again.fetched == []
    assert {f.mirror_path for f in again.skipped} == set(pins)
    assert all(f.origin == "mirror" for f in again.skipped)


def test_verified_files_need_no_mirror_and_bad_ones_are_recopied(
    real_mirror: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    wilderness = layer("co_ut_wilderness")
    fetch([wilderness], raw, real_mirror, progress=False)

    # Present and verified: no mirror needed (a non-direct source would otherwise fail).
    report = fetch([wilderness], raw, None, progress=False)
    assert len(report.skipped) == 5 and report.fetched == []

    # A damaged raw copy no longer verifies and is copied again, alone.
    prj = raw / "lands/coutwildrnp.prj"
    prj.write_bytes(prj.read_bytes() + b" ")
    report = fetch([wilderness], raw, real_mirror, progress=False)
    assert [f.mirror_path for f in report.fetched] == ["lands/coutwildrnp.prj"]
    assert len(report.skipped) == 4
    assert _sha(prj.read_bytes()) == dict(wilderness.primary.companions)["lands/coutwildrnp.prj"]


def test_tampered_mirror_file_raises_and_leaves_nothing(real_mirror: Path, tmp_path: Path) -> None:
    nps = layer("nps_units")
    mirror_path = nps.primary.mirror_path
    mirror = tmp_path / "mirror"
    (mirror / mirror_path).parent.mkdir(parents=True)
    data = bytearray((real_mirror / mirror_path).read_bytes())
    data[100] ^= 0x01
    (mirror / mirror_path).write_bytes(bytes(data))
    raw = tmp_path / "raw"

    with pytest.raises(ChecksumMismatchError) as excinfo:
        fetch([nps], raw, mirror, progress=False)

    message = str(excinfo.value)
    assert mirror_path in message
    assert nps.primary.sha256 in message
    assert _sha(bytes(data)) in message
    assert _files_under(raw) == []


def test_tampered_companion_keeps_nothing_of_the_source(real_mirror: Path, tmp_path: Path) -> None:
    wilderness = layer("co_ut_wilderness")
    paths = [wilderness.primary.mirror_path, *(c for c, _ in wilderness.primary.companions)]
    mirror = tmp_path / "mirror"
    (mirror / "lands").mkdir(parents=True)
    for mirror_path in paths:
        shutil.copyfile(real_mirror / mirror_path, mirror / mirror_path)
    dbf = mirror / "lands/coutwildrnp.dbf"
    dbf.write_bytes(dbf.read_bytes()[:-1] + b"X")
    raw = tmp_path / "raw"

    with pytest.raises(ChecksumMismatchError, match=r"lands/coutwildrnp\.dbf"):
        fetch([wilderness], raw, mirror, progress=False)

    # Not even the .shp that verified: a shapefile never lands without its sidecars.
    assert _files_under(raw) == []


def test_companion_missing_from_mirror_is_source_missing(real_mirror: Path, tmp_path: Path) -> None:
    wilderness = layer("co_ut_wilderness")
    mirror = tmp_path / "mirror"
    (mirror / "lands").mkdir(parents=True)
    for name in ("coutwildrnp.shp", "coutwildrnp.dbf", "coutwildrnp.prj"):
        shutil.copyfile(real_mirror / "lands" / name, mirror / "lands" / name)

    with pytest.raises(SourceMissingError) as excinfo:
        fetch([wilderness], tmp_path / "raw", mirror, progress=False)

    message = str(excinfo.value)
    assert "lands/coutwildrnp.shx" in message
    assert "coutwildrnp.dbf" not in message
    assert wilderness.primary.url in message
    assert _files_under(tmp_path / "raw") == []


def test_interrupted_copy_leaves_no_part_file(
    real_mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(fh: io.BufferedReader) -> Iterator[bytes]:
        yield fh.read(1000)
        raise KeyboardInterrupt

    monkeypatch.setattr(provision, "_read_chunks", interrupted)
    raw = tmp_path / "raw"
    with pytest.raises(KeyboardInterrupt):
        fetch([layer("nps_units")], raw, real_mirror, progress=False)
    assert _files_under(raw) == []


# --- downloads ---------------------------------------------------------------------------


def test_download_records_sha_and_is_skipped_next_time(server: LocalServer, tmp_path: Path) -> None:
    url = server.serve("/synthetic/good.geojson", GEOJSON)
    source = Source("synthetic/good_points.geojson", url)
    raw = tmp_path / "raw"

    report = fetch([synthetic_layer("synthetic_good", source)], raw, None, progress=False)

    target = raw / "downloads" / "good.geojson"
    assert target.read_bytes() == GEOJSON
    [fetched] = report.fetched
    assert (fetched.origin, fetched.path, fetched.sha256) == (
        "url",
        "downloads/good.geojson",
        _sha(GEOJSON),
    )
    entry = _record(raw)["synthetic/good_points.geojson"]
    assert entry["origin"] == "url"
    assert entry["path"] == "downloads/good.geojson"
    assert entry["sha256"] == _sha(GEOJSON)
    assert entry["bytes"] == len(GEOJSON)
    assert entry["url"] == url
    assert resolve_source_path(raw, source) == str(target.absolute())

    again = fetch([synthetic_layer("synthetic_good", source)], raw, None, progress=False)
    assert again.fetched == [] and [f.path for f in again.skipped] == ["downloads/good.geojson"]
    assert server.hits["/synthetic/good.geojson"] == 1


def test_archive_download_stays_a_zip_and_ignores_the_extract_pin(
    server: LocalServer, tmp_path: Path
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("synthetic_points.geojson", GEOJSON)
    body = buffer.getvalue()
    url = server.serve("/synthetic/national.zip", body)
    # The pin is the regional extract's; the national archive cannot match it.
    source = Source(
        "synthetic/points_extract.geojson",
        url,
        sha256="0" * 64,
        archive_member="synthetic_points.geojson",
    )
    raw = tmp_path / "raw"

    fetch([synthetic_layer("synthetic_zip", source)], raw, None, progress=False)

    zip_path = raw / "downloads" / "national.zip"
    assert zip_path.read_bytes() == body
    entry = _record(raw)["synthetic/points_extract.geojson"]
    assert entry["sha256"] == _sha(body) and entry["member"] == "synthetic_points.geojson"
    resolved = resolve_source_path(raw, source)
    assert resolved == f"/vsizip/{zip_path.absolute().as_posix()}/synthetic_points.geojson"
    pyogrio = pytest.importorskip("pyogrio")
    assert pyogrio.read_info(resolved)["features"] == 1


def test_archive_download_that_is_not_a_zip_fails(server: LocalServer, tmp_path: Path) -> None:
    url = server.serve("/synthetic/page.zip", b"<html>please log in</html>")
    source = Source("synthetic/x.geojson", url, archive_member="x.shp")
    raw = tmp_path / "raw"
    with pytest.raises(FetchError, match=r"page\.zip.*not a zip"):
        fetch([synthetic_layer("synthetic_notzip", source)], raw, None, progress=False)
    assert _files_under(raw / "downloads") == []


def test_query_url_is_named_after_the_mirror_path(server: LocalServer, tmp_path: Path) -> None:
    path = "/synthetic/FeatureServer/0/query?where=1%3D1&f=geojson"
    url = server.serve(path, GEOJSON)
    source = Source("synthetic/Synthetic_Lines.geojson", url)
    raw = tmp_path / "raw"
    fetch([synthetic_layer("synthetic_query", source)], raw, None, progress=True)
    assert (raw / "downloads" / "Synthetic_Lines.geojson").read_bytes() == GEOJSON
    assert resolve_source_path(raw, source) == str(
        (raw / "downloads" / "Synthetic_Lines.geojson").absolute()
    )


def test_truncated_download_raises_and_leaves_nothing(server: LocalServer, tmp_path: Path) -> None:
    body = GEOJSON[:50]

    def truncated(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(GEOJSON)))
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()
        h.close_connection = True

    server.routes["/synthetic/cut.geojson"] = truncated
    source = Source("synthetic/cut.geojson", server.url("/synthetic/cut.geojson"))
    raw = tmp_path / "raw"

    with pytest.raises(FetchError) as excinfo:
        fetch([synthetic_layer("synthetic_cut", source)], raw, None, progress=False)

    message = str(excinfo.value)
    assert "cut.geojson" in message
    assert f"received {len(body)} of {len(GEOJSON)} bytes" in message
    assert _files_under(raw / "downloads") == []
    assert resolve_source_path(raw, source) is None


def test_pinned_plain_download_is_compared_to_its_pin(server: LocalServer, tmp_path: Path) -> None:
    url = server.serve("/synthetic/states.json", GEOJSON)
    raw = tmp_path / "raw"
    good = Source("synthetic/states.json", url, sha256=_sha(GEOJSON))
    fetch([synthetic_layer("synthetic_pinned_ok", good)], raw, None, progress=False)
    assert (raw / "downloads" / "states.json").read_bytes() == GEOJSON

    raw2 = tmp_path / "raw2"
    bad = Source("synthetic/states.json", url, sha256="ab" * 32)
    with pytest.raises(ChecksumMismatchError) as excinfo:
        fetch([synthetic_layer("synthetic_pinned_bad", bad)], raw2, None, progress=False)
    message = str(excinfo.value)
    assert "states.json" in message and "ab" * 32 in message and _sha(GEOJSON) in message
    assert _files_under(raw2 / "downloads") == []


def test_http_404_is_a_fetch_error_with_status(server: LocalServer, tmp_path: Path) -> None:
    source = Source("synthetic/gone.geojson", server.url("/synthetic/gone.geojson"))
    with pytest.raises(FetchError) as excinfo:
        fetch([synthetic_layer("synthetic_404", source)], tmp_path / "raw", None, progress=False)
    message = str(excinfo.value)
    assert "404" in message and "gone.geojson" in message and source.url in message


def test_timeout_is_a_fetch_error(server: LocalServer, tmp_path: Path) -> None:
    def stall(h: BaseHTTPRequestHandler) -> None:
        server.release.wait(5)

    server.routes["/synthetic/slow.geojson"] = stall
    source = Source("synthetic/slow.geojson", server.url("/synthetic/slow.geojson"))
    with pytest.raises(FetchError, match=r"slow\.geojson.*timed out"):
        fetch(
            [synthetic_layer("synthetic_slow", source)],
            tmp_path / "raw",
            None,
            progress=False,
            timeout=0.3,
        )


def test_required_failure_keeps_earlier_sources_recorded(
    server: LocalServer, tmp_path: Path
) -> None:
    ok = Source("synthetic/ok.geojson", server.serve("/synthetic/ok.geojson", GEOJSON))
    gone = Source("synthetic/gone.geojson", server.url("/synthetic/gone.geojson"))
    raw = tmp_path / "raw"
    with pytest.raises(FetchError):
        fetch(
            [synthetic_layer("synthetic_ok", ok), synthetic_layer("synthetic_gone", gone)],
            raw,
            None,
            progress=False,
        )
    assert _files_under(raw) == ["downloads/ok.geojson", FETCH_RECORD]
    assert set(_record(raw)) == {"synthetic/ok.geojson"}


# --- missing and optional sources --------------------------------------------------------


def test_optional_layers_that_fail_are_recorded_absent(
    server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    refused = Source("synthetic/refused.zip", _closed_port_url("/refused.zip"), archive_member="a")
    missing = Source("synthetic/missing.geojson", server.url("/synthetic/missing.geojson"))
    landing = Source(
        "synthetic/landing.geojson", "https://example.org/synthetic", direct_download=False
    )
    layers = [
        synthetic_layer("synthetic_refused", refused, optional=True),
        synthetic_layer("synthetic_missing", missing, optional=True),
        synthetic_layer("synthetic_landing", landing, optional=True),
    ]
    raw = tmp_path / "raw"

    with caplog.at_level(logging.WARNING, logger="layers.provision"):
        report = fetch(layers, raw, tmp_path / "empty_mirror", progress=False)

    assert report.fetched == []
    assert [a.layer_id for a in report.absent] == [lyr.id for lyr in layers]
    record = _record(raw)
    assert "refused.zip" in record["synthetic/refused.zip"]["absent"]
    assert "404" in record["synthetic/missing.geojson"]["absent"]
    assert "https://example.org/synthetic" in record["synthetic/landing.geojson"]["absent"]
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 3
    assert _files_under(raw) == [FETCH_RECORD]
    assert "ABSENT" in report.summary()


def test_required_non_direct_source_missing_says_where(tmp_path: Path) -> None:
    source = Source(
        "synthetic/by_hand.geojson",
        "https://example.org/synthetic/landing-page",
        sha256="cd" * 32,
        direct_download=False,
    )
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with pytest.raises(SourceMissingError) as excinfo:
        fetch([synthetic_layer("synthetic_by_hand", source)], tmp_path / "raw", mirror)
    message = str(excinfo.value)
    assert "https://example.org/synthetic/landing-page" in message
    assert str(mirror / "synthetic/by_hand.geojson") in message

    with pytest.raises(SourceMissingError, match="FEDMIN_DATA_MIRROR"):
        fetch([synthetic_layer("synthetic_by_hand", source)], tmp_path / "raw", None)


def test_existing_fetch_record_is_merged(server: LocalServer, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    other = {"origin": "mirror", "path": "elsewhere.csv", "sha256": "ef" * 32, "bytes": 3}
    (raw / FETCH_RECORD).write_text(json.dumps({"elsewhere.csv": other}))
    source = Source("synthetic/new.geojson", server.serve("/synthetic/new.geojson", GEOJSON))

    fetch([synthetic_layer("synthetic_merge", source)], raw, None, progress=False)

    record = _record(raw)
    assert record["elsewhere.csv"] == other
    assert record["synthetic/new.geojson"]["origin"] == "url"


def test_resolve_source_path_of_an_unfetched_source(tmp_path: Path) -> None:
    source = Source("synthetic/nothing.geojson", "https://example.org/synthetic/nothing.zip")
    assert resolve_source_path(tmp_path, source) is None
