"""Rankings for the HTTP layer and the CLI: a cached, time-budgeted ranking service and
the shortlist (top cells plus their deposits, with provenance) built from a ranking.

Not a router: ``app/routers/rankings.py`` and ``shortlist.py`` validate and encode, the
CLI's ``fedmin rank --out`` writes the same shortlist files.

* finished rankings keyed by (store build id, ranking parameters) in an LRU bounded by
  bytes (``ranking_cache_bytes``), so the map's re-ranks and the shortlist downloads of
  the same parameters reuse one computation; the computations in flight are kept apart
  (at most ``workers + queue``), so concurrent identical requests share one too;
* the encoded response of each (ranking, ``top``) asked for, bounded by a quarter of that
  budget again, so a repeated request is a lookup rather than a re-serialization of
  hundreds of cells;
* a per-request time budget (``ranking_time_budget_s``, counted from the request's
  arrival, queueing included): a ranking that does not finish in time raises
  ``TimeBudgetExceededError`` (a 503 with ``Retry-After``). The computation is not
  killed: it completes in the background and lands in the cache, so retrying the same
  request later is fast;
* admission: the rankings' own executor sized to the cores and a bounded queue; a
  request beyond it is refused at once (503, ``RankingOverloadedError``), so a burst of
  rankings never holds the threads or the event loop the cheap endpoints need.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np

from app.collections import CRITICAL_LIST_COLUMNS
from app.exports import Shortlist
from geo.caches import ByteLRU, nbytes, usable_cores
from geo.engine import MemoryEngine
from geo.filters import critical_flags
from geo.grid import point_cell_ids
from geo.scoring import RankParams, RankResult
from layers.critical import critical_list_info
from layers.errors import RankingOverloadedError, TimeBudgetExceededError

#: Metric bookkeeping of the grid and the scoring inputs that are not meant for clients.
CELL_INTERNAL_COLUMNS = ("epsg", "x_m", "y_m")
DEPOSIT_INTERNAL_COLUMNS = ("metric_epsg", "x_m", "y_m", "evidence_weight", "details")
T = TypeVar("T")


# --- the ranking service ----------------------------------------------------------------------


#: Distinguishes computations of one key: encoded bytes are reused for their own only.
_SERIALS = itertools.count()


@dataclass(frozen=True)
class Ranking:
    """A computed ranking and when it was computed (stable across cache hits)."""

    result: RankResult
    ranked_at: str
    serial: int = 0
    #: What the service's byte budget counts for it (its ``sizer``).
    size: int = 0


def default_workers() -> int:
    """The ranking executor's size by default: the cores this process may run on, less
    one for the event loop (the cheap requests), at least one. Rankings are partly pure
    Python: more threads than that only take the GIL from the event loop."""
    return max(1, usable_cores() - 1)


class RankingService:
    """Rankings for the HTTP layer: finished rankings in an LRU bounded by bytes, keyed by
    (build id, params), one computation per key at a time, each request waiting at most
    its time budget.

    Admission: rankings run in this service's own executor of ``workers`` threads, never
    in the thread pool the cheap endpoints use, and at most ``workers + queue`` new
    computations are pending (running or queued) at once. A request that would need one
    more is refused at once with ``RankingOverloadedError`` (a 503 with Retry-After) rather
    than queued for minutes. The follow-up work of a request (encoding, a cell's
    contributors, a shortlist file) runs in a second executor of as many threads, and a
    request's deadline counts its queueing as well as its computing.
    """

    def __init__(
        self,
        engine: MemoryEngine,
        cache_bytes: int,
        workers: int,
        queue: int = 0,
        budget_s: float = 60.0,
        sizer: Callable[[Ranking], int] = nbytes,
    ):
        self.engine = engine
        self.budget_s = budget_s  # for the messages: callers pass their deadline
        self.workers = workers
        self.queue = queue
        self.sizer = sizer
        self.stats: Counter[str] = Counter()
        #: Finished rankings; the encoded responses, by (build id, params key, variant):
        #: the serial of the ranking they encode and the bytes.
        self._done: ByteLRU[Ranking] = ByteLRU(
            "rankings", cache_bytes, self.stats, lambda ranking: ranking.size
        )
        self._encoded: ByteLRU[tuple[int, bytes]] = ByteLRU(
            "encoded", cache_bytes // 4, self.stats, lambda hit: len(hit[1]) + 100
        )
        #: Computations running or queued (bounded by the admission).
        self._running: dict[tuple[str, str], Future[Ranking]] = {}
        self._lock = threading.RLock()  # RLock: a done callback may run inside ``submit``
        self._pending = 0  # ranking computations submitted and not finished
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="fedmin-rank")
        #: Follow-ups (encoding, shortlist files) have their own threads, so the answer
        #: of a cached ranking never waits behind a long computation.
        self._respond = ThreadPoolExecutor(workers, thread_name_prefix="fedmin-respond")

    @property
    def build_id(self) -> str:
        return self.engine.store.build_id

    def _compute(self, params: RankParams) -> Ranking:
        """The ranking, sized here in the ranking thread (about 60 ms for a national one)
        rather than on the event loop or under the service's lock."""
        result = self.engine.rank(params)
        ranking = Ranking(result, datetime.now(UTC).isoformat(timespec="seconds"), next(_SERIALS))
        return replace(ranking, size=self.sizer(ranking))

    def _finished(self, key: tuple[str, str], future: Future[Ranking]) -> None:
        """Free the computation's admission slot and keep its ranking (within the byte
        budget); a failure is not kept (the next request tries again)."""
        with self._lock:
            self._pending -= 1
            self._running.pop(key, None)
            if not future.cancelled() and future.exception() is None:
                ranking = future.result()
                self._done.put(key, ranking, ranking.size)

    def _future(self, params: RankParams) -> Future[Ranking]:
        """The finished or running computation of ``params``, else a new one if admitted."""
        key = (self.build_id, params.key())
        with self._lock:
            ranking = self._done.get(key)
            if ranking is not None:
                done: Future[Ranking] = Future()
                done.set_result(ranking)
                return done
            future = self._running.get(key)
            if future is not None:
                return future
            if self._pending >= self.workers + self.queue:
                raise RankingOverloadedError(
                    f"{self._pending} rankings are computing or queued, the most this server "
                    f"takes ({self.workers} computing, {self.queue} waiting); retry later"
                )
            self._pending += 1
            future = self._running[key] = self._pool.submit(self._compute, params)
        future.add_done_callback(partial(self._finished, key))
        return future

    async def rank(self, params: RankParams, deadline: float) -> Ranking:
        """The ranking for ``params``; ``TimeBudgetExceededError`` past ``deadline`` (a
        ``time.monotonic()`` instant), ``RankingOverloadedError`` when not admitted."""
        return await _wait(self._future(params), deadline, "the ranking", self.budget_s)

    async def run(self, work: Callable[[], T], deadline: float) -> T:
        """``work()`` (an admitted request's follow-up) in the ranking executor."""
        return await _wait(self._respond.submit(work), deadline, "the response", self.budget_s)

    def cached_encoding(self, params: RankParams, variant: Hashable) -> bytes | None:
        """The response bytes of a finished, cached ranking for ``variant`` (see
        ``encoded``), if encoded."""
        key = (self.build_id, params.key())
        with self._lock:
            ranking = self._done.get(key)
            hit = self._encoded.get((*key, variant))
            if ranking is None or hit is None or hit[0] != ranking.serial:
                return None  # not finished, evicted, or recomputed since
            return hit[1]

    def encoded(
        self, params: RankParams, variant: Hashable, ranking: Ranking, encode: Callable[[], bytes]
    ) -> bytes:
        """The response bytes of ``ranking`` for ``variant`` (``top``, and what else shapes
        the answer): ``encode()`` once, then reused while the same computation is cached
        (a recomputed ranking is encoded again)."""
        key = (self.build_id, params.key(), variant)
        hit = self._encoded.get(key)
        if hit is not None and hit[0] == ranking.serial:
            return hit[1]
        body = encode()  # outside any lock: encoding takes milliseconds
        self._encoded.put(key, (ranking.serial, body))
        return body

    def cached(self) -> int:
        """Finished rankings kept."""
        return len(self._done)

    def pending(self) -> int:
        with self._lock:
            return self._pending

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._respond.shutdown(wait=False, cancel_futures=True)


