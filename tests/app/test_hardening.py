"""Limits, path traversal, security headers, CORS and request logging on a live server.

The app runs under uvicorn on 127.0.0.1 (``tests/app/live.py``) with tight limits, so
every limit is reachable with small requests, over the real store. Raw paths (``../``
that HTTP clients would normalize away) are sent with ``http.client``.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.middleware import CSP, CSP_API_DOCS, JsonFormatter
from app.settings import Settings
from geo.filters import DepositFilter
from geo.scoring import RankParams
from layers.errors import LimitExceededError
from tests.app.live import require_map_assets, serve

ORIGIN = "https://maps.example.org"
SMALL_BOX = "-123.5,40.5,-122.5,41.5"  # 1 square degree
BIG_BOX = "-124,39,-121,42"  # 9 square degrees
CELL = "g5070-5000-554-869"
DEM = "srtm_big_tujunga"
DEM_TILE = f"/rasters/{DEM}/tiles/WebMercatorQuad/11/350/815.png"  # the DEM's west edge
UNPAGED = ["/rankings", "/shortlist", "/shortlist/manifest", f"/rankings/{CELL}"]
HTML_PAGES = ["/?f=html", "/collections?f=html", "/collections/deposits?f=html"]


@pytest.fixture(scope="module")
def tight(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        offline=True,
        default_page_limit=10,
        max_page_limit=50,
        max_unpaged_bbox_deg2=4.0,
        min_tile_zoom=2,
        max_tile_zoom=12,
        max_ranking_cells=2000,
        ranking_time_budget_s=2.0,
        ranking_workers=1,
        ranking_queue=1,
        max_request_body_bytes=1024,
        cors_origins=[ORIGIN],
        store_check_interval_s=0,
    )


@pytest.fixture(scope="module")
def server(tight: Settings) -> Iterator[tuple[str, Any]]:
    """The tight app, its engine warmed: the first ranking at a cell size tries the
    national base grid (seconds), which the time-budget tests must not count."""
    app = create_app(tight)
    with serve(app) as url:
        engine = app.state.serving.current.engine
        box = DepositFilter(bbox=SMALL_BOX)
        engine.rank(RankParams(filter=box, max_cells=tight.max_ranking_cells))
        with pytest.raises(LimitExceededError):
            engine.rank(RankParams(filter=box, cell_km=1, max_cells=tight.max_ranking_cells))
        yield url, app


@pytest.fixture(scope="module")
def api(server: tuple[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0], timeout=120) as client:
        yield client


def _error(response: httpx.Response, status: int, error: str | None = None) -> dict:
    """The JSON error body, checked: its status, its kind, and a reason."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == status and body["detail"]
    if error is not None:
        assert body["error"] == error, body
    return body


# --- limits -----------------------------------------------------------------------------------


def test_page_limit(api: httpx.Client) -> None:
    body = _error(api.get("/collections/deposits/items?limit=51"), 400, "LimitExceededError")
    assert "maximum page size 50" in body["detail"]
    page = api.get("/collections/deposits/items?limit=50").json()
    assert page["numberReturned"] == 50 and page["numberMatched"] > 50


@pytest.mark.parametrize("path", UNPAGED)
def test_unpaged_requests_refuse_a_big_bbox(api: httpx.Client, path: str) -> None:
    body = _error(api.get(path, params={"bbox": BIG_BOX}), 400, "LimitExceededError")
    assert "9 square degrees exceeds the 4 allowed" in body["detail"]


def test_paged_items_take_the_same_bbox(api: httpx.Client) -> None:
    page = api.get("/collections/deposits/items", params={"bbox": BIG_BOX, "limit": 5}).json()
    assert page["numberReturned"] == 5 and page["numberMatched"] > 100


def _ranked(api: httpx.Client, params: dict[str, Any]) -> httpx.Response:
    """A ranking under the 2 s budget of ``tight``: a cold one on a busy machine may
    take longer; it keeps computing and the retry is answered from the cache."""
    deadline = time.monotonic() + 60
    response = api.get("/rankings", params=params)
    while response.status_code == 503 and time.monotonic() < deadline:
        time.sleep(1)
        response = api.get("/rankings", params=params)
    return response


def test_a_small_bbox_ranks(api: httpx.Client) -> None:
    response = _ranked(api, {"bbox": SMALL_BOX, "top": 3})
    assert response.status_code == 200, response.text
    assert response.json()["returned"] == 3


