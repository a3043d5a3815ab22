"""Query and path parameters shared by the routers, each documented for ``/docs``.

Values are parsed here into small frozen objects; their meaning (which deposits a
filter keeps) lives in ``geo.filters.DepositFilter``, the one filter model shared by
items, tiles, rasters and rankings. Bad values raise ``layers.errors`` classes, so the
error table in ``app/errors.py`` turns them into a 4xx with the reason. The
dependencies are ``async def`` (cheap, no I/O): a plain ``def`` costs a thread-pool hop.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, get_args

from fastapi import Depends, Header, Path, Query, Request

from app.collections import COLLECTIONS, DEPOSIT_FILTERS, PROSPECTIVITY
from app.deps import settings_dep
from app.fastpath import PlainQuery, plain_integer
from app.settings import Settings
from geo.cql import CQL2_TEXT, CqlFilter
from geo.cql import LANGUAGES as CQL_LANGUAGES
from geo.filters import FIELD_DESCRIPTIONS, DepositFilter, parse_bbox
from layers.antimeridian import bbox_width
from layers.catalog import layers_of_kind
from layers.critical import CRITICAL_LIST_IDS
from layers.errors import InvalidParameterError, LimitExceededError, NotFoundError
from layers.schema import LayerKind

#: Query parameter name -> ``DepositFilter`` field.
FILTER_PARAMS: dict[str, str] = {
    "commodity": "commodities",
    "critical": "critical",
    "critical_list": "critical_list",
    "dev_status": "dev_status",
    "agency": "agency",
    "mineral_entry": "mineral_entry",
    "state": "state",
}
assert set(FILTER_PARAMS.values()) == set(DEPOSIT_FILTERS)
_PARAM_OF_FIELD = {field: name for name, field in FILTER_PARAMS.items()}
_LIST_NOTE = " Repeat the parameter or give a comma-separated list."
TILE_MATRIX_SET = "WebMercatorQuad"

#: Path parameters shared by the routers; the examples are real ids (for /docs and the
#: schema fuzzer), any other value is a 404 naming the known ones.
CollectionId = Annotated[
    str,
    Path(
        alias="collectionId",
        description="Collection id, as listed by /collections.",
        examples=[spec.id for spec in COLLECTIONS],
    ),
]
RasterId = Annotated[
    str,
    Path(
        alias="rasterId",
        description="Raster id, as listed by /rasters.",
        examples=[PROSPECTIVITY, *(layer.id for layer in layers_of_kind(LayerKind.RASTER))],
    ),
]


def _split(values: list[str] | None) -> tuple[str, ...] | None:
    """Repeated and comma-separated values as one tuple, empty items dropped (None when
    nothing is left: an empty value is an absent parameter, see ``app.routing``)."""
    if not values:
        return None
    return tuple(part for value in values for part in value.split(",") if part.strip()) or None


@dataclass(frozen=True)
class FilterQuery:
    """The filter parameters a request gave, keyed by ``DepositFilter`` field."""

    given: tuple[tuple[str, Any], ...] = ()

    def to_filter(self, allowed: tuple[str, ...], target: str) -> DepositFilter:
        """The ``DepositFilter`` for a target that accepts the fields ``allowed``.

        A parameter the target does not take is a 400 naming what it does take, rather
        than being silently ignored (a map asking roads for ``commodity=gold`` is a bug).
        """
        refused = [_PARAM_OF_FIELD[field] for field, _ in self.given if field not in allowed]
        if refused:
            takes = [_PARAM_OF_FIELD[f] for f in allowed] or "no filter parameters"
            raise InvalidParameterError(f"{target} does not take {refused}; it takes {takes}")
        return _deposit_filter(self.given)


@lru_cache(maxsize=1024)
def _deposit_filter(given: tuple[tuple[str, Any], ...]) -> DepositFilter:
    """Filters are immutable and a map asks many tiles with the same one: validate and
    resolve its commodities once (a refused filter raises and is not kept)."""
    return DepositFilter(**dict(given))


CommodityParam = Annotated[
    list[str] | None,
    Query(description=FIELD_DESCRIPTIONS["commodities"] + _LIST_NOTE, examples=["chromium"]),
]
CriticalParam = Annotated[bool | None, Query(description=FIELD_DESCRIPTIONS["critical"])]
CriticalListParam = Annotated[
    str | None,
    Query(
        description=FIELD_DESCRIPTIONS["critical_list"] + " An unknown id is a 400.",
        examples=list(CRITICAL_LIST_IDS),
    ),
]
DevStatusParam = Annotated[
    list[str] | None, Query(description=FIELD_DESCRIPTIONS["dev_status"] + _LIST_NOTE)
]
AgencyParam = Annotated[
    list[str] | None,
    Query(
        description=FIELD_DESCRIPTIONS["agency"]
        + " On federal_lands: the unit's managing agency."
        + _LIST_NOTE
    ),
]
MineralEntryParam = Annotated[
    list[str] | None,
    Query(
        description=FIELD_DESCRIPTIONS["mineral_entry"]
        + " On federal_lands: the unit's own status."
        + _LIST_NOTE
    ),
]
StateParam = Annotated[
    list[str] | None,
    Query(description=FIELD_DESCRIPTIONS["state"] + _LIST_NOTE, examples=["CA"]),
]


def _filters(
    commodity: list[str] | None,
    critical: bool | None,
    critical_list: str | None,
    dev_status: list[str] | None,
    agency: list[str] | None,
    mineral_entry: list[str] | None,
    state: list[str] | None,
) -> FilterQuery:
    raw = {
        "commodities": _split(commodity),
        "critical": critical,
        "critical_list": critical_list,
        "dev_status": _split(dev_status),
        "agency": _split(agency),
        "mineral_entry": _split(mineral_entry),
        "state": _split(state),
    }
    return FilterQuery(tuple((k, v) for k, v in raw.items() if v is not None))


async def filter_query(
    commodity: CommodityParam = None,
    critical: CriticalParam = None,
    critical_list: CriticalListParam = None,
    dev_status: DevStatusParam = None,
    agency: AgencyParam = None,
    mineral_entry: MineralEntryParam = None,
    state: StateParam = None,
) -> FilterQuery:
    """Collect the filter parameters; each collection/raster says which it accepts."""
    return _filters(commodity, critical, critical_list, dev_status, agency, mineral_entry, state)


def plain_filter_query(query: PlainQuery) -> FilterQuery:
    """``filter_query`` by hand (``app.fastpath``)."""
    return _filters(
        query.texts("commodity"),
        query.boolean("critical"),
        query.text("critical_list"),
        query.texts("dev_status"),
        query.texts("agency"),
        query.texts("mineral_entry"),
        query.texts("state"),
    )


BBox = tuple[float, float, float, float]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#: Spellings of the one CRS served (lon/lat WGS 84); GDAL and QGIS send the URI.
CRS84_ALIASES = frozenset(
    {CRS84, "http://www.opengis.net/def/crs/EPSG/0/4326", "CRS84", "OGC:CRS84", "EPSG:4326"}
)


def _only_crs84(value: str | None, name: str) -> None:
    if value is not None and value.strip().strip("[]") not in CRS84_ALIASES:
        raise InvalidParameterError(f"{name}: only {CRS84} (lon/lat) is served, got {value!r}")


BBoxParam = Annotated[
    str | None,
    Query(
        description=FIELD_DESCRIPTIONS["bbox"]
        + " Longitudes in [-180, 180], latitudes in [-90, 90], miny <= maxy; "
        "a feature is returned when its geometry intersects the box.",
        examples=["-123.5,40.5,-122.5,41.5"],
    ),
]
BBoxCrsParam = Annotated[
    str | None, Query(alias="bbox-crs", description=f"CRS of bbox; only {CRS84}.")
]
CrsParam = Annotated[
    str | None, Query(description=f"CRS of the response geometries; only {CRS84}.")
]


def _bbox(bbox: str | None, bbox_crs: str | None, crs: str | None) -> BBox | None:
    _only_crs84(bbox_crs, "bbox-crs")
    _only_crs84(crs, "crs")
    return parse_bbox(bbox)


async def bbox_query(
    bbox: BBoxParam = None, bbox_crs: BBoxCrsParam = None, crs: CrsParam = None
) -> BBox | None:
    return _bbox(bbox, bbox_crs, crs)


async def unpaged_bbox_query(
    settings: Annotated[Settings, Depends(settings_dep)],
    bbox: Annotated[BBox | None, Depends(bbox_query)],
) -> BBox | None:
    """``bbox`` of a request that is not paged (a ranking, a shortlist): a 400 when its
    area exceeds ``FEDMIN_MAX_UNPAGED_BBOX_DEG2``, as a page limit bounds the others."""
    if bbox is not None:
        area = bbox_width(bbox) * (bbox[3] - bbox[1])
        if area > settings.max_unpaged_bbox_deg2:
            raise LimitExceededError(
                f"bbox: {area:g} square degrees exceeds the {settings.max_unpaged_bbox_deg2:g} "
                "allowed here; ask for a smaller box, or none for the whole extent of the "
                "matching deposits"
            )
    return bbox


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


LimitParam = Annotated[
    int | None,
    Query(
        ge=1,
        description="Features per page (default FEDMIN_DEFAULT_PAGE_LIMIT, at most "
        "FEDMIN_MAX_PAGE_LIMIT; both are echoed in each collection's document).",
    ),
]
OffsetParam = Annotated[int, Query(ge=0, description="Matching features to skip.")]


def document_ogc_parameters(schema: dict[str, Any], settings: Settings) -> None:
    """Plain schemas where OGC clients read them in the OpenAPI document: ``limit`` with
    its served default and maximum (GDAL's OAPIF driver pages at that maximum, at
    ``limit=10`` when it finds none) and ``filter-lang`` as a string enum of the served
    languages (GDAL, through 3.12, only sends a ``filter`` for the draft name
    ``cql-text``, so it sends equalities on the properties that are also query parameters,
    ``state=NV``, and evaluates the rest itself). FastAPI writes an optional parameter as
    ``anyOf`` with null, which these clients do not read."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for param in operation.get("parameters", []):
                if param.get("name") == "filter-lang" and param.get("in") == "query":
                    param["schema"] = {
                        "type": "string",
                        "enum": list(CQL_LANGUAGES),
                        "default": CQL2_TEXT,
                        "title": "Filter-Lang",
                    }
                if param.get("name") == "limit" and param.get("in") == "query":
                    param["schema"] = {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": settings.max_page_limit,
                        "default": settings.default_page_limit,
                        "title": "Limit",
                    }


