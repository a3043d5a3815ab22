"""What the API serves: feature collections and raster layers over the opened store.

Everything expensive is done once per store build (the registries built in the lifespan):
frames are read, property values made JSON-ready, geometries projected to Web Mercator and
indexed, so a request only selects rows and encodes them. Two things are not done before
the server answers: ``ranked_cells``, the engine's one costly computation, runs on first
use (then is kept); and the GeoJSON features of a large collection, when no earlier start
wrote them beside the store, are encoded on a background thread once start-up is done
(``AfterStartup``): tiles and rankings are served meanwhile, item pages wait for them.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import logging
import math
import mmap
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import rasterio
import rasterio.warp
import shapely
from pyproj import Transformer
from starlette.concurrency import run_in_threadpool

from app.encoders import mvt
from app.encoders.mvt import VALUE_FIELDS, TileAttributes
from app.settings import Settings
from geo.caches import ByteLRU, release_free_memory, usable_cores
from geo.cql import CqlFilter
from geo.engine import CACHE_DIR, ENRICH_VERSION, MemoryEngine
from geo.filters import DepositFilter, critical_column, critical_flags, with_critical_lists
from geo.rasters import fitting_pixel_m, prospectivity_cache_path, prospectivity_surface
from geo.scoring import RankParams
from geo.surface_cache import SurfaceCache
from layers.antimeridian import bbox_parts
from layers.catalog import layer as catalog_layer
from layers.critical import CRITICAL_LIST_IDS, DEFAULT_CRITICAL_LIST
from layers.errors import InvalidParameterError, NotFoundError
from layers.schema import DEV_STATUSES, LayerKind, looked_up
from layers.sources.staging import Staging
from layers.store import KeyedLocks, Store, record_sites
from layers.suggest import did_you_mean

log = logging.getLogger("fedmin.collections")

#: Every ``DepositFilter`` field but bbox (a box is its own parameter, applied by index).
DEPOSIT_FILTERS = tuple(f.name for f in fields(DepositFilter) if f.name != "bbox")
#: Deposits in a crowded tile are kept by development status first (producers matter most).
STATUS_PRIORITY = ("producer", "past_producer", "plant", "prospect", "occurrence", "unknown")
assert set(STATUS_PRIORITY) == set(DEV_STATUSES)
#: Filter masks memoized per collection (a map pans many tiles with one filter).
MASK_CACHE_SIZE = 64


@dataclass(frozen=True)
class Loaded:
    """A collection's frame and the store layers it comes from (its provenance)."""

    frame: gpd.GeoDataFrame
    layer_ids: list[str]
    #: What the rows depend on beyond the store build (e.g. the ranking parameters).
    version: str = ""


#: The engine is None for a spec that does not declare ``uses_engine``.
Loader = Callable[[Store, MemoryEngine | None, Settings], Loaded]


@dataclass(frozen=True)
class CollectionSpec:
    id: str
    title: str
    description: str
    load: Loader
    #: ``DepositFilter`` fields the collection accepts as query parameters.
    filters: tuple[str, ...] = ()
    #: Properties carried in vector tiles (kept small: the map needs little per feature).
    tile_properties: tuple[str, ...] = ("name",)
    #: Internal columns never served.
    hidden: tuple[str, ...] = ()
    #: Computed on first use rather than at start-up.
    lazy: bool = False
    #: Columns stored as JSON text, served as the JSON they hold (lists, objects).
    json_columns: tuple[str, ...] = ()
    #: The loader reads the engine (its deposits, coverage); the others are built while
    #: the engine opens.
    uses_engine: bool = False


def _kind(kind: LayerKind) -> Loader:
    def load(store: Store, engine: MemoryEngine | None, settings: Settings) -> Loaded:
        return Loaded(store.kind_frame(kind), store.layer_ids(kind))

    return load


def _infrastructure(kind: str) -> Loader:
    def load(store: Store, engine: MemoryEngine | None, settings: Settings) -> Loaded:
        frame = store.kind_frame(LayerKind.INFRASTRUCTURE)
        layers = [
            layer_id
            for layer_id in store.layer_ids(LayerKind.INFRASTRUCTURE)
            if store.manifest["layers"][layer_id].get("infrastructure_kind") == kind
        ]
        return Loaded(frame.loc[frame["kind"].eq(kind).to_numpy()], layers)

    return load


def _layer(layer_id: str) -> Loader:
    def load(store: Store, engine: MemoryEngine | None, settings: Settings) -> Loaded:
        if layer_id not in store.layer_ids():
            frame = store.kind_frame(catalog_layer(layer_id).kind).iloc[0:0]
            return Loaded(frame, [])
        return Loaded(store.frame(layer_id), [layer_id])

    return load


#: The per-list flags ``geo.filters.with_critical_lists`` adds (filter inputs, not served:
#: each deposit lists the lists it is critical under in ``critical_lists``).
CRITICAL_LIST_COLUMNS = tuple(
    critical_column(i) for i in CRITICAL_LIST_IDS if i != DEFAULT_CRITICAL_LIST
)


def critical_lists_per_row(frame: pd.DataFrame) -> list[list[str]]:
    """Per deposit, the ids of the critical-mineral lists it holds a mineral of.

    Rows share a list per pattern of flags (a few dozen patterns for 300k records): the
    per-row list building took 0.44 s at 300k records; read-only, as every served value.
    A pattern is the flags packed as bits (``np.unique`` over rows of booleans took
    0.23 s at 300k, over the packed integers 3 ms)."""
    flags = np.column_stack([critical_flags(frame, i) for i in CRITICAL_LIST_IDS])
    bits = 1 << np.arange(len(CRITICAL_LIST_IDS), dtype=np.int64)
    patterns, pattern_of_row = np.unique(flags @ bits, return_inverse=True)
    lists = [
        [i for i, bit in zip(CRITICAL_LIST_IDS, bits, strict=True) if p & bit] for p in patterns
    ]
    return [lists[i] for i in pattern_of_row.ravel().tolist()]


#: Data-coverage topics: the collection that holds the data, and the infrastructure kind
#: whose coverage the engine knows (None: the claims layers' extent).
COVERAGE_TOPICS: dict[str, tuple[str, str | None]] = {
    "claims": ("Mining claims", None),
    "roads": ("Roads", "road"),
    "railroads": ("Railroads", "rail"),
    "transmission_lines": ("Power lines", "power"),
}


