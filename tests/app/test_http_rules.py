"""Honest HTTP: HEAD, Host and public URL, antimeridian boxes, paging past the end, the
empty-value rule and unknown parameters (with suggestions), on the real store."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends, FastAPI, Query
from fastapi.testclient import TestClient

from app import errors, middleware
from app.main import create_app
from app.routing import CheckedRoute
from app.settings import Settings

TILE = "/collections/deposits/tiles/WebMercatorQuad/7/20/48"
GET_ROUTES = [
    "/health",
    "/",
    "/conformance",
    "/collections",
    "/collections/deposits",
    "/collections/deposits/items?limit=3",
    "/collections/deposits/items/mrds:10034372",
    TILE,
    "/collections/deposits/tiles/WebMercatorQuad/tilejson.json",
    "/rasters",
    "/openapi.json",
]


def _untimed(body: bytes) -> bytes:
    """A body without its OGC ``timeStamp`` (two requests can straddle a second)."""
    return re.sub(rb'"timeStamp":"[^"]*"', b"", body)


def _error(response: Any, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["error"] == error, body
    return body["detail"]


# --- HEAD -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", GET_ROUTES)
def test_head_answers_as_get_without_the_body(client: TestClient, path: str) -> None:
    identity = {"Accept-Encoding": "identity"}
    got, head = client.get(path, headers=identity), client.head(path, headers=identity)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert int(head.headers["content-length"]) == len(got.content) > 0
    zipped, zipped_head = client.get(path), client.head(path)  # httpx asks for gzip
    assert zipped_head.content == b""
    assert _untimed(zipped.content) == _untimed(got.content)
    assert zipped_head.headers.get("content-encoding") == zipped.headers.get("content-encoding")
    assert zipped_head.headers["content-length"] == zipped.headers["content-length"]


def test_every_get_route_of_the_app_takes_head(client: TestClient) -> None:
    """No GET route answers HEAD with 405 (bad ids give the GET's 404 instead)."""
    paths = client.get("/openapi.json").json()["paths"]
    for template, operations in paths.items():
        if "get" in operations:
            path = template.replace("{collectionId}", "deposits").replace("{rasterId}", "x")
            path = path.replace("{tileMatrixSetId}", "WebMercatorQuad")
            for name in ("z", "x", "y", "featureId", "cellId"):
                path = path.replace("{" + name + "}", "0")
            assert client.head(path).status_code != 405, path


# --- gzip ------------------------------------------------------------------------------


def test_large_json_is_gzipped_when_the_client_accepts_it(client: TestClient) -> None:
    url = "/collections/deposits/items?limit=1000&state=NV"
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert int(plain.headers["content-length"]) == len(plain.content) > 400_000
    assert zipped.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["vary"]
    assert int(zipped.headers["content-length"]) < len(plain.content) / 5
    body = zipped.json()  # httpx decompressed it: the same 1,000 Nevada deposits
    assert body == plain.json() | {"timeStamp": body["timeStamp"]}
    assert body["numberReturned"] == 1000
    assert {f["properties"]["state"] for f in body["features"]} == {"NV"}
    gzip = {"Accept-Encoding": "gzip"}
    small = client.get("/conformance", headers=gzip)
    assert "content-encoding" not in small.headers  # under FEDMIN_GZIP_MIN_BYTES
    tile = client.get("/collections/deposits/tiles/WebMercatorQuad/0/0/0", headers=gzip)
    assert tile.status_code == 200 and len(tile.content) > 4096
    assert "content-encoding" not in tile.headers  # its ETag names this representation


@pytest.mark.parametrize(("min_bytes", "encoding"), [(0, None), (4096, "gzip")])
def test_gzip_can_be_switched_off(
    app_settings: Settings, min_bytes: int, encoding: str | None
) -> None:
    """A synthetic app with fedmin's middleware: ``FEDMIN_GZIP_MIN_BYTES=0`` is off."""
    app = FastAPI()
    middleware.install(app, app_settings.model_copy(update={"gzip_min_bytes": min_bytes}))

    @app.get("/big")
    async def big() -> dict:
        return {"values": list(range(5000))}

    with TestClient(app) as synthetic:
        response = synthetic.get("/big", headers={"Accept-Encoding": "gzip"})
    assert response.headers.get("content-encoding") == encoding
    assert response.json()["values"][4999] == 4999


# --- Host and links ---------------------------------------------------------------------


def test_a_host_not_allowed_is_a_400_and_never_a_link(client: TestClient) -> None:
    detail = _error(client.get("/", headers={"Host": "evil.example"}), 400, "InvalidHost")
    assert "evil.example" in detail and "FEDMIN_PUBLIC_URL" in detail
    _error(client.get("/collections", headers={"Host": "evil.example:80"}), 400, "InvalidHost")
    links = client.get("/", headers={"Host": "localhost:8000"}).json()["links"]
    assert {link["href"].split("/")[2] for link in links} == {"localhost:8000"}


def test_links_come_from_the_public_url_whatever_the_host(data_dir: Path) -> None:
    settings = Settings(
        data_dir=data_dir,
        offline=True,
        public_url="https://fedmin.example.org/api/",
        store_check_interval_s=0,
    )
    with TestClient(create_app(settings)) as client:
        doc = client.get("/", headers={"Host": "evil.example"}).json()
        assert {link["href"][:31] for link in doc["links"]} == {"https://fedmin.example.org/api/"}
        page = client.get("/collections/deposits/items?limit=2").json()
        assert page["links"][0]["href"].startswith(
            "https://fedmin.example.org/api/collections/deposits/items?"
        )
        sidecar = client.get("/shortlist?top=2&bbox=-123.5,40.5,-122.5,41.5").headers["link"]
        assert sidecar.startswith("<https://fedmin.example.org/api/shortlist/manifest?")


def test_public_url_and_hosts_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="FEDMIN_PUBLIC_URL"):
        Settings(public_url="fedmin.example.org")
    assert Settings(allowed_hosts="a.example, *.b.example").allowed_hosts == [
        "a.example",
        "*.b.example",
    ]


