"""Land status of deposits: which federal units a point lies in and which rule wins.

Federal land layers overlap on purpose (a wilderness lies inside a national forest, a
park inside the coarse NPS polygon), so every point gets the list of all units it falls
in, and one *governing* unit chosen by precedence: the most restrictive mineral-entry
status wins, then the most specific designation, then the unit id (for determinism).

Mineral-entry precedence (most restrictive first; ``non_federal`` is state land a
layer maps, which yields to any federal unit over it):

====  ============
rank  status
====  ============
0     closed
1     restricted
2     unknown
3     open
4     non_federal
====  ============

Designation specificity, used only between units of the same status (most specific
first; a designation missing here ranks after all listed ones):

====  ======================================
rank  designation
====  ======================================
0     wilderness
1     national_park
2     national_preserve
3     national_monument
4     national_seashore
5     national_lakeshore
6     national_river
7     national_conservation_area
8     national_wildlife_refuge
9     anilca_wildlife_refuge
10    nps_unit
11    national_petroleum_reserve
12    military_reservation
13    indian_trust_land
14    acquired_land
15    wilderness_study_area
16    research_natural_area
17    wild_and_scenic_river
18    area_of_critical_environmental_concern
19    national_recreation_area
20    reclamation_project
21    state_management_area
22    other_federal
23    blm_public_land_unscreened
24    special_recreation_management_area
25    national_forest
26    blm_public_land
27    state_land
====  ======================================

So a mine in the Trinity Alps Wilderness inside the Weaverville Ranger District is
``closed`` (wilderness) and keeps both unit ids. A point on no unit is ``non_federal``
only where a layer mapping all federal land covers it (``geo.landcoverage``), else
``unknown``; agency and designation are then null. ``docs/scoring.md`` repeats the tables.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.landcoverage import LandCoverage
from layers import land_rules
from layers.schema import once_per_distinct

NON_FEDERAL = land_rules.NON_FEDERAL

#: Most restrictive first; state land a layer maps (``non_federal``) yields to any
#: federal unit overlapping it.
STATUS_PRECEDENCE: tuple[str, ...] = ("closed", "restricted", "unknown", "open", NON_FEDERAL)

#: Most specific first, within one status.
DESIGNATION_PRECEDENCE: tuple[str, ...] = (
    "wilderness",
    "national_park",
    "national_preserve",
    "national_monument",
    "national_seashore",
    "national_lakeshore",
    "national_river",
    "national_conservation_area",
    "national_wildlife_refuge",
    "anilca_wildlife_refuge",
    "nps_unit",
    "national_petroleum_reserve",
    "military_reservation",
    "indian_trust_land",
    "acquired_land",
    "wilderness_study_area",
    "research_natural_area",
    "wild_and_scenic_river",
    "area_of_critical_environmental_concern",
    "national_recreation_area",
    "reclamation_project",
    "state_management_area",
    "other_federal",
    "blm_public_land_unscreened",
    "special_recreation_management_area",
    "national_forest",
    "blm_public_land",
    "state_land",
)

LAND_STATUS_COLUMNS = (
    "land_unit_ids",
    "land_unit_names",
    "agency",
    "designation",
    "mineral_entry",
    "mineral_entry_reason",
)


def _rank(values: pd.Series, order: tuple[str, ...]) -> np.ndarray:
    """Position of each value in ``order``; unlisted values rank after all listed ones."""
    lookup = {v: i for i, v in enumerate(order)}
    return values.map(lookup).fillna(len(order)).to_numpy(dtype=np.int64)


def overlay_land_status(
    deposits: gpd.GeoDataFrame, lands: gpd.GeoDataFrame, coverage: LandCoverage
) -> pd.DataFrame:
    """Land status per deposit, index aligned with ``deposits``.

    Columns: ``land_unit_ids`` and ``land_unit_names`` (every unit the point lies in,
    governing unit first), ``agency``, ``designation`` and ``mineral_entry`` of the
    governing unit, and ``mineral_entry_reason`` (the rule and the unit behind it). A
    point on no unit is ``non_federal`` only where ``coverage`` says all federal land is
    mapped, else ``unknown``; agency and designation are then null. One spatial query (the
    units against an STRtree of the points); precedence is a sort, not a loop.
    """
    out = pd.DataFrame(index=deposits.index)
    n = len(deposits)
    out["land_unit_ids"] = pd.Series([[] for _ in range(n)], index=deposits.index, dtype=object)
    out["land_unit_names"] = pd.Series([[] for _ in range(n)], index=deposits.index, dtype=object)
    out["agency"] = pd.Series([None] * n, index=deposits.index, dtype=object)
    out["designation"] = pd.Series([None] * n, index=deposits.index, dtype=object)
    if n:
        geoms = deposits.geometry
        complete = coverage.complete_at(geoms.x.to_numpy(), geoms.y.to_numpy())
    else:
        complete = np.zeros(0, dtype=bool)
    # Off any unit, two statuses and two reasons, each one object shared by its rows
    off_unit = complete.astype(np.intp)
    statuses = np.array(["unknown", NON_FEDERAL], dtype=object)
    reasons = np.array(
        [coverage.off_unit_reason(False), coverage.off_unit_reason(True)], dtype=object
    )
    out["mineral_entry"] = pd.Series(statuses[off_unit], index=deposits.index, dtype=object)
    out["mineral_entry_reason"] = pd.Series(reasons[off_unit], index=deposits.index, dtype=object)
    if n == 0 or len(lands) == 0:
        return out
    if lands.crs is not None and deposits.crs is not None and lands.crs != deposits.crs:
        lands = lands.to_crs(deposits.crs)

    units = lands[["id", "name", "agency", "designation", "mineral_entry", "geometry"]]
    units = units.reset_index(drop=True)
    # A tree of the points queried by each unit, not a tree of the units queried by each
    # point: GEOS prepares the querying polygon once, so each point-in-polygon test is an
    # indexed lookup (300k deposits over the national units: 3.0 -> 0.56 s, same pairs).
    # "intersects" keeps points lying exactly on a unit boundary inside the unit.
    unit_pos, point_pos = shapely.STRtree(deposits.geometry.to_numpy()).query(
        units.geometry.to_numpy(), predicate="intersects"
    )
    if len(point_pos) == 0:
        return out
    matched = units.iloc[unit_pos]
    unit_names = units["name"].to_numpy(dtype=object, copy=True)
    unit_names[pd.isna(unit_names)] = None  # missing unit names stay visible as None
    names = unit_names[unit_pos]
    pairs = pd.DataFrame(
        {
            "pos": point_pos,
            "unit": unit_pos,
            "id": matched["id"].to_numpy(dtype=object),
            "name": pd.Series(names, dtype=object),
            "agency": matched["agency"].to_numpy(dtype=object),
            "designation": matched["designation"].to_numpy(dtype=object),
            "mineral_entry": matched["mineral_entry"].to_numpy(dtype=object),
        }
    )
    pairs["status_rank"] = _rank(pairs["mineral_entry"], STATUS_PRECEDENCE)
    pairs["designation_rank"] = _rank(pairs["designation"], DESIGNATION_PRECEDENCE)
    pairs = pairs.sort_values(["pos", "status_rank", "designation_rank", "id"], kind="stable")
    # Each deposit's pairs are one run of the sorted ``pos``: its lists are slices and its
    # first pair (the highest precedence) gives its status. A groupby building lists per
    # group took half of the overlay at 10^5 deposits.
    pos = pairs["pos"].to_numpy()
    starts = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])
    runs = list(zip(starts.tolist(), [*starts[1:].tolist(), len(pos)], strict=True))
    index = deposits.index[pos[starts]]
    for column, values in (("land_unit_ids", pairs["id"]), ("land_unit_names", pairs["name"])):
        listed = values.tolist()
        out.loc[index, column] = pd.Series(
            [listed[a:b] for a, b in runs], index=index, dtype=object
        )
    first = pairs.iloc[starts]
    for column in ("agency", "designation", "mineral_entry"):
        out.loc[index, column] = first[column].to_numpy()
    out.loc[index, "mineral_entry_reason"] = once_per_distinct(  # one reason per unit,
        first["unit"].to_numpy(),  # one object per text (units of one name and designation)
        lambda u: sys.intern(
            unit_reason(unit_names[u], units["id"].iat[u], units["designation"].iat[u])
        ),
    )
    return out


def unit_reason(name: str | None, unit_id: str, designation: str | None) -> str:
    """Why a unit's status applies: the unit, then the rule's law or order."""
    label = name if isinstance(name, str) and name else f"unnamed unit {unit_id}"
    return f"{label}: {land_rules.rule_reason(designation)}"


def precedence_table() -> list[dict[str, object]]:
    """The precedence rules as rows (for the API's documentation endpoints and docs)."""
    return [
        *({"kind": "status", "rank": i, "value": v} for i, v in enumerate(STATUS_PRECEDENCE)),
        *(
            {"kind": "designation", "rank": i, "value": v}
            for i, v in enumerate(DESIGNATION_PRECEDENCE)
        ),
    ]


#: Land polygons are cut into square tiles of at least this size before the overlays, so
#: no operation ever touches a whole national forest or a whole state's BLM land.
TILE_MIN_M = 40_000.0


def _grouped_union(geoms: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Union of ``geoms`` per group id (0..n_groups-1) in one vectorized call.

    The geometries are laid out in a (group, member) array padded with None, which
    ``shapely.union_all`` ignores, and reduced along the member axis.
    """
    out = np.array([shapely.Polygon()] * n_groups, dtype=object)
    if len(geoms) == 0:
        return out
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    starts = np.searchsorted(g, g, side="left")
    member = np.arange(len(g)) - starts
    table = np.full((n_groups, int(member.max()) + 1), None, dtype=object)
    table[g, member] = geoms[order]
    unions = shapely.union_all(table, axis=1)
    present = np.bincount(groups, minlength=n_groups) > 0
    out[present] = unions[present]
    return out


def _tiles_for(cells: np.ndarray, tile_m: float) -> np.ndarray:
    """Square tiles (metric polygons) covering the cells' bounding boxes."""
    bounds = shapely.bounds(cells)
    cols = np.floor(bounds[:, [0, 2, 0, 2]] / tile_m).astype(np.int64).ravel()
    rows = np.floor(bounds[:, [1, 1, 3, 3]] / tile_m).astype(np.int64).ravel()
    cr = np.unique(np.stack([cols, rows], axis=1), axis=0)
    return shapely.box(
        cr[:, 0] * tile_m, cr[:, 1] * tile_m, (cr[:, 0] + 1) * tile_m, (cr[:, 1] + 1) * tile_m
    )


def _tiled(
    frame: gpd.GeoDataFrame, tiles: np.ndarray, epsg: int, box: tuple[float, float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """The frame's polygons near ``box`` projected to ``epsg`` and cut by the tiles.

    Returns (pieces, tile index of each piece).
    """
    pieces, tile, _ = _tiled_rows(frame, tiles, epsg, box)
    return pieces, tile


#: Rows of frames projected to a metric CRS and repaired, by (frame id, EPSG), each row
#: on first use: the land layers are projected once per engine, not once per ranking and
#: status. Bounded (store switches bring new frames).
_METRIC_CACHE: OrderedDict[tuple[int, int], tuple[gpd.GeoDataFrame, np.ndarray]] = OrderedDict()
METRIC_CACHE_ENTRIES = 8


def _metric_geometries(frame: gpd.GeoDataFrame, epsg: int, rows: np.ndarray) -> np.ndarray:
    """The ``rows`` of ``frame`` in ``epsg``, valid."""
    key = (id(frame), epsg)
    hit = _METRIC_CACHE.get(key)
    if hit is None or hit[0] is not frame:
        hit = (frame, np.full(len(frame), None, dtype=object))
        _METRIC_CACHE[key] = hit
        while len(_METRIC_CACHE) > METRIC_CACHE_ENTRIES:
            _METRIC_CACHE.popitem(last=False)
    metric = hit[1]
    todo = rows[shapely.is_missing(metric[rows])]
    if len(todo):
        fresh = np.asarray(
            gpd.GeoSeries(frame.geometry.values[todo], crs=4326).to_crs(epsg).values,
            dtype=object,
        )
        invalid = ~shapely.is_valid(fresh)
        fresh[invalid] = shapely.make_valid(fresh[invalid])
        metric[todo] = fresh
    return metric[rows]


def _tiled_rows(
    frame: gpd.GeoDataFrame, tiles: np.ndarray, epsg: int, box: tuple[float, float, float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As ``_tiled``, plus the row position in ``frame`` of each piece."""
    empty = np.empty(0, dtype=np.int64)
    if len(frame) == 0:
        return np.empty(0, dtype=object), empty, empty
    rows = np.sort(frame.sindex.query(shapely.box(*box), predicate="intersects"))
    if len(rows) == 0:
        return np.empty(0, dtype=object), empty, empty
    metric = _metric_geometries(frame, epsg, rows)
    tile_pos, geom_pos = shapely.STRtree(metric).query(tiles, predicate="intersects")
    pieces = shapely.intersection(metric[geom_pos], tiles[tile_pos])
    keep = ~shapely.is_empty(pieces)
    return pieces[keep], tile_pos[keep], rows[geom_pos[keep]]


@dataclass(frozen=True)
class LandPieces:
    """The land polygons near a block of metric cells, cut into square tiles: each piece
    with its tile and its row in the lands frame. Cut once, used for the land shares and
    the units a cell overlaps."""

    tiles: np.ndarray
    pieces: np.ndarray
    tile: np.ndarray
    rows: np.ndarray


def cut_lands(
    cells: np.ndarray, epsg: int, lands: gpd.GeoDataFrame, box: tuple[float, float, float, float]
) -> LandPieces:
    """``lands`` near the metric ``cells`` (lon/lat ``box``) in ``epsg``, cut by tiles."""
    if len(cells) == 0:
        empty = np.empty(0, dtype=np.int64)
        return LandPieces(np.empty(0, dtype=object), np.empty(0, dtype=object), empty, empty)
    size = float(np.sqrt(np.nanmax(shapely.area(shapely.envelope(cells)))))
    tiles = _tiles_for(cells, max(TILE_MIN_M, 2 * size))
    pieces, tile, rows = _tiled_rows(lands, tiles, epsg, box)
    return LandPieces(tiles, pieces, tile, rows)


#: Parts of a cell's land, in the order the precedence assigns them (most restrictive
#: unit status first; then the land on no unit). They sum to the cell's land area.
LAND_SHARE_PARTS: tuple[str, ...] = (
    "closed",
    "restricted",
    "unknown",
    "claimed",
    "open",
    NON_FEDERAL,
)
#: Columns of ``land_shares``: each part's share of the cell's land, in [0, 1].
LAND_SHARE_COLUMNS: tuple[str, ...] = tuple(f"land_{p}_share" for p in LAND_SHARE_PARTS)


def land_share_areas(
    cells: np.ndarray,
    cut: LandPieces,
    lands: gpd.GeoDataFrame,
    active_claims: gpd.GeoDataFrame | None,
    epsg: int,
    lonlat_box: tuple[float, float, float, float],
    complete_fraction: np.ndarray,
) -> dict[str, np.ndarray]:
    """Area (m2) of each metric cell polygon by land status, ``LAND_SHARE_PARTS`` keys.

    Precedence as for points, applied to areas: per tile, each status takes the part of
    its units' union that no more restrictive status has taken (closed, restricted,
    unknown, open, then state land mapped as non-federal); open land under an active
    claim is ``claimed``. The land on no unit is ``non_federal`` for the share of the
    cell inside the complete coverage (``complete_fraction``, 0..1 per cell) and
    ``unknown`` for the rest. Every step is a vectorized shapely call over tiles or
    pieces: the polygons were cut into tiles (``cut_lands``), the unions are per tile,
    and the cells are intersected with their tiles' pieces.
    """
    n = len(cells)
    out = {part: np.zeros(n) for part in LAND_SHARE_PARTS}
    if n == 0:
        return out
    tiles = cut.tiles
    n_tiles = len(tiles)
    status = lands["mineral_entry"].to_numpy(dtype=object)[cut.rows]
    taken = np.array([shapely.Polygon()] * n_tiles, dtype=object)
    unit_area = np.zeros(n)
    for part in STATUS_PRECEDENCE:
        pieces, tile = cut.pieces[status == part], cut.tile[status == part]
        if len(pieces) == 0:
            continue
        union = _grouped_union(pieces, tile, n_tiles)
        has = ~shapely.is_empty(union)
        own = union.copy()
        overlap = has & ~shapely.is_empty(taken)
        own[overlap] = shapely.difference(union[overlap], taken[overlap])
        taken[has] = shapely.union(taken[has], union[has])
        if part == "open" and active_claims is not None and len(active_claims):
            claim_pieces, claim_tile = _tiled(active_claims, tiles, epsg, lonlat_box)
            if len(claim_pieces):
                claims = _grouped_union(claim_pieces, claim_tile, n_tiles)
                both = ~shapely.is_empty(own) & ~shapely.is_empty(claims)
                claimed = np.array([shapely.Polygon()] * n_tiles, dtype=object)
                claimed[both] = shapely.intersection(own[both], claims[both])
                own[both] = shapely.difference(own[both], claims[both])
                out["claimed"] = _cell_areas(cells, claimed)
        out[part] = _cell_areas(cells, own)
    for part in LAND_SHARE_PARTS:
        unit_area += out[part]
    off_unit = np.clip(shapely.area(cells) - unit_area, 0.0, None)
    fraction = np.clip(np.asarray(complete_fraction, float), 0.0, 1.0)
    out[NON_FEDERAL] = out[NON_FEDERAL] + off_unit * fraction
    out["unknown"] = out["unknown"] + off_unit * (1.0 - fraction)
    return out


def _cell_areas(cells: np.ndarray, per_tile: np.ndarray) -> np.ndarray:
    """Area of each cell inside the per-tile geometries."""
    nonempty = ~shapely.is_empty(per_tile)
    geoms = per_tile[nonempty]
    if len(geoms) == 0:
        return np.zeros(len(cells))
    cell_pos, tile_pos = shapely.STRtree(geoms).query(cells, predicate="intersects")
    areas = shapely.area(inside_parts(cells[cell_pos], geoms[tile_pos]))
    return np.bincount(cell_pos, weights=areas, minlength=len(cells))


def inside_parts(cells: np.ndarray, pieces: np.ndarray) -> np.ndarray:
    """``cells ∩ pieces`` pairwise, skipping the overlay where a cell lies wholly inside
    its piece (the common case: cells of a few km in units of tens of km)."""
    shapely.prepare(pieces)
    inside = shapely.contains_properly(pieces, cells)
    out = np.array(cells, dtype=object, copy=True)
    edge = ~inside
    if edge.any():
        out[edge] = shapely.intersection(cells[edge], pieces[edge])
    return out


def complete_fraction(cells: np.ndarray, complete_metric: shapely.Geometry) -> np.ndarray:
    """Share of each metric cell inside the complete coverage (same CRS): 1 or 0 for
    cells wholly in or out (a prepared test), intersected only on its edge."""
    if complete_metric.is_empty or len(cells) == 0:
        return np.zeros(len(cells))
    shapely.prepare(complete_metric)
    inside = shapely.contains_properly(complete_metric, cells)
    edge = ~inside & shapely.intersects(complete_metric, cells)
    out = inside.astype(float)
    if edge.any():
        area = shapely.area(cells[edge])
        part = shapely.area(shapely.intersection(cells[edge], complete_metric))
        out[edge] = np.where(area > 0, part / np.where(area > 0, area, 1.0), 0.0)
    return out
