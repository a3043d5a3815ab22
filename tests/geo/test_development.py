"""Development evidence on the real store: an unknown status is not evidence of
under-development, and large-deposit compilations (porphyry copper) count as development,
so the famous producing copper districts of Arizona do not look untouched.

Expected values are computed here by hand from the store's deposits (pyproj, the kernel
of docs/scoring.md), independently of the engine's STRtree pairs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from geo import scoring
from geo.filters import DepositFilter
from geo.grid import point_cell_ids
from geo.scoring import RankParams

#: Producing (or, for Resolution, permitted and drilled-out) porphyry copper districts of
#: Arizona in the USGS compilation (OFR 2008-1155), by their deposit ids there.
ARIZONA_DISTRICTS = {
    "porcu:77": "Morenci-Metcalf",
    "porcu:68": "Ray",
    "porcu:55": "Bagdad",
    "porcu:89": "Esperanza-Sierrita",
    "porcu:706": "Resolution",
}
TO_ALBERS = Transformer.from_crs(4326, 5070, always_xy=True)


def _kernel_sum(cell_xy: np.ndarray, points: pd.DataFrame, weights: np.ndarray) -> float:
    x, y = TO_ALBERS.transform(points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    d = np.hypot(x - cell_xy[0], y - cell_xy[1])
    h = 5_000.0
    return float(np.sum(np.where(d <= 3 * h, weights * np.exp(-0.5 * (d / h) ** 2), 0.0)))


@pytest.fixture(scope="module")
def arizona_copper(geo_engine: Any) -> Any:
    """Every cell kept (``min_open_land=0``): districts on private land are scored too."""
    flt = DepositFilter(commodities="copper", state="AZ")
    return geo_engine.rank(RankParams(filter=flt, min_open_land=0.0))


def test_arizona_copper_districts_are_not_underdeveloped(
    geo_engine: Any, arizona_copper: Any
) -> None:
    deposits = geo_engine.deposits.set_index("id", drop=False)
    cells = arizona_copper.all_cells
    districts = deposits.loc[list(ARIZONA_DISTRICTS)]
    assert districts["name"].tolist() == list(ARIZONA_DISTRICTS.values())
    assert (districts["dev_status"] == "unknown").all()  # the compilation has no status
    cell_ids = point_cell_ids(
        districts["x_m"].to_numpy(),
        districts["y_m"].to_numpy(),
        districts["metric_epsg"].to_numpy(),
        RankParams().spec,
    )
    az = deposits.loc[(deposits["state"] == "AZ").to_numpy()]
    evidence = az.loc[az["commodities"].map(lambda c: "copper" in list(c)).to_numpy()]
    # every AZ copper deposit is a porphyry: w = c 1.0 x s(unknown) 0.4 x (1 + 0.25 critical)
    assert (evidence["source"] == "porphyry_copper").all()
    worked = deposits["dev_status"].isin(["producer", "past_producer"]) | deposits["source"].eq(
        "porphyry_copper"
    )
    developed = deposits.loc[worked.to_numpy()]
    for deposit_id, cell_id in zip(ARIZONA_DISTRICTS, cell_ids, strict=True):
        row = cells.loc[cell_id]
        centre = row[["x_m", "y_m"]].to_numpy(float)
        e = _kernel_sum(centre, evidence, np.full(len(evidence), 0.4 * 1.25))
        d = _kernel_sum(centre, developed, np.ones(len(developed)))
        assert row["potential_raw"] == pytest.approx(e, rel=1e-6), deposit_id
        assert row["development_raw"] == pytest.approx(d, rel=1e-6), deposit_id
        assert row["undeveloped_raw"] == 0 and row["neutral_raw"] == 0
        # U = P (N + 0.5 Q) / (N + Q + D) = P * 0 / D: not under-developed at all (the old
        # rule, with unknown as undeveloped, gave U = P, the highest of the ranking)
        assert row["potential"] > 0.25 and row["underdevelopment"] == 0.0, deposit_id
        explanation = scoring.explain(row, arizona_copper.params["weights"])
        unknown = explanation["inputs"]["unknown_status"]
        assert unknown == {"share": 1.0, "count": row["n_evidence"], "of": row["n_evidence"]}
        assert explanation["inputs"]["large_deposit_compilation_deposits"] == row["n_evidence"]
        assert any("no development status" in n for n in explanation["notes"])
        assert any("large-deposit compilations" in n for n in explanation["notes"])
    top = arizona_copper.cells.iloc[0]["explanation"]["inputs"]["unknown_status"]
    assert top["share"] == 1.0 and top["count"] >= 1  # said in every served explanation
    # with the default open-land gate a district cell is either left out or still U = 0
    gated = geo_engine.rank(RankParams(filter=DepositFilter(commodities="copper", state="AZ")))
    for cell_id in cell_ids:
        if cell_id in gated.all_cells.index:
            assert gated.all_cells.loc[cell_id, "underdevelopment"] == 0.0


def test_unknown_status_is_neutral_not_untouched(geo_engine: Any) -> None:
    """Nevada tungsten records carry no status: a cell whose evidence is only those, with
    no development near, gets U = 0.5 P (neutral), not U = P."""
    result = geo_engine.rank(
        RankParams(
            filter=DepositFilter(commodities="tungsten", state="NV"), top=None, min_open_land=0.0
        )
    )
    cells = result.all_cells
    only_unknown = (
        (cells["undeveloped_raw"] == 0)
        & (cells["development_raw"] == 0)
        & (cells["neutral_raw"] > 0)
    )
    assert only_unknown.sum() > 50
    picked = cells.loc[only_unknown]
    np.testing.assert_allclose(picked["underdevelopment"], 0.5 * picked["potential"])
    assert cells["underdevelopment"].max() <= 0.5 + 1e-12  # no NV tungsten cell looks untouched
    best = cells.sort_values("potential", ascending=False).iloc[0]
    assert best["underdevelopment"] < best["potential"]


def test_development_evidence_classes() -> None:
    """Synthetic rows (named as such), one per case."""
    rows = pd.DataFrame(
        {
            "dev_status": ["producer", "prospect", "unknown", "unknown", "occurrence", None],
            "source": [
                "mrds",
                "mrds",
                "mrds_tungsten",
                "porphyry_copper",
                ["mrds", "porphyry_copper"],
                "x",
            ],
        }
    )
    dev = scoring.development_evidence(rows)
    assert dev.developed.tolist() == [True, False, False, True, True, False]
    assert dev.neutral.tolist() == [False, False, True, False, False, True]
    assert dev.unknown_status.tolist() == [False, False, True, True, False, True]
    assert dev.compilation.tolist() == [False, False, False, True, True, False]


def test_underdevelopment_formula_by_hand() -> None:
    # N = 1, Q = 2, D = 1: U = P (1 + 0.5 * 2) / (1 + 2 + 1) = 0.5 P
    u = scoring.underdevelopment(
        np.array([0.8, 0.8, 0.8, 0.8]),
        np.array([1.0, 0, 0, 0]),
        np.array([2.0, 2.0, 0, 0]),
        np.array([1.0, 0, 1.0, 0]),
    )
    assert u.tolist() == pytest.approx([0.4, 0.4, 0.0, 0.0])