def _data_coverage(store: Store, engine: MemoryEngine, settings: Settings) -> Loaded:
    """Where the claims and infrastructure layers have data, as the engine sees it: the
    claims layers' extent, the states an infrastructure kind covers (national: every
    state). Outside, "nothing drawn" means "no data", not "nothing there"."""
    states = store.frame("states") if "states" in store.layer_ids() else None
    national = shapely.union_all(states.geometry.values) if states is not None else None
    rows = []
    for topic, (title, kind) in COVERAGE_TOPICS.items():
        area = engine.claims_coverage if kind is None else engine.coverage.get(kind)
        if kind is not None and area is None:
            area, note = national, "national"
        else:
            note = "regional" if area is not None and not area.is_empty else "no data"
        if area is None or area.is_empty:
            continue
        rows.append({"id": topic, "name": title, "topic": topic, "extent": note, "geometry": area})
    frame = gpd.GeoDataFrame(
        rows, columns=["id", "name", "topic", "extent", "geometry"], geometry="geometry", crs=4326
    )
    layers = [*store.layer_ids(LayerKind.CLAIMS), *store.layer_ids(LayerKind.INFRASTRUCTURE)]
    return Loaded(frame, layers)


def _deposits(store: Store, engine: MemoryEngine, settings: Settings) -> Loaded:
    """The sites, enriched: each deposit once, its records linked (``layers/sites.py``)."""
    layers = store.layer_ids(LayerKind.DEPOSITS) + store.layer_ids(LayerKind.SITES)
    frame = engine.deposits
    return Loaded(frame.assign(critical_lists=critical_lists_per_row(frame)), layers)


def _deposit_records(store: Store, engine: MemoryEngine | None, settings: Settings) -> Loaded:
    """Every source record of every deposits layer, with the ``site_id`` it belongs to."""
    records = with_critical_lists(store.kind_frame(LayerKind.DEPOSITS))
    site_of = record_sites(store)
    site_id = records["id"] if site_of is None else records["id"].map(site_of)
    frame = records.assign(
        site_id=site_id.to_numpy(dtype=object), critical_lists=critical_lists_per_row(records)
    )
    return Loaded(frame, store.layer_ids(LayerKind.DEPOSITS))


def default_rank_params(settings: Settings) -> RankParams:
    """The ranking ``ranked_cells`` serves: the engine defaults over every deposit, at the
    overview cell size (a national overview; other sizes through ``/rankings``)."""
    return RankParams(cell_km=settings.overview_cell_km, max_cells=settings.max_ranking_cells)


def _ranked_cells(store: Store, engine: MemoryEngine, settings: Settings) -> Loaded:
    cells = engine.rank(default_rank_params(settings)).all_cells
    frame = cells.sort_values("rank", kind="stable").reset_index(drop=True)
    frame = frame.drop(columns=["cell_id"]).assign(id=frame["cell_id"].to_numpy())
    inputs = (LayerKind.DEPOSITS, LayerKind.FEDERAL_LANDS, LayerKind.CLAIMS)
    layers = [i for kind in (*inputs, LayerKind.INFRASTRUCTURE) for i in store.layer_ids(kind)]
    return Loaded(frame, layers, version=default_rank_params(settings).key())


def _land_coverage(store: Store, engine: MemoryEngine, settings: Settings) -> Loaded:
    return Loaded(engine.land_coverage.zones(), store.layer_ids(LayerKind.FEDERAL_LANDS))


COLLECTIONS: tuple[CollectionSpec, ...] = (
    CollectionSpec(
        "deposits",
        "Mineral deposits (sites)",
        "One feature per deposit site: the records of every deposits layer that describe "
        "the same deposit, linked by MRDS dep_id, MinMod same-as links and nearby matching "
        "names. Each site has every name of its records (alt_names), merged commodities, "
        "the most developed status of any record (dev_status_sources says which), grade "
        "and tonnage where a source gives them (inventory) and its records with source, "
        "id and link (records_detail; each one is also in deposit_records). Enriched with "
        "the land status of the point (the federal units it lies in, governing agency, "
        "designation and mineral-entry status) and distances in metres to the nearest "
        "road, railway and power line (null where no layer covers the point). `critical` "
        f"is the flag of the default critical-mineral list ({DEFAULT_CRITICAL_LIST}); "
        "`critical_lists` names every list the deposit holds a mineral of; in vector tiles "
        "`critical` follows the request's critical_list.",
        _deposits,
        uses_engine=True,
        filters=DEPOSIT_FILTERS,
        tile_properties=(
            "name",
            "primary_commodity",
            "dev_status",
            "critical",
            "agency",
            "mineral_entry",
            "n_records",
        ),
        hidden=("metric_epsg", "x_m", "y_m", *CRITICAL_LIST_COLUMNS),
        json_columns=("records_detail", "inventory"),
    ),
    CollectionSpec(
        "deposit_records",
        "Deposit records (one per source record)",
        "Every record of every deposits layer as its source publishes it (normalized), "
        "with the site_id of the deposit site it is linked into (the deposits collection).",
        _deposit_records,
        filters=tuple(f for f in DEPOSIT_FILTERS if f not in ("agency", "mineral_entry")),
        tile_properties=("name", "primary_commodity", "dev_status", "source", "site_id"),
        hidden=CRITICAL_LIST_COLUMNS,
    ),
    CollectionSpec(
        "federal_lands",
        "Federal lands",
        "Federal land units of every lands layer (they overlap on purpose: a wilderness "
        "lies inside a national forest) with agency, designation and mineral-entry status.",
        _kind(LayerKind.FEDERAL_LANDS),
        filters=("agency", "mineral_entry"),
        tile_properties=("name", "agency", "designation", "mineral_entry"),
    ),
    CollectionSpec(
        "land_coverage",
        "Land-status coverage",
        "Where land status is known: 'complete' where a layer maps all federal land (a point "
        "on no unit there is non-federal), 'units_only' where only the mapped units are known "
        "(elsewhere a point's status is unknown, never guessed). Built from the coverage each "
        "land layer declares in the catalog.",
        _land_coverage,
        uses_engine=True,
        tile_properties=("name", "coverage", "off_unit_status"),
    ),
    CollectionSpec(
        "claims",
        "Mining claims",
        "BLM mining claims (survey-grid parcels), active and closed.",
        _kind(LayerKind.CLAIMS),
        tile_properties=("name", "claim_type", "status"),
    ),
    CollectionSpec(
        "roads",
        "Roads",
        "Roads from the infrastructure layers.",
        _infrastructure("road"),
        tile_properties=("name", "class"),
    ),
    CollectionSpec(
        "railroads",
        "Railroads",
        "Railroads from the infrastructure layers.",
        _infrastructure("rail"),
        tile_properties=("name", "class"),
    ),
    CollectionSpec(
        "transmission_lines",
        "Electric transmission lines",
        "Power lines from the infrastructure layers.",
        _infrastructure("power"),
        tile_properties=("name", "class"),
    ),
    CollectionSpec(
        "states",
        "US states",
        "State boundaries.",
        _layer("states"),
        filters=("state",),
        tile_properties=("name", "state"),
    ),
    CollectionSpec(
        "counties",
        "US counties",
        "County boundaries.",
        _layer("counties"),
        filters=("state",),
        tile_properties=("name", "state"),
    ),
    CollectionSpec(
        "deposit_coverage",
        "Deposit-source coverage",
        "Where each deposits layer has data, one polygon per layer: whole states for state "
        "surveys (state_survey), part of a state (partial_state), the northern California "
        "box of the regional extracts (region_box), the nation for MRDS via MinMod "
        "(national_sampled) and for compilations of one kind of deposit "
        "(national_compilation). Outside state surveys and boxes few deposits is not "
        "evidence of few deposits.",
        _layer("deposit_coverage"),
        tile_properties=("source", "coverage", "note"),
    ),
    CollectionSpec(
        "populated_places",
        "Populated places",
        "US towns and cities of the offline base map (Natural Earth 1:10m, larger towns only) "
        "with state, population and the zoom from which the map labels them.",
        _layer("populated_places"),
        filters=("state",),
        tile_properties=("name", "state", "population", "min_zoom"),
    ),
    CollectionSpec(
        "rivers",
        "Rivers",
        "Major rivers and lake centerlines of the offline base map (Natural Earth 1:10m).",
        _layer("rivers"),
        tile_properties=("name", "min_zoom"),
    ),
    CollectionSpec(
        "lakes",
        "Lakes",
        "Lakes and reservoirs of the offline base map (Natural Earth 1:10m North America "
        "supplement).",
        _layer("lakes"),
        tile_properties=("name", "min_zoom"),
    ),
    CollectionSpec(
        "data_coverage",
        "Data coverage",
        "Where the claims, roads, railroads and power-line layers have data (one feature per "
        "topic: `extent` is national or regional). An empty area outside reads as no data, "
        "not as nothing there.",
        _data_coverage,
        uses_engine=True,
        tile_properties=("name", "topic", "extent"),
    ),
    CollectionSpec(
        "ranked_cells",
        "Ranked cells (default ranking)",
        "Grid cells scored by the engine's default ranking (all deposits, default weights, "
        "overview cells of FEDMIN_OVERVIEW_CELL_KM, 25 km by default), "
        "best first: potential, underdevelopment, access and land components, the score, "
        "Pareto flag and top contributing deposits. Computed on first request. For other "
        "filters or weights use the rankings endpoints.",
        _ranked_cells,
        uses_engine=True,
        tile_properties=("rank", "score", "potential", "underdevelopment", "access", "land"),
        lazy=True,
    ),
)


