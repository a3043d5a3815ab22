"""Records -> sites: link the deposit records of every source that describe one deposit.

Every deposit layer keeps its own records (one row per source record). A *site* is a set
of records linked by any of three rules, applied in this order, and closed transitively
(connected components of the link graph, ``scipy.sparse.csgraph``):

1. ``dep_id``: records carrying the same USGS MRDS ``dep_id`` (the MRDS table, MinMod's
   MRDS records, SRI's MRDS records, the tungsten records).
2. ``same_as``: MinMod's ``same-as`` links (``ms_1``/``ms_2`` pairs of MinMod site ids,
   curated or from UMN's matcher). A MinMod id ``site__<source>__<record>__<creator>``
   names one source record whoever created it, so the creator is dropped; an id of
   MRDS (``site__mrdata-usgs-gov-mrds__<dep_id>__...``) is that dep_id's key, which ties
   rule 2 to rule 1. Only links between records held here are used: up to
   ``LINK_DISTANCE_M`` apart, or up to ``SAME_AS_MAX_DISTANCE_M`` when the two names
   match (MinMod's matcher joins "Unnamed" records 30 km apart and chains differently
   named mines of a district).
3. ``name_near``: records of *different* layers near each other whose names match.
   Names are normalized by ``normalize_name`` (accents, case and punctuation folded,
   abbreviations spelled out, the generic words of ``GENERIC_WORDS`` dropped; a name left
   with only commodity words and numbers, or starting "Unnamed", is generic and never
   links). The score is the higher of rapidfuzz's ``ratio`` and ``token_sort_ratio``; the
   closer the records, the lower the score asked for (``LINK_TIERS``: 80 within 500 m, 85
   within 1 km, 88 within 1.5 km); a name whose tokens all occur in the other name
   matches too (its longest token at least ``MIN_SUBSET_TOKEN_CHARS`` long). Names with
   different numbers ("No. 1" / "No. 2") or qualifiers ("South", "Upper", "Extension")
   never match. Candidates come from a KD-tree over points on the authalic sphere
   (distances in metres, exact at these scales, Alaska and the antimeridian included),
   never from all pairs.

A site's ``site_id`` depends only on its membership: ``mrds:<lowest dep_id>`` when a
member has a dep_id (so the MRDS item URLs keep working), else the id of its main record.
The *main record* is the member of the best source in ``SOURCE_PRIORITY`` (ties: the
lowest record id); it gives the site its name, location, source fields and details.
Development status is the most developed status of any member (``STATUS_ORDER``).
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
from rapidfuzz import fuzz, process
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from layers import critical, reference
from layers.errors import SchemaError

#: Bump when the linking or the site columns change in a way the parameters do not show.
LINKER_VERSION = 1
LINK_RULES = ("dep_id", "same_as", "name_near")
#: Rule 3: (distance up to which, in metres, the name score must reach at least) - the
#: closer two records, the more spelling variation is accepted. MRDS locations are
#: approximate (often 100-500 m off the workings, some over a kilometre). The score is
#: rapidfuzz's ratio or token_sort_ratio of the normalized names, whichever is higher.
#: Chosen on the hand-labelled sample; its precision and recall are in docs/data.md.
LINK_TIERS: tuple[tuple[float, float], ...] = ((500.0, 80.0), (1_000.0, 85.0), (1_500.0, 88.0))
LINK_DISTANCE_M = LINK_TIERS[-1][0]
#: Rule 2 keeps a MinMod same-as link up to ``LINK_DISTANCE_M``, and up to this distance
#: between two records whose names match (MRDS duplicates of one deposit can lie
#: kilometres apart)...
SAME_AS_MAX_DISTANCE_M = 10_000.0
#: ... when their names score at least this (as in rule 3).
SAME_AS_NAME_SCORE = 85.0
#: A name whose tokens all occur in the other name matches when its longest token has at
#: least this many characters ("Hazel" ~ "Hazel Creek"; "Big" alone does not).
MIN_SUBSET_TOKEN_CHARS = 4
#: Authalic radius of the GRS 80 ellipsoid (m): the sphere of the same surface area.
EARTH_RADIUS_M = 6_371_007.2

#: Words that say what kind of working or record a name is, not which deposit: dropped
#: before names are compared. A name left with only commodity words and numbers is
#: generic ("Gold Placer", "Manganese No. 2").
GENERIC_WORDS = frozenset(
    [
        "mine",
        "mines",
        "mining",
        "prospect",
        "prospects",
        "deposit",
        "deposits",
        "claim",
        "claims",
        "group",
        "property",
        "properties",
        "occurrence",
        "occurrences",
        "occ",
        "workings",
        "working",
        "shaft",
        "shafts",
        "adit",
        "adits",
        "tunnel",
        "tunnels",
        "pit",
        "pits",
        "quarry",
        "quarries",
        "placer",
        "placers",
        "lode",
        "lodes",
        "mill",
        "area",
        "district",
        "project",
        "lease",
        "leases",
        "ore",
        "body",
        "orebody",
        "vein",
        "veins",
        "and",
        "of",
        "the",
        "a",
        "an",
        "no",
        "nr",
        "number",
        "unnamed",
        "unknown",
        "name",
        "named",
        "nos",
        "open",
        "underground",
        "surface",
        "operation",
        "operations",
        "co",
        "company",
        "inc",
        "corp",
        "corporation",
        "ltd",
        "llc",
        "consolidated",
        "cons",
    ]
)
#: Words that set neighbouring properties apart ("South Liberty" is not "Liberty",
#: "Upper Gold Bluffs" not "Lower Gold Bluffs"): two names match only with the same ones.
QUALIFIERS = frozenset(
    [
        "north",
        "south",
        "east",
        "west",
        "upper",
        "lower",
        "new",
        "old",
        "big",
        "little",
        "extension",
        "ext",
        "central",
        "middle",
    ]
)
#: Abbreviations spelled out before names are compared ("Mt. Shasta" ~ "Mount Shasta").
ABBREVIATIONS = {
    "mt": "mount",
    "mtn": "mountain",
    "cr": "creek",
    "crk": "creek",
    "ck": "creek",
    "ft": "fort",
    "bros": "brothers",
    "pt": "point",
    "n": "north",
    "s": "south",
    "e": "east",
    "w": "west",
    "hts": "heights",
    "lk": "lake",
    "spr": "spring",
    "spgs": "springs",
}
#: Names that start like this describe a place, not a deposit ("Unnamed (ridge at ...)").
GENERIC_PREFIXES = ("unnamed", "un-named", "unknown", "no name", "not named", "none")

#: Best source first: the main record of a site (its name, location, source fields) is
#: its member from the best-ranked layer. Site-level specialist compilations and the state
#: surveys (current, checked against the ground for their state) first, then the USGS
#: critical-mineral compilations, then MRDS (the national system, not updated since 2011:
#: the MRDS table, MinMod's national sample, MinMod's California set, the tungsten
#: records), then other compilations, topographic mine symbols, district-scale
#: compilations whose point is a deposit or district centroid, and last the points
#: extracted by a language model from NI 43-101 reports. Unlisted layers rank
#: ``DEFAULT_PRIORITY``.
SOURCE_PRIORITY: dict[str, int] = {
    "usgs_lithium": 10,
    **dict.fromkeys(
        ("ardf", "umos", "dogami", "idaho_igs", "nc_survey", "va_survey", "al_survey"), 20
    ),
    **dict.fromkeys(("earth_mri", "usmin_deposits", "pp1802"), 25),
    "mrds": 30,
    "minmod_mrds": 31,
    "mrds_california": 32,
    "mrds_tungsten": 35,
    "usmin_mine_features": 60,
    **dict.fromkeys(
        ("porphyry_copper", "usgs_porcu", "usgs_major_deposits", "usgs_copper_assessment"), 70
    ),
    "world_tin_tungsten": 80,
    "mining_reports": 90,
}
DEFAULT_PRIORITY = 50

#: Most developed first: a producer, plant or past producer in any record makes the site
#: developed; a site is only as undeveloped as its most developed record.
STATUS_ORDER = ("producer", "plant", "past_producer", "prospect", "occurrence", "unknown")
DEVELOPED = frozenset(("producer", "plant", "past_producer"))

MRDS_MINMOD_SOURCE = "mrdata-usgs-gov-mrds"


def parameters() -> dict[str, Any]:
    """Everything the links depend on besides the records (part of the store build key)."""
    return {
        "version": LINKER_VERSION,
        "tiers": LINK_TIERS,
        "same_as_max_distance_m": SAME_AS_MAX_DISTANCE_M,
        "same_as_name_score": SAME_AS_NAME_SCORE,
        "min_subset_token_chars": MIN_SUBSET_TOKEN_CHARS,
        "generic_words": sorted(GENERIC_WORDS),
        "generic_prefixes": GENERIC_PREFIXES,
        "qualifiers": sorted(QUALIFIERS),
        "abbreviations": ABBREVIATIONS,
        "source_priority": SOURCE_PRIORITY,
        "status_order": STATUS_ORDER,
    }


# --- names ---------------------------------------------------------------------------------


@functools.cache
def _commodity_words() -> frozenset[str]:
    """Words of commodity names and aliases ("gold", "rare", "earths", "chromite", ...)."""
    names = (*reference.known_commodities(), *reference.commodity_aliases())
    return frozenset(w for n in names for w in n.lower().replace("_", " ").split())


_SEPARATORS = re.compile(r"[^a-z0-9]+")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")
_SINGLE_LETTERS = re.compile(r"\b([a-z]) (?=[a-z]\b)")


@functools.lru_cache(maxsize=1 << 18)
def fold(text: str) -> str:
    """Lower-case ASCII, punctuation as spaces, letters and digits apart ("No2" ->
    "no 2"), runs of single letters joined ("W.J.D." -> "wjd"), whitespace collapsed."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    spaced = _LETTER_DIGIT.sub(" ", _SEPARATORS.sub(" ", ascii_text.lower()))
    return _SINGLE_LETTERS.sub(r"\1", " ".join(spaced.split()))


