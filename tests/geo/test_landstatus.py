"""Land status on the real northern California data, checked against the polygons
independently, plus the precedence rules on a synthetic overlap (named as such)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.landcoverage import LandCoverage
from geo.landstatus import DESIGNATION_PRECEDENCE, STATUS_PRECEDENCE, overlay_land_status
from layers.schema import LayerKind


def _row(enriched: gpd.GeoDataFrame, deposit_id: str) -> Any:
    rows = enriched.loc[enriched["id"] == deposit_id]
    assert len(rows) == 1, deposit_id
    return rows.iloc[0]


def _lands(store: Any) -> gpd.GeoDataFrame:
    return store.kind_frame(LayerKind.FEDERAL_LANDS).set_index("id")


def test_mine_in_redwood_national_park_is_closed(geo_store: Any, enriched: Any) -> None:
    deposit = _row(enriched, "mrds:10109525")  # Pioneer Placer Mine, a placer producer
    park = _lands(geo_store).loc["nps_units:REDW"]
    assert park["name"] == "Redwood NP"
    assert park.geometry.contains(deposit.geometry)
    assert deposit["mineral_entry"] == "closed"
    assert deposit["designation"] == "national_park"
    assert deposit["agency"] == "NPS"
    assert deposit["land_unit_ids"][0] == "nps_units:REDW"


def test_mine_on_national_forest_outside_wilderness_is_open(geo_store: Any, enriched: Any) -> None:
    deposit = _row(enriched, "mrds:10035842")  # Gold Dollar, Weaverville Ranger District
    lands = _lands(geo_store)
    district = lands.loc["usfs_ranger_districts:99051456010343"]
    assert district["name"] == "Weaverville Ranger District"
    assert district.geometry.contains(deposit.geometry)
    others = lands.drop(index=district.name)
    assert not shapely.intersects(others.geometry.values, deposit.geometry).any()
    assert deposit["mineral_entry"] == "open"
    assert deposit["designation"] == "national_forest"
    assert deposit["land_unit_ids"] == ["usfs_ranger_districts:99051456010343"]


def test_mine_in_trinity_alps_wilderness_is_closed_and_keeps_both_units(
    geo_store: Any, enriched: Any
) -> None:
    deposit = _row(enriched, "mrds:10035866")  # Geneva, a past producer
    lands = _lands(geo_store)
    wilderness = lands.loc["usfs_wilderness:611"]
    district = lands.loc["usfs_ranger_districts:99051456010343"]
    assert wilderness["name"] == "Trinity Alps Wilderness"
    assert wilderness.geometry.contains(deposit.geometry)
    assert district.geometry.contains(deposit.geometry)
    assert deposit["mineral_entry"] == "closed"
    assert deposit["designation"] == "wilderness"
    assert deposit["land_unit_ids"] == [
        "usfs_wilderness:611",
        "usfs_ranger_districts:99051456010343",
    ]
    assert deposit["land_unit_names"] == ["Trinity Alps Wilderness", "Weaverville Ranger District"]


def test_mine_off_federal_land_is_non_federal(geo_store: Any, enriched: Any) -> None:
    deposit = _row(enriched, "mrds:10109217")  # Hanes Creek, Humboldt County
    lands = geo_store.kind_frame(LayerKind.FEDERAL_LANDS)
    assert not shapely.intersects(lands.geometry.values, deposit.geometry).any()
    assert deposit["mineral_entry"] == "non_federal"
    assert deposit["agency"] is None and deposit["designation"] is None
    assert deposit["land_unit_ids"] == []


def test_every_deposit_has_a_status(enriched: Any) -> None:
    assert set(enriched["mineral_entry"]) <= set(STATUS_PRECEDENCE)
    assert enriched["mineral_entry_reason"].map(len).gt(20).all()
    # one reason object per distinct reason (per unit, or off every unit), not per deposit
    reasons = enriched["mineral_entry_reason"]
    assert len({id(r) for r in reasons}) == reasons.nunique() < len(reasons) / 10
    # Off every unit a point is non-federal or unknown; on a unit it takes a unit's status.
    off_unit = enriched["land_unit_ids"].map(len) == 0
    assert set(enriched.loc[off_unit, "mineral_entry"]) <= {"non_federal", "unknown"}
    assert enriched.loc[off_unit, "agency"].isna().all()
    on_federal = enriched["mineral_entry"].isin(["closed", "restricted", "open"])
    assert not (off_unit & on_federal).any()


#: Synthetic coverage: all federal land is mapped inside this box, nothing outside it.
SYNTHETIC_COVERAGE = LandCoverage(
    shapely.box(-10, -10, 10, 10),
    [{"layer": "synthetic", "states": [], "complete": True, "note": ""}],
)


def _synthetic_lands(rows: list[tuple[str, str, str, str]]) -> gpd.GeoDataFrame:
    """Synthetic overlapping units, all the same unit square."""
    return gpd.GeoDataFrame(
        {
            "id": [r[0] for r in rows],
            "name": [r[0].upper() for r in rows],
            "source": "synthetic",
            "agency": [r[1] for r in rows],
            "designation": [r[2] for r in rows],
            "mineral_entry": [r[3] for r in rows],
        },
        geometry=[shapely.box(0, 0, 1, 1)] * len(rows),
        crs=4326,
    )


@pytest.mark.parametrize(
    ("rows", "winner"),
    [
        (
            [("nf", "USFS", "national_forest", "open"), ("wild", "USFS", "wilderness", "closed")],
            "wild",
        ),
        (
            [
                ("blm", "BLM", "blm_public_land", "open"),
                ("wsa", "BLM", "wilderness_study_area", "restricted"),
            ],
            "wsa",
        ),
        (
            [("nps", "NPS", "nps_unit", "closed"), ("park", "NPS", "national_park", "closed")],
            "park",
        ),
        (
            [
                ("other", "other", "other_federal", "unknown"),
                ("nf", "USFS", "national_forest", "open"),
            ],
            "other",
        ),
    ],
)
def test_precedence_on_synthetic_overlaps(rows: list, winner: str) -> None:
    deposits = gpd.GeoDataFrame(
        {"id": ["p", "q", "r"]},
        geometry=[shapely.Point(0.5, 0.5), shapely.Point(5, 5), shapely.Point(50, 50)],
        index=[10, 20, 30],
        crs=4326,
    )
    out = overlay_land_status(deposits, _synthetic_lands(rows), SYNTHETIC_COVERAGE)
    assert list(out.index) == [10, 20, 30]
    assert out.loc[10, "land_unit_ids"][0] == winner
    assert out.loc[10, "mineral_entry_reason"].startswith(f"{winner.upper()}: ")
    assert sorted(out.loc[10, "land_unit_ids"]) == sorted(r[0] for r in rows)
    # Off every unit: non-federal inside the complete coverage, unknown outside it.
    assert out.loc[20, "mineral_entry"] == "non_federal"
    assert "map all federal land" in out.loc[20, "mineral_entry_reason"]
    assert out.loc[30, "mineral_entry"] == "unknown"
    assert out.loc[30, "mineral_entry_reason"].endswith("status unknown")


def test_precedence_tables_cover_the_land_rules() -> None:
    from layers.land_rules import DESIGNATION_RULES

    assert set(DESIGNATION_RULES) <= set(DESIGNATION_PRECEDENCE)
    assert STATUS_PRECEDENCE == ("closed", "restricted", "unknown", "open", "non_federal")


def test_overlay_of_nothing() -> None:
    empty = gpd.GeoDataFrame({"id": []}, geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    out = overlay_land_status(
        empty, _synthetic_lands([("a", "BLM", "blm_public_land", "open")]), SYNTHETIC_COVERAGE
    )
    assert len(out) == 0
    points = gpd.GeoDataFrame({"id": ["p"]}, geometry=[shapely.Point(0.5, 0.5)], crs=4326)
    out = overlay_land_status(
        points,
        empty.assign(name=[], agency=[], designation=[], mineral_entry=[]),
        SYNTHETIC_COVERAGE,
    )
    assert out["mineral_entry"].tolist() == ["non_federal"]
    assert np.array_equal(out.index, points.index)
