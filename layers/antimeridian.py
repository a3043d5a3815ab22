"""The antimeridian (180 degrees): boxes and polygons that cross it.

Alaska's Aleutians cross 180 degrees, so lon/lat data must handle it in two places:

* a bounding box with ``minx > maxx`` crosses the antimeridian (OGC API - Features,
  Part 1, section 7.15.3): ``170,50,-170,60`` is the box from 170 E eastwards to 170 W.
  ``bbox_parts`` splits it into the two ordinary boxes either side of 180 degrees;
* a polygon measured in Alaska Albers (EPSG:3338) that crosses 180 degrees cannot be
  written in lon/lat as one ring: projected naively, its ring jumps from +179 to -179
  and the polygon wraps the whole globe. ``lonlat_from_metric`` cuts such polygons
  along the antimeridian in the metric CRS first and returns a MultiPolygon of the
  pieces either side (the GeoJSON convention, RFC 7946 section 3.1.9).
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Transformer

BBox = tuple[float, float, float, float]

#: A lon/lat geometry wider than this (degrees) has been wrapped round the globe.
WRAPPED_WIDTH_DEG = 180.0
#: The halves used to cut a metric polygon: lon 90 E..180 and 180..90 W, densified so
#: their edges follow the meridians and parallels once projected.
_EAST_HALF = (90.0, 0.0, 180.0, 89.9)
_WEST_HALF = (-180.0, 0.0, -90.0, 89.9)
_DENSIFY_DEG = 0.25


def crosses(bbox: BBox) -> bool:
    """True for a box whose west edge lies east of its east edge."""
    return bbox[0] > bbox[2]


def bbox_parts(bbox: BBox) -> tuple[BBox, ...]:
    """The ordinary boxes (minx <= maxx) that together make ``bbox``."""
    minx, miny, maxx, maxy = bbox
    if not crosses(bbox):
        return (bbox,)
    return ((minx, miny, 180.0, maxy), (-180.0, miny, maxx, maxy))


def bbox_width(bbox: BBox) -> float:
    """East-west extent in degrees, across the antimeridian where the box crosses it."""
    return bbox[2] - bbox[0] + (360.0 if crosses(bbox) else 0.0)


def bbox_contains_lon(bbox: BBox, lon: np.ndarray) -> np.ndarray:
    """Whether each longitude lies within the box's east-west extent."""
    lon = np.asarray(lon, float)
    if crosses(bbox):
        return (lon >= bbox[0]) | (lon <= bbox[2])
    return (lon >= bbox[0]) & (lon <= bbox[2])


def _transform(geoms: np.ndarray, transformer: Transformer) -> np.ndarray:
    return shapely.transform(
        geoms, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )


def _half(box: BBox, to_metric: Transformer) -> shapely.Geometry:
    ring = shapely.segmentize(shapely.box(*box), _DENSIFY_DEG)
    return _transform(np.array([ring]), to_metric)[0]


def lonlat_from_metric(geoms: np.ndarray, epsg: int) -> np.ndarray:
    """Polygons in ``epsg`` as lon/lat (EPSG:4326), cut along the antimeridian where
    they cross it (a MultiPolygon of the pieces either side, snapped to +-180)."""
    geoms = np.asarray(geoms, dtype=object)
    to_lonlat = Transformer.from_crs(epsg, 4326, always_xy=True)
    out = _transform(geoms, to_lonlat)
    if len(out) == 0:
        return out
    bounds = shapely.bounds(out)
    wrapped = (bounds[:, 2] - bounds[:, 0]) > WRAPPED_WIDTH_DEG
    if not wrapped.any():
        return out
    to_metric = Transformer.from_crs(4326, epsg, always_xy=True)
    pieces = []
    for half, sign in ((_EAST_HALF, 1.0), (_WEST_HALF, -1.0)):
        cut = shapely.make_valid(shapely.intersection(geoms[wrapped], _half(half, to_metric)))
        lonlat = _transform(cut, to_lonlat)
        # Vertices on the cut come back as +180 or -180: put them on this half's side.
        pieces.append(
            shapely.transform(
                lonlat,
                lambda xy, sign=sign: np.column_stack(
                    [np.where(np.abs(xy[:, 0]) > 179.999999, sign * 180.0, xy[:, 0]), xy[:, 1]]
                ),
            )
        )
    joined = [
        shapely.multipolygons(
            [
                p
                for g in (east, west)
                for p in shapely.get_parts(shapely.get_parts(g))
                if p.geom_type == "Polygon" and not p.is_empty
            ]
        )
        for east, west in zip(*pieces, strict=True)
    ]
    out[wrapped] = np.array(joined, dtype=object)
    return out
