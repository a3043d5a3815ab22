"""The hand-parsed fast paths (``app.fastpath``) answer exactly as FastAPI's validation.

The same requests go to the session's app (fast paths on) and to an app with
``fast_paths=False`` (every request validated by FastAPI), over the real store, and
must get the same status, media type, headers that matter and body (an item page's
``timeStamp`` aside). The requests are hand-picked edge cases plus hypothesis-drawn
query strings over the real parameter names and values in plain and non-plain forms.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import fastapi.routing
import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from app.fastpath import NotPlain, PlainQuery, fast_path, plain_integer
from app.main import create_app
from app.settings import Settings

ITEMS = "/collections/{}/items"
TILE = "/collections/{}/tiles/{}/{}/{}/{}"
#: Each parameter with values in plain form, in forms FastAPI still accepts (left to
#: it) and invalid ones.
VALUES: dict[str, list[str]] = {
    "limit": ["1", "7", "100", "0", "007", "+5", " 5", "-1", "1e2", "10001", "x", ""],
    "offset": ["0", "50", "8000", "99999", "00", "-3", "2.0", ""],
    "bbox": [
        "-123.5,40.5,-122.5,41.5",
        "-124.38,40.07,-122.39,41.74",
        "-100,30,-99,31",
        "1,2,3",
        "10,10,0,0",
        "a,b,c,d",
        "",
    ],
    "bbox-crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84", "EPSG:4326", "EPSG:3857"],
    "crs": ["OGC:CRS84", "EPSG:32611"],
    "commodity": ["gold", "chromium,manganese", "critical", "unobtainium", "AU", ""],
    "critical": ["true", "false", "True", "1", "0", "yes", "no", "maybe", ""],
    "critical_list": ["usgs2025", "usgs2022", "eo14241", "USGS2022", "usgs2018", ""],
    "dev_status": ["producer", "past_producer,occurrence", "Producer", "mined-out"],
    "agency": ["BLM", "usfs", "NPS", "nasa"],
    "mineral_entry": ["open", "closed", "restricted", "sometimes"],
    "state": ["CA", "nv", "CA,NV", "California"],
    "f": ["json", "html", "JSON", "xml", ""],
    "filter": ["state = 'NV'", "commodities LIKE '%lithium%'", "nope = 1", "state =", ""],
    "filter-lang": ["cql2-text", "cql2-json", "CQL2-TEXT", "ecql"],
    "sortby": ["name", "-state,name", "+name", "nope", ""],
    "properties": ["name,state", "name", "nope", ""],
    "unknown": ["1"],
}
COLLECTIONS = ["deposits", "federal_lands", "claims", "roads", "nope"]
TILE_ADDRESSES = [
    ("WebMercatorQuad", "8", "40", "96"),
    ("WebMercatorQuad", "6", "10", "24"),
    ("WebMercatorQuad", "12", "655", "1550"),
    ("WebMercatorQuad", "8", "40", "96.mvt"),
    ("WebMercatorQuad", "8", "400", "96"),
    ("WebMercatorQuad", "17", "0", "0"),
    ("WebMercatorQuad", "08", "40", "96"),
    ("WebMercatorQuad", "-1", "0", "0"),
    ("WebMercatorQuad", "eight", "40", "96"),
    ("WorldCRS84Quad", "8", "40", "96"),
    ("WorldCRS84Quad", "x", "40", "96"),
]
#: Response headers both paths must agree on (the request id and timing differ).
HEADERS = ("content-type", "etag", "cache-control", "fedmin-tile-features", "content-crs")


@pytest.fixture(scope="module")
def validated(app_settings: Settings) -> Iterator[TestClient]:
    """The same app with every request validated by FastAPI."""
    with TestClient(create_app(app_settings.model_copy(update={"fast_paths": False}))) as c:
        yield c


def _outcome(client: TestClient, url: str) -> tuple[Any, ...]:
    response = client.get(url)
    body: Any = response.content
    if response.headers.get("content-type", "").split(";")[0].endswith("json"):
        body = orjson.loads(body)
        if isinstance(body, dict):
            body.pop("timeStamp", None)
    headers = tuple(response.headers.get(name) for name in HEADERS)
    return response.status_code, headers, body


def _same(client: TestClient, validated: TestClient, url: str) -> None:
    fast, slow = _outcome(client, url), _outcome(validated, url)
    assert fast == slow, url


queries = st.lists(
    st.sampled_from(sorted(VALUES)).flatmap(
        lambda name: st.tuples(st.just(name), st.sampled_from(VALUES[name]))
    ),
    max_size=4,
).map(lambda pairs: "&".join(f"{quote(k)}={quote(v, safe=',')}" for k, v in pairs))
FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(collection=st.sampled_from(COLLECTIONS), query=queries)
def test_item_pages_answer_as_validated(
    client: TestClient, validated: TestClient, collection: str, query: str
) -> None:
    _same(client, validated, f"{ITEMS.format(collection)}?{query}")


@FUZZ
@given(
    collection=st.sampled_from(COLLECTIONS),
    address=st.sampled_from(TILE_ADDRESSES),
    query=queries,
)
def test_vector_tiles_answer_as_validated(
    client: TestClient,
    validated: TestClient,
    collection: str,
    address: tuple[str, str, str, str],
    query: str,
) -> None:
    _same(client, validated, f"{TILE.format(collection, *address)}?{query}")


@pytest.mark.parametrize(
    "url",
    [
        ITEMS.format("deposits") + "?limit=100&offset=1000",
        ITEMS.format("deposits") + "?limit=5&bbox=-123.5,40.5,-122.5,41.5&commodity=chromium",
        ITEMS.format("deposits") + "?critical=true&state=CA&dev_status=producer&limit=3",
        ITEMS.format("deposits") + "?critical=true&critical_list=eo14241&limit=3",
        ITEMS.format("deposits") + "?critical_list=usgs2018",  # 400 naming the lists
        TILE.format("deposits", "WebMercatorQuad", 8, 40, 96) + "?critical_list=usgs2022",
        ITEMS.format("deposits") + "?limit=10001",  # 400 from the limit check
        ITEMS.format("deposits") + "?bbox=10,10,0,0",  # 400 from the bbox check
        ITEMS.format("roads") + "?commodity=gold",  # 400: roads take no commodity
        TILE.format("deposits", "WebMercatorQuad", 8, 40, 96) + "?commodity=gold",
        TILE.format("federal_lands", "WebMercatorQuad", 8, 40, 96) + "?agency=BLM",
        TILE.format("deposits", "WebMercatorQuad", 30, 0, 0),  # 404 zoom
    ],
)
def test_fast_path_serves_plain_requests_without_fastapi_validation(
    client: TestClient, validated: TestClient, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain request never reaches FastAPI's dependency solving, and is answered the
    same as through it."""
    solved: list[str] = []
    original = fastapi.routing.solve_dependencies

    async def counting(*args: Any, **kwargs: Any) -> Any:
        solved.append(url)
        return await original(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    fast = _outcome(client, url)
    assert solved == []
    assert fast == _outcome(validated, url)
    assert solved == [url]  # the other app did validate it


def test_non_plain_request_goes_to_fastapi(client: TestClient) -> None:
    """``limit=007`` is left to FastAPI: same page as ``limit=7``; ``limit=-1`` is its 422."""
    page = client.get(ITEMS.format("deposits") + "?limit=007").json()
    assert page["numberReturned"] == 7
    refused = client.get(ITEMS.format("deposits") + "?limit=-1")
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "limit"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0), ("7", 7), ("10000", 10000), ("123456789012345", 123456789012345)],
)
def test_plain_integer(value: str, expected: int) -> None:
    assert plain_integer(value, "n") == expected


