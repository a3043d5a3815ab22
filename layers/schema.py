"""Canonical schemas: the columns every layer of a kind has after normalization.

Every reader's output is mapped onto one of these, so ``geo/`` and ``app/`` only ever
see canonical columns. ``docs/data.md`` documents them field by field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import SchemaError


class LayerKind(StrEnum):
    DEPOSITS = "deposits"
    FEDERAL_LANDS = "federal_lands"
    CLAIMS = "claims"
    INFRASTRUCTURE = "infrastructure"
    BOUNDARIES = "boundaries"
    BASEMAP = "basemap"
    RASTER = "raster"
    #: Derived at build time from the catalog (``deposit_coverage``), not read from a source.
    COVERAGE = "coverage"
    #: Derived from every deposits layer at build time (``layers/sites.py``).
    SITES = "sites"


DEV_STATUSES = ("producer", "past_producer", "prospect", "occurrence", "plant", "unknown")
#: ``state``: a land layer may map state land too (Alaska state parks), so that land is
#: known to be non-federal rather than of unknown status.
AGENCIES = ("BLM", "USFS", "NPS", "FWS", "DOD", "BOR", "state", "other")
MINERAL_ENTRY = ("open", "restricted", "closed", "unknown")
#: Statuses of land units and of points: the four plus ``non_federal`` (state land).
LAND_MINERAL_ENTRY = (*MINERAL_ENTRY, "non_federal")
INFRASTRUCTURE_KINDS = ("road", "rail", "power")
CLAIM_TYPES = ("lode", "placer", "mill_site", "tunnel_site", "unknown")
CLAIM_STATUSES = ("active", "closed")
#: What a base-map feature is: a named place (a point), a river (a line), a lake (an area).
BASEMAP_FEATURES = ("place", "river", "lake")
#: Kinds of deposit coverage: where a deposits layer claims to know the deposits.
COVERAGE_KINDS = {
    "state_survey": "a state's own survey or database of the whole state",
    "partial_state": "part of a state (a truncated or regional extract)",
    "region_box": "every record of the source inside a box",
    "national_sampled": "national, but a sample of the records",
    "national_compilation": "national, but only the deposits of one kind or size",
}

#: Lon/lat box that every canonical geometry must fall in: the US with its territories
#: (American Samoa reaches 14.4 S, the Aleutians cross the antimeridian). Swapped lon/lat
#: or projected coordinates fall outside it.
PLAUSIBLE_BOUNDS = (-180.0, -15.0, 180.0, 72.0)


@dataclass(frozen=True)
class Schema:
    """Columns (name -> pandas dtype family) and the geometry types a kind allows."""

    columns: dict[str, str]
    geometry_types: tuple[str, ...]
    enums: dict[str, tuple[str, ...]]


#: The canonical deposit columns: every deposit record has them, and so does every site.
DEPOSIT_COLUMNS = {
    "id": "str",
    "name": "str",
    "source": "str",
    "source_id": "str",
    "source_url": "str",
    "commodities": "list",
    "primary_commodity": "str",
    "critical": "bool",
    "dev_status": "str",
    "state": "str",
    "county": "str",
    "details": "str",
}
#: Text columns whose values repeat from row to row, read as one Python string per
#: distinct value (``layers.store.read_geoparquet``): the 270k real deposit records hold
#: 46k distinct ``details``, which as text were 63 MiB per frame at 300k records.
SHARED_TEXT_COLUMNS = ("details",)
#: Record columns for linking records into sites (docs/data.md, "Deposit records").
RECORD_LINK_COLUMNS = {
    "dep_id": "str",
    "minmod_ids": "list",
    "alt_names": "list",
    "deposit_type": "str",
    "inventory": "str",
}

SCHEMAS: dict[LayerKind, Schema] = {
    LayerKind.DEPOSITS: Schema(
        columns={**DEPOSIT_COLUMNS, **RECORD_LINK_COLUMNS},
        geometry_types=("Point",),
        enums={"dev_status": DEV_STATUSES},
    ),
    #: A site: the deposit columns (id = site_id; name, location, source fields and details
    #: of its main record; commodities merged; dev_status resolved) plus its records.
    LayerKind.SITES: Schema(
        columns={
            **DEPOSIT_COLUMNS,
            "alt_names": "list",
            "sources": "list",
            "records": "list",
            "n_records": "int",
            "dep_ids": "list",
            "dev_status_sources": "list",
            "deposit_type": "str",
            "inventory": "str",
            "link_rules": "list",
            "records_detail": "str",
        },
        geometry_types=("Point",),
        enums={"dev_status": DEV_STATUSES},
    ),
    LayerKind.FEDERAL_LANDS: Schema(
        columns={
            "id": "str",
            "name": "str",
            "source": "str",
            "agency": "str",
            "designation": "str",
            "mineral_entry": "str",
        },
        geometry_types=("Polygon", "MultiPolygon"),
        enums={"agency": AGENCIES, "mineral_entry": LAND_MINERAL_ENTRY},
    ),
    LayerKind.CLAIMS: Schema(
        columns={
            "id": "str",
            "name": "str",
            "source": "str",
            "claim_type": "str",
            "status": "str",
            "acres": "float",
        },
        geometry_types=("Polygon", "MultiPolygon"),
        enums={"claim_type": CLAIM_TYPES, "status": CLAIM_STATUSES},
    ),
    LayerKind.INFRASTRUCTURE: Schema(
        columns={"id": "str", "kind": "str", "name": "str", "class": "str", "source": "str"},
        geometry_types=("LineString", "MultiLineString"),
        enums={"kind": INFRASTRUCTURE_KINDS},
    ),
    LayerKind.COVERAGE: Schema(
        columns={"id": "str", "source": "str", "coverage": "str", "note": "str", "states": "str"},
        geometry_types=("Polygon", "MultiPolygon"),
        enums={"coverage": tuple(COVERAGE_KINDS)},
    ),
    LayerKind.BOUNDARIES: Schema(
        columns={"id": "str", "name": "str", "level": "str", "state": "str"},
        geometry_types=("Polygon", "MultiPolygon"),
        enums={"level": ("state", "county")},
    ),
    # Reference features of the offline base map (place labels, water). ``min_zoom`` is the
    # publisher's suggested web-map zoom from which to draw the feature; ``population`` and
    # ``state`` (postal code) are set for places only; ``category`` keeps the publisher's
    # class (e.g. "Admin-1 capital", "Lake Centerline").
    LayerKind.BASEMAP: Schema(
        columns={
            "id": "str",
            "name": "str",
            "source": "str",
            "feature": "str",
            "category": "str",
            "state": "str",
            "population": "float",
            "min_zoom": "float",
        },
        geometry_types=(
            "Point",
            "LineString",
            "MultiLineString",
            "Polygon",
            "MultiPolygon",
        ),
        enums={"feature": BASEMAP_FEATURES},
    ),
}


def flatten_lists(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(row position, element) of every element of a list column (``commodities``,
    ``sources``); a string is a list of one (a record's ``source``), nulls and empty lists
    give none.

    One ``np.concatenate``: 2.5x faster than ``Series.explode`` over the national sites'
    commodities (117 vs 292 ms, 199,565 rows), which every ranking flattens three times.
    """
    lists = values.tolist()
    if not set(map(type, lists)) <= {list, np.ndarray}:  # read from parquet: arrays only
        lists = [
            v if isinstance(v, list | tuple | np.ndarray) else (v,) if isinstance(v, str) else ()
            for v in lists
        ]
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    if not lengths.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
    elements = np.concatenate([v for v in lists if len(v)]).astype(object, copy=False)
    return np.repeat(np.arange(len(lists)), lengths), elements