def normalize_name(name: object) -> str | None:
    """The distinctive part of a deposit name, or None for a missing or generic name."""
    return _normalize(name) if isinstance(name, str) else None


@functools.lru_cache(maxsize=1 << 18)
def _normalize(name: str) -> str | None:
    folded = fold(name)
    if not folded or folded.startswith(GENERIC_PREFIXES):
        return None
    words = _commodity_words()
    tokens = [ABBREVIATIONS.get(t, t) for t in folded.split() if t not in GENERIC_WORDS]
    if all(t.isdigit() or t in words for t in tokens):
        return None  # only commodities and numbers left ("Gold Placer", "No. 3")
    return " ".join(tokens)


def _numbers(name: str) -> str:
    return " ".join(sorted(t for t in name.split() if t.isdigit()))


def required_score(distance_m: np.ndarray) -> np.ndarray:
    """The name score rule 3 asks for at each distance (inf beyond the last tier)."""
    limits = np.array([d for d, _ in LINK_TIERS])
    scores = np.array([s for _, s in LINK_TIERS] + [np.inf])
    return scores[np.searchsorted(limits, np.asarray(distance_m, dtype=float), side="left")]


def name_scores(a: list[str], b: list[str]) -> pd.DataFrame:
    """Per pair of normalized names: ``score`` (the higher of rapidfuzz's ratio and
    token_sort_ratio), ``subset`` (one name's tokens all in the other's) and ``comparable``
    (same numbers and same qualifiers, without which names never match)."""
    score = np.maximum(
        process.cpdist(a, b, scorer=fuzz.ratio, workers=1),
        process.cpdist(a, b, scorer=fuzz.token_sort_ratio, workers=1),
    )
    keys = {n: (_numbers(n), _qualifiers(n), frozenset(n.split())) for n in {*a, *b}}
    ka, kb = [keys[x] for x in a], [keys[y] for y in b]
    return pd.DataFrame(
        {
            "score": np.asarray(score, dtype=float),
            "subset": np.array(
                [_subset(x[2], y[2]) for x, y in zip(ka, kb, strict=True)], dtype=bool
            ),
            "comparable": np.array(
                [x[:2] == y[:2] for x, y in zip(ka, kb, strict=True)], dtype=bool
            ),
        }
    )