def _json_value(value: Any) -> Any:
    """A cell value as plain JSON (NaN/NA -> null, numpy -> Python, arrays -> lists)."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return _json_list(value.tolist())  # numpy scalars become Python ones at C speed
    if isinstance(value, list | tuple):
        return _json_list(value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str | bool | int):
        return value
    return None if pd.isna(value) else str(value)


def _json_list(values: list[Any]) -> list[Any]:
    """``_json_value`` of each item; strings, by far the commonest, pass untouched."""
    return [v if type(v) is str else _json_value(v) for v in values]


def _json_column(column: pd.Series) -> list[Any]:
    """``_json_value`` of a whole column: numeric columns in numpy, the rest item by item
    (start-up over the national sites took 46 s in ``_json_value`` called per cell)."""
    numpy_dtype = isinstance(column.dtype, np.dtype)  # not pandas' nullable ones (pd.NA)
    if numpy_dtype and column.dtype.kind in "iub":
        return column.to_numpy().tolist()
    if numpy_dtype and column.dtype.kind == "f":
        numbers = column.to_numpy()
        out = numbers.tolist()
        for i in np.flatnonzero(~np.isfinite(numbers)):
            out[i] = None
        return out
    if isinstance(column.dtype, pd.StringDtype):  # strings, and nulls of any kind
        return column.to_numpy(dtype=object, na_value=None).tolist()
    values = column.to_numpy(dtype=object).tolist()
    return _text_lists(values) or _json_list(values)


def _text_lists(values: list[Any]) -> list[Any] | None:
    """The values as JSON when each is a list or array of strings and nulls (a list
    column as the store or the engine holds it; None where null), else None: each list
    as it is and each array's ``tolist``, where ``_json_list`` looked at every item (4.1
    of the 9.2 s of encoding the 300k deposits' features)."""
    if not values or not set(map(type, values)) <= {np.ndarray, list, type(None)}:
        return None
    items = itertools.chain.from_iterable(v for v in values if v is not None)
    if not set(map(type, items)) <= {str, type(None)}:
        return None
    # rows share arrays (``layers.store``): each converted once
    arrays = {id(v): v for v in values if type(v) is np.ndarray}
    converted = {key: array.tolist() for key, array in arrays.items()}
    return [converted[id(v)] if type(v) is np.ndarray else v for v in values]


def _json_columns(
    frame: pd.DataFrame, columns: list[str], json_columns: tuple[str, ...] = ()
) -> dict[str, list[Any]]:
    """JSON-ready values of each column; the ``json_columns`` (JSON text) are decoded
    into the lists and objects they hold."""
    return {
        c: [
            orjson.loads(v) if isinstance(v, str) else None for v in frame[c].to_numpy(dtype=object)
        ]
        if c in json_columns
        else _json_column(frame[c])
        for c in columns
    }