# --- antimeridian, paging -------------------------------------------------------------------


def _ids(client: TestClient, collection: str, bbox: str) -> set[str]:
    page = client.get(f"/collections/{collection}/items", params={"bbox": bbox, "limit": 10000})
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["numberReturned"] == body["numberMatched"]
    return {f["id"] for f in body["features"]}


def test_a_bbox_crossing_the_antimeridian_is_its_two_halves(client: TestClient) -> None:
    """170..-122 (crossing 180) holds what 170..180 and -180..-122 hold: a strip of
    northern California round Redding (a strip: one page holds it), and Alaska's
    Aleutians, which lie across 180."""
    crossing = _ids(client, "deposits", "170,40.4,-122,40.7")
    east, west = (
        _ids(client, "deposits", "170,40.4,180,40.7"),
        _ids(client, "deposits", "-180,40.4,-122,40.7"),
    )
    assert crossing == east | west and "mrds:10034372" in crossing
    states = _ids(client, "states", "172,51,-178,53")  # the Aleutians only
    assert states == _ids(client, "states", "172,51,180,53") | _ids(
        client, "states", "-180,51,-178,53"
    )
    names = {
        f["properties"]["name"]
        for f in client.get("/collections/states/items?bbox=172,51,-178,53").json()["features"]
    }
    assert names == {"Alaska"}
    _error(
        client.get("/collections/deposits/items?bbox=-124,42,-122,40"), 400, "InvalidParameterError"
    )  # latitudes still must not be inverted


def test_a_crossing_bbox_filters_rankings_too(client: TestClient) -> None:
    plain = client.get("/rankings?bbox=-123.5,40.5,-122.5,41.5&top=3")
    assert plain.status_code == 200
    # a 2-degree box across 180 holds no deposit of the store: a 400 naming the empty filter
    # or an empty ranking, never a box spanning the whole world
    crossing = client.get("/rankings?bbox=179,50,-179,51&top=3")
    assert crossing.status_code in (200, 400), crossing.text
    if crossing.status_code == 200:
        assert crossing.json()["returned"] == 0


def test_past_the_end_prev_is_the_last_page_with_features(client: TestClient) -> None:
    page = client.get("/collections/states/items?limit=10&offset=500").json()
    assert page["numberReturned"] == 0 and page["numberMatched"] == 56
    prev = next(link["href"] for link in page["links"] if link["rel"] == "prev")
    assert "offset=46" in prev
    assert client.get(prev).json()["numberReturned"] == 10
    last = client.get("/collections/states/items?limit=10&offset=20").json()
    assert "offset=10" in next(link["href"] for link in last["links"] if link["rel"] == "prev")
    empty = client.get("/collections/deposits/items?bbox=-140,30,-139,31&offset=20").json()
    assert empty["numberMatched"] == 0
    assert not [link for link in empty["links"] if link["rel"] == "prev"]