async def _wait(future: Future[T], deadline: float, what: str, budget_s: float) -> T:
    """``future``'s result, awaited on the event loop (no thread is held while waiting),
    or ``TimeBudgetExceededError`` at ``deadline``. The work is not cancelled: a ranking
    completes in the background and lands in the cache."""
    if future.done():
        return future.result()
    remaining = deadline - time.monotonic()
    try:
        if remaining <= 0:
            raise TimeoutError
        return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), remaining)
    except TimeoutError as exc:
        raise TimeBudgetExceededError(
            f"{what} did not finish within the time budget of {budget_s:g} s (time queued "
            "included); it keeps computing and will be cached: retry the same request later"
        ) from exc


# --- what clients see ----------------------------------------------------------------


def echo_params(result: RankResult, top: int) -> dict[str, Any]:
    """The parameters of a response: the ranking's own, with the ``top`` actually asked."""
    return {**result.params, "top": top}


def client_cells(cells: gpd.GeoDataFrame, top: int | None = None) -> gpd.GeoDataFrame:
    """The best ``top`` cells without the grid's metric bookkeeping."""
    cells = cells if top is None else cells.head(top)
    return cells.drop(columns=[c for c in CELL_INTERNAL_COLUMNS if c in cells.columns])


def client_deposits(deposits: gpd.GeoDataFrame, critical_list: str) -> gpd.GeoDataFrame:
    """Deposits as clients see them: ``critical`` under the request's list, without the
    scoring bookkeeping and the per-list flags."""
    internal = (*DEPOSIT_INTERNAL_COLUMNS, *CRITICAL_LIST_COLUMNS)
    deposits = deposits.assign(critical=critical_flags(deposits, critical_list))
    return deposits.drop(columns=[c for c in internal if c in deposits.columns])


