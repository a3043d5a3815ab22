"""Scoring: the synthetic two-cell toy grid computed by hand from docs/scoring.md, the
Pareto front on a hand case, evidence weights and parameter validation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from geo import scoring
from geo.components import top_candidates, top_contributors
from geo.engine import MemoryEngine
from geo.filters import DepositFilter
from geo.scoring import (
    DEFAULT_WEIGHTS,
    RankParams,
    access_component,
    combine,
    evidence_weights,
    pareto_front,
    validate_weights,
)
from layers.errors import InvalidParameterError, UnknownCommodityError
from tests.geo.conftest import TOY_COL, TOY_ROW, ToyStore

H = 2000.0  # bandwidth used on the toy (m)


def k(d: float) -> float:
    """The documented kernel: exp(-d^2 / (2 h^2)) within 3 h."""
    return math.exp(-(d**2) / (2 * H**2)) if d <= 3 * H else 0.0


def m(d: float, d50: float) -> float:
    return 1.0 / (1.0 + (d / d50) ** 2)


def test_two_cell_toy_grid_matches_the_documented_formulas(toy_store: ToyStore) -> None:
    engine = MemoryEngine.from_store(toy_store)
    # the development gate off: the toy's cells are checked against the formulas, both
    result = engine.rank(RankParams(bandwidth_km=2.0, top=None, min_undeveloped_share=0))
    cells = result.all_cells
    a_id, b_id = f"g5070-5000-{TOY_COL}-{TOY_ROW}", f"g5070-5000-{TOY_COL + 1}-{TOY_ROW}"
    assert sorted(cells.index) == sorted([a_id, b_id])
    a, b = cells.loc[a_id], cells.loc[b_id]

    # Evidence weights w = c * s * (1 + 0.25 k): producer gold 1.0, occurrence gold 0.5,
    # chromium (critical) prospect 0.6 * 1.25 = 0.75. d1 at A's centre, d2 1 km east,
    # d3 at B's centre; the centres are 5 km apart.
    e_a = 1.0 * k(0) + 0.5 * k(1000) + 0.75 * k(5000)
    e_b = 1.0 * k(5000) + 0.5 * k(4000) + 0.75 * k(0)
    assert a["potential_raw"] == pytest.approx(e_a, rel=1e-6)
    assert b["potential_raw"] == pytest.approx(e_b, rel=1e-6)
    top = max(e_a, e_b)
    p_a, p_b = math.log1p(e_a) / math.log1p(top), math.log1p(e_b) / math.log1p(top)

    # Underdevelopment U = P * N / (N + D); D: the producer (v 1) and the active claim
    # (v 0.5, at its centre 1.5 km NE of B's centre: 6.67 km from A, beyond the 6 km reach).
    n_a = 0.5 * k(1000) + 0.75 * k(5000)
    n_b = 0.5 * k(4000) + 0.75 * k(0)
    d_a = 1.0 * k(0)
    d_b = 1.0 * k(5000) + 0.5 * k(math.hypot(1500, 1500))
    assert a["development_raw"] == pytest.approx(d_a, rel=1e-6)
    # (the claim's point is taken on its lon/lat parcel: a metre off its metric centre)
    assert b["development_raw"] == pytest.approx(d_b, rel=1e-4)
    u_a, u_b = p_a * n_a / (n_a + d_a), p_b * n_b / (n_b + d_b)

    # Access from road (d50 5 km, weight 0.5) and power (10 km, 0.25); there is no rail
    # layer, so rail is left out and the weights renormalized over 0.75.
    acc_a = (0.5 * m(1000, 5000) + 0.25 * m(9000, 10_000)) / 0.75
    acc_b = (0.5 * m(6000, 5000) + 0.25 * m(4000, 10_000)) / 0.75
    assert np.isnan(a["dist_rail_m"]) and np.isnan(b["dist_rail_m"])

    # Land: the land outline is inset 1 m; a wilderness (closed) covers A's western
    # 1250 m; a 500 m x 500 m active claim sits in B; the rest is open national forest.
    land_a = 3750 * 4998 / (4999 * 4998)
    land_b = (4999 * 4998 - 500 * 500) / (4999 * 4998)

    w = DEFAULT_WEIGHTS
    for row, (p, u, acc, land) in ((a, (p_a, u_a, acc_a, land_a)), (b, (p_b, u_b, acc_b, land_b))):
        assert row["potential"] == pytest.approx(p, rel=1e-6)
        assert row["underdevelopment"] == pytest.approx(u, rel=1e-6)
        assert row["access"] == pytest.approx(acc, abs=1e-5)
        assert row["land"] == pytest.approx(land, abs=1e-5)
        expected = (
            w["potential"] * p + w["underdevelopment"] * u + w["access"] * acc + w["land"] * land
        ) / sum(w.values())
        assert row["score"] == pytest.approx(expected, abs=1e-5)
        assert row["claims_covered"]
    assert cells["rank"].tolist() == [1, 2]
    assert cells["score"].is_monotonic_decreasing

    explanation = result.cells.loc[a_id, "explanation"]
    assert explanation["top_deposits"][0]["id"] == "toy:d1"
    assert explanation["inputs"]["access_kinds_used"] == ["road", "power"]
    assert any("rail" in note for note in explanation["notes"])
    assert result.manifest["build_id"] == "toy-build"


def test_toy_cell_lookup_lists_contributing_deposits(toy_store: ToyStore) -> None:
    engine = MemoryEngine.from_store(toy_store)
    params = RankParams(bandwidth_km=2.0)
    row, contributors = engine.cell(f"g5070-5000-{TOY_COL + 1}-{TOY_ROW}", params)
    assert row["rank"] in (1, 2)
    assert contributors["id"].tolist()[0] == "toy:d3"
    assert contributors["contribution"].is_monotonic_decreasing
    assert set(contributors["id"]) == {"toy:d1", "toy:d2", "toy:d3"}


def test_pareto_front_hand_case() -> None:
    values = np.array(
        [
            [1.0, 0.0, 0.5],  # best on the first component
            [0.0, 1.0, 0.5],  # best on the second
            [0.5, 0.5, 0.5],  # a balanced trade-off nobody beats everywhere
            [0.4, 0.4, 0.5],  # dominated by the row above
            [1.0, 0.0, 0.5],  # a duplicate of a front member is not dominated
            [0.5, 0.5, np.nan],  # NaN counts as 0: dominated by row 2
        ]
    )
    assert pareto_front(values).tolist() == [True, True, True, False, True, False]
    assert pareto_front(np.zeros((0, 3))).tolist() == []


def test_combine_skips_unknown_components() -> None:
    table = pd.DataFrame(
        {
            "potential": [0.8, 0.2],
            "underdevelopment": [0.5, 0.1],
            "access": [np.nan, 0.4],
            "land": [1.0, 0.0],
        }
    )
    w = {"potential": 2.0, "underdevelopment": 1.0, "access": 1.0, "land": 1.0}
    score = combine(table, w)
    assert score[0] == pytest.approx((2 * 0.8 + 0.5 + 1.0) / 4)
    assert score[1] == pytest.approx((2 * 0.2 + 0.1 + 0.4 + 0.0) / 5)


def test_access_is_null_without_any_distance() -> None:
    frame = pd.DataFrame(
        {
            "dist_road_m": [np.nan, 5000.0],
            "dist_rail_m": [np.nan, np.nan],
            "dist_power_m": [np.nan, np.nan],
        }
    )
    value, used = access_component(frame)
    assert np.isnan(value[0]) and used[0] == 0
    assert value[1] == pytest.approx(0.5) and used[1] == 1


def test_evidence_weights_follow_the_documented_defaults() -> None:
    deposits = pd.DataFrame(
        {
            "commodities": [["gold"], ["chromium", "gold"], [], ["sand_and_gravel"], ["gold"]],
            "dev_status": ["producer", "occurrence", "past_producer", "producer", "plant"],
        }
    )
    w = evidence_weights(deposits, RankParams())
    assert w.tolist() == pytest.approx([1.0, 0.5 * 1.25, 0.0, 0.2, 0.2])
    # A gold-only filter counts only gold: no critical boost for the chromium-gold deposit.
    w_gold = evidence_weights(deposits, RankParams(filter=DepositFilter(commodities="gold")))
    assert w_gold.tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0, 0.2])
    custom = RankParams(
        commodity_weights={"gold": 2.0}, status_weights={"plant": 0.0}, critical_boost=0.0
    )
    assert evidence_weights(deposits, custom).tolist() == pytest.approx([2.0, 1.0, 0.0, 0.2, 0.0])


@pytest.mark.parametrize(
    "weights",
    [
        {"potential": -1.0},
        {"potential": float("nan")},
        {"luck": 1.0},
        {"potential": "high"},
        {"potential": 0, "underdevelopment": 0, "access": 0, "land": 0},
    ],
)
def test_weights_validation_errors(weights: dict) -> None:
    with pytest.raises(InvalidParameterError):
        RankParams(weights=weights)


def test_weights_override_defaults_by_name() -> None:
    assert validate_weights({"access": 0.0}) == {**DEFAULT_WEIGHTS, "access": 0.0}
    assert RankParams(weights={"land": 1}).weights["land"] == 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cell_km": 0.1},
        {"cell_km": 1000},
        {"shape": "triangle"},
        {"top": 0},
        {"bandwidth_km": 0.0},
        {"status_weights": {"mined_out": 1.0}},
        {"critical_boost": -1},
        {"max_cells": 0},
        {"top_deposits": -1},
    ],
)
def test_rank_params_validation(kwargs: dict) -> None:
    with pytest.raises(InvalidParameterError):
        RankParams(**kwargs)


def test_unknown_commodity_weight_is_a_commodity_error() -> None:
    with pytest.raises(UnknownCommodityError):
        RankParams(commodity_weights={"unobtainium": 1.0})


def test_params_are_hashable_cache_keys() -> None:
    a = RankParams(filter=DepositFilter(commodities="AU"), weights={"land": 0.5})
    b = RankParams(filter=DepositFilter(commodities=["AU"]), weights={"land": 0.5})
    assert a == b and hash(a) == hash(b)
    assert a.to_dict()["weights"]["land"] == 0.5


@pytest.mark.parametrize("block", [scoring.PAIR_QUERY_BLOCK, 64])
def test_kernel_pairs_are_every_cell_within_the_reach_in_point_order(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a brute-force distance matrix (synthetic grid and points): the same pairs
    and distances, a cell at exactly the reach included, rows in point order, in one
    block or in many on threads; a point with more cells in reach than a square grid's
    bound (a denser layout) still gets all."""
    monkeypatch.setattr(scoring, "PAIR_QUERY_BLOCK", block)
    cell = 1000.0
    cols, rows = np.meshgrid(np.arange(30), np.arange(20))
    cells = np.column_stack([(cols.ravel() + 0.5) * cell, (rows.ravel() + 0.5) * cell])
    rng = np.random.default_rng(20261203)
    points = np.vstack([rng.uniform(-2000, 32000, (500, 2)), [[3500.0, 500.0]]])
    reach = 3000.0  # the last point is exactly 3 km from the centre (500, 500)
    dense = np.vstack([cells, cells + 1.0])  # two centres per square: over the bound
    for layout in (cells, dense):
        got_cell, got_point, got_dist = scoring.kernel_pairs(layout, points, reach, cell)
        distance = np.hypot(*(points[:, None, :] - layout[None, :, :]).transpose(2, 0, 1))
        want_point, want_cell = np.nonzero(distance <= reach)
        assert np.all(np.diff(got_point) >= 0)
        got = np.lexsort((got_cell, got_point))
        assert np.array_equal(got_point[got], want_point)
        assert np.array_equal(got_cell[got], want_cell)
        np.testing.assert_allclose(got_dist[got], distance[want_point, want_cell], rtol=1e-12)
        assert 0 in got_cell[got_point == len(points) - 1]  # at the reach, included
    most = np.bincount(want_point).max()  # of the dense layout: asked again with more
    assert (
        most
        > scoring.lattice_neighbours(reach, cell)
        >= np.bincount(
            np.nonzero(np.hypot(*(points[:, None, :] - cells[None]).transpose(2, 0, 1)) <= reach)[0]
        ).max()
    )


def test_top_contributors_equal_a_full_sort_ties_included() -> None:
    """The candidate pruning gives the lists a stable sort of every pair gives (synthetic
    pairs with many tied contributions, a cell with most of them, cells with fewer pairs
    than asked)."""
    rng = np.random.default_rng(7)
    n_cells, n = 400, 60_000
    cell = rng.integers(0, n_cells - 5, n)  # the last five cells have no pair
    cell[:5000] = 3
    deposit = np.arange(n) // 7
    contribution = np.round(rng.exponential(1.0, n) * rng.random(n) ** 3, 2)
    ids = np.array([f"d{i}" for i in range(deposit.max() + 1)], dtype=object)
    for k in (1, 5):
        order = np.lexsort((np.arange(n), -contribution, cell))  # cell, largest first, input
        kept = [order[cell[order] == c][:k] for c in range(n_cells)]
        got_ids, got_values = top_contributors(cell, deposit, contribution, ids, n_cells, k)
        assert got_ids == [ids[deposit[p]].tolist() for p in kept]
        assert got_values == [np.round(contribution[p], 4).tolist() for p in kept]
        assert len(top_candidates(cell, contribution, n_cells, k)) < n / 2
