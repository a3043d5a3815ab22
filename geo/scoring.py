"""The transparent cell score: four components in [0, 1] and their weighted mean.

Every formula and default here is repeated in ``docs/scoring.md``; change both together.

Per deposit i, the evidence weight is

    w_i = c_i * s_i * (1 + beta * k_i)

with c_i the largest commodity weight among the deposit's *counted* commodities (the
filter's commodities when it names some, else all of them; 0 when none, e.g. USMIN
topo-map workings, which are evidence of development and never of potential), s_i the
weight of its development status, k_i = 1 when a counted commodity is a critical mineral
(of the filter's critical-mineral list) and beta the critical boost.

Per cell c with centre x_c, with a Gaussian kernel K(d) = exp(-d^2 / (2 h^2)) truncated
at 3h (h = bandwidth, default the cell size):

* potential     P_c = log(1 + E_c) / log(1 + max E), E_c = sum_i w_i K(|x_c - x_i|)
* underdevelop. U_c = P_c * (N_c + rho Q_c) / (N_c + Q_c + D_c): the share of local
                evidence not yet developed, with N_c = sum_i w_i K(..) over the evidence
                deposits of a known undeveloped status (prospect, occurrence, plant), Q_c the
                same over the evidence of unknown status (neutral: rho = 0.5) and
                D_c = sum_j v_j K(|x_c - x_j|) over every producer and past producer and
                every deposit of a large-deposit compilation (v = 1, any commodity, USMIN
                workings included) and active claim (v = 0.5; only where claims data exists)
* access        A_c = sum_k a_k m_k(d_k) / sum_k a_k over the kinds k with a known
                distance, m_k(d) = 1 / (1 + (d / d50_k)^2)
* land          L_c = area(cell on federal land open to entry, minus active claims) /
                area(cell land of known status); unknown where no land's status is known
* score         S_c = sum_j W_j C_j / sum_j W_j over the components j that are known
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geo.caches import usable_cores
from geo.filters import DepositFilter
from geo.grid import DEFAULT_CELL_KM, DEFAULT_MAX_CELLS, GridSpec
from geo.landstatus import LAND_SHARE_COLUMNS
from layers.catalog import large_deposit_compilations
from layers.critical import critical_names
from layers.errors import InvalidParameterError, UnknownCommodityError
from layers.reference import commodity_from_name, commodity_mask, known_commodities
from layers.schema import DEV_STATUSES, INFRASTRUCTURE_KINDS, flatten_lists, looked_up

COMPONENTS: tuple[str, ...] = ("potential", "underdevelopment", "access", "land")

DEFAULT_WEIGHTS: dict[str, float] = {
    "potential": 0.35,
    "underdevelopment": 0.25,
    "access": 0.2,
    "land": 0.2,
}

#: s: how strongly a development status speaks for mineralization.
DEFAULT_STATUS_WEIGHTS: dict[str, float] = {
    "producer": 1.0,
    "past_producer": 0.9,
    "prospect": 0.6,
    "occurrence": 0.5,
    "plant": 0.2,
    "unknown": 0.4,
}

#: c: every commodity weighs 1.0 except bulk construction and industrial materials,
#: which are everywhere and say little about a mineral deposit.
DEFAULT_COMMODITY_WEIGHT = 1.0
BULK_COMMODITY_WEIGHT = 0.2
BULK_COMMODITIES: tuple[str, ...] = (
    "sand_and_gravel",
    "crushed_stone",
    "stone",
    "dimension_stone",
    "clay",
    "limestone",
    "dolomite",
    "marble",
    "pumice",
    "volcanic_materials",
    "gypsum",
    "gypsum_anhydrite",
    "salt",
    "sodium_chloride",
    "silica",
    "quartz",
    "feldspar",
    "calcium",
    "geothermal",
)
DEFAULT_COMMODITY_WEIGHTS: dict[str, float] = dict.fromkeys(BULK_COMMODITIES, BULK_COMMODITY_WEIGHT)

#: beta: evidence of a critical mineral counts 25 % more.
DEFAULT_CRITICAL_BOOST = 0.25

#: The kernel is truncated at this many bandwidths (exp(-4.5) = 1.1 % at the cut).
KERNEL_REACH_BANDWIDTHS = 3.0

#: Development evidence: statuses that mean the ground was worked, their weight v and the
#: weight of one active claim.
DEVELOPMENT_STATUSES: tuple[str, ...] = ("producer", "past_producer")
DEVELOPMENT_DEPOSIT_WEIGHT = 1.0
DEVELOPMENT_CLAIM_WEIGHT = 0.5
#: The status that says nothing about development, and rho: the share of such evidence
#: that counts as undeveloped (0.5: neither developed nor undeveloped).
UNKNOWN_STATUS = "unknown"
UNKNOWN_STATUS_UNDEVELOPED_SHARE = 0.5

#: Access: distance (m) at which a kind's membership falls to 0.5, and the kinds' weights.
ACCESS_MIDPOINTS_M: dict[str, float] = {"road": 5_000.0, "rail": 25_000.0, "power": 10_000.0}
ACCESS_KIND_WEIGHTS: dict[str, float] = {"road": 0.5, "rail": 0.25, "power": 0.25}
ACCESS_EXPONENT = 2.0

#: The open-land gate: by default a ranking leaves out cells whose land that is open or of
#: unknown status makes up less than this share (cells wholly on closed, restricted,
#: claimed or non-federal land). 0 keeps every cell.
DEFAULT_MIN_OPEN_LAND = 0.01
#: The development gate: by default a ranking of under-developed ground leaves out cells
#: whose local evidence is mostly development, those whose undeveloped share
#: (N + rho Q) / (N + Q + D) is below a third (development more than twice the
#: undeveloped evidence: a worked district, whatever its potential, such as Silver Peak
#: or Mineral Park). Below rho = 0.5, so a cell whose only evidence has an unknown status
#: stays in. 0 keeps every cell.
DEFAULT_MIN_UNDEVELOPED_SHARE = 1 / 3
#: ... and, with the gate on, cells in a mining district: at least this many worked
#: deposits (producers, past producers, large-deposit compilations) per 100 km² around
#: the cell, by the kernel density estimate of ``worked_density``. The share alone misses
#: a big mine ringed by dozens of recorded prospects (Silver Bell, AZ: share 0.5, 7 to 9
#: worked deposits per 100 km²); the median cell of the Arizona copper ranking has 0.1.
MINING_DISTRICT_DENSITY = 2.0

MAX_TOP = 10_000
MAX_TOP_DEPOSITS = 50


# --- parameters -------------------------------------------------------------------------


def validate_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    """Component weights: the defaults overridden by ``weights``.

    Names must be components, values finite and non-negative, not all zero, and with a
    finite sum (the score divides by it).
    """
    out = dict(DEFAULT_WEIGHTS)
    if weights:
        unknown = sorted(set(weights) - set(COMPONENTS))
        if unknown:
            raise InvalidParameterError(
                f"weights: unknown component(s) {unknown}; known: {list(COMPONENTS)}"
            )
        for name, value in weights.items():
            out[name] = _non_negative(value, f"weights.{name}")
    if not any(v > 0 for v in out.values()):
        raise InvalidParameterError("weights: at least one component weight must be positive")
    if not math.isfinite(sum(out.values())):  # each finite, the sum overflowing: scores of 0
        raise InvalidParameterError(f"weights: their sum must be finite, got {out}")
    return out


def _non_negative(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"{name}: not a number: {value!r}") from exc
    if not math.isfinite(number) or number < 0:
        raise InvalidParameterError(f"{name}: must be finite and >= 0, got {value!r}")
    return number


def _commodity_weights(overrides: Mapping[str, float] | None) -> dict[str, float]:
    out = dict(DEFAULT_COMMODITY_WEIGHTS)
    for raw, value in (overrides or {}).items():
        name = commodity_from_name(raw)
        if name not in known_commodities():
            raise UnknownCommodityError(f"commodity_weights: unknown commodity {raw!r}")
        out[name] = _non_negative(value, f"commodity_weights.{raw}")
    return out


def _status_weights(overrides: Mapping[str, float] | None) -> dict[str, float]:
    out = dict(DEFAULT_STATUS_WEIGHTS)
    for status, value in (overrides or {}).items():
        if status not in DEV_STATUSES:
            raise InvalidParameterError(
                f"status_weights: unknown status {status!r}; known: {list(DEV_STATUSES)}"
            )
        out[status] = _non_negative(value, f"status_weights.{status}")
    return out


@dataclass(frozen=True, eq=False)
class RankParams:
    """Everything a ranking depends on; validated on construction.

    ``weights``, ``commodity_weights`` and ``status_weights`` override the documented
    defaults name by name (a missing name keeps its default).
    """

    filter: DepositFilter = field(default_factory=DepositFilter)
    weights: Mapping[str, float] | None = None
    cell_km: float = DEFAULT_CELL_KM
    shape: str = "square"
    bandwidth_km: float | None = None
    top: int | None = 100
    commodity_weights: Mapping[str, float] | None = None
    status_weights: Mapping[str, float] | None = None
    critical_boost: float = DEFAULT_CRITICAL_BOOST
    max_cells: int = DEFAULT_MAX_CELLS
    top_deposits: int = 5
    min_open_land: float = DEFAULT_MIN_OPEN_LAND
    min_undeveloped_share: float = DEFAULT_MIN_UNDEVELOPED_SHARE

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.filter, DepositFilter):
            raise InvalidParameterError("filter: expected a DepositFilter")
        set_(self, "weights", validate_weights(self.weights))
        set_(self, "commodity_weights", _commodity_weights(self.commodity_weights))
        set_(self, "status_weights", _status_weights(self.status_weights))
        set_(self, "critical_boost", _non_negative(self.critical_boost, "critical_boost"))
        spec = GridSpec(self.cell_km, self.shape)  # validates cell_km and shape
        set_(self, "cell_km", spec.cell_km)
        if self.bandwidth_km is not None:
            bw = _non_negative(self.bandwidth_km, "bandwidth_km")
            if not (0.1 <= bw <= 100):
                raise InvalidParameterError(f"bandwidth_km: must lie in [0.1, 100], got {bw}")
            set_(self, "bandwidth_km", bw)
        if self.top is not None and (
            not isinstance(self.top, int) or not (1 <= self.top <= MAX_TOP)
        ):
            raise InvalidParameterError(f"top: an integer in [1, {MAX_TOP}], got {self.top!r}")
        if not isinstance(self.max_cells, int) or self.max_cells < 1:
            raise InvalidParameterError(f"max_cells: a positive integer, got {self.max_cells!r}")
        for name, of_what in (
            ("min_open_land", "the cell's land"),
            ("min_undeveloped_share", "the cell's evidence"),
        ):
            gate = _non_negative(getattr(self, name), name)
            if gate > 1:
                raise InvalidParameterError(
                    f"{name}: a share of {of_what} in [0, 1], got {getattr(self, name)!r}"
                )
            set_(self, name, gate)
        if not isinstance(self.top_deposits, int) or not (
            0 <= self.top_deposits <= MAX_TOP_DEPOSITS
        ):
            raise InvalidParameterError(
                f"top_deposits: an integer in [0, {MAX_TOP_DEPOSITS}], got {self.top_deposits!r}"
            )

    @property
    def spec(self) -> GridSpec:
        return GridSpec(self.cell_km, self.shape)

    @property
    def bandwidth_m(self) -> float:
        return 1000.0 * (self.bandwidth_km if self.bandwidth_km is not None else self.cell_km)

    @property
    def reach_m(self) -> float:
        return KERNEL_REACH_BANDWIDTHS * self.bandwidth_m

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready echo: travels with every result so it can be reproduced."""
        return {
            "filter": self.filter.to_dict(),
            "weights": dict(self.weights or {}),
            "cell_km": self.cell_km,
            "shape": self.shape,
            "bandwidth_km": self.bandwidth_m / 1000.0,
            "kernel_reach_km": self.reach_m / 1000.0,
            "top": self.top,
            "commodity_weights": dict(sorted((self.commodity_weights or {}).items())),
            "default_commodity_weight": DEFAULT_COMMODITY_WEIGHT,
            "status_weights": dict(self.status_weights or {}),
            "critical_boost": self.critical_boost,
            "max_cells": self.max_cells,
            "top_deposits": self.top_deposits,
            "min_open_land": self.min_open_land,
            "min_undeveloped_share": self.min_undeveloped_share,
        }

    def key(self) -> str:
        """Stable cache key."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def component_key(self) -> str:
        """Cache key of what does not depend on the component weights (nor on ``top`` or
        the gates, applied with the weights): the filter, evidence weights, grid and kernel
        (``geo.components``)."""
        echo = self.to_dict()
        del echo["weights"], echo["top"], echo["min_open_land"], echo["min_undeveloped_share"]
        return json.dumps(echo, sort_keys=True)

    def evidence_key(self) -> str:
        """Cache key of the evidence weights: the filter and the evidence-weight scheme."""
        return json.dumps(
            {
                "filter": self.filter.to_dict(),
                "commodity_weights": dict(sorted((self.commodity_weights or {}).items())),
                "status_weights": dict(self.status_weights or {}),
                "critical_boost": self.critical_boost,
            },
            sort_keys=True,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RankParams) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())


@dataclass
class RankResult:
    """A ranking with everything needed to trace and check it.

    ``cells``: the ``top`` best cells in EPSG:4326, sorted by score, with ``rank``, the
    components, ``score``, ``pareto``, ``top_deposit_ids`` and ``explanation``;
    ``all_cells``: every scored cell (same columns without ``explanation``);
    ``params``: the parameters echoed; ``manifest``: the store build and source
    checksums; ``validation``: the success-rate curve and AUC; ``notes``: caveats.
    """

    cells: gpd.GeoDataFrame
    all_cells: gpd.GeoDataFrame
    params: dict[str, Any]
    manifest: dict[str, Any]
    validation: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def total_cells(self) -> int:
        return len(self.all_cells)


# --- evidence ---------------------------------------------------------------------------


def evidence_weights(deposits: pd.DataFrame, params: RankParams) -> np.ndarray:
    """w_i per deposit row (see the module docstring); vectorized over the flattened lists."""
    n = len(deposits)
    if n == 0:
        return np.zeros(0)
    owner, names = flatten_lists(deposits["commodities"])
    present = pd.notna(names)
    allowed = params.filter.commodity_names
    counted = present & (pd.Series(names).isin(allowed).to_numpy() if allowed else True)
    weight = looked_up(names[counted], params.commodity_weights or {}, DEFAULT_COMMODITY_WEIGHT)
    crit = pd.Series(names[counted]).isin(critical_names(params.filter.critical_list)).to_numpy()
    c = np.zeros(n)
    np.maximum.at(c, owner[counted], weight)
    k = np.zeros(n, dtype=bool)
    np.logical_or.at(k, owner[counted], crit)
    s = looked_up(deposits["dev_status"], params.status_weights or {}, 0.0)
    return c * s * (1.0 + params.critical_boost * k)


@dataclass(frozen=True)
class DevelopmentEvidence:
    """What each deposit row says about development (boolean arrays over the rows).

    ``developed``: a producer or past producer, or a deposit of a large-deposit
    compilation (catalog ``large_deposit_compilation``: they list big known deposits, most
    of them mined; a deposit with a published tonnage has at least been drilled out);
    ``neutral``: not developed and of unknown status, evidence of neither; the rest (a
    prospect, occurrence or plant) is evidence of under-development. ``unknown_status``
    and ``compilation`` are the raw facts, for the explanations.
    """

    developed: np.ndarray
    neutral: np.ndarray
    unknown_status: np.ndarray
    compilation: np.ndarray


def from_large_deposit_compilation(deposits: pd.DataFrame) -> np.ndarray:
    """True where a row's source is a large-deposit compilation: a linked site lists every
    source of its records in ``sources``, a record has only its own ``source``, matched as
    text (over the lists of 300k records that was 0.35-0.42 s; 3 ms; the national sites'
    lists, 37 ms)."""
    sources = deposits["sources" if "sources" in deposits.columns else "source"]
    if pd.api.types.is_string_dtype(sources):  # one text per row: no lists to flatten
        return sources.isin(large_deposit_compilations()).to_numpy(dtype=bool)
    return commodity_mask(sources, large_deposit_compilations())  # any listed name matches


def development_evidence(deposits: pd.DataFrame) -> DevelopmentEvidence:
    """Classify every row's development evidence (see ``DevelopmentEvidence``)."""
    status = deposits["dev_status"]
    unknown = (status.isna() | status.eq(UNKNOWN_STATUS)).to_numpy(dtype=bool)
    compilation = from_large_deposit_compilation(deposits)
    developed = status.isin(DEVELOPMENT_STATUSES).to_numpy(dtype=bool) | compilation
    return DevelopmentEvidence(developed, unknown & ~developed, unknown, compilation)


