"""Caches bounded by bytes, and the counters that make the engine's reuse observable.

The engine keeps several memos (ranking components per (filter, grid), grids, evidence
weights, finished rankings). Each is a :class:`ByteLRU`: least recently used entries are
dropped once the summed size of the entries passes the budget, so a server asked for
thousands of distinct filters holds at most its budgets, whatever the entry sizes. The
budgets are plain numbers here (``EngineBudgets``); ``app/settings.py`` fills them from
``FEDMIN_*`` settings, so ``geo`` never imports ``app``.

Sizes are estimates of what an entry keeps alive (``nbytes``): numpy arrays by their
buffers, pandas frames by ``memory_usage(deep=True)``, geometries by their coordinates.
An entry larger than the whole budget is computed and returned but not kept.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

V = TypeVar("V")

MIB = 1024 * 1024
#: What one geometry costs beyond its coordinates (GEOS object, Python wrapper).
GEOMETRY_OVERHEAD_BYTES = 200
#: Object arrays and lists are sized from this many values (their mean times the length).
SAMPLE = 16


@dataclass(frozen=True)
class EngineBudgets:
    """Byte budgets of the engine's in-memory caches (defaults for library use)."""

    #: Weight-independent ranking components per (filter, grid).
    components_bytes: int = 512 * MIB
    #: Base grids per (cell spec, kernel reach) with their filter-independent columns.
    grids_bytes: int = 512 * MIB
    #: Evidence weights per (filter, commodity and status weights).
    evidence_bytes: int = 64 * MIB
    #: Finished rankings (weighted scores, order, explanations).
    rankings_bytes: int = 256 * MIB
    #: A store-wide base grid larger than this is not built (each filter builds its own).
    base_grid_max_cells: int = 400_000
    #: Store-wide grids and their cell statics kept on disk beside the store (the least
    #: recently used are deleted beyond this).
    grid_files_bytes: int = 1024 * MIB
    #: Ranking components per (filter, grid) kept on disk beside the store
    #: (``geo.component_files``); 0 neither reads nor writes them.
    component_files_bytes: int = 2048 * MIB


def nbytes(value: Any) -> int:
    """Approximate bytes kept alive by ``value`` (see the module docstring)."""
    if value is None or isinstance(value, bool | int | float):
        return 8
    if isinstance(value, str | bytes):
        return len(value) + 49
    if isinstance(value, np.ndarray):
        if value.dtype == object and value.size:
            sample = value.ravel()[: min(value.size, SAMPLE)]
            if isinstance(sample[0], shapely.Geometry):
                coords = int(shapely.get_num_coordinates(value.ravel()).sum())
                return value.nbytes + 16 * coords + GEOMETRY_OVERHEAD_BYTES * value.size
            per = sum(nbytes(v) for v in sample) / len(sample)
            return value.nbytes + int(per * value.size)
        return value.nbytes
    if isinstance(value, pa.Array | pa.ChunkedArray):
        return int(value.nbytes)
    if isinstance(value, pd.DataFrame):
        total = 0
        for name in value.columns:
            total += nbytes(value[name])
        return total + int(value.index.memory_usage(deep=True))
    if isinstance(value, pd.Series):
        if value.dtype == object or str(value.dtype) == "geometry":
            return nbytes(np.asarray(value.to_numpy(), dtype=object)) + value.index.nbytes
        return int(value.memory_usage(deep=True))
    if isinstance(value, pd.Index):
        return int(value.memory_usage(deep=True))
    if isinstance(value, Mapping):
        return sum(nbytes(k) + nbytes(v) for k, v in value.items()) + 64
    if isinstance(value, list | tuple):
        sample = value[:SAMPLE]
        per = sum(nbytes(v) for v in sample) / len(sample) if sample else 0
        return 56 + 8 * len(value) + int(per * len(value))
    if is_dataclass(value):
        return sum(nbytes(getattr(value, f.name)) for f in fields(value))
    return 64


class ByteLRU(Generic[V]):
    """A thread-safe LRU bounded by the summed ``nbytes`` of its values."""

    def __init__(
        self,
        name: str,
        budget_bytes: int,
        stats: Counter[str] | None = None,
        sizer: Callable[[V], int] = nbytes,
    ):
        self.name = name
        self.budget_bytes = int(budget_bytes)
        self.sizer = sizer
        self.stats: Counter[str] = stats if stats is not None else Counter()
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        #: One lock per key being computed, so concurrent misses compute once.
        self._pending: dict[Hashable, threading.Lock] = {}

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            self.stats[f"{self.name}.hit"] += 1
            return hit[0]

    def put(self, key: Hashable, value: V, size: int | None = None) -> None:
        size = self.sizer(value) if size is None else int(size)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.budget_bytes:
                self.stats[f"{self.name}.too_large"] += 1
                return
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.budget_bytes and self._items:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped
                self.stats[f"{self.name}.evicted"] += 1

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The cached value, or ``compute()`` once (concurrent callers wait for it)."""
        hit = self.get(key)
        if hit is not None:
            return hit
        with self._lock:
            pending = self._pending.setdefault(key, threading.Lock())
        with pending:
            hit = self.get(key)
            if hit is not None:
                return hit
            self.stats[f"{self.name}.miss"] += 1
            value = compute()
            self.put(key, value)
        with self._lock:
            self._pending.pop(key, None)
        return value

    def discard(self, key: Hashable) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


def total_bytes(caches: Iterable[ByteLRU[Any]]) -> int:
    return sum(c.bytes for c in caches)


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``; a no-op
    elsewhere). glibc keeps freed pages in its arenas, so a process stays at the peak of
    its transient work for ever: after a store switch, the peak of two builds (2.48 GiB
    instead of 2.22 on the 8.5k store); after the national store's first ranking (the
    store-wide grid and its cell statics), 3.9 GiB where 3.0 were in use. Called after
    such one-off work, never per request (a trim took 5 ms after a national enrichment)."""
    libc = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None
    if trim is not None:
        trim(0)


def arrow_on_the_c_heap() -> None:
    """Allocate Arrow's buffers with the C heap's ``malloc``, so ``release_free_memory``
    returns them too: pyarrow's own allocator (mimalloc) kept the transient buffers of
    reading the store, 150 to 200 MB after a start at 300k deposits (kept RSS 1,640 ->
    1,440-1,510 MiB, start time unchanged); its own release crashed the process at exit
    in 2 of 6 runs. Process-wide; call before the store is read."""
    pa.set_memory_pool(pa.system_memory_pool())


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1
