"""Cached ranking components: a weights-only change reuses them and changes nothing else.

Reuse is observed through the engine's own counters (``MemoryEngine.stats``), never
through timing; results are compared with a fresh engine on the same real store.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from geo.caches import ByteLRU, EngineBudgets, nbytes
from geo.component_files import components_path, read_components
from geo.components import CELL_STATIC_COLUMNS
from geo.engine import MemoryEngine
from geo.filters import DepositFilter
from geo.grid import build_grid
from geo.scoring import RankParams
from tests.geo.conftest import ToyStore

#: Gold in the Klamath and northern Sierra gold country of California (every MRDS record
#: is there): a regional ranking keeps each fresh engine's work to seconds, and national
#: gold at 5 km would exceed the ranking's cell limit.
GOLD_COUNTRY = (-123.5, 40.0, -121.5, 41.5)
GOLD = RankParams(filter=DepositFilter(commodities=("gold",), bbox=GOLD_COUNTRY))
REWEIGHTED = dataclasses.replace(
    GOLD, weights={"potential": 1.0, "underdevelopment": 0.0, "access": 0.5, "land": 0.1}
)
#: Engines that compute their components rather than read the files an earlier engine of
#: the session wrote (``geo.component_files``, tested on their own below).
COMPUTING = EngineBudgets(component_files_bytes=0)
#: Steps that depend only on the filter and the grid: a weights-only change runs none.
WEIGHT_INDEPENDENT_STEPS = (
    "grid.build",
    "grid.load",
    "grid.subset",
    "kernel_pairs",
    "evidence",
    "aggregate",
    "statics.cells",
    "land",
    "development",
    "top_contributors",
    "components.compute",
)


def _grids_made(engine: MemoryEngine) -> int:
    """Store-wide grids built, or read from the store's cache."""
    return engine.stats["grid.build"] + engine.stats["grid.load"]


def _delta(engine: MemoryEngine, before: Counter[str]) -> Counter[str]:
    return Counter({k: v - before.get(k, 0) for k, v in engine.stats.items()})


def test_weights_only_change_reuses_components_and_equals_a_fresh_engine(
    geo_store: Any,
) -> None:
    engine = MemoryEngine.from_store(geo_store, budgets=COMPUTING)
    first = engine.rank(GOLD)
    assert _grids_made(engine) == 1 and engine.stats["kernel_pairs"] == 1
    before = Counter(engine.stats)
    result = engine.rank(REWEIGHTED)
    delta = _delta(engine, before)
    assert delta["components.hit"] == 1 and delta["weighted"] == 1
    assert {step: delta[step] for step in WEIGHT_INDEPENDENT_STEPS} == dict.fromkeys(
        WEIGHT_INDEPENDENT_STEPS, 0
    )
    # The validation depends on the gates, not the weights: the same one, not re-run.
    assert result.validation is first.validation and result.validation["held_out"] > 0
    # The weights did change the answer...
    scores = first.all_cells["score"].reindex(result.all_cells.index).to_numpy()
    assert not np.allclose(scores, result.all_cells["score"].to_numpy())
    assert result.params["weights"]["potential"] == 1.0
    # ...and exactly as a fresh computation of the re-weighted ranking.
    fresh_engine = MemoryEngine.from_store(geo_store, budgets=COMPUTING)
    fresh = fresh_engine.rank(REWEIGHTED)
    assert fresh_engine.stats["components.compute"] == 1
    assert_geodataframe_equal(result.all_cells, fresh.all_cells)
    assert_geodataframe_equal(result.cells, fresh.cells)
    assert result.validation == fresh.validation and result.notes == fresh.notes
    # Hand check of one cell: the weighted mean of its four components.
    best = result.cells.iloc[0]
    w = REWEIGHTED.weights
    expected = sum(w[c] * best[c] for c in w) / sum(w.values())
    assert best["score"] == pytest.approx(expected, rel=1e-12)


def test_a_second_filter_reuses_the_base_grid_and_its_cell_statics(geo_store: Any) -> None:
    engine = MemoryEngine.from_store(geo_store, budgets=COMPUTING)
    # every deposit of the same box, every cell (both gates off)
    whole = engine.rank(
        RankParams(
            filter=DepositFilter(bbox=GOLD_COUNTRY),
            top=None,
            min_open_land=0,
            min_undeveloped_share=0,
        )
    )
    computed = engine.stats["statics.cells"]
    # every cell computed here, or some read from the statics an earlier engine cached
    cached = engine.stats["statics.load"] == 1
    assert computed == whole.total_cells or (cached and computed < whole.total_cells)
    before = Counter(engine.stats)
    gold = engine.rank(GOLD)
    delta = _delta(engine, before)
    # Gold's cells are a subset of the whole box's: no new grid, no new land overlay.
    assert set(gold.all_cells.index) <= set(whole.all_cells.index)
    assert delta["grid.build"] == delta["grid.load"] == 0
    assert delta["statics.cells"] == 0 and delta["land"] == 0
    assert delta["components.compute"] == 1 and delta["kernel_pairs"] == 1
    cols = ["land", "access", "development_raw", "dist_rail_m"]
    pd.testing.assert_frame_equal(
        gold.all_cells[cols], whole.all_cells.loc[gold.all_cells.index, cols]
    )


