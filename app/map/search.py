"""Find deposits by name for the map's search box.

The items endpoint filters by attributes, not by name; a person looking for "Black Bear"
needs a forgiving text match. Ordering: exact name, then names starting with the text,
then names containing it (case- and accent-insensitive), ties by name then id, so the
same query always lists the same deposits.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd

from layers.errors import InvalidParameterError

MIN_QUERY_CHARS = 2
MAX_RESULTS = 50


def fold(text: pd.Series) -> pd.Series:
    """Lower-case, accents stripped, whitespace collapsed: what people type vs sources."""
    folded = (
        text.fillna("")
        .astype(str)
        .map(lambda s: unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode())
    )
    return folded.str.lower().str.split().str.join(" ")


def find_by_name(names: pd.Series, ids: pd.Series, query: str, limit: int) -> np.ndarray:
    """Positions of the best ``limit`` name matches of ``query``, best first."""
    text = fold(pd.Series([query])).iloc[0]
    if len(text) < MIN_QUERY_CHARS:
        raise InvalidParameterError(f"q: give at least {MIN_QUERY_CHARS} characters")
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidParameterError(f"limit: an integer in [1, {MAX_RESULTS}], got {limit}")
    folded = fold(names.reset_index(drop=True))
    contains = folded.str.contains(text, regex=False).to_numpy()
    positions = np.flatnonzero(contains)
    if not len(positions):
        return positions
    hits = folded.iloc[positions]
    tier = np.where(hits.eq(text), 0, np.where(hits.str.startswith(text), 1, 2))
    order = np.lexsort((ids.iloc[positions].astype(str).to_numpy(), hits.to_numpy(), tier))
    return positions[order][:limit]