def _page(settings: Settings, limit: int | None, offset: int) -> Page:
    if limit is not None and limit > settings.max_page_limit:
        raise LimitExceededError(
            f"limit {limit} exceeds the maximum page size {settings.max_page_limit}; "
            "page with offset and the next links"
        )
    return Page(limit if limit is not None else settings.default_page_limit, offset)


async def page_query(
    settings: Annotated[Settings, Depends(settings_dep)],
    limit: LimitParam = None,
    offset: OffsetParam = 0,
) -> Page:
    return _page(settings, limit, offset)


OutputFormat = Literal["json", "html"]
OUTPUT_FORMATS = get_args(OutputFormat)


FormatParam = Annotated[
    OutputFormat | None,
    Query(description="Response format; overrides the Accept header (default json)."),
]
AcceptHeader = Annotated[str | None, Header(include_in_schema=False)]


def _format(f: OutputFormat | None, accept: str | None) -> OutputFormat:
    """``f`` wins; else HTML only when the client prefers text/html (a browser)."""
    if f is not None:
        return f
    if accept and "text/html" in accept:
        html_at = accept.index("text/html")
        json_at = min((accept.find(m) for m in ("json", "*/*") if m in accept), default=-1)
        if json_at == -1 or html_at < json_at:
            return "html"
    return "json"


