"""``mvt.shape_commands`` (numpy, a whole tile at once) gives the integers of
``mapbox_vector_tile``'s ``GeometryEncoder`` (point by point), on synthetic edge cases
(named as such) and on the real lands and roads tiles."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from mapbox_vector_tile.geom_encoder import GeometryEncoder

from app.encoders import mvt

EXTENT = 4096

#: Synthetic geometries in tile units (y up), each a case the encoder treats specially.
SYNTHETIC_POLYGONS = [
    shapely.box(10, 10, 200, 300),
    shapely.Polygon([(0, 0), (50, 0), (50, 50), (0, 50)], [[(10, 10), (20, 10), (20, 20)]]),
    # repeated points inside the ring, and at its start
    shapely.Polygon([(5, 5), (5, 5), (40, 5), (40, 5), (40, 40), (5, 40)]),
    # an exterior that is one point after deduplication: the polygon and its hole vanish
    shapely.Polygon([(7, 7), (7, 7), (7, 7), (7, 7)], [[(1, 1), (3, 1), (3, 3)]]),
    # a hole that collapses while the exterior stays
    shapely.Polygon([(0, 0), (90, 0), (90, 90), (0, 90)], [[(30, 30), (30, 30), (30, 30)]]),
    shapely.MultiPolygon(
        [
            shapely.box(0, 0, 10, 10),
            shapely.Polygon([(50, 50), (50, 50), (50, 50), (50, 50)]),  # dropped, cursor stays
            shapely.box(100, 100, 130, 140),
        ]
    ),
    # coordinates beyond the tile (the buffer) and negative ones
    shapely.box(-64, -64, 4160, 4160),
]
SYNTHETIC_LINES = [
    shapely.LineString([(0, 0), (10, 10), (10, 10), (30, 5)]),
    shapely.LineString([(3, 3), (3, 3)]),  # one point after deduplication: nothing drawn
    shapely.MultiLineString([[(0, 0), (5, 5)], [(9, 9), (9, 9)], [(20, 20), (25, 30), (4, 1)]]),
    shapely.LineString([(-64, 2000), (4160, 2001)]),
]


def _library(geoms: list[shapely.Geometry]) -> list[list[int]]:
    return [GeometryEncoder(False, EXTENT).encode(g) for g in geoms]


@pytest.mark.parametrize("geoms", [SYNTHETIC_POLYGONS, SYNTHETIC_LINES], ids=["polygons", "lines"])
def test_synthetic_edge_cases(geoms: list[shapely.Geometry]) -> None:
    got = mvt.shape_commands(np.array(geoms, dtype=object), EXTENT)
    assert got == _library(geoms)
    # one at a time too: the cursor restarts at 0,0 for each geometry
    for geom in geoms:
        assert mvt.shape_commands(np.array([geom], dtype=object), EXTENT) == _library([geom])


def test_dropped_polygon_keeps_the_cursor() -> None:
    """The hand-computed commands of the synthetic multipolygon above: its collapsed
    middle part draws nothing and the third part's MoveTo is relative to the first's
    last point (10, 4096 - 10 after the y flip)."""
    (commands,) = mvt.shape_commands(np.array([SYNTHETIC_POLYGONS[5]], dtype=object), EXTENT)
    first = commands[:11]
    assert first[0] == 9 and first[3] == (3 << 3) | 2 and first[10] == 15
    zig = lambda v: (v << 1) ^ (v >> 63)  # noqa: E731
    # box(0, 0, 10, 10) runs 10,0 -> 10,10 -> 0,10 -> 0,0 (shapely's order), y flipped
    assert commands[1:3] == [zig(10), zig(EXTENT - 0)]
    last_x, last_y = 0, EXTENT - 0
    # box(100, 100, 130, 140) starts at 130, 100
    assert commands[11:14] == [9, zig(130 - last_x), zig((EXTENT - 100) - last_y)]
    assert len(commands) == 22


@pytest.mark.parametrize("collection_id", ["federal_lands", "roads", "counties"])
def test_real_tiles(client: TestClient, collection_id: str) -> None:
    """Every tile-unit geometry of real tiles at z5..z12, encoded both ways."""
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    coll = client.app.state.serving.current.collections.get(collection_id)
    rng = np.random.default_rng(11)
    vertices = 0
    for row in rng.choice(len(coll), size=12, replace=False):
        point = shapely.point_on_surface(coll.geoms[row])
        tile = tms.tile(point.x, point.y, int(rng.integers(5, 13)))
        bounds = tuple(tms.xy_bounds(tile))
        local = mvt.to_tile_units(coll.geoms_3857, bounds, EXTENT, 64)
        local = local[~shapely.is_empty(local)]
        assert mvt.shape_commands(local, EXTENT) == _library(local.tolist())
        vertices += int(shapely.get_num_coordinates(local).sum())
    assert vertices > 10 * mvt.FEW_VERTICES  # the vectorized path, not the small-tile one