def names_match(scores: pd.DataFrame, distance_m: np.ndarray) -> np.ndarray:
    """Rule 3 for name pairs (``name_scores``) at the given distances."""
    required = required_score(distance_m)
    near_enough = np.isfinite(required)
    ok = (scores["score"].to_numpy() >= required) | (scores["subset"].to_numpy() & near_enough)
    return ok & scores["comparable"].to_numpy()


def _qualifiers(name: str) -> frozenset[str]:
    return frozenset(name.split()) & QUALIFIERS


def rule3_match(names_a: list[object], names_b: list[object], distance_m: np.ndarray) -> np.ndarray:
    """Rule 3 on pairs of raw names at known distances (what the linker decides)."""
    norm_a = [normalize_name(n) for n in names_a]
    norm_b = [normalize_name(n) for n in names_b]
    named = np.array([x is not None and y is not None for x, y in zip(norm_a, norm_b, strict=True)])
    out = np.zeros(len(norm_a), dtype=bool)
    pos = np.flatnonzero(named)
    if len(pos):
        scores = name_scores([norm_a[i] for i in pos], [norm_b[i] for i in pos])
        out[pos] = names_match(scores, np.asarray(distance_m, dtype=float)[pos])
    return out


def _subset(ta: frozenset[str], tb: frozenset[str]) -> bool:
    small, large = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
    return small <= large and max(len(t) for t in small) >= MIN_SUBSET_TOKEN_CHARS


