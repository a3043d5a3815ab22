"""``/rankings``: ranked cells as GeoJSON, and one cell with its contributing deposits.

Thin: the query is validated here, ``app.ranking_service`` ranks (cached, within the
time budget) through ``geo.engine``, ``app.exports`` encodes. Rankings are computed for
at least the next bucket of ``RANK_TOP_BUCKETS`` above the requested ``top`` and sliced,
so ``top=25`` and ``top=100`` share one cached computation.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import geopandas as gpd
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from app.deps import ranking_service_dep, settings_dep
from app.encoders import GEOJSON
from app.exports import dumps, geojson_features
from app.params import FILTER_PARAMS, BBox, FilterQuery, filter_query, unpaged_bbox_query
from app.ranking_service import (
    RankingService,
    client_cells,
    client_deposits,
    provenance,
)
from app.routing import CheckedRoute
from app.settings import Settings
from geo.filters import DepositFilter
from geo.grid import parse_cell_id, point_cell_ids
from geo.scoring import (
    COMPONENTS,
    DEFAULT_MIN_OPEN_LAND,
    DEFAULT_MIN_UNDEVELOPED_SHARE,
    DEFAULT_WEIGHTS,
    MAX_TOP,
    MINING_DISTRICT_DENSITY,
    RankParams,
)
from layers.errors import InvalidParameterError, NotFoundError

RANK_TOP_BUCKETS = (100, 1_000, MAX_TOP)

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
#: The properties a scores-only (``geometry=false``) answer keeps per cell: the scores,
#: and the place name and land flag the map's list of best cells shows.
SCORE_COLUMNS = ("cell_id", "rank", "score", *COMPONENTS, "pareto", "place_label", "land_flag")
GEOMETRY_HELP = (
    "`false`: a light scores-only answer for re-styling cells already drawn (the map's "
    "weight sliders): each Feature has `geometry: null` and only the properties "
    f"{', '.join(f'`{c}`' for c in SCORE_COLUMNS[1:])} (those the cells carry); the "
    "top-level members are the same."
)
CELL_ID_EXAMPLE = "g5070-5000-554-869"
CELL_ID_HELP = (
    f"A cell id from `/rankings`, e.g. `{CELL_ID_EXAMPLE}`; it fixes the grid (CRS, shape, "
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


MIN_OPEN_LAND_HELP = (
    "The open-land gate: cells whose land that is open to mineral entry or of unknown "
    "status makes up less than this share (0-1) are left out (cells wholly on closed, "
    f"restricted, claimed or non-federal land). Default {DEFAULT_MIN_OPEN_LAND}; 0 shows "
    "every cell. The notes count the cells left out."
)
MIN_UNDEVELOPED_SHARE_HELP = (
    "The development gate: cells whose local evidence is mostly development (worked "
    "ground: producers, past producers, large-deposit compilation entries, active claims) "
    "are left out, those whose undeveloped share (N + 0.5 Q) / (N + Q + D) is below this "
    f"(0-1), and so are the cells of mining districts (at least {MINING_DISTRICT_DENSITY:g} "
    f"worked deposits per 100 km² around them). Default {DEFAULT_MIN_UNDEVELOPED_SHARE:.3g}; "
    "0 shows every cell. The notes count the cells left out."
)


@dataclass(frozen=True)
class WeightsQuery:
    """Weights, size and gates of a ranking (the filter is A1's shared model)."""

    weights: str | None
    top: int
    min_open_land: float = DEFAULT_MIN_OPEN_LAND
    min_undeveloped_share: float = DEFAULT_MIN_UNDEVELOPED_SHARE


async def weights_query(
    weights: str | None = Query(
        None, description=WEIGHTS_HELP, examples=["potential:1,access:0.5"]
    ),
    top: int = Query(100, ge=1, le=MAX_TOP, description=TOP_HELP),
    min_open_land: float = Query(DEFAULT_MIN_OPEN_LAND, ge=0, le=1, description=MIN_OPEN_LAND_HELP),
    min_undeveloped_share: float = Query(
        DEFAULT_MIN_UNDEVELOPED_SHARE, ge=0, le=1, description=MIN_UNDEVELOPED_SHARE_HELP
    ),
) -> WeightsQuery:
    return WeightsQuery(weights, top, min_open_land, min_undeveloped_share)


@dataclass(frozen=True)
class GridQuery:
    cell_km: float | None
    shape: Literal["square", "hex"]


async def grid_query(
    cell_km: float | None = Query(None, description=CELL_KM_HELP, examples=[5.0]),
    shape: Literal["square", "hex"] = Query("square", description=SHAPE_HELP),
) -> GridQuery:
    """A dependency function rather than the class: a class runs in the thread pool."""
    return GridQuery(cell_km, shape)


async def filter_dep(
    filters: FilterQuery = Depends(filter_query), bbox: BBox | None = Depends(unpaged_bbox_query)
) -> DepositFilter:
    """The deposit filter of a ranking: every filter parameter of the items, and bbox (its
    area limited: a ranking is not paged)."""
    return dataclasses.replace(
        filters.to_filter(tuple(FILTER_PARAMS.values()), "rankings"), bbox=bbox
    )


async def deadline_dep(settings: Settings = Depends(settings_dep)) -> float:
    """When a ranking request must be answered by (``time.monotonic()``): its arrival
    plus ``FEDMIN_RANKING_TIME_BUDGET_S``. Every dependency is a coroutine, so nothing
    queues before this runs; queueing for a ranking worker counts against the budget."""
    return time.monotonic() + settings.ranking_time_budget_s


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
        min_open_land=weights.min_open_land,
        min_undeveloped_share=weights.min_undeveloped_share,
    )
    return RankingRequest(params, weights.top)


