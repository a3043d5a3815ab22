"""``/rankings``: ranked cells as GeoJSON, and one cell with its contributing deposits.

Thin: the query is validated here, ``geo.engine`` ranks, ``app.exports`` encodes. Two
things live here because they are about serving requests, not about geology:

* a bounded LRU of rankings keyed by (store build id, ranking parameters), so the map's
  re-ranks and the shortlist downloads of the same parameters reuse one computation;
  it holds futures, so concurrent identical requests share one computation too;
* a per-request time budget (``ranking_time_budget_s``): a ranking that does not finish
  in time answers 503 with a reason. The computation is not killed: it completes in the
  background and lands in the cache, so retrying the same request later is fast.

Rankings are computed for at least ``RANK_TOP_BUCKETS[0]`` cells (the next bucket up
from the requested ``top``) and sliced, so ``top=25`` and ``top=100`` share an entry.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import Response

from app.deps import settings_dep
from app.encoders import GEOJSON
from app.exports import dumps, geojson_features
from app.params import FILTER_PARAMS, BBox, FilterQuery, bbox_query, filter_query
from app.settings import Settings
from geo.engine import MemoryEngine
from geo.filters import DepositFilter
from geo.grid import cell_index, format_cell_id, parse_cell_id
from geo.scoring import COMPONENTS, DEFAULT_WEIGHTS, MAX_TOP, RankParams, RankResult
from layers.errors import InvalidParameterError, NotFoundError

RANK_TOP_BUCKETS = (100, 1_000, MAX_TOP)
RANKING_CACHE_ENTRIES = 16
RANKING_WORKERS = 2

#: Metric bookkeeping of the grid and the scoring inputs that are not meant for clients.
CELL_INTERNAL_COLUMNS = ("epsg", "x_m", "y_m")
DEPOSIT_INTERNAL_COLUMNS = ("metric_epsg", "x_m", "y_m", "evidence_weight", "details")

_DEFAULTS = Settings.model_fields
WEIGHTS_HELP = (
    "Component weights as name:value pairs, e.g. `potential:1,access:0.5`. Components: "
    f"{', '.join(COMPONENTS)}; a component not named keeps its default "
    f"({', '.join(f'{k}:{v}' for k, v in DEFAULT_WEIGHTS.items())}). Values must be "
    "finite and >= 0 and not all zero; an unknown component, a negative value or "
    "all-zero weights is a 400. The score is the weighted mean of the cell's known "
    "components; the weights actually used are echoed in `params.weights`."
)
CELL_KM_HELP = (
    "Side of a square cell (edge of a hexagon) in km. Default and bounds are server "
    f"settings (default {_DEFAULTS['default_cell_km'].default} km, allowed "
    f"{_DEFAULTS['min_cell_km'].default}-{_DEFAULTS['max_cell_km'].default} km); out of "
    "bounds is a 400."
)
TOP_HELP = (
    f"How many of the best cells to return (1-{MAX_TOP}). On `/rankings/{{cellId}}` it "
    "only picks the cached ranking to reuse (send the same value as to `/rankings`)."
)
SHAPE_HELP = "Cell shape of the equal-area grid (EPSG:5070 / EPSG:3338)."
CELL_ID_HELP = (
    "A cell id from `/rankings`, e.g. `g5070-5000-554-869`; it fixes the grid (CRS, shape, "
    "size), so `cell_km` and `shape` are not taken from the query here."
)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad parameter (weights, filter, cell size, too many cells)."},
    503: {
        "description": (
            "The ranking did not finish within the server's time budget "
            "(`ranking_time_budget_s`). It keeps computing and is cached when done: retry "
            "the same request later."
        )
    },
}


# --- query --------------------------------------------------------------------------------


def parse_weights(text: str | None) -> dict[str, float] | None:
    """``potential:1,access:0.5`` -> {"potential": 1.0, "access": 0.5}.

    Only the syntax is checked here; names and values are validated by ``RankParams``.
    """
    if text is None or not text.strip():
        return None
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition(":")
        name = name.strip()
        if not sep or not name:
            raise InvalidParameterError(
                f"weights: expected name:value pairs like 'potential:1,access:0.5', got {part!r}"
            )
        if name in out:
            raise InvalidParameterError(f"weights: component {name!r} given twice")
        try:
            out[name] = float(value)
        except ValueError as exc:
            raise InvalidParameterError(f"weights.{name}: not a number: {value!r}") from exc
    return out


@dataclass
class WeightsQuery:
    """Weights and size of a ranking (the filter is A1's shared model)."""

    weights: str | None = Query(None, description=WEIGHTS_HELP, examples=["potential:1,access:0.5"])
    top: int = Query(100, ge=1, le=MAX_TOP, description=TOP_HELP)


@dataclass
class GridQuery:
    cell_km: float | None = Query(None, description=CELL_KM_HELP, examples=[5.0])
    shape: Literal["square", "hex"] = Query("square", description=SHAPE_HELP)


def filter_dep(
    filters: FilterQuery = Depends(filter_query), bbox: BBox | None = Depends(bbox_query)
) -> DepositFilter:
    """The deposit filter of a ranking: every filter parameter of the items, and bbox."""
    return dataclasses.replace(
        filters.to_filter(tuple(FILTER_PARAMS.values()), "rankings"), bbox=bbox
    )


def _rank_top(top: int) -> int:
    return next(bucket for bucket in RANK_TOP_BUCKETS if top <= bucket)


def _check_cell_km(cell_km: float, settings: Settings) -> None:
    if not settings.min_cell_km <= cell_km <= settings.max_cell_km:
        raise InvalidParameterError(
            f"cell_km: must lie in [{settings.min_cell_km}, {settings.max_cell_km}] km, "
            f"got {cell_km}"
        )


@dataclass(frozen=True)
class RankingRequest:
    """A validated ranking request: the engine's parameters and the ``top`` asked for
    (``params.top`` is the cache bucket the ranking is computed for)."""

    params: RankParams
    top: int


def _ranking_request(
    weights: WeightsQuery,
    deposit_filter: DepositFilter,
    settings: Settings,
    cell_km: float,
    shape: str,
) -> RankingRequest:
    params = RankParams(
        filter=deposit_filter,
        weights=parse_weights(weights.weights),
        cell_km=cell_km,
        shape=shape,
        top=_rank_top(weights.top),
        max_cells=settings.max_ranking_cells,
    )
    return RankingRequest(params, weights.top)


def ranking_request(
    weights: WeightsQuery = Depends(),
    grid: GridQuery = Depends(),
    deposit_filter: DepositFilter = Depends(filter_dep),
    settings: Settings = Depends(settings_dep),
) -> RankingRequest:
    """The ranking a request asks for, validated (bad values are 400s with the reason)."""
    cell_km = settings.default_cell_km if grid.cell_km is None else grid.cell_km
    _check_cell_km(cell_km, settings)
    return _ranking_request(weights, deposit_filter, settings, cell_km, grid.shape)


def cell_ranking_request(
    cell_id: str = Path(alias="cellId", description=CELL_ID_HELP),
    weights: WeightsQuery = Depends(),
    deposit_filter: DepositFilter = Depends(filter_dep),
    settings: Settings = Depends(settings_dep),
) -> RankingRequest:
    """Like ``ranking_request``, with the grid taken from the cell id (malformed: 404)."""
    spec, _, _, _ = parse_cell_id(cell_id)
    try:
        _check_cell_km(spec.cell_km, settings)
    except InvalidParameterError as exc:
        raise NotFoundError(f"no cell {cell_id!r}: {exc}") from exc
    return _ranking_request(weights, deposit_filter, settings, spec.cell_km, spec.shape)


# --- the ranking cache ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ranking:
    """A computed ranking and when it was computed (stable across cache hits)."""

    result: RankResult
    ranked_at: str


class RankingService:
    """Rankings for the HTTP layer: an LRU of futures keyed by (build id, params), one
    computation per key at a time, each request waiting at most its time budget."""

    def __init__(
        self,
        engine: MemoryEngine,
        entries: int = RANKING_CACHE_ENTRIES,
        workers: int = RANKING_WORKERS,
    ):
        self.engine = engine
        self.entries = entries
        self._futures: OrderedDict[tuple[str, str], Future[Ranking]] = OrderedDict()
        self._lock = threading.RLock()  # RLock: a done callback may run inside ``rank``
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="fedmin-rank")

    @property
    def build_id(self) -> str:
        return self.engine.store.build_id

    def _compute(self, params: RankParams) -> Ranking:
        result = self.engine.rank(params)
        return Ranking(result, datetime.now(UTC).isoformat(timespec="seconds"))

    def _forget_failure(self, key: tuple[str, str], future: Future[Ranking]) -> None:
        """A failed computation is not cached: the next request tries again."""
        if future.cancelled() or future.exception() is not None:
            with self._lock:
                if self._futures.get(key) is future:
                    del self._futures[key]

    def rank(self, params: RankParams, budget_s: float) -> Ranking:
        """The ranking for ``params``; ``TimeoutError`` when not done within ``budget_s``."""
        key = (self.build_id, params.key())
        with self._lock:
            future = self._futures.get(key)
            if future is None:
                future = self._pool.submit(self._compute, params)
                self._futures[key] = future
                while len(self._futures) > self.entries:
                    self._futures.popitem(last=False)
                future.add_done_callback(partial(self._forget_failure, key))
            else:
                self._futures.move_to_end(key)
        try:
            return future.result(timeout=budget_s)
        except FutureTimeout as exc:
            raise TimeoutError(
                f"the ranking did not finish within the time budget of {budget_s:g} s; it "
                "keeps computing and will be cached: retry the same request later"
            ) from exc

    def cached(self) -> int:
        with self._lock:
            return len(self._futures)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@asynccontextmanager
