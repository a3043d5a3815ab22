"""``/map`` without a browser: small, offline by construction, every asset and API path real.

Runs the real app on the store built from the mirror. The vendored Leaflet files are
installed from npm once if the checkout lacks them (as ``make assets`` does).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import folium
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.map import assets, vendor
from app.map.page import BASEMAP, LAYERS, OSM_TILES
from app.settings import Settings

MAX_HTML_BYTES = 2 * 1024 * 1024
URL = re.compile(r"""(?:https?:)?//[^\s"'<>)\\]+""")
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "testserver"}
BLACK_BEAR = "mrds:10034372"


class _Links(HTMLParser):
    """Every URL the page makes the browser load: script src, link href, img/iframe src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href"):
            value = attributes.get(name)
            if value and tag in ("script", "link", "img", "iframe", "source", "embed"):
                self.urls.append((tag, value))


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    if assets.missing_vendor_files():
        vendor.main([])
    with TestClient(create_app(Settings(data_dir=data_dir, offline=True))) as client:
        yield client


@pytest.fixture(scope="module")
def html(client: TestClient) -> str:
    response = client.get("/map")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def _loaded_urls(html: str) -> list[tuple[str, str]]:
    parser = _Links()
    parser.feed(html)
    return parser.urls


def test_page_is_small(html: str) -> None:
    assert len(html.encode()) < MAX_HTML_BYTES
    assert "fedmin.init(" in html


def test_page_loads_nothing_from_outside(html: str) -> None:
    for tag, url in _loaded_urls(html):
        parts = urlsplit(url)
        assert not parts.netloc or parts.hostname in LOCAL_HOSTS, f"<{tag}> loads {url}"
    external = [u for u in URL.findall(html) if urlsplit(u).hostname not in LOCAL_HOSTS]
    assert external == [OSM_TILES], "the only web URL is the optional OSM template"
    assert "cdn" not in html.lower()


def test_folium_cdn_defaults_are_replaced_not_mutated(html: str) -> None:
    # The page links only fedmin's files, and folium's own class lists stay intact.
    linked = {url for _, url in _loaded_urls(html)}
    own = {url for kind in ("js", "css") for _, url in assets.linked(kind)}
    assert linked == own | {assets.favicon_url()}
    assert any("cdn" in url for _, url in folium.Map.default_js)


def test_every_referenced_asset_is_served(client: TestClient, html: str) -> None:
    for _, url in _loaded_urls(html):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.content, url
        if url.endswith(".css"):  # images referenced by stylesheets, e.g. Leaflet's
            for ref in CSS_URL.findall(response.text):
                if not ref.startswith("data:"):
                    assert client.get(urljoin(url, ref)).status_code == 200, ref
    assert (
        client.get(f"{assets.OWN_URL}/fedmin.js")
        .headers["content-type"]
        .startswith(("text/javascript", "application/javascript"))
    )


def test_static_routes_do_not_escape_their_folders(client: TestClient) -> None:
    for url in (f"{assets.OWN_URL}/../page.py", f"{assets.VENDOR_URL}/../../settings.py"):
        assert client.get(url).status_code == 404
    assert client.get(f"{assets.OWN_URL}/nope.js").status_code == 404


def test_every_layer_url_is_a_real_endpoint(client: TestClient, html: str) -> None:
    # The page's tile and raster templates answer at z/x/y = 5/5/12 (northern California).
    urls = [(spec.key, spec.options.get("url", "")) for spec in LAYERS]
    urls += [(f"basemap:{p['style']}", p["url"]) for p in BASEMAP.options["parts"]]
    for key, url in urls:
        if not url.startswith("/"):
            continue
        assert url in html
        tile = url.replace("{z}", "5").replace("{x}", "5").replace("{y}", "12")
        response = client.get(tile)
        assert response.status_code in (200, 204), (key, tile, response.text[:200])
        if key in ("basemap:land", "basemap:lakes", "places"):
            assert response.status_code == 200 and len(response.content) > 100, key


def test_only_the_readable_defaults_are_on() -> None:
    """Base map, place names, federal land, closed land, ranked cells, deposits: on; the
    rest (OSM, the surface, claims, lines, coverage) one click away. The land-status
    coverage veil is on too: it draws only where status is known just on the mapped units
    (most of Alaska), so unmapped federal land never reads as non-federal."""
    assert {s.key for s in LAYERS if s.show} == {
        "basemap",
        "places",
        "land_coverage",
        "federal_lands",
        "closed_lands",
        "ranked_cells",
        "deposits",
    }
    assert {"osm", "prospectivity", "claims", "roads", "coverage_claims"} <= {
        s.key for s in LAYERS if not s.show
    }


def test_missing_vendor_files_are_a_503_with_the_fix(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(assets, "VENDOR_DIR", tmp_path)
    response = client.get("/map")
    assert response.status_code == 503
    assert "app.map.vendor" in response.json()["detail"]


def test_landing_page_links_the_map(client: TestClient) -> None:
    links = client.get("/").json()["links"]
    assert any(link["href"].endswith("/map") for link in links)


def test_search_finds_deposits_by_name(client: TestClient) -> None:
    response = client.get("/map/search", params={"q": "black BEAR", "limit": 20})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    features = response.json()["features"]
    ids = [f["id"] for f in features]
    assert BLACK_BEAR in ids
    names = [
        [n.lower() for n in (f["properties"]["name"], *f["properties"]["alt_names"])]
        for f in features
    ]
    exact = ["black bear" in n for n in names]
    assert exact == sorted(exact, reverse=True), "exact names come first"
    assert all(any("black bear" in n for n in site) for site in names)
    record = client.get(f"/collections/deposits/items/{BLACK_BEAR}").json()
    assert features[ids.index(BLACK_BEAR)]["properties"] == record["properties"]


def test_search_finds_a_site_by_an_alternate_name(client: TestClient) -> None:
    """Thacker Pass is an alias of the USGS lithium site Kings Valley (Humboldt County, NV;
    Earth MRI's and the NI 43-101 records of it lie over 1.5 km off and stay apart);
    Niagara Summit Mine is the USMIN symbol linked into the MRDS site Niagara Group."""
    found = client.get("/map/search", params={"q": "thacker pass"}).json()["features"]
    ids = [f["id"] for f in found]
    assert ids[0] == "usgs_lithium:NV00118"  # its alias is exactly the query: first
    assert found[0]["properties"]["name"] == "Kings Valley"
    assert "Thacker Pass" in found[0]["properties"]["alt_names"]
    assert "earth_mri:331" in ids  # "Kings Valley (Thacker Pass deposit)", not linked
    niagara = client.get("/map/search", params={"q": "Niagara Summit"}).json()["features"]
    assert niagara[0]["id"] == "mrds:10077604"
    records = niagara[0]["properties"]["records_detail"]
    assert {(r["id"], r["source"]) for r in records} >= {
        ("mrds:10077604", "mrds"),
        ("usmin:5501821-17", "usmin_mine_features"),
    }


@pytest.mark.parametrize(
    "params", [{"q": "b"}, {"q": "gold", "limit": 0}, {"q": "gold", "limit": 51}, {}]
)
def test_search_rejects_bad_queries(client: TestClient, params: dict) -> None:
    assert client.get("/map/search", params=params).status_code in (400, 422)


def test_vendor_copies_exactly_the_listed_files(tmp_path: Path) -> None:
    modules = tmp_path / "node_modules"
    for entry in assets.VENDOR_FILES:
        source = modules / entry.package / entry.path
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(entry.path)
    copied = vendor.copy_assets(modules, tmp_path / "vendor")
    assert sorted(p.relative_to(tmp_path / "vendor").as_posix() for p in copied) == sorted(
        entry.target for entry in assets.VENDOR_FILES
    )
    assert assets.missing_vendor_files(tmp_path / "vendor") == []
    (modules / assets.VENDOR_FILES[0].package / assets.VENDOR_FILES[0].path).unlink()
    with pytest.raises(SystemExit, match="npm ci"):
        vendor.copy_assets(modules, tmp_path / "again")
