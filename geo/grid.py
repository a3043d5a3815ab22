"""The equal-area analysis grid: square or hexagonal cells in a metric CRS.

Cells live in EPSG:5070 (CONUS Albers) and, for Alaska deposits, EPSG:3338 (Alaska
Albers); both are equal-area, so every cell of a grid has the same area before it is
clipped to land. The grid is not a national raster: it keeps only the cells that hold
deposit evidence or whose centre lies within ``reach_m`` (the potential kernel's reach)
of an evidence deposit, so every cell has evidence or potential and the grid is bounded
by the evidence instead of by the map extent. A grid that would exceed ``max_cells``
raises ``LimitExceededError`` before any geometry is made.

Cell ids encode everything needed to rebuild the cell, so ``/rankings/{cellId}`` can find
it again without the grid: ``<shape><epsg>-<size_m>-<col>-<row>``, e.g.
``g5070-5000-541-447`` (square, 5 km) or ``h5070-5000-541-447`` (hexagon of edge 5 km,
odd-row offset coordinates). Columns and rows count from ``GRID_ORIGIN`` so they are
non-negative over the US.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.access import (
    METRIC_EPSGS,
    metric_epsg_for_lonlat,
    project_lonlat,
    project_lonlat_inverse,
)
from layers.antimeridian import lonlat_from_metric
from layers.errors import InvalidParameterError, LimitExceededError, NotFoundError

#: Lower-left of the index space (metres) in both metric CRSs: south-west of every US
#: territory in EPSG:5070 and EPSG:3338, so columns and rows are non-negative.
GRID_ORIGIN = (-5_000_000.0, -2_000_000.0)
SHAPES = ("square", "hex")
MIN_CELL_KM = 0.5
MAX_CELL_KM = 100.0
DEFAULT_CELL_KM = 5.0
DEFAULT_MAX_CELLS = 50_000
SQRT3 = math.sqrt(3.0)

_CELL_ID = re.compile(r"^(?P<shape>[gh])(?P<epsg>\d+)-(?P<size>\d+)-(?P<col>-?\d+)-(?P<row>-?\d+)$")
#: Upper bound on (evidence cells x neighbourhood offsets) enumerated while building a grid.
MAX_CANDIDATES = 20_000_000
_KEY_BITS = 25  # col and row each fit in 25 bits (32M cells of >= 500 m: far beyond the US)


@dataclass(frozen=True)
class GridSpec:
    """Cell shape and size. ``cell_km`` is the side of a square or the edge of a hexagon."""

    cell_km: float = DEFAULT_CELL_KM
    shape: str = "square"

    def __post_init__(self) -> None:
        try:
            cell_km = float(self.cell_km)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(f"cell_km: not a number: {self.cell_km!r}") from exc
        if not (MIN_CELL_KM <= cell_km <= MAX_CELL_KM):
            raise InvalidParameterError(
                f"cell_km: must lie in [{MIN_CELL_KM}, {MAX_CELL_KM}], got {self.cell_km!r}"
            )
        if self.shape not in SHAPES:
            raise InvalidParameterError(f"shape: one of {list(SHAPES)}, got {self.shape!r}")
        # Ids carry whole metres; snap so the spec and its ids agree.
        object.__setattr__(self, "cell_km", round(cell_km * 1000) / 1000)

    @property
    def size_m(self) -> int:
        return round(self.cell_km * 1000)

    @property
    def cell_area_m2(self) -> float:
        """Area of one unclipped cell."""
        a = float(self.size_m)
        return a * a if self.shape == "square" else 1.5 * SQRT3 * a * a

    @property
    def prefix(self) -> str:
        return "g" if self.shape == "square" else "h"


def format_cell_id(spec: GridSpec, epsg: int, col: int, row: int) -> str:
    return f"{spec.prefix}{epsg}-{spec.size_m}-{col}-{row}"


def point_cell_ids(
    x_m: np.ndarray, y_m: np.ndarray, epsg: np.ndarray, spec: GridSpec
) -> np.ndarray:
    """The id of the cell each metric point lies in: the arithmetic the engine counts
    a cell's deposits with, so listed deposits agree with ``n_deposits``."""
    col, row = cell_index(x_m, y_m, spec)
    return np.array(
        [
            format_cell_id(spec, int(e), int(c), int(r))
            for e, c, r in zip(epsg, col, row, strict=True)
        ],
        dtype=object,
    )