@pytest.mark.parametrize(
    "value", ["", "007", "-1", "+1", " 1", "1.0", "1e3", "١", "1234567890123456"]
)
def test_plain_integer_refuses(value: str) -> None:
    with pytest.raises(NotPlain):
        plain_integer(value, "n")


def test_plain_query_reads_as_fastapi() -> None:
    query = PlainQuery(QueryParams("limit=5&limit=9&state=CA&state=NV,UT&critical=false&f=html"))
    assert query.integer("limit", minimum=1) == 9  # the last of a repeated scalar
    assert query.texts("state") == ["CA", "NV,UT"]
    assert query.boolean("critical") is False
    assert query.literal("f", ("json", "html")) == "html"
    assert query.integer("offset", minimum=0) is None
    assert query.texts("commodity") is None
    with pytest.raises(NotPlain):
        PlainQuery(QueryParams("critical=True")).boolean("critical")
    with pytest.raises(NotPlain):
        PlainQuery(QueryParams("limit=0")).integer("limit", minimum=1)


def test_fast_path_takes_only_coroutine_endpoints() -> None:
    """The route awaits the endpoint on a fast path: a plain ``def`` would fail at the
    first request rather than here."""

    def endpoint() -> None:
        return None

    with pytest.raises(TypeError, match="async def"):
        fast_path(lambda request: {})(endpoint)
