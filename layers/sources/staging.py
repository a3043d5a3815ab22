"""All-or-nothing writes shared by every source adapter and the mirror copy.

A file is written to a hidden ``.part`` temp file beside its target, fsynced and hashed on
the way, and only ``os.replace``-d into place by :meth:`Staging.commit`, together with the
other files of the same unit of work (a shapefile and its sidecars). Anything not committed
is removed when the ``with`` block ends, so an interrupted or failed transfer leaves nothing
half-written. A finished resumable download (``layers/sources/http_file.py``) or a merged
set of pages (``layers/sources/arcgis.py``) is *adopted* into the same commit.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

CHUNK = 1 << 20


@dataclass
class Staged:
    tmp: Path
    target: Path
    sha256: str
    size: int


class Staging:
    """Temp files of one unit of work, committed together or removed together."""

    def __init__(self) -> None:
        self._files: list[Staged] = []
        self._pending: list[Path] = []

    def __enter__(self) -> Staging:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()

    def write(self, target: Path, chunks: Iterable[bytes]) -> Staged:
        """Write ``chunks`` to a fsynced temp file beside ``target``, hashing on the way."""
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with tempfile.NamedTemporaryFile(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
        ) as fh:
            tmp = Path(fh.name)
            self._pending.append(tmp)
            for chunk in chunks:
                fh.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        staged = Staged(tmp, target, digest.hexdigest(), size)
        self._files.append(staged)
        return staged

    def adopt(self, finished: Path, target: Path) -> Staged:
        """Stage an already complete file (a resumed download) to be moved to ``target``.

        ``finished`` must be on the same file system as ``target`` (both lie under the raw
        data directory), so the move at commit is one atomic rename. It is not removed on
        discard: it is the resumable state of a transfer.
        """
        digest, size = hash_file(finished)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = Staged(finished, target, digest, size)
        self._files.append(staged)
        return staged

    def commit(self) -> None:
        """Move every staged file into place (same file system, so each move is atomic)."""
        for staged in self._files:
            os.replace(staged.tmp, staged.target)
            if staged.tmp in self._pending:
                self._pending.remove(staged.tmp)
        for directory in {s.target.parent for s in self._files}:
            fsync_dir(directory)
        self._files.clear()

    def discard(self) -> None:
        for tmp in self._pending:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self._pending.clear()
        self._files.clear()


def write_atomic(target: Path, payload: bytes) -> None:
    """One small file (a page, a record) written whole or not at all."""
    with Staging() as staging:
        staging.write(target, [payload])
        staging.commit()


def remove_tree(path: Path) -> None:
    """Remove a partial-work directory, and its parents as far as they are left empty."""
    shutil.rmtree(path, ignore_errors=True)
    prune_empty(path.parent)


def prune_empty(directory: Path) -> None:
    """Remove ``directory`` and its parents as long as they are empty."""
    for folder in (directory, *directory.parents):
        try:
            folder.rmdir()
        except OSError:
            break


def read_chunks(fh: Any) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK):
        yield chunk


def hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in read_chunks(fh):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def fsync_dir(directory: Path) -> None:
    """Make renames durable; best effort (not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
