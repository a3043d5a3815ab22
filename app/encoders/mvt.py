"""Mapbox Vector Tiles (MVT 2.1) from Web Mercator geometries.

Per tile, vectorized in GEOS: clip to the tile plus its buffer, move to tile units (y up)
with one affine transform, simplify to one tile unit (detail follows the zoom), snap to
the integer tile grid with ``set_precision`` (which also makes the result valid), and
orient polygon exteriors counter-clockwise. The encoder flips y, so exteriors end up
clockwise in MVT's y-down space, as the spec requires; its own per-polygon winding and
validity repair (pure Python, ~10x slower on a national lands tile) is therefore skipped.
Geometries that collapse below a unit vanish; empties are dropped.
"""

from __future__ import annotations

from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely

#: Simplification tolerance and snapping grid, in tile units (1/extent of the tile width).
SIMPLIFY_UNITS = 1.0
GRID_UNITS = 1.0


def _keep_dimension(geoms: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """Replace geometry collections by their parts of the original dimension (rare)."""
    for i in np.flatnonzero(shapely.get_type_id(geoms) == 7):
        parts = [p for p in shapely.get_parts(geoms[i]) if shapely.get_dimensions(p) == dims[i]]
        geoms[i] = shapely.union_all(parts)
    return geoms


def to_tile_units(
    geoms_3857: np.ndarray, bounds: tuple[float, float, float, float], extent: int, buffer: int
) -> np.ndarray:
    """Clipped, simplified, grid-snapped, MVT-oriented geometries in tile units (y up)."""
    minx, miny, maxx, maxy = bounds
    scale = extent / (maxx - minx)
    pad = buffer / scale
    dims = shapely.get_dimensions(geoms_3857)
    clipped = shapely.clip_by_rect(geoms_3857, minx - pad, miny - pad, maxx + pad, maxy + pad)
    origin = np.array([minx, miny])
    local = shapely.transform(clipped, lambda xy: (xy - origin) * scale)
    shaped = dims > 0
    local[shaped] = shapely.simplify(local[shaped], SIMPLIFY_UNITS, preserve_topology=False)
    local = shapely.set_precision(local, GRID_UNITS)
    local = shapely.orient_polygons(local, exterior_cw=False)
    return _keep_dimension(local, dims)


def encode_tile(
    layer: str,
    geoms_3857: np.ndarray,
    properties: list[dict[str, Any]],
    bounds: tuple[float, float, float, float],
    extent: int,
    buffer: int,
) -> bytes | None:
    """One MVT layer named ``layer``; None when nothing is left after clipping."""
    if len(geoms_3857) == 0:
        return None
    local = to_tile_units(geoms_3857, bounds, extent, buffer)
    keep = np.flatnonzero(~shapely.is_empty(local))
    if keep.size == 0:
        return None
    features = [{"geometry": local[i], "properties": properties[i]} for i in keep.tolist()]
    return mapbox_vector_tile.encode(
        [{"name": layer, "features": features}],
        default_options={"extents": extent, "check_winding_order": False},
    )
