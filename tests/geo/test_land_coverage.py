"""Coverage-aware land status on the real data: Alaska parks, refuges and general land,
Wyoming WSAs, New Mexico monuments, a lower-48 county with no federal unit, the land
shares of cells, the open-land gate and the names of cells.

The store holds the Alaska deposits of the USGS porphyry copper compilation (Pebble,
Orange Hill, Round Top...), linked into sites with the other sources' records of the same
deposit (``layers/sites.py``): a test names the compilation's record and checks the site
that holds it, whose id and location come from its main record (MRDS where there is
one). Where no real deposit lies in a unit (the Arctic refuge, a Wyoming WSA, a New
Mexico monument), the test point is taken from the real unit polygon (its representative
point) and says so.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.filters import DepositFilter
from geo.landstatus import LAND_SHARE_COLUMNS, overlay_land_status
from geo.scoring import RankParams
from layers.schema import LayerKind
from layers.store import record_sites


def _row(enriched: gpd.GeoDataFrame, deposit_id: str) -> Any:
    rows = enriched.loc[enriched["id"] == deposit_id]
    assert len(rows) == 1, deposit_id
    return rows.iloc[0]


@pytest.fixture(scope="module")
def site_of(geo_store: Any) -> pd.Series:
    """Site id by record id (every record lies in exactly one site)."""
    site_of = record_sites(geo_store)
    assert site_of is not None and site_of.index.is_unique
    return site_of


def _site(enriched: gpd.GeoDataFrame, site_of: pd.Series, record_id: str) -> Any:
    """The site holding ``record_id``; the record is among its records."""
    site = _row(enriched, site_of[record_id])
    assert record_id in list(site["records"])
    return site


#: Pebble: the site holding the porphyry copper compilation's "Pebble Copper" (porcu:4),
#: named and placed by its MRDS record, with the ARDF and USMIN records of the deposit.
PEBBLE = "mrds:10258264"
WRANGELL = "Wrangell-St. Elias National Park And Preserve"


def _unit(store: Any, layer: str, name: str) -> Any:
    frame = store.frame(layer)
    rows = frame.loc[frame["name"] == name]
    assert len(rows) >= 1, name
    return rows.iloc[0]


def _status_at(engine: Any, point: shapely.Point) -> Any:
    points = gpd.GeoDataFrame({"id": ["p"]}, geometry=[point], crs=4326)
    return overlay_land_status(points, engine._lands, engine.land_coverage).iloc[0]


@pytest.mark.parametrize(
    ("record_id", "site_id", "name", "park"),
    [
        ("porcu:8", "mrds:10000513", "Orange Hill", WRANGELL),
        ("porcu:11", "mrds:10210123", "Baultoff", WRANGELL),
        ("porcu:3", "ardf:LC034", "Kijik River", "Lake Clark National Park And Preserve"),
    ],
)
def test_deposit_in_an_alaska_park_is_closed(
    geo_store: Any,
    enriched: Any,
    site_of: pd.Series,
    record_id: str,
    site_id: str,
    name: str,
    park: str,
) -> None:
    deposit = _site(enriched, site_of, record_id)
    assert (deposit["id"], deposit["name"]) == (site_id, name)
    unit = _unit(geo_store, "ak_protected_areas", park)
    assert unit.geometry.contains(deposit.geometry)  # independent point-in-polygon
    assert deposit["mineral_entry"] == "closed"
    assert deposit["land_unit_names"][0] == park
    assert deposit["mineral_entry_reason"].startswith(park)
    assert "ANILCA 1980 section 206" in deposit["mineral_entry_reason"]


def test_point_in_the_arctic_refuge_follows_the_refuge_rule(
    geo_store: Any, geo_engine: Any
) -> None:
    unit = _unit(geo_store, "ak_protected_areas", "Arctic National Wildlife Refuge")
    status = _status_at(geo_engine, unit.geometry.representative_point())  # from the unit
    assert status["mineral_entry"] == "closed"
    assert status["designation"] == "anilca_wildlife_refuge"
    assert status["agency"] == "FWS"
    assert "ANILCA 1980 section 304(c)" in status["mineral_entry_reason"]


@pytest.mark.parametrize(
    ("record_id", "site_id"),
    [("porcu:4", PEBBLE), ("porcu:2", "porcu:2"), ("porcu:5", "porcu:5")],
)  # Pebble, Round Top, Taurus (the last two: no MRDS record, the compilation's own ids)
def test_alaska_deposit_off_every_unit_is_unknown_with_the_reason(
    geo_store: Any, enriched: Any, site_of: pd.Series, record_id: str, site_id: str
) -> None:
    deposit = _site(enriched, site_of, record_id)
    assert deposit["id"] == site_id
    lands = geo_store.kind_frame(LayerKind.FEDERAL_LANDS)
    assert not shapely.intersects(lands.geometry.values, deposit.geometry).any()
    assert deposit["mineral_entry"] == "unknown"
    assert deposit["land_unit_ids"] == []
    assert "no land layer maps all federal land here" in deposit["mineral_entry_reason"]


def test_pebble_is_pebble(geo_store: Any, enriched: Any, site_of: pd.Series) -> None:
    assert geo_store.frame("porphyry_copper").set_index("id").loc["porcu:4", "name"] == (
        "Pebble Copper"
    )
    pebble = _site(enriched, site_of, "porcu:4")
    assert (pebble["id"], pebble["name"], pebble["state"]) == (PEBBLE, "Pebble", "AK")
    # the same deposit in the Alaska (ARDF) and USMIN compilations is in the same site
    assert {"ardf:IL007", "usmin_deposits:AK00023", "minmod_mrds:10258264"} <= set(
        pebble["records"]
    )
    assert "copper" in list(pebble["commodities"])


def test_wyoming_wsa_carries_its_name(geo_store: Any, geo_engine: Any) -> None:
    name = "Adobe Town Wilderness Study Area"
    unit = _unit(geo_store, "padus_wy_blm", name)
    status = _status_at(geo_engine, unit.geometry.representative_point())
    assert name in status["land_unit_names"]
    assert status["mineral_entry"] == "restricted"
    assert status["designation"] == "wilderness_study_area"
    assert "FLPMA 1976 section 603(c)" in status["mineral_entry_reason"]


def test_new_mexico_national_monument_follows_its_rule(geo_store: Any, geo_engine: Any) -> None:
    name = "Organ Mountains - Desert Peaks National Monument"
    unit = _unit(geo_store, "padus_nm", name)
    assert (unit["agency"], unit["designation"]) == ("BLM", "national_monument")
    # A point of the monument outside the (unnamed) BLM wilderness areas inside it.
    lands = geo_store.kind_frame(LayerKind.FEDERAL_LANDS)
    others = lands.loc[lands["id"] != unit["id"]]
    inner = others.loc[shapely.intersects(others.geometry.values, unit.geometry)]
    closed_inside = inner.loc[inner["mineral_entry"].eq("closed")].geometry.union_all()
    point = unit.geometry.difference(closed_inside).representative_point()
    status = _status_at(geo_engine, point)
    assert status["mineral_entry"] == "closed"
    assert status["land_unit_names"][0] == name
    assert "Antiquities Act 1906" in status["mineral_entry_reason"]


def test_new_mexico_state_parks_are_not_federal_units(geo_store: Any) -> None:
    nm = geo_store.frame("padus_nm")
    assert not nm["name"].str.contains("State Park").any()
    assert set(nm["agency"]) <= {"BLM", "USFS", "NPS", "FWS"}


def test_middle_of_a_lower48_county_with_no_federal_unit_is_non_federal(
    geo_store: Any, geo_engine: Any
) -> None:
    counties = geo_store.frame("counties")
    story = counties.loc[(counties["name"] == "Story") & (counties["state"] == "IA")].iloc[0]
    point = story.geometry.representative_point()
    lands = geo_store.kind_frame(LayerKind.FEDERAL_LANDS)
    assert not shapely.intersects(lands.geometry.values, point).any()
    status = _status_at(geo_engine, point)
    assert status["mineral_entry"] == "non_federal"
    assert "federal_lands_coarse" in status["mineral_entry_reason"]


def test_alaska_state_park_is_known_non_federal(geo_store: Any, geo_engine: Any) -> None:
    unit = _unit(geo_store, "ak_protected_areas", "Wood-Tikchik State Park")
    status = _status_at(geo_engine, unit.geometry.representative_point())
    assert status["mineral_entry"] == "non_federal"
    assert status["land_unit_names"] == ["Wood-Tikchik State Park"]


def test_alaska_maritime_refuge_is_cut_at_the_antimeridian(geo_store: Any) -> None:
    unit = _unit(geo_store, "ak_protected_areas", "Alaska Maritime National Wildlife Refuge")
    assert unit.geometry.geom_type == "MultiPolygon" and unit.geometry.is_valid
    lons = shapely.get_coordinates(unit.geometry)[:, 0]
    assert lons.min() >= -180 and lons.max() <= 180
    assert (lons > 170).any() and (lons < -170).any()  # both sides of the antimeridian
    # Not wrapped round the globe: the lower 48 is not inside the refuge.
    assert not unit.geometry.contains(shapely.Point(-120.0, 52.0))
    assert not unit.geometry.contains(shapely.Point(0.0, 52.0))


# --- cells --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alaska_copper(geo_engine: Any) -> tuple[Any, Any]:
    """Copper in Alaska, with the open-land gate (default) and without. The development
    gate is off in both: Pebble and the other porphyry deposits of the compilation count
    as development, and these tests are about land."""
    flt = DepositFilter(commodities=("copper",), state=("AK",))
    gated = geo_engine.rank(RankParams(filter=flt, top=None, min_undeveloped_share=0))
    ungated = geo_engine.rank(
        RankParams(filter=flt, top=None, min_open_land=0, min_undeveloped_share=0)
    )
    return gated, ungated


def test_alaska_ranking_has_no_wholly_closed_cell_and_flags_unknown_land(
    alaska_copper: tuple[Any, Any], enriched: Any
) -> None:
    gated, _ = alaska_copper
    cells = gated.all_cells
    assert (cells["epsg"] == 3338).all()
    assert (cells["land_closed_share"] < 0.999).all()
    shares = cells[list(LAND_SHARE_COLUMNS)].sum(axis=1)
    assert np.allclose(shares, 1.0, atol=1e-6)
    flagged = cells.loc[cells["land_flag"].notna()]
    assert len(flagged) > 0
    assert (flagged["land_unknown_share"] > 0).all()
    # A cell wholly of unknown status has no land component; the score uses the others.
    wholly = cells.loc[cells["land_flag"].eq("unknown")]
    assert len(wholly) and wholly["land"].isna().all() and wholly["score"].notna().all()
    # The cell holding Pebble stays in, flagged.
    pebble = _row(enriched, PEBBLE)
    at_pebble = cells.loc[cells.geometry.contains(pebble.geometry)]
    assert len(at_pebble) == 1 and at_pebble["land_flag"].iloc[0] == "unknown"


def test_min_open_land_zero_brings_the_park_cells_back_and_the_notes_count_them(
    alaska_copper: tuple[Any, Any], enriched: Any, site_of: pd.Series
) -> None:
    gated, ungated = alaska_copper
    closed = ungated.all_cells.loc[ungated.all_cells["land_closed_share"] > 0.999]
    assert len(closed) > 0
    orange_hill = _site(enriched, site_of, "porcu:8")
    assert closed.geometry.contains(orange_hill.geometry).any()
    left_out = len(ungated.all_cells) - len(gated.all_cells)
    assert left_out >= len(closed)
    note = next(n for n in gated.notes if n.startswith("the open-land gate left out"))
    assert f"left out {left_out} cells" in note
    assert not any(n.startswith("the open-land gate left out") for n in ungated.notes)
    off = next(n for n in ungated.notes if n.startswith("the open-land gate is off"))
    assert f": {left_out} cells known to offer no open land are included" in off
    # Pareto front and validation use the gated cells only.
    assert not gated.all_cells.index.isin(closed.index).any()
    assert gated.all_cells["pareto"].any()


def test_gated_cell_is_a_404_with_the_reason(
    alaska_copper: tuple[Any, Any], geo_engine: Any
) -> None:
    from layers.errors import NotFoundError

    _, ungated = alaska_copper
    cell_id = ungated.all_cells.index[ungated.all_cells["land_closed_share"] > 0.999][0]
    flt = DepositFilter(commodities=("copper",), state=("AK",))
    with pytest.raises(NotFoundError, match="open-land gate"):
        geo_engine.cell(cell_id, RankParams(filter=flt))
    # the open-land gate alone (the cell may lie in a worked district, e.g. Kennecott)
    row, _ = geo_engine.cell(
        cell_id, RankParams(filter=flt, min_open_land=0, min_undeveloped_share=0)
    )
    assert row["land_closed_share"] > 0.999


def test_cells_crossing_nothing_keep_valid_lonlat_geometry(alaska_copper: tuple[Any, Any]) -> None:
    _, ungated = alaska_copper
    bounds = ungated.all_cells.geometry.bounds
    assert ((bounds["maxx"] - bounds["minx"]) < 2).all()


def test_antimeridian_bbox_selects_both_sides(enriched: Any) -> None:
    box = (170.0, 50.0, -150.0, 62.0)  # from 170 E east to 150 W: the Aleutians to Pebble
    mask = DepositFilter(bbox=box).mask(enriched)
    x, y = enriched.geometry.x.to_numpy(), enriched.geometry.y.to_numpy()
    expected = ((x >= 170) | (x <= -150)) & (y >= 50) & (y <= 62)
    assert np.array_equal(mask, expected)
    assert PEBBLE in set(enriched.loc[mask, "id"])
    assert (
        not DepositFilter(bbox=(170.0, 50.0, 179.0, 62.0))
        .mask(enriched)[enriched["id"].eq(PEBBLE).to_numpy()]
        .any()
    )


def test_ranking_over_an_antimeridian_bbox_uses_alaska_albers(geo_engine: Any) -> None:
    result = geo_engine.rank(RankParams(filter=DepositFilter(bbox=(170.0, 50.0, -150.0, 62.0))))
    cells = result.all_cells
    assert len(cells) > 0
    assert cells.index.str.startswith("g3338-").all()


def test_cells_are_named_by_place(alaska_copper: tuple[Any, Any], enriched: Any) -> None:
    gated, _ = alaska_copper
    cells = gated.all_cells
    assert (cells["state"] == "AK").all()
    assert cells["county"].notna().all()
    assert cells["nearest_place"].notna().all()
    pebble = _row(enriched, PEBBLE)
    row = cells.loc[cells.geometry.contains(pebble.geometry)].iloc[0]
    assert row["best_deposit_name"] == "Pebble"  # the site's name, from its MRDS record
    assert row["place_label"].endswith(": Pebble")
    assert row["county"] in row["place_label"]
    assert row["land_units"] == []  # general Alaska land: no mapped unit


def test_aleutian_bbox_returns_the_ardf_deposits_on_both_sides(geo_store: Any) -> None:
    deposits = geo_store.kind_frame(LayerKind.DEPOSITS)
    picked = deposits.loc[DepositFilter(bbox=(170.0, 50.0, -170.0, 60.0)).mask(deposits)]
    ids = set(picked["id"])
    # Adak (east of 180) and Attu and Little Sitkin (west of it), from the ARDF layer.
    assert {"ardf:AD001", "ardf:AT001", "ardf:RI001"} <= ids
    assert picked.loc[picked["id"] == "ardf:AD001", "name"].iloc[0] == "Sweeper Cove"
    x = picked.geometry.x.to_numpy()
    assert ((x >= 170) | (x <= -170)).all() and (x > 0).any() and (x < 0).any()