#: No cell of a metric grid lies farther than this from its CRS's origin (the grids cover
#: the United States: a few thousand kilometres).
MAX_CELL_OFFSET_M = 10_000_000


def parse_cell_id(cell_id: str) -> tuple[GridSpec, int, int, int]:
    """``cell_id`` -> (spec, epsg, col, row); a malformed id is a ``NotFoundError``."""
    match = _CELL_ID.match(cell_id or "")
    if match is None:
        raise NotFoundError(
            f"no cell {cell_id!r}: cell ids look like 'g5070-5000-541-447' "
            "(<g|h><epsg>-<size_m>-<col>-<row>)"
        )
    epsg = int(match["epsg"])
    if epsg not in METRIC_EPSGS:
        raise NotFoundError(f"no cell {cell_id!r}: unknown grid CRS EPSG:{epsg}")
    try:
        spec = GridSpec(
            cell_km=int(match["size"]) / 1000, shape="square" if match["shape"] == "g" else "hex"
        )
    except InvalidParameterError as exc:
        raise NotFoundError(f"no cell {cell_id!r}: {exc}") from exc
    col, row = int(match["col"]), int(match["row"])
    if max(abs(col), abs(row)) > MAX_CELL_OFFSET_M / (spec.cell_km * 1000):  # no int->float
        # refused before any ranking is computed to look for it
        raise NotFoundError(f"no cell {cell_id!r}: it lies outside every grid of EPSG:{epsg}")
    return spec, epsg, col, row


# --- index arithmetic -------------------------------------------------------------------


def _axial_to_offset(q: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Axial hex coordinates -> odd-row offset coordinates (col, row)."""
    return q + (r - (r & 1)) // 2, r


def _offset_to_axial(col: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return col - (row - (row & 1)) // 2, row


def _hex_axial(x: np.ndarray, y: np.ndarray, a: float) -> tuple[np.ndarray, np.ndarray]:
    """Metric x/y (relative to the origin) -> axial coordinates of the containing hexagon."""
    qf = (SQRT3 / 3 * x - y / 3) / a
    rf = (2 / 3 * y) / a
    sf = -qf - rf
    q, r, s = np.rint(qf), np.rint(rf), np.rint(sf)
    dq, dr, ds = np.abs(q - qf), np.abs(r - rf), np.abs(s - sf)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s, q)
    r = np.where(fix_r, -q - s, r)
    return q.astype(np.int64), r.astype(np.int64)


def cell_index(x: np.ndarray, y: np.ndarray, spec: GridSpec) -> tuple[np.ndarray, np.ndarray]:
    """Metric coordinates -> (col, row) of the containing cell."""
    dx = np.asarray(x, float) - GRID_ORIGIN[0]
    dy = np.asarray(y, float) - GRID_ORIGIN[1]
    if spec.shape == "square":
        return (
            np.floor(dx / spec.size_m).astype(np.int64),
            np.floor(dy / spec.size_m).astype(np.int64),
        )
    return _axial_to_offset(*_hex_axial(dx, dy, float(spec.size_m)))


def cell_centre(col: np.ndarray, row: np.ndarray, spec: GridSpec) -> tuple[np.ndarray, np.ndarray]:
    """(col, row) -> metric x/y of the cell centre."""
    col = np.asarray(col, np.int64)
    row = np.asarray(row, np.int64)
    a = float(spec.size_m)
    if spec.shape == "square":
        return GRID_ORIGIN[0] + (col + 0.5) * a, GRID_ORIGIN[1] + (row + 0.5) * a
    q, r = _offset_to_axial(col, row)
    return GRID_ORIGIN[0] + a * SQRT3 * (q + r / 2), GRID_ORIGIN[1] + a * 1.5 * r


def cell_polygons(col: np.ndarray, row: np.ndarray, spec: GridSpec) -> np.ndarray:
    """Unclipped metric polygons of the cells (vectorized)."""
    cx, cy = cell_centre(col, row, spec)
    a = float(spec.size_m)
    if spec.shape == "square":
        h = a / 2
        return shapely.box(cx - h, cy - h, cx + h, cy + h)
    angles = np.deg2rad(30 + 60 * np.arange(6))
    ring = np.empty((len(cx), 7, 2))
    ring[:, :6, 0] = cx[:, None] + a * np.cos(angles)[None, :]
    ring[:, :6, 1] = cy[:, None] + a * np.sin(angles)[None, :]
    ring[:, 6] = ring[:, 0]
    return shapely.polygons(ring)


def _reach_offsets(spec: GridSpec, reach_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Index offsets of every cell that can lie within ``reach_m`` of a point in cell 0.

    Conservative (a superset): square cells by their nearest edges, hexagons by centre
    distance <= reach + 2 * edge. Hex offsets are axial.
    """
    a = float(spec.size_m)
    if spec.shape == "square":
        k = math.ceil(reach_m / a) + 1
        dc, dr = np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1))
        dc, dr = dc.ravel(), dr.ravel()
        gap = a * np.hypot(np.maximum(np.abs(dc) - 1, 0), np.maximum(np.abs(dr) - 1, 0))
        keep = gap <= reach_m
        return dc[keep], dr[keep]
    k = math.ceil((reach_m + 2 * a) / (SQRT3 * a)) + 1
    dq, dr = np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1))
    dq, dr = dq.ravel(), dr.ravel()
    dist = a * np.sqrt(3.0 * (dq * dq + dq * dr + dr * dr))
    keep = dist <= reach_m + 2 * a
    return dq[keep], dr[keep]


