"""Mapbox Vector Tiles (MVT 2.1) from Web Mercator geometries.

Per tile, vectorized in GEOS: clip to the tile plus its buffer, move to tile units (y up)
snapped to the integer tile grid with one affine transform and rounding, simplify to one
tile unit (detail follows the zoom; ``set_precision`` redoes what this left invalid, so
every result is valid), and orient polygon exteriors counter-clockwise. The encoder
flips y, so exteriors end up clockwise in MVT's y-down space, as the spec requires; its
own per-polygon winding and validity repair (pure Python, ~10x slower on a national
lands tile) is therefore skipped.
Geometries that collapse below a unit vanish; empties are dropped.

Points (the deposits) skip GEOS: they are kept strictly inside the buffered tile (as
``clip_by_rect`` does) and snapped with numpy, rounding halves up as GEOS's grid does.
The layer is built directly as ``vector_tile_pb2`` messages, with the geometry commands
computed with numpy for the whole tile at once (``shape_commands``: the integers of
``mapbox_vector_tile``'s ``GeometryEncoder``, 10 to 40 times faster): the same bytes as
``mapbox_vector_tile.encode`` (keys and values indexed in order of first use), without
its per-feature geometry loading and checks (4 to 6 times faster on points).
"""

from __future__ import annotations

from typing import Any

import mapbox_vector_tile
import numpy as np
import pandas as pd
import shapely
from mapbox_vector_tile.geom_encoder import GeometryEncoder
from mapbox_vector_tile.Mapbox import vector_tile_pb2

#: Simplification tolerance and snapping grid, in tile units (1/extent of the tile width).
SIMPLIFY_UNITS = 1.0
GRID_UNITS = 1.0
#: MVT geometry types by shapely type id (point, line, ring, polygon, multi-*).
POINT, LINE, POLYGON = 1, 2, 3
MVT_TYPE = np.array([POINT, LINE, LINE, POLYGON, POINT, LINE, POLYGON, 0])
#: MVT command integers: (count << COMMAND_BITS) | id. One MoveTo for one point: 9.
COMMAND_BITS, LINE_TO = 3, 2
MOVE_TO_ONE = (1 << COMMAND_BITS) | 1
CLOSE_PATH = (1 << COMMAND_BITS) | 7
#: Below this many vertices in a tile, the library's per-point encoder is quicker than
#: the fixed cost of the vectorized one (about 0.1 ms).
FEW_VERTICES = 100
_VALUE_FIELD = {str: "string_value", bool: "bool_value", int: "int_value", float: "double_value"}
#: The protobuf fields a tile value may be in.
VALUE_FIELDS = tuple(_VALUE_FIELD.values())
#: A row's value id per key: 32 bits hold the distinct values of any collection, in half
#: the memory of 64 (9.6 MB for the 300k records' eight keys).
CODE_DTYPE = np.int32
_NO_CODES = np.zeros(0, dtype=CODE_DTYPE)