class EncodedFeatures:
    """Every row of a collection as an encoded GeoJSON Feature, in one buffer.

    Encoded once per store build (geometries by GEOS in one vectorized call), so a page of
    items is a few slices and a join. One buffer rather than a bytes object per row: the
    470k national sites and records are 570 MB of JSON, but as separate objects, built
    between the transient property values, they pinned 3.8 GB of fragmented heap. The
    buffer is written beside the store (``cached``) and later starts map it from disk:
    encoding it was 25 of the 40 s of a national start with the enrichment cached, and a
    mapped file is paged in only where pages are read.
    """

    #: Rows encoded at a time: bounds the transient property values of the build.
    CHUNK_ROWS = 20_000
    #: Bump when the encoding changes, so files written by older code are ignored.
    FILE_VERSION = 1

    def __init__(self, buffer: bytes | mmap.mmap, offsets: np.ndarray):
        self._buffer = buffer
        self._offsets = offsets

    @classmethod
    def encode(
        cls,
        frame: gpd.GeoDataFrame,
        ids: np.ndarray,
        columns: list[str],
        json_columns: tuple[str, ...],
    ) -> EncodedFeatures:
        sizes: list[int] = []
        buffer = b"".join(cls._chunks(frame, ids, columns, json_columns, sizes))
        return cls(buffer, _offsets(sizes))

    @classmethod
    def _chunks(
        cls,
        frame: gpd.GeoDataFrame,
        ids: np.ndarray,
        columns: list[str],
        json_columns: tuple[str, ...],
        sizes: list[int],
    ) -> Iterator[bytes]:
        """The encoded rows, ``CHUNK_ROWS`` at a time; each feature's size is appended
        to ``sizes`` as its chunk is made."""
        geoms = frame.geometry.to_numpy()
        for start in range(0, len(frame), cls.CHUNK_ROWS):
            rows = slice(start, start + cls.CHUNK_ROWS)
            values = _json_columns(frame.iloc[rows], columns, json_columns)
            encoded = _feature_bytes(ids[rows], geoms[rows], values)
            sizes.extend(map(len, encoded))
            yield b"".join(encoded)

    @classmethod
    def cached(
        cls,
        directory: Path | None,
        key: str,
        frame: gpd.GeoDataFrame,
        ids: np.ndarray,
        columns: list[str],
        json_columns: tuple[str, ...],
        defer: Executor | None = None,
    ) -> Future[EncodedFeatures]:
        """The features from ``directory`` when an earlier start wrote them for the same
        ``key`` (rows, columns and build), else encoded and written there: here, or on
        ``defer``'s thread when given, so that a first start need not wait for them."""
        if directory is None or not len(frame):
            return _done(cls.encode(frame, ids, columns, json_columns))
        digest = _cache_digest([key, columns, json_columns, cls.FILE_VERSION, len(frame)])
        path = directory / f"features-{digest}.bin"
        offsets_path = path.with_suffix(".offsets.npy")
        found = cls._mapped(path, offsets_path, len(frame))
        if found is not None:
            return _done(found)

        def encode_and_write() -> EncodedFeatures:
            # Streamed to the file chunk by chunk, then mapped from it, so the first start
            # holds what later starts hold: joined first, the encoded buffer (660 MB at
            # 300k deposits) was in the heap of the process that wrote it.
            sizes: list[int] = []

            def offsets() -> Iterator[bytes]:  # known once every chunk is written
                yield _npy_bytes(_offsets(sizes))

            chunks = cls._chunks(frame, ids, columns, json_columns, sizes)
            written = _write_together({path: chunks, offsets_path: offsets()}, "features")
            features = cls._mapped(path, offsets_path, len(frame)) if written else None
            if features is None:  # a read-only store: encoded again, kept in memory
                features = cls.encode(frame, ids, columns, json_columns)
            return features

        def in_background() -> EncodedFeatures:
            features = encode_and_write()
            release_free_memory()  # after start-up's own trim: the chunks' transient heap
            return features

        if defer is None:
            return _done(encode_and_write())
        return defer.submit(in_background)

    @classmethod
    def _mapped(cls, path: Path, offsets_path: Path, rows: int) -> EncodedFeatures | None:
        """The features written at ``path`` mapped read-only, or None when they are not
        there (or unreadable, or do not hold ``rows`` rows)."""
        try:
            offsets = np.load(offsets_path)
            with path.open("rb") as file:
                buffer = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None  # not written yet (or unreadable): encode and write
        if len(offsets) == rows + 1 and int(offsets[-1]) == len(buffer):
            return cls(buffer, offsets)
        log.warning("ignoring inconsistent encoded features %s", path)
        return None

    def __getitem__(self, position: int) -> bytes:
        return self._buffer[self._offsets[position] : self._offsets[position + 1]]

    def take(self, positions: np.ndarray) -> list[bytes]:
        """The features of ``positions``, in that order."""
        buffer, starts, ends = self._buffer, self._offsets[positions], self._offsets[positions + 1]
        return [buffer[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


def _offsets(sizes: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])


def _done(features: EncodedFeatures) -> Future[EncodedFeatures]:
    done: Future[EncodedFeatures] = Future()
    done.set_result(features)
    return done


def _cache_digest(key_parts: list[Any]) -> str:
    """The name of a start-up file: what its content depends on, hashed."""
    return hashlib.sha256(orjson.dumps(key_parts)).hexdigest()[:16]


def _npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def _write_together(files: dict[Path, Iterable[bytes]], what: str) -> bool:
    """Write ``files`` (path: chunks) all or none (``Staging``), committed in order (a
    reader of the first checks that the last agrees); a read-only store is not an error:
    False, and ``what`` is kept in memory only."""
    try:
        with Staging() as staging:
            for path, chunks in files.items():
                staging.write(path, chunks)
            staging.commit()
    except OSError as exc:
        log.info("%s kept in memory only (%s)", what, exc)
        return False
    return True


#: Bump when the coding of tile attributes changes, so older files are ignored.
TILE_FILE_VERSION = 1


def cached_tile_attributes(
    directory: Path | None, key_parts: list[Any], rows: int, build: Callable[[], TileAttributes]
) -> TileAttributes:
    """The tile attributes from ``directory`` when an earlier start wrote them for
    ``key_parts`` (collection, build, properties), else ``build()`` written there: coding
    them took 1.1 s of CPU per 300k rows at every start. The codes are mapped from the
    file (paged in where tiles read them)."""
    if directory is None or not rows:
        return build()
    base = directory / f"tiles-{_cache_digest([*key_parts, TILE_FILE_VERSION, rows])}"
    values_path, codes_path = base.with_suffix(".values.json"), base.with_suffix(".codes.npy")
    try:
        stored = orjson.loads(values_path.read_bytes())
        codes = np.load(codes_path, mmap_mode="r")
        fields = [VALUE_FIELDS[i] for i in stored["fields"]]
        keys, values = tuple(stored["keys"]), list(zip(fields, stored["items"], strict=True))
    except (OSError, ValueError, LookupError, TypeError):
        pass  # not written yet (or unreadable): code and write
    else:
        if codes.shape == (rows, len(keys)) and (not codes.size or codes.max() < len(values)):
            return TileAttributes.from_parts(keys, values, codes)
        log.warning("ignoring inconsistent tile attributes %s", codes_path)
    attributes = build()
    stored_values = orjson.dumps(  # flat lists: reading [field, value] pairs took 3x longer
        {
            "keys": attributes.keys,
            "fields": [VALUE_FIELDS.index(f) for f, _ in attributes.values],
            "items": [v for _, v in attributes.values],
        }
    )
    if _write_together(
        {values_path: [stored_values], codes_path: [_npy_bytes(attributes.codes)]},
        "tile attributes",
    ):  # mapped, as later starts hold them
        codes = np.load(codes_path, mmap_mode="r")
        return TileAttributes.from_parts(attributes.keys, attributes.values, codes)
    return attributes


def _feature_bytes(ids: np.ndarray, geoms: np.ndarray, values: dict[str, list[Any]]) -> list[bytes]:
    """GeoJSON Feature bytes of each row, from its JSON-ready ``values`` by column."""
    geometries = shapely.to_geojson(geoms).tolist() if len(ids) else []
    names = list(values)
    rows = zip(*values.values(), strict=True) if names else itertools.repeat((), len(ids))
    out = []
    for fid, geometry, row in zip(ids, geometries, rows, strict=True):
        feature = {"type": "Feature", "id": fid, "geometry": orjson.Fragment(geometry)}
        out.append(orjson.dumps(feature | {"properties": dict(zip(names, row, strict=True))}))
    return out


def _priority(frame: gpd.GeoDataFrame, geoms_3857: np.ndarray | None) -> np.ndarray:
    """Rank of each row for crowded tiles, lower kept first; deterministic (ties by row).

    Cells by their ranking, deposits by development status, lines by length and polygons
    by area (the biggest features are the ones still visible when a tile is crowded);
    other points (no ``geoms_3857``) in row order.
    """
    if "rank" in frame.columns:
        key = frame["rank"].to_numpy(dtype=float)
    elif "dev_status" in frame.columns:
        order = {s: float(i) for i, s in enumerate(STATUS_PRIORITY)}
        key = looked_up(frame["dev_status"], order, float(len(order)))
    elif geoms_3857 is None:
        key = np.zeros(len(frame))
    else:
        key = -np.where(
            shapely.get_dimensions(geoms_3857) == 2,
            shapely.area(geoms_3857),
            shapely.length(geoms_3857),
        )
    ranks = np.empty(len(key), dtype=np.int64)
    ranks[np.argsort(key, kind="stable")] = np.arange(len(key))
    return ranks


def _point_xy(geoms: np.ndarray) -> np.ndarray | None:
    """x/y of a collection made only of points, else None: a box then takes four
    comparisons per point (about 25 us for the 8.5k deposits), where a tree query with
    its predicate costs 0.5 ms for a box holding most of them."""
    if len(geoms) and bool((shapely.get_type_id(geoms) == 0).all()):
        return shapely.get_coordinates(geoms)
    return None


def _box_hits(
    tree: shapely.STRtree | None, xy: np.ndarray | None, box: tuple[float, float, float, float]
) -> np.ndarray:
    """Positions, ascending, of the rows whose geometry intersects the closed box: the
    points ``xy`` when given, else the geometries of ``tree``."""
    if xy is not None:
        x, y = xy[:, 0], xy[:, 1]
        return np.flatnonzero((x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3]))
    assert tree is not None
    return np.sort(tree.query(shapely.box(*box), predicate="intersects"))


