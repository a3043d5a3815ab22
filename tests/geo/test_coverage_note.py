"""A ranking says when its cells lie where only national deposit sources have data."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from geo.coverage import national_only_note
from geo.filters import DepositFilter
from geo.scoring import RankParams

NORCAL = (-124.4, 40.0, -122.3, 41.8)
NEVADA_LITHIUM = (-118.5, 37.3, -117.0, 38.3)  # Clayton Valley and Silver Peak
NATIONAL_ONLY = "where fedmin has only national deposit sources"


def _coverage_notes(engine: Any, params: RankParams) -> list[str]:
    return [n for n in engine.rank(params).notes if NATIONAL_ONLY in n]


def test_nevada_has_only_national_sources(geo_engine: Any) -> None:
    params = RankParams(filter=DepositFilter(commodities="lithium", bbox=NEVADA_LITHIUM))
    result = geo_engine.rank(params)
    assert len(result.all_cells) > 0  # the new national data has lithium records there
    (note,) = _coverage_notes(geo_engine, params)
    assert note.startswith("every cell of this ranking lies")


def test_a_state_survey_area_has_no_such_note(geo_engine: Any) -> None:
    params = RankParams(filter=DepositFilter(commodities="gold", bbox=NORCAL))
    assert _coverage_notes(geo_engine, params) == []


class _SyntheticStore:
    """A synthetic store holding only a deposit_coverage layer (named as such)."""

    root = "synthetic-coverage-store"

    def layer_ids(self) -> list[str]:
        return ["deposit_coverage"]

    def frame(self, layer_id: str) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(
            {"source": ["umos", "minmod_mrds"], "coverage": ["state_survey", "national_sampled"]},
            geometry=[shapely.box(-114, 37, -109, 42), shapely.box(-125, 24, -66, 50)],
            crs=4326,
        )


def test_the_note_counts_cells_outside_full_coverage() -> None:
    cells = pd.DataFrame(  # a plain frame, as the engine's cell table is
        {"geometry": [shapely.box(-112, 39, -111.9, 39.1), shapely.box(-117, 38, -116.9, 38.1)]}
    )
    (note,) = national_only_note(_SyntheticStore(), cells)
    assert note.startswith("1 of 2 cells lie where fedmin has only national deposit sources")
    assert national_only_note(_SyntheticStore(), cells.iloc[:1]) == []