def cell_keys(epsg: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One int64 per cell (crs, col, row), for fast vectorized lookups."""
    flag = (np.asarray(epsg) == METRIC_EPSGS[1]).astype(np.int64)
    mask = (1 << _KEY_BITS) - 1
    return (
        (flag << (2 * _KEY_BITS))
        | ((np.asarray(col, np.int64) & mask) << _KEY_BITS)
        | (np.asarray(row, np.int64) & mask)
    )


def too_many_cells(max_cells: int, cell_km: float) -> LimitExceededError:
    """The error of a grid over the cell limit, worded once."""
    return LimitExceededError(
        f"the grid would have more than {max_cells} cells of {cell_km:g} km (narrow the "
        "filter or the bbox, or use larger cells)"
    )


def cells_holding(x_m: np.ndarray, y_m: np.ndarray, epsg: np.ndarray, spec: GridSpec) -> int:
    """How many distinct cells of ``spec`` hold the metric points: a lower bound of any
    grid over them, known before one is built."""
    col, row = cell_index(np.asarray(x_m, float), np.asarray(y_m, float), spec)
    return len(np.unique(cell_keys(epsg, col, row)))


# --- the grid --------------------------------------------------------------------------


@dataclass
class Grid:
    """Cells (EPSG:4326 geometry, metric attributes) plus their metric geometries.

    ``cells`` is indexed by ``cell_id`` with columns ``epsg``, ``col``, ``row``, ``x_m``,
    ``y_m`` (metric centre), ``lon``, ``lat`` (centre), ``area_m2`` (land part, metric)
    and ``cell_area_m2``; ``metric_geometry`` holds the clipped cells in their own CRS.
    """

    spec: GridSpec
    cells: gpd.GeoDataFrame
    metric_geometry: np.ndarray
    reach_m: float

    def __len__(self) -> int:
        return len(self.cells)

    def locate(self, x_m: np.ndarray, y_m: np.ndarray, epsg: np.ndarray) -> np.ndarray:
        """Row position in ``cells`` of the cell holding each metric point; -1 if none."""
        col, row = cell_index(x_m, y_m, self.spec)
        return self.key_index.get_indexer(cell_keys(epsg, col, row))

    @cached_property
    def key_index(self) -> pd.Index:
        """The cells' ``cell_keys`` as an index (built once per grid)."""
        return pd.Index(
            cell_keys(
                self.cells["epsg"].to_numpy(),
                self.cells["col"].to_numpy(),
                self.cells["row"].to_numpy(),
            )
        )

    def subset(self, positions: np.ndarray) -> Grid:
        """The grid of the cells at ``positions`` (ascending), in the same order."""
        return Grid(
            spec=self.spec,
            cells=self.cells.iloc[positions],
            metric_geometry=self.metric_geometry[positions],
            reach_m=self.reach_m,
        )

    def positions_by_epsg(self) -> dict[int, np.ndarray]:
        epsg = self.cells["epsg"].to_numpy()
        return {int(e): np.flatnonzero(epsg == e) for e in METRIC_EPSGS if (epsg == e).any()}


def _land_in_metric(
    land: gpd.GeoDataFrame, epsg: int, lonlat_box: tuple[float, float, float, float]
) -> shapely.Geometry:
    """Union of the land polygons near a lon/lat box, in ``epsg``."""
    geoms = land.geometry.values
    box = shapely.box(*lonlat_box)
    near = geoms[shapely.intersects(geoms, box)]
    if len(near) == 0:
        return shapely.Polygon()
    metric = gpd.GeoSeries(near, crs=land.crs or 4326).to_crs(epsg).values
    return shapely.union_all(np.asarray(metric, dtype=object))


def build_grid(
    lon: np.ndarray,
    lat: np.ndarray,
    land: gpd.GeoDataFrame | None,
    spec: GridSpec | None = None,
    *,
    reach_m: float = 15_000.0,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> Grid:
    """Grid over evidence points (lon/lat), clipped to ``land`` (the states layer).

    Keeps the cells holding a point and every cell whose centre lies within ``reach_m``
    of one (the potential kernel's reach, so every kept cell has evidence or potential),
    then drops cells with no land area. ``land=None`` skips the
    clip (synthetic fixtures).
    """
    spec = spec or GridSpec()
    if max_cells <= 0:
        raise InvalidParameterError(f"max_cells: must be positive, got {max_cells}")
    lon = np.asarray(lon, float)
    lat = np.asarray(lat, float)
    epsgs = metric_epsg_for_lonlat(lon, lat)
    blocks: list[dict[str, np.ndarray]] = []
    total = 0
    for epsg in METRIC_EPSGS:
        sel = epsgs == epsg
        if not sel.any():
            continue
        x, y = project_lonlat(lon[sel], lat[sel], epsg)
        col, row = cell_index(x, y, spec)
        dc, dr = _reach_offsets(spec, reach_m)
        own = _unique_pairs(col, row)
        if total + len(own) > max_cells:  # every cell holding a point is kept: fail early
            raise too_many_cells(max_cells, spec.cell_km)
        if len(own) * len(dc) > MAX_CANDIDATES:
            raise LimitExceededError(
                f"{len(own)} evidence cells with a {reach_m / 1000:g} km reach on "
                f"{spec.cell_km} km cells is too large a search (use larger cells, a smaller "
                "bandwidth or a narrower filter)"
            )
        if spec.shape == "hex":
            q, r = _offset_to_axial(own[:, 0], own[:, 1])
            qq = (q[:, None] + dc[None, :]).ravel()
            rr = (r[:, None] + dr[None, :]).ravel()
            cand = _unique_pairs(*_axial_to_offset(qq, rr))
        else:
            cc = (own[:, 0][:, None] + dc[None, :]).ravel()
            rr = (own[:, 1][:, None] + dr[None, :]).ravel()
            cand = _unique_pairs(cc, rr)
        # Exact rule: keep a candidate when it holds a point or its centre lies within the
        # reach of one (so its potential is > 0); the offsets above are only a superset.
        cx, cy = cell_centre(cand[:, 0], cand[:, 1], spec)
        tree = shapely.STRtree(shapely.points(x, y))
        near, _ = tree.query_nearest(
            shapely.points(cx, cy), max_distance=reach_m, all_matches=False
        )
        keep = np.zeros(len(cand), dtype=bool)
        keep[near] = True
        keep |= np.isin(
            cell_keys(epsg, cand[:, 0], cand[:, 1]), cell_keys(epsg, own[:, 0], own[:, 1])
        )
        cand = cand[keep]
        total += len(cand)
        if total > max_cells:
            raise too_many_cells(max_cells, spec.cell_km)
        blocks.append(
            {
                "epsg": np.full(len(cand), epsg),
                "col": cand[:, 0],
                "row": cand[:, 1],
                "lonlat_box": np.array(
                    [lon[sel].min(), lat[sel].min(), lon[sel].max(), lat[sel].max()]
                ),
            }
        )

    frames: list[pd.DataFrame] = []
    metric_parts: list[np.ndarray] = []
    geo_parts: list[np.ndarray] = []
    for block in blocks:
        epsg = int(block["epsg"][0])
        col, row = block["col"], block["row"]
        polys = cell_polygons(col, row, spec)
        if land is not None:
            pad = reach_m / 50_000 + spec.size_m / 50_000 + 0.5  # degrees, generous
            bx = block["lonlat_box"]
            land_m = _land_in_metric(
                land, epsg, (bx[0] - pad, bx[1] - pad, bx[2] + pad, bx[3] + pad)
            )
            polys = _clip(polys, land_m)
        area = shapely.area(polys)
        keep = area > 0
        polys, col, row, area = polys[keep], col[keep], row[keep], area[keep]
        cx, cy = cell_centre(col, row, spec)
        clon, clat = project_lonlat_inverse(cx, cy, epsg)
        frames.append(
            pd.DataFrame(
                {
                    "cell_id": [
                        format_cell_id(spec, epsg, c, r)
                        for c, r in zip(col.tolist(), row.tolist(), strict=True)
                    ],
                    "epsg": epsg,
                    "col": col,
                    "row": row,
                    "x_m": cx,
                    "y_m": cy,
                    "lon": clon,
                    "lat": clat,
                    "area_m2": area,
                    "cell_area_m2": spec.cell_area_m2,
                }
            )
        )
        metric_parts.append(polys)
        geo_parts.append(lonlat_from_metric(polys, epsg))
    if frames:
        table = pd.concat(frames, ignore_index=True)
        metric = np.concatenate(metric_parts)
        geoms = np.concatenate(geo_parts)
    else:
        table = pd.DataFrame(
            {
                c: pd.Series(dtype=float)
                for c in (
                    "cell_id",
                    "epsg",
                    "col",
                    "row",
                    "x_m",
                    "y_m",
                    "lon",
                    "lat",
                    "area_m2",
                    "cell_area_m2",
                )
            }
        )
        metric = np.empty(0, dtype=object)
        geoms = np.empty(0, dtype=object)
    cells = gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geoms, crs=4326).values, crs=4326)
    cells.index = pd.Index(cells["cell_id"].to_numpy(dtype=object))
    return Grid(spec=spec, cells=cells, metric_geometry=metric, reach_m=reach_m)


