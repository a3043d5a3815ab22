"""The scale-out engine: the memory engine with its two heavy seams run on dask.distributed.

``DaskEngine`` overrides only ``enrich`` (land-status overlay, infrastructure distances
and metric coordinates of every deposit) and ``aggregate_cells`` (per-cell counts and
evidence sums); the grid, kernel, components, Pareto front and validation are the
memory engine's own code. Each partition runs the memory engine's seam code unchanged
(``_WorkerState`` borrows ``MemoryEngine.enrich`` and ``MemoryEngine.aggregate_cells``),
so both engines give the same answers by construction:

* enrich: every column depends on one point only, so splitting the points changes
  nothing; the partitions come from ``dask_geopandas`` ``spatial_shuffle`` (Hilbert
  curve), so each worker queries a compact part of the lands' and lines' STRtrees. Only
  the geometry travels to the workers and only the added columns travel back; the rows
  are put back in their original order on the client.
* aggregate_cells: the deposits are split by blocks of grid cells (cells are sorted by
  column, so a block is a vertical strip of the map), keeping their original order
  inside a block. The blocks share no cell, so every per-cell sum is computed in one
  partition, over the same rows in the same order as in memory: bit-identical, not
  just close. The reduce concatenates the blocks' non-empty cells.

The federal lands and the infrastructure index are scattered (``broadcast=True``) once
per engine; a worker process unpickles them once and builds its STRtrees there.

Cluster: ``scheduler="tcp://host:port"`` (or a ``distributed.Client``) uses an existing
cluster, which ``close()`` leaves running. ``scheduler=None`` starts a ``LocalCluster``,
shut down by ``close()`` (the engine is a context manager). Its default on a host with
up to 2 cores is threads: one worker in this process with a thread per core. Measured
on 2 cores (``bench/rank.py``, docs/performance.md), the overlay of 10^6 deposits took
about as long with threads as with two worker processes (within 10 %, and less on a busy
machine: the joins run in GEOS and numpy, largely outside the GIL), while the processes
needed a copy of the lands and lines per worker (+30 % peak memory at 10^6 deposits,
nearly double at 10^5), about 3 s to start (up to 9 s on a busy machine) and pickling
of every partition and its results. On larger hosts the default is dask's own (worker
processes), where the GIL-bound pandas steps of the overlay (precedence sort, list
building) would keep threads from using every core; not measured here.
``processes=True/False``, ``n_workers`` and ``threads_per_worker`` override the default.

What is distributed is the per-deposit work, which grows with the data; the client still
holds the enriched deposits and runs the ranking over the (bounded) grid in memory.
"""

from __future__ import annotations

import itertools
import logging
import math
from typing import Any, Self

import dask
import dask.dataframe as dd
import dask_geopandas  # noqa: F401 - registers the GeoDataFrame collection with dask
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from distributed import Client, Future, LocalCluster

from geo.access import InfrastructureIndex
from geo.caches import EngineBudgets, usable_cores
from geo.engine import ENRICHED_COLUMNS, MemoryEngine
from geo.grid import Grid
from geo.landcoverage import LandCoverage
from layers.errors import FedminError
from layers.schema import LayerKind

log = logging.getLogger(__name__)

#: Partitions hold about this many deposits (and there are at least as many partitions
#: as worker threads, so every core gets work).
ROWS_PER_PARTITION = 50_000
#: Precision of the Hilbert curve used by ``spatial_shuffle`` (dask-geopandas' default).
HILBERT_LEVEL = 16
#: Seconds to wait for a remote scheduler and for its first worker.
CONNECT_TIMEOUT_S = 30.0

#: Columns ``aggregate_cells`` reads; only these travel to the workers.
_AGGREGATE_COLUMNS = ("x_m", "y_m", "metric_epsg", "dev_status", "evidence_weight", "commodities")
_ROW = "_fedmin_row"


#: Up to this many usable cores, the default ``LocalCluster`` runs threads in-process.
SMALL_HOST_CORES = 2


def local_cluster_kwargs(
    cores: int,
    processes: bool | None = None,
    n_workers: int | None = None,
    threads_per_worker: int | None = None,
) -> dict[str, Any]:
    """``LocalCluster`` arguments: the documented default, or what the caller asked for.

    ``processes=None`` picks threads on a small host (``SMALL_HOST_CORES``): one worker in
    this process with a thread per core, so the lands and lines are shared, not copied,
    and nothing is pickled; on larger hosts, dask's own default (worker processes), where
    the GIL-bound pandas steps of the overlay would keep threads from using the cores.
    """
    if processes is None:
        processes = cores > SMALL_HOST_CORES
    kwargs: dict[str, Any] = {"processes": processes}
    if not processes:
        kwargs["n_workers"] = n_workers or 1
        kwargs["threads_per_worker"] = threads_per_worker or cores
    else:
        if n_workers:
            kwargs["n_workers"] = n_workers
        if threads_per_worker:
            kwargs["threads_per_worker"] = threads_per_worker
    return kwargs


class DaskClusterError(FedminError):
    """The dask cluster could not be started or reached."""


