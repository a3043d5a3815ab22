"""The ``critical_list`` parameter through the HTTP stack on the real store: items, vector
tiles (decoded), TileJSON, rankings, one cell, shortlists in every format, and the map.

Expected sets are computed here from the store's commodities and the list tables read
directly from ``data/`` (not through ``layers.critical``)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from xml.etree import ElementTree

import mapbox_vector_tile
import morecantile
import pandas as pd
import pyogrio
import pytest
from fastapi.testclient import TestClient

from app.exports import KML_NS
from layers.reference import REFERENCE_DIR
from layers.store import Store, deposit_sites

TMS = morecantile.tms.get("WebMercatorQuad")
TRIANGLE_GROUP = "mrds:10037703"  # NV, uranium only (MRDS tungsten file)
SHOE_MAKER = "mrds:10214130"  # CA, copper only (MRDS)
GOLD_ONLY = "mrds:10029600"  # CA, gold only (MRDS)
ITEMS = "/collections/deposits/items"


def _names(table: str) -> set[str]:
    with (REFERENCE_DIR / table).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {r["name"] for r in rows} | {r["group"] for r in rows if r.get("group")}


LISTS = {
    "usgs2025": _names("critical_minerals_2025.csv"),
    "usgs2022": _names("critical_minerals_2022.csv"),
    "eo14241": _names("critical_minerals_2025.csv") | _names("critical_minerals_eo14241.csv"),
}


#: The state the item tests page through whole (the national sites are 200k features).
STATE = "NV"


def _sites(store: Store, state: str | None = STATE) -> pd.DataFrame:
    deposits = deposit_sites(store)
    return deposits if state is None else deposits.loc[deposits["state"].eq(state)]


def _critical_ids(store: Store, list_id: str, state: str | None = STATE) -> set[str]:
    deposits = _sites(store, state)
    names = LISTS[list_id]
    return {
        i for i, cs in zip(deposits["id"], deposits["commodities"], strict=True) if set(cs) & names
    }


def _all_items(client: TestClient, query: str) -> tuple[dict, set[str]]:
    page = client.get(f"{ITEMS}?{query}&state={STATE}&limit=10000")
    assert page.status_code == 200, page.text
    doc = page.json()
    assert doc["numberReturned"] == doc["numberMatched"]  # one page holds them all
    return doc, {f["id"] for f in doc["features"]}


@pytest.mark.parametrize("list_id", list(LISTS))
def test_items_critical_filter_follows_the_list(
    client: TestClient, real_store: Store, list_id: str
) -> None:
    expected = _critical_ids(real_store, list_id)
    doc, ids = _all_items(client, f"critical=true&critical_list={list_id}")
    assert ids == expected and doc["numberMatched"] == len(expected)
    assert doc["fedmin:criticalList"]["id"] == list_id
    _, by_name = _all_items(client, f"commodity=critical&critical_list={list_id}")
    assert by_name == expected
    _, others = _all_items(client, f"critical=false&critical_list={list_id}")
    assert not others & expected
    assert len(others) + len(expected) == len(_sites(real_store))
    for feature in doc["features"][:50]:
        assert list_id in feature["properties"]["critical_lists"]
        assert not {
            k for k in feature["properties"] if k.startswith("critical_") and k != "critical_lists"
        }


def test_every_site_names_exactly_the_lists_it_holds_a_mineral_of(
    client: TestClient, real_store: Store
) -> None:
    """``critical_lists`` of every Nevada site against the list tables read here."""
    doc, ids = _all_items(client, "")
    expected = {list_id: _critical_ids(real_store, list_id) for list_id in LISTS}
    assert ids == set(_sites(real_store)["id"])
    for feature in doc["features"]:
        holds = {list_id for list_id, sites in expected.items() if feature["id"] in sites}
        assert set(feature["properties"]["critical_lists"]) == holds, feature["id"]
    counts = pd.Series([len(f["properties"]["critical_lists"]) for f in doc["features"]])
    assert set(counts) == {0, 1, 2, 3}  # none, the EO's additions, 2025 and the EO, all three


def _lists_of(client: TestClient, site: str) -> list[str]:
    return client.get(f"{ITEMS}/{site}").json()["properties"]["critical_lists"]


def test_copper_uranium_potash_are_critical_in_2025_not_2022(
    client: TestClient, real_store: Store
) -> None:
    _, in2025 = _all_items(client, "critical=true")  # the default list: usgs2025
    _, in2022 = _all_items(client, "critical=true&critical_list=usgs2022")
    _, eo = _all_items(client, "critical=true&critical_list=eo14241")
    deposits = _sites(real_store).set_index("id")
    for mineral in ("copper", "uranium", "potash"):
        holders = {i for i, cs in deposits["commodities"].items() if mineral in cs}
        only = {i for i in holders if not set(deposits.loc[i, "commodities"]) & LISTS["usgs2022"]}
        assert len(only) >= 1, mineral  # deposits whose only critical mineral is this one
        assert holders <= in2025 and holders <= eo, mineral
        # under 2022 only the holders of another 2022 mineral count (potash ones: lithium)
        assert holders & in2022 == holders - only, mineral
    assert TRIANGLE_GROUP in in2025 and TRIANGLE_GROUP not in in2022  # uranium, NV
    assert {"usgs2025", "eo14241"} <= set(_lists_of(client, SHOE_MAKER))  # copper, CA
    assert "usgs2022" not in _lists_of(client, SHOE_MAKER)
    gold = {i for i, cs in deposits["commodities"].items() if "gold" in cs}
    gold_only = {i for i in gold if not set(deposits.loc[i, "commodities"]) & LISTS["usgs2025"]}
    assert len(gold_only) > 500  # NV gold-only sites (790): critical only under the order
    assert gold <= eo and not gold_only & in2025
    assert _lists_of(client, GOLD_ONLY) == ["eo14241"]  # CA, gold only


def _tile_of(real_store: Store, deposit_id: str, z: int = 12) -> morecantile.Tile:
    deposits = deposit_sites(real_store).set_index("id")
    point = deposits.loc[deposit_id, "geometry"]
    return TMS.tile(point.x, point.y, z)


def _tile_features(client: TestClient, tile: morecantile.Tile, query: str) -> dict[str, dict]:
    url = f"/collections/deposits/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}?{query}"
    response = client.get(url)
    if response.status_code == 204:
        return {}
    assert response.status_code == 200, response.text
    layer = mapbox_vector_tile.decode(response.content)["deposits"]
    return {f["properties"]["id"]: f["properties"] for f in layer["features"]}


def test_vector_tiles_follow_the_list(client: TestClient, real_store: Store) -> None:
    tile = _tile_of(real_store, GOLD_ONLY)
    everything = _tile_features(client, tile, "")
    eo = _tile_features(client, tile, "critical_list=eo14241")
    assert set(everything) == set(eo) and GOLD_ONLY in eo
    assert everything[GOLD_ONLY]["critical"] is False and eo[GOLD_ONLY]["critical"] is True
    expected = _critical_ids(real_store, "eo14241", state=None)
    assert {i for i, p in eo.items() if p["critical"]} == set(eo) & expected
    only_eo = _tile_features(client, tile, "critical=true&critical_list=eo14241")
    only_2025 = _tile_features(client, tile, "critical=true")
    assert GOLD_ONLY in only_eo and GOLD_ONLY not in only_2025
    assert set(only_eo) == set(eo) & expected
    nv = _tile_of(real_store, TRIANGLE_GROUP)
    assert _tile_features(client, nv, "critical=true")[TRIANGLE_GROUP]["critical"] is True
    assert TRIANGLE_GROUP not in _tile_features(client, nv, "critical=true&critical_list=usgs2022")
    doc = client.get(
        "/collections/deposits/tiles/WebMercatorQuad/tilejson.json?critical_list=usgs2022"
    ).json()
    assert doc["fedmin:criticalList"]["id"] == "usgs2022"
    assert "critical_list=usgs2022" in doc["tiles"][0]


@pytest.mark.parametrize(
    "url",
    [
        f"{ITEMS}?critical_list=usgs2018",
        "/collections/deposits/tiles/WebMercatorQuad/8/40/96?critical_list=nope",
        "/collections/deposits/tiles/WebMercatorQuad/tilejson.json?critical_list=nope",
        "/rankings?critical_list=nope",
        "/shortlist?critical_list=nope&format=csv",
        "/rasters/prospectivity/tiles/WebMercatorQuad/8/40/96.png?critical_list=nope",
    ],
)
def test_unknown_list_is_a_400_naming_the_lists(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert all(i in detail for i in LISTS), detail


def test_lists_are_refused_where_they_mean_nothing(client: TestClient) -> None:
    response = client.get("/collections/roads/items?critical_list=usgs2022")
    assert response.status_code == 400 and "critical_list" in response.json()["detail"]


def test_collection_document_lists_the_lists(client: TestClient) -> None:
    doc = client.get("/collections/deposits").json()
    assert [x["id"] for x in doc["fedmin:criticalLists"]] == ["usgs2025", "usgs2022", "eo14241"]
    assert [x["minerals"] for x in doc["fedmin:criticalLists"]] == [60, 50, 61]
    assert "critical_list" in doc["fedmin:filters"] and "critical_lists" in doc["fedmin:properties"]
    assert "critical_usgs2022" not in doc["fedmin:properties"]


RANK = "commodity=critical&state=CA&top=10"


def test_rankings_and_cells_echo_the_list(client: TestClient) -> None:
    default = client.get(f"/rankings?{RANK}").json()
    eo = client.get(f"/rankings?{RANK}&critical_list=eo14241").json()
    assert default["params"]["filter"]["critical_list"] == "usgs2025"
    assert default["critical_list"]["id"] == "usgs2025" and default["critical_list"]["default"]
    assert eo["params"]["filter"]["critical_list"] == "eo14241"
    assert eo["critical_list"]["minerals"] == 61
    assert "gold" in eo["params"]["filter"]["commodity_names"]
    assert "gold" not in default["params"]["filter"]["commodity_names"]
    assert "copper" in default["params"]["filter"]["commodity_names"]
    cell_id = eo["features"][0]["id"]
    cell = client.get(f"/rankings/{cell_id}?{RANK}&critical_list=eo14241").json()
    assert cell["params"]["filter"]["critical_list"] == "eo14241"
    contributors = cell["contributing_deposits"]["features"]
    assert contributors and all(f["properties"]["critical"] for f in contributors)
    assert any(f["properties"]["commodities"] == ["gold"] for f in contributors)
    assert all("critical_eo14241" not in f["properties"] for f in contributors)


def test_shortlists_echo_the_list_in_every_format(client: TestClient, tmp_path) -> None:
    query = f"{RANK}&critical_list=usgs2022"
    files = {}
    for fmt in ("csv", "geojson", "gpkg", "kml", "shp"):
        response = client.get(f"/shortlist?{query}&format={fmt}")
        assert response.status_code == 200, response.text
        assert "critical_usgs2022" in response.headers["content-disposition"]
        files[fmt] = tmp_path / f"s.{'zip' if fmt == 'shp' else fmt}"
        files[fmt].write_bytes(response.content)
    manifest = client.get(f"/shortlist/manifest?{query}").json()  # the CSV's sidecar
    assert manifest["critical_list"]["id"] == "usgs2022"
    assert manifest["params"]["filter"]["critical_list"] == "usgs2022"
    doc = json.loads(files["geojson"].read_bytes())
    assert doc["fedmin"]["critical_list"]["id"] == "usgs2022"
    deposits = [
        f["properties"] for f in doc["features"] if f["properties"]["feature_type"] == "deposit"
    ]
    assert deposits and all(d["critical"] for d in deposits)  # critical under usgs2022
    assert not any(set(d["commodities"]) <= {"copper", "gold", "silver"} for d in deposits)
    meta = pyogrio.read_dataframe(files["gpkg"], layer="metadata", read_geometry=False)
    rows = dict(zip(meta["key"], meta["value"], strict=True))
    assert json.loads(rows["critical_list"])["id"] == "usgs2022"
    description = (
        ElementTree.parse(files["kml"])
        .getroot()
        .find(f"{{{KML_NS}}}Document")
        .findtext(f"{{{KML_NS}}}description")
    )
    assert "critical minerals: usgs2022" in description
    with zipfile.ZipFile(files["shp"]) as zf:
        shp_manifest = json.loads(zf.read("manifest.json"))
    assert shp_manifest["critical_list"]["id"] == "usgs2022"
    rows_csv = list(csv.DictReader(io.StringIO(files["csv"].read_text())))
    assert len(rows_csv) == 10


def test_map_offers_the_lists_and_says_which_is_in_force(client: TestClient) -> None:
    page = client.get("/map").text
    assert '"critical_lists"' in page and '"critical_list_default": "usgs2025"' in page
    assert "USGS 2025 final list of critical minerals (60)" in page
    js = client.get("/map/static/fedmin.js")
    assert js.status_code == 200
    assert "fedmin-critical-list" in js.text and "Critical minerals: " in js.text
