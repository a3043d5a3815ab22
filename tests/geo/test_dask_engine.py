"""The dask engine returns exactly the memory engine's results, on the real data.

Both engines run with the cache off, so each really computes its enrichment (a cache
written by one engine would otherwise be read by the other). The equality tests use an
in-process ``LocalCluster`` (threads) for speed; one test reaches a separate cluster of
worker processes by its TCP address (pickling, broadcast, remote scheduler), and one
checks that the default cluster (worker processes) is shut down with the engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pytest
from distributed import Client, LocalCluster

from geo.caches import usable_cores
from geo.dask_engine import DaskClusterError, DaskEngine, local_cluster_kwargs
from geo.engine import ENRICHED_COLUMNS, MemoryEngine, open_engine
from geo.filters import DepositFilter
from geo.scoring import COMPONENTS, RankParams
from layers.schema import LayerKind
from tests.geo.conftest import ToyStore, toy_frames

#: One state each: a national ranking at these cell sizes exceeds the cell limit.
PARAMS = {
    "gold": RankParams(filter=DepositFilter(commodities="gold", state="NV"), top=50),
    "critical": RankParams(
        filter=DepositFilter(commodities="critical", state="CA"), shape="hex", cell_km=4.0, top=50
    ),
}


@pytest.fixture(scope="module")
def memory(real_store: Any) -> MemoryEngine:
    return MemoryEngine.from_store(real_store, cache=False)


@pytest.fixture(scope="module")
def dask_engine(real_store: Any) -> Iterator[DaskEngine]:
    # 4 partitions on 2 threads: several spatial partitions and cell blocks per run.
    with DaskEngine.from_store(real_store, cache=False, processes=False, npartitions=4) as engine:
        yield engine


def assert_same_deposits(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert got["id"].tolist() == want["id"].tolist()
    assert list(got.columns) == list(want.columns)
    for column in ("land_unit_ids", "land_unit_names", "agency", "designation", "mineral_entry"):
        assert got[column].tolist() == want[column].tolist(), column
    assert np.array_equal(got["metric_epsg"].to_numpy(), want["metric_epsg"].to_numpy())
    for column in [c for c in ENRICHED_COLUMNS if c.endswith("_m")]:
        np.testing.assert_allclose(got[column], want[column], rtol=0, atol=1e-6, err_msg=column)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=0, atol=1e-6)


def assert_same_ranking(got: Any, want: Any) -> None:
    a, b = got.all_cells, want.all_cells
    assert a.index.tolist() == b.index.tolist()  # same cells in the same (rank) order
    assert a["rank"].tolist() == b["rank"].tolist()
    for column in (*COMPONENTS, "score"):
        np.testing.assert_allclose(a[column], b[column], rtol=0, atol=1e-9, err_msg=column)
    assert a["pareto"].tolist() == b["pareto"].tolist()
    assert got.validation["auc"] == want.validation["auc"]
    assert got.validation == want.validation
    assert got.notes == want.notes
    # Everything else too (counts by status and commodity, distances, top deposits).
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=1e-9)
    pd.testing.assert_frame_equal(got.cells, want.cells, check_exact=False, rtol=0, atol=1e-9)


def test_enriched_deposits_equal_the_memory_engine(
    dask_engine: DaskEngine, memory: MemoryEngine
) -> None:
    got, want = dask_engine.deposits, memory.deposits
    assert len(got) == len(want) == 199565  # the sites of the 270,301 records
    assert (got["mineral_entry"] != "non_federal").any()
    assert_same_deposits(got, want)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_rank_equals_the_memory_engine(
    name: str, dask_engine: DaskEngine, memory: MemoryEngine
) -> None:
    params = PARAMS[name]
    got, want = dask_engine.rank(params), memory.rank(params)
    assert got.total_cells > 500 and got.validation["available"]
    assert_same_ranking(got, want)


def test_cell_aggregates_are_bit_identical(dask_engine: DaskEngine, memory: MemoryEngine) -> None:
    """Cell blocks share no cell, so even the float evidence sums are summed in the
    same order as in memory: equal without tolerance."""
    from geo import scoring

    params = RankParams(cell_km=10.0)
    deposits = memory.deposits.loc[memory.deposits["state"].eq("CA")]  # national: too many cells
    selected = deposits.assign(evidence_weight=scoring.evidence_weights(deposits, params))
    grid = memory.make_grid(selected.loc[selected["evidence_weight"] > 0], params)
    want = memory.aggregate_cells(selected, grid)
    got = dask_engine.aggregate_cells(selected, grid)
    assert want["n_deposits"].sum() > 5000
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_remote_scheduler_by_address(real_store: Any, memory: MemoryEngine) -> None:
    """Worker processes behind a TCP scheduler: the shared lands and lines are pickled,
    rebuilt per worker, and the results are still the memory engine's."""
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=":0"
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")
        engine = open_engine(real_store, "dask", scheduler=cluster.scheduler_address, cache=False)
        with engine:
            assert isinstance(engine, DaskEngine)
            assert engine.scheduler_address == cluster.scheduler_address
            assert_same_deposits(engine.deposits, memory.deposits)
            assert_same_ranking(engine.rank(PARAMS["gold"]), memory.rank(PARAMS["gold"]))
        assert engine.client is None
        # Closing the engine disconnects; it does not shut down a cluster it did not start.
        with Client(cluster.scheduler_address, set_as_default=False) as client:
            assert len(client.scheduler_info()["workers"]) == 1


