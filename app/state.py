"""What requests are served from, and switching it when the store is rebuilt.

Everything derived from one store build (the store, the engine, the collection and raster
registries, the ranking service) is one immutable ``Snapshot``. ``ServingState`` holds
the current snapshot and:

* gives each request the snapshot current at its start (``acquire``/``release``, done
  by ``app.middleware.FedminMiddleware``), so one response never mixes two builds;
* watches the ``data/store`` link from a background thread (every
  ``FEDMIN_STORE_CHECK_INTERVAL_S``): when it points at another complete build, the new
  snapshot is loaded there, off the request path, and swapped in with one reference
  assignment. A build is complete once the link points at it: ``layers.store.build``
  writes into a staging directory and swaps the link only after validation;
* retires the old snapshot: it is closed (ranking threads stopped, engine closed, store
  lease released) once the last request using it has finished. Until then its
  ``StoreLease`` keeps later builds from pruning the directory it still reads lazily
  (rasters, prospectivity surfaces, the enrichment cache).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from app.collections import CollectionRegistry, RasterRegistry
from app.ranking_service import RankingService, default_workers
from app.settings import Settings
from geo.caches import arrow_on_the_c_heap, release_free_memory
from geo.engine import MemoryEngine, open_engine
from layers.store import Store, StoreLease, current_root, open_store

log = logging.getLogger("fedmin.state")

#: Where a request's snapshot is kept in its ASGI scope state (``request.state.snapshot``).
SNAPSHOT_KEY = "snapshot"


@dataclass(eq=False)
class Snapshot:
    """Everything served from one store build; shared by the requests that started on it."""

    store: Store
    engine: MemoryEngine
    collections: CollectionRegistry
    rasters: RasterRegistry
    rankings: RankingService
    lease: StoreLease
    users: int = field(default=0, repr=False)
    retired: bool = field(default=False, repr=False)

    @property
    def build_id(self) -> str:
        return self.store.build_id

    @property
    def root(self) -> Path:
        return Path(self.store.root)

    def close(self) -> None:
        self.rankings.close()
        self.engine.close()
        self.lease.release()


def load_snapshot(store: Store, settings: Settings) -> Snapshot:
    """Open the engine and registries over ``store`` (the slow part: seconds)."""
    arrow_on_the_c_heap()
    lease = store.lease()  # first: the build must not be pruned while it is loaded
    try:
        collections, engine = _open_engine_and_collections(store, settings)
        try:
            return Snapshot(
                store=store,
                engine=engine,
                collections=collections,
                rasters=RasterRegistry(store, engine, settings),
                rankings=RankingService(
                    engine,
                    settings.ranking_cache_bytes,
                    settings.ranking_workers or default_workers(),
                    settings.ranking_queue,
                    settings.ranking_time_budget_s,
                ),
                lease=lease,
            )
        except BaseException:
            engine.close()
            raise
    except BaseException:
        lease.release()
        raise


def _open_engine_and_collections(
    store: Store, settings: Settings
) -> tuple[CollectionRegistry, MemoryEngine]:
    """The engine opened on a thread while the collections that do not need it are built
    (300k deposits, the caches written: 7.8 s with the engine opened first, 6.9-7.4 s
    side by side); the engine is closed if the collections fail."""
    with ThreadPoolExecutor(1, thread_name_prefix="engine") as opener:
        opening = opener.submit(
            open_engine,
            store,
            settings.engine,
            settings.dask_scheduler,
            budgets=settings.engine_budgets(),
        )
        try:
            return CollectionRegistry(store, opening, settings), opening.result()
        except BaseException:
            with contextlib.suppress(Exception):
                opening.result().close()
            raise


def freeze_heap() -> None:
    """Collect once, then move every object alive to the permanent generation.

    Start-up leaves millions of long-lived objects (frames, geometries, encoded
    features); without this the first allocations of the first requests trigger a full
    collection over all of them. Unfreezing first lets a collection after a store switch
    reclaim the cycles of the snapshots frozen before.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class ServingState:
    """The current snapshot, request leases on it, and the store watcher."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._current = load_snapshot(open_store(settings.data_dir), settings)
        self._failed_root: Path | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def current(self) -> Snapshot:
        return self._current

    # --- requests -----------------------------------------------------------------------

    def acquire(self) -> Snapshot:
        """The current snapshot, kept open until the matching ``release``."""
        with self._lock:
            snapshot = self._current
            snapshot.users += 1
            return snapshot

    def release(self, snapshot: Snapshot) -> None:
        with self._lock:
            snapshot.users -= 1
            close = snapshot.retired and snapshot.users == 0
        if close:  # the last request of a retired build: trimming waits for no one
            self._close(snapshot)
            threading.Thread(target=release_free_memory, name="fedmin-trim", daemon=True).start()

    # --- switching builds ---------------------------------------------------------------

    def swap(self, snapshot: Snapshot) -> None:
        """Serve ``snapshot`` from now on; the old one closes when its last request ends."""
        with self._lock:
            old, self._current = self._current, snapshot
            old.retired = True
            close = old.users == 0
        log.info("now serving store build %s (was %s)", snapshot.build_id, old.build_id)
        if close:
            self._close(old)

    def refresh(self) -> bool:
        """Switch to the build ``data/store`` points at, if it is a new one; True if switched.

        A build that fails to load is logged and not retried until the link changes again
        (the old build keeps being served).
        """
        root = current_root(self.settings.data_dir)
        if root is None or root == self._current.root or root == self._failed_root:
            return False
        try:
            snapshot = load_snapshot(Store(root), self.settings)
        except Exception:
            log.exception(
                "cannot load store build %s; still serving %s", root, self.current.build_id
            )
            self._failed_root = root
            return False
        self._failed_root = None
        self.swap(snapshot)
        freeze_heap()  # collects the cycles of the old snapshot if it closed already
        release_free_memory()
        return True

    def start_watching(self) -> None:
        interval = self.settings.store_check_interval_s
        if interval <= 0 or self._watcher is not None:
            return
        self._watcher = threading.Thread(
            target=self._watch, args=(interval,), name="fedmin-store-watcher", daemon=True
        )
        self._watcher.start()

    def _watch(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.refresh()
            except Exception:  # the watcher must outlive any one bad check
                log.exception("store check failed")

    def close(self) -> None:
        """Stop watching and close the current snapshot (at shutdown)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
        with self._lock:
            current = self._current
            current.retired = True
            close = current.users == 0
        if close:
            self._close(current)

    @staticmethod
    def _close(snapshot: Snapshot) -> None:
        try:
            snapshot.close()
        except Exception:
            log.exception("closing store build %s failed", snapshot.build_id)
        log.info("closed store build %s", snapshot.build_id)