async def ranking_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Create the ranking service over the engine the app's lifespan opened (once, even
    when several routers share this lifespan)."""
    if getattr(app.state, "rankings", None) is not None:
        yield
        return
    service = RankingService(app.state.engine)
    app.state.rankings = service
    try:
        yield
    finally:
        service.close()
        app.state.rankings = None


def ranking_service_dep(request: Request) -> RankingService:
    return request.app.state.rankings


def rank_within_budget(service: RankingService, params: RankParams, settings: Settings) -> Ranking:
    """Rank, turning an exceeded time budget into a 503 with the reason."""
    try:
        return service.rank(params, settings.ranking_time_budget_s)
    except TimeoutError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc


# --- encoding -------------------------------------------------------------------------------


def echo_params(result: RankResult, top: int) -> dict[str, Any]:
    """The parameters of a response: the ranking's own, with the ``top`` actually asked."""
    return {**result.params, "top": top}


def client_cells(cells: gpd.GeoDataFrame, top: int | None = None) -> gpd.GeoDataFrame:
    """The best ``top`` cells without the grid's metric bookkeeping."""
    cells = cells if top is None else cells.head(top)
    return cells.drop(columns=[c for c in CELL_INTERNAL_COLUMNS if c in cells.columns])


def client_deposits(deposits: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return deposits.drop(columns=[c for c in DEPOSIT_INTERNAL_COLUMNS if c in deposits.columns])


def provenance(ranking: Ranking, top: int) -> dict[str, Any]:
    """What every ranking response and file says about where it came from."""
    result = ranking.result
    return {
        "params": echo_params(result, top),
        "manifest": result.manifest,
        "validation": result.validation,
        "notes": result.notes,
        "ranked_at": ranking.ranked_at,
        "total_cells": result.total_cells,
    }


def geojson_response(body: Mapping[str, Any]) -> Response:
    return Response(dumps(body), media_type=GEOJSON)


def deposit_cell_ids(deposits: pd.DataFrame, params: RankParams) -> np.ndarray:
    """The id of the grid cell each (enriched) deposit lies in, for ``params``' grid.

    The same index arithmetic the engine uses to count a cell's deposits, so a cell's
    listed deposits agree with its ``n_deposits``.
    """
    spec = params.spec
    col, row = cell_index(deposits["x_m"].to_numpy(float), deposits["y_m"].to_numpy(float), spec)
    epsg = deposits["metric_epsg"].to_numpy()
    return np.array(
        [
            format_cell_id(spec, int(e), int(c), int(r))
            for e, c, r in zip(epsg, col, row, strict=True)
        ],
        dtype=object,
    )


# --- routes ---------------------------------------------------------------------------------

router = APIRouter(tags=["rankings"], lifespan=ranking_lifespan)


@router.get(
    "/rankings",
    response_class=Response,
    summary="Cells ranked by high mineral potential and low development",
    responses={
        200: {
            "content": {GEOJSON: {}},
            "description": (
                "A GeoJSON FeatureCollection of the best cells (EPSG:4326), sorted by score, "
                "each with rank, the four components in [0, 1], score, the Pareto flag and an "
                "explanation; top-level members `params`, `manifest` (store build id, source "
                "files and sha256), `validation` (success-rate curve and AUC), `notes`, "
                "`ranked_at` and `total_cells`."
            ),
        },
        **ERROR_RESPONSES,
    },
)
def rankings(
    req: RankingRequest = Depends(ranking_request),
    service: RankingService = Depends(ranking_service_dep),
    settings: Settings = Depends(settings_dep),
) -> Response:
    """Score every cell of an equal-area grid near the filtered deposits and return the
    best ``top``. Same filter parameters as the deposit items; see ``docs/scoring.md``."""
    ranking = rank_within_budget(service, req.params, settings)
    cells = client_cells(ranking.result.cells, req.top)
    return geojson_response(
        {
            "type": "FeatureCollection",
            **provenance(ranking, req.top),
            "returned": len(cells),
            "features": geojson_features(cells, id_column="cell_id"),
        }
    )


@router.get(
    "/rankings/{cellId}",
    response_class=Response,
    summary="One ranked cell and the deposits that contribute to its potential",
    responses={
        200: {
            "content": {GEOJSON: {}},
            "description": (
                "A GeoJSON Feature (the cell, with explanation) with the member "
                "`contributing_deposits`: a FeatureCollection of the deposits within the "
                "kernel's reach that add to the cell's potential, largest `contribution` "
                "first, `in_cell` telling whether a deposit lies in the cell itself; plus "
                "`params`, `manifest`, `validation`, `notes`, `ranked_at`."
            ),
        },
        404: {"description": "Malformed cell id, or no such cell for these parameters."},
        **ERROR_RESPONSES,
    },
)
def ranking_cell(
    cell_id: str = Path(alias="cellId", description=CELL_ID_HELP),
    req: RankingRequest = Depends(cell_ranking_request),
    service: RankingService = Depends(ranking_service_dep),
    settings: Settings = Depends(settings_dep),
) -> Response:
    """The cell ``cell_id`` of the ranking these parameters define."""
    ranking = rank_within_budget(service, req.params, settings)  # engine.cell reuses it
    row, contributors = service.engine.cell(cell_id, req.params)
    in_cell = deposit_cell_ids(contributors, req.params) == cell_id
    contributors = contributors.assign(in_cell=in_cell)
    cell = client_cells(gpd.GeoDataFrame([row], geometry="geometry", crs=4326))
    feature = geojson_features(cell, id_column="cell_id")[0]
    deposits = geojson_features(client_deposits(contributors), id_column="id")
    return geojson_response(
        {
            **feature,
            "contributing_deposits": {"type": "FeatureCollection", "features": deposits},
            **provenance(ranking, req.top),
        }
    )