def once_per_distinct(
    values: np.ndarray | pd.Series,
    compute: Callable[[Any], Any] | None = None,
    missing: Any = None,
    dtype: Any = object,
) -> np.ndarray:
    """``compute(v)`` (default: ``v``) for each of ``values``, computed once per distinct
    value and, in an object array, one object shared read-only by the rows holding it;
    ``missing`` for null. The place names and land-unit texts of the national 5 km grid's
    270,000 cells repeat a few thousand values (83 MiB as one string per cell, 13 MiB)."""
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    out = np.empty(len(distinct) + 1, dtype=dtype)
    for i, value in enumerate(distinct.tolist()):
        out[i] = value if compute is None else compute(value)
    out[-1] = missing  # code -1
    return out[codes]


def looked_up(
    values: np.ndarray | pd.Series, table: Mapping[str, float], default: float
) -> np.ndarray:
    """``table[v]`` for each value (``default`` where absent or null), one look-up per
    distinct value: ``Series.map`` of the 450k commodity names of 300k deposits took
    0.14 s, of their statuses 0.07 s."""
    return once_per_distinct(values, lambda v: table.get(v, default), default, dtype=float)


def validate(frame: gpd.GeoDataFrame, kind: LayerKind, layer_id: str) -> gpd.GeoDataFrame:
    """Check a normalized frame against its kind's schema; return it in column order.

    Raises ``SchemaError`` naming the layer and the first problem found, so a bad source
    never reaches the store.
    """
    schema = SCHEMAS[kind]
    missing = [c for c in schema.columns if c not in frame.columns]
    if missing:
        raise SchemaError(f"layer {layer_id!r}: missing canonical columns {missing}")
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        raise SchemaError(f"layer {layer_id!r}: CRS must be EPSG:4326, got {frame.crs}")
    if frame["id"].isna().any() or frame["id"].duplicated().any():
        dupes = frame.loc[frame["id"].duplicated(), "id"].head(3).tolist()
        raise SchemaError(f"layer {layer_id!r}: ids must be unique and present; e.g. {dupes}")
    for column, allowed in schema.enums.items():
        bad = sorted(set(frame[column].dropna()) - set(allowed))
        if bad:
            raise SchemaError(f"layer {layer_id!r}: column {column!r} has values {bad[:5]}")
    geom_types = set(frame.geom_type.dropna())
    if (
        frame.geometry.isna().any()
        or frame.geometry.is_empty.any()
        or not geom_types <= set(schema.geometry_types)
    ):
        raise SchemaError(
            f"layer {layer_id!r}: geometry must be non-empty {schema.geometry_types}, "
            f"got {geom_types}"
        )
    if len(frame):
        xmin, ymin, xmax, ymax = frame.total_bounds
        bxmin, bymin, bxmax, bymax = PLAUSIBLE_BOUNDS
        if xmin < bxmin or ymin < bymin or xmax > bxmax or ymax > bymax:
            raise SchemaError(
                f"layer {layer_id!r}: bounds {np.round(frame.total_bounds, 3).tolist()} "
                f"fall outside the plausible US box {PLAUSIBLE_BOUNDS}"
            )
    if not shapely.is_valid(frame.geometry.values).all():
        raise SchemaError(f"layer {layer_id!r}: invalid geometries left after repair")
    return frame[[*schema.columns, "geometry"]]