def provenance(ranking: Ranking, top: int) -> dict[str, Any]:
    """What every ranking response and file says about where it came from."""
    result = ranking.result
    return {
        "params": echo_params(result, top),
        "critical_list": critical_list_info(result.params["filter"]["critical_list"]),
        "manifest": result.manifest,
        "validation": result.validation,
        "notes": result.notes,
        "ranked_at": ranking.ranked_at,
        "total_cells": result.total_cells,
    }


# --- shortlists ------------------------------------------------------------------------


def build_shortlist(
    engine: MemoryEngine, ranking: Ranking, params: RankParams, top: int, query: str
) -> Shortlist:
    """The best ``top`` cells with the ids of their deposits, and those deposits (the ones
    the filter keeps, i.e. the ones a cell's ``n_deposits`` counts)."""
    cells = client_cells(ranking.result.cells, top).reset_index(drop=True)
    deposits = engine.deposits
    deposits = deposits.loc[params.filter.mask(deposits)]
    cell_of = point_cell_ids(
        deposits["x_m"].to_numpy(float),
        deposits["y_m"].to_numpy(float),
        deposits["metric_epsg"].to_numpy(),
        params.spec,
    )
    inside = np.isin(cell_of, cells["cell_id"].to_numpy(dtype=object))
    rank_of = dict(zip(cells["cell_id"], cells["rank"], strict=True))
    deposits = (
        client_deposits(deposits.loc[inside], params.filter.critical_list)
        .rename(columns={"id": "deposit_id"})
        .assign(cell_id=cell_of[inside])
    )
    deposits = deposits.assign(_rank=deposits["cell_id"].map(rank_of))
    deposits = deposits.sort_values(["_rank", "deposit_id"]).drop(columns="_rank")
    first = ["deposit_id", "cell_id"]
    deposits = gpd.GeoDataFrame(
        deposits[first + [c for c in deposits.columns if c not in first]].reset_index(drop=True),
        geometry="geometry",
        crs=4326,
    )
    ids = deposits.groupby("cell_id", sort=False)["deposit_id"].agg(list)
    cells["deposit_ids"] = [ids.get(cell_id, []) for cell_id in cells["cell_id"]]
    metadata = shortlist_metadata(ranking, top, query, len(cells), len(deposits))
    return Shortlist(cells=cells, deposits=deposits, metadata=metadata)


def shortlist_metadata(
    ranking: Ranking, top: int, query: str, n_cells: int, n_deposits: int
) -> dict[str, Any]:
    """The provenance written into every file (and served as the CSV sidecar)."""
    prov = provenance(ranking, top)
    manifest = prov.pop("manifest")
    return {
        "title": "fedmin shortlist: cells with high mineral potential and low development",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_id": manifest["build_id"],
        "built_at": manifest.get("built_at"),
        **prov,
        "sources": manifest["sources"],
        "absent": manifest.get("absent", {}),
        "query": query,
        "cells": n_cells,
        "deposits": n_deposits,
    }