def test_base_grid_gives_the_cells_of_a_per_filter_grid(geo_store: Any) -> None:
    shared = MemoryEngine.from_store(geo_store, budgets=COMPUTING)
    alone = MemoryEngine.from_store(
        geo_store, budgets=dataclasses.replace(COMPUTING, base_grid_max_cells=0)
    )
    a, b = shared.rank(GOLD), alone.rank(GOLD)
    assert _grids_made(alone) == 0 and _grids_made(shared) == 1
    assert list(a.all_cells.index) == list(b.all_cells.index)
    for column in ("score", "potential", "underdevelopment", "access", "land", "n_deposits"):
        np.testing.assert_allclose(
            a.all_cells[column].to_numpy(float), b.all_cells[column].to_numpy(float), rtol=1e-9
        )


def test_caches_are_bounded_by_bytes(geo_store: Any) -> None:
    lru: ByteLRU[np.ndarray] = ByteLRU("t", budget_bytes=3000)
    for i in range(5):
        lru.put(i, np.zeros(100))  # 800 bytes each
    assert len(lru) == 3 and lru.bytes == 2400 and lru.stats["t.evicted"] == 2
    assert lru.get(0) is None and lru.get(4) is not None
    lru.put("big", np.zeros(1000))  # larger than the whole budget: not kept
    assert "big" not in lru and lru.stats["t.too_large"] == 1

    engine = MemoryEngine.from_store(
        geo_store, budgets=dataclasses.replace(COMPUTING, components_bytes=1)
    )
    engine.rank(GOLD)
    engine.rank(REWEIGHTED)
    assert engine.stats["components.compute"] == 2  # nothing fits in one byte: recomputed
    assert _grids_made(engine) == 1  # the base grid has its own budget
    comps = MemoryEngine.from_store(geo_store).components(GOLD)
    assert nbytes(comps) > comps.table["potential"].to_numpy().nbytes


def test_store_wide_grid_is_built_once_per_store_build(geo_store: Any) -> None:
    """The first engine writes the store-wide grid and the cell statics it computed beside
    the store; a later engine reads them instead of computing them, and they are exactly
    what ``build_grid`` and ``cell_statics`` make."""
    MemoryEngine.from_store(geo_store, budgets=COMPUTING).rank(GOLD)  # grid, GOLD's cells
    reader = MemoryEngine.from_store(geo_store)
    assert reader._grid_cache_path(GOLD).is_file()
    read = reader._base_grid(GOLD)
    assert read is not None
    assert reader.stats["grid.load"] == 1 and reader.stats["grid.build"] == 0
    assert reader.stats["statics.load"] == 1 and read.done.sum() > 1000
    deposits = reader.deposits
    built = build_grid(
        deposits.geometry.x.to_numpy(),
        deposits.geometry.y.to_numpy(),
        geo_store.frame("states"),
        GOLD.spec,
        reach_m=GOLD.reach_m,
        max_cells=reader.budgets.base_grid_max_cells,
    )
    assert_geodataframe_equal(read.grid.cells, built.cells)
    assert shapely.equals_exact(read.grid.metric_geometry, built.metric_geometry).all()
    positions = np.flatnonzero(read.done)[::7]
    fresh = reader.cell_statics(read.grid.subset(positions), GOLD)
    kept = read.statics_of(positions, fresh.index)
    for column in CELL_STATIC_COLUMNS:
        cached = kept[column].to_numpy()
        if cached.dtype == object:
            assert cached.tolist() == fresh[column].tolist(), column
        else:
            np.testing.assert_array_equal(cached, fresh[column].to_numpy(), err_msg=column)
    # a weights-only re-ranking needs nothing new: no statics computed
    before = Counter(reader.stats)
    reader.rank(GOLD)
    assert _delta(reader, before)["statics.cells"] == 0


