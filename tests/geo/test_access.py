"""Distances to infrastructure on the real data, checked against an independent
computation (pyproj + shapely), and the coverage rules (null outside coverage)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.ops import transform

from geo.access import (
    InfrastructureIndex,
    coverage_for_store,
    infrastructure_distances,
    metric_crs_for,
    metric_pieces,
)
from layers.schema import LayerKind


def _rail(store: Any) -> gpd.GeoDataFrame:
    infra = store.kind_frame(LayerKind.INFRASTRUCTURE)
    return infra.loc[infra["kind"] == "rail"].set_index("id")


def _independent_distance(point: shapely.Point, line: shapely.Geometry) -> float:
    to_albers = Transformer.from_crs("EPSG:4326", "EPSG:5070", always_xy=True)
    return shapely.distance(
        transform(to_albers.transform, point), transform(to_albers.transform, line)
    )


def _row(enriched: gpd.GeoDataFrame, deposit_id: str) -> Any:
    return enriched.loc[enriched["id"] == deposit_id].iloc[0]


def test_rail_distance_matches_an_independent_computation(geo_store: Any, enriched: Any) -> None:
    deposit = _row(enriched, "mrds:10035866")  # Geneva, Trinity County
    segment = _rail(geo_store).loc["railroads:252"].geometry
    expected = _independent_distance(deposit.geometry, segment)
    assert deposit["dist_rail_m"] == pytest.approx(expected, abs=1.0)
    assert 40_000 < expected < 50_000
    # ... and that segment is indeed the nearest of all railways.
    others = [
        _independent_distance(deposit.geometry, g)
        for g in _rail(geo_store).cx[-125:-120, 39:43].geometry
    ]
    assert min(others) == pytest.approx(expected, abs=1e-6)


def test_nevada_point_has_null_road_distance_and_a_real_rail_distance(
    geo_store: Any, enriched: Any
) -> None:
    deposit = _row(enriched, "usgs_lithium:NV00118")  # Kings Valley, Humboldt County NV
    assert deposit["state"] == "NV"
    assert np.isnan(deposit["dist_road_m"])  # Caltrans highways cover California only
    assert np.isnan(deposit["dist_power_m"])  # so do the transmission lines
    expected = _independent_distance(
        deposit.geometry, _rail(geo_store).loc["railroads:313"].geometry
    )
    assert deposit["dist_rail_m"] == pytest.approx(expected, abs=1.0)


def test_california_deposits_have_every_distance(enriched: Any) -> None:
    inside = enriched.loc[
        enriched["id"].str.startswith("mrds:")
        & enriched["state"].eq("CA")
        & enriched.geometry.x.between(-124.4, -122.3)
    ]
    assert len(inside) > 4000
    for column in ("dist_road_m", "dist_rail_m", "dist_power_m"):
        values = inside[column]
        assert values.notna().all(), column
        assert (values >= 0).all() and (values < 200_000).all()


def test_coverage_from_the_manifest(geo_store: Any) -> None:
    coverage = coverage_for_store(geo_store)
    assert coverage["rail"] is None  # national
    reno, redding, coast = (-119.81, 39.53), (-122.39, 40.59), (-124.146, 41.675)
    for kind in ("road", "power"):
        assert coverage[kind].intersects(shapely.Point(redding))
        assert not coverage[kind].intersects(shapely.Point(reno))
        # A beach placer just off the 1:10m shoreline stays covered.
        assert coverage[kind].intersects(shapely.Point(coast))


def test_kind_without_features_or_coverage_is_null() -> None:
    points = gpd.GeoDataFrame(geometry=[shapely.Point(-120, 40), shapely.Point(-100, 40)], crs=4326)
    infra = gpd.GeoDataFrame(
        {"id": ["r"], "kind": ["road"], "name": [None], "class": [None], "source": ["s"]},
        geometry=[shapely.LineString([(-120.1, 39), (-120.1, 41)])],
        crs=4326,
    )
    coverage = {"road": shapely.box(-125, 35, -115, 45), "rail": None, "power": None}
    out = infrastructure_distances(points, infra, coverage)
    assert out["dist_road_m"].notna().tolist() == [True, False]
    assert 8000 < out.loc[0, "dist_road_m"] < 9500  # 0.1 degree of longitude at 40 N
    assert out["dist_rail_m"].isna().all() and out["dist_power_m"].isna().all()


def test_alaska_points_use_alaska_albers() -> None:
    points = gpd.GeoSeries(
        [
            shapely.Point(-150, 61),
            shapely.Point(-120, 40),
            shapely.Point(-123, 48),
            shapely.Point(175, 52),
        ],
        crs=4326,
    )
    assert metric_crs_for(points).tolist() == [3338, 5070, 5070, 3338]


def test_line_pieces_preserve_distances() -> None:
    line = shapely.LineString([(-120 + 0.01 * i, 40 + 0.003 * (i % 7)) for i in range(200)])
    pieces = metric_pieces(np.array([line], dtype=object), 5070, max_segments=16)
    assert len(pieces) == 13  # 199 segments in pieces of 16
    whole = gpd.GeoSeries([line], crs=4326).to_crs(5070).iloc[0]
    assert shapely.union_all(pieces).length == pytest.approx(whole.length)
    probe = gpd.GeoSeries([shapely.Point(-119.5, 40.2)], crs=4326).to_crs(5070).iloc[0]
    index = InfrastructureIndex(
        gpd.GeoDataFrame({"kind": ["power"]}, geometry=[line], crs=4326),
        {"power": None},
    )
    got = index.distances(gpd.GeoSeries([shapely.Point(-119.5, 40.2)], crs=4326))
    assert got.loc[0, "dist_power_m"] == pytest.approx(whole.distance(probe), abs=1e-6)
