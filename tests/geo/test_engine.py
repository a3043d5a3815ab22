"""The memory engine on real data: cached enrichment, ranking, cell lookup, seams."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from geo.engine import ENRICHED_COLUMNS, MemoryEngine, open_engine
from geo.filters import DepositFilter
from geo.scoring import COMPONENTS, RankParams
from layers.errors import InvalidParameterError, LimitExceededError, NotFoundError
from tests.geo.conftest import ToyStore, toy_frames

NORCAL = (-124.4, 40.0, -122.3, 41.8)


def test_enriched_deposits_are_cached_beside_the_store(
    geo_store: Any, geo_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = geo_engine.cache_path
    assert path.exists() and geo_store.build_id in path.name
    assert not list(path.parent.glob(".*.tmp"))

    def no_enrich(self: MemoryEngine, deposits: Any) -> Any:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(MemoryEngine, "enrich", no_enrich)
    again = MemoryEngine.from_store(geo_store)
    assert again.deposits["id"].tolist() == geo_engine.deposits["id"].tolist()
    assert again.deposits["land_unit_ids"].tolist() == geo_engine.deposits["land_unit_ids"].tolist()
    np.testing.assert_allclose(again.deposits["dist_rail_m"], geo_engine.deposits["dist_rail_m"])
    assert set(ENRICHED_COLUMNS) <= set(again.deposits.columns)


def test_unwritable_store_keeps_the_enrichment_in_memory(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "read-only-store"
    not_a_dir.write_text("a file where the store directory should be")
    engine = MemoryEngine.from_store(ToyStore(root=not_a_dir, frames=toy_frames()))
    assert len(engine.deposits) == 3
    assert not engine.cache_path.exists()


def test_gold_ranking_on_northern_california(geo_engine: Any, geo_store: Any) -> None:
    # the gates leave 19 cells of this old gold country (most of it mining districts)
    params = RankParams(filter=DepositFilter(commodities="gold", bbox=NORCAL), top=10)
    result = geo_engine.rank(params)
    cells = result.cells
    assert len(cells) == 10 and cells.crs.to_epsg() == 4326
    assert cells["rank"].tolist() == list(range(1, 11))
    assert cells["score"].is_monotonic_decreasing
    for name in (*COMPONENTS, "score"):
        values = result.all_cells[name].dropna()
        assert ((values >= 0) & (values <= 1)).all(), name
    assert result.all_cells["pareto"].any()
    assert cells["pareto"].iloc[0]  # the best weighted cell is never dominated
    explanation = cells["explanation"].iloc[0]
    assert set(explanation["components"]) == set(COMPONENTS)
    sites = geo_engine.deposits.set_index("id")
    top = [d["id"] for d in explanation["top_deposits"]]
    assert top and all("gold" in list(sites.loc[i, "commodities"]) for i in top)
    assert result.manifest["build_id"] == geo_store.build_id
    assert result.manifest["sources"]["mrds"][0]["sha256"]
    assert result.params["filter"]["commodity_names"] == ["gold"]
    assert any("claims" in note for note in result.notes)
    assert result.validation["auc"] > 0.8
    # Counts by status add up to the deposits that fall in the grid's cells.
    located = result.all_cells[
        [
            f"n_{s}"
            for s in ("producer", "past_producer", "prospect", "occurrence", "plant", "unknown")
        ]
    ]
    assert (located.sum(axis=1) == result.all_cells["n_deposits"]).all()
    assert all(set(c) <= {"gold", *c} for c in result.all_cells["commodity_counts"])


def test_whole_store_rank_spans_both_grids(geo_engine: Any) -> None:
    """Every deposit of the national store at the overview cell size (at 4-5 km a national
    ranking exceeds the cell limit), the map's first ranking; its speed is measured in
    ``bench/national.py``."""
    result = geo_engine.rank(RankParams(top=None, cell_km=25.0))  # FEDMIN_OVERVIEW_CELL_KM
    assert result.total_cells > 3000  # after both gates, of every deposit of the country
    assert set(result.all_cells["epsg"]) == {5070, 3338}  # Alaska porphyry copper
    nevada = result.all_cells.loc[
        (result.all_cells["lon"] > -119.5) & (result.all_cells["lat"] > 39)
    ]
    assert nevada["dist_road_m"].isna().all() and nevada["dist_rail_m"].notna().all()
    assert nevada["access"].notna().all()
    assert not nevada["claims_covered"].any()


def test_national_place_labels_name_no_missing_value_and_no_far_place(geo_engine: Any) -> None:
    """Every cell of the country reads by place: no label ends in the NaN of a missing
    deposit name (``...: nan``), and none names a place thousands of km away (Guam's cells
    once read "5598 km SW of Atka"); distances are on the ellipsoid."""
    from geo.places import MAX_LABEL_PLACE_KM

    cells = geo_engine.components(RankParams(top=None, cell_km=25.0)).table
    labels = cells["place_label"]
    assert not labels.str.contains(r": nan$|(?:^|, )nan County", regex=True).any()
    far = cells["nearest_place_km"] > MAX_LABEL_PLACE_KM
    assert far.any()  # the Pacific islands and the Aleutians' far ends
    assert not labels[far].str.contains(" km ", regex=False).any()
    guam = cells.loc[cells["state"].eq("GU").to_numpy()]
    assert len(guam) and guam["place_label"].str.startswith("Guam County, GU").all()


def test_cell_lookup(geo_engine: Any) -> None:
    params = RankParams(filter=DepositFilter(commodities="critical", bbox=NORCAL))
    best = geo_engine.rank(params).cells.iloc[0]
    row, contributors = geo_engine.cell(best["cell_id"], params)
    assert row["score"] == pytest.approx(best["score"])
    assert row["explanation"]["top_deposits"][0]["id"] == contributors["id"].iloc[0]
    assert contributors["contribution"].is_monotonic_decreasing
    assert contributors["critical"].all()
    with pytest.raises(NotFoundError):
        geo_engine.cell("g5070-5000-1-1", params)
    with pytest.raises(NotFoundError):
        geo_engine.cell("not-a-cell", params)


def test_hex_ranking_and_cell_ids(geo_engine: Any) -> None:
    params = RankParams(
        filter=DepositFilter(commodities="chromium", bbox=NORCAL), shape="hex", cell_km=3
    )
    result = geo_engine.rank(params)
    assert all(i.startswith("h5070-3000-") for i in result.all_cells.index)
    row, _ = geo_engine.cell(
        result.cells.index[0], RankParams(filter=DepositFilter(commodities="chromium", bbox=NORCAL))
    )
    assert row["cell_id"] == result.cells.index[0]


def test_empty_filter_result_is_an_empty_ranking_with_a_note(geo_engine: Any) -> None:
    result = geo_engine.rank(RankParams(filter=DepositFilter(bbox=(0, 0, 1, 1))))
    assert len(result.cells) == 0 and result.validation["available"] is False
    assert any("nothing to rank" in note for note in result.notes)


def test_limits_and_engine_kinds(geo_engine: Any, geo_store: Any) -> None:
    with pytest.raises(LimitExceededError) as first:
        geo_engine.rank(RankParams(cell_km=0.5, max_cells=1000))
    refused = geo_engine.stats["components.refused"]
    # the same filter and grid with other weights: refused at once, with the same reason
    with pytest.raises(LimitExceededError) as again:
        geo_engine.rank(RankParams(cell_km=0.5, max_cells=1000, weights={"access": 1.0}))
    assert str(again.value) == str(first.value) and "1000 cells of 0.5 km" in str(first.value)
    assert geo_engine.stats["components.refused"] == refused + 1
    with pytest.raises(InvalidParameterError):
        open_engine(geo_store, kind="quantum")
