"""Success-rate curve: hand cases, and the gold potential on real data beats random."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from geo.filters import DepositFilter
from geo.scoring import RankParams
from geo.validation import success_rate_curve

NORCAL = (-124.4, 40.0, -122.3, 41.8)


def test_perfect_and_flat_scores() -> None:
    area = np.ones(10)
    score = np.arange(10, 0, -1, dtype=float)  # cell 0 is the best
    perfect = success_rate_curve(score, area, np.array([0, 0, 0]))
    assert perfect["auc"] == pytest.approx(0.95)  # all sites in the first 10 % of area
    assert perfect["y_share"][10] == pytest.approx(1.0)
    flat = success_rate_curve(np.zeros(10), area, np.array([0, 3, 9]))
    assert flat["auc"] == pytest.approx(0.5)  # ties give no credit
    worst = success_rate_curve(score, area, np.array([9]))
    assert worst["auc"] == pytest.approx(0.05)
    assert len(perfect["x_pct"]) == 101 and perfect["x_pct"][-1] == 100.0


def test_off_grid_sites_are_not_counted() -> None:
    out = success_rate_curve(np.ones(3), np.ones(3), np.array([-1, -1]))
    assert out["available"] is False and out["auc"] is None


def test_gold_potential_finds_held_out_mines(geo_engine: Any) -> None:
    result = geo_engine.rank(RankParams(filter=DepositFilter(commodities="gold", bbox=NORCAL)))
    validation = result.validation
    assert validation["available"]
    assert validation["held_out"] > 1000
    assert validation["auc"] > 0.8, validation["auc"]
    assert validation["share_in_top_10pct"] > 0.4
    y = np.array(validation["y_share"])
    assert (np.diff(y) >= -1e-12).all() and y[0] == 0 and y[-1] == pytest.approx(1.0)