class Collection:
    """One served collection: rows, JSON-ready properties and spatial indexes."""

    def __init__(
        self,
        spec: CollectionSpec,
        loaded: Loaded,
        manifest: dict[str, Any],
        cache_dir: Path | None = None,
        defer_features: Executor | None = None,
    ):
        frame = loaded.frame.reset_index(drop=True)
        self.spec = spec
        #: Changes whenever the rows may: part of every tile's cache key and ETag.
        self.version = f"{manifest['build_id']}:{loaded.version}"
        self.layer_ids = loaded.layer_ids
        self.frame = frame
        self.ids: np.ndarray = frame["id"].astype(str).to_numpy(dtype=object)
        #: The row of each id (unique: the schema checks each layer's): a pandas hash
        #: index, 7 MiB for 300k ids where a dict took 19 MiB.
        self._position = pd.Index(self.ids, dtype=object)
        #: A site's member record id -> the site id (sites list their ``records``), so a
        #: record's old item URL can point at its site.
        self.site_of: dict[str, str] = (
            {
                record: site
                for site, members in zip(self.ids, frame["records"], strict=True)
                for record in members
                if record != site
            }
            if "records" in frame.columns
            else {}
        )
        self.columns = [
            c for c in frame.columns if c not in ("id", frame.geometry.name, *spec.hidden)
        ]
        cache_key = f"{spec.id}:{self.version}:enrich-v{ENRICH_VERSION}"
        self.tile_attributes = cached_tile_attributes(
            cache_dir,
            [cache_key, spec.tile_properties, spec.json_columns],
            len(frame),
            lambda: self._code_tile_attributes(frame),
        )
        self._tile_attributes_by_list = {DEFAULT_CRITICAL_LIST: self.tile_attributes}
        self.geoms: np.ndarray = frame.geometry.to_numpy()
        self._features = EncodedFeatures.cached(
            cache_dir,
            cache_key,
            frame,
            self.ids,
            self.columns,
            spec.json_columns,
            defer_features,
        )
        self._xy = _point_xy(self.geoms)
        self.tree: shapely.STRtree | None = None
        self.tree_3857: shapely.STRtree | None = None
        self._xy_3857: np.ndarray | None = None
        if self._xy is None:
            self.tree = shapely.STRtree(self.geoms)
            self.tree_3857 = shapely.STRtree(self.geoms_3857)
        else:  # a box is four comparisons, a tile numpy: no trees, no Mercator geometries
            # (0.6 s of a start per 300k points, and 30 MB)
            to_3857 = Transformer.from_crs(4326, 3857, always_xy=True)  # as ``to_crs``
            x, y = to_3857.transform(self._xy[:, 0], self._xy[:, 1])
            self._xy_3857 = np.column_stack([x, y])
        self.priority = _priority(frame, None if self.is_points else self.geoms_3857)
        self.bounds = (
            [round(float(v), 6) for v in shapely.total_bounds(self.geoms)] if len(frame) else None
        )
        self.provenance = [
            _provenance(layer_id, manifest["layers"][layer_id]) for layer_id in self.layer_ids
        ]
        #: JSON Schema of each property a ``filter`` (CQL2) or ``sortby`` may name.
        self.queryables = _queryables(frame, self.columns)
        self._masks: OrderedDict[DepositFilter | CqlFilter, np.ndarray] = OrderedDict()
        #: The unfiltered mask and positions, shared read-only by every request.
        self._everything = np.ones(len(self.ids), dtype=bool)
        self._everything.flags.writeable = False
        self._all_positions = np.arange(len(self.ids))
        self._all_positions.flags.writeable = False
        self._lock = threading.Lock()

    def _code_tile_attributes(self, frame: gpd.GeoDataFrame) -> TileAttributes:
        tiled = [key for key in self.spec.tile_properties if key in self.columns]
        values = _json_columns(frame, tiled, self.spec.json_columns)
        absent = [None] * len(frame)
        return TileAttributes(
            {key: values.get(key, absent) for key in self.spec.tile_properties}
            | {"id": self.ids.tolist()}
        )

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def features(self) -> EncodedFeatures:
        """Each row as an encoded GeoJSON Feature (``app.encoders.geojson`` joins a page);
        blocks while a deferred encoding runs (``wait_for_features`` in a coroutine)."""
        return self._features.result()

    async def wait_for_features(self) -> None:
        """Let the event loop serve other requests while the features are encoded."""
        if not self._features.done():
            await asyncio.wrap_future(self._features)

    @cached_property
    def geoms_3857(self) -> np.ndarray:
        """The geometries in Web Mercator (for points, built only when asked)."""
        if self._xy_3857 is not None:
            return shapely.points(self._xy_3857)
        return self.frame.geometry.to_crs(3857).to_numpy()

    def encode_tile(
        self,
        positions: np.ndarray,
        attributes: TileAttributes,
        bounds: tuple[float, float, float, float],
        extent: int,
        buffer: int,
    ) -> bytes | None:
        """The MVT layer of the rows at ``positions`` (``app.encoders.mvt``)."""
        if self._xy_3857 is not None:
            xy = self._xy_3857[positions]
            return mvt.encode_point_tile(self.id, xy, attributes, positions, bounds, extent, buffer)
        geoms = self.geoms_3857[positions]
        return mvt.encode_tile(self.id, geoms, attributes, positions, bounds, extent, buffer)

    @property
    def is_points(self) -> bool:
        """Every row is a point (deposits, places)."""
        return self._xy is not None

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, feature_id: str) -> int:
        try:
            return int(self._position.get_loc(feature_id))
        except KeyError:
            raise NotFoundError(f"no feature {feature_id!r} in collection {self.id!r}") from None

    def mask(self, flt: DepositFilter) -> np.ndarray:
        """Rows the filter keeps (memoized: a map asks many tiles with one filter)."""
        if flt.is_empty:
            return self._everything
        with self._lock:
            if flt in self._masks:
                self._masks.move_to_end(flt)
                return self._masks[flt]
        mask = flt.mask(self.frame)
        with self._lock:
            self._masks[flt] = mask
            while len(self._masks) > MASK_CACHE_SIZE:
                self._masks.popitem(last=False)
        return mask

    def tile_attributes_for(self, critical_list: str) -> TileAttributes:
        """Tile properties with ``critical`` under ``critical_list`` (built once per list)."""
        found = self._tile_attributes_by_list.get(critical_list)
        if found is None:
            if "critical" not in self.spec.tile_properties:
                return self.tile_attributes
            flags = critical_flags(self.frame, critical_list)
            found = self.tile_attributes.with_flags("critical", flags)
            self._tile_attributes_by_list[critical_list] = found
        return found

    def has_mask(self, flt: DepositFilter) -> bool:
        """Whether ``mask(flt)`` is free (no filter, or memoized): no pandas work to do."""
        return flt.is_empty or flt in self._masks

    def cql_mask(self, cql: CqlFilter) -> np.ndarray:
        """Rows a CQL2 ``filter`` keeps (memoized with the other masks; pandas work)."""
        with self._lock:
            if cql in self._masks:
                self._masks.move_to_end(cql)
                return self._masks[cql]
        mask = cql.mask(self.frame, self.queryables)
        with self._lock:
            self._masks[cql] = mask
            while len(self._masks) > MASK_CACHE_SIZE:
                self._masks.popitem(last=False)
        return mask

    def sorted_positions(self, positions: np.ndarray, sortby: tuple[str, ...]) -> np.ndarray:
        """``positions`` ordered by ``sortby`` (``name`` ascending, ``-name`` descending;
        nulls last, ties in collection order); a property not sortable is a 400."""
        columns, ascending = [], []
        for key in sortby:
            name = key.lstrip("+-")
            schema = self.queryables.get(name)
            if schema is None or schema.get("type") not in (
                "string",
                "number",
                "integer",
                "boolean",
            ):
                sortable = sorted(
                    k
                    for k, v in self.queryables.items()
                    if v.get("type") in ("string", "number", "integer", "boolean")
                )
                raise InvalidParameterError(
                    f"sortby: cannot sort by {name!r}{did_you_mean(name, sortable)}; "
                    f"sortable: {sortable}"
                )
            columns.append(name)
            ascending.append(not key.startswith("-"))
        rows = self.frame.iloc[positions][columns].reset_index(drop=True)
        order = rows.sort_values(columns, ascending=ascending, kind="stable", na_position="last")
        return positions[order.index.to_numpy()]

    def properties(self, position: int) -> dict[str, Any]:
        """The JSON-ready properties of one row, decoded from its encoded feature."""
        properties: dict[str, Any] = orjson.loads(self.features[position])["properties"]
        return properties

    def feature_subset(self, positions: np.ndarray, properties: tuple[str, ...]) -> list[bytes]:
        """Features of ``positions`` with only ``properties`` (the ``properties``
        parameter): re-encoded per request, for one page."""
        unknown = [p for p in properties if p not in self.columns]
        if unknown:
            raise InvalidParameterError(
                f"properties: unknown property {unknown[0]!r}"
                f"{did_you_mean(unknown[0], self.columns)}; properties: {self.columns}"
            )
        out = []
        for encoded in self.features.take(positions):
            feature = orjson.loads(encoded)
            feature["properties"] = {p: feature["properties"][p] for p in properties}
            out.append(orjson.dumps(feature))
        return out

    def select(
        self, flt: DepositFilter, bbox: tuple[float, float, float, float] | None
    ) -> np.ndarray:
        """Positions, in collection order, of rows matching the filter and the lon/lat box."""
        if bbox is None:
            return self._all_positions if flt.is_empty else np.flatnonzero(self.mask(flt))
        parts = [_box_hits(self.tree, self._xy, box) for box in bbox_parts(bbox)]
        hits = parts[0] if len(parts) == 1 else np.union1d(*parts)  # across the antimeridian
        return hits[self.mask(flt)[hits]]

    def tile_positions(
        self, bounds_3857: tuple[float, float, float, float], flt: DepositFilter, limit: int
    ) -> tuple[np.ndarray, int]:
        """Rows for one tile (Web Mercator bounds incl. buffer), at most ``limit`` of them.

        Returns the kept positions and how many matched: beyond ``limit`` the rows with the
        best ``priority`` are kept, so a crowded tile is thinned the same way every time.
        """
        hits = _box_hits(self.tree_3857, self._xy_3857, bounds_3857)
        hits = hits[self.mask(flt)[hits]]
        matched = len(hits)
        if matched > limit:
            hits = np.sort(hits[np.argsort(self.priority[hits], kind="stable")[:limit]])
        return hits, matched


