"""Critical-mineral lists as data: which commodities count as critical, under which list.

Each list is a table under ``data/`` with its citation beside it (``.md``):

* ``usgs2025`` (default): the USGS 2025 final list, 60 minerals (Federal Register,
  7 November 2025), ``critical_minerals_2025.csv``;
* ``usgs2022``: the USGS 2022 final list, 50 minerals (87 FR 10381, 24 February 2022),
  ``critical_minerals_2022.csv``;
* ``eo14241``: the scope of Executive Order 14241, sec. 2(a): the list in force under
  30 U.S.C. 1606(a)(3) (read as today's list, ``usgs2025``) plus uranium, copper, potash and
  gold, ``critical_minerals_eo14241.csv`` (the four named minerals; see its ``.md``).

Names are fedmin's commodity names. A row's ``group`` names the aggregate a source may use
instead of its members (MRDS ``REE``, ``PGE``): an aggregate is critical under a list when
one of its members is. The stored ``critical`` column of the deposits is computed for the
default list; the others are evaluated from ``commodities`` (``critical_mask``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from layers.errors import UnknownCriticalListError
from layers.reference import REFERENCE_DIR, commodity_mask, commodity_masks


@dataclass(frozen=True)
class CriticalListSpec:
    """One critical-mineral list: its id, title, citation, table and the list it extends."""

    id: str
    title: str
    citation: str
    table: str
    #: The list whose members this one includes as well (its table then holds additions).
    extends: str | None = None


CRITICAL_LISTS: tuple[CriticalListSpec, ...] = (
    CriticalListSpec(
        "usgs2025",
        "USGS 2025 final list of critical minerals (60)",
        "U.S. Geological Survey, final 2025 List of Critical Minerals, Federal Register, "
        "November 7, 2025",
        "critical_minerals_2025.csv",
    ),
    CriticalListSpec(
        "usgs2022",
        "USGS 2022 final list of critical minerals (50)",
        "U.S. Geological Survey, 2022 Final List of Critical Minerals, 87 FR 10381, "
        "February 24, 2022",
        "critical_minerals_2022.csv",
    ),
    CriticalListSpec(
        "eo14241",
        "Executive Order 14241 sec. 2(a): the list in force under 30 U.S.C. 1606(a)(3) "
        "(USGS 2025) plus uranium, copper, potash and gold (61)",
        "Executive Order 14241 of March 20, 2025, Immediate Measures to Increase American "
        "Mineral Production, 90 FR 13673, sec. 2(a)",
        "critical_minerals_eo14241.csv",
        extends="usgs2025",
    ),
)
DEFAULT_CRITICAL_LIST = "usgs2025"
CRITICAL_LIST_IDS: tuple[str, ...] = tuple(spec.id for spec in CRITICAL_LISTS)
_SPECS = {spec.id: spec for spec in CRITICAL_LISTS}


def critical_list_spec(list_id: str) -> CriticalListSpec:
    """The list ``list_id``; an unknown id is an ``UnknownCriticalListError`` naming the ids."""
    spec = _SPECS.get(list_id) if isinstance(list_id, str) else None
    if spec is None:
        raise UnknownCriticalListError(
            f"critical_list: unknown list {list_id!r}; accepted: {list(CRITICAL_LIST_IDS)}"
        )
    return spec


def _table(filename: str) -> list[dict[str, str]]:
    with (REFERENCE_DIR / filename).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@cache
def list_members(list_id: str) -> frozenset[str]:
    """The commodity names a list names (its own table and the list it extends)."""
    spec = critical_list_spec(list_id)
    names = frozenset(row["name"] for row in _table(spec.table))
    return names | (list_members(spec.extends) if spec.extends else frozenset())


@cache
def list_groups(list_id: str) -> frozenset[str]:
    """Aggregate names (``rare_earth_elements``, ...) with a member on the list."""
    spec = critical_list_spec(list_id)
    groups = frozenset(row["group"] for row in _table(spec.table) if row.get("group"))
    return groups | (list_groups(spec.extends) if spec.extends else frozenset())


@cache
def critical_names(list_id: str = DEFAULT_CRITICAL_LIST) -> frozenset[str]:
    """Every commodity name that makes a deposit critical under ``list_id``: the members
    and the aggregates standing for members."""
    return list_members(list_id) | list_groups(list_id)


def critical_mask(commodities: pd.Series, list_id: str = DEFAULT_CRITICAL_LIST) -> np.ndarray:
    """True where a deposit's commodity list holds a critical name (vectorized)."""
    return commodity_mask(commodities, critical_names(list_id))


def critical_masks(commodities: pd.Series, list_ids: list[str]) -> dict[str, np.ndarray]:
    """``critical_mask`` of each list in ``list_ids``, the commodity lists read once."""
    masks = commodity_masks(commodities, [critical_names(i) for i in list_ids])
    return dict(zip(list_ids, masks, strict=True))


def critical_list_info(list_id: str = DEFAULT_CRITICAL_LIST) -> dict[str, object]:
    """JSON-ready description of a list (echoed by the API and in exports)."""
    spec = critical_list_spec(list_id)
    return {
        "id": spec.id,
        "title": spec.title,
        "citation": spec.citation,
        "minerals": len(list_members(spec.id)),
        "default": spec.id == DEFAULT_CRITICAL_LIST,
    }
