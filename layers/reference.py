"""Reference tables committed under ``data/``: commodity codes and names, state FIPS.

They are facts with citations (see the ``.md`` file beside each table), kept as data so a
reviewer can check them without reading code. The critical-mineral lists are in
``layers.critical``.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from layers.errors import UnknownCommodityError
from layers.schema import flatten_lists
from layers.suggest import did_you_mean

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "data"


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
def commodity_names() -> frozenset[str]:
    """Names fedmin normalizes to that no MRDS code stands for (individual rare earths, ...)."""
    return frozenset(row["name"] for row in _rows("commodity_names.csv"))


@cache
def minmod_commodity_names() -> dict[str, str]:
    """MinMod commodity id (``Q551``) -> normalized name; '' for non-commodities (Metal)."""
    return {row["minmod_id"]: row["name"] for row in _rows("minmod_commodities.csv")}


@cache
def minmod_observed_names() -> dict[tuple[str, str], tuple[str, ...]]:
    """(layer id or ``*``, observed name or code, lower-case) -> normalized names.

    ``data/minmod_commodity_codes.csv``: a source's own codes (UMOS ``SDG``, DOGAMI ``SC``,
    ARDF ``Cb``, potash ``HAL``) and observed names that are not commodities (``-``).
    """
    table: dict[tuple[str, str], tuple[str, ...]] = {}
    for row in _rows("minmod_commodity_codes.csv"):
        names = () if row["names"].strip() == "-" else tuple(row["names"].split())
        table[(row["source"], row["observed"].strip().lower())] = names
    return table


@cache
def known_commodities() -> frozenset[str]:
    """Every commodity name fedmin can normalize to."""
    observed = {n for names in minmod_observed_names().values() for n in names}
    return (
        frozenset(commodity_codes().values())
        | frozenset(commodity_aliases().values())
        | frozenset(n for n in minmod_commodity_names().values() if n)
        | frozenset(observed)
        | commodity_names()
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


#: Separators of code strings that list several commodities ('U V', 'Au Ag', 'K  HAL').
_CODE_SEPARATORS = re.compile(r"[\s,;/]+")


def _observed_lookup(layer_id: str, text: str, minerals: bool) -> tuple[str, ...] | None:
    table = minmod_observed_names()
    key = text.strip().lower()
    for scope in (layer_id, *(("mineral_lists",) if minerals else ()), "*"):
        if (scope, key) in table:
            return table[(scope, key)]
    name = commodity_from_name(text)
    if name in known_commodities():
        return (name,)
    code = text.strip().upper()
    if code in commodity_codes():
        return (commodity_codes()[code],)
    return None


def minmod_commodity(
    layer_id: str, observed: str | None, qid: str | None, *, minerals: bool = False
) -> tuple[str, ...] | None:
    """Normalized names for one MinMod commodity entry; None when it cannot be resolved.

    The observed name is trusted before MinMod's normalization, which is wrong for some
    sources (DOGAMI's ``SC`` became scandium, NC's ``Construc`` cobalt): (1) the source's
    own code table, then (with ``minerals``) the table of minerals that are not
    commodities in mineral-list compilations, then the shared table; (2) the name or code
    as fedmin knows it (``Gold``, ``AU``); (3) a code string split into codes
    (``U V`` -> uranium, vanadium), each resolved as in (1)-(2); (4) MinMod's commodity id.
    """
    if observed:
        found = _observed_lookup(layer_id, observed, minerals)
        if found is not None:
            return found
        tokens = [t for t in _CODE_SEPARATORS.split(observed) if t]
        if len(tokens) > 1:
            parts = [_observed_lookup(layer_id, t, minerals) for t in tokens]
            if all(p is not None for p in parts):
                return tuple(dict.fromkeys(n for p in parts for n in p))
    if qid and qid in minmod_commodity_names():
        name = minmod_commodity_names()[qid]
        return (name,) if name else ()
    return None


def commodity_mask(commodities: pd.Series, names: frozenset[str]) -> np.ndarray:
    """True where a deposit's commodity list shares a name with ``names`` (vectorized)."""
    return commodity_masks(commodities, [names])[0]


def commodity_masks(commodities: pd.Series, name_sets: list[frozenset[str]]) -> list[np.ndarray]:
    """``commodity_mask`` for each of ``name_sets``, the lists flattened once (flattening
    is 0.18 of the 0.2 s of a mask over 300k records)."""
    owner, elements = flatten_lists(commodities)
    # object dtype: pandas would otherwise infer Arrow strings for the elements and
    # convert them back to test them (0.135 against 0.1 s over 300k records).
    series = pd.Series(elements, dtype=object)
    out = []
    for names in name_sets:
        mask = np.zeros(len(commodities), dtype=bool)
        mask[owner[series.isin(names).to_numpy(dtype=bool)]] = True
        out.append(mask)
    return out


def resolve_commodity_filter(values: list[str], critical: frozenset[str]) -> frozenset[str]:
    """Turn a user's commodity filter (names, MRDS codes, or ``critical``) into names;
    ``critical`` stands for ``critical`` (the names of the critical-mineral list in force,
    ``layers.critical.critical_names``).

    Raises ``UnknownCommodityError`` for anything not in the tables, so a typo is a 4xx
    rather than an empty result.
    """
    resolved: set[str] = set()
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        if value.lower() == "critical":
            resolved |= critical
            continue
        if value.upper() in commodity_codes() and value.lower() not in known_commodities():
            resolved.add(commodity_codes()[value.upper()])
            continue
        name = commodity_from_name(value)
        if name not in known_commodities():
            hint = did_you_mean(value, [*known_commodities(), "critical"])
            raise UnknownCommodityError(
                f"unknown commodity {raw!r}{hint}: use a name such as 'gold' or 'chromium', "
                "an MRDS code such as 'AU', or 'critical'"
            )
        resolved.add(name)
    return frozenset(resolved)
