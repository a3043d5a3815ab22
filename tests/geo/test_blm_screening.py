"""BLM land is open only where its monuments and NCAs are mapped (``layers.blm_screening``).

Synthetic squares (named as such) for the geometry of the cut; the real store's Arizona
and Nevada BLM land for what a user meets.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pytest
import shapely

from geo.filters import DepositFilter
from geo.landcoverage import declared_coverage
from geo.places import unit_label
from geo.scoring import RankParams
from layers import blm_screening, land_rules
from layers.schema import LayerKind


def _synthetic_units() -> gpd.GeoDataFrame:
    """A BLM square straddling x = 1 and a wilderness square beside it (synthetic)."""
    return gpd.GeoDataFrame(
        {
            "id": ["synthetic:blm", "synthetic:wild"],
            "name": [None, "Synthetic Wilderness"],
            "source": ["synthetic", "synthetic"],
            "agency": ["BLM", "BLM"],
            "designation": ["blm_public_land", "wilderness"],
            "mineral_entry": ["open", "closed"],
        },
        geometry=[shapely.box(0, 0, 2, 1), shapely.box(5, 5, 6, 6)],
        crs=4326,
    )


def test_blm_land_is_cut_at_the_screened_states() -> None:
    screened = shapely.box(-1, -1, 1, 2)  # a synthetic "state" covering x <= 1
    out = blm_screening.screen_blm_land(_synthetic_units(), screened).set_index("id")
    assert sorted(out.index) == ["synthetic:blm", "synthetic:blm:unscreened", "synthetic:wild"]
    assert out.loc["synthetic:blm", "mineral_entry"] == "open"
    assert out.loc["synthetic:blm", "geometry"].equals(shapely.box(0, 0, 1, 1))
    outside = out.loc["synthetic:blm:unscreened"]
    assert outside["designation"] == "blm_public_land_unscreened"
    assert outside["mineral_entry"] == "unknown"
    assert outside["geometry"].equals(shapely.box(1, 0, 2, 1))
    assert out.loc["synthetic:wild", "geometry"].equals(shapely.box(5, 5, 6, 6))


def test_no_screened_state_leaves_all_blm_land_unknown() -> None:
    out = blm_screening.screen_blm_land(_synthetic_units(), shapely.Polygon())
    assert out.loc[out["agency"].eq("BLM"), "mineral_entry"].tolist() == ["closed", "unknown"]
    assert "national monuments" in land_rules.rule_reason("blm_public_land_unscreened")


def test_the_mirror_screens_nevada_only(real_store: Any) -> None:
    states = {
        s
        for rec in declared_coverage(real_store.manifest)
        if rec["blm_designations"]
        for s in rec["states"]
    }
    assert states == {"NV"}


@pytest.fixture(scope="module")
def blm_land(real_store: Any) -> gpd.GeoDataFrame:
    lands = real_store.kind_frame(LayerKind.FEDERAL_LANDS)
    return lands.loc[lands["agency"].eq("BLM")]


def test_coarse_blm_land_outside_nevada_is_unknown(real_store: Any, blm_land: Any) -> None:
    states = real_store.frame("states").set_index("state")
    nevada, arizona = states.loc["NV", "geometry"], states.loc["AZ", "geometry"]
    coarse = blm_land.loc[blm_land["source"].eq("federal_lands_coarse")]
    open_land = coarse.loc[coarse["designation"].eq("blm_public_land")]
    unscreened = coarse.loc[coarse["designation"].eq("blm_public_land_unscreened")]
    assert set(open_land["mineral_entry"]) == {"open"}
    assert set(unscreened["mineral_entry"]) == {"unknown"}
    # Open BLM land lies in Nevada (to the edge's rounding); Arizona's is all unknown.
    assert open_land.union_all().difference(nevada.buffer(1e-6)).area < 1e-6
    assert open_land.union_all().intersection(arizona).area < 1e-9
    arizona_blm = unscreened.union_all().intersection(arizona).area
    assert arizona_blm > 1.0  # square degrees: Arizona has about 12 M acres of BLM land


def test_an_arizona_copper_deposit_on_blm_land_reads_unknown(enriched: Any) -> None:
    """Real deposits: Arizona copper on coarse BLM land, off every named unit."""
    arizona = enriched.loc[enriched["state"].eq("AZ") & enriched["agency"].eq("BLM")]
    coarse = arizona.loc[arizona["designation"].eq("blm_public_land_unscreened")]
    assert len(coarse) > 100
    assert set(coarse["mineral_entry"]) == {"unknown"}
    assert coarse["mineral_entry_reason"].str.contains("not mapped in this state").all()
    assert not (arizona["designation"] == "blm_public_land").any()
    nevada = enriched.loc[
        enriched["state"].eq("NV") & enriched["designation"].eq("blm_public_land")
    ]
    assert len(nevada) > 100 and set(nevada["mineral_entry"]) == {"open"}


#: Pima County west of Tucson: Silver Bell and the Ironwood Forest National Monument
#: around it, where copper cells ranked third in Arizona as "open (100 %)".
IRONWOOD_AREA = (-111.9, 32.2, -111.2, 32.8)


def test_copper_cells_on_arizona_blm_land_read_unknown_not_open(geo_engine: Any) -> None:
    flt = DepositFilter(commodities=("copper",), bbox=IRONWOOD_AREA)
    cells = geo_engine.rank(RankParams(filter=flt, top=None, min_undeveloped_share=0)).all_cells
    blm = cells.loc[cells["land_flag"].eq("unknown")]
    assert len(blm) >= 3
    assert blm["land"].isna().all()  # no land component: it is not known to be open
    assert (cells["land_open_share"] < 0.01).all()  # no Arizona BLM land reads open
    labels = {unit["name"] for units in blm["land_units"] for unit in units}
    assert "public land, monuments not mapped here (BLM)" in labels


def test_unnamed_units_read_as_what_they_are() -> None:
    assert unit_label(None, "blm_public_land_unscreened", "BLM") == (
        "public land, monuments not mapped here (BLM)"
    )
    assert unit_label(None, "blm_public_land", "BLM") == "blm public land (BLM)"
    assert unit_label("Ironwood", "national_monument", "BLM") == "Ironwood"
