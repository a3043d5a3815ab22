"""Raster surfaces on disk, bounded by bytes: least recently used files are evicted.

Prospectivity surfaces are COGs named by everything they depend on
(``geo.rasters.prospectivity_cache_path``), so a filter's surface is computed once and
reused by every tile and across restarts. Without a bound, each new filter adds a file
for ever; :class:`SurfaceCache` keeps the files matching its pattern within
``budget_bytes`` by deleting the least recently used ones (by modification time, which
:meth:`touch` refreshes on use) after each new file.

A reader that opened a file keeps reading it after an eviction (POSIX unlink); a reader
that finds its file gone asks for the surface again, which recomputes it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

#: A used file's modification time is refreshed at most this often (seconds).
TOUCH_INTERVAL_S = 60.0


class SurfaceCache:
    """Files named ``pattern`` under ``directory``, at most ``budget_bytes`` in all."""

    def __init__(self, directory: Path, budget_bytes: int, pattern: str = "prospectivity-*.tif"):
        self.directory = Path(directory)
        self.budget_bytes = int(budget_bytes)
        self.pattern = pattern
        self.evicted = 0
        self._locks: dict[Path, threading.Lock] = {}
        self._guard = threading.Lock()
        self._touched: dict[Path, float] = {}

    def _lock_for(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(path, threading.Lock())

    def get_or_create(self, path: Path, create: Callable[[Path], None]) -> Path:
        """``path``, written by ``create(path)`` unless it exists (one writer per path);
        then the least recently used other files are evicted until the budget holds."""
        with self._lock_for(path):
            if path.exists():
                self.touch(path)
            else:
                self.directory.mkdir(parents=True, exist_ok=True)
                create(path)
        self.evict(keep=path)
        return path

    def touch(self, path: Path) -> None:
        """Mark ``path`` as used now (throttled to one ``utime`` per interval)."""
        now = time.monotonic()
        if now - self._touched.get(path, -TOUCH_INTERVAL_S) < TOUCH_INTERVAL_S:
            return
        self._touched[path] = now
        with contextlib.suppress(OSError):
            os.utime(path)

    def files(self) -> list[tuple[float, int, Path]]:
        """(mtime, size, path) of the cached files, oldest first."""
        out = []
        for path in self.directory.glob(self.pattern):
            with contextlib.suppress(OSError):
                st = path.stat()
                out.append((st.st_mtime, st.st_size, path))
        return sorted(out)

    def total_bytes(self) -> int:
        return sum(size for _, size, _ in self.files())

    def evict(self, keep: Path | None = None) -> int:
        """Delete the least recently used files until the total fits; the number deleted.

        ``keep`` (the file just written) is never deleted, even when alone over budget."""
        files = self.files()
        total = sum(size for _, size, _ in files)
        deleted = 0
        for _, size, path in files:
            if total <= self.budget_bytes:
                break
            if path == keep:
                continue
            try:
                path.unlink()
            except OSError as exc:
                log.info("could not evict %s: %s", path, exc)
                continue
            self._touched.pop(path, None)
            total -= size
            deleted += 1
        self.evicted += deleted
        return deleted
