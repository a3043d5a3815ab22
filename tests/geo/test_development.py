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
from layers.catalog import large_deposit_compilations
from layers.errors import InvalidParameterError, NotFoundError

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
    """Every cell kept (both gates off): districts on private land, and the worked
    districts the development gate leaves out, are scored too."""
    flt = DepositFilter(commodities="copper", state="AZ")
    return geo_engine.rank(RankParams(filter=flt, min_open_land=0.0, min_undeveloped_share=0))


def _cell_ids(sites: pd.DataFrame) -> np.ndarray:
    """The cell of the default grid holding each site."""
    return point_cell_ids(
        sites["x_m"].to_numpy(),
        sites["y_m"].to_numpy(),
        sites["metric_epsg"].to_numpy(),
        RankParams().spec,
    )


def _district_sites(deposits: pd.DataFrame) -> pd.DataFrame:
    """The site holding each district's porphyry-copper record (the record itself when
    the store has no sites)."""
    if "records" not in deposits.columns:
        return deposits.loc[list(ARIZONA_DISTRICTS)]
    members = deposits[["id", "records"]].explode("records").set_index("records")["id"]
    return deposits.loc[[members[i] for i in ARIZONA_DISTRICTS]]


def test_arizona_copper_districts_are_not_underdeveloped(
    geo_engine: Any, arizona_copper: Any
) -> None:
    deposits = geo_engine.deposits.set_index("id", drop=False)
    cells = arizona_copper.all_cells
    districts = _district_sites(deposits)
    cell_ids = _cell_ids(districts)
    # by hand: the filter's evidence (AZ, copper), w = c 1.0 x s(status) x 1.25 (copper is
    # critical under the default list); development: producers, past producers and every
    # deposit with a record from a large-deposit compilation, v = 1 (no claims data in AZ)
    sources = deposits["sources"] if "sources" in deposits.columns else deposits["source"]
    compilation = sources.map(
        lambda s: bool(({s} if isinstance(s, str) else set(s)) & large_deposit_compilations())
    ).to_numpy(bool)
    worked = deposits["dev_status"].isin(["producer", "past_producer"]).to_numpy() | compilation
    in_az = (deposits["state"] == "AZ").to_numpy()
    copper = deposits["commodities"].map(lambda c: "copper" in list(c)).to_numpy()
    status_w = deposits["dev_status"].map(scoring.DEFAULT_STATUS_WEIGHTS).to_numpy(float)
    w = status_w * 1.25
    evidence = in_az & copper
    undeveloped = evidence & ~worked & deposits["dev_status"].ne("unknown").to_numpy()
    neutral = evidence & ~worked & deposits["dev_status"].eq("unknown").to_numpy()
    assert compilation[[deposits.index.get_loc(i) for i in districts.index]].all()
    for name, cell_id in zip(ARIZONA_DISTRICTS.values(), cell_ids, strict=True):
        row = cells.loc[cell_id]
        centre = row[["x_m", "y_m"]].to_numpy(float)
        e = _kernel_sum(centre, deposits.loc[evidence], w[evidence])
        n = _kernel_sum(centre, deposits.loc[undeveloped], w[undeveloped])
        q = _kernel_sum(centre, deposits.loc[neutral], w[neutral])
        d = _kernel_sum(centre, deposits.loc[worked], np.ones(int(worked.sum())))
        assert row["potential_raw"] == pytest.approx(e, rel=1e-6), name
        assert row["undeveloped_raw"] == pytest.approx(n, rel=1e-6, abs=1e-12), name
        assert row["neutral_raw"] == pytest.approx(q, rel=1e-6, abs=1e-12), name
        assert row["development_raw"] == pytest.approx(d, rel=1e-6), name
        # worked deposits per 100 km²: D over the truncated kernel's integral (no claims)
        density = d / (2 * np.pi * 5_000.0**2 * (1 - np.exp(-4.5))) * 1e8
        assert row["worked_density"] == pytest.approx(density, rel=1e-6), name
        u = row["potential"] * (n + 0.5 * q) / (n + q + d)
        assert row["underdevelopment"] == pytest.approx(u, rel=1e-6, abs=1e-12), name
        # a producing district: development outweighs the undeveloped evidence around it
        # more than twice, below the development gate (the old rule, unknown as
        # undeveloped and the compilation as evidence only, gave U = P wherever the 2008
        # compilation was the only source)
        assert (n + 0.5 * q) / (n + q + d) < scoring.DEFAULT_MIN_UNDEVELOPED_SHARE, name
        assert row["underdevelopment"] < row["potential"] / 3, name
        explanation = scoring.explain(row, arizona_copper.params["weights"])
        unknown = explanation["inputs"]["unknown_status"]
        assert unknown["of"] == row["n_evidence"] and 0 <= unknown["count"] <= unknown["of"]
        assert explanation["inputs"]["large_deposit_compilation_deposits"] >= 1
        assert any("large-deposit compilations" in note for note in explanation["notes"])
    top = arizona_copper.cells.iloc[0]["explanation"]["inputs"]["unknown_status"]
    assert set(top) == {"share", "count", "of"}  # said in every served explanation
    # with the default open-land gate a district cell is either left out or as low
    gated = geo_engine.rank(RankParams(filter=DepositFilter(commodities="copper", state="AZ")))
    for cell_id in cell_ids:
        if cell_id in gated.all_cells.index:
            assert gated.all_cells.loc[cell_id, "underdevelopment"] == pytest.approx(
                cells.loc[cell_id, "underdevelopment"]
            )


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
    assert only_unknown.sum() > 20  # 28 once the tungsten records joined their sites
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