# --- keys and links ------------------------------------------------------------------------


def minmod_key(site_id: str) -> str:
    """The record key of a MinMod site id: its creator dropped, MRDS ids as dep_id keys."""
    parts = site_id.split("__")
    if len(parts) < 4 or parts[0] != "site":
        return f"mm:{site_id}"
    if parts[1] == MRDS_MINMOD_SOURCE:
        return f"dep:{parts[2]}"
    return "mm:" + "__".join(parts[1:-1])


def read_same_as(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """``key_1``, ``key_2`` of every same-as link marked same (``is_same`` absent or 1)."""
    parts = []
    for frame in frames:
        missing = {"ms_1", "ms_2"} - set(frame.columns)
        if missing:
            raise SchemaError(f"same-as table without columns {sorted(missing)}")
        if "is_same" in frame.columns:
            frame = frame.loc[frame["is_same"].astype(str).str.strip().isin(("1", "true", "True"))]
        parts.append(frame[["ms_1", "ms_2"]])
    links = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["ms_1", "ms_2"])
    return pd.DataFrame(
        {
            "key_1": links["ms_1"].map(minmod_key).to_numpy(dtype=object),
            "key_2": links["ms_2"].map(minmod_key).to_numpy(dtype=object),
        }
    )


def _list_column(records: pd.DataFrame, column: str) -> list[list[Any]]:
    if column not in records.columns:
        return [[] for _ in range(len(records))]
    lists = records[column].to_numpy(dtype=object)
    return [
        [v for v in x if isinstance(v, str) and v]
        if isinstance(x, list | tuple | np.ndarray)
        else []
        for x in lists
    ]


def dep_ids(records: pd.DataFrame) -> np.ndarray:
    """Each record's MRDS dep_id as text, or None (the records' ``dep_id`` column)."""
    if "dep_id" not in records.columns:
        return np.full(len(records), None, dtype=object)
    return np.array(
        [str(v) if isinstance(v, str | int) and str(v) else None for v in records["dep_id"]],
        dtype=object,
    )