@pytest.mark.parametrize(
    "path",
    [
        "/collections/deposits/tiles/WebMercatorQuad/13/0/0",
        "/collections/deposits/tiles/WebMercatorQuad/1/0/0",
        f"/rasters/{DEM}/tiles/WebMercatorQuad/13/0/0.png",
        "/collections/deposits/tiles/WebMercatorQuad/99999999999999999999/0/0",
    ],
)
def test_zooms_outside_the_range_are_404(api: httpx.Client, path: str) -> None:
    body = _error(api.get(path), 404, "NotFoundError")
    assert "zooms 2..12" in body["detail"]


def test_ranking_cell_limit(api: httpx.Client) -> None:
    response = api.get("/rankings", params={"bbox": SMALL_BOX, "cell_km": 1})
    body = _error(response, 400, "LimitExceededError")
    assert "more than 2000 cells" in body["detail"]


def test_ranking_time_budget(
    api: httpx.Client, server: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the budget: 503 with Retry-After; the ranking finishes in the background and
    the same request is then answered from the cache."""
    engine = server[1].state.serving.current.engine
    rank = engine.rank

    def slow_rank(params: Any) -> Any:
        time.sleep(3.0)  # longer than the 2 s budget
        return rank(params)

    monkeypatch.setattr(engine, "rank", slow_rank)
    params = {"bbox": SMALL_BOX, "weights": "potential:2", "top": 2}
    response = api.get("/rankings", params=params)
    body = _error(response, 503, "TimeBudgetExceededError")
    assert response.headers["retry-after"] == "5" and "time budget of 2 s" in body["detail"]
    assert "time queued included" in body["detail"]
    time.sleep(1.5)
    started = time.perf_counter()
    again = api.get("/rankings", params=params)
    assert again.status_code == 200 and again.json()["returned"] == 2
    assert time.perf_counter() - started < 2.0


def test_rankings_beyond_the_queue_are_refused_at_once_and_cheap_requests_go_on(
    server: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One ranking worker and one queued ranking (``tight``): while both are held, a third
    distinct ranking is a 503 with Retry-After within a second, and /health, an items
    page, a tile and a cached ranking are answered meanwhile, in well under a second."""
    base, app = server
    engine = app.state.serving.current.engine
    rank, release = engine.rank, threading.Event()

    def held_rank(params: Any) -> Any:
        release.wait(30)
        return rank(params)

    cached = {"bbox": SMALL_BOX, "top": 3}  # ranked by test_a_small_bbox_ranks, or now
    with httpx.Client(base_url=base, timeout=60) as http:
        assert _ranked(http, cached).status_code == 200
        monkeypatch.setattr(engine, "rank", held_rank)
        with ThreadPoolExecutor(2) as pool:
            held = [
                pool.submit(http.get, "/rankings", params={**cached, "weights": f"access:{w}"})
                for w in (3, 4)
            ]
            deadline = time.monotonic() + 10
            while app.state.serving.current.rankings.pending() < 2:
                assert time.monotonic() < deadline, "the two rankings were not admitted"
                time.sleep(0.02)
            started = time.perf_counter()
            refused = http.get("/rankings", params={**cached, "weights": "access:5"})
            assert time.perf_counter() - started < 1.0
            body = _error(refused, 503, "RankingOverloadedError")
            assert refused.headers["retry-after"] == "5"
            assert "1 computing, 1 waiting" in body["detail"]
            for path in (
                "/health",
                "/collections/deposits/items?limit=5",
                "/collections/deposits/tiles/WebMercatorQuad/7/20/48",
                "/shortlist/manifest?bbox=-123.5,40.5,-122.5,41.5&top=3",
            ):
                started = time.perf_counter()
                assert http.get(path).status_code in (200, 204), path
                assert time.perf_counter() - started < 1.0, path
            release.set()  # a held one past its 2 s budget is a 503: cached when done
            assert {f.result().status_code for f in held} <= {200, 503}
            assert [_ranked(http, f.result().request.url.params).status_code for f in held] == [
                200,
                200,
            ]


def test_body_over_the_limit_by_content_length_is_413(api: httpx.Client) -> None:
    body = _error(api.request("GET", "/health", content=b"x" * 1025), 413, "RequestTooLarge")
    assert "Content-Length 1025" in body["detail"] and "1024 bytes" in body["detail"]
    _error(api.post("/rankings", content=b"x" * 5000), 413, "RequestTooLarge")
    assert api.request("GET", "/health", content=b"x" * 1024).status_code == 200


def test_chunked_body_over_the_limit_is_413(api: httpx.Client) -> None:
    def chunks(n: int) -> Iterator[bytes]:
        for _ in range(n):
            yield b"y" * 300

    response = api.request("GET", "/health", content=chunks(4))
    assert response.request.headers["transfer-encoding"] == "chunked"
    body = _error(response, 413, "RequestTooLarge")
    assert "chunked body" in body["detail"]
    assert api.request("GET", "/health", content=chunks(3)).status_code == 200


# --- path traversal ----------------------------------------------------------------------------

LONG = "a" * 5000
#: Raw request targets, sent byte for byte (``..`` is not normalized by the client).
TRAVERSALS = [
    "/collections/../../etc/passwd",
    "/collections/..%2f..%2fetc%2fpasswd",
    "/collections/%2e%2e%2f%2e%2e%2fetc%2fpasswd/items",
    "/collections/%2e%2e/items",
    "/collections/%2fetc%2fpasswd/items",
    "/collections//etc/passwd/items",
    "/collections/deposits%00/items",
    f"/collections/{LONG}/items",
    "/collections/deposits/items/..%2f..%2fmanifest.json",
    "/collections/deposits/items/%2fetc%2fpasswd",
    "/collections/deposits/items/%00",
    f"/collections/deposits/items/{LONG}",
    "/collections/deposits/tiles/..%2f..%2f/2/0/0",
    "/collections/deposits/tiles/WebMercatorQuad/2/0/0%00",
    "/collections/deposits/tiles/WebMercatorQuad/2/0/..%2fmanifest.json",
    "/rasters/..%2f..%2fmanifest.json/tiles/WebMercatorQuad/2/0/0.png",
    "/rasters/%2e%2e/tiles/WebMercatorQuad/2/0/0.png",
    "/rasters/%2fetc%2fpasswd/tiles/WebMercatorQuad/2/0/0.png",
    f"/rasters/{DEM}.tif/tiles/WebMercatorQuad/2/0/0.png",
    f"/rasters/{DEM}/tiles/..%2f..%2f/2/0/0.png",
    f"/rasters/{DEM}/tiles/WebMercatorQuad/2/0/0%00.png",
    f"/rasters/{DEM}/tiles/WebMercatorQuad/2/0/..%2f..%2fmanifest.json.png",
    f"/rasters/{LONG}/tiles/WebMercatorQuad/2/0/0.png",
    "/rankings/..%2f..%2fetc%2fpasswd",
    f"/rankings/{CELL}%00",
    f"/rankings/g5070-5000-{'9' * 4000}-1",
    "/shortlist?format=..%2f..%2f..%2fetc%2fpasswd",
    "/shortlist?format=%2fetc%2fpasswd",
    "/shortlist?format=csv%00",
    "/map/static/../../../../etc/passwd",
    "/map/static/../page.py",
    "/map/static/..%2f..%2fsettings.py",
    "/map/static/%2e%2e/%2e%2e/settings.py",
    "/map/static//etc/passwd",
    "/map/static/%2fetc%2fpasswd",
    "/map/static/fedmin.js%00",
    f"/map/static/{LONG}",
    "/map/vendor/../../../app/settings.py",
    "/map/vendor/..%2f..%2f..%2fsettings.py",
    "/map/vendor/leaflet/..%2f..%2f..%2fsettings.py",
    "/map/vendor/%2fetc%2fpasswd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/docs/../../etc/passwd",
]
#: What a leaked file would show: /etc/passwd, Python source, a manifest, Parquet, TIFF.
LEAKS = [b"root:", b"import ", b"build_key", b"PAR1", b"II*\x00", b"def "]


def _raw_get(base: str, target: str) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("target", TRAVERSALS, ids=lambda t: t[:60])
def test_no_path_traversal(server: tuple[str, Any], target: str) -> None:
    status, headers, body = _raw_get(server[0], target)
    assert 400 <= status < 500, (status, body[:200])
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["status"] == status
    assert headers["x-content-type-options"] == "nosniff"
    for leak in LEAKS:
        assert leak not in body, (leak, body[:300])


def test_the_raster_route_serves_its_own_tiles(server: tuple[str, Any]) -> None:
    """The control: the raster tiles the traversals aim past do work."""
    status, _, body = _raw_get(server[0], DEM_TILE)
    assert status == 200 and body.startswith(b"\x89PNG")


def test_the_map_static_route_serves_its_own_files(
    server: tuple[str, Any], map_assets: None
) -> None:
    status, headers, _ = _raw_get(server[0], "/map/static/fedmin.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    status, headers, _ = _raw_get(server[0], "/map/vendor/leaflet/leaflet.js")
    assert status == 200 and headers["x-content-type-options"] == "nosniff"


def test_search_text_is_only_text(api: httpx.Client) -> None:
    doc = api.get("/map/search", params={"q": "../../etc/passwd"}).json()
    assert doc == {"type": "FeatureCollection", "numberReturned": 0, "features": []}


# --- security headers --------------------------------------------------------------------------


def _directives(policy: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in policy.split("; ")}


@pytest.fixture(scope="module")
def map_assets(server: tuple[str, Any]) -> None:
    """The /map page and its files (the map router and its vendored scripts)."""
    if "/map" not in server[1].openapi()["paths"]:
        pytest.skip("this app has no /map router")
    require_map_assets()


def test_map_page_headers_and_policy(api: httpx.Client, map_assets: None) -> None:
    response = api.get("/map")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    policy = _directives(headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'", "'unsafe-inline'"]  # Folium's inline set-up
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:", "blob:", "https://tile.openstreetmap.org"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    # Everything the page loads is same-origin, so the policy lets all of it through.
    html = response.text
    for url in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html):
        assert not re.match(r"(https?:)?//", url), url


CHROMIUM = Path("/usr/bin/chromium")
#: Collects every CSP violation the page reports (installed before any page script runs).
CSP_PROBE = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


@pytest.mark.browser
def test_map_works_under_the_policy_in_chromium(server: tuple[str, Any], map_assets: None) -> None:
    """Folium's inline set-up runs, Leaflet draws, and nothing is refused by the CSP."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing (make browser)")
    from playwright.sync_api import sync_playwright

    refused: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
            page.on("console", lambda msg: refused.append(msg.text) if "Policy" in msg.text else 0)
            page.add_init_script(CSP_PROBE)
            page.goto(f"{server[0]}/map", wait_until="load")
            page.wait_for_function(
                "() => window.L && Object.keys(window).some((k) => k.startsWith('map_'))"
            )
            page.wait_for_selector(".leaflet-container .leaflet-control-layers")
            violations = page.evaluate("() => window.__csp")
        finally:
            browser.close()
    assert violations == [] and refused == [], (violations, refused)


@pytest.mark.parametrize("path", HTML_PAGES)
def test_html_pages_get_the_policy(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-frame-options"] == "DENY"


def test_api_docs_policy_allows_what_the_docs_load(api: httpx.Client) -> None:
    response = api.get("/docs")
    assert response.headers["content-security-policy"] == CSP_API_DOCS
    policy = _directives(CSP_API_DOCS)
    for url in re.findall(r'(?:src|href)=["\'](https://[^"\']+)', response.text):
        origin = f"https://{urlsplit(url).netloc}"
        assert origin in policy["script-src"] + policy["style-src"] + policy["img-src"], url


@pytest.mark.parametrize(
    "path",
    [
        "/health",
        "/collections/nope",
        DEM_TILE,
        "/collections/deposits/tiles/WebMercatorQuad/8/40/96",
    ],
)
def test_nosniff_on_every_response_policy_only_on_html(api: httpx.Client, path: str) -> None:
    headers = api.get(path).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "content-security-policy" not in headers


# --- CORS --------------------------------------------------------------------------------------


def test_cors_allows_the_configured_origin_and_exposes_headers(api: httpx.Client) -> None:
    headers = api.get("/health", headers={"Origin": ORIGIN}).headers
    assert headers["access-control-allow-origin"] == ORIGIN
    exposed = {h.strip().lower() for h in headers["access-control-expose-headers"].split(",")}
    assert {"content-disposition", "link", "etag"} <= exposed
    preflight = api.options(
        "/shortlist",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "If-None-Match",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "GET" in preflight.headers["access-control-allow-methods"]


def test_cors_refuses_other_origins(api: httpx.Client) -> None:
    headers = api.get("/health", headers={"Origin": "https://evil.example"}).headers
    assert "access-control-allow-origin" not in headers
    preflight = api.options(
        "/health",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_is_closed_by_default(client: TestClient) -> None:
    """The session app has no FEDMIN_CORS_ORIGINS: same origin only."""
    headers = client.get("/health", headers={"Origin": ORIGIN}).headers
    assert not any(h.startswith("access-control-") for h in headers)
    preflight = client.options(
        "/health", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_origins_setting_is_validated() -> None:
    assert Settings(cors_origins="https://a.example, http://localhost:3000").cors_origins == [
        "https://a.example",
        "http://localhost:3000",
    ]
    with pytest.raises(ValueError, match="is not an origin"):
        Settings(cors_origins="https://a.example/path")


# --- request logging ---------------------------------------------------------------------------


def _access_record(caplog: pytest.LogCaptureFixture, request_id: str) -> logging.LogRecord:
    """The access record of a request (written just after its response: wait for it)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for record in caplog.records:
            if record.name == "fedmin.access" and record.fields["request_id"] == request_id:
                return record
        time.sleep(0.05)
    raise AssertionError(f"no access log record for {request_id}")


def test_request_id_echoed_or_generated(api: httpx.Client) -> None:
    assert (
        api.get("/health", headers={"X-Request-ID": "trace-42.a:b"}).headers["x-request-id"]
        == "trace-42.a:b"
    )
    for given in (None, "two words", "x" * 129, "evil\tinjected"):
        headers = {"X-Request-ID": given} if given else {}
        echoed = api.get("/health", headers=headers).headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", echoed), echoed


def test_one_json_line_per_request(api: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fedmin.access")
    response = api.get("/collections/deposits/items?limit=2", headers={"X-Request-ID": "log-1"})
    record = _access_record(caplog, "log-1")
    fields = record.fields
    assert fields["method"] == "GET" and fields["path"] == "/collections/deposits/items"
    assert fields["query"] == "limit=2" and fields["status"] == 200
    assert fields["bytes"] == len(response.content) and fields["duration_ms"] > 0
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["logger"] == "fedmin.access" and parsed["level"] == "INFO"
    assert {k: parsed[k] for k in fields} == fields
    assert [r for r in caplog.records if r.name == "fedmin.access"].count(record) == 1

    refused = api.request("GET", "/health", content=b"z" * 2000, headers={"X-Request-ID": "log-2"})
    assert refused.status_code == 413
    assert _access_record(caplog, "log-2").fields["status"] == 413


def test_log_level_is_configurable(tight: Settings) -> None:
    logger = logging.getLogger("fedmin")
    before = logger.level
    try:
        create_app(tight.model_copy(update={"log_level": "WARNING"}))
        assert not logging.getLogger("fedmin.access").isEnabledFor(logging.INFO)
        create_app(tight)
        assert logging.getLogger("fedmin.access").isEnabledFor(logging.INFO)
    finally:
        logger.setLevel(before)


@pytest.mark.parametrize("cors", [False, True])
def test_an_unhandled_error_is_a_json_500_with_the_headers(
    app_settings: Settings, cors: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug (an exception no handler takes) answers the usual JSON error body, with the
    security headers and request id, and its traceback goes to the log, not the client."""
    settings = app_settings.model_copy(update={"cors_origins": [ORIGIN] if cors else []})
    app = create_app(settings)

    @app.get("/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app) as test, caplog.at_level(logging.INFO, logger="fedmin"):
        response = test.get("/boom", headers={"X-Request-ID": "bug-1"})
    assert response.status_code == 500
    assert response.json() == {
        "status": 500,
        "error": "InternalError",
        "detail": "internal error; see the server log",
    }
    assert "secret" not in response.text
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"] == "bug-1"
    assert response.headers["Fedmin-Build"]
    logged = [r for r in caplog.records if r.name == "fedmin.errors"]
    assert logged and "secret internals" in str(logged[0].exc_info[1])
    access = [r for r in caplog.records if r.name == "fedmin.access"]
    assert access[-1].fields["status"] == 500 and access[-1].fields["path"] == "/boom"


def test_the_app_bounds_gdal_block_cache() -> None:
    """GDAL's own default block cache is 5 % of the machine's memory; the app sets its
    setting, even after GDAL has read rasters (its environment variable would not)."""
    import rasterio

    before = rasterio.env.get_gdal_config("GDAL_CACHEMAX")
    try:
        create_app(Settings(gdal_cache_mb=64))
        assert rasterio.env.get_gdal_config("GDAL_CACHEMAX") == 64 * 1024 * 1024  # bytes
    finally:
        rasterio.env.set_gdal_config("GDAL_CACHEMAX", before)
