"""Deposit-source coverage in a ranking: say where only national sources have data.

A cell outside every state survey and regional extract (``deposit_coverage`` kinds
``state_survey`` and ``region_box``) is known only through national sources: MRDS (a
sample) and compilations of major or selected deposits. Few deposits there is not evidence
of few deposits in the ground, so a ranking over such cells says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely

from layers.coverage import FULL_KINDS, LAYER_ID

#: Full-coverage area per store build (root path); a few builds at most are open at once.
_FULL: dict[str, shapely.Geometry | None] = {}
_FULL_BUILDS = 4


def _full_coverage(store: Any) -> shapely.Geometry | None:
    root = str(store.root)
    if root not in _FULL:
        area = None
        if LAYER_ID in store.layer_ids():
            frame = store.frame(LAYER_ID)
            full = frame.loc[frame["coverage"].isin(FULL_KINDS).to_numpy()]
            area = shapely.union_all(full.geometry.to_numpy())
            shapely.prepare(area)
        while len(_FULL) >= _FULL_BUILDS:
            _FULL.pop(next(iter(_FULL)))
        _FULL[root] = area
    return _FULL[root]


def national_only_note(store: Any, cells: pd.DataFrame) -> list[str]:
    """A note (empty list when none applies) on cells covered only by national sources;
    ``cells`` has a lon/lat ``geometry`` column (a GeoDataFrame or a plain frame)."""
    if not len(cells) or "geometry" not in cells:
        return []
    area = _full_coverage(store)
    if area is None:
        return []
    covered = shapely.intersects(area, np.asarray(cells["geometry"].to_numpy(), dtype=object))
    outside = int((~covered).sum())
    if not outside:
        return []
    which = (
        "every cell of this ranking lies"
        if outside == len(cells)
        else f"{outside} of {len(cells)} cells lie"
    )
    return [
        f"{which} where fedmin has only national deposit sources (MRDS, sampled; national "
        "compilations of major or selected deposits) and no state survey: few recorded "
        "deposits there is not evidence of few deposits (see the deposit_coverage collection)"
    ]