def _queryables(frame: gpd.GeoDataFrame, columns: list[str]) -> dict[str, dict[str, Any]]:
    """JSON Schema of each served property (OGC API - Features Part 3 queryables): the
    type from the column (lists of strings as arrays), and the geometry."""
    out: dict[str, dict[str, Any]] = {
        "id": {"title": "Feature id", "type": "string"},
        "geometry": {"title": "Geometry (lon/lat)", "format": "geometry-any"},
    }
    for name in columns:
        series = frame[name]
        kind = series.dtype.kind
        if kind == "b":
            out[name] = {"type": "boolean"}
        elif kind in "iu":
            out[name] = {"type": "integer"}
        elif kind == "f":
            out[name] = {"type": "number"}
        else:
            present = series.first_valid_index()  # not ``dropna``: that copied each column
            first = None if present is None else series.loc[present]
            if isinstance(first, list | tuple | np.ndarray):
                out[name] = {"type": "array", "items": {"type": "string"}}
            elif isinstance(first, dict):
                continue  # nested records are not queryable
            else:
                out[name] = {"type": "string"}
        out[name]["title"] = name
    return out


def _provenance(layer_id: str, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "layer": layer_id,
        "title": record.get("title"),
        "publisher": record.get("publisher"),
        "license": record.get("license"),
        "caveats": record.get("caveats"),
        "retrieved": record.get("retrieved"),
        "rows": record.get("rows"),
        "sources": [
            {"file": Path(s["path"]).name, "sha256": s["sha256"]} for s in record.get("sources", [])
        ],
    }