def test_local_cluster_defaults() -> None:
    assert local_cluster_kwargs(2) == {"processes": False, "n_workers": 1, "threads_per_worker": 2}
    assert local_cluster_kwargs(1) == {"processes": False, "n_workers": 1, "threads_per_worker": 1}
    assert local_cluster_kwargs(16) == {"processes": True}  # dask's own default
    assert local_cluster_kwargs(2, processes=True, n_workers=2) == {
        "processes": True,
        "n_workers": 2,
    }


def test_default_engine_starts_and_closes_its_cluster(tmp_path: Any) -> None:
    store = ToyStore(root=tmp_path, frames=toy_frames())
    with open_engine(store, "dask", cache=False) as engine:
        cluster = engine._cluster
        assert cluster is not None and cluster.processes == (usable_cores() > 2)
        want = MemoryEngine.from_store(store, cache=False)
        assert_same_deposits(engine.deposits, want.deposits)
        params = RankParams(filter=DepositFilter(commodities="gold"))
        assert_same_ranking(engine.rank(params), want.rank(params))
    assert engine.client is None and cluster.status.name == "closed"
    with pytest.raises(DaskClusterError, match="closed"):
        engine.enrich(store.kind_frame(LayerKind.DEPOSITS))


def test_worker_processes_end_with_the_engine(tmp_path: Any) -> None:
    store = ToyStore(root=tmp_path, frames=toy_frames())
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with DaskEngine.from_store(store, cache=False, processes=True, n_workers=2) as engine:
        workers = {p.pid for p in psutil.Process().children(recursive=True)} - before
        assert len(workers) >= 2  # two nanny-managed worker processes
        assert len(engine.client.nthreads()) == 2
        want = MemoryEngine.from_store(store, cache=False)
        assert_same_deposits(engine.deposits, want.deposits)  # pickled state, same answers
    assert not _still_running(workers, timeout=10)


def _still_running(pids: set[int], timeout: float) -> list[psutil.Process]:
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            procs.append(psutil.Process(pid))
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def test_unreachable_scheduler_is_a_clear_error(real_store: Any) -> None:
    with pytest.raises(DaskClusterError, match="cannot reach the dask scheduler"):
        DaskEngine(real_store, scheduler="tcp://127.0.0.1:9", connect_timeout=1)
