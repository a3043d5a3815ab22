"""OGC API - Features Part 3 on the real deposits: queryables, CQL2 text and JSON
filters (list properties item-wise, spatial predicates), sortby, properties, the limit
in the OpenAPI document and the conformance classes declared."""

from __future__ import annotations

from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient

ITEMS = "/collections/deposits/items"
#: Northern Nevada (7,421 of the national store's 199,565 sites): every request here is
#: limited to it by the Part 1 ``bbox``, so one page holds all the matches.
REGION = "-120.1,38,-114,42"


def _features(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get(ITEMS, params={"limit": 10000, "bbox": REGION, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["numberReturned"] == body["numberMatched"]
    return body["features"]


@pytest.fixture(scope="module")
def everything(client: TestClient) -> list[dict[str, Any]]:
    return _features(client)


def _ids(features: list[dict[str, Any]]) -> set[str]:
    return {f["id"] for f in features}


def test_queryables_is_a_json_schema_of_the_properties(client: TestClient) -> None:
    response = client.get("/collections/deposits/queryables")
    assert response.headers["content-type"] == "application/schema+json"
    doc = response.json()
    assert doc["type"] == "object" and doc["$id"].endswith("/collections/deposits/queryables")
    props = doc["properties"]
    assert props["commodities"]["type"] == "array" and props["critical"]["type"] == "boolean"
    assert props["dist_road_m"]["type"] == "number" and props["state"]["type"] == "string"
    assert props["geometry"]["format"] == "geometry-any"
    links = client.get("/collections/deposits").json()["links"]
    assert any(link["rel"].endswith("/queryables") for link in links)


def test_a_list_property_matches_when_any_item_does(
    client: TestClient, everything: list[dict[str, Any]]
) -> None:
    with_lithium = {
        f["id"] for f in everything if any("lithium" in c for c in f["properties"]["commodities"])
    }
    assert len(with_lithium) >= 40  # Clayton Valley, Thacker Pass, ...
    assert _ids(_features(client, filter="commodities LIKE '%lithium%'")) == with_lithium
    json_filter = '{"op": "like", "args": [{"property": "commodities"}, "%lithium%"]}'
    assert _ids(_features(client, filter=json_filter, **{"filter-lang": "cql2-json"})) == (
        with_lithium
    )
    gold = {f["id"] for f in everything if "gold" in f["properties"]["commodities"]}
    assert _ids(_features(client, filter="commodities = 'gold'")) == gold
    assert _ids(_features(client, commodity="gold")) == gold  # the Part 1 parameter agrees


def test_comparisons_and_logic_match_the_properties(
    client: TestClient, everything: list[dict[str, Any]]
) -> None:
    text = "state = 'NV' AND dev_status IN ('producer', 'past_producer') AND critical = true"
    expected = {
        f["id"]
        for f in everything
        if f["properties"]["state"] == "NV"
        and f["properties"]["dev_status"] in ("producer", "past_producer")
        and f["properties"]["critical"]
    }
    assert expected and _ids(_features(client, filter=text)) == expected
    near = {
        f["id"]
        for f in everything
        if f["properties"]["dist_road_m"] is not None and f["properties"]["dist_road_m"] < 500
    }
    assert _ids(_features(client, filter="dist_road_m < 500")) == near
    blacks = {f["id"] for f in everything if (f["properties"]["name"] or "").startswith("Black")}
    assert len(blacks) > 5 and _ids(_features(client, filter="name LIKE 'Black%'")) == blacks


def test_spatial_predicates_in_lon_lat(
    client: TestClient, everything: list[dict[str, Any]]
) -> None:
    box = shapely.box(-118.0, 39.0, -117.0, 40.0)
    inside = {f["id"] for f in everything if box.intersects(shapely.geometry.shape(f["geometry"]))}
    assert len(inside) > 100
    for text in (
        "S_INTERSECTS(geometry, BBOX(-118, 39, -117, 40))",
        "S_INTERSECTS(geometry, POLYGON((-118 39, -117 39, -117 40, -118 40, -118 39)))",
    ):
        assert _ids(_features(client, filter=text)) == inside
    assert _ids(_features(client, bbox="-118,39,-117,40")) == inside
    points = {f["id"]: shapely.geometry.shape(f["geometry"]) for f in everything}
    within = {i for i, p in points.items() if p.within(box)}
    assert _ids(_features(client, filter="S_WITHIN(geometry, BBOX(-118, 39, -117, 40))")) == within
    outside = _ids(_features(client, filter="S_DISJOINT(geometry, BBOX(-118, 39, -117, 40))"))
    assert outside == set(points) - inside
    point = next(iter(within))
    x, y = points[point].x, points[point].y
    equal = {i for i, p in points.items() if p.equals(points[point])}
    assert _ids(_features(client, filter=f"S_EQUALS(geometry, POINT({x} {y}))")) == equal
    # the other spatial functions, on the federal-land polygons of a small box
    lands_box = {"bbox": "-120.2,38.85,-120.1,38.95", "limit": 1000}  # Desolation, Eldorado
    lands = client.get("/collections/federal_lands/items", params=lands_box).json()["features"]
    shapes = {f["id"]: shapely.geometry.shape(f["geometry"]) for f in lands}
    assert len(shapes) >= 2
    inner = next(iter(shapes.values())).representative_point()
    line = shapely.LineString([(-117.5, 39.4), (-117.3, 39.6)])
    square = shapely.box(-117.45, 39.45, -117.35, 39.55)
    for op, other, nonempty in (
        ("S_CONTAINS", inner, True),
        ("S_CROSSES", line, False),
        ("S_OVERLAPS", square, False),
        ("S_TOUCHES", square, False),
        ("S_WITHIN", square, False),
    ):
        expected = {i for i, g in shapes.items() if getattr(g, op[2:].lower())(other)}
        assert not nonempty or expected
        response = client.get(
            "/collections/federal_lands/items",
            params={**lands_box, "filter": f"{op}(geometry, {other.wkt})"},
        )
        assert response.status_code == 200, response.text
        assert _ids(response.json()["features"]) == expected, op


def test_sortby_and_properties(client: TestClient) -> None:
    page = client.get(
        ITEMS, params={"state": "NV", "sortby": "-name", "properties": "name,state", "limit": 50}
    ).json()
    names = [f["properties"]["name"] for f in page["features"]]
    assert names == sorted(names, reverse=True) and len(names) == 50
    assert all(set(f["properties"]) == {"name", "state"} for f in page["features"])
    assert all(f["geometry"]["type"] == "Point" for f in page["features"])
    nxt = next(link["href"] for link in page["links"] if link["rel"] == "next")
    assert "sortby=-name" in nxt and "properties=name%2Cstate" in nxt


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"filter": "nam = 'x'"}, "unknown property 'nam' (did you mean 'name'?)"),
        ({"filter": "name = "}, "not valid cql2-text"),
        ({"filter": "{", "filter-lang": "cql2-json"}, "not valid cql2-json"),
        ({"filter": "commodities > 'a'"}, "does not apply to the list property"),
        ({"sortby": "nmae"}, "cannot sort by 'nmae' (did you mean 'name'?)"),
        ({"sortby": "commodities"}, "cannot sort by 'commodities'"),
        ({"properties": "nam"}, "unknown property 'nam'"),
    ],
)
def test_bad_filters_are_400_with_the_reason(
    client: TestClient, params: dict[str, str], reason: str
) -> None:
    response = client.get(ITEMS, params=params)
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]


def test_openapi_and_conformance_tell_clients_what_is_served(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/collections/{collectionId}/items"]
    params = {p["name"]: p for p in operation["get"]["parameters"]}
    assert params["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 10000,
        "default": 100,
        "title": "Limit",
    }
    assert params["filter-lang"]["schema"]["enum"] == ["cql2-text", "cql2-json"]
    assert {"filter", "filter-crs", "sortby", "properties"} <= set(params)
    classes = client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter" in classes
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text" in classes