def kernel(distance_m: np.ndarray, bandwidth_m: float) -> np.ndarray:
    """Gaussian kernel, 1 at distance 0, truncated to 0 beyond the reach."""
    d = np.asarray(distance_m, float)
    k = d / bandwidth_m  # in place from here: 10^7 pairs make each temporary 80 MB
    np.square(k, out=k)
    k *= -0.5
    np.exp(k, out=k)
    k[~(d <= KERNEL_REACH_BANDWIDTHS * bandwidth_m)] = 0.0  # NaN distances too
    return k


#: Threads of a kernel-pair query, one block of points each (scipy's KD-tree queries
#: and numpy's masks run without the GIL).
PAIR_QUERY_THREADS = usable_cores()
#: Points per block of a kernel-pair query: bounds its (block, k) neighbour arrays (about
#: 18 MB per thread at k = 44, 25 km cells with a 75 km reach).
PAIR_QUERY_BLOCK = 25_000


def lattice_neighbours(reach_m: float, cell_m: float) -> int:
    """The most centres of a square grid of ``cell_m`` cells a disc of radius ``reach_m``
    can hold, wherever it lies (those of the squares it touches: pi (r + half diagonal)^2)."""
    return math.ceil(math.pi * (reach_m / cell_m + math.sqrt(0.5)) ** 2)


