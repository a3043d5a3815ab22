"""``/shortlist``: the top N ranked cells and the deposits in them, as a file to download.

Same parameters as ``/rankings`` (and the same cached ranking) plus ``format``. Every
file carries the parameters and data versions it came from (see ``app.exports`` for how
each format holds them); the CSV, which has no room for them, has its provenance served
as the sidecar ``/shortlist/manifest`` for the same query, linked from the download's
``Link: <...>; rel="describedby"`` header.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app.deps import base_url, ranking_service_dep
from app.encoders import JSON
from app.exports import FORMATS, ExportFormat, dumps
from app.ranking_service import (
    RankingService,
    build_shortlist,
)
from app.routers.rankings import ERROR_RESPONSES, RankingRequest, deadline_dep, ranking_request
from app.routing import CheckedRoute
from geo.filters import DepositFilter
from layers.critical import DEFAULT_CRITICAL_LIST
from layers.errors import InvalidParameterError
from layers.suggest import did_you_mean

MAX_LABEL_CHARS = 40

FORMAT_HELP = "File format: " + "; ".join(f"`{f.name}`: {f.summary}" for f in FORMATS.values())


async def export_format(
    format: str = Query("csv", description=FORMAT_HELP, examples=list(FORMATS)),
) -> ExportFormat:
    """The requested format; an unknown one is a 400 that lists the formats."""
    found = FORMATS.get(format.strip().lower())
    if found is None:
        raise InvalidParameterError(
            f"format: unknown format {format!r}{did_you_mean(format, FORMATS)}; "
            f"one of {', '.join(FORMATS)}"
        )
    return found


def shortlist_filename(deposit_filter: DepositFilter, build_id: str, top: int, ext: str) -> str:
    """``fedmin-shortlist-<commodity or all>-<build id short>-top<N>.<ext>``; a selection
    by critical minerals of a list other than the default names the list too.

        The build id's short form is its content key (the part after the timestamp), which
        names the data, not the moment it was built.
    """
    if deposit_filter.commodities:
        label = "+".join(deposit_filter.commodities)
    elif deposit_filter.critical:
        label = "critical"
    else:
        label = "all"
    uses_list = deposit_filter.critical is not None or "critical" in (
        c.strip().lower() for c in deposit_filter.commodities
    )
    if uses_list and deposit_filter.critical_list != DEFAULT_CRITICAL_LIST:
        label = f"{label}-{deposit_filter.critical_list}"
    slug = re.sub(r"[^a-z0-9+]+", "_", label.lower()).strip("_")[:MAX_LABEL_CHARS] or "all"
    short = build_id.rsplit("-", 1)[-1][:8]
    return f"fedmin-shortlist-{slug}-{short}-top{top}.{ext}"


def _query_without_format(request: Request) -> str:
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "format"])


router = APIRouter(tags=["shortlist"], route_class=CheckedRoute)


@router.get(
    "/shortlist",
    response_class=Response,
    summary="Download the top N cells and their deposits (csv, geojson, gpkg, kml, shp)",
    responses={
        200: {
            "content": {f.media_type: {} for f in FORMATS.values()},
            "description": (
                "An attachment named `fedmin-shortlist-<commodity|all>-<build>-top<N>.<ext>`. "
                "gpkg: layers `cells`, `deposits` and the key/value table `metadata`; shp: a "
                "zip of cells.shp, deposits.shp and manifest.json (which maps the 10-character "
                "field names back to the full names); kml: folders cells and deposits, the "
                "parameters in the document; geojson: cells and deposits (`feature_type`), "
                "the provenance in the member `fedmin`; csv: one row per cell with lon/lat, "
                "deposit_ids and WKT, its provenance at `/shortlist/manifest`."
            ),
        },
        **ERROR_RESPONSES,
    },
)
async def shortlist(
    request: Request,
    export: ExportFormat = Depends(export_format),
    req: RankingRequest = Depends(ranking_request),
    service: RankingService = Depends(ranking_service_dep),
    deadline: float = Depends(deadline_dep),
    base: str = Depends(base_url),
) -> Response:
    """The shortlist of the ranking ``/rankings`` returns for the same parameters."""
    ranking = await service.rank(req.params, deadline)
    query = _query_without_format(request)

    def encode() -> bytes:
        return export.encode(build_shortlist(service.engine, ranking, req.params, req.top, query))

    content = await service.run(encode, deadline)
    name = shortlist_filename(req.params.filter, service.build_id, req.top, export.extension)
    sidecar = f"{base}/shortlist/manifest?{query}"
    return Response(
        content,
        media_type=export.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Link": f'<{sidecar}>; rel="describedby"; type="application/json"',
        },
    )


@router.get(
    "/shortlist/manifest",
    response_class=Response,
    summary="Provenance of a shortlist (the CSV's sidecar): parameters, build, checksums",
    responses={200: {"content": {JSON: {}}}, **ERROR_RESPONSES},
)
async def shortlist_manifest(
    request: Request,
    req: RankingRequest = Depends(ranking_request),
    service: RankingService = Depends(ranking_service_dep),
    deadline: float = Depends(deadline_dep),
) -> Response:
    """The metadata every shortlist file of this query embeds; ``ranked_at`` matches the
    file's (same cached ranking), ``generated_at`` is the time of this request."""
    ranking = await service.rank(req.params, deadline)
    query = _query_without_format(request)

    def encode() -> bytes:
        data = build_shortlist(service.engine, ranking, req.params, req.top, query)
        return dumps(data.metadata)

    return Response(await service.run(encode, deadline), media_type=JSON)
