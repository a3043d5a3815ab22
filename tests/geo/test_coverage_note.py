"""A ranking says when its cells lie where only national deposit sources have data."""

from __future__ import annotations

from typing import Any

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