def _keep_dimension(geoms: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """Replace geometry collections by their parts of the original dimension (rare)."""
    for i in np.flatnonzero(shapely.get_type_id(geoms) == 7):
        parts = [p for p in shapely.get_parts(geoms[i]) if shapely.get_dimensions(p) == dims[i]]
        geoms[i] = shapely.union_all(parts)
    return geoms


def _snap(xy: np.ndarray) -> np.ndarray:
    """Round to the grid, halves up (as GEOS's precision model and the points do)."""
    return np.floor(xy / GRID_UNITS + 0.5) * GRID_UNITS


def to_tile_units(
    geoms_3857: np.ndarray, bounds: tuple[float, float, float, float], extent: int, buffer: int
) -> np.ndarray:
    """Clipped, grid-snapped, simplified, MVT-oriented geometries in tile units (y up).

    Snapping rounds the coordinates, before simplifying (which mostly keeps a subset of
    them) and again after it (GEOS repairs what simplifying broke, off the grid), then
    drops repeated points. The few geometries left invalid (none in 36k sampled lands
    pieces) are redone from the clipped geometry with ``set_precision``, which snaps
    with noding and returns a valid geometry: on every geometry it took two thirds of a
    polygon tile's time."""
    minx, miny, maxx, maxy = bounds
    scale = extent / (maxx - minx)
    pad = buffer / scale
    dims = shapely.get_dimensions(geoms_3857)
    clipped = shapely.clip_by_rect(geoms_3857, minx - pad, miny - pad, maxx + pad, maxy + pad)
    origin = np.array([minx, miny])

    def to_tile(xy: np.ndarray) -> np.ndarray:
        return (xy - origin) * scale

    local = shapely.transform(clipped, lambda xy: _snap(to_tile(xy)))
    local = shapely.transform(_simplify(local, dims), _snap)  # its repairs leave the grid
    local = _without_repeated_points(local)
    invalid = np.flatnonzero(~shapely.is_valid(local))
    if invalid.size:
        exact = shapely.transform(clipped[invalid], to_tile)
        local[invalid] = shapely.set_precision(_simplify(exact, dims[invalid]), GRID_UNITS)
    local = shapely.orient_polygons(local, exterior_cw=False)
    return _keep_dimension(local, dims)


def _without_repeated_points(geoms: np.ndarray) -> np.ndarray:
    """``remove_repeated_points``; a geometry whose ring it would cut below 3 points
    (GEOS raises: a tiny ring snapped onto itself) becomes None, which the caller's
    validity test sends to the ``set_precision`` redo."""
    try:
        return shapely.remove_repeated_points(geoms)
    except shapely.errors.GEOSException:
        out = np.empty(len(geoms), dtype=object)
        for i, geom in enumerate(geoms):
            try:
                out[i] = shapely.remove_repeated_points(geom)
            except shapely.errors.GEOSException:
                out[i] = None
        return out


def _simplify(geoms: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """Lines and polygons simplified to one tile unit (points as they are)."""
    shaped = dims > 0
    geoms[shaped] = shapely.simplify(geoms[shaped], SIMPLIFY_UNITS, preserve_topology=False)
    return geoms


def _zigzag(values: np.ndarray) -> np.ndarray:
    return (values << 1) ^ (values >> 63)


def _point_geometries(
    xy: np.ndarray, bounds: tuple[float, float, float, float], extent: int, buffer: int
) -> tuple[np.ndarray, list[list[int]]]:
    """Positions of the points (Web Mercator ``xy``) inside the buffered tile and their
    MVT commands (y down)."""
    minx, miny, maxx, maxy = bounds
    scale = extent / (maxx - minx)
    pad = buffer / scale
    x, y = xy[:, 0], xy[:, 1]
    inside = (x > minx - pad) & (x < maxx + pad) & (y > miny - pad) & (y < maxy + pad)
    keep = np.flatnonzero(inside)
    local = (xy[keep] - np.array([minx, miny])) * scale
    snapped = np.floor(local + 0.5).astype(np.int64)  # GEOS rounds halves up
    zx = _zigzag(snapped[:, 0]).tolist()
    zy = _zigzag(extent - snapped[:, 1]).tolist()
    return keep, [[MOVE_TO_ONE, a, b] for a, b in zip(zx, zy, strict=True)]


def _shape_geometries(
    geoms_3857: np.ndarray, bounds: tuple[float, float, float, float], extent: int, buffer: int
) -> tuple[np.ndarray, list[list[int]], list[int]]:
    """Positions of the lines and polygons left in the tile, their commands and MVT types."""
    local = to_tile_units(geoms_3857, bounds, extent, buffer)
    keep = np.flatnonzero(~shapely.is_empty(local))
    local = local[keep]
    types = shapely.get_type_id(local)
    if (types == 7).any():
        raise ValueError("Encoding geometry collections not supported")
    mvt_types = MVT_TYPE[types]
    if shapely.get_num_coordinates(local).sum() < FEW_VERTICES:
        commands = [GeometryEncoder(False, extent).encode(g) for g in local.tolist()]
        return keep, commands, mvt_types.tolist()
    commands = [[] for _ in range(len(local))]
    for mvt_type in (LINE, POLYGON):
        rows = np.flatnonzero(mvt_types == mvt_type)
        if rows.size:
            for row, command in zip(
                rows.tolist(), shape_commands(local[rows], extent), strict=True
            ):
                commands[row] = command
    for row in np.flatnonzero(mvt_types == POINT).tolist():  # a point in a lines layer
        commands[row] = GeometryEncoder(False, extent).encode(local[row])
    return keep, commands, mvt_types.tolist()


def _runs(counts: np.ndarray) -> np.ndarray:
    """``i`` repeated ``counts[i]`` times: the owner of each item of a ragged array."""
    return np.repeat(np.arange(len(counts)), counts)


def shape_commands(geoms: np.ndarray, extent: int) -> list[list[int]]:
    """MVT commands of non-empty lines or polygons (all one or the other) in tile units,
    y up: the integers ``GeometryEncoder(False, extent).encode`` computes point by point,
    computed for the whole tile at once from the ragged coordinate arrays.

    As the library does: y is flipped; a ring's closing point is left out; a point equal to
    the one before it is skipped; a part (line or ring) left with fewer than two points is
    dropped, and with its exterior ring the whole polygon; the cursor starts at 0,0 for
    each geometry and moves from part to part.
    """
    kind, coords, offsets = shapely.to_ragged_array(geoms)
    polygonal = kind in (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
    if kind == shapely.GeometryType.POLYGON:
        part_end, poly_end, geom_end = offsets[0], offsets[1], np.arange(len(geoms) + 1)
    elif kind == shapely.GeometryType.MULTIPOLYGON:
        part_end, poly_end, geom_end = offsets
    elif kind == shapely.GeometryType.LINESTRING:  # each line its own one-ring "polygon"
        part_end, geom_end = offsets[0], np.arange(len(geoms) + 1)
        poly_end = np.arange(len(part_end))
    elif kind == shapely.GeometryType.MULTILINESTRING:
        part_end, geom_end = offsets
        poly_end = np.arange(len(part_end))
    else:
        raise ValueError(f"not lines or polygons: {kind!r}")
    xy = np.rint(coords).astype(np.int64)
    xy[:, 1] = extent - xy[:, 1]
    part_sizes = np.diff(part_end)
    part_of = _runs(part_sizes)
    starts = part_end[:-1][part_sizes > 0]
    take = np.ones(len(xy), dtype=bool)
    take[1:] = (xy[1:] != xy[:-1]).any(axis=1)
    take[starts] = True
    if polygonal:
        take[part_end[1:][part_sizes > 0] - 1] = False  # the closing point
    count = np.bincount(part_of[take], minlength=len(part_sizes))
    drawn = count >= 2
    poly_sizes = np.diff(poly_end)
    poly_of = _runs(poly_sizes)
    exterior_drawn = np.zeros(len(poly_sizes), dtype=bool)
    exterior_drawn[poly_sizes > 0] = drawn[poly_end[:-1][poly_sizes > 0]]
    drawn &= exterior_drawn[poly_of]
    geom_of_part = _runs(np.diff(geom_end))[poly_of]

    take &= drawn[part_of]
    points, point_part = xy[take], part_of[take]
    point_geom = geom_of_part[point_part]
    delta = np.diff(points, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    restart = np.ones(len(points), dtype=bool)
    restart[1:] = point_geom[1:] != point_geom[:-1]
    delta[restart] = points[restart]

    parts = np.flatnonzero(drawn)
    n = count[parts]
    length = 2 * n + 2 + int(polygonal)  # MoveTo x y, LineTo, (x y) * (n - 1), [ClosePath]
    head = np.cumsum(length) - length
    out = np.empty(int(length.sum()), dtype=np.int64)
    out[head] = MOVE_TO_ONE
    out[head + 3] = LINE_TO | ((n - 1) << COMMAND_BITS)
    if polygonal:
        out[head + length - 1] = CLOSE_PATH
    rank = np.empty(len(part_sizes), dtype=np.int64)
    rank[parts] = np.arange(len(parts))
    point_rank = rank[point_part]
    index = np.arange(len(points)) - (np.cumsum(n) - n)[point_rank]
    at = head[point_rank] + np.where(index == 0, 1, 2 + 2 * index)
    out[at], out[at + 1] = _zigzag(delta[:, 0]), _zigzag(delta[:, 1])

    size = np.bincount(geom_of_part[parts], weights=length, minlength=len(geoms)).astype(np.int64)
    end = np.cumsum(size)
    flat = out.tolist()
    return [flat[a:b] for a, b in zip((end - size).tolist(), end.tolist(), strict=True)]


class TileAttributes:
    """The tile properties of every row of a collection, coded once at start-up.

    ``codes[row, column]`` is the id of the row's value for ``keys[column]`` in
    ``values`` (its protobuf field and value), -1 where the row has none. Values are
    shared as ``mapbox_vector_tile`` shares them (equal values one id, booleans apart),
    except that an int and an equal float stay two values (the library merges ``1`` and
    ``1.0``, so one of them would decode with the other's type). A tile's key and value
    tables are then the ids its features use, in order of first use, found with numpy.
    Built from ``columns``: each key's value per row (None where a row has none), the
    keys in the order the tiles list them.
    """

    def __init__(self, columns: dict[str, list[Any]]):
        self.keys = tuple(columns)
        self.values: list[tuple[str, Any]] = []
        n = len(next(iter(columns.values()))) if columns else 0
        self.codes: np.ndarray = np.full((n, len(self.keys)), -1, dtype=CODE_DTYPE)
        # per value type, the values coded so far and their codes: a column's distinct
        # values are looked up and added in bulk (a dict lookup per distinct value took
        # 1.1 of the 2.1 s of TileAttributes at a 300k-record start)
        known: dict[type, tuple[pd.Index, np.ndarray]] = {}
        for column, key in enumerate(self.keys):
            values = np.fromiter(columns[key], object, n)
            types = np.fromiter(map(type, values), object, n)
            for value_type, value_field in _VALUE_FIELD.items():
                rows = np.flatnonzero(types == value_type)
                if not len(rows):
                    continue
                local, distinct = pd.factorize(values[rows])
                distinct = pd.Index(distinct, dtype=object)
                seen, seen_codes = known.get(value_type, (pd.Index([], dtype=object), _NO_CODES))
                found = seen.get_indexer(distinct)
                new = found < 0
                codes = np.empty(len(distinct), dtype=CODE_DTYPE)
                codes[~new] = seen_codes[found[~new]]
                codes[new] = len(self.values) + np.arange(int(new.sum()))
                self.values.extend((value_field, v) for v in distinct[new].tolist())
                known[value_type] = (seen.append(distinct[new]), np.append(seen_codes, codes[new]))
                self.codes[rows, column] = codes[local]

    @classmethod
    def from_parts(
        cls, keys: tuple[str, ...], values: list[tuple[str, Any]], codes: np.ndarray
    ) -> TileAttributes:
        """Attributes coded earlier (``keys``, ``values`` and ``codes`` as built here),
        e.g. read back from the files a first start wrote."""
        out = object.__new__(cls)
        out.keys, out.values, out.codes = keys, values, codes
        return out

    def with_flags(self, key: str, flags: np.ndarray) -> TileAttributes:
        """A copy whose boolean property ``key`` is ``flags`` (one per row), e.g. the
        deposits' ``critical`` under another critical-mineral list; O(rows) in numpy."""
        out = self.from_parts(self.keys, list(self.values), np.array(self.codes))
        column = self.keys.index(key)
        for flag in (False, True):
            code = next(
                (i for i, (_, v) in enumerate(out.values) if type(v) is bool and v is flag), None
            )
            if code is None:
                code = len(out.values)
                out.values.append((_VALUE_FIELD[bool], flag))
            out.codes[np.asarray(flags, dtype=bool) == flag, column] = code
        return out


def _first_use(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct codes in order of first appearance, and each code's index among them."""
    distinct, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    index = np.empty(len(distinct), dtype=np.int64)
    index[order] = np.arange(len(distinct))
    return distinct[order], index[inverse]


def _layer_bytes(
    layer: str,
    commands: list[list[int]],
    types: list[int],
    attributes: TileAttributes,
    rows: np.ndarray,
    extent: int,
) -> bytes | None:
    """The tile of one layer; ``rows`` index ``attributes`` for ``commands``."""
    drawn = np.array([bool(c) for c in commands], dtype=bool)  # empty: below a unit
    if not drawn.any():
        return None
    codes = attributes.codes[rows[drawn]]
    present = codes >= 0
    columns = np.nonzero(present)[1]  # row by row, key by key: the order of first use
    key_columns, key_index = _first_use(columns)
    value_codes, value_index = _first_use(codes[present])
    tags = np.empty(2 * len(columns), dtype=np.int64)
    tags[0::2], tags[1::2] = key_index, value_index
    tags_list = tags.tolist()
    ends = np.cumsum(2 * present.sum(axis=1)).tolist()

    tile = vector_tile_pb2.tile()
    out = tile.layers.add(name=layer, version=2, extent=extent)
    out.keys.extend(attributes.keys[c] for c in key_columns.tolist())
    for code in value_codes.tolist():
        field, value = attributes.values[code]
        out.values.add(**{field: value})
    add, start = out.features.add, 0
    kept = (i for i in range(len(commands)) if drawn[i])
    for i, end in zip(kept, ends, strict=True):
        add(tags=tags_list[start:end], type=types[i], geometry=commands[i])
        start = end
    return tile.SerializeToString()


def encode_tile(
    layer: str,
    geoms_3857: np.ndarray,
    attributes: TileAttributes,
    rows: np.ndarray,
    bounds: tuple[float, float, float, float],
    extent: int,
    buffer: int,
) -> bytes | None:
    """One MVT layer named ``layer`` of the ``rows`` (their geometries ``geoms_3857``);
    None when nothing is left after clipping."""
    if len(geoms_3857) == 0:
        return None
    if (shapely.get_type_id(geoms_3857) == 0).all():
        xy = shapely.get_coordinates(geoms_3857)
        return encode_point_tile(layer, xy, attributes, rows, bounds, extent, buffer)
    keep, commands, types = _shape_geometries(geoms_3857, bounds, extent, buffer)
    return _layer_bytes(layer, commands, types, attributes, rows[keep], extent)


def encode_point_tile(
    layer: str,
    xy_3857: np.ndarray,
    attributes: TileAttributes,
    rows: np.ndarray,
    bounds: tuple[float, float, float, float],
    extent: int,
    buffer: int,
) -> bytes | None:
    """``encode_tile`` of points given as their Web Mercator x/y (one row each): a point
    collection keeps no Mercator geometries."""
    if len(xy_3857) == 0:
        return None
    keep, commands = _point_geometries(xy_3857, bounds, extent, buffer)
    return _layer_bytes(layer, commands, [POINT] * len(keep), attributes, rows[keep], extent)


def encode_tile_reference(
    layer: str,
    geoms_3857: np.ndarray,
    properties: list[dict[str, Any]],
    bounds: tuple[float, float, float, float],
    extent: int,
    buffer: int,
) -> bytes | None:
    """``encode_tile`` through GEOS and ``mapbox_vector_tile.encode`` (for the tests)."""
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