async def output_format(f: FormatParam = None, accept: AcceptHeader = None) -> OutputFormat:
    return _format(f, accept)


FilterParam = Annotated[
    str | None,
    Query(
        alias="filter",
        description="A CQL2 filter (OGC API - Features Part 3) on the collection's "
        "queryables (/collections/{collectionId}/queryables), e.g. "
        "`commodities LIKE '%lithium%' AND state = 'NV'` or "
        "`S_INTERSECTS(geometry, BBOX(-123,40,-122,41))`. A list property (commodities) "
        "matches when any of its items does.",
        examples=["commodities LIKE '%lithium%'"],
    ),
]
FilterLangParam = Annotated[
    Literal["cql2-text", "cql2-json"] | None,
    Query(alias="filter-lang", description="Language of `filter` (default cql2-text)."),
]
FilterCrsParam = Annotated[
    str | None,
    Query(alias="filter-crs", description=f"CRS of the filter's geometries; only {CRS84}."),
]
SortbyParam = Annotated[
    str | None,
    Query(
        description="Comma-separated properties to sort by, `-name` for descending "
        "(nulls last, ties in collection order), e.g. `state,-name`.",
        examples=["state,-name"],
    ),
]
PropertiesParam = Annotated[
    str | None,
    Query(
        description="Comma-separated properties each feature keeps (default: all).",
        examples=["name,dev_status"],
    ),
]


@dataclass(frozen=True)
class ItemsQuery:
    """Everything an items page takes from its query, parsed by one dependency."""

    page: Page
    bbox: BBox | None
    filters: FilterQuery
    fmt: OutputFormat
    cql: CqlFilter | None = None
    sortby: tuple[str, ...] = ()
    properties: tuple[str, ...] | None = None


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def _cql(text: str | None, lang: str | None, crs: str | None) -> CqlFilter | None:
    _only_crs84(crs, "filter-crs")
    if text is None:
        return None
    return _cql_filter(text, lang or CQL2_TEXT)


@lru_cache(maxsize=256)
def _cql_filter(text: str, lang: str) -> CqlFilter:
    """Parsed once per text (a map pages many times with one filter)."""
    return CqlFilter(text, lang)


