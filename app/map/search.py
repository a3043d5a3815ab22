"""Find deposits by name for the map's search box.

The items endpoint filters by attributes, not by name; a person looking for "Black Bear"
needs a forgiving text match over every name a site is known by: its own and the other
names of its records (``alt_names``, e.g. a mine symbol's "Black Bear Mine" or a state
survey's name). Ordering: exact name, then names starting with the text, then names
containing it (case- and accent-insensitive), each site by its best-matching name; ties
by that name then id, so the same query always lists the same deposits.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from layers.errors import InvalidParameterError

MIN_QUERY_CHARS = 2
MAX_RESULTS = 50
#: Name indexes kept (one per served build; a server switching builds holds two).
INDEX_CACHE_SIZE = 2


def fold(text: pd.Series) -> pd.Series:
    """Lower-case, accents stripped, whitespace collapsed: what people type vs sources."""
    folded = (
        text.fillna("")
        .astype(str)
        .map(lambda s: unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode())
    )
    return folded.str.lower().str.split().str.join(" ")


@dataclass(frozen=True)
class NameIndex:
    """Every name of every row, folded once: ``names[k]`` belongs to row ``owner[k]``."""

    names: pd.Series
    owner: np.ndarray
    ids: np.ndarray

    @classmethod
    def build(cls, frame: pd.DataFrame) -> NameIndex:
        names = frame["name"].reset_index(drop=True).to_frame("name")
        parts = [pd.DataFrame({"owner": np.arange(len(frame)), "name": names["name"]})]
        if "alt_names" in frame.columns:
            alt = frame["alt_names"].reset_index(drop=True).explode().dropna()
            parts.append(pd.DataFrame({"owner": alt.index.to_numpy(), "name": alt.to_numpy()}))
        table = pd.concat(parts, ignore_index=True)
        return cls(
            fold(table["name"]).reset_index(drop=True),
            table["owner"].to_numpy(dtype=np.int64),
            frame["id"].astype(str).to_numpy(dtype=object),
        )


_indexes: OrderedDict[str, NameIndex] = OrderedDict()
_lock = threading.Lock()


def name_index(key: str, frame: pd.DataFrame) -> NameIndex:
    """The index of ``frame`` (built once per ``key``, e.g. a collection's version)."""
    with _lock:
        if key in _indexes:
            _indexes.move_to_end(key)
            return _indexes[key]
    index = NameIndex.build(frame)
    with _lock:
        _indexes[key] = index
        while len(_indexes) > INDEX_CACHE_SIZE:
            _indexes.popitem(last=False)
    return index


def find_by_name(index: NameIndex, query: str, limit: int) -> np.ndarray:
    """Row positions of the best ``limit`` name matches of ``query``, best first."""
    text = fold(pd.Series([query])).iloc[0]
    if len(text) < MIN_QUERY_CHARS:
        raise InvalidParameterError(f"q: give at least {MIN_QUERY_CHARS} characters")
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidParameterError(f"limit: an integer in [1, {MAX_RESULTS}], got {limit}")
    hits = np.flatnonzero(index.names.str.contains(text, regex=False).to_numpy())
    if not len(hits):
        return hits
    names = index.names.iloc[hits].to_numpy(dtype=object)
    tier = np.where(names == text, 0, np.where(index.names.iloc[hits].str.startswith(text), 1, 2))
    owner = index.owner[hits]
    order = np.lexsort((index.ids[owner].astype(str), names.astype(str), tier))
    # Each row once, at its best-matching name.
    _, first = np.unique(owner[order], return_index=True)
    return owner[order][np.sort(first)][:limit]