def kernel_pairs(
    cell_xy: np.ndarray,
    point_xy: np.ndarray,
    reach_m: float,
    cell_m: float,
    cell_tree: cKDTree | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cell position, point position, distance) for every pair within the reach
    (inclusive), in point order (a cell's tied contributors then resolve to the deposit
    listed first); a point's own cells come nearest first.

    Both inputs are (n, 2) metric coordinates in the same CRS, the cells centres of a grid
    of ``cell_m`` cells; ``cell_tree`` is a KD-tree of ``cell_xy`` kept by the caller. Per
    block of ``PAIR_QUERY_BLOCK`` points (blocks on ``PAIR_QUERY_THREADS`` threads), one
    k-nearest query bounded by the reach (scipy), k from ``lattice_neighbours``; a point
    that fills all k is asked again with twice as many, so the result is exact for any
    layout. The rows come out in point order, with no sort: over 8.3 million pairs (25 km
    cells, 300k random points, 2 cores) 0.6-0.8 s against 1.8-2.0 s for one sparse
    distance matrix between two KD-trees and a stable sort by point, which was itself
    2.3x faster than a shapely STRtree ``dwithin`` query.
    """
    if len(cell_xy) == 0 or len(point_xy) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    tree = cKDTree(cell_xy) if cell_tree is None else cell_tree
    bound = np.nextafter(reach_m, np.inf)  # the query keeps distances below its bound
    k = min(lattice_neighbours(reach_m, cell_m), tree.n)

    def nearest(block: np.ndarray, want: int) -> tuple[np.ndarray, np.ndarray]:
        dist, found = tree.query(block, k=want, distance_upper_bound=bound)
        return dist.reshape(len(block), want), found.reshape(len(block), want)

    def block_pairs(start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        block, want = point_xy[start : start + PAIR_QUERY_BLOCK], k
        dist, found = nearest(block, want)
        while want < tree.n and np.any(found[:, -1] < tree.n):  # some point filled all k
            want = min(2 * want, tree.n)
            dist, found = nearest(block, want)
        hit = found < tree.n  # each row's cells first (nearest first), then its misses
        points = np.repeat(np.arange(start, start + len(block)), hit.sum(axis=1))
        return found[hit], points, dist[hit]

    starts = range(0, len(point_xy), PAIR_QUERY_BLOCK)
    if len(starts) == 1:
        return block_pairs(0)
    with ThreadPoolExecutor(min(PAIR_QUERY_THREADS, len(starts))) as pool:
        cells, points, distances = zip(*pool.map(block_pairs, starts), strict=True)
    return np.concatenate(cells), np.concatenate(points), np.concatenate(distances)


def normalize_potential(raw: np.ndarray) -> np.ndarray:
    """P = log(1 + E) / log(1 + max E): damps dense mining districts, 1 at the maximum."""
    raw = np.asarray(raw, float)
    top = raw.max() if len(raw) else 0.0
    if top <= 0:
        return np.zeros_like(raw)
    return np.log1p(raw) / np.log1p(top)


def underdevelopment(
    potential: np.ndarray,
    undeveloped_raw: np.ndarray,
    neutral_raw: np.ndarray,
    development_raw: np.ndarray,
) -> np.ndarray:
    """U = P * (N + rho Q) / (N + Q + D): potential times the share of the local evidence
    that is not yet developed, evidence of unknown status (Q) counting as rho = 0.5 of
    itself (it says nothing either way, so it cannot make a cell look untouched).
    Scale-free, so dense districts and sparse ranges compare fairly; 0 where there is no
    evidence at all."""
    n = np.asarray(undeveloped_raw, float)
    q = np.asarray(neutral_raw, float)
    d = np.asarray(development_raw, float)
    total = n + q + d
    undeveloped = n + UNKNOWN_STATUS_UNDEVELOPED_SHARE * q
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, undeveloped / np.where(total > 0, total, 1.0), 0.0)
    return np.asarray(potential, float) * share


def access_membership(distance_m: np.ndarray, kind: str) -> np.ndarray:
    """m_k(d) = 1 / (1 + (d / d50_k)^2); NaN stays NaN."""
    d = np.asarray(distance_m, float)
    return 1.0 / (1.0 + (d / ACCESS_MIDPOINTS_M[kind]) ** ACCESS_EXPONENT)


def access_component(distances: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Access per row from ``dist_<kind>_m`` columns, and the number of kinds used.

    Only the kinds with a known distance count; the weights of the others are dropped and
    the rest renormalized. With no known distance the access is NaN.
    """
    num = np.zeros(len(distances))
    den = np.zeros(len(distances))
    used = np.zeros(len(distances), dtype=np.int64)
    for kind in INFRASTRUCTURE_KINDS:
        d = distances[f"dist_{kind}_m"].to_numpy(float)
        known = ~np.isnan(d)
        m = access_membership(np.where(known, d, 0.0), kind)
        num += np.where(known, ACCESS_KIND_WEIGHTS[kind] * m, 0.0)
        den += np.where(known, ACCESS_KIND_WEIGHTS[kind], 0.0)
        used += known
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return value, used