def _unit_xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lam, phi = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def _normalized_names(records: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """(record position, normalized name) for every distinct non-generic name of every
    record: its ``name`` and its ``alt_names``."""
    names = [[n] if isinstance(n, str) else [] for n in records["name"].to_numpy(dtype=object)]
    for extra, own in zip(_list_column(records, "alt_names"), names, strict=True):
        own.extend(extra)
    row_rec, row_name = [], []
    for i, candidates in enumerate(names):
        seen = set()
        for n in candidates:
            norm = normalize_name(n)
            if norm and norm not in seen:
                seen.add(norm)
                row_rec.append(i)
                row_name.append(norm)
    return np.asarray(row_rec, dtype=np.int64), row_name


def name_pairs(
    records: gpd.GeoDataFrame,
    distance_m: float = LINK_DISTANCE_M,
    *,
    names: tuple[np.ndarray, list[str]] | None = None,
    xyz: np.ndarray | None = None,
) -> pd.DataFrame:
    """Rule 3's candidate pairs: records of different layers within ``distance_m``, one
    row per record pair (``a < b``) with its best pair of normalized names (a matching
    one first, else the nearest), their ``score``, the distance and whether they match."""
    rec, row_name = names if names is not None else _normalized_names(records)
    if xyz is None:
        xyz = _unit_xyz(records.geometry.x.to_numpy(), records.geometry.y.to_numpy())
    columns = ["a", "b", "name_a", "name_b", "score", "distance_m", "match"]
    if not len(rec):
        return pd.DataFrame(columns=columns)
    chord = 2 * np.sin(distance_m / EARTH_RADIUS_M / 2)
    pairs = cKDTree(xyz[rec]).query_pairs(chord, output_type="ndarray")
    layer = records["source"].to_numpy(dtype=object)
    if len(pairs):
        pairs = pairs[layer[rec[pairs[:, 0]]] != layer[rec[pairs[:, 1]]]]
    if not len(pairs):
        return pd.DataFrame(columns=columns)
    a, b = rec[pairs[:, 0]], rec[pairs[:, 1]]
    name_arr = np.asarray(row_name, dtype=object)
    table = pd.DataFrame({"name_a": name_arr[pairs[:, 0]], "name_b": name_arr[pairs[:, 1]]})
    distance = _distance_m(xyz, a, b)
    # Score each distinct name pair once (dense districts repeat the same names).
    distinct = table.drop_duplicates().reset_index(drop=True)
    scores = name_scores(distinct["name_a"].tolist(), distinct["name_b"].tolist())
    scored = table.merge(pd.concat([distinct, scores], axis=1), on=["name_a", "name_b"], how="left")
    out = scored.assign(
        a=np.minimum(a, b),
        b=np.maximum(a, b),
        distance_m=distance,
        match=names_match(scored, distance),
    )[columns]
    out = out.sort_values(["a", "b", "match", "distance_m"], ascending=[True, True, False, True])
    return out.drop_duplicates(["a", "b"]).reset_index(drop=True)


# --- linking -------------------------------------------------------------------------------


@dataclass
class Links:
    """Per record, its site label and, per rule, the label after that rule."""

    labels: np.ndarray
    #: Per rule, the size of each record's site once that rule (and those before) applied.
    stage_sizes: dict[str, np.ndarray]
    report: dict[str, Any] = field(default_factory=dict)


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _sizes(labels: np.ndarray) -> np.ndarray:
    return np.bincount(labels)[labels]


def _star(groups: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Edges joining every ``rec`` to the first ``rec`` of its ``key`` group."""
    first = groups.groupby("key", sort=False)["rec"].transform("first").to_numpy(np.int64)
    rec = groups["rec"].to_numpy(np.int64)
    keep = rec != first
    return rec[keep], first[keep]


def _distance_m(xyz: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    chord = np.linalg.norm(xyz[a] - xyz[b], axis=1)
    return 2 * EARTH_RADIUS_M * np.arcsin(np.clip(chord / 2, 0, 1))


def _same_as_edges(
    keys: pd.DataFrame, same_as: pd.DataFrame, xyz: np.ndarray, first_name: list[str | None]
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Rule 2 as record pairs: records sharing a MinMod record key, and the same-as links
    between keys that records hold. A link is used between records up to
    ``LINK_DISTANCE_M`` apart, and up to ``SAME_AS_MAX_DISTANCE_M`` where both are named
    and their names match (score ``SAME_AS_NAME_SCORE``, or one name's words in the
    other's): MinMod's matcher also joins "Unnamed" records tens of kilometres apart and
    chains differently named mines of one district."""
    shared_a, shared_b = _star(keys.loc[keys["key"].str.startswith("mm:")])
    left = same_as.merge(keys.rename(columns={"key": "key_1", "rec": "a"}), on="key_1")
    pairs = left.merge(keys.rename(columns={"key": "key_2", "rec": "b"}), on="key_2")
    a, b = pairs["a"].to_numpy(np.int64), pairs["b"].to_numpy(np.int64)
    a, b = a[a != b], b[a != b]
    distance = _distance_m(xyz, a, b)
    keep = distance <= LINK_DISTANCE_M
    far = np.flatnonzero(
        ~keep
        & (distance <= SAME_AS_MAX_DISTANCE_M)
        & np.array([first_name[i] is not None for i in a], dtype=bool)
        & np.array([first_name[i] is not None for i in b], dtype=bool)
    )
    if len(far):
        scores = name_scores([first_name[i] for i in a[far]], [first_name[i] for i in b[far]])
        ok = (scores["score"].to_numpy() >= SAME_AS_NAME_SCORE) | scores["subset"].to_numpy()
        keep[far[ok & scores["comparable"].to_numpy()]] = True
    counts = {
        "same_as_links_read": len(same_as),
        "same_as_links_between_records": len(a),
        "same_as_links_not_used": int((~keep).sum()),
    }
    return np.r_[shared_a, a[keep]], np.r_[shared_b, b[keep]], counts


def link(records: gpd.GeoDataFrame, same_as: pd.DataFrame) -> Links:
    """Union the three rules' links over ``records`` (one row per source record)."""
    n = len(records)
    lon = records.geometry.x.to_numpy()
    lat = records.geometry.y.to_numpy()
    xyz = _unit_xyz(lon, lat)
    names = _normalized_names(records)
    first_name: list[str | None] = [None] * n
    for rec, name in zip(names[0][::-1].tolist(), names[1][::-1], strict=True):
        first_name[rec] = name  # reversed: each record's first normalized name wins
    dep = dep_ids(records)
    has_dep = np.flatnonzero(pd.notna(dep))
    dep_keys = pd.DataFrame({"key": [f"dep:{d}" for d in dep[has_dep]], "rec": has_dep})
    mm = [
        (minmod_key(i), r) for r, ids in enumerate(_list_column(records, "minmod_ids")) for i in ids
    ]
    keys = pd.concat([dep_keys, pd.DataFrame(mm, columns=["key", "rec"])], ignore_index=True)
    keys = keys.drop_duplicates()
    report: dict[str, Any] = {"records": n, "rules": {}}
    stage: dict[str, np.ndarray] = {}
    all_a, all_b = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    previous = np.arange(n)
    for rule in LINK_RULES:
        if rule == "dep_id":
            a, b = _star(dep_keys)
        elif rule == "same_as":
            a, b, counts = _same_as_edges(keys, same_as, xyz, first_name)
            report |= counts
        else:
            pairs = name_pairs(records, names=names, xyz=xyz)
            report["name_candidate_pairs"] = len(pairs)
            pairs = pairs.loc[pairs["match"].to_numpy(dtype=bool)]
            report["name_matched_pairs"] = len(pairs)
            a = pairs["a"].to_numpy(dtype=np.int64)
            b = pairs["b"].to_numpy(dtype=np.int64)
        all_a, all_b = np.r_[all_a, a], np.r_[all_b, b]
        labels = _components(n, all_a, all_b)
        stage[rule] = _sizes(labels)
        before, after = _sizes(previous) > 1, _sizes(labels) > 1
        report["rules"][rule] = {
            "records_linked": int((after & ~before).sum()),
            "sites_merged": int(len(np.unique(previous)) - len(np.unique(labels))),
        }
        previous = labels
    report["sites"] = len(np.unique(previous))
    report["records_in_multi_record_sites"] = int((_sizes(previous) > 1).sum())
    return Links(previous, stage, report)


# --- sites ---------------------------------------------------------------------------------


def _priority(records: pd.DataFrame) -> np.ndarray:
    return records["source"].map(SOURCE_PRIORITY).fillna(DEFAULT_PRIORITY).to_numpy(dtype=float)


def _dep_sort_key(dep_id: str) -> tuple[int, int, str]:
    return (0, int(dep_id), "") if dep_id.isdigit() else (1, 0, dep_id)


def _column(records: pd.DataFrame, column: str) -> np.ndarray:
    """A column as an object array with None for null (NaN, NA) and for empty text."""
    if column not in records.columns:
        return np.full(len(records), None, dtype=object)
    values = records[column].to_numpy(dtype=object, copy=True)
    values[pd.isna(values) | (values == "")] = None
    return values


def _linked_by_all(links: Links) -> list[list[str]]:
    """Per record, the rules that joined it with other records (its site grew then)."""
    grew = []
    before = np.ones(len(links.labels), dtype=np.int64)
    for rule in LINK_RULES:
        size = links.stage_sizes[rule]
        grew.append(size > before)
        before = size
    flags = np.column_stack(grew)
    return [[r for r, f in zip(LINK_RULES, row, strict=True) if f] for row in flags.tolist()]


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def build_sites(records: gpd.GeoDataFrame, same_as: pd.DataFrame) -> tuple[gpd.GeoDataFrame, dict]:
    """One row per site (see the module docstring) and the link report."""
    records = records.reset_index(drop=True)
    if records["id"].duplicated().any():
        dupes = records.loc[records["id"].duplicated(), ["id", "source"]].head(3)
        raise SchemaError(f"deposit record ids must be unique across layers; e.g. {dupes.values}")
    links = link(records, same_as)
    order = np.lexsort((records["id"].to_numpy(dtype=str), _priority(records), links.labels))
    col = {
        c: _column(records, c)
        for c in (
            "id",
            "name",
            "source",
            "source_id",
            "source_url",
            "primary_commodity",
            "dev_status",
            "state",
            "county",
            "details",
            "deposit_type",
            "inventory",
        )
    }
    commodities = records["commodities"].to_numpy(dtype=object)
    dep = dep_ids(records)
    alt = _list_column(records, "alt_names")
    folded = [fold(n) if n is not None else "" for n in col["name"]]
    linked_by = _linked_by_all(links)
    status_rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    critical_names = critical.critical_names()  # the default list (the stored flag)
    labels_sorted = links.labels[order]
    bounds = np.flatnonzero(np.r_[True, labels_sorted[1:] != labels_sorted[:-1], True])
    rows: list[dict[str, Any]] = []
    mains = []
    for start, stop in itertools.pairwise(bounds):
        members = order[start:stop].tolist()
        main = members[0]
        mains.append(main)
        deps = sorted({dep[m] for m in members if dep[m] is not None}, key=_dep_sort_key)
        merged = list(dict.fromkeys(c for m in members for c in commodities[m] if c is not None))
        best = min((col["dev_status"][m] for m in members), key=status_rank.__getitem__)
        site_name = col["name"][main]
        seen = {folded[main]}
        alt_names = []
        for m in members:
            for n, key in ((col["name"][m], folded[m]), *((a, fold(a)) for a in alt[m])):
                if n is not None and key and key not in seen:
                    seen.add(key)
                    alt_names.append(n)
        if site_name is None and alt_names:
            site_name = alt_names.pop(0)
        detail = [
            {
                "id": col["id"][m],
                "source": col["source"][m],
                "source_id": col["source_id"][m],
                "source_url": col["source_url"][m],
                "name": col["name"][m],
                "dev_status": col["dev_status"][m],
                "linked_by": linked_by[m],
            }
            for m in members
        ]
        inventory = [
            {**entry, "record": col["id"][m], "layer": col["source"][m]}
            for m in members
            if col["inventory"][m] is not None
            for entry in orjson.loads(col["inventory"][m])
        ]
        primary = col["primary_commodity"][main]
        rows.append(
            {
                "id": f"mrds:{deps[0]}" if deps else col["id"][main],
                "name": site_name,
                "source": col["source"][main],
                "source_id": col["source_id"][main],
                "source_url": col["source_url"][main],
                "commodities": merged,
                "primary_commodity": primary or (merged[0] if merged else None),
                "critical": not critical_names.isdisjoint(merged),
                "dev_status": best,
                "state": next((col["state"][m] for m in members if col["state"][m]), None),
                "county": next((col["county"][m] for m in members if col["county"][m]), None),
                "details": col["details"][main],
                "alt_names": alt_names,
                "sources": list(dict.fromkeys(col["source"][m] for m in members)),
                "records": [col["id"][m] for m in members],
                "n_records": len(members),
                "dep_ids": deps,
                "dev_status_sources": []
                if best == "unknown"
                else [col["id"][m] for m in members if col["dev_status"][m] == best],
                "deposit_type": next(
                    (col["deposit_type"][m] for m in members if col["deposit_type"][m]), None
                ),
                "inventory": _json(inventory) if inventory else None,
                "link_rules": [r for r in LINK_RULES if any(r in linked_by[m] for m in members)],
                "records_detail": _json(detail),
            }
        )
    sites = gpd.GeoDataFrame(rows, geometry=records.geometry.to_numpy()[mains], crs=4326)
    report = links.report | _counts(records, links.labels, sites)
    return sites, report


def _counts(records: pd.DataFrame, labels: np.ndarray, sites: pd.DataFrame) -> dict[str, Any]:
    """Records and sites per source layer and per state (a site counts once per layer)."""
    frame = pd.DataFrame({"source": records["source"].to_numpy(), "site": labels})
    per_source = {
        str(k): {"records": len(g), "sites": int(g["site"].nunique())}
        for k, g in frame.groupby("source", sort=True)
    }
    states = sites["state"].fillna("unknown")
    return {
        "per_source": per_source,
        "sites_per_state": {str(k): int(v) for k, v in states.value_counts().sort_index().items()},
    }
