"""Does the potential component find mines it was not told about? A success-rate curve.

Known producers and past producers are held out; the potential is recomputed from the
remaining evidence only; cells are ranked by that potential and, walking down the
ranking, we record which share of the held-out sites lies in the top x % of the grid's
land area. A useless score follows the diagonal (AUC 0.5), a perfect one captures every
site in the first sliver of area (AUC near 1).

Two conservative choices: the area is that of the analysed grid (cells near evidence,
not the whole state), which is already a favourable area, and cells with equal
potential are treated as one block visited in random order (the curve is linear across
a tie), so a flat score earns no credit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CURVE_STEPS = 101


def success_rate_curve(
    score: np.ndarray, area: np.ndarray, site_cells: np.ndarray, steps: int = CURVE_STEPS
) -> dict[str, Any]:
    """Curve of the share of sites (y) inside the top x % of area, ranked by ``score``.

    ``site_cells`` holds, per held-out site, the position of its cell in ``score`` (sites
    off the grid, -1, are not counted). Returns ``x_pct`` (0..100), ``y_share``, ``auc``
    (exact area under the piecewise-linear curve) and the counts.
    """
    score = np.asarray(score, float)
    area = np.asarray(area, float)
    sites = np.asarray(site_cells, dtype=np.int64)
    sites = sites[sites >= 0]
    total_area = float(area.sum())
    if len(sites) == 0 or total_area <= 0:
        return {
            "available": False,
            "reason": "no held-out site on the grid",
            "auc": None,
            "n_sites": len(sites),
        }
    levels, level_of = np.unique(-np.nan_to_num(score, nan=-np.inf), return_inverse=True)
    level_area = np.bincount(level_of, weights=area, minlength=len(levels))
    level_hits = np.bincount(level_of[sites], minlength=len(levels)).astype(float)
    x = np.concatenate([[0.0], np.cumsum(level_area) / total_area])
    y = np.concatenate([[0.0], np.cumsum(level_hits) / len(sites)])
    auc = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))
    xs = np.linspace(0.0, 1.0, steps)
    ys = np.interp(xs, x, y)
    return {
        "available": True,
        "auc": round(auc, 4),
        "n_sites": len(sites),
        "x_pct": [round(100 * v, 2) for v in xs],
        "y_share": [round(float(v), 4) for v in ys],
        "share_in_top_10pct": round(float(np.interp(0.10, x, y)), 4),
        "share_in_top_25pct": round(float(np.interp(0.25, x, y)), 4),
    }


def holdout_validation(
    cell_pos: np.ndarray,
    point_pos: np.ndarray,
    contribution: np.ndarray,
    held_out: np.ndarray,
    point_cells: np.ndarray,
    cell_area: np.ndarray,
    n_cells: int,
) -> dict[str, Any]:
    """Success-rate validation of the potential with the held-out points removed.

    ``cell_pos``/``point_pos``/``contribution`` are the kernel pairs (w_i K(d)) of the
    potential; ``held_out`` flags the evidence points to hide (producers and past
    producers); ``point_cells`` gives each point's cell (-1 off the grid). The raw
    potential is enough: the curve only depends on the order of cells.
    """
    held_out = np.asarray(held_out, dtype=bool)
    n_held = int(held_out.sum())
    base = {
        "method": (
            "hold out producers and past producers, recompute the potential from the other "
            "evidence, rank cells by it and count held-out sites in the top x% of area"
        ),
        "held_out": n_held,
        "training_points": int((~held_out).sum()),
    }
    if n_held == 0:
        return {
            **base,
            "available": False,
            "auc": None,
            "reason": "no producer or past producer among the filtered deposits",
        }
    if (~held_out).sum() == 0:
        return {
            **base,
            "available": False,
            "auc": None,
            "reason": "every filtered deposit is a producer: nothing left to train on",
        }
    keep = ~held_out[point_pos]
    potential = np.bincount(cell_pos[keep], weights=contribution[keep], minlength=n_cells)
    curve = success_rate_curve(potential, cell_area, np.asarray(point_cells)[held_out])
    off_grid = int((np.asarray(point_cells)[held_out] < 0).sum())
    return {**base, **curve, "held_out_off_grid": off_grid}