#: The column holding the metric cell geometries (WKB, each in its cell's own CRS) in a
#: grid written by ``grid_frame``.
METRIC_WKB_COLUMN = "metric_wkb"


def grid_frame(grid: Grid) -> gpd.GeoDataFrame:
    """The grid as one GeoParquet-ready frame: the cells and their metric geometry."""
    frame = grid.cells.reset_index(drop=True)
    frame[METRIC_WKB_COLUMN] = shapely.to_wkb(grid.metric_geometry)
    return frame


def grid_from_frame(frame: gpd.GeoDataFrame, spec: GridSpec, reach_m: float) -> Grid:
    """The inverse of ``grid_frame``."""
    metric = shapely.from_wkb(frame[METRIC_WKB_COLUMN].to_numpy())
    cells = frame.drop(columns=[METRIC_WKB_COLUMN])
    cells.index = pd.Index(cells["cell_id"].to_numpy(dtype=object))
    return Grid(spec=spec, cells=cells, metric_geometry=metric, reach_m=reach_m)


def _unique_pairs(col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Distinct (col, row) rows sorted by col then row, as ``np.unique(axis=0)`` gives,
    through one int64 key per pair (a 1-D unique is several times faster)."""
    mask = (1 << _KEY_BITS) - 1
    keys = np.unique((np.asarray(col, np.int64) << _KEY_BITS) | (np.asarray(row, np.int64) & mask))
    return np.stack([keys >> _KEY_BITS, keys & mask], axis=1)


def _clip(polys: np.ndarray, land: shapely.Geometry) -> np.ndarray:
    """Cells cut to land: whole where inside, intersected on the coast and borders."""
    if land.is_empty:
        return np.array([shapely.Polygon()] * len(polys), dtype=object)
    shapely.prepare(land)
    inside = shapely.contains_properly(land, polys)
    touching = ~inside & shapely.intersects(land, polys)
    out = np.array(polys, dtype=object)
    out[~inside & ~touching] = shapely.Polygon()
    if touching.any():
        out[touching] = shapely.make_valid(shapely.intersection(polys[touching], land))
        # Keep only areal parts (a cell touching a coast at a vertex gives a point).
        out[touching] = _areal(out[touching])
    return out


def _areal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the areal part of intersection results (a coast touching a cell corner
    gives points or lines); ``buffer(0)`` drops them and dissolves the polygons."""
    types = shapely.get_type_id(geoms)
    odd = ~np.isin(types, (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON))
    if odd.any():
        geoms = geoms.copy()
        geoms[odd] = shapely.buffer(geoms[odd], 0)
    return geoms


def cell_from_id(cell_id: str) -> tuple[GridSpec, int, shapely.Geometry]:
    """Rebuild an unclipped cell (metric polygon) from its id."""
    spec, epsg, col, row = parse_cell_id(cell_id)
    return spec, epsg, cell_polygons(np.array([col]), np.array([row]), spec)[0]
