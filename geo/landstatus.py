"""Land status of deposits: which federal units a point lies in and which rule wins.

Federal land layers overlap on purpose (a wilderness lies inside a national forest, a
park inside the coarse NPS polygon), so every point gets the list of all units it falls
in, and one *governing* unit chosen by precedence: the most restrictive mineral-entry
status wins, then the most specific designation, then the unit id (for determinism).

Mineral-entry precedence (most restrictive first):

====  ============
rank  status
====  ============
0     closed
1     restricted
2     unknown
3     open
====  ============

Designation specificity, used only between units of the same status (most specific
first; a designation missing here ranks after all listed ones):

====  ==============================
rank  designation
====  ==============================
0     wilderness
1     national_park
2     national_preserve
3     national_monument
4     national_seashore
5     national_lakeshore
6     national_river
7     national_conservation_area
8     national_wildlife_refuge
9     nps_unit
10    military_reservation
11    indian_trust_land
12    wilderness_study_area
13    national_recreation_area
14    reclamation_project
15    other_federal
16    national_forest
17    blm_public_land
====  ==============================

So a mine in the Trinity Alps Wilderness inside the Weaverville Ranger District is
``closed`` (wilderness) and keeps both unit ids. A point on no federal unit is
``non_federal`` with null agency and designation. ``docs/scoring.md`` repeats the tables.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

#: Most restrictive first.
STATUS_PRECEDENCE: tuple[str, ...] = ("closed", "restricted", "unknown", "open")

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
    "nps_unit",
    "military_reservation",
    "indian_trust_land",
    "wilderness_study_area",
    "national_recreation_area",
    "reclamation_project",
    "other_federal",
    "national_forest",
    "blm_public_land",
)

NON_FEDERAL = "non_federal"

LAND_STATUS_COLUMNS = ("land_unit_ids", "land_unit_names", "agency", "designation", "mineral_entry")


def _rank(values: pd.Series, order: tuple[str, ...]) -> np.ndarray:
    """Position of each value in ``order``; unlisted values rank after all listed ones."""
    lookup = {v: i for i, v in enumerate(order)}
    return values.map(lookup).fillna(len(order)).to_numpy(dtype=np.int64)


def overlay_land_status(deposits: gpd.GeoDataFrame, lands: gpd.GeoDataFrame) -> pd.DataFrame:
    """Land status per deposit, index aligned with ``deposits``.

    Columns: ``land_unit_ids`` and ``land_unit_names`` (every unit the point lies in,
    governing unit first), ``agency``, ``designation`` and ``mineral_entry`` of the
    governing unit (``non_federal`` and nulls off federal land). One spatial join over
    the lands' STRtree; precedence is a sort, not a loop.
    """
    out = pd.DataFrame(index=deposits.index)
    n = len(deposits)
    out["land_unit_ids"] = pd.Series([[] for _ in range(n)], index=deposits.index, dtype=object)
    out["land_unit_names"] = pd.Series([[] for _ in range(n)], index=deposits.index, dtype=object)
    out["agency"] = pd.Series([None] * n, index=deposits.index, dtype=object)
    out["designation"] = pd.Series([None] * n, index=deposits.index, dtype=object)
    out["mineral_entry"] = NON_FEDERAL
    if n == 0 or len(lands) == 0:
        return out
    if lands.crs is not None and deposits.crs is not None and lands.crs != deposits.crs:
        lands = lands.to_crs(deposits.crs)

    points = gpd.GeoDataFrame(
        {"_pos": np.arange(n)}, geometry=deposits.geometry.values, crs=deposits.crs
    )
    units = lands[["id", "name", "agency", "designation", "mineral_entry", "geometry"]]
    units = units.reset_index(drop=True)
    # "intersects" keeps points lying exactly on a unit boundary inside the unit.
    pairs = gpd.sjoin(points, units, how="inner", predicate="intersects")
    if pairs.empty:
        return out
    names = pairs["name"].to_numpy(dtype=object, copy=True)
    names[pd.isna(names)] = None  # missing unit names stay visible as None
    pairs = pd.DataFrame(
        {
            "pos": pairs["_pos"].to_numpy(),
            "id": pairs["id"].to_numpy(dtype=object),
            "name": pd.Series(names, dtype=object),
            "agency": pairs["agency"].to_numpy(dtype=object),
            "designation": pairs["designation"].to_numpy(dtype=object),
            "mineral_entry": pairs["mineral_entry"].to_numpy(dtype=object),
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
    return out


def precedence_table() -> list[dict[str, object]]:
    """The precedence rules as rows (for the API's documentation endpoints and docs)."""
    return [
        *({"kind": "status", "rank": i, "value": v} for i, v in enumerate(STATUS_PRECEDENCE)),
        *(
            {"kind": "designation", "rank": i, "value": v}
            for i, v in enumerate(DESIGNATION_PRECEDENCE)
        ),
    ]


def _near(frame: gpd.GeoDataFrame, box: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """Rows whose geometry meets a lon/lat box (the frame's STRtree, built once)."""
    if len(frame) == 0:
        return frame
    hits = frame.sindex.query(shapely.box(*box), predicate="intersects")
    return frame.iloc[np.sort(hits)]


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
    near = _near(frame, box)
    if len(near) == 0:
        return np.empty(0, dtype=object), np.empty(0, dtype=np.int64)
    metric = np.asarray(
        gpd.GeoSeries(near.geometry.values, crs=4326).to_crs(epsg).values, dtype=object
    )
    metric = shapely.make_valid(metric)
    tile_pos, geom_pos = shapely.STRtree(metric).query(tiles, predicate="intersects")
    pieces = shapely.intersection(metric[geom_pos], tiles[tile_pos])
    keep = ~shapely.is_empty(pieces)
    return pieces[keep], tile_pos[keep]


def available_land_area(
    cells: np.ndarray,
    epsg: int,
    lands: gpd.GeoDataFrame,
    active_claims: gpd.GeoDataFrame | None,
    lonlat_box: tuple[float, float, float, float],
    available_entry: tuple[str, ...] = ("open",),
) -> np.ndarray:
    """Area (m2) of each metric cell polygon on federal land open to mineral entry and not
    under an active claim.

    Precedence as for points: land counts as available only where no unit of a more
    restrictive status overlaps it, so per tile ``open = union(open units) -
    union(other units) - union(active claims)``. Every step is a vectorized shapely call
    over tiles or pieces: the polygons are cut into tiles (``TILE_MIN_M``) first, the
    unions are per tile, and the cells are intersected with their tiles' pieces.
    """
    if len(cells) == 0:
        return np.zeros(0)
    size = float(np.sqrt(np.nanmax(shapely.area(shapely.envelope(cells)))))
    tiles = _tiles_for(cells, max(TILE_MIN_M, 2 * size))
    n_tiles = len(tiles)
    open_rows = lands.loc[lands["mineral_entry"].isin(available_entry).to_numpy()]
    other_rows = lands.loc[~lands["mineral_entry"].isin(available_entry).to_numpy()]
    open_pieces, open_tile = _tiled(open_rows, tiles, epsg, lonlat_box)
    if len(open_pieces) == 0:
        return np.zeros(len(cells))
    available = _grouped_union(open_pieces, open_tile, n_tiles)
    blocked_pieces, blocked_tile = _tiled(other_rows, tiles, epsg, lonlat_box)
    if active_claims is not None and len(active_claims):
        claim_pieces, claim_tile = _tiled(active_claims, tiles, epsg, lonlat_box)
        blocked_pieces = np.concatenate([blocked_pieces, claim_pieces])
        blocked_tile = np.concatenate([blocked_tile, claim_tile])
    if len(blocked_pieces):
        blocked = _grouped_union(blocked_pieces, blocked_tile, n_tiles)
        has = ~shapely.is_empty(blocked) & ~shapely.is_empty(available)
        available[has] = shapely.difference(available[has], blocked[has])
    nonempty = ~shapely.is_empty(available)
    available = available[nonempty]
    if len(available) == 0:
        return np.zeros(len(cells))
    cell_pos, tile_pos = shapely.STRtree(available).query(cells, predicate="intersects")
    areas = shapely.area(shapely.intersection(cells[cell_pos], available[tile_pos]))
    return np.bincount(cell_pos, weights=areas, minlength=len(cells))