def test_development_gate_leaves_the_worked_arizona_districts_out(
    geo_engine: Any, arizona_copper: Any
) -> None:
    """With the default gate (undeveloped share at least a third), the cells holding the
    producing districts leave the copper ranking of Arizona; the notes count them and
    ``min_undeveloped_share=0`` (``arizona_copper``) brings them back."""
    deposits = geo_engine.deposits.set_index("id", drop=False)
    districts = _district_sites(deposits)
    cell_ids = _cell_ids(districts)
    flt = DepositFilter(commodities="copper", state="AZ")
    gated = geo_engine.rank(RankParams(filter=flt, min_open_land=0.0))
    cells = arizona_copper.all_cells
    # by hand from the raw sums: (N + 0.5 Q) / (N + Q + D)
    n, q, d = (
        cells[c].to_numpy(float) for c in ("undeveloped_raw", "neutral_raw", "development_raw")
    )
    by_hand = (n + 0.5 * q) / (n + q + d)
    np.testing.assert_allclose(scoring.undeveloped_share(cells), by_hand)
    for name, cell_id in zip(ARIZONA_DISTRICTS.values(), cell_ids, strict=True):
        assert scoring.undeveloped_share(cells.loc[[cell_id]])[0] < 1 / 3, name
        assert cell_id not in gated.all_cells.index, name
    mostly_worked = by_hand < 1 / 3 - 1e-6
    district = ~mostly_worked & (cells["worked_density"].to_numpy() >= 2.0)
    left_out = int(mostly_worked.sum() + district.sum())
    assert len(cells) - len(gated.all_cells) == left_out
    assert any(
        f"development gate left out {left_out} cells of known worked ground: "
        f"{int(mostly_worked.sum())} whose evidence is mostly development"
        in n
        and f"{int(district.sum())} in mining districts" in n
        for n in gated.notes
    )
    assert any("development gate is off" in n for n in arizona_copper.notes)
    # the validation measures the potential, so it does not change with the gate
    assert gated.validation["auc"] == pytest.approx(arizona_copper.validation["auc"])
    # every cell kept has at least a third of its evidence undeveloped (or none at all),
    # and fewer than 2 worked deposits per 100 km² around it
    kept_share = scoring.undeveloped_share(gated.all_cells)
    assert np.all(np.isnan(kept_share) | (kept_share >= 1 / 3 - 1e-6))
    assert (gated.all_cells["worked_density"] < 2.0).all()