#: Eager collections alive in this process, by store and build: a second app over the
#: same build (the tests run a dozen, each with its own settings) shares them instead of
#: encoding the 200k national sites again (a minute and about a gigabyte each). Weak, so
#: a collection goes with the last app that serves it; read-only once built.
_BUILT: weakref.WeakValueDictionary[tuple[str, str, str], Collection] = (
    weakref.WeakValueDictionary()
)
#: One lock per key, so collections of one build are built side by side but each once
#: (a few dozen small locks per store build, kept for the process).
_BUILDING = KeyedLocks()


#: Encodes the features of large collections after start-up, one at a time (a first
#: start at 300k deposits waited 8 s for the deposits' encoding and its 660 MB file).
_FEATURE_ENCODER = ThreadPoolExecutor(1, thread_name_prefix="fedmin-features")


class AfterStartup(Executor):
    """Holds the jobs submitted while a registry is being built, and hands them to
    ``_FEATURE_ENCODER`` once it is (``release``): started at once, they competed for
    the GIL with the start-up they were deferred from (enrichment 10.4 -> 12.2 s)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: list[tuple[Future[Any], Callable[[], Any]]] | None = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            if self._held is None:
                return _FEATURE_ENCODER.submit(fn, *args, **kwargs)
            future: Future[Any] = Future()
            self._held.append((future, lambda: fn(*args, **kwargs)))
            return future

    def release(self, cancel: bool = False) -> None:
        """Run the held jobs (or, with ``cancel``, drop them); later ones run at once."""
        with self._lock:
            held, self._held = self._held or [], None
        for future, job in held:
            if cancel:
                future.cancel()
            else:
                _FEATURE_ENCODER.submit(_run_into, future, job)


def _run_into(future: Future[Any], job: Callable[[], Any]) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(job())
    except BaseException as exc:  # the waiting request sees it
        log.exception("deferred encoding failed")
        future.set_exception(exc)


class CollectionRegistry:
    """Collections by id; eager ones built at start-up, lazy ones on first ``get``.

    ``engine`` may still be opening (a future): the collections that do not read it (the
    deposit records, decoded from 36 layers, and every plain layer) are built meanwhile,
    side by side, and those that do (``uses_engine``) once it is open.
    """

    def __init__(
        self, store: Store, engine: MemoryEngine | Future[MemoryEngine], settings: Settings
    ):
        self.store = store
        self.settings = settings
        self.specs = {spec.id: spec for spec in COLLECTIONS}
        self._opening = engine
        self._loaded: dict[str, Collection] = {}
        self._lock = threading.Lock()
        self._after_startup = AfterStartup()
        eager = [spec for spec in COLLECTIONS if not spec.lazy]
        try:
            with ThreadPoolExecutor(settings.startup_threads or usable_cores()) as pool:
                for spec, built in zip(eager, pool.map(self._build, eager), strict=True):
                    self._loaded[spec.id] = built
            self.engine = self._engine()
        except BaseException:
            self._after_startup.release(cancel=True)  # a failed start encodes nothing
            raise
        self._after_startup.release()

    def _engine(self) -> MemoryEngine:
        opening = self._opening
        return opening.result() if isinstance(opening, Future) else opening

    def _build(self, spec: CollectionSpec) -> Collection:
        engine = self._engine() if spec.uses_engine else None
        if spec.lazy:  # lazy loaders may depend on the settings (the default ranking)
            return Collection(
                spec, spec.load(self.store, engine, self.settings), self.store.manifest
            )
        key = (str(self.store.root), self.store.manifest["build_id"], spec.id)
        with _BUILDING(key):
            built = _BUILT.get(key)
            if built is None:
                loaded = spec.load(self.store, engine, self.settings)
                large = len(loaded.frame) >= self.settings.background_features_rows
                built = _BUILT[key] = Collection(
                    spec,
                    loaded,
                    self.store.manifest,
                    Path(self.store.root) / CACHE_DIR,
                    self._after_startup if large else None,
                )
        return built

    def spec(self, collection_id: str) -> CollectionSpec:
        try:
            return self.specs[collection_id]
        except KeyError:
            raise NotFoundError(
                f"unknown collection {collection_id!r}; known: {list(self.specs)}"
            ) from None

    def loaded(self, collection_id: str) -> Collection | None:
        """The collection if already built (never triggers a lazy computation)."""
        return self._loaded.get(self.spec(collection_id).id)

    async def aget(self, collection_id: str) -> Collection:
        """``get`` for a coroutine: a lazy collection is computed in the thread pool."""
        loaded = self.loaded(collection_id)
        return loaded if loaded is not None else await run_in_threadpool(self.get, collection_id)

    def get(self, collection_id: str) -> Collection:
        spec = self.spec(collection_id)
        if spec.id not in self._loaded:
            with self._lock:  # one computation even when many requests arrive at once
                if spec.id not in self._loaded:
                    self._loaded[spec.id] = self._build(spec)
        return self._loaded[spec.id]


# --- tile cache --------------------------------------------------------------------------


@dataclass(frozen=True)
class TileBlob:
    """A rendered tile: its bytes (None for an empty tile) and extra response headers."""

    content: bytes | None
    headers: dict[str, str] = field(default_factory=dict)


def _tile_bytes(blob: TileBlob) -> int:
    """A tile's bytes plus the bookkeeping of its entry (key tuple, blob, headers)."""
    return len(blob.content or b"") + TILE_ENTRY_OVERHEAD


#: Bytes an entry of the tile cache costs beyond the tile's own.
TILE_ENTRY_OVERHEAD = 600


class TileCache(ByteLRU[TileBlob]):
    """The LRU of rendered tiles keyed by everything they depend on, bounded by the bytes
    it holds (``FEDMIN_TILE_CACHE_BYTES``): 2,300 filters of a 464 kB z0 tile held a
    gigabyte when it was bounded by entries."""

    def __init__(self, max_bytes: int):
        super().__init__("tiles", max_bytes, sizer=_tile_bytes)


# --- rasters -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RasterStyle:
    """How values become colours: a rio-tiler colormap over a linear range."""

    colormap: str
    vmin: float
    vmax: float
    units: str
    #: Values below this render transparent (None: only nodata is transparent).
    transparent_below: float | None = None
    resampling: str = "nearest"

    def to_dict(self) -> dict[str, Any]:
        return {
            "colormap": self.colormap,
            "rescale": [self.vmin, self.vmax],
            "units": self.units,
            "transparent_below": self.transparent_below,
            "resampling": self.resampling,
            "note": "linear from rescale[0] (first colour) to rescale[1] (last colour), "
            "clamped; nodata and values below transparent_below have alpha 0",
        }


@dataclass(frozen=True)
class RasterSpec:
    id: str
    title: str
    description: str
    filters: tuple[str, ...]
    layer_ids: list[str]
    style: RasterStyle
    #: Known before any request (lon/lat); None for a surface not yet computed.
    bounds: list[float] | None


@dataclass(frozen=True)
class ResolvedRaster:
    """The file a raster request reads, and its lon/lat bounds."""

    path: Path
    bounds: list[float]


