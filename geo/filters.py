"""The one deposit filter shared by the API items, the vector tiles and the ranking.

Keeping a single model means a map, a download and a ranking asked with the same query
string always select the same deposits. The filter validates itself on construction
(a bad value is an ``InvalidParameterError``, an unknown commodity an
``UnknownCommodityError``) and ``mask`` evaluates it column-wise, without a Python loop.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.antimeridian import bbox_contains_lon
from layers.critical import (
    CRITICAL_LIST_IDS,
    DEFAULT_CRITICAL_LIST,
    critical_list_spec,
    critical_mask,
    critical_masks,
    critical_names,
)
from layers.errors import InvalidParameterError
from layers.reference import (
    commodity_mask,
    resolve_commodity_filter,
    state_postal_by_fips,
    state_postal_by_name,
)
from layers.schema import AGENCIES, DEV_STATUSES, LAND_MINERAL_ENTRY
from layers.suggest import did_you_mean, nearest

#: Values of the enriched ``mineral_entry`` column: the schema's four plus ``non_federal``.
ENRICHED_MINERAL_ENTRY = LAND_MINERAL_ENTRY

#: One short description per field; the API layer reuses them in its OpenAPI docs.
FIELD_DESCRIPTIONS: dict[str, str] = {
    "commodities": (
        "Commodities to keep: names ('gold'), MRDS codes ('AU') or 'critical' for the "
        "minerals of the critical-mineral list in force (critical_list); a deposit matches "
        "when any of its commodities does."
    ),
    "dev_status": f"Development statuses to keep, any of {', '.join(DEV_STATUSES)}.",
    "agency": (
        f"Managing agency of the land the deposit lies on (after the land-status overlay), "
        f"any of {', '.join(AGENCIES)}; deposits on non-federal land have none."
    ),
    "mineral_entry": (
        "Mineral-entry status of the land the deposit lies on, any of "
        f"{', '.join(ENRICHED_MINERAL_ENTRY)} (screening rules, not a legal land-status call)."
    ),
    "state": "Two-letter state postal codes to keep, e.g. 'CA'.",
    "critical": (
        "true: only deposits with a critical mineral (of the list critical_list); false: only "
        "deposits without one; unset: both."
    ),
    "critical_list": (
        f"Critical-mineral list that 'critical' and commodity=critical use, one of "
        f"{', '.join(CRITICAL_LIST_IDS)} (default {DEFAULT_CRITICAL_LIST}: the USGS 2025 final "
        "list, 60 minerals; usgs2022: the 2022 list, 50; eo14241: Executive Order 14241 "
        "sec. 2(a), the list in force plus uranium, copper, potash and gold). Echoed in "
        "every response."
    ),
    "bbox": (
        "Bounding box minx,miny,maxx,maxy in longitude/latitude (EPSG:4326); minx > maxx "
        "crosses the antimeridian (170,50,-170,60: the Aleutians)."
    ),
}


def _as_tuple(value: Any, name: str) -> tuple[str, ...]:
    """Accept a list, a tuple or a comma-separated string; drop blanks; keep the order."""
    if value is None:
        return ()
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else value
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidParameterError(f"{name}: expected strings, got {item!r}")
        item = item.strip()
        if item and item not in out:
            out.append(item)
    return tuple(out)


def _check_enum(values: tuple[str, ...], allowed: tuple[str, ...], name: str) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise InvalidParameterError(
            f"{name}: unknown value(s) {bad}{did_you_mean(bad[0], allowed)}; "
            f"allowed: {list(allowed)}"
        )


def _check_states(states: tuple[str, ...]) -> None:
    """Postal codes of the state table (``data/state_fips.csv``); a state's name, even
    misspelt, gets its code suggested (``state=Nevada`` -> ``NV``)."""
    known = state_postal_by_fips().values()
    bad = [s for s in states if s not in known]
    if bad:
        names = state_postal_by_name()
        name = nearest(bad[0], names)
        hint = f" (did you mean {names[name]!r}, {name.title()}?)" if name else ""
        raise InvalidParameterError(
            f"state: unknown postal code(s) {bad}{hint}; known: {sorted(known)}"
        )


def parse_bbox(value: Any) -> tuple[float, float, float, float] | None:
    """Parse and validate a lon/lat box; an inverted or out-of-range box is a 4xx, not empty."""
    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else list(value)
    if len(parts) != 4:
        raise InvalidParameterError(f"bbox: expected 4 numbers minx,miny,maxx,maxy, got {value!r}")
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"bbox: not numbers: {value!r}") from exc
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise InvalidParameterError(f"bbox: values must be finite, got {value!r}")
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180):
        raise InvalidParameterError(f"bbox: longitudes must lie in [-180, 180], got {value!r}")
    if not (-90 <= miny <= 90 and -90 <= maxy <= 90):
        raise InvalidParameterError(f"bbox: latitudes must lie in [-90, 90], got {value!r}")
    if miny > maxy:
        raise InvalidParameterError(f"bbox: inverted box {value!r} (need miny <= maxy)")
    # minx > maxx is a box crossing the antimeridian (OGC API - Features), e.g. the
    # Aleutians: 170,50,-170,60 (``layers.antimeridian``).
    return (minx, miny, maxx, maxy)


def _list_id(value: Any) -> Any:
    """A list id as given, trimmed and lower-cased ('USGS2022 ' is usgs2022)."""
    return value.strip().lower() if isinstance(value, str) else value


def _meta(name: str) -> dict[str, str]:
    return {"description": FIELD_DESCRIPTIONS[name]}


@dataclass(frozen=True)
class DepositFilter:
    """Which deposits a request is about. Empty fields do not filter.

    Sequence fields take lists, tuples or comma-separated strings and are stored as
    tuples, so the filter is hashable and usable as a cache key.
    """

    commodities: tuple[str, ...] = field(default=(), metadata=_meta("commodities"))
    dev_status: tuple[str, ...] = field(default=(), metadata=_meta("dev_status"))
    agency: tuple[str, ...] = field(default=(), metadata=_meta("agency"))
    mineral_entry: tuple[str, ...] = field(default=(), metadata=_meta("mineral_entry"))
    state: tuple[str, ...] = field(default=(), metadata=_meta("state"))
    critical: bool | None = field(default=None, metadata=_meta("critical"))
    critical_list: str = field(default=DEFAULT_CRITICAL_LIST, metadata=_meta("critical_list"))
    bbox: tuple[float, float, float, float] | None = field(default=None, metadata=_meta("bbox"))

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "commodities", _as_tuple(self.commodities, "commodities"))
        dev = tuple(v.lower() for v in _as_tuple(self.dev_status, "dev_status"))
        _check_enum(dev, DEV_STATUSES, "dev_status")
        set_(self, "dev_status", dev)
        canonical = {a.upper(): a for a in AGENCIES}
        agencies = tuple(canonical.get(a.upper(), a) for a in _as_tuple(self.agency, "agency"))
        _check_enum(agencies, AGENCIES, "agency")
        set_(self, "agency", agencies)
        entry = tuple(v.lower() for v in _as_tuple(self.mineral_entry, "mineral_entry"))
        _check_enum(entry, ENRICHED_MINERAL_ENTRY, "mineral_entry")
        set_(self, "mineral_entry", entry)
        states = tuple(v.upper() for v in _as_tuple(self.state, "state"))
        _check_states(states)
        set_(self, "state", states)
        if self.critical is not None and not isinstance(self.critical, bool | np.bool_):
            raise InvalidParameterError(f"critical: expected true/false, got {self.critical!r}")
        if self.critical is not None:
            set_(self, "critical", bool(self.critical))
        list_id = self.critical_list
        set_(self, "critical_list", critical_list_spec(_list_id(list_id)).id)
        set_(self, "bbox", parse_bbox(self.bbox))
        # Resolve now so an unknown commodity fails at construction, not at query time.
        _ = self.commodity_names

    @cached_property
    def commodity_names(self) -> frozenset[str] | None:
        """Normalized commodity names the filter keeps, or None when it keeps all."""
        if not self.commodities:
            return None
        return resolve_commodity_filter(list(self.commodities), critical_names(self.critical_list))

    @cached_property
    def is_empty(self) -> bool:
        """True when no field filters anything (the list alone selects no rows)."""
        return all(
            getattr(self, f.name) in ((), None) for f in fields(self) if f.name != "critical_list"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready echo of the filter (travels with every result)."""
        return {
            "commodities": list(self.commodities),
            "commodity_names": sorted(self.commodity_names) if self.commodity_names else None,
            "dev_status": list(self.dev_status),
            "agency": list(self.agency),
            "mineral_entry": list(self.mineral_entry),
            "state": list(self.state),
            "critical": self.critical,
            "critical_list": self.critical_list,
            "bbox": list(self.bbox) if self.bbox else None,
        }

    def mask(self, deposits: gpd.GeoDataFrame | pd.DataFrame) -> np.ndarray:
        """Boolean array over ``deposits``' rows, True where every set field matches.

        ``agency`` and ``mineral_entry`` need the enriched frame (land-status overlay);
        asking for them on a raw frame is an ``InvalidParameterError``.
        """
        n = len(deposits)
        keep = np.ones(n, dtype=bool)
        if n == 0:
            return keep
        names = self.commodity_names
        if names is not None:
            keep &= commodity_mask(deposits["commodities"], names)
        if self.dev_status:
            keep &= deposits["dev_status"].isin(self.dev_status).to_numpy()
        for column in ("agency", "mineral_entry"):
            wanted = getattr(self, column)
            if wanted:
                if column not in deposits.columns:
                    raise InvalidParameterError(
                        f"{column}: filtering needs deposits enriched with the land status"
                    )
                keep &= deposits[column].isin(wanted).to_numpy()
        if self.state:
            keep &= deposits["state"].isin(self.state).to_numpy()
        if self.critical is not None:
            keep &= critical_flags(deposits, self.critical_list) == self.critical
        if self.bbox is not None:
            _, miny, _, maxy = self.bbox
            geoms = deposits.geometry
            x, y = geoms.x.to_numpy(), geoms.y.to_numpy()
            keep &= bbox_contains_lon(self.bbox, x) & (y >= miny) & (y <= maxy)
        return keep

    def apply(self, deposits: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """The matching rows (a convenience over ``mask``)."""
        return deposits.loc[self.mask(deposits)]


def critical_column(list_id: str) -> str:
    """The deposits column holding the critical flag of a list: the stored ``critical`` for
    the default list, ``critical_<id>`` for the others (``with_critical_lists``)."""
    return "critical" if list_id == DEFAULT_CRITICAL_LIST else f"critical_{list_id}"


def with_critical_lists(deposits: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``deposits`` with a ``critical_<id>`` column for every list but the default (whose
    flag is the stored ``critical``): computed once per store from ``commodities``, so a
    filter reads a column rather than testing every row's commodities."""
    others = [i for i in CRITICAL_LIST_IDS if i != DEFAULT_CRITICAL_LIST]
    masks = critical_masks(deposits["commodities"], others)
    return deposits.assign(**{critical_column(i): mask for i, mask in masks.items()})


def critical_flags(deposits: pd.DataFrame, list_id: str) -> np.ndarray:
    """Per row, whether the deposit holds a mineral of the list ``list_id``: the
    precomputed column when the frame has it, else evaluated from ``commodities``."""
    column = critical_column(list_id)
    if column in deposits.columns:
        return deposits[column].to_numpy(dtype=bool)
    return critical_mask(deposits["commodities"], list_id)