def test_warmed_statics_leave_a_first_ranking_no_cell_to_compute(
    geo_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``warm_statics`` (run by ``fedmin data build``) computes every cell of the
    store-wide grid, block by block; a filter's first ranking then computes no cell static
    and equals a fresh engine's, which computed only the filter's cells in one block."""
    monkeypatch.setattr("geo.engine.WARM_BLOCK_CELLS", 150)  # several blocks (strips)
    coarse = RankParams(filter=DepositFilter(commodities=("copper",)), cell_km=100)
    warmed = MemoryEngine.from_store(geo_store, budgets=COMPUTING)
    files = (warmed._grid_cache_path(coarse), warmed._statics_cache_path(coarse))
    progress: list[tuple[int, int]] = []
    computed = warmed.warm_statics(
        coarse, progress=lambda done, total: progress.append((done, total))
    )
    base = warmed._base_grid(coarse)
    assert base is not None and base.done.all() and computed == len(base.grid) > 600
    assert len(progress) == -(-computed // 150) and progress[-1] == (computed, computed)
    assert warmed.warm_statics(coarse) == 0  # nothing left to compute
    before = Counter(warmed.stats)
    result = warmed.rank(coarse)
    delta = _delta(warmed, before)
    assert delta["statics.cells"] == delta["land"] == 0 and delta["components.compute"] == 1
    for path in files:  # the fresh engine builds its grid and computes only its cells
        path.unlink()
    fresh_engine = MemoryEngine.from_store(geo_store, budgets=COMPUTING)
    fresh = fresh_engine.rank(coarse)
    assert 0 < fresh_engine.stats["statics.cells"] < computed
    assert_geodataframe_equal(result.all_cells, fresh.all_cells)


def test_grid_files_are_bounded_on_disk(toy_store: ToyStore) -> None:
    """Synthetic toy store (named as such): with room for one file, each grid or statics
    file written evicts the older ones; a later engine rebuilds what was evicted."""
    budgets = dataclasses.replace(COMPUTING, grid_files_bytes=1)
    engine = MemoryEngine.from_store(toy_store, budgets=budgets)
    first = RankParams(cell_km=1.0, min_undeveloped_share=0)
    second = dataclasses.replace(first, cell_km=2.0)
    engine.rank(first)
    cache = engine._grid_cache_path(first).parent
    assert [p.name for p in cache.glob("grid-*.parquet")] == [
        engine._statics_cache_path(first).name  # written last, so kept
    ]
    engine.rank(second)
    assert [p.name for p in cache.glob("grid-*.parquet")] == [
        engine._statics_cache_path(second).name
    ]
    again = MemoryEngine.from_store(toy_store, budgets=budgets)
    again.rank(first)
    assert again.stats["grid.build"] == 1 and again.stats["grid.load"] == 0
    roomy = MemoryEngine.from_store(toy_store, budgets=COMPUTING)
    roomy.rank(second)
    roomy.rank(first)
    assert len(list(cache.glob("grid-*.parquet"))) == 4  # both grids, both statics
    assert MemoryEngine.from_store(toy_store)._base_grid(first) is not None


def test_a_fresh_engine_reads_the_components_an_earlier_one_wrote(geo_store: Any) -> None:
    """A restarted server answers a filter it ranked before from the file its first
    engine wrote (no grid, kernel or evidence step), with exactly the computed ranking and
    cell contributors; an unreadable file is recomputed and written again."""
    computing = MemoryEngine.from_store(geo_store, budgets=COMPUTING)
    computed = computing.rank(REWEIGHTED)
    writer = MemoryEngine.from_store(geo_store)
    writer.rank(REWEIGHTED)  # computes and writes, or reads an earlier test's file
    writer.close()  # the file is written after the answer; closing waits for it
    key = GOLD.component_key()
    path = components_path(writer._component_files.directory, geo_store.build_id, "memory", key)
    assert path.is_file() and path.stat().st_size > 0

    reader = MemoryEngine.from_store(geo_store)
    result = reader.rank(REWEIGHTED)
    assert reader.stats["components.load"] == 1
    assert {step: reader.stats[step] for step in WEIGHT_INDEPENDENT_STEPS} == dict.fromkeys(
        WEIGHT_INDEPENDENT_STEPS, 0
    )
    assert_geodataframe_equal(result.all_cells, computed.all_cells)
    assert_geodataframe_equal(result.cells, computed.cells)
    assert result.validation == computed.validation and result.notes == computed.notes
    best = result.cells["cell_id"].iloc[0]
    row, contributors = reader.cell(best, REWEIGHTED)
    expected_row, expected = computing.cell(best, REWEIGHTED)
    pd.testing.assert_frame_equal(contributors, expected)
    assert row["explanation"] == expected_row["explanation"]
    # the gates and the weights are applied after the file: other weights, same file
    other = reader.rank(dataclasses.replace(GOLD, min_open_land=0.0))
    assert reader.stats["components.load"] == 1 and reader.stats["components.hit"] == 1
    assert other.total_cells >= result.total_cells

    path.write_bytes(b"not a components file")
    recovering = MemoryEngine.from_store(geo_store)
    again = recovering.rank(REWEIGHTED)
    recovering.close()
    assert recovering.stats["components.compute"] == 1
    assert_geodataframe_equal(again.all_cells, computed.all_cells)
    assert read_components(path, key) is not None  # written again, whole
    assert read_components(path, "another key") is None