class _WorkerState:
    """What the seams need on a worker: the lands (with their STRtree), the land coverage
    and the lines.

    Borrows the memory engine's seam methods, which use only ``_lands``,
    ``land_coverage`` and ``infrastructure``, so a partition is processed by exactly the
    in-memory code.
    Pickles as its inputs and is rebuilt on unpickling: each worker process builds its
    STRtrees once and prepares the coverage polygons again (shapely's prepared state and
    the trees do not survive pickling).
    """

    enrich = MemoryEngine.enrich
    aggregate_cells = MemoryEngine.aggregate_cells

    def __init__(
        self,
        lands: gpd.GeoDataFrame,
        land_coverage: LandCoverage,
        infrastructure: gpd.GeoDataFrame,
        coverage: dict[str, Any],
        index: InfrastructureIndex | None = None,
    ):
        self._lands = lands
        self._lands.sindex  # noqa: B018 - once per worker
        self.land_coverage = land_coverage
        shapely.prepare(land_coverage.complete_area)  # unpickled unprepared; a no-op if not
        self._infrastructure_frame = infrastructure
        self._coverage = coverage
        self.infrastructure = index or InfrastructureIndex(infrastructure, coverage)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _WorkerState,
            (self._lands, self.land_coverage, self._infrastructure_frame, self._coverage),
        )


def _enrich_partition(part: gpd.GeoDataFrame, state: _WorkerState) -> pd.DataFrame:
    """The enriched columns of one spatial partition (plus the original row number)."""
    # The shuffled index (Hilbert distances) repeats for close points; the overlay
    # assigns by label, so give it unique labels.
    points = gpd.GeoDataFrame(geometry=part.geometry.values, crs=part.crs)
    enriched = state.enrich(points)
    out = pd.DataFrame({c: enriched[c] for c in ENRICHED_COLUMNS}, index=enriched.index)
    out[_ROW] = part[_ROW].to_numpy()
    return out


def _aggregate_partition(part: pd.DataFrame, grid: Grid, state: _WorkerState) -> pd.DataFrame:
    """Cell aggregates of one block of cells: only the cells holding a deposit."""
    agg = state.aggregate_cells(part, grid)
    return agg.loc[agg["n_deposits"].to_numpy() > 0]


