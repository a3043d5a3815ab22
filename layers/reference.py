"""Reference tables committed under ``data/``: commodity codes, critical minerals, state FIPS.

They are facts with citations (see the ``.md`` file beside each table), kept as data so a
reviewer can check them without reading code.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from layers.errors import UnknownCommodityError

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "data"

#: Aggregate commodity names that stand for members of the critical-minerals list.
CRITICAL_AGGREGATES = frozenset({"platinum_group_elements", "rare_earth_elements"})


def _rows(filename: str) -> list[dict[str, str]]:
    with (REFERENCE_DIR / filename).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@cache
def commodity_codes() -> dict[str, str]:
    """MRDS commodity code -> normalized commodity name."""
    return {row["code"]: row["name"] for row in _rows("commodity_codes.csv")}


@cache
def commodity_aliases() -> dict[str, str]:
    """Free-text commodity names in the sources -> normalized commodity name."""
    return {row["alias"]: row["name"] for row in _rows("commodity_aliases.csv")}


@cache
def critical_minerals() -> frozenset[str]:
    """Normalized names on the USGS 2022 critical minerals list, plus their aggregates."""
    return frozenset(row["name"] for row in _rows("critical_minerals_2022.csv")) | (
        CRITICAL_AGGREGATES
    )


@cache
def known_commodities() -> frozenset[str]:
    """Every commodity name fedmin can normalize to."""
    return (
        frozenset(commodity_codes().values())
        | critical_minerals()
        | frozenset(commodity_aliases().values())
    )


@cache
def state_postal_by_fips() -> dict[str, str]:
    return {row["fips"]: row["postal"] for row in _rows("state_fips.csv")}


@cache
def state_postal_by_name() -> dict[str, str]:
    return {row["name"].lower(): row["postal"] for row in _rows("state_fips.csv")}


def commodity_from_code(code: str) -> str:
    """Map an MRDS code to its name; unknown codes stay visible as ``code:<CODE>``."""
    code = code.strip().upper()
    return commodity_codes().get(code, f"code:{code}")


def commodity_from_name(name: str) -> str:
    """Normalize a free-text commodity name ('Lithium', 'rare earth elements')."""
    normalized = "_".join(name.strip().lower().replace("-", " ").split())
    normalized = commodity_aliases().get(normalized, normalized)
    return commodity_codes().get(normalized.upper(), normalized)


def is_critical(commodities: list[str]) -> bool:
    return any(c in critical_minerals() for c in commodities)


def resolve_commodity_filter(values: list[str]) -> frozenset[str]:
    """Turn a user's commodity filter (names, MRDS codes, or ``critical``) into names.

    Raises ``UnknownCommodityError`` for anything not in the tables, so a typo is a 4xx
    rather than an empty result.
    """
    resolved: set[str] = set()
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        if value.lower() == "critical":
            resolved |= critical_minerals()
            continue
        if value.upper() in commodity_codes() and value.lower() not in known_commodities():
            resolved.add(commodity_codes()[value.upper()])
            continue
        name = commodity_from_name(value)
        if name not in known_commodities():
            raise UnknownCommodityError(
                f"unknown commodity {raw!r}: use a name such as 'gold' or 'chromium', "
                "an MRDS code such as 'AU', or 'critical'"
            )
        resolved.add(name)
    return frozenset(resolved)