async def items_query(
    request: Request,
    limit: LimitParam = None,
    offset: OffsetParam = 0,
    bbox: BBoxParam = None,
    bbox_crs: BBoxCrsParam = None,
    crs: CrsParam = None,
    commodity: CommodityParam = None,
    critical: CriticalParam = None,
    critical_list: CriticalListParam = None,
    dev_status: DevStatusParam = None,
    agency: AgencyParam = None,
    mineral_entry: MineralEntryParam = None,
    state: StateParam = None,
    f: FormatParam = None,
    cql_filter: FilterParam = None,
    filter_lang: FilterLangParam = None,
    filter_crs: FilterCrsParam = None,
    sortby: SortbyParam = None,
    properties: PropertiesParam = None,
    accept: AcceptHeader = None,
) -> ItemsQuery:
    """The items page's parameters in one dependency: each ``Depends`` costs a resolution
    per request, and this is the busiest endpoint. Same checks, in the same order, as
    ``page_query``, ``bbox_query``, ``filter_query`` and ``output_format``."""
    return ItemsQuery(
        _page(request.app.state.settings, limit, offset),
        _bbox(bbox, bbox_crs, crs),
        _filters(commodity, critical, critical_list, dev_status, agency, mineral_entry, state),
        _format(f, accept),
        _cql(cql_filter, filter_lang, filter_crs),
        _names(sortby),
        _names(properties) if properties is not None else None,
    )


def plain_items_query(request: Request) -> ItemsQuery:
    """``items_query`` by hand (``app.fastpath``): the same checks in the same order,
    once every parameter has been read in its plain form."""
    query = PlainQuery(request.query_params)
    limit = query.integer("limit", minimum=1)
    offset = query.integer("offset", minimum=0)
    bbox, bbox_crs, crs = query.text("bbox"), query.text("bbox-crs"), query.text("crs")
    filters = plain_filter_query(query)
    fmt = query.literal("f", OUTPUT_FORMATS)
    cql_lang = query.literal("filter-lang", CQL_LANGUAGES)
    properties = query.text("properties")
    return ItemsQuery(
        _page(request.app.state.settings, limit, 0 if offset is None else offset),
        _bbox(bbox, bbox_crs, crs),
        filters,
        _format(fmt, request.headers.get("accept")),  # type: ignore[arg-type]
        _cql(query.text("filter"), cql_lang, query.text("filter-crs")),
        _names(query.text("sortby")),
        _names(properties) if properties is not None else None,
    )


@dataclass(frozen=True)
class TileAddress:
    z: int
    x: int
    y: int


def _tile_matrix_set(tms: str) -> str:
    if tms != TILE_MATRIX_SET:
        raise NotFoundError(f"unknown tile matrix set {tms!r}; only {TILE_MATRIX_SET!r} is served")
    return tms


async def tile_matrix_set(
    tms: Annotated[
        str,
        Path(
            alias="tileMatrixSetId",
            description="Tile matrix set; only WebMercatorQuad.",
            examples=[TILE_MATRIX_SET],
        ),
    ],
) -> str:
    return _tile_matrix_set(tms)


def _tile_address(settings: Settings, z: int, x: int, y: int) -> TileAddress:
    if not settings.min_tile_zoom <= z <= settings.max_tile_zoom:
        raise NotFoundError(
            f"zoom {z} is not served; zooms {settings.min_tile_zoom}..{settings.max_tile_zoom}"
        )
    side = 1 << z
    if not (0 <= x < side and 0 <= y < side):
        raise NotFoundError(f"no tile {z}/{x}/{y}: at zoom {z}, x and y lie in 0..{side - 1}")
    return TileAddress(z, x, y)


async def tile_address(
    settings: Annotated[Settings, Depends(settings_dep)],
    tms: Annotated[str, Depends(tile_matrix_set)],
    z: Annotated[int, Path(description="Zoom level (tile matrix).", examples=[8])],
    x: Annotated[int, Path(description="Tile column, 0 .. 2^z - 1 from the west.", examples=[40])],
    y: Annotated[int, Path(description="Tile row, 0 .. 2^z - 1 from the north.", examples=[96])],
) -> TileAddress:
    """A tile that exists in WebMercatorQuad at a served zoom, or a 404 saying why not."""
    return _tile_address(settings, z, x, y)


def plain_tile_address(request: Request) -> TileAddress:
    """``tile_address`` by hand (``app.fastpath``)."""
    path = request.path_params
    _tile_matrix_set(path["tileMatrixSetId"])
    z, x, y = (plain_integer(path[name], name) for name in ("z", "x", "y"))
    return _tile_address(request.app.state.settings, z, x, y)


def carried_query(request: Request, drop: tuple[str, ...]) -> dict[str, list[str]]:
    """The request's query parameters minus ``drop``, for links that keep the filters."""
    carried: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key not in drop:
            carried.setdefault(key, []).append(value)
    return carried