PROSPECTIVITY = "prospectivity"


class RasterRegistry:
    """Raster layers: the store's rasters and the prospectivity surface per filter.

    Surfaces are kernel densities of the filtered deposits weighted as the ranking weighs
    evidence (``MemoryEngine.evidence``, memoized per filter and shared with rankings),
    written by ``geo.rasters`` as COGs with overviews under the store's cache dir with a
    name keyed by everything they depend on, so each filter is computed once per store
    build, even across restarts. The files are bounded by
    ``FEDMIN_PROSPECTIVITY_CACHE_BYTES`` (``geo.surface_cache``: least recently used
    evicted); the resolved file of each filter is memoized, so a tile of a known filter
    goes straight to rio-tiler. The default filter's surface is computed at start-up in
    a background thread (``FEDMIN_PROSPECTIVITY_PREWARM``).
    """

    def __init__(self, store: Store, engine: MemoryEngine, settings: Settings):
        self.store = store
        self.engine = engine
        self.settings = settings
        self.cache_dir = Path(store.root) / CACHE_DIR
        self.specs: dict[str, RasterSpec] = {}
        for layer_id in store.layer_ids(LayerKind.RASTER):
            self.specs[layer_id] = self._store_raster(layer_id)
        self.specs[PROSPECTIVITY] = RasterSpec(
            PROSPECTIVITY,
            "Prospectivity surface",
            "Gaussian kernel density of the filtered deposits, each weighted by its "
            "evidence weight (commodity weight x development-status weight x critical "
            f"boost), {settings.prospectivity_pixel_m:g} m pixels in EPSG:5070, bandwidth "
            f"{settings.prospectivity_bandwidth_m:g} m, normalized to [0, 1] by its maximum "
            "(a relative surface: compare within one filter). Computed per filter, cached.",
            DEPOSIT_FILTERS,
            store.layer_ids(LayerKind.DEPOSITS),
            RasterStyle(
                "viridis",
                0.0,
                1.0,
                "relative density",
                transparent_below=settings.prospectivity_min_value,
                resampling="bilinear",
            ),
            None,
        )
        self.surfaces = SurfaceCache(self.cache_dir, settings.prospectivity_cache_bytes)
        #: Resolved surfaces per filter: a tile of a known filter reads its file at once.
        self._resolved: ByteLRU[ResolvedRaster | _Empty] = ByteLRU(
            "surfaces", settings.prospectivity_resolved_bytes
        )
        self.warmed = threading.Event()
        if settings.prospectivity_prewarm:
            threading.Thread(
                target=self._prewarm, name="fedmin-surface-prewarm", daemon=True
            ).start()
        else:
            self.warmed.set()

    def _store_raster(self, layer_id: str) -> RasterSpec:
        """A store raster, styled from its own value range (read once at start-up)."""
        record = self.store.manifest["layers"][layer_id]
        with rasterio.open(self.store.raster_path(layer_id)) as src:
            band = src.read(1, masked=True)
        vmin, vmax = (float(band.min()), float(band.max())) if band.count() else (0.0, 1.0)
        units = self._units(layer_id)
        return RasterSpec(
            layer_id,
            record["title"],
            f"{record['title']}. Coloured with the 'terrain' colormap from the raster's "
            f"minimum {vmin:g} {units} to its maximum {vmax:g} {units}.",
            (),
            [layer_id],
            RasterStyle("terrain", vmin, vmax, units),
            record.get("bounds"),
        )

    @staticmethod
    def _units(layer_id: str) -> str:
        return str(catalog_layer(layer_id).options.get("units", ""))

    def spec(self, raster_id: str) -> RasterSpec:
        try:
            return self.specs[raster_id]
        except KeyError:
            raise NotFoundError(
                f"unknown raster {raster_id!r}; known: {list(self.specs)}"
            ) from None

    def resolve(self, spec: RasterSpec, flt: DepositFilter) -> ResolvedRaster | None:
        """The file to read for a request; None when the filter leaves nothing to draw."""
        if spec.id != PROSPECTIVITY:
            return ResolvedRaster(self.store.raster_path(spec.id), list(spec.bounds or []))
        found = self._resolved.get_or_compute(flt, lambda: self._prospectivity(flt))
        if isinstance(found, _Empty):
            return None
        if not found.path.exists():  # evicted from the disk cache: compute it again
            self.forget(flt)
            return self.resolve(spec, flt)
        self.surfaces.touch(found.path)
        return found

    def forget(self, flt: DepositFilter) -> None:
        """Drop the memo of ``flt``'s surface (its file was evicted or is unreadable)."""
        self._resolved.discard(flt)

    def _prewarm(self) -> None:
        """The default filter's surface, computed (or found on disk) once at start-up."""
        try:
            self.resolve(self.specs[PROSPECTIVITY], DepositFilter())
        except Exception as exc:  # a failed prewarm only means the first tile computes it
            log.warning("prospectivity prewarm failed: %s", exc)
        finally:
            # its ranking's and surface's transient heap: a first start after `fedmin data
            # build` at 300k deposits settled at 2,190 MiB RSS without this, 1,343 with it
            release_free_memory()
            self.warmed.set()

    def _prospectivity(self, flt: DepositFilter) -> ResolvedRaster | _Empty:
        params = RankParams(filter=flt)
        found = self.engine.evidence(params)  # memoized per filter, shared with rankings
        positive = found.weights > 0
        if not positive.any():
            return _Empty()
        settings = self.settings
        points = self.engine.deposits.iloc[found.positions[positive]]
        pixel_m = fitting_pixel_m(
            points, settings.prospectivity_pixel_m, settings.prospectivity_bandwidth_m
        )
        if pixel_m != settings.prospectivity_pixel_m:
            log.info("prospectivity %s: %g m pixels (the extent is too large for %g m)",
                     flt.to_dict(), pixel_m, settings.prospectivity_pixel_m)  # fmt: skip
        key = {
            "filter": flt.to_dict(),
            "weights": {
                "commodity": params.commodity_weights,
                "status": params.status_weights,
                "critical_boost": params.critical_boost,
            },
            "pixel_m": pixel_m,
            "bandwidth_m": settings.prospectivity_bandwidth_m,
            "crs": "EPSG:5070",
            "build_id": self.store.build_id,
        }

        def create(path: Path) -> None:
            prospectivity_surface(
                points,
                found.weights[positive],
                path,
                pixel_m=pixel_m,
                bandwidth_m=settings.prospectivity_bandwidth_m,
                crs="EPSG:5070",
                tags={"filter": flt.to_dict(), "build_id": self.store.build_id},
            )

        path = self.surfaces.get_or_create(prospectivity_cache_path(self.cache_dir, key), create)
        with rasterio.open(path) as src:
            bounds = rasterio.warp.transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        return ResolvedRaster(path, [round(b, 6) for b in bounds])


@dataclass(frozen=True)
class _Empty:
    """A filter whose surface would be empty (no deposit with evidence)."""
