"""The geoprocessing engine: enriched deposits computed once per store, rankings on demand.

The deposits it ranks are the store's sites (``layers.store.deposit_sites``): one row per
deposit, its source records linked at build time.

``MemoryEngine`` does everything in one process with pandas/shapely. The dask engine
(``geo.dask_engine``) subclasses it and overrides the seams ``enrich`` and
``aggregate_cells``; everything else (grid, kernel, components, validation) is shared,
so both engines give the same answers.

The expensive joins (land status, nearest infrastructure) run once per store build and
are cached beside the store as ``cache/deposits_enriched-<build_id>-v<N>.parquet``
(written atomically; kept in memory only when the store is read-only).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from geo import scoring
from geo.access import (
    DISTANCE_COLUMNS,
    METRIC_EPSGS,
    InfrastructureIndex,
    coverage_for_store,
    metric_epsg_for_lonlat,
    project_lonlat,
)
from geo.caches import ByteLRU, EngineBudgets, nbytes, release_free_memory
from geo.component_files import (
    COMPONENT_FILES,
    components_path,
    read_components,
    write_components,
)
from geo.components import (
    CELL_STATIC_COLUMNS,
    RankComponents,
    commodity_counts,
    contribution_order,
    empty_cells,
    top_contributors,
    weighted_ranking,
)
from geo.coverage import national_only_note
from geo.filters import with_critical_lists
from geo.grid import (
    Grid,
    GridSpec,
    build_grid,
    cells_holding,
    grid_frame,
    grid_from_frame,
    parse_cell_id,
    too_many_cells,
)
from geo.landcoverage import LandCoverage, land_coverage_for_store
from geo.landstatus import (
    LAND_SHARE_COLUMNS,
    LAND_SHARE_PARTS,
    LAND_STATUS_COLUMNS,
    complete_fraction,
    cut_lands,
    land_share_areas,
    overlay_land_status,
)
from geo.places import PLACE_COLUMNS, PlaceIndex, governed_units, place_labels
from geo.scoring import RankParams, RankResult
from geo.surface_cache import SurfaceCache
from geo.validation import holdout_validation
from layers.errors import InvalidParameterError, LimitExceededError, NotFoundError
from layers.schema import (
    DEV_STATUSES,
    INFRASTRUCTURE_KINDS,
    SHARED_TEXT_COLUMNS,
    LayerKind,
    flatten_lists,
    once_per_distinct,
)
from layers.store import deposit_sites, read_geoparquet

log = logging.getLogger(__name__)

#: Bump when the enrichment changes, so caches written by older code are ignored.
ENRICH_VERSION = 3
#: Bump when ``build_grid`` changes what it keeps (the cached store-wide grids).
GRID_CACHE_VERSION = 1
#: The grid and statics files under the store's cache directory (one disk budget).
GRID_FILES = "grid-*.parquet"
#: Bump when a cell static (``CELL_STATIC_COLUMNS``) is computed differently.
CELL_STATICS_VERSION = 3  # 2: unnamed units by designation_label; 3: place km on the ellipsoid
STATICS_DONE_COLUMN = "_done"
LAND_UNITS_COLUMN = "land_units"
CACHE_DIR = "cache"
ENGINE_KINDS = ("memory", "dask")
#: Cells per block of ``warm_statics`` (a progress step; blocks are strips of the grid,
#: so the land tiles on a block's edge are cut twice: few, at 20,000 cells of 5 km).
WARM_BLOCK_CELLS = 20_000
#: Refusals (over-limit filters and grids) remembered, the oldest forgotten first.
REFUSALS_KEPT = 1024

#: Columns ``enrich`` adds to the canonical deposit columns.
ENRICHED_COLUMNS = (*LAND_STATUS_COLUMNS, *DISTANCE_COLUMNS.values(), "metric_epsg", "x_m", "y_m")


@dataclass(frozen=True)
class Evidence:
    """The deposits a filter keeps (row positions in ``deposits``) and their weights w_i."""

    positions: np.ndarray
    weights: np.ndarray


@dataclass
class _Scored:
    """A ranking plus the components it was weighted from (``cell`` lists contributors)."""

    result: RankResult
    components: RankComponents


class _BaseGrid:
    """The grid of one (cell spec, kernel) over every deposit of the store, built once.

    A filter's grid is the subset of its cells that hold or lie within the kernel's reach
    of the filter's evidence: exactly the cells ``build_grid`` keeps for that evidence, as
    the rule is per cell. The filter-independent per-cell inputs (``CELL_STATIC_COLUMNS``)
    are computed on first use of each cell and kept for every later filter.
    """

    def __init__(self, grid: Grid):
        self.grid = grid
        n = len(grid)
        #: Per cell, the ``CELL_STATIC_COLUMNS`` (valid where ``done``).
        self.statics: dict[str, np.ndarray | pa.Array] = {
            c: np.zeros(n) for c in CELL_STATIC_COLUMNS
        }
        self.done = np.zeros(n, dtype=bool)
        self.lock = threading.Lock()
        self.xy = grid.cells[["x_m", "y_m"]].to_numpy(float)
        self._trees = {
            epsg: (cKDTree(self.xy[pos]), pos) for epsg, pos in grid.positions_by_epsg().items()
        }

    def nbytes(self) -> int:
        """What the grid and its statics keep alive (the ``grids`` cache's sizer)."""
        return nbytes(self.grid) + nbytes(self.statics) + self.xy.nbytes + self.done.nbytes

    def _writable(self, column: str) -> np.ndarray:
        """The column as a numpy array cells can be filled into (a text column read from
        a file is kept as Arrow until then)."""
        values = self.statics[column]
        if isinstance(values, pa.Array):
            values = self.statics[column] = once_per_distinct(values.to_numpy(zero_copy_only=False))
        return values

    def fill(self, positions: np.ndarray, fresh: pd.DataFrame) -> None:
        """Keep the statics ``cell_statics`` computed for the cells at ``positions``."""
        for column in CELL_STATIC_COLUMNS:
            values = fresh[column].to_numpy()
            if column == LAND_UNITS_COLUMN:
                values = np.array(
                    [orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode() for v in values],
                    dtype=object,
                )
            if values.dtype == object:
                values = once_per_distinct(values)  # within the block
            kept = self._writable(column)
            if kept.dtype != values.dtype:
                kept = self.statics[column] = kept.astype(values.dtype)
            kept[positions] = values
        self.done[positions] = True

    def statics_of(self, positions: np.ndarray, index: pd.Index) -> pd.DataFrame:
        """The statics of the cells at ``positions`` (all computed), their land units
        decoded: Python objects for these cells only."""
        out: dict[str, np.ndarray] = {}
        for column in CELL_STATIC_COLUMNS:
            values = self.statics[column]
            if isinstance(values, pa.Array):
                out[column] = values.take(pa.array(positions)).to_numpy(zero_copy_only=False)
            else:
                out[column] = values[positions]
        out[LAND_UNITS_COLUMN] = once_per_distinct(out[LAND_UNITS_COLUMN], orjson.loads)
        return pd.DataFrame(out, index=index)

    def statics_frame(self) -> pd.DataFrame:
        """The statics computed so far, as one parquet-ready frame: cells not yet computed
        are null (the land units are JSON text, as kept)."""
        out: dict[str, Any] = {STATICS_DONE_COLUMN: self.done}
        for column in CELL_STATIC_COLUMNS:
            values = self._writable(column)
            if values.dtype == object:
                values = values.copy()
                values[~self.done] = None
            out[column] = values
        return pd.DataFrame(out)

    def load_statics(self, table: pa.Table) -> None:
        """Take the statics of a ``statics_frame`` file (same grid): only complete files
        are. Text columns stay Arrow arrays (no Python object per cell: on the national
        5 km grid those were 83 MiB of strings, and their transient copies fragmented the
        heap), numbers become writable numpy arrays."""
        if table.num_rows != len(self.done) or not set(CELL_STATIC_COLUMNS) <= set(
            table.column_names
        ):
            raise ValueError("cell statics of another grid or version")
        self.done = np.array(table[STATICS_DONE_COLUMN].to_numpy(), dtype=bool)
        for column in CELL_STATIC_COLUMNS:
            values = table[column].combine_chunks()
            if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
                self.statics[column] = values
            else:
                self.statics[column] = np.array(values.to_numpy(zero_copy_only=False))

    def pairs(
        self, xy: np.ndarray, epsg: np.ndarray, reach_m: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(base cell position, point position, distance) of every cell centre within
        ``reach_m`` of a point, one KD-tree query per CRS; in point order within a CRS,
        which a cell never leaves."""
        pc, pp, dist = [], [], []
        for code, (tree, cpos) in self._trees.items():
            ppos = np.flatnonzero(epsg == code)
            cells, points, d = scoring.kernel_pairs(
                tree.data, xy[ppos], reach_m, self.grid.spec.size_m, tree
            )
            pc.append(cpos[cells])
            pp.append(ppos[points])
            dist.append(d)
        if not pc:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        return np.concatenate(pc), np.concatenate(pp), np.concatenate(dist)


#: The deposit columns the weight-independent stage of a ranking reads (with the
#: ``aggregate_cells`` seam; a site's ``sources`` or a record's ``source``, whichever the
#: store has): the filter's rows are taken of these only, not of the 32 enriched columns
#: (0.26 s of text columns copied at 300k deposits).
RANKED_COLUMNS = ("id", "name", "dev_status", "commodities", "sources", "source", "x_m",
                  "y_m", "metric_epsg", "geometry")  # fmt: skip


class MemoryEngine:
    """In-process engine over one opened store. Thread-safe for concurrent requests."""

    kind = "memory"

    def __init__(self, store: Any, cache: bool = True, budgets: EngineBudgets | None = None):
        self.store = store
        self.cache = cache
        self.budgets = budgets or EngineBudgets()
        #: The grid and statics files beside the store, within their disk budget.
        self._grid_files = SurfaceCache(
            Path(store.root) / CACHE_DIR, self.budgets.grid_files_bytes, GRID_FILES
        )
        #: Ranking components written by this or an earlier engine, within their budget.
        self._component_files = SurfaceCache(
            Path(store.root) / CACHE_DIR, self.budgets.component_files_bytes, COMPONENT_FILES
        )
        #: What the engine computed and reused, by step (``grid.build``, ``kernel_pairs``,
        #: ``components.miss``, ``weighted``, ...): reuse is observable, not inferred.
        self.stats: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._lands = store.kind_frame(LayerKind.FEDERAL_LANDS)
        self._lands.sindex  # noqa: B018 - build the STRtree once, here
        claims = store.kind_frame(LayerKind.CLAIMS)
        self._active_claims = claims.loc[claims["status"].eq("active").to_numpy()]
        self._active_claims = self._active_claims.reset_index(drop=True)
        self._active_claims.sindex  # noqa: B018
        self._claims_coverage = self._claims_coverage_area()
        self._states = store.frame("states") if "states" in store.layer_ids() else None
        self.land_coverage: LandCoverage = land_coverage_for_store(store)
        self._complete_metric: dict[int, BaseGeometry] = {}
        self.places = PlaceIndex.for_store(store)
        self._notes_always: list[str] = []
        try:
            coverage = coverage_for_store(store)
        except NotFoundError:
            coverage = {k: shapely.Polygon() for k in INFRASTRUCTURE_KINDS}
            self._notes_always.append(
                "the states layer is missing: distances to state-limited infrastructure "
                "layers are unknown"
            )
        self.coverage: dict[str, BaseGeometry | None] = coverage
        self.infrastructure = InfrastructureIndex(
            store.kind_frame(LayerKind.INFRASTRUCTURE), coverage
        )
        self._deposits: gpd.GeoDataFrame | None = None
        budgets = self.budgets
        self._evidence: ByteLRU[Evidence] = ByteLRU("evidence", budgets.evidence_bytes, self.stats)
        self._components: ByteLRU[RankComponents] = ByteLRU(
            "components", budgets.components_bytes, self.stats
        )
        self._grids: ByteLRU[_BaseGrid] = ByteLRU(
            "grids", budgets.grids_bytes, self.stats, sizer=_BaseGrid.nbytes
        )
        self._no_base_grid: set[tuple[float, str, float]] = set()
        #: Writes the component files, one at a time, after the ranking has been answered.
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="fedmin-components-write")
        #: Component keys refused as over a limit, with the reason: asked again (say with
        #: other weights), the refusal is answered at once rather than re-derived (about
        #: 1 s for 5 km cells over the national sites).
        self._refused: OrderedDict[str, str] = OrderedDict()
        self._rankings: ByteLRU[_Scored] = ByteLRU(
            "rankings", budgets.rankings_bytes, self.stats, sizer=lambda s: nbytes(s.result)
        )

    @classmethod
    def from_store(cls, store: Any, cache: bool = True, **kwargs: Any) -> Self:
        """Open an engine over ``store``; enriched deposits are computed or loaded once."""
        engine = cls(store, cache=cache, **kwargs)
        _ = engine.deposits
        return engine

    def close(self) -> None:
        """Finish the component files being written (the dask engine also releases its
        cluster)."""
        self._writer.shutdown(wait=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- enriched deposits --------------------------------------------------------------

    @property
    def cache_path(self) -> Path:
        name = f"deposits_enriched-{self.store.build_id}-v{ENRICH_VERSION}.parquet"
        return Path(self.store.root) / CACHE_DIR / name

    @property
    def deposits(self) -> gpd.GeoDataFrame:
        """Canonical deposits plus land status, distances and metric coordinates."""
        with self._lock:
            if self._deposits is None:
                self._deposits = with_critical_lists(self._load_or_enrich())
            return self._deposits

    def _load_or_enrich(self) -> gpd.GeoDataFrame:
        path = self.cache_path
        if self.cache and path.exists():
            try:
                return _normalize_enriched(
                    read_geoparquet(path, shared_texts=ENRICHED_SHARED_TEXTS)
                )
            except Exception as exc:  # a corrupt cache is rebuilt, never trusted
                log.warning("ignoring unreadable cache %s: %s", path, exc)
        stored = _with_land_texts(self.enrich(deposit_sites(self.store)))
        if self.cache:
            self._write_cache(stored, path)
        release_free_memory()  # the overlay's and distances' transient heap
        return _normalize_enriched(stored)

    @staticmethod
    def _write_cache(frame: pd.DataFrame, path: Path) -> None:
        """Write atomically (temp file + os.replace); a read-only store is not an error.
        Geometries as GeoArrow: 300k points read back 15x faster than from WKB (20
        against 290 ms)."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        encoding = {"geometry_encoding": "geoarrow"} if isinstance(frame, gpd.GeoDataFrame) else {}
        try:
            path.parent.mkdir(exist_ok=True)
            frame.to_parquet(tmp, index=False, **encoding)
            os.replace(tmp, path)
        except OSError as exc:
            log.info("enriched deposits kept in memory only (%s)", exc)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def enrich(self, deposits: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Seam: add land status, infrastructure distances and metric coordinates.

        The land overlay runs on a thread beside the distances: both spend most of their
        time in GEOS, which releases the GIL (300k deposits: 9.0 s one after the other,
        7.7 s side by side).
        """
        with ThreadPoolExecutor(1) as pool:
            overlay = pool.submit(overlay_land_status, deposits, self._lands, self.land_coverage)
            distances = self.infrastructure.distances(deposits)
            status = overlay.result()
        lon, lat = deposits.geometry.x.to_numpy(), deposits.geometry.y.to_numpy()
        epsg = metric_epsg_for_lonlat(lon, lat)
        x = np.full(len(deposits), np.nan)
        y = np.full(len(deposits), np.nan)
        for code in METRIC_EPSGS:
            sel = epsg == code
            if sel.any():
                x[sel], y[sel] = project_lonlat(lon[sel], lat[sel], code)
        out = deposits.copy()
        for column in LAND_STATUS_COLUMNS:
            out[column] = status[column]
        for column in DISTANCE_COLUMNS.values():
            out[column] = distances[column].to_numpy()
        out["metric_epsg"] = epsg
        out["x_m"] = x
        out["y_m"] = y
        return out

    # --- aggregation seam ---------------------------------------------------------------

    def aggregate_cells(self, deposits: pd.DataFrame, grid: Grid) -> pd.DataFrame:
        """Seam: per-cell counts by dev_status and commodity, and evidence sums.

        ``deposits`` are enriched rows with an ``evidence_weight`` column. Returns a frame
        indexed like ``grid.cells`` with ``n_deposits``, ``n_<status>``, ``evidence_sum``
        and ``c_<commodity>`` (deposits naming each commodity); deposits outside every
        cell are ignored.
        """
        pos = grid.locate(
            deposits["x_m"].to_numpy(),
            deposits["y_m"].to_numpy(),
            deposits["metric_epsg"].to_numpy(),
        )
        n = len(grid)
        on = pos >= 0
        out = pd.DataFrame(index=grid.cells.index)
        out["n_deposits"] = np.bincount(pos[on], minlength=n)
        status = deposits["dev_status"].to_numpy(dtype=object)
        for s in DEV_STATUSES:
            hit = on & (status == s)
            out[f"n_{s}"] = np.bincount(pos[hit], minlength=n)
        weights = deposits["evidence_weight"].to_numpy(float)
        out["evidence_sum"] = np.bincount(pos[on], weights=weights[on], minlength=n)
        owner, names = flatten_lists(deposits["commodities"])
        keep = on[owner] & pd.notna(names)
        if keep.any():
            # one bincount over (cell, commodity) codes: pd.crosstab's grouping took 2.1 s
            # of a 7.5 s national ranking at 25 km (56k groups aggregated in Python)
            codes, names = pd.factorize(names[keep], sort=True)
            flat = pos[owner[keep]] * len(names) + codes
            counts = np.bincount(flat, minlength=n * len(names)).reshape(n, len(names))
            table = pd.DataFrame(counts, index=grid.cells.index, columns=[f"c_{c}" for c in names])
            out = out.join(table)
        return out

    # --- ranking ------------------------------------------------------------------------

    def make_grid(self, evidence: gpd.GeoDataFrame, params: RankParams) -> Grid:
        """The grid over the evidence deposits, clipped to the states layer."""
        return build_grid(
            evidence.geometry.x.to_numpy(),
            evidence.geometry.y.to_numpy(),
            self._states,
            params.spec,
            reach_m=params.reach_m,
            max_cells=params.max_cells,
        )

    def rank(self, params: RankParams | None = None) -> RankResult:
        """Score every cell near the filtered evidence and return the ranking."""
        return self._scored(params or RankParams()).result

    def cell(
        self, cell_id: str, params: RankParams | None = None
    ) -> tuple[pd.Series, gpd.GeoDataFrame]:
        """One cell's scored row (with explanation) and its contributing deposits.

        The cell id fixes the grid (CRS, shape, size), overriding ``params``; a cell not
        in the ranking's grid is a ``NotFoundError``.
        """
        spec, _, _, _ = parse_cell_id(cell_id)
        params = params or RankParams()
        if (spec.cell_km, spec.shape) != (params.cell_km, params.shape):
            params = dataclasses.replace(params, cell_km=spec.cell_km, shape=spec.shape)
        scored = self._scored(params)
        cells = scored.result.all_cells
        if cell_id not in cells.index and cell_id in scored.components.cell_index:
            statics = scored.components.table.loc[[cell_id]]
            if scoring.open_land_gate(statics, params.min_open_land)[0]:
                raise NotFoundError(
                    f"cell {cell_id!r} was left out of this ranking by the development gate "
                    f"(min_undeveloped_share={params.min_undeveloped_share:g}): "
                    f"{_worked_ground_reason(statics.iloc[0])} (known worked ground); ask "
                    "with min_undeveloped_share=0 to see it"
                )
            raise NotFoundError(
                f"cell {cell_id!r} was left out of this ranking by the open-land gate "
                f"(min_open_land={params.min_open_land:g}): it offers no open land of known "
                "status; ask with min_open_land=0 to see it"
            )
        if cell_id not in cells.index:
            raise NotFoundError(
                f"no cell {cell_id!r} in the ranking for these parameters (a cell exists only "
                "near deposits matching the filter)"
            )
        row = cells.loc[cell_id].copy()
        row["explanation"] = scoring.explain(row, scored.result.params["weights"])
        comps = scored.components
        hit = np.flatnonzero(comps.pair_cell == comps.cell_index.get_loc(cell_id))
        dep, contribution = comps.pair_deposit[hit], comps.pair_contribution[hit]
        top = float(comps.pair_contribution.max())  # the order ``top_contributors`` uses
        order = contribution_order(comps.pair_cell[hit], contribution, top)
        contributors = self.deposits.iloc[comps.evidence_positions[dep[order]]].assign(
            evidence_weight=comps.evidence_weights[dep[order]],
            contribution=contribution[order],
        )
        contributors = contributors.reset_index(drop=True)
        return row, contributors

    def evidence(self, params: RankParams) -> Evidence:
        """The filter's deposits and their evidence weights, memoized per filter and
        evidence-weight scheme (rankings and prospectivity surfaces share it)."""

        def compute() -> Evidence:
            self.stats["evidence"] += 1
            deposits = self.deposits
            positions = np.flatnonzero(params.filter.mask(deposits))
            weights = scoring.evidence_weights(deposits.iloc[positions], params)
            return Evidence(positions, weights)

        return self._evidence.get_or_compute(params.evidence_key(), compute)

    def components(self, params: RankParams) -> RankComponents:
        """The weight-independent stage of a ranking, cached per (filter, grid) in memory
        and on disk (``geo.component_files``)."""
        key = params.component_key()
        with self._lock:
            reason = self._refused.get(key)
        if reason is not None:
            self.stats["components.refused"] += 1
            raise LimitExceededError(reason)
        try:
            return self._components.get_or_compute(key, lambda: self._stored_components(params))
        except LimitExceededError as exc:
            with self._lock:
                self._refused[key] = str(exc)
                while len(self._refused) > REFUSALS_KEPT:
                    self._refused.popitem(last=False)
            raise

    def _stored_components(self, params: RankParams) -> RankComponents:
        """Read from the file an earlier computation wrote, else computed (and written)."""
        files = self.cache and self.budgets.component_files_bytes > 0
        key = params.component_key()
        path = components_path(self._component_files.directory, self.store.build_id,
                               self.kind, key)  # fmt: skip
        stored = read_components(path, key) if files else None
        if stored is not None:
            self.stats["components.load"] += 1
            self._component_files.touch(path)
            return stored
        components = self._compute_components(params)
        release_free_memory()  # the computation's transient heap (0.9 GiB, national, cold)
        if files:  # off the request: 0.9 s for the national overview's 200 MB at 300k
            # a closed engine (a retired snapshot's last ranking) keeps nothing on disk
            with contextlib.suppress(RuntimeError):
                self._writer.submit(self._write_components, components, path, key)
        return components

    def _write_components(self, components: RankComponents, path: Path, key: str) -> None:
        try:
            if write_components(components, path, key):
                self._component_files.evict(keep=path)
        except Exception:  # a thread's error reaches no one else: the file is just not kept
            log.exception("ranking components not written to %s", path)
        release_free_memory()  # the file's bytes assembled in memory (200 MB, national)

    def _scored(self, params: RankParams) -> _Scored:
        def compute() -> _Scored:
            comps = self.components(params)
            self.stats["weighted"] += 1
            if len(comps.evidence_positions) == 0:
                empty = empty_cells()
                result = RankResult(
                    cells=empty,
                    all_cells=empty,
                    params=params.to_dict(),
                    manifest=self._manifest(),
                    validation=comps.validation,
                    notes=list(comps.notes),
                )
            else:
                result = weighted_ranking(comps, params, self._manifest())
            return _Scored(result, comps)

        return self._rankings.get_or_compute(params.key(), compute)

    def _manifest(self) -> dict[str, Any]:
        return {
            "build_id": self.store.build_id,
            "built_at": self.store.manifest.get("built_at"),
            "sources": self.store.source_checksums,
            "absent": self.store.manifest.get("absent", {}),
        }

    def _with_cached_statics(self, base: _BaseGrid, params: RankParams) -> _BaseGrid:
        """``base`` with the cell statics an earlier engine computed and kept, if any."""
        path = self._statics_cache_path(params)
        if path.exists():
            try:
                base.load_statics(pq.read_table(path))
                self.stats["statics.load"] += 1
            except Exception as exc:  # a corrupt or stale cache is recomputed, never trusted
                log.warning("ignoring unreadable cache %s: %s", path, exc)
        return base

    def _statics_cache_path(self, params: RankParams) -> Path:
        grid = self._grid_cache_path(params)
        return grid.with_suffix(f".statics-s{CELL_STATICS_VERSION}.parquet")

    def _keep_grid_file(self, frame: pd.DataFrame, path: Path) -> None:
        """Write a grid or statics file, then keep the grid files within their budget."""
        self._write_cache(frame, path)
        self._grid_files.evict(keep=path)

    def _grid_cache_path(self, params: RankParams) -> Path:
        """Where the store-wide grid of ``params``' spec and kernel is kept: built once per
        store build (9 s for the national store's 270,000 cells at 5 km, 0.5 s to read)."""
        spec = params.spec
        name = (
            f"grid-{self.store.build_id}-{spec.prefix}{spec.size_m}-r{round(params.reach_m)}"
            f"-v{GRID_CACHE_VERSION}.parquet"
        )
        return Path(self.store.root) / CACHE_DIR / name

    def _base_grid(self, params: RankParams) -> _BaseGrid | None:
        """The store-wide grid of ``params``' spec and kernel; None when it would exceed
        ``budgets.base_grid_max_cells`` (each filter then builds its own grid)."""
        key = (params.spec.cell_km, params.spec.shape, params.bandwidth_m)
        if key in self._no_base_grid or self.budgets.base_grid_max_cells <= 0:
            return None

        def build() -> _BaseGrid:
            path = self._grid_cache_path(params)
            if self.cache and path.exists():
                try:
                    grid = grid_from_frame(read_geoparquet(path), params.spec, params.reach_m)
                except Exception as exc:  # a corrupt cache is rebuilt, never trusted
                    log.warning("ignoring unreadable cache %s: %s", path, exc)
                else:
                    if len(grid) > self.budgets.base_grid_max_cells:  # a smaller budget now
                        raise LimitExceededError(f"base grid of {len(grid)} cells")
                    self.stats["grid.load"] += 1
                    self._grid_files.touch(path)  # recently used: the last to be evicted
                    return self._with_cached_statics(_BaseGrid(grid), params)
            self.stats["grid.build"] += 1
            deposits = self.deposits
            grid = build_grid(
                deposits.geometry.x.to_numpy(),
                deposits.geometry.y.to_numpy(),
                self._states,
                params.spec,
                reach_m=params.reach_m,
                max_cells=self.budgets.base_grid_max_cells,
            )
            if self.cache:
                self._keep_grid_file(grid_frame(grid), path)
            return _BaseGrid(grid)

        try:
            return self._grids.get_or_compute(key, build)
        except LimitExceededError:
            with self._lock:
                self._no_base_grid.add(key)
            return None

    def _grid_and_pairs(
        self, evidence: gpd.GeoDataFrame, params: RankParams
    ) -> tuple[Grid, pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        """The filter's grid, its cell statics, and the kernel pairs (cell position in
        the grid, evidence position, distance)."""
        ev_epsg = evidence["metric_epsg"].to_numpy()
        ev_xy = evidence[["x_m", "y_m"]].to_numpy(float)
        if cells_holding(ev_xy[:, 0], ev_xy[:, 1], ev_epsg, params.spec) > params.max_cells:
            # before any grid is built (a national grid of 0.5 km cells took 24 s to find
            # itself too large)
            raise too_many_cells(params.max_cells, params.cell_km)
        base = self._base_grid(params)
        self.stats["kernel_pairs"] += 1
        if base is None:
            grid = self.make_grid(evidence, params)
            pc, pd_, dist = [], [], []
            cell_xy = grid.cells[["x_m", "y_m"]].to_numpy(float)
            for epsg, cpos in grid.positions_by_epsg().items():
                dpos = np.flatnonzero(ev_epsg == epsg)
                a, b, d = scoring.kernel_pairs(
                    cell_xy[cpos], ev_xy[dpos], params.reach_m, grid.spec.size_m
                )
                pc.append(cpos[a])
                pd_.append(dpos[b])
                dist.append(d)
            pair_cell = np.concatenate(pc) if pc else np.zeros(0, dtype=np.int64)
            pair_dep = np.concatenate(pd_) if pd_ else np.zeros(0, dtype=np.int64)
            pair_dist = np.concatenate(dist) if dist else np.zeros(0)
            return grid, self.cell_statics(grid, params), pair_cell, pair_dep, pair_dist
        self.stats["grid.subset"] += 1
        base_cell, pair_dep, pair_dist = base.pairs(ev_xy, ev_epsg, params.reach_m)
        located = base.grid.locate(ev_xy[:, 0], ev_xy[:, 1], ev_epsg)
        hold = np.zeros(len(base.grid), dtype=bool)  # a mask, not np.unique of 10^7 pairs
        hold[base_cell] = True
        hold[located[located >= 0]] = True
        used = np.flatnonzero(hold)
        if len(used) > params.max_cells:
            raise too_many_cells(params.max_cells, params.cell_km)
        grid = base.grid.subset(used)
        with base.lock:
            if self._fill_statics(base, used[~base.done[used]], params) and self.cache:
                self._keep_grid_file(base.statics_frame(), self._statics_cache_path(params))
            statics = base.statics_of(used, grid.cells.index)
        position = np.full(len(base.grid), -1, dtype=np.int64)
        position[used] = np.arange(len(used))
        return grid, statics, position[base_cell], pair_dep, pair_dist

    def _fill_statics(self, base: _BaseGrid, positions: np.ndarray, params: RankParams) -> int:
        """Compute the statics of the base grid's cells at ``positions`` into ``base``
        (its lock held); the number of cells computed."""
        if len(positions) == 0:
            return 0
        base.fill(positions, self.cell_statics(base.grid.subset(positions), params))
        return len(positions)

    def warm_statics(
        self, params: RankParams, progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Compute and keep the statics of every cell of the store-wide grid of
        ``params``' spec and kernel, in blocks of ``WARM_BLOCK_CELLS`` (``progress(done,
        total)`` after each): done at build time for the default cell sizes, so that a
        filter's first ranking reads its land shares instead of overlaying them (1 to 10 s
        for a state's 5 km cells). The number of cells computed (0 when already kept, or
        when the grid is over ``budgets.base_grid_max_cells``)."""
        base = self._base_grid(params)
        if base is None:
            return 0
        with base.lock:
            missing = np.flatnonzero(~base.done)
            blocks = np.array_split(missing, max(1, -(-len(missing) // WARM_BLOCK_CELLS)))
            done = 0
            for block in blocks:
                done += self._fill_statics(base, block, params)
                if progress is not None:
                    progress(done, len(missing))
            if done and self.cache:
                self._keep_grid_file(base.statics_frame(), self._statics_cache_path(params))
        return done

    def cell_statics(self, grid: Grid, params: RankParams) -> pd.DataFrame:
        """Seam: the filter-independent inputs of each cell (``CELL_STATIC_COLUMNS``):
        open unclaimed federal area, claims coverage, kernel-weighted development and
        active claims, distances to infrastructure."""
        cells = grid.cells
        lon, lat = cells["lon"].to_numpy(), cells["lat"].to_numpy()
        self.stats["statics.cells"] += len(cells)
        development_raw, worked_raw, active_claims = self._development(grid, params)
        distances = self.infrastructure.distances_lonlat(lon, lat, index=cells.index)
        out = pd.DataFrame(
            {
                "claims_covered": self._claims_covered(lon, lat),
                "development_raw": development_raw,
                "worked_raw": worked_raw,
                "active_claims": active_claims,
            },
            index=cells.index,
        )
        for column in DISTANCE_COLUMNS.values():
            out[column] = distances[column].to_numpy()
        out = out.join(self._land_statics(grid))
        return out[list(CELL_STATIC_COLUMNS)]

    def _compute_components(self, params: RankParams) -> RankComponents:
        self.stats["components.compute"] += 1
        deposits = self.deposits
        found = self.evidence(params)
        selected = deposits[[c for c in RANKED_COLUMNS if c in deposits.columns]]
        selected = selected.iloc[found.positions]
        selected = selected.assign(evidence_weight=found.weights)
        weighted = found.weights > 0
        evidence = selected.loc[weighted]
        evidence_positions = found.positions[weighted]
        notes = list(self._notes_always)
        notes += [
            f"optional layer {k!r} is absent ({v}); it is not used"
            for k, v in self.store.manifest.get("absent", {}).items()
        ]
        if evidence.empty:
            notes.append("no deposit with mineral evidence matches the filter: nothing to rank")
            empty = np.zeros(0, dtype=np.int64)
            return RankComponents(
                table=empty_cells(),
                evidence_positions=evidence_positions,
                evidence_weights=np.zeros(0),
                pair_cell=empty,
                pair_deposit=empty,
                pair_contribution=np.zeros(0),
                validation={"available": False, "auc": None, "reason": "no evidence"},
                notes=notes,
            )

        grid, statics, pair_cell, pair_dep, pair_dist = self._grid_and_pairs(evidence, params)
        cells = grid.cells
        n = len(cells)
        self.stats["aggregate"] += 1
        agg = self.aggregate_cells(selected, grid)

        # Potential: evidence weights times the kernel over the pairs.
        ev_w = evidence["evidence_weight"].to_numpy(float)
        contribution = ev_w[pair_dep] * scoring.kernel(pair_dist, params.bandwidth_m)
        potential_raw = np.bincount(pair_cell, weights=contribution, minlength=n)
        potential = scoring.normalize_potential(potential_raw)
        development_raw = statics["development_raw"].to_numpy(float)
        developed = evidence["dev_status"].isin(scoring.DEVELOPMENT_STATUSES).to_numpy()
        split = development_split(evidence, pair_cell, pair_dep, contribution, n)
        underdevelopment = scoring.underdevelopment(
            potential, split["undeveloped_raw"], split["neutral_raw"], development_raw
        )
        access, _ = scoring.access_component(statics)
        land = scoring.land_component(statics)

        self.stats["top_contributors"] += 1
        top_ids, top_contrib = top_contributors(
            pair_cell,
            pair_dep,
            contribution,
            evidence["id"].to_numpy(dtype=object),
            n,
            params.top_deposits,
        )
        base, commodities = commodity_counts(agg)
        table = cells.drop(columns=["col", "row"]).join(base)
        columns = {
            "potential": potential,
            "underdevelopment": underdevelopment,
            "access": access,
            "land": land,
            "potential_raw": potential_raw,
            **split,
            "development_raw": development_raw,
            "worked_density": scoring.worked_density(
                statics["worked_raw"].to_numpy(float), params.bandwidth_m
            ),
            "claims_covered": statics["claims_covered"].to_numpy(bool),
            "active_claims": statics["active_claims"].to_numpy(np.int64),
            **{c: statics[c].to_numpy(float) for c in DISTANCE_COLUMNS.values()},
            "top_deposit_ids": top_ids,
            "top_deposit_contributions": top_contrib,
            "commodity_counts": commodities,
            **{c: statics[c].to_numpy(float) for c in LAND_SHARE_COLUMNS},
            "land_flag": scoring.land_flag(statics),
            **{c: statics[c].to_numpy() for c in PLACE_COLUMNS},
        }
        table = pd.concat([table, pd.DataFrame(columns, index=cells.index)], axis=1)
        table = table.assign(**named_cell_columns(table, evidence))

        point_cells = grid.locate(evidence["x_m"].to_numpy(), evidence["y_m"].to_numpy(),
                                  evidence["metric_epsg"].to_numpy())  # fmt: skip
        validation = holdout_validation(
            pair_cell,
            pair_dep,
            contribution,
            developed,
            point_cells,
            cells["area_m2"].to_numpy(float),
            n,
        )
        notes += self._notes(table, evidence, point_cells)
        return RankComponents(
            table=gpd.GeoDataFrame(table, geometry="geometry", crs=4326),
            evidence_positions=evidence_positions,
            evidence_weights=ev_w,
            pair_cell=pair_cell,
            pair_deposit=pair_dep,
            pair_contribution=contribution,
            validation=validation,
            notes=notes,
            point_cells=point_cells,
            developed=developed,
        )

    # --- helpers ------------------------------------------------------------------------

    @property
    def claims_coverage(self) -> BaseGeometry | None:
        """Where claims are known (EPSG:4326), None without a claims layer."""
        return self._claims_coverage

    def _claims_coverage_area(self) -> BaseGeometry | None:
        """Where claims are known: the bounding boxes of the claims layers (manifest)."""
        boxes = [
            shapely.box(*rec["bounds"])
            for rec in self.store.manifest["layers"].values()
            if rec.get("kind") == LayerKind.CLAIMS.value and rec.get("bounds")
        ]
        if not boxes:
            return None
        area = shapely.union_all(boxes)
        shapely.prepare(area)
        return area

    def _claims_covered(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        if self._claims_coverage is None:
            return np.zeros(len(lon), dtype=bool)
        return shapely.intersects_xy(self._claims_coverage, lon, lat)

    def _development(
        self, grid: Grid, params: RankParams
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Kernel-weighted development D per cell, the worked deposits' part of it, and
        active claims per cell."""
        self.stats["development"] += 1
        deposits = self.deposits
        worked = scoring.development_evidence(deposits).developed
        reps = shapely.point_on_surface(self._active_claims.geometry.values)
        c_lon, c_lat = shapely.get_x(reps), shapely.get_y(reps)
        c_epsg = metric_epsg_for_lonlat(c_lon, c_lat)
        n = len(grid)
        development = np.zeros(n)
        worked_raw = np.zeros(n)
        claim_counts = np.zeros(n, dtype=np.int64)
        cell_xy = grid.cells[["x_m", "y_m"]].to_numpy(float)
        for epsg, cpos in grid.positions_by_epsg().items():
            sel = worked & (deposits["metric_epsg"].to_numpy() == epsg)
            dep_xy = deposits.loc[sel, ["x_m", "y_m"]].to_numpy(float)
            csel = c_epsg == epsg
            cx, cy = project_lonlat(c_lon[csel], c_lat[csel], epsg)
            points = np.concatenate([dep_xy, np.column_stack([cx, cy])])
            value = np.concatenate(
                [
                    np.full(len(dep_xy), scoring.DEVELOPMENT_DEPOSIT_WEIGHT),
                    np.full(len(cx), scoring.DEVELOPMENT_CLAIM_WEIGHT),
                ]
            )
            a, b, d = scoring.kernel_pairs(cell_xy[cpos], points, params.reach_m, grid.spec.size_m)
            weight = value[b] * scoring.kernel(d, params.bandwidth_m)
            development += np.bincount(cpos[a], weights=weight, minlength=n)
            deposit = b < len(dep_xy)
            worked_raw += np.bincount(cpos[a[deposit]], weights=weight[deposit], minlength=n)
            located = grid.locate(cx, cy, np.full(len(cx), epsg))
            located = located[located >= 0]
            claim_counts += np.bincount(located, minlength=n)
        return development, worked_raw, claim_counts

    def _complete_in(self, epsg: int) -> BaseGeometry:
        """The complete land coverage in a metric CRS (projected once per CRS)."""
        with self._lock:
            if epsg not in self._complete_metric:
                area = self.land_coverage.complete_area
                self._complete_metric[epsg] = (
                    area
                    if area.is_empty
                    else gpd.GeoSeries([area], crs=4326).to_crs(epsg).make_valid().iloc[0]
                )
            return self._complete_metric[epsg]

    def _land_statics(self, grid: Grid) -> pd.DataFrame:
        """Per cell, its land by status (``LAND_SHARE_COLUMNS``, shares summing to 1) and
        its names (``PLACE_COLUMNS``: state, county, governed land units, nearest place);
        cell statics, so base grids keep them per cell. The land polygons are projected
        and cut once for both; the governed units are overlaid on a thread beside the
        shares (the first 25 km ranking of 300k deposits, 15,625 cells: 24.3 -> 18.5 s)."""
        self.stats["land"] += 1
        cells = grid.cells
        n = len(cells)
        shares = np.zeros((n, len(LAND_SHARE_PARTS)))
        units = np.empty(n, dtype=object)
        units[:] = [[] for _ in range(n)]
        epsg = cells["epsg"].to_numpy()
        lon, lat = cells["lon"].to_numpy(), cells["lat"].to_numpy()
        pad = 1.5 * grid.spec.size_m / 50_000  # degrees: a cell's half-diagonal, generously
        for code in METRIC_EPSGS:
            sel = np.flatnonzero(epsg == code)
            if len(sel) == 0:
                continue
            metric = grid.metric_geometry[sel]
            box = cells_lonlat_box(lon[sel], lat[sel], pad)
            cut = cut_lands(metric, code, self._lands, box)
            shapely.prepare(cut.pieces)  # here, once: both threads below test against them
            with ThreadPoolExecutor(1) as pool:  # GEOS overlays, the GIL released
                governed = pool.submit(governed_units, metric, cut, self._lands)
                areas = land_share_areas(
                    metric,
                    cut,
                    self._lands,
                    self._active_claims,
                    code,
                    box,
                    complete_fraction(metric, self._complete_in(code)),
                )
                governed_by_cell = governed.result()
            land = np.maximum(shapely.area(metric), 1e-9)
            shares[sel] = np.column_stack([areas[p] / land for p in LAND_SHARE_PARTS])
            for i, value in zip(sel, governed_by_cell, strict=True):
                units[i] = value
        state, county = self.places.admin(lon, lat)
        place, km, bearing = self.places.nearest(lon, lat, epsg)
        names = dict(zip(PLACE_COLUMNS, (state, county, units, place, km, bearing), strict=True))
        out = pd.DataFrame(shares, index=cells.index, columns=list(LAND_SHARE_COLUMNS))
        return out.assign(**names)

    def _notes(
        self, cells: pd.DataFrame, evidence: pd.DataFrame, point_cells: np.ndarray
    ) -> list[str]:
        notes: list[str] = []
        uncovered = int((~cells["claims_covered"]).sum())
        if uncovered:
            where = (
                "no claims layer is in the store"
                if self._claims_coverage is None
                else "claims data covers only the bounding box of the claims layers "
                f"{[round(v, 2) for v in self._claims_coverage.bounds]}"
            )
            notes.append(
                f"{uncovered} of {len(cells)} cells lie outside the mining-claims coverage "
                f"({where}): there active claims are unknown and were not counted"
            )
        for kind, column in DISTANCE_COLUMNS.items():
            missing = int(cells[column].isna().sum())
            if missing:
                reason = (
                    "no layer of this kind is in the store"
                    if self.infrastructure.feature_count(kind) == 0
                    else "outside the states its layers cover"
                )
                notes.append(
                    f"{missing} of {len(cells)} cells have no {kind} distance ({reason}); "
                    "their access uses the other kinds"
                )
        off = int((point_cells < 0).sum())
        if off:
            notes.append(
                f"{off} evidence deposits lie in cells with no land in the 1:10m state "
                "outlines (offshore or on the coast); they still add potential to nearby cells"
            )
        notes += national_only_note(self.store, cells)
        notes.append(
            "potential is normalized to the best cell of this ranking "
            "(log(1 + E) / log(1 + max E)); compare scores within one ranking"
        )
        return notes


def cells_lonlat_box(
    lon: np.ndarray, lat: np.ndarray, pad: float
) -> tuple[float, float, float, float]:
    """Lon/lat box around cell centres, padded (across the antimeridian it spans every
    longitude, which only widens the candidate units)."""
    return (
        max(-180.0, float(lon.min()) - pad),
        max(-90.0, float(lat.min()) - pad),
        min(180.0, float(lon.max()) + pad),
        min(90.0, float(lat.max()) + pad),
    )


def _worked_ground_reason(cell: pd.Series) -> str:
    """Why the development gate left a cell out, in words."""
    frame = cell.to_frame().T
    if scoring.in_mining_district(frame)[0]:
        return (
            f"it lies in a mining district ({float(cell['worked_density']):.1f} worked "
            "deposits per 100 km² around it)"
        )
    return (
        f"its evidence is mostly development (undeveloped share "
        f"{float(scoring.undeveloped_share(frame)[0]):.2f})"
    )


def named_cell_columns(table: pd.DataFrame, evidence: pd.DataFrame) -> dict[str, list[Any]]:
    """The main land unit, the best named deposit and the one-line place label per cell
    (``geo.places``), from the cell statics and the top contributors."""
    units = table["land_units"].tolist()
    # numpy object arrays, not the Arrow-backed columns: zipping those went element by
    # element through pandas (0.9 of a national ranking's 7 s)
    names = dict(
        zip(
            evidence["id"].to_numpy(dtype=object).tolist(),
            evidence["name"].to_numpy(dtype=object).tolist(),
            strict=True,
        )
    )
    best = [
        next((i for i in ids if isinstance(names.get(i), str) and names[i]), None)
        for ids in table["top_deposit_ids"]
    ]
    out: dict[str, list[Any]] = {
        "land_unit": [u[0]["name"] if u else None for u in units],
        "land_unit_share": [u[0]["share"] if u else np.nan for u in units],
        "best_deposit_id": best,
        "best_deposit_name": [names[i] if i is not None else None for i in best],
    }
    out["place_label"] = place_labels(table.assign(best_deposit_name=out["best_deposit_name"]))
    return out


def development_split(
    evidence: pd.DataFrame,
    pair_cell: np.ndarray,
    pair_dep: np.ndarray,
    contribution: np.ndarray,
    n_cells: int,
) -> dict[str, np.ndarray]:
    """Per cell, the kernel-weighted evidence by what it says about development:
    ``undeveloped_raw`` (N: prospects, occurrences, plants), ``neutral_raw`` (Q: unknown
    status, not developed), ``unknown_status_raw`` (all evidence of unknown status,
    large-deposit compilations included), and the counts of contributing deposits, of
    those of unknown status and of those from large-deposit compilations."""
    dev = scoring.development_evidence(evidence)
    undeveloped = ~dev.developed & ~dev.neutral

    def total(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        hit = mask[pair_dep]
        if weights is None:
            return np.bincount(pair_cell[hit], minlength=n_cells)
        return np.bincount(pair_cell, weights=np.where(hit, weights, 0.0), minlength=n_cells)

    return {
        "undeveloped_raw": total(undeveloped, contribution),
        "neutral_raw": total(dev.neutral, contribution),
        "unknown_status_raw": total(dev.unknown_status, contribution),
        "n_evidence": np.bincount(pair_cell, minlength=n_cells),
        "n_unknown_status": total(dev.unknown_status),
        "n_compilation": total(dev.compilation),
    }


#: The enriched deposits' list columns, kept in the cache file as one text per row.
LAND_LIST_COLUMNS = ("land_unit_ids", "land_unit_names")
#: The enriched deposits' repeated texts: the land-status reason is one per unit and rule
#: (300k deposits, 1.9k distinct: 49 MiB as text).
ENRICHED_SHARED_TEXTS = (*SHARED_TEXT_COLUMNS, "mineral_entry_reason")
#: Between the items of a list's text, and standing for a null item (unit names may be).
_ITEM_SEPARATOR, _NULL_ITEM = "\x1f", "\x00"


def _with_land_texts(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` with each list of ``LAND_LIST_COLUMNS`` as its text (None for an empty
    list), the form the cache file keeps: rows in the same units then share one value."""
    texts = {
        column: [
            _ITEM_SEPARATOR.join(_NULL_ITEM if v is None or v != v else v for v in items)
            if len(items)
            else None
            for items in frame[column]
        ]
        for column in LAND_LIST_COLUMNS
    }
    return frame.assign(**texts)


def _shared_lists(texts: pd.Series) -> pd.Series:
    """The lists ``_with_land_texts`` wrote, rows with the same units sharing one list
    object (read-only, as every served value): a list per row held 600k lists and their
    strings at 300k deposits, and building them took 1.0 s of a start."""
    lists = once_per_distinct(
        texts.to_numpy(dtype=object),
        lambda text: [None if i == _NULL_ITEM else i for i in text.split(_ITEM_SEPARATOR)],
        missing=[],  # no units
    )
    return pd.Series(lists, index=texts.index, dtype=object)


def _normalize_enriched(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Same dtypes whether computed or read back from parquet: ``frame`` as
    ``_with_land_texts`` gives it or the cache holds it, the lists shared, None for null."""
    frame = frame.copy()
    for column in LAND_LIST_COLUMNS:
        frame[column] = _shared_lists(frame[column])
    for column in ("agency", "designation"):  # one string per distinct value, not per row
        values = once_per_distinct(frame[column].to_numpy(dtype=object))
        frame[column] = pd.Series(values, index=frame.index, dtype=object)
    frame["metric_epsg"] = frame["metric_epsg"].astype(np.int64)
    return frame


def open_engine(
    store: Any,
    kind: str = "memory",
    scheduler: Any = None,
    cache: bool = True,
    budgets: EngineBudgets | None = None,
) -> MemoryEngine:
    """The engine named by ``kind``; the dask engine is imported only when asked for."""
    if kind == "memory":
        return MemoryEngine.from_store(store, cache=cache, budgets=budgets)
    if kind == "dask":
        from geo.dask_engine import DaskEngine

        return DaskEngine.from_store(store, cache=cache, scheduler=scheduler, budgets=budgets)
    raise InvalidParameterError(f"engine kind: one of {list(ENGINE_KINDS)}, got {kind!r}")


__all__ = [
    "ENRICHED_COLUMNS",
    "EngineBudgets",
    "GridSpec",
    "MemoryEngine",
    "RankParams",
    "RankResult",
    "open_engine",
]
