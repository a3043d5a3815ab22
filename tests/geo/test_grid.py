"""The equal-area grid: ids that rebuild their cell, bounded extent, land clipping."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import shapely

from geo.access import project_lonlat
from geo.grid import (
    GridSpec,
    build_grid,
    cell_centre,
    cell_from_id,
    cell_index,
    cell_polygons,
    format_cell_id,
    parse_cell_id,
)
from layers.errors import LimitExceededError, NotFoundError


@pytest.mark.parametrize("shape", ["square", "hex"])
def test_points_fall_in_the_cell_their_index_names(shape: str) -> None:
    spec = GridSpec(2.5, shape)
    rng = np.random.default_rng(7)
    x = rng.uniform(-2.4e6, -2.0e6, 2000)
    y = rng.uniform(2.0e6, 2.4e6, 2000)
    col, row = cell_index(x, y, spec)
    assert (col >= 0).all() and (row >= 0).all()
    polys = cell_polygons(col, row, spec)
    assert shapely.intersects(polys, shapely.points(x, y)).all()
    assert shapely.area(polys) == pytest.approx(spec.cell_area_m2)
    cx, cy = cell_centre(col, row, spec)
    assert (
        np.hypot(cx - x, cy - y) <= spec.size_m * (0.71 if shape == "square" else 1.0) + 1e-6
    ).all()


def test_cell_ids_round_trip() -> None:
    spec = GridSpec(5, "hex")
    cell_id = format_cell_id(spec, 3338, 12, 34)
    assert cell_id == "h3338-5000-12-34"
    parsed_spec, epsg, col, row = parse_cell_id(cell_id)
    assert (parsed_spec, epsg, col, row) == (spec, 3338, 12, 34)
    _, _, polygon = cell_from_id(cell_id)
    assert polygon.area == pytest.approx(spec.cell_area_m2)


@pytest.mark.parametrize(
    "bad", ["", "g5070-5000-1", "x5070-5000-1-2", "g4326-5000-1-2", "g5070-10-1-2"]
)
def test_malformed_cell_ids_are_not_found(bad: str) -> None:
    with pytest.raises(NotFoundError):
        parse_cell_id(bad)


def test_grid_over_real_deposits_is_bounded_and_clipped(geo_store: Any, enriched: Any) -> None:
    states = geo_store.frame("states")
    gold = enriched.loc[
        enriched["commodities"].map(lambda c: "gold" in list(c))
        & enriched.geometry.x.between(-124.4, -122.3)
    ]
    lon, lat = gold.geometry.x.to_numpy(), gold.geometry.y.to_numpy()
    grid = build_grid(lon, lat, states, GridSpec(5), reach_m=15_000)
    cells = grid.cells
    assert cells.crs.to_epsg() == 4326
    assert cells.index.is_unique and (cells.index == cells["cell_id"]).all()
    assert (cells["area_m2"] > 0).all() and (cells["area_m2"] <= 25e6 + 1).all()
    # Coastal cells are clipped to land; inland ones are whole.
    assert (cells["area_m2"] < 24e6).sum() > 10
    assert (cells["area_m2"] > 25e6 - 1).mean() > 0.8
    # Every deposit cell is present and no cell is farther than the reach from evidence.
    x, y = project_lonlat(lon, lat, 5070)
    located = grid.locate(x, y, np.full(len(x), 5070))
    assert (located >= 0).mean() > 0.99
    centres = shapely.points(cells[["x_m", "y_m"]].to_numpy())
    tree = shapely.STRtree(shapely.points(np.column_stack([x, y])))
    _, dist = tree.query_nearest(centres, return_distance=True, all_matches=False)
    holds = cells["cell_id"].isin(cells.index[located[located >= 0]]).to_numpy()
    assert dist[~holds].max() <= 15_000 + 1e-6
    assert dist[holds].max() <= 5000 * np.sqrt(2) / 2 + 1e-6
    # Areas in m2 computed in the metric CRS match the 4326 geometry reprojected.
    reprojected = cells.to_crs(5070).area.to_numpy()
    assert reprojected == pytest.approx(cells["area_m2"].to_numpy(), rel=1e-3)


def test_too_many_cells_is_a_limit_error(enriched: Any) -> None:
    lon, lat = enriched.geometry.x.to_numpy(), enriched.geometry.y.to_numpy()
    with pytest.raises(LimitExceededError):
        build_grid(lon, lat, None, GridSpec(1), reach_m=3000, max_cells=5000)


def test_alaska_evidence_gets_an_alaska_albers_grid() -> None:
    grid = build_grid(
        np.array([-150.0, -120.0]), np.array([61.0, 40.0]), None, GridSpec(10), reach_m=1000
    )
    assert set(grid.cells["epsg"]) == {3338, 5070}
    assert all(i.startswith(("g3338-", "g5070-")) for i in grid.cells.index)
