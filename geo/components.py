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
names and land shares do) adds a column here and fills it in
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
from geo.landstatus import LAND_SHARE_COLUMNS
from geo.places import PLACE_COLUMNS
from geo.scoring import COMPONENTS, RankParams, RankResult
from geo.validation import holdout_validation

#: Per-cell inputs computed once per base-grid cell (filter-independent): the land
#: shares by status and the place names (``geo.landstatus``, ``geo.places``) among them.
CELL_STATIC_COLUMNS: tuple[str, ...] = (
    *LAND_SHARE_COLUMNS,
    *PLACE_COLUMNS,
    "claims_covered",
    "development_raw",
    "worked_raw",
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
    ``evidence_positions`` (rows of the engine's deposits, in pair order), ``evidence_weights``
    and the pair arrays serve ``MemoryEngine.cell`` (a cell's contributors): positions, not
    a copy of the deposits, which was two thirds of a national ranking's components
    (374 of 549 MiB at 25 km) and kept them over the cache budget, so every weights-only
    change recomputed them.
    """

    table: gpd.GeoDataFrame
    evidence_positions: np.ndarray
    evidence_weights: np.ndarray
    pair_cell: np.ndarray
    pair_deposit: np.ndarray
    pair_contribution: np.ndarray
    validation: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    #: Per evidence deposit: its cell position (-1 off the grid) and whether it is a
    #: producer (held out); the open-land gate re-runs the validation on its cells.
    point_cells: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    developed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: ``gated_validation`` by ``min_open_land``: it depends on the gate, not the
    #: weights, so a weights-only change reuses it instead of re-running the validation
    #: over every kernel pair.
    gated_validations: dict[float, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def cell_index(self) -> pd.Index:
        return self.table.index


def weighted_ranking(
    components: RankComponents, params: RankParams, manifest: dict[str, Any]
) -> RankResult:
    """Score, Pareto flags, order, ranks and explanations: the weight-dependent stage.

    The gates are applied here, after scoring: the Pareto front and the ranks see only the
    cells both keep. The validation sees the cells the open-land gate keeps: it measures
    how well the potential finds the known producers, which the development gate
    (``scoring.development_gate``) leaves out by design."""
    on_open_land = scoring.open_land_gate(components.table, params.min_open_land)
    undeveloped = scoring.development_gate(components.table, params.min_undeveloped_share)
    kept = np.flatnonzero(on_open_land & undeveloped)
    # Scored from a few numeric columns, then the table taken once in ranked order: each
    # take of the whole table (60 columns, many Arrow-backed) cost ~30 ms at 15k cells.
    scored = components.table[list(COMPONENTS)].iloc[kept]
    weights = params.weights or scoring.DEFAULT_WEIGHTS
    n = len(kept)
    score = scoring.combine(scored, weights)
    front_on = [c for c in COMPONENTS if weights[c] > 0]
    pareto = scoring.pareto_front(scored[front_on].to_numpy(float))
    potential = scored["potential"].to_numpy(float)
    ids = scored.index.to_numpy(dtype=str)
    # Best score first, NaN scores last, ties by potential then id (lexsort: last key first).
    order = np.lexsort((ids, -potential, -np.nan_to_num(score, nan=-np.inf), np.isnan(score)))
    all_cells = components.table.take(kept[order])
    at = all_cells.columns.get_loc("land") + 1
    all_cells.insert(at, "score", score[order])
    all_cells.insert(at + 1, "pareto", pareto[order])
    all_cells.insert(0, "rank", np.arange(1, n + 1))
    top = all_cells.head(params.top) if params.top else all_cells
    top = top.copy()
    top["explanation"] = [scoring.explain(r, weights) for r in top.to_dict("records")]
    gated = components.table.loc[~on_open_land, list(BLOCKING_SHARES)]
    return RankResult(
        cells=gpd.GeoDataFrame(top, geometry="geometry", crs=4326),
        all_cells=gpd.GeoDataFrame(all_cells, geometry="geometry", crs=4326),
        params=params.to_dict(),
        manifest=manifest,
        validation=(
            _gated_validation(components, on_open_land, params.min_open_land)
            if len(gated)
            else components.validation
        ),
        notes=[
            *components.notes,
            *land_notes(all_cells, gated, params.min_open_land),
            *development_notes(components.table, on_open_land & ~undeveloped, params),
        ],
    )


def _gated_validation(
    components: RankComponents, kept: np.ndarray, min_open_land: float
) -> dict[str, Any]:
    """``gated_validation``, computed once per gate value of the components."""
    found = components.gated_validations.get(min_open_land)
    if found is None:
        found = components.gated_validations[min_open_land] = gated_validation(components, kept)
    return found


def gated_validation(components: RankComponents, kept: np.ndarray) -> dict[str, Any]:
    """The validation on the cells the open-land gate keeps: a held-out site in a cell
    left out counts as off the grid, and left-out cells have no area."""
    cells = components.point_cells
    on_kept = np.where(cells >= 0, kept[np.maximum(cells, 0)], False)
    return holdout_validation(
        components.pair_cell,
        components.pair_deposit,
        components.pair_contribution,
        components.developed,
        np.where(on_kept, cells, -1),
        np.where(kept, components.table["area_m2"].to_numpy(float), 0.0),
        len(kept),
    )


#: The land shares that keep a cell out of the open-land gate (the notes name the largest).
BLOCKING_SHARES = tuple(
    f"land_{part}_share" for part in ("closed", "restricted", "claimed", "non_federal")
)


def land_notes(kept: pd.DataFrame, gated: pd.DataFrame, min_open_land: float) -> list[str]:
    """What the open-land gate left out (or, when it is off, would have), and which kept
    cells lie on land of unknown status."""
    notes: list[str] = []
    if len(gated):
        largest = gated[list(BLOCKING_SHARES)].idxmax(axis=1)
        counts = largest.str[len("land_") : -len("_share")].value_counts()
        parts = ", ".join(f"{k} {counts[k]}" for k in sorted(counts.index))
        notes.append(
            f"the open-land gate left out {len(gated)} cells with less than "
            f"{100 * min_open_land:g} % of their land open or of unknown status (mostly "
            f"{parts}); min_open_land=0 shows every cell"
        )
    if min_open_land <= 0 and len(kept) and "land_open_share" in kept:
        blocked = int((~scoring.open_land_gate(kept, scoring.DEFAULT_MIN_OPEN_LAND)).sum())
        notes.append(
            f"the open-land gate is off (min_open_land=0): {blocked} cells known to offer no "
            f"open land are included (the default {scoring.DEFAULT_MIN_OPEN_LAND:g} would "
            "leave them out)"
        )
    flagged = int(kept["land_flag"].notna().sum()) if "land_flag" in kept else 0
    if flagged:
        notes.append(
            f"{flagged} of {len(kept)} cells lie partly or wholly on land of unknown status "
            "(flagged in land_flag: BLM land of a state where the data does not map BLM's "
            "national monuments and conservation areas, or land on no mapped unit where no "
            "layer maps all federal land, as in most of Alaska); their land component is "
            "the open share of the known part"
        )
    return notes


def development_notes(
    table: pd.DataFrame, left_out: np.ndarray, params: scoring.RankParams
) -> list[str]:
    """What the development gate left out (or, when it is off, would have), by reason."""
    if params.min_undeveloped_share > 0:
        if not left_out.any():
            return []
        share = scoring.undeveloped_share(table)
        mostly = left_out & (share + scoring.LAND_SHARE_EPS < params.min_undeveloped_share)
        district = left_out & ~mostly
        named = [c for c in ("potential", "best_deposit_name") if c in table.columns]
        names = _district_names(table.loc[left_out, named])
        return [
            f"the development gate left out {int(left_out.sum())} cells of known worked "
            f"ground: {int(mostly.sum())} whose evidence is mostly "
            f"development (undeveloped share below {params.min_undeveloped_share:g}) and "
            f"{int(district.sum())} in mining districts (at least "
            f"{scoring.MINING_DISTRICT_DENSITY:g} worked deposits per 100 km²){names}; "
            "min_undeveloped_share=0 shows every cell"
        ]
    would = ~scoring.development_gate(table, scoring.DEFAULT_MIN_UNDEVELOPED_SHARE)
    return [
        f"the development gate is off (min_undeveloped_share=0): {int(would.sum())} cells "
        "of known worked ground (evidence mostly development, or a mining district) are "
        f"included (the default {scoring.DEFAULT_MIN_UNDEVELOPED_SHARE:g} would leave them "
        "out)"
    ]


def _district_names(cells: pd.DataFrame, count: int = 3) -> str:
    """ ", e.g. near A, B, C": the best deposits of the highest-potential cells left out."""
    if "best_deposit_name" not in cells.columns:
        return ""
    best = cells.sort_values("potential", ascending=False)["best_deposit_name"].dropna()
    names = list(dict.fromkeys(best.tolist()))[:count]
    return f"; e.g. {', '.join(names)}" if names else ""


def contribution_order(cell: np.ndarray, contribution: np.ndarray, top: float) -> np.ndarray:
    """Pair order by cell, then contribution descending, ties in input order.

    One stable sort of a float key ``cell + 0.5 - contribution / (2 top)`` (``top``: the
    largest contribution of the ranking) instead of a three-key lexsort: 4-5x faster on
    the ~10^7 pairs of a national ranking. Contributions closer than about 1e-10 x
    ``top`` count as tied (far below the 4 digits shown)."""
    scale = 2.0 * top if top > 0 else 1.0
    return np.argsort(cell + (0.5 - contribution / scale), kind="stable")


#: ``top_candidates`` keeps about this many pairs per cell and contributor shown.
CANDIDATES_PER_TOP = 4


def top_candidates(cell: np.ndarray, contribution: np.ndarray, n_cells: int, k: int) -> np.ndarray:
    """Positions (ascending) of the pairs that may be among their cell's ``k`` largest:
    every pair at or above a threshold g in a cell with at least ``k`` such pairs (its
    ``k`` largest are among them), every pair of the other cells. g is the contribution
    that about ``CANDIDATES_PER_TOP * k`` pairs per cell reach, so the sort that follows
    orders a few percent of the pairs: 8.3 million random pairs over 16,000 cells, ``k``
    5, 1.80 -> 0.15 s, the same lists."""
    want = CANDIDATES_PER_TOP * k * n_cells
    if want >= len(cell):
        return np.arange(len(cell))
    threshold = np.partition(contribution, len(cell) - want)[len(cell) - want]
    above = contribution >= threshold
    enough = np.bincount(cell[above], minlength=n_cells) >= k
    return np.flatnonzero(above | ~enough[cell])


def top_contributors(
    cell: np.ndarray,
    dep: np.ndarray,
    contribution: np.ndarray,
    ids: np.ndarray,
    n_cells: int,
    k: int,
) -> tuple[list, list]:
    """Per cell, the ids and contributions of its ``k`` largest contributors (ties: the
    pair found first, i.e. the deposit listed first)."""
    if k == 0 or len(cell) == 0:
        return [[] for _ in range(n_cells)], [[] for _ in range(n_cells)]
    candidates = top_candidates(cell, contribution, n_cells, k)
    order = candidates[
        contribution_order(cell[candidates], contribution[candidates], float(contribution.max()))
    ]
    cell_sorted = cell[order]
    first = np.flatnonzero(np.r_[True, cell_sorted[1:] != cell_sorted[:-1]])
    runs = np.diff(np.r_[first, len(order)])
    rank_in_cell = np.arange(len(order)) - np.repeat(first, runs)
    keep = order[rank_in_cell < k]
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