async def ranking_request(
    weights: WeightsQuery = Depends(weights_query),
    grid: GridQuery = Depends(grid_query),
    deposit_filter: DepositFilter = Depends(filter_dep),
    settings: Settings = Depends(settings_dep),
) -> RankingRequest:
    """The ranking a request asks for, validated (bad values are 400s with the reason)."""
    cell_km = settings.default_cell_km if grid.cell_km is None else grid.cell_km
    _check_cell_km(cell_km, settings)
    return _ranking_request(weights, deposit_filter, settings, cell_km, grid.shape)


async def cell_ranking_request(
    cell_id: str = Path(alias="cellId", description=CELL_ID_HELP, examples=[CELL_ID_EXAMPLE]),
    weights: WeightsQuery = Depends(weights_query),
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


# --- routes ---------------------------------------------------------------------------------

router = APIRouter(tags=["rankings"], route_class=CheckedRoute)


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
async def rankings(
    req: RankingRequest = Depends(ranking_request),
    geometry: bool = Query(True, description=GEOMETRY_HELP),
    service: RankingService = Depends(ranking_service_dep),
    deadline: float = Depends(deadline_dep),
) -> Response:
    """Score every cell of an equal-area grid near the filtered deposits and return the
    best ``top``. Same filter parameters as the deposit items; see ``docs/scoring.md``."""
    variant = (req.top, geometry)
    body = service.cached_encoding(req.params, variant)
    if body is None:
        ranking = await service.rank(req.params, deadline)

        def encode() -> bytes:
            cells = client_cells(ranking.result.cells, req.top)
            features = (
                geojson_features(cells, id_column="cell_id") if geometry else score_features(cells)
            )
            return dumps(
                {
                    "type": "FeatureCollection",
                    **provenance(ranking, req.top),
                    "returned": len(cells),
                    "features": features,
                }
            )

        body = await service.run(
            partial(service.encoded, req.params, variant, ranking, encode), deadline
        )
    return Response(body, media_type=GEOJSON)


def score_features(cells: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Scores-only Features (``geometry: null``): what re-styling drawn cells needs."""
    kept = [c for c in SCORE_COLUMNS if c in cells.columns]
    frame = gpd.GeoDataFrame(cells[kept], geometry=gpd.GeoSeries([None] * len(cells)), crs=4326)
    return geojson_features(frame, id_column="cell_id")


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
async def ranking_cell(
    cell_id: str = Path(alias="cellId", description=CELL_ID_HELP, examples=[CELL_ID_EXAMPLE]),
    req: RankingRequest = Depends(cell_ranking_request),
    service: RankingService = Depends(ranking_service_dep),
    deadline: float = Depends(deadline_dep),
) -> Response:
    """The cell ``cell_id`` of the ranking these parameters define."""
    ranking = await service.rank(req.params, deadline)  # engine.cell reuses it

    def answer() -> bytes:
        row, contributors = service.engine.cell(cell_id, req.params)
        in_cell = (
            point_cell_ids(
                contributors["x_m"].to_numpy(float),
                contributors["y_m"].to_numpy(float),
                contributors["metric_epsg"].to_numpy(),
                req.params.spec,
            )
            == cell_id
        )
        contributors = contributors.assign(in_cell=in_cell)
        cell = client_cells(gpd.GeoDataFrame([row], geometry="geometry", crs=4326))
        feature = geojson_features(cell, id_column="cell_id")[0]
        deposits = geojson_features(
            client_deposits(contributors, req.params.filter.critical_list), id_column="id"
        )
        return dumps(
            {
                **feature,
                "contributing_deposits": {"type": "FeatureCollection", "features": deposits},
                **provenance(ranking, req.top),
            }
        )

    return Response(await service.run(answer, deadline), media_type=GEOJSON)