# --- one rule for empty values ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/collections/deposits/items?limit=5",
        TILE,
        "/collections/deposits/tiles/WebMercatorQuad/tilejson.json",
        "/rankings?bbox=-123.5,40.5,-122.5,41.5&top=3",
    ],
)
@pytest.mark.parametrize("empty", ["dev_status=", "mineral_entry=", "critical=", "state=,"])
def test_an_empty_value_is_an_absent_parameter(client: TestClient, path: str, empty: str) -> None:
    joined = f"{path}&{empty}" if "?" in path else f"{path}?{empty}"
    plain, given = client.get(path), client.get(joined)
    assert given.status_code == plain.status_code == 200, given.text
    if "items" in path:
        assert given.json()["numberMatched"] == plain.json()["numberMatched"]
        assert [f["id"] for f in given.json()["features"]] == [
            f["id"] for f in plain.json()["features"]
        ]
    elif "rankings" in path:
        assert given.json()["features"] == plain.json()["features"]
    else:
        assert given.content == plain.content or "tilejson" in path


# --- unknown parameters and values -------------------------------------------------------------


def test_an_unknown_parameter_is_a_400_listing_the_accepted_and_the_nearest(
    client: TestClient,
) -> None:
    detail = _error(client.get("/collections/deposits/items?limt=5"), 400, "InvalidParameterError")
    assert "unknown query parameter 'limt' (did you mean 'limit'?)" in detail
    assert "'bbox-crs'" in detail and "'commodity'" in detail and "'offset'" in detail
    detail = _error(client.get(f"{TILE}?comodity=gold"), 400, "InvalidParameterError")
    assert "did you mean 'commodity'?" in detail
    detail = _error(client.get("/health?colour=red"), 400, "InvalidParameterError")
    assert "/health takes no query parameters" in detail
    detail = _error(client.get("/rankings?wieghts=access:1"), 400, "InvalidParameterError")
    assert "did you mean 'weights'?" in detail and "'cell_km'" in detail
    _error(client.get("/collections/deposits/items?colour="), 400, "InvalidParameterError")


def test_unknown_values_get_the_nearest_known_one(client: TestClient) -> None:
    detail = _error(
        client.get("/collections/deposits/items?commodity=lithum"), 400, "UnknownCommodityError"
    )
    assert "did you mean 'lithium'?" in detail
    detail = _error(
        client.get("/collections/deposits/items?state=XX"), 400, "InvalidParameterError"
    )
    assert "unknown postal code(s) ['XX']" in detail and "'NV'" in detail
    detail = _error(
        client.get("/collections/deposits/items?state=Nevda"), 400, "InvalidParameterError"
    )
    assert "did you mean 'NV', Nevada?" in detail
    detail = _error(
        client.get("/collections/deposits/items?dev_status=producr"), 400, "InvalidParameterError"
    )
    assert "did you mean 'producer'?" in detail
    detail = _error(client.get("/shortlist?format=gpgk&top=2"), 400, "InvalidParameterError")
    assert "did you mean 'gpkg'?" in detail


def test_accepted_names_are_derived_from_the_declared_parameters() -> None:
    """A parameter a dependency declares is accepted with no list to update."""
    app = FastAPI()
    app.router.route_class = CheckedRoute
    errors.install(app)

    async def new_filter(min_open_land: float | None = Query(None)) -> float | None:
        return min_open_land

    @app.get("/things")
    async def things(
        flt: float | None = Depends(new_filter), geometry: str = Query("full")
    ) -> dict:
        return {"flt": flt, "geometry": geometry}

    route = next(r for r in app.routes if getattr(r, "path", "") == "/things")
    assert route.query_names == {"min_open_land", "geometry"}
    with TestClient(app) as client:
        assert client.get("/things?min_open_land=0.5&geometry=").json() == {
            "flt": 0.5,
            "geometry": "full",
        }
        detail = _error(client.get("/things?min_open_lnd=1"), 400, "InvalidParameterError")
        assert "did you mean 'min_open_land'?" in detail
