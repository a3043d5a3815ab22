"""Distances from points to the nearest road, railway and power line, in metres.

Distances are measured in an equal-area metric CRS: EPSG:5070 (CONUS Albers) for the
lower 48 and everything else, EPSG:3338 (Alaska Albers) for Alaska. Albers distorts
distances by at most about 1-2 % inside its zone, well below the accuracy of the
source geometries (1:10m railways, simplified highways).

A distance is only reported where it means something: when an infrastructure kind has
no features, or a point lies outside that kind's coverage (the states its layers
cover), the distance is NaN (null), never the distance to the nearest line in some
other state.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from geo.caches import usable_cores
from layers.schema import INFRASTRUCTURE_KINDS, LayerKind

LOWER48_EPSG = 5070
ALASKA_EPSG = 3338
METRIC_EPSGS = (LOWER48_EPSG, ALASKA_EPSG)

#: Points north of this latitude and west of ``ALASKA_MAX_LON`` (or east of
#: ``ALASKA_ANTIMERIDIAN_LON``: the western Aleutians) are measured in Alaska Albers.
ALASKA_MIN_LAT = 51.0
ALASKA_MAX_LON = -130.0
ALASKA_ANTIMERIDIAN_LON = 170.0

#: Coverage polygons are widened seaward by this much (degrees, about 5 km) so coastal
#: deposits just outside the 1:10m shoreline stay covered; never into other states.
COVERAGE_SEAWARD_TOLERANCE_DEG = 0.05

#: Threads for the nearest-line searches (GEOS releases the GIL while it searches).
NEAREST_THREADS = usable_cores()

DISTANCE_COLUMNS = {kind: f"dist_{kind}_m" for kind in INFRASTRUCTURE_KINDS}


@cache
def _transformer(epsg: int) -> Transformer:
    return Transformer.from_crs(4326, epsg, always_xy=True)


def metric_epsg_for_lonlat(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """EPSG code of the metric CRS for each lon/lat (3338 for Alaska, else 5070)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    alaska = (lat > ALASKA_MIN_LAT) & ((lon < ALASKA_MAX_LON) | (lon > ALASKA_ANTIMERIDIAN_LON))
    return np.where(alaska, ALASKA_EPSG, LOWER48_EPSG)


def metric_crs_for(points: gpd.GeoSeries | gpd.GeoDataFrame) -> np.ndarray:
    """EPSG code of the metric CRS for each point (in EPSG:4326) of ``points``."""
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if geoms.crs is not None and geoms.crs.to_epsg() != 4326:
        geoms = geoms.to_crs(4326)
    return metric_epsg_for_lonlat(geoms.x.to_numpy(), geoms.y.to_numpy())


def split_by_metric_crs(epsgs: np.ndarray) -> dict[int, np.ndarray]:
    """Row positions per metric EPSG, for the EPSGs that occur."""
    return {int(e): np.flatnonzero(epsgs == e) for e in METRIC_EPSGS if (epsgs == e).any()}


def project_lonlat(lon: np.ndarray, lat: np.ndarray, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    """Project lon/lat arrays to ``epsg`` (cached transformer)."""
    x, y = _transformer(epsg).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x), np.asarray(y)


def project_lonlat_inverse(
    x: np.ndarray, y: np.ndarray, epsg: int
) -> tuple[np.ndarray, np.ndarray]:
    """Metric x/y in ``epsg`` -> lon/lat."""
    lon, lat = _transformer(epsg).transform(
        np.asarray(x, float), np.asarray(y, float), direction="INVERSE"
    )
    return np.asarray(lon), np.asarray(lat)


def to_metric(geoms: np.ndarray | gpd.GeoSeries, epsg: int) -> np.ndarray:
    """Shapely geometries in EPSG:4326 -> the same geometries in ``epsg``."""
    values = geoms.values if isinstance(geoms, gpd.GeoSeries) else geoms
    return np.asarray(gpd.GeoSeries(values, crs=4326).to_crs(epsg).values, dtype=object)


#: Lines are cut into pieces of at most this many segments before indexing: long lines
#: have huge bounding boxes, which makes nearest-neighbour search scan many candidates.
PIECE_SEGMENTS = 16


