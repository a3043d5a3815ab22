"""Ranking components: what a ranking computes once per (filter, grid), apart from weights.

A ranking has two stages. The first depends on the deposit filter, the evidence weights
(commodity and status weights, critical boost), the grid (cell size and shape) and the
kernel (bandwidth), never on the component weights: the grid's cells, the kernel pairs
between cells and evidence deposits, the per-cell evidence, development, access and land
shares, the top contributors, counts and the validation. :class:`RankComponents` holds
all of it as named fields, and the engine caches it per :meth:`RankParams.component_key`.

The second stage, :func:`weighted_ranking`, is all that a change of the component weights
recomputes: the weighted score, the Pareto flags, the order, the ranks and the
explanations of the top cells. It is pure numpy/pandas over the cached record.

Per-cell inputs that depend only on the cell (and the kernel), never on the filter, are
the *cell statics* (``CELL_STATIC_COLUMNS``): the engine computes them once per cell of a
base grid and reuses them for every filter. A stream adding such a per-cell input (place
names, an unknown land share) adds a column here and fills it in
``MemoryEngine.cell_statics``; one adding a per-filter input adds a column to
``RankComponents.table``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo import scoring
from geo.access import DISTANCE_COLUMNS
from geo.scoring import COMPONENTS, RankParams, RankResult

#: Per-cell inputs computed once per base-grid cell (filter-independent).
CELL_STATIC_COLUMNS: tuple[str, ...] = (
    "land_area_m2",
    "claims_covered",
    "development_raw",
    "active_claims",
    *DISTANCE_COLUMNS.values(),
)


@dataclass
class RankComponents:
    """Everything of a ranking that does not depend on the component weights.

    ``table`` is indexed by ``cell_id`` in grid order and holds the grid's columns
    (geometry, centre, area), the cell aggregates (``n_deposits``, ``n_<status>``,
    ``evidence_sum``), the four components, their raw inputs, the distances, the claims
    columns, ``top_deposit_ids``/``top_deposit_contributions`` and ``commodity_counts``:
    every column of ``RankResult.all_cells`` except ``rank``, ``score`` and ``pareto``.
    ``evidence`` and the pair arrays serve ``MemoryEngine.cell`` (a cell's contributors).
    """

    table: gpd.GeoDataFrame
    evidence: gpd.GeoDataFrame
    pair_cell: np.ndarray
    pair_deposit: np.ndarray
    pair_contribution: np.ndarray
    validation: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def cell_index(self) -> pd.Index:
        return self.table.index


def weighted_ranking(
    components: RankComponents, params: RankParams, manifest: dict[str, Any]
) -> RankResult:
    """Score, Pareto flags, order, ranks and explanations: the weight-dependent stage."""
    table = components.table
    weights = params.weights or scoring.DEFAULT_WEIGHTS
    n = len(table)
    score = scoring.combine(table, weights)
    front_on = [c for c in COMPONENTS if weights[c] > 0]
    pareto = scoring.pareto_front(table[front_on].to_numpy(float))
    potential = table["potential"].to_numpy(float)
    ids = table.index.to_numpy(dtype=str)
    # Best score first, NaN scores last, ties by potential then id (lexsort: last key first).
    order = np.lexsort((ids, -potential, -np.nan_to_num(score, nan=-np.inf), np.isnan(score)))
    all_cells = table.iloc[order].copy()
    at = all_cells.columns.get_loc("land") + 1
    all_cells.insert(at, "score", score[order])
    all_cells.insert(at + 1, "pareto", pareto[order])
    all_cells.insert(0, "rank", np.arange(1, n + 1))
    top = all_cells.head(params.top) if params.top else all_cells
    top = top.copy()
    top["explanation"] = [scoring.explain(r, weights) for r in top.to_dict("records")]
    return RankResult(
        cells=gpd.GeoDataFrame(top, geometry="geometry", crs=4326),
        all_cells=gpd.GeoDataFrame(all_cells, geometry="geometry", crs=4326),
        params=params.to_dict(),
        manifest=manifest,
        validation=components.validation,
        notes=list(components.notes),
    )


def top_contributors(
    cell: np.ndarray,
    dep: np.ndarray,
    contribution: np.ndarray,
    ids: np.ndarray,
    n_cells: int,
    k: int,
) -> tuple[list, list]:
    """Per cell, the ids and contributions of its ``k`` largest contributors."""
    if k == 0 or len(cell) == 0:
        return [[] for _ in range(n_cells)], [[] for _ in range(n_cells)]
    order = np.lexsort((dep, -contribution, cell))  # ties: the first deposit first
    cell_sorted = cell[order]
    starts = np.searchsorted(cell_sorted, cell_sorted, side="left")
    keep = order[(np.arange(len(order)) - starts) < k]
    bounds = np.searchsorted(cell[keep], np.arange(n_cells + 1))
    id_values = ids[dep[keep]].tolist()
    contrib_values = np.round(contribution[keep], 4).tolist()
    return (
        [id_values[a:b] for a, b in itertools.pairwise(bounds)],
        [contrib_values[a:b] for a, b in itertools.pairwise(bounds)],
    )


def commodity_counts(agg: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, int]]]:
    """Split ``aggregate_cells`` output into its count columns and per-cell commodity dicts."""
    commodity_cols = [c for c in agg.columns if c.startswith("c_")]
    base = agg.drop(columns=commodity_cols)
    if not commodity_cols:
        return base, [{} for _ in range(len(agg))]
    counts = agg[commodity_cols].to_numpy()
    names = [c[2:] for c in commodity_cols]
    rows, cols = np.nonzero(counts)
    values = counts[rows, cols].tolist()
    out: list[dict[str, int]] = [{} for _ in range(len(agg))]
    for r, c, v in zip(rows.tolist(), cols.tolist(), values, strict=True):
        out[r][names[c]] = int(v)
    return base, out


def empty_cells() -> gpd.GeoDataFrame:
    columns = ["rank", "cell_id", "score", *COMPONENTS, "pareto", "top_deposit_ids", "explanation"]
    return gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in columns},
        geometry=gpd.GeoSeries([], crs=4326),
        crs=4326,
    )