def test_silver_bell_district_is_not_under_developed_copper_ground(
    geo_engine: Any, arizona_copper: Any
) -> None:
    """Silver Bell (Pima County, AZ), a producing open-pit porphyry copper mine: dozens of
    recorded prospects around its pits keep the undeveloped share of the cells near it at
    about a half, so only the mining-district rule leaves them out. No cell within 10 km
    of the mine stays in the default copper ranking of Arizona, and the cell holding the
    mine's El Tiro pit says why it was left out."""
    deposits = geo_engine.deposits.set_index("id", drop=False)
    silver_bell = deposits.loc["mrds:10039685"]
    assert silver_bell["name"] == "Silver Bell" and silver_bell["dev_status"] == "producer"
    assert {"porphyry_copper", "minmod_mrds"} <= set(silver_bell["sources"])
    flt = DepositFilter(commodities="copper", state="AZ")
    params = RankParams(filter=flt, min_open_land=0.0)
    kept = geo_engine.rank(params).all_cells
    everything = arizona_copper.all_cells

    def within_10_km(cells: pd.DataFrame) -> pd.DataFrame:
        d = np.hypot(cells["x_m"] - silver_bell["x_m"], cells["y_m"] - silver_bell["y_m"])
        return cells.loc[d.to_numpy() <= 10_000.0]

    near = within_10_km(everything)
    assert len(near) >= 10 and within_10_km(kept).empty
    # without the district rule some of them would pass on their share alone
    assert (scoring.undeveloped_share(near) >= 1 / 3).sum() >= 5
    assert near["worked_density"].max() >= 5.0
    el_tiro = deposits.loc[
        deposits["name"].eq("El Tiro Open Pit Mine") & deposits["state"].eq("AZ")
    ]
    cell_id = _cell_ids(el_tiro)[0]
    assert scoring.undeveloped_share(everything.loc[[cell_id]])[0] >= 1 / 3
    with pytest.raises(NotFoundError, match="lies in a mining district"):
        geo_engine.cell(cell_id, params)
    explanation = scoring.explain(everything.loc[cell_id], arizona_copper.params["weights"])
    density = explanation["inputs"]["worked_deposits_per_100km2"]
    assert density == pytest.approx(everything.loc[cell_id, "worked_density"], abs=1e-4)
    assert any("a mining district" in note for note in explanation["notes"])


def test_silver_peak_is_not_under_developed_lithium_ground(geo_engine: Any) -> None:
    """Silver Peak (Clayton Valley, NV), the one producing lithium brine operation of the
    United States, is left out of the default lithium ranking of Nevada."""
    deposits = geo_engine.deposits
    silver_peak = deposits.loc[
        deposits["name"].eq("Silver Peak Marsh") & deposits["state"].eq("NV")
    ]
    assert len(silver_peak) >= 1
    assert silver_peak["dev_status"].isin(["producer", "past_producer"]).any()
    cell_ids = _cell_ids(silver_peak)
    flt = DepositFilter(commodities="lithium", state="NV")
    gated = RankParams(filter=flt, min_open_land=0.0)  # the gate under test only
    ungated = geo_engine.rank(RankParams(filter=flt, min_open_land=0.0, min_undeveloped_share=0))
    kept = geo_engine.rank(gated).all_cells.index
    for cell_id in cell_ids:
        assert cell_id in ungated.all_cells.index
        assert cell_id not in kept
    with pytest.raises(NotFoundError, match="development gate"):
        geo_engine.cell(cell_ids[0], gated)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_min_undeveloped_share_is_a_share(bad: float) -> None:
    with pytest.raises(InvalidParameterError, match="min_undeveloped_share"):
        RankParams(min_undeveloped_share=bad)