class DaskEngine(MemoryEngine):
    """``MemoryEngine`` whose overlay and cell aggregation run on a dask cluster.

    Use as a context manager or call ``close()``: it shuts down the ``LocalCluster`` it
    started (a cluster reached by address is only disconnected from).
    """

    kind = "dask"

    def __init__(
        self,
        store: Any,
        cache: bool = True,
        scheduler: str | Client | None = None,
        *,
        processes: bool | None = None,
        n_workers: int | None = None,
        threads_per_worker: int | None = None,
        npartitions: int | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        budgets: EngineBudgets | None = None,
    ):
        super().__init__(store, cache=cache, budgets=budgets)
        self.npartitions = npartitions
        self.connect_timeout = connect_timeout
        self._cluster: LocalCluster | None = None
        self._owns_client = not isinstance(scheduler, Client)
        self.client: Client | None = None
        try:
            self.client = self._connect(scheduler, processes, n_workers, threads_per_worker)
            self._local = _WorkerState(
                self._lands,
                self.land_coverage,
                store.kind_frame(LayerKind.INFRASTRUCTURE),
                self.coverage,
                index=self.infrastructure,
            )
            self._shared: Future = self.client.scatter(self._local, broadcast=True, hash=False)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_store(cls, store: Any, cache: bool = True, **kwargs: Any) -> Self:
        """As ``MemoryEngine.from_store``; the cluster is shut down if enrichment fails."""
        engine = cls(store, cache=cache, **kwargs)
        try:
            _ = engine.deposits
        except BaseException:
            engine.close()
            raise
        return engine

    def _connect(
        self,
        scheduler: str | Client | None,
        processes: bool | None,
        n_workers: int | None,
        threads_per_worker: int | None,
    ) -> Client:
        if isinstance(scheduler, Client):
            return scheduler
        if scheduler:
            try:
                client = Client(scheduler, timeout=self.connect_timeout, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise DaskClusterError(
                    f"cannot reach the dask scheduler {scheduler}: {exc}"
                ) from exc
            try:
                client.wait_for_workers(1, timeout=self.connect_timeout)
            except TimeoutError as exc:
                client.close()
                raise DaskClusterError(
                    f"the dask scheduler {scheduler} has no worker "
                    f"(waited {self.connect_timeout:g} s)"
                ) from exc
            return client
        kwargs = local_cluster_kwargs(usable_cores(), processes, n_workers, threads_per_worker)
        try:
            # A free port for the dashboard/HTTP server: several engines may share a host.
            self._cluster = LocalCluster(dashboard_address=":0", **kwargs)
        except Exception as exc:
            hint = (
                " (worker processes are spawned: a script must start the engine under "
                "`if __name__ == '__main__':`)"
                if kwargs["processes"]
                else ""
            )
            raise DaskClusterError(f"cannot start a dask LocalCluster: {exc}{hint}") from exc
        return Client(self._cluster, set_as_default=False)

    def close(self) -> None:
        """Disconnect, and shut down the ``LocalCluster`` if this engine started it."""
        super().close()
        client, self.client = self.client, None
        cluster, self._cluster = self._cluster, None
        if client is not None and self._owns_client:
            client.close()
        if cluster is not None:
            cluster.close()

    @property
    def scheduler_address(self) -> str | None:
        return self.client.scheduler.address if self.client is not None else None

    def _require_client(self) -> Client:
        if self.client is None:
            raise DaskClusterError("the dask engine is closed")
        return self.client

    def _partitions(self, rows: int) -> int:
        """At least one partition per worker thread, at most ``ROWS_PER_PARTITION`` rows."""
        if self.npartitions:
            return max(1, min(self.npartitions, rows))
        threads = sum(self._require_client().nthreads().values()) or 1
        return max(1, min(rows, max(threads, math.ceil(rows / ROWS_PER_PARTITION))))

    # --- seams ----------------------------------------------------------------------------

    def enrich(self, deposits: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Seam: the memory ``enrich`` per Hilbert-shuffled partition on the cluster."""
        client = self._require_client()
        n = len(deposits)
        if n == 0:
            return super().enrich(deposits)
        points = gpd.GeoDataFrame({_ROW: np.arange(n)}, geometry=deposits.geometry.values)
        points = points.set_crs(deposits.crs, allow_override=True)
        nparts = self._partitions(n)
        edges = np.linspace(0, n, nparts + 1).astype(np.int64)
        chunks = [points.iloc[a:b] for a, b in itertools.pairwise(edges)]
        # The chunks' boxes are their spatial partitions: ``hilbert_distance`` then has
        # concrete total bounds (a lazy total_bounds would be computed inside the tasks,
        # a nested compute that fails on a client that is not the process-wide default).
        boxes = gpd.GeoSeries([shapely.box(*c.total_bounds) for c in chunks], crs=deposits.crs)
        meta = _enrich_partition(points.iloc[:0], self._local)
        with client.as_current(), dask.config.set({"dataframe.convert-string": False}):
            # Scattered, not embedded in the graph: the points travel once.
            futures = client.scatter(chunks, hash=False)
            frame = dd.from_delayed(futures, meta=points.iloc[:0], verify_meta=False)
            frame.spatial_partitions = boxes
            shuffled = frame.spatial_shuffle(
                by="hilbert",
                level=HILBERT_LEVEL,
                calculate_partitions=False,
                npartitions=nparts,
                shuffle_method="tasks",
            )
            parts = shuffled.map_partitions(_enrich_partition, self._shared, meta=meta)
            columns = client.compute(parts).result()
        columns = columns.sort_values(_ROW, kind="stable")
        if not np.array_equal(columns[_ROW].to_numpy(), np.arange(n)):
            raise RuntimeError("dask enrich lost or duplicated deposits")
        columns.index = deposits.index
        out = deposits.copy()
        for column in ENRICHED_COLUMNS:
            out[column] = columns[column]
        return out

    def aggregate_cells(self, deposits: pd.DataFrame, grid: Grid) -> pd.DataFrame:
        """Seam: the memory aggregation per block of cells, then a concatenation."""
        client = self._require_client()
        pos = grid.locate(
            deposits["x_m"].to_numpy(),
            deposits["y_m"].to_numpy(),
            deposits["metric_epsg"].to_numpy(),
        )
        on = np.flatnonzero(pos >= 0)
        n = len(grid)
        if len(on) == 0:
            return super().aggregate_cells(deposits, grid)
        nparts = min(self._partitions(len(on)), n)
        block = pos[on] * nparts // n  # contiguous cell positions: disjoint blocks
        slim = pd.DataFrame({c: deposits[c].to_numpy() for c in _AGGREGATE_COLUMNS})
        parts = [slim.iloc[on[block == b]] for b in np.unique(block)]
        # Only what ``Grid.locate`` needs: no cell geometry travels.
        light = Grid(
            grid.spec,
            pd.DataFrame(grid.cells[["epsg", "col", "row"]]),
            np.empty(0, dtype=object),
            grid.reach_m,
        )
        grid_future = client.scatter(light, broadcast=True, hash=False)
        part_futures = client.scatter(parts, hash=False)
        futures = client.map(
            _aggregate_partition, part_futures, grid=grid_future, state=self._shared, pure=False
        )
        pieces = client.gather(futures)
        return _reduce_aggregates(pieces, grid.cells.index)


def _reduce_aggregates(pieces: list[pd.DataFrame], index: pd.Index) -> pd.DataFrame:
    """Blocks share no cell: concatenate, give empty cells zeros, order like memory."""
    joined = pd.concat(pieces, verify_integrity=True)
    base = [c for c in pieces[0].columns if not c.startswith("c_")]
    commodities = sorted({c for p in pieces for c in p.columns if c.startswith("c_")})
    out = joined.reindex(index=index, columns=[*base, *commodities]).fillna(0)
    for column in out.columns:
        if column != "evidence_sum":
            out[column] = out[column].astype(np.int64)
    return out


__all__ = ["DaskClusterError", "DaskEngine"]