def land_component(shares: pd.DataFrame) -> np.ndarray:
    """L = open share / known share: the open, unclaimed part of the cell's land whose
    status is known. NaN (unknown) where none of the cell's land has a known status."""
    open_share = shares["land_open_share"].to_numpy(float)
    known = 1.0 - shares["land_unknown_share"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(
            known > LAND_SHARE_EPS, open_share / np.where(known > 0, known, 1.0), np.nan
        )
    return np.clip(value, 0.0, 1.0)


#: Shares below this are rounding noise of the polygon overlays.
LAND_SHARE_EPS = 1e-6


def land_flag(shares: pd.DataFrame) -> np.ndarray:
    """``unknown`` (no land of known status), ``partly_unknown`` or None per cell."""
    unknown = shares["land_unknown_share"].to_numpy(float)
    return np.where(
        unknown >= 1.0 - LAND_SHARE_EPS,
        "unknown",
        np.where(unknown > LAND_SHARE_EPS, "partly_unknown", None),
    ).astype(object)


def open_land_gate(shares: pd.DataFrame, min_open_land: float) -> np.ndarray:
    """True for the cells a ranking keeps: those whose open or unknown-status land is at
    least ``min_open_land`` of their land. A cell known to offer no open land (wholly on
    closed, restricted, claimed or non-federal land) is left out; a cell partly of unknown
    status stays in. ``min_open_land`` = 0 keeps every cell. Applied after scoring: the
    components do not depend on it."""
    possible = shares["land_open_share"].to_numpy(float) + shares["land_unknown_share"].to_numpy(
        float
    )
    if min_open_land <= 0:
        return np.ones(len(shares), dtype=bool)
    return possible + LAND_SHARE_EPS >= min_open_land


def undeveloped_share(cells: pd.DataFrame) -> np.ndarray:
    """(N + rho Q) / (N + Q + D) per cell: the share of its local evidence not yet
    developed (``underdevelopment`` without the potential); NaN where it has none."""
    n = cells["undeveloped_raw"].to_numpy(float)
    q = cells["neutral_raw"].to_numpy(float)
    total = n + q + cells["development_raw"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (n + UNKNOWN_STATUS_UNDEVELOPED_SHARE * q) / total, np.nan)


def worked_density(worked_raw: np.ndarray, bandwidth_m: float) -> np.ndarray:
    """Worked deposits per 100 km² around each cell: the kernel-weighted count of worked
    deposits divided by the kernel's integral, 2 pi h² (1 - exp(-R²/2)) for the Gaussian
    of bandwidth h truncated at R bandwidths, so that a uniform density rho gives rho."""
    reach = KERNEL_REACH_BANDWIDTHS
    integral_m2 = 2.0 * math.pi * bandwidth_m**2 * (1.0 - math.exp(-0.5 * reach**2))
    return np.asarray(worked_raw, float) / integral_m2 * 1e8


def in_mining_district(cells: pd.DataFrame) -> np.ndarray:
    """True for the cells with at least ``MINING_DISTRICT_DENSITY`` worked deposits per
    100 km² around them."""
    return cells["worked_density"].to_numpy(float) >= MINING_DISTRICT_DENSITY


def development_gate(cells: pd.DataFrame, min_undeveloped_share: float) -> np.ndarray:
    """True for the cells a ranking keeps: those whose undeveloped share is at least
    ``min_undeveloped_share`` (or that have no evidence to judge by) and that are not in a
    mining district (``in_mining_district``). A worked district has high potential and
    would still top an additive score; it is known ground, not under-developed ground.
    0 keeps every cell. Applied after scoring, like the open-land gate."""
    if min_undeveloped_share <= 0:
        return np.ones(len(cells), dtype=bool)
    share = undeveloped_share(cells)
    enough = np.isnan(share) | (share + LAND_SHARE_EPS >= min_undeveloped_share)
    return enough & ~in_mining_district(cells)


def combine(components: pd.DataFrame, weights: Mapping[str, float]) -> np.ndarray:
    """S = sum W_j C_j / sum W_j over the known components (NaN where none is known)."""
    num = np.zeros(len(components))
    den = np.zeros(len(components))
    for name in COMPONENTS:
        values = components[name].to_numpy(float)
        known = ~np.isnan(values)
        num += np.where(known, weights[name] * np.where(known, values, 0.0), 0.0)
        den += np.where(known, weights[name], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def pareto_front(values: np.ndarray) -> np.ndarray:
    """True for rows not dominated by another row (all >=, one >), maximizing every column.

    NaN counts as 0 (the worst). Skyline by descending sum: the row with the largest sum
    left is never dominated by the rows left, so each pass fixes one front member and
    drops everything it dominates; the loop runs once per front member, not per row.
    """
    v = np.nan_to_num(np.asarray(values, float), nan=0.0)
    n = len(v)
    front = np.zeros(n, dtype=bool)
    if n == 0:
        return front
    order = np.argsort(-v.sum(axis=1), kind="stable")
    candidates = order
    while len(candidates):
        best = candidates[0]
        front[best] = True
        rest = candidates[1:]
        dominated = np.all(v[rest] <= v[best], axis=1) & np.any(v[rest] < v[best], axis=1)
        candidates = rest[~dominated]
    return front


# --- explanations -----------------------------------------------------------------------


def _num(value: Any, digits: int = 4) -> float | None:
    """JSON-friendly rounding; NaN becomes None (null), never a made-up number."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else round(value, digits)


def unknown_status_summary(row: Mapping[str, Any]) -> dict[str, Any]:
    """How much of a cell's evidence has an unknown development status: the share of its
    evidence (kernel-weighted, E), and the count among its contributing deposits."""
    evidence = float(row["potential_raw"])
    share = float(row["unknown_status_raw"]) / evidence if evidence > 0 else None
    return {
        "share": _num(share),
        "count": int(row["n_unknown_status"]),
        "of": int(row["n_evidence"]),
    }


def explain(row: Mapping[str, Any], weights: Mapping[str, float]) -> dict[str, Any]:
    """A cell's self-explanation: components, weights used, inputs, top deposits, notes."""
    known = [c for c in COMPONENTS if _num(row[c]) is not None]
    total = sum(weights[c] for c in known)
    used = {
        c: (round(weights[c] / total, 4) if total > 0 and c in known else 0.0) for c in COMPONENTS
    }
    notes: list[str] = []
    kinds = [k for k in INFRASTRUCTURE_KINDS if _num(row[f"dist_{k}_m"]) is not None]
    missing = [k for k in INFRASTRUCTURE_KINDS if k not in kinds]
    if missing and kinds:
        notes.append(
            f"access from {', '.join(kinds)} only: no {', '.join(missing)} data covers this cell"
        )
    elif not kinds:
        notes.append("access unknown: no infrastructure layer covers this cell")
    if not row["claims_covered"]:
        notes.append(
            "no mining-claims data covers this cell: active claims are unknown and were not "
            "counted in development or land availability"
        )
    unknown_share = _num(row.get("land_unknown_share"))
    if unknown_share:
        notes.append(
            f"{100 * unknown_share:.0f} % of this cell's land is of unknown status (no land "
            "layer maps all federal land here): the land component is the open share of the "
            "known part, and the cell is flagged"
        )
    for c in COMPONENTS:
        if c not in known:
            notes.append(f"{c} is unknown here; the score uses the other components")
    unknown = unknown_status_summary(row)
    if unknown["count"]:
        notes.append(
            f"{unknown['share']:.0%} of this cell's evidence ({unknown['count']} of "
            f"{unknown['of']} contributing deposits) has no development status: unknown counts "
            f"as {UNKNOWN_STATUS_UNDEVELOPED_SHARE:g} undeveloped, not as untouched ground"
        )
    density = float(row["worked_density"])
    if density >= MINING_DISTRICT_DENSITY:
        notes.append(
            f"{density:.1f} worked deposits per 100 km² around this cell: a mining district "
            f"(at least {MINING_DISTRICT_DENSITY:g}), which the development gate leaves out"
        )
    if row["n_compilation"]:
        notes.append(
            f"{int(row['n_compilation'])} contributing deposits come from large-deposit "
            "compilations (big known deposits, most of them mined): they count as development"
        )
    return {
        "score": _num(row["score"]),
        "components": {c: _num(row[c]) for c in COMPONENTS},
        "weights_requested": {c: weights[c] for c in COMPONENTS},
        "weights_used": used,
        "formula": "score = sum(w_j * C_j) / sum(w_j) over known components",
        "inputs": {
            "evidence_raw": _num(row["potential_raw"]),
            "undeveloped_evidence_raw": _num(row["undeveloped_raw"]),
            "unknown_status_evidence_raw": _num(row["neutral_raw"]),
            "development_raw": _num(row["development_raw"]),
            "worked_deposits_per_100km2": _num(row["worked_density"]),
            "unknown_status": unknown,
            "large_deposit_compilation_deposits": int(row["n_compilation"]),
            "n_deposits": int(row["n_deposits"]),
            "distances_m": {k: _num(row[f"dist_{k}_m"], 1) for k in INFRASTRUCTURE_KINDS},
            "access_kinds_used": kinds,
            "available_land_share": _num(row["land"]),
            "land_shares": {
                column[len("land_") : -len("_share")]: _num(row.get(column))
                for column in LAND_SHARE_COLUMNS
            },
            "land_flag": row.get("land_flag"),
            "land_area_m2": _num(row["area_m2"], 0),
            "claims_covered": bool(row["claims_covered"]),
            "active_claims": int(row["active_claims"]) if row["claims_covered"] else None,
        },
        "top_deposits": [
            {"id": i, "contribution": _num(c)}
            for i, c in zip(row["top_deposit_ids"], row["top_deposit_contributions"], strict=True)
        ],
        "pareto": bool(row["pareto"]),
        "notes": notes,
    }