def metric_pieces(lines: np.ndarray, epsg: int, max_segments: int = PIECE_SEGMENTS) -> np.ndarray:
    """Project lon/lat (multi)lines to ``epsg`` and cut them into short pieces.

    The pieces cover exactly the original lines, so nearest distances are unchanged,
    while each piece has a tight bounding box for the STRtree. Vectorized (no loop).
    """
    parts = shapely.get_parts(np.asarray(lines, dtype=object))
    if len(parts) == 0:
        return np.empty(0, dtype=object)
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    x, y = project_lonlat(coords[:, 0], coords[:, 1], epsg)
    n_vertices = np.bincount(part_of, minlength=len(parts))
    valid = n_vertices >= 2
    starts = np.concatenate([[0], np.cumsum(n_vertices)[:-1]])
    segments = np.where(valid, n_vertices - 1, 0)
    chunks = -(-segments // max_segments)  # ceil
    chunk_part = np.repeat(np.arange(len(parts)), chunks)
    first_chunk = np.concatenate([[0], np.cumsum(chunks)[:-1]])
    chunk_no = np.arange(len(chunk_part)) - np.repeat(first_chunk, chunks)
    chunk_start = starts[chunk_part] + chunk_no * max_segments
    chunk_len = np.minimum(max_segments, segments[chunk_part] - chunk_no * max_segments) + 1
    offsets = np.concatenate([[0], np.cumsum(chunk_len)[:-1]])
    vertex = np.repeat(chunk_start - offsets, chunk_len) + np.arange(chunk_len.sum())
    piece_of = np.repeat(np.arange(len(chunk_len)), chunk_len)
    return shapely.linestrings(x[vertex], y[vertex], indices=piece_of)


class InfrastructureIndex:
    """Infrastructure lines per kind with STRtrees built once per metric CRS.

    The engine keeps one instance per store, so every distance query (deposits at
    enrichment, cell centres at ranking) reuses the same projected lines and trees.
    """

    def __init__(self, infrastructure: gpd.GeoDataFrame, coverage: dict[str, BaseGeometry | None]):
        if (
            len(infrastructure)
            and infrastructure.crs is not None
            and (infrastructure.crs.to_epsg() != 4326)
        ):
            infrastructure = infrastructure.to_crs(4326)
        self._lines: dict[str, np.ndarray] = {
            kind: np.asarray(
                infrastructure.geometry.values[(infrastructure["kind"] == kind).to_numpy()],
                dtype=object,
            )
            if len(infrastructure)
            else np.empty(0, dtype=object)
            for kind in INFRASTRUCTURE_KINDS
        }
        self.coverage: dict[str, BaseGeometry | None] = {
            kind: coverage.get(kind) for kind in INFRASTRUCTURE_KINDS
        }
        for geom in self.coverage.values():
            if geom is not None:
                shapely.prepare(geom)
        self._trees: dict[tuple[str, int], shapely.STRtree] = {}

    def feature_count(self, kind: str) -> int:
        return len(self._lines[kind])

    def _tree(self, kind: str, epsg: int) -> shapely.STRtree:
        key = (kind, epsg)
        if key not in self._trees:
            self._trees[key] = shapely.STRtree(metric_pieces(self._lines[kind], epsg))
        return self._trees[key]

    def covered(self, kind: str, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """True where the kind's layers cover the point (None coverage = national)."""
        if self.feature_count(kind) == 0:
            return np.zeros(len(lon), dtype=bool)
        geom = self.coverage[kind]
        if geom is None:
            return np.ones(len(lon), dtype=bool)
        return shapely.intersects_xy(geom, lon, lat)

    def distances(self, points: gpd.GeoSeries | gpd.GeoDataFrame) -> pd.DataFrame:
        """``dist_road_m``, ``dist_rail_m``, ``dist_power_m`` per point (NaN = unknown)."""
        geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
        if geoms.crs is not None and geoms.crs.to_epsg() != 4326:
            geoms = geoms.to_crs(4326)
        lon, lat = geoms.x.to_numpy(), geoms.y.to_numpy()
        return self.distances_lonlat(lon, lat, index=geoms.index)

    def distances_lonlat(
        self, lon: np.ndarray, lat: np.ndarray, index: pd.Index | None = None
    ) -> pd.DataFrame:
        """As ``distances``, from lon/lat arrays (cell centres need no GeoSeries).

        One nearest search per (kind, metric CRS), run on ``NEAREST_THREADS`` threads:
        GEOS releases the GIL while it searches, so the kinds run side by side.
        """
        n = len(lon)
        out = {col: np.full(n, np.nan) for col in DISTANCE_COLUMNS.values()}
        groups = split_by_metric_crs(metric_epsg_for_lonlat(lon, lat))
        searches = []
        for kind, column in DISTANCE_COLUMNS.items():
            covered = self.covered(kind, lon, lat)
            for epsg, positions in groups.items():
                pos = positions[covered[positions]]
                if len(pos):  # projected and tree built here: the threads only search
                    x, y = project_lonlat(lon[pos], lat[pos], epsg)
                    searches.append((column, pos, self._tree(kind, epsg), x, y))

        def nearest(search: tuple) -> tuple[np.ndarray, np.ndarray]:
            _, _, tree, x, y = search
            (inputs, _), dist = tree.query_nearest(
                shapely.points(x, y), return_distance=True, all_matches=False
            )
            return inputs, dist

        with ThreadPoolExecutor(min(NEAREST_THREADS, max(len(searches), 1))) as pool:
            for (column, pos, *_), (inputs, dist) in zip(
                searches, pool.map(nearest, searches), strict=True
            ):
                out[column][pos[inputs]] = dist
        return pd.DataFrame(out, index=index if index is not None else pd.RangeIndex(n))


def infrastructure_distances(
    points: gpd.GeoDataFrame,
    infrastructure: gpd.GeoDataFrame,
    coverage: dict[str, BaseGeometry | None],
) -> pd.DataFrame:
    """Nearest distance (m) per point to each infrastructure kind; index aligned with points.

    ``coverage`` maps a kind to the EPSG:4326 polygon its layers cover (None: national).
    Outside it, or when the kind has no features, the distance is NaN.
    """
    return InfrastructureIndex(infrastructure, coverage).distances(points)


def coverage_for_store(store: object) -> dict[str, BaseGeometry | None]:
    """Per infrastructure kind, the area its store layers cover (EPSG:4326).

    A kind is national (None) as soon as one of its layers has no ``coverage_states``;
    otherwise it covers the union of the listed states, widened seaward by
    ``COVERAGE_SEAWARD_TOLERANCE_DEG`` but never into an uncovered state. A kind with no
    layer covers nothing (an empty polygon).
    """
    layers: dict[str, dict] = store.manifest["layers"]  # type: ignore[attr-defined]
    states_by_kind: dict[str, set[str] | None] = {}
    for record in layers.values():
        if record.get("kind") != LayerKind.INFRASTRUCTURE.value:
            continue
        kind = record.get("infrastructure_kind")
        if kind is None:
            continue
        listed = record.get("coverage_states") or []
        if not listed:
            states_by_kind[kind] = None
        elif kind not in states_by_kind or states_by_kind[kind] is not None:
            states_by_kind[kind] = (states_by_kind.get(kind) or set()) | set(listed)
    states_frame = None
    coverage: dict[str, BaseGeometry | None] = {}
    for kind in INFRASTRUCTURE_KINDS:
        if kind not in states_by_kind:
            coverage[kind] = shapely.Polygon()
            continue
        listed = states_by_kind[kind]
        if listed is None:
            coverage[kind] = None
            continue
        if states_frame is None:
            states_frame = store.frame("states")  # type: ignore[attr-defined]
        coverage[kind] = states_coverage(states_frame, listed)
    return coverage


def states_coverage(states: gpd.GeoDataFrame, listed: set[str]) -> BaseGeometry:
    """Union of the listed states, widened seaward but not into the other states."""
    inside = states["state"].isin(sorted(listed)).to_numpy()
    covered = shapely.union_all(states.geometry.values[inside])
    if covered.is_empty:
        return covered
    widened = shapely.buffer(covered, COVERAGE_SEAWARD_TOLERANCE_DEG, quad_segs=4)
    others = states.geometry.values[~inside]
    near = others[shapely.intersects(others, widened)]
    if len(near):
        widened = shapely.difference(widened, shapely.union_all(near))
    return shapely.union(widened, covered)
