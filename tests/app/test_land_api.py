"""Land coverage, antimeridian boxes, the open-land gate and cells named by place, through
the API on the real store, decoded and checked against independent computations."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import shape

from layers.schema import LayerKind
from layers.store import Store, deposit_sites

ALEUTIANS = "170,50,-170,60"
#: 170 E eastwards to 152 W: the Aleutians to Bristol Bay (Pebble, porcu:4); 380 square
#: degrees, under the unpaged limit of 400.
WEST_ALASKA = "170,51,-152,61"
#: Pebble: the site holding the porphyry copper compilation's record porcu:4.
PEBBLE = "mrds:10258264"
NORCAL = "bbox=-124.4,40,-122.3,41.8&top=25"


def test_health_shows_where_land_status_is_known(client: TestClient) -> None:
    coverage = client.get("/health").json()["land_coverage"]
    assert "CA" in coverage["complete_states"] and "AK" not in coverage["complete_states"]
    layers = {rec["layer"]: rec for rec in coverage["layers"]}
    assert layers["federal_lands_coarse"]["complete"] is True
    assert layers["ak_protected_areas"] == {
        "layer": "ak_protected_areas",
        "states": ["AK"],
        "complete": False,
        "blm_designations": False,
        "note": "Alaska's protected units only; elsewhere in Alaska status is unknown",
    }
    assert layers["padus_nv"]["blm_designations"] is True
    assert coverage["blm_designation_states"] == ["NV"]
    assert "blm_designation_states" in coverage["rule"]
    assert coverage["collection"] == "land_coverage"


def test_every_collection_states_the_land_coverage(client: TestClient) -> None:
    for doc in client.get("/collections").json()["collections"]:
        assert doc["fedmin:landCoverage"]["complete_states"][:2] == ["AL", "AR"], doc["id"]


def test_land_coverage_collection_draws_known_and_unit_only_zones(client: TestClient) -> None:
    body = client.get("/collections/land_coverage/items").json()
    zones = {f["id"]: f for f in body["features"]}
    assert set(zones) == {"complete", "units_only"}
    complete, partial = shape(zones["complete"]["geometry"]), shape(zones["units_only"]["geometry"])
    pebble = shapely.Point(-155.29, 59.9)
    redding = shapely.Point(-122.39, 40.59)
    assert partial.contains(pebble) and not complete.contains(pebble)
    assert complete.contains(redding) and not partial.contains(redding)
    assert zones["units_only"]["properties"]["off_unit_status"] == "unknown"
    assert "ak_protected_areas" in zones["units_only"]["properties"]["layers"]


def test_deposit_items_carry_the_reason(client: TestClient) -> None:
    # the compilation's record of Pebble redirects to its site (named by its MRDS record)
    pebble = client.get("/collections/deposits/items/porcu:4").json()
    assert pebble["id"] == PEBBLE
    assert pebble["properties"]["mineral_entry"] == "unknown"
    assert (
        "no land layer maps all federal land here" in pebble["properties"]["mineral_entry_reason"]
    )
    unknown = client.get(
        "/collections/deposits/items?mineral_entry=unknown&state=AK&limit=10000"
    ).json()
    assert unknown["numberReturned"] == unknown["numberMatched"]
    records = {r for f in unknown["features"] for r in f["properties"]["records"]}
    assert {"porcu:4", "porcu:2", "porcu:5", "porcu:1", "porcu:6"} <= records


def test_antimeridian_bbox_returns_units_on_both_sides(
    client: TestClient, real_store: Store
) -> None:
    body = client.get(f"/collections/federal_lands/items?bbox={ALEUTIANS}&limit=100").json()
    ids = {f["id"] for f in body["features"]}
    # The Alaska Maritime refuge and the military land of Shemya/Attu, west of 180.
    assert {"ak_protected_areas:FWS1", "ak_protected_areas:DODDOE1"} <= ids
    east, west = shapely.box(170, 50, 180, 60), shapely.box(-180, 50, -170, 60)
    lands = real_store.kind_frame(LayerKind.FEDERAL_LANDS)
    either = lands.intersects(east) | lands.intersects(west)
    assert ids == set(lands.loc[either, "id"])  # the same as an independent selection
    assert body["numberMatched"] == len(ids)


def test_antimeridian_bbox_on_deposits_matches_an_independent_selection(
    client: TestClient, real_store: Store
) -> None:
    body = client.get(f"/collections/deposits/items?bbox={WEST_ALASKA}&limit=10000").json()
    assert body["numberReturned"] == body["numberMatched"]
    got = {f["id"] for f in body["features"]}
    deposits = deposit_sites(real_store)
    x, y = deposits.geometry.x.to_numpy(), deposits.geometry.y.to_numpy()
    inside = ((x >= 170) | (x <= -152)) & (y >= 51) & (y <= 61)
    assert got == set(deposits.loc[inside, "id"])
    assert PEBBLE in got


def test_ranking_over_an_antimeridian_bbox_uses_alaska_albers(client: TestClient) -> None:
    # both gates off: Pebble, a compilation deposit, counts as development
    response = client.get(
        f"/rankings?bbox={WEST_ALASKA}&min_open_land=0&min_undeveloped_share=0&top=10000"
    )
    assert response.status_code == 200, response.text
    cells = response.json()["features"]
    assert cells and all(f["id"].startswith("g3338-") for f in cells)
    pebble = next(f for f in cells if shape(f["geometry"]).contains(shapely.Point(-155.29, 59.9)))
    assert pebble["properties"]["land_flag"] == "unknown"
    assert pebble["properties"]["best_deposit_name"] == "Pebble"


@pytest.mark.parametrize("value", ["1.5", "-0.1", "abc"])
def test_min_open_land_out_of_range_is_refused_with_the_reason(
    client: TestClient, value: str
) -> None:
    response = client.get(f"/rankings?min_open_land={value}")
    assert response.status_code == 422, response.text  # the app's rule for malformed values
    assert response.json()["detail"][0]["loc"] == ["query", "min_open_land"]


def test_gate_is_echoed_and_counted(client: TestClient) -> None:
    # the development gate off in both: the difference is the open-land gate's alone
    gated = client.get(f"/rankings?{NORCAL}&min_undeveloped_share=0").json()
    ungated = client.get(f"/rankings?{NORCAL}&min_open_land=0&min_undeveloped_share=0").json()
    assert gated["params"]["min_open_land"] == 0.01
    assert ungated["params"]["min_open_land"] == 0
    left_out = ungated["total_cells"] - gated["total_cells"]
    assert left_out > 0
    note = next(n for n in gated["notes"] if n.startswith("the open-land gate left out"))
    assert f"left out {left_out} cells" in note
    for f in gated["features"]:
        p = f["properties"]
        assert p["land_open_share"] + p["land_unknown_share"] >= 0.01 - 1e-6


# --- the shortlist of the default northern California ranking ----------------------------


@pytest.fixture(scope="module")
def norcal_gpkg(client: TestClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    response = client.get(f"/shortlist?{NORCAL}&format=gpkg")
    assert response.status_code == 200, response.text
    path = tmp_path_factory.mktemp("land") / "shortlist.gpkg"
    path.write_bytes(response.content)
    return path


def _haversine_km(lon1: float, lat1: float, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 6371.0 * 2 * np.arcsin(np.sqrt(a))


def test_norcal_shortlist_names_every_cell_as_an_independent_overlay_does(
    norcal_gpkg: Path, real_store: Store
) -> None:
    cells = pyogrio.read_dataframe(norcal_gpkg, layer="cells")
    assert len(cells) == 25
    for column in ("state", "county", "land_unit", "nearest_place", "place_label"):
        assert cells[column].notna().all() and (cells[column] != "").all(), column
    # County and state: the county polygon holding each centre, by a plain point-in-polygon.
    counties = real_store.frame("counties")
    for _, cell in cells.iterrows():
        centre = shapely.Point(cell["lon"], cell["lat"])
        hit = counties.loc[counties.contains(centre)]
        assert len(hit) == 1
        assert (cell["county"], cell["state"]) == (hit["name"].iloc[0], hit["state"].iloc[0])
    # Nearest place: brute force over every populated place (great-circle distance).
    places = real_store.frame("populated_places")
    px, py = places.geometry.x.to_numpy(), places.geometry.y.to_numpy()
    for _, cell in cells.iterrows():
        d = _haversine_km(cell["lon"], cell["lat"], px, py)
        assert cell["nearest_place"] == places["name"].iloc[int(np.argmin(d))]
        assert abs(cell["nearest_place_km"] - d.min()) < 0.02 * d.min() + 0.2
    # Land unit: the unit named first overlaps the cell; where it is the only unit there,
    # its share is the overlap's area over the cell's land (EPSG:5070, geopandas).
    lands = real_store.kind_frame(LayerKind.FEDERAL_LANDS)
    labels = lands["name"].fillna("")
    for _, cell in cells.iterrows():
        near = lands.loc[lands.intersects(cell.geometry)]
        near = near.loc[near.intersection(cell.geometry).area > 0]
        assert cell["land_unit"] in set(labels.loc[near.index]) or near["name"].isna().any()
        if len(near) == 1:
            metric = gpd.GeoSeries([cell.geometry], crs=4326).to_crs(5070)
            unit = gpd.GeoSeries([near.geometry.iloc[0]], crs=4326).to_crs(5070).make_valid()
            share = metric.intersection(unit).area.iloc[0] / metric.area.iloc[0]
            assert abs(cell["land_unit_share"] - share) < 0.02, cell["cell_id"]


@pytest.mark.parametrize("fmt", ["csv", "geojson", "kml", "shp"])
def test_every_shortlist_format_names_the_cells(
    client: TestClient, fmt: str, norcal_gpkg: Path, tmp_path: Path
) -> None:
    expected = pyogrio.read_dataframe(norcal_gpkg, layer="cells")
    response = client.get(f"/shortlist?{NORCAL}&format={fmt}")
    assert response.status_code == 200, response.text
    path = tmp_path / f"shortlist.{'zip' if fmt == 'shp' else fmt}"
    path.write_bytes(response.content)
    if fmt == "shp":
        with zipfile.ZipFile(path) as zf:
            assert "cells.shp" in zf.namelist()
        frame: Any = pyogrio.read_dataframe(f"/vsizip/{path}/cells.shp")
        names = {"county": "county", "land_unit": "land_unit", "nearest_place": "near_place"}
    elif fmt == "kml":
        frame = pyogrio.read_dataframe(path, layer="cells")
        names = {"county": "county", "land_unit": "land_unit", "nearest_place": "nearest_place"}
    else:
        frame = pyogrio.read_dataframe(path)
        if fmt == "geojson":
            frame = frame.loc[frame["feature_type"] == "cell"].reset_index(drop=True)
        names = {"county": "county", "land_unit": "land_unit", "nearest_place": "nearest_place"}
    for column, name in names.items():
        assert list(frame[name]) == list(expected[column]), (fmt, column)
