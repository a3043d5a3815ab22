"""``fedmin data fetch``: put every catalog source file into the raw data directory.

Each ``Source`` file lands at ``raw_dir / mirror_path``, copied from a local mirror when the
mirror holds it; otherwise its official ``url`` is downloaded into ``raw_dir / "downloads"``
(kept as published: a zip stays a zip and readers open it through ``/vsizip/``).
:func:`resolve_source_path` tells readers which of the two to open.

Why it is careful:

* **Atomic writes.** Every file is written to a hidden ``.part`` temp file in its target
  directory, fsynced, verified, and only then ``os.replace``-d into place. The files of one
  source (a shapefile and its sidecars) are verified together and committed together, so an
  interrupted, truncated or corrupt transfer leaves nothing half-written, and a ``.shp``
  never appears without the ``.dbf`` of the same fetch. ``fetch.json`` is written the same
  way, after each source, so it never describes files that are not there.
* **Pins.** The catalog pins the sha256 of the regional extracts kept in the mirror. A pin
  is compared whenever the bytes written are meant to *be* the pinned file: every mirror
  copy (main file and companions), and a download that is not an archive (e.g. the
  us-atlas TopoJSON, the same versioned file either way). An archive download
  (``archive_member`` set) is the official national original the extract was cut from, so
  the pin cannot apply; its sha256 is computed and recorded in ``fetch.json`` instead. A
  mismatch raises :class:`ChecksumMismatchError` and keeps nothing of that source.
* **Skips.** A file already present is skipped when it verifies: against its pin, or, for
  unpinned files and downloads, against the sha256 recorded in ``fetch.json``.
* **Folder sources.** A MinMod dataset is a folder of hash buckets (``Source.is_folder``):
  every bucket is copied from the mirror and its *decompressed* content checked against
  the checksum list the catalog pins (``CONTENT.sha256``); the folder is staged in a hidden
  ``.<name>.*.part`` sibling and renamed into place whole. See ``_Fetcher._fetch_folder``.
* **Gaps, not failures, for optional layers.** An optional layer whose file cannot be
  found or downloaded (:class:`SourceMissingError`, :class:`FetchError`) is recorded as
  absent with the reason and a warning is logged; everything downstream reports the gap.
  A checksum mismatch always raises, optional or not: a corrupt mirror is not a gap.
  For required layers the first failure raises (after removing its temp files).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import httpx
from tqdm import tqdm

from layers.catalog import Layer, Source
from layers.errors import ChecksumMismatchError, FetchError, SourceMissingError
from layers.minmod import bucket_files, read_content_list

log = logging.getLogger(__name__)

#: Name of the fetch record inside ``raw_dir``.
FETCH_RECORD = "fetch.json"
#: Sub-directory of ``raw_dir`` holding official downloads, named after their URL.
DOWNLOADS_DIR = "downloads"

_CHUNK = 1 << 20
_USER_AGENT = "fedmin-data-fetch/0.1"

Origin = Literal["mirror", "url"]


# --- report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchedFile:
    """A file that is in ``raw_dir`` after the fetch (fetched now or skipped as verified)."""

    layer_id: str
    mirror_path: str
    origin: Origin
    #: Path relative to ``raw_dir`` actually holding the data.
    path: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class AbsentFile:
    """A file of an optional layer that could not be fetched, and why."""

    layer_id: str
    mirror_path: str
    reason: str


@dataclass
class FetchReport:
    """What one :func:`fetch` did, for the CLI to print."""

    fetched: list[FetchedFile] = field(default_factory=list)
    skipped: list[FetchedFile] = field(default_factory=list)
    absent: list[AbsentFile] = field(default_factory=list)

    def summary(self) -> str:
        """One line per file, then the totals."""
        lines = [f"fetched  {f.mirror_path} ({f.origin}, {f.bytes} bytes)" for f in self.fetched]
        lines += [f"present  {f.mirror_path}" for f in self.skipped]
        lines += [f"ABSENT   {a.mirror_path} (layer {a.layer_id}): {a.reason}" for a in self.absent]
        lines.append(
            f"{len(self.fetched)} fetched, {len(self.skipped)} already present, "
            f"{len(self.absent)} absent"
        )
        return "\n".join(lines)


# --- public API --------------------------------------------------------------------------


def fetch(
    layers: Iterable[Layer],
    raw_dir: Path,
    mirror_dir: Path | None,
    *,
    progress: bool = True,
    timeout: float = 60.0,
    download: bool = True,
) -> FetchReport:
    """Fetch every source file of ``layers`` into ``raw_dir`` and record it in fetch.json.

    ``mirror_dir`` is the local mirror (``FEDMIN_DATA_MIRROR``), preferred to the network.
    ``timeout`` bounds each network operation (connect, each read), not a whole download.
    ``download=False`` never touches the network (tests, air-gapped machines): a source the
    mirror lacks is then missing, which optional layers record as absent.
    Raises ``ChecksumMismatchError``, ``FetchError`` or ``SourceMissingError`` for required
    layers; see the module docstring for the rules.
    """
    raw_dir = Path(raw_dir)
    mirror = Path(mirror_dir) if mirror_dir is not None else None
    raw_dir.mkdir(parents=True, exist_ok=True)
    records = _load_records(raw_dir)
    report = FetchReport()
    client = httpx.Client(
        follow_redirects=True,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": _USER_AGENT},
    )
    fetcher = _Fetcher(raw_dir, mirror, records, report, client, progress, timeout, download)
    try:
        for entry in layers:
            for source in entry.sources:
                before = json.dumps(records, sort_keys=True)
                try:
                    fetcher.fetch_source(entry, source)
                except (SourceMissingError, FetchError) as exc:
                    if not entry.optional:
                        raise
                    fetcher.mark_absent(entry, source, str(exc))
                finally:
                    if json.dumps(records, sort_keys=True) != before:
                        _write_records(raw_dir, records)
    finally:
        client.close()
    return report


def resolve_source_path(raw_dir: Path, source: Source) -> str | None:
    """The GDAL-openable path of a fetched source, or None when it has not been fetched.

    The mirror copy at ``raw_dir / mirror_path`` wins (it is what the catalog's columns and
    options describe); else the official download, opened inside its zip through
    ``/vsizip/`` when the source names an ``archive_member``.
    """
    raw_dir = Path(raw_dir)
    copy = raw_dir / source.mirror_path
    if source.is_folder:
        return str(copy.absolute()) if copy.is_dir() and bucket_files(copy) else None
    if copy.is_file():
        if source.archive_member and copy.suffix.lower() == ".zip":
            return _vsizip(copy, source.archive_member)
        return str(copy.absolute())
    download = raw_dir / DOWNLOADS_DIR / _download_name(source)
    if download.is_file():
        if source.archive_member:
            return _vsizip(download, source.archive_member)
        return str(download.absolute())
    return None


# --- the work ----------------------------------------------------------------------------


@dataclass
class _Fetcher:
    """State shared by the sources of one fetch run."""

    raw_dir: Path
    mirror: Path | None
    records: dict[str, dict[str, Any]]
    report: FetchReport
    client: httpx.Client
    progress: bool
    timeout: float
    download: bool

    def fetch_source(self, entry: Layer, source: Source) -> None:
        """Skip, copy from the mirror, or download one source with its companions."""
        if source.is_folder:
            self._fetch_folder(entry, source)
            return
        files: list[tuple[str, str | None]] = [(source.mirror_path, source.sha256)]
        files += list(source.companions)

        present = {mp: self._verified_copy(mp, pin) for mp, pin in files}
        todo = [(mp, pin) for mp, pin in files if present[mp] is None]
        if not todo:
            self._skip_copies(entry, source, present)
            return

        mirror = self.mirror
        if mirror is not None and all((mirror / mp).is_file() for mp, _ in todo):
            self._copy_from_mirror(entry, source, todo, mirror)
            self._skip_copies(entry, source, present)
            return

        if self._skip_download(entry, source):
            return
        missing = [mp for mp, _ in todo if mirror is None or not (mirror / mp).is_file()]
        if source.direct_download and not self.download:
            why = "downloads are switched off (offline)"
            raise SourceMissingError(self._missing_message(entry, source, missing, why))
        if source.direct_download:
            if source.companions and not source.archive_member:
                why = "companion files have no download URL of their own"
                raise SourceMissingError(self._missing_message(entry, source, missing, why))
            self._download(entry, source)
            return
        why = "the publisher offers no direct download"
        raise SourceMissingError(self._missing_message(entry, source, missing, why))

    def mark_absent(self, entry: Layer, source: Source, reason: str) -> None:
        """Record an optional source as absent and carry on."""
        log.warning("optional layer %s: %s", entry.id, reason)
        for mp in [source.mirror_path, *(c for c, _ in source.companions)]:
            self.records[mp] = {"absent": reason}
            self.report.absent.append(AbsentFile(entry.id, mp, reason))

    # -- mirror copies ------------------------------------------------------------------

    def _verified_copy(self, mirror_path: str, pin: str | None) -> tuple[str, int] | None:
        """(sha256, bytes) of ``raw_dir/mirror_path`` if present and it verifies, else None.

        It verifies against the pin, or, unpinned, against the sha256 fetch.json recorded
        for that very path; an unpinned file with no record cannot be trusted.
        """
        path = self.raw_dir / mirror_path
        if not path.is_file():
            return None
        expected = pin
        if expected is None:
            record = self.records.get(mirror_path, {})
            if record.get("path") == mirror_path:
                expected = record.get("sha256")
        if expected is None:
            return None
        digest, size = _hash_file(path)
        return (digest, size) if digest == expected else None

    def _skip_copies(
        self, entry: Layer, source: Source, present: dict[str, tuple[str, int] | None]
    ) -> None:
        """Report the verified files as skipped, recording any that fetch.json lacks."""
        for mirror_path, known in present.items():
            if known is None:
                continue
            digest, size = known
            record = self.records.get(mirror_path)
            if (
                record is None
                or record.get("path") != mirror_path
                or record.get("sha256") != digest
            ):
                # Present and pinned but unrecorded (e.g. put there by hand): describe it.
                self.records[mirror_path] = self._record(
                    "mirror", mirror_path, digest, size, source.url
                )
            self.report.skipped.append(
                FetchedFile(entry.id, mirror_path, "mirror", mirror_path, digest, size)
            )

    def _copy_from_mirror(
        self,
        entry: Layer,
        source: Source,
        todo: list[tuple[str, str | None]],
        mirror: Path,
    ) -> None:
        """Copy the missing files of one source from the mirror, all verified or none."""
        done: list[FetchedFile] = []
        with _Staging() as staging:
            for mirror_path, pin in todo:
                src = mirror / mirror_path
                target = self.raw_dir / mirror_path
                try:
                    expected_size = src.stat().st_size
                    with (
                        src.open("rb") as fh,
                        self._bar(target.name, expected_size) as bar,
                    ):
                        staged = staging.write(target, _counted(_read_chunks(fh), bar))
                except OSError as exc:
                    raise FetchError(f"could not copy {mirror_path} from {src}: {exc}") from exc
                if staged.size != expected_size:
                    raise FetchError(
                        f"copy of {mirror_path} from {src} is incomplete: "
                        f"{staged.size} of {expected_size} bytes"
                    )
                if pin is not None and staged.sha256 != pin:
                    raise ChecksumMismatchError(
                        f"{mirror_path}: the mirror copy {src} does not match the catalog pin: "
                        f"expected sha256 {pin}, got {staged.sha256}"
                    )
                done.append(
                    FetchedFile(
                        entry.id, mirror_path, "mirror", mirror_path, staged.sha256, staged.size
                    )
                )
            staging.commit()
        for item in done:
            self.records[item.mirror_path] = self._record(
                "mirror", item.path, item.sha256, item.bytes, source.url
            )
            self.report.fetched.append(item)

    # -- folder sources (MinMod bucket folders) -----------------------------------------

    def _fetch_folder(self, entry: Layer, source: Source) -> None:
        """Copy one bucket folder from the mirror, every bucket verified, all or nothing.

        Each bucket's decompressed content must match the sha256 the source's checksum
        list (itself pinned by ``source.sha256``) gives for it, and the folder must hold
        exactly the buckets the list names. The copy is staged in a hidden sibling folder
        and renamed into place, so an interrupted or failed copy leaves the previous
        folder (or none) behind. A folder already present is skipped when its files match
        the per-file sha256 that fetch.json recorded when it was copied.
        """
        target = self.raw_dir / source.mirror_path
        record = self.records.get(source.mirror_path, {})
        if target.is_dir() and record.get("files") and _folder_matches(target, record["files"]):
            self.report.skipped.append(
                FetchedFile(
                    entry.id,
                    source.mirror_path,
                    "mirror",
                    source.mirror_path,
                    record["sha256"],
                    record["bytes"],
                )
            )
            return
        mirror = self.mirror
        if mirror is None or not (mirror / source.mirror_path).is_dir():
            where = f"not in the mirror {mirror}" if mirror else "no mirror was given"
            raise SourceMissingError(
                f"{source.mirror_path} (layer {entry.id}) is missing: {where}, and bucket "
                f"folders have no download adapter yet. Get the folder from {source.url} "
                "and put it in the mirror, then run `fedmin data fetch` again."
            )
        expected = _folder_listing(mirror, source)
        source_dir = mirror / source.mirror_path
        found = {p.name.removesuffix(".gz"): p for p in bucket_files(source_dir)}
        if set(found) != set(expected):
            missing = sorted(set(expected) - set(found))[:5]
            extra = sorted(set(found) - set(expected))[:5]
            raise ChecksumMismatchError(
                f"{source.mirror_path}: the mirror folder does not hold the buckets its "
                f"checksum list names (missing {missing}, not listed {extra})"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(
            tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        )
        files: dict[str, str] = {}
        total = 0
        try:
            for name in tqdm(
                sorted(found),
                desc=source.mirror_path.rsplit("/", 2)[-2] + "/" + target.name,
                unit="file",
                disable=not self.progress,
                leave=False,
            ):
                path = found[name]
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    raise FetchError(f"could not copy {path}: {exc}") from exc
                content = gzip.decompress(data) if path.name.endswith(".gz") else data
                digest = hashlib.sha256(content).hexdigest()
                if digest != expected[name]:
                    raise ChecksumMismatchError(
                        f"{source.mirror_path}/{path.name}: the mirror copy does not match its "
                        f"checksum list: expected sha256 {expected[name]} of the content, "
                        f"got {digest}"
                    )
                (staging / path.name).write_bytes(data)
                files[path.name] = hashlib.sha256(data).hexdigest()
                total += len(data)
            _replace_folder(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        digest = folder_digest(files)
        self.records[source.mirror_path] = {
            **self._record("mirror", source.mirror_path, digest, total, source.url),
            "files": files,
        }
        self.report.fetched.append(
            FetchedFile(entry.id, source.mirror_path, "mirror", source.mirror_path, digest, total)
        )

    # -- downloads ----------------------------------------------------------------------

    def _skip_download(self, entry: Layer, source: Source) -> bool:
        """True (and reported) if the recorded download of ``source`` is present and intact."""
        rel = f"{DOWNLOADS_DIR}/{_download_name(source)}"
        record = self.records.get(source.mirror_path, {})
        if (
            record.get("origin") != "url"
            or record.get("path") != rel
            or record.get("url") != source.url
            or not (self.raw_dir / rel).is_file()
        ):
            return False
        digest, size = _hash_file(self.raw_dir / rel)
        if digest != record.get("sha256"):
            return False
        self.report.skipped.append(
            FetchedFile(entry.id, source.mirror_path, "url", rel, digest, size)
        )
        return True

    def _download(self, entry: Layer, source: Source) -> None:
        """Stream ``source.url`` into downloads/, checking length, zip member and pin rule."""
        name = _download_name(source)
        rel = f"{DOWNLOADS_DIR}/{name}"
        target = self.raw_dir / rel
        url = source.url
        with _Staging() as staging:
            staged = self._stream(url, name, source.mirror_path, target, staging)
            if source.archive_member:
                _check_archive(staged.tmp, source.archive_member, name, url)
            elif source.sha256 is not None and staged.sha256 != source.sha256:
                raise ChecksumMismatchError(
                    f"{source.mirror_path}: the download {name} from {url} does not match the "
                    f"catalog pin: expected sha256 {source.sha256}, got {staged.sha256}"
                )
            staging.commit()
        record = self._record("url", rel, staged.sha256, staged.size, url)
        if source.archive_member:
            record["member"] = source.archive_member
        self.records[source.mirror_path] = record
        self.report.fetched.append(
            FetchedFile(entry.id, source.mirror_path, "url", rel, staged.sha256, staged.size)
        )

    def _stream(
        self, url: str, name: str, mirror_path: str, target: Path, staging: _Staging
    ) -> _Staged:
        """GET ``url`` into a staged temp file; every network failure becomes FetchError."""
        what = f"{name} (for {mirror_path})"
        try:
            with self.client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise FetchError(
                        f"could not download {what} from {url}: "
                        f"HTTP {response.status_code} {response.reason_phrase}"
                    )
                expected = _content_length(response)

                def received() -> int:
                    return response.num_bytes_downloaded

                try:
                    with self._bar(name, expected) as bar:
                        chunks = _counted(response.iter_bytes(_CHUNK), bar, received)
                        staged = staging.write(target, chunks)
                except httpx.TransportError as exc:
                    if expected is not None and received() < expected:
                        raise FetchError(
                            f"download of {what} from {url} was cut short: received "
                            f"{received()} of {expected} bytes ({exc})"
                        ) from exc
                    raise
                if expected is not None and received() != expected:
                    raise FetchError(
                        f"download of {what} from {url} is incomplete: received "
                        f"{received()} of {expected} bytes"
                    )
                return staged
        except httpx.TimeoutException as exc:
            raise FetchError(
                f"could not download {what} from {url}: timed out after {self.timeout:g} s "
                f"({type(exc).__name__})"
            ) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchError(
                f"could not download {what} from {url}: {type(exc).__name__}: {exc}"
            ) from exc
        except OSError as exc:
            raise FetchError(f"could not write {what} to {target.parent}: {exc}") from exc

    # -- helpers ------------------------------------------------------------------------

    def _missing_message(self, entry: Layer, source: Source, missing: list[str], why: str) -> str:
        """Say what is missing, why fetch cannot get it, where to get it and where to put it."""
        where = f"not in the mirror {self.mirror}" if self.mirror else "no mirror was given"
        put = " and ".join(
            str(self.mirror / mp) if self.mirror is not None else f"<FEDMIN_DATA_MIRROR>/{mp}"
            for mp in missing
        )
        return (
            f"{', '.join(missing)} (layer {entry.id}) is missing: {where}, and {why}. "
            f"Get it from {source.url} and put it at {put}, then run `fedmin data fetch` again."
        )

    def _record(
        self, origin: Origin, path: str, digest: str, size: int, url: str
    ) -> dict[str, Any]:
        return {
            "origin": origin,
            "path": path,
            "sha256": digest,
            "bytes": size,
            "retrieved": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "url": url,
        }

    def _bar(self, name: str, total: int | None) -> tqdm[Any]:
        return tqdm(
            total=total,
            desc=name,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            disable=not self.progress,
            leave=False,
        )


# --- staging: all-or-nothing writes ------------------------------------------------------


@dataclass
class _Staged:
    tmp: Path
    target: Path
    sha256: str
    size: int


class _Staging:
    """Temp files of one unit of work, committed together or removed together."""

    def __init__(self) -> None:
        self._files: list[_Staged] = []
        self._pending: list[Path] = []

    def __enter__(self) -> _Staging:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()

    def write(self, target: Path, chunks: Iterable[bytes]) -> _Staged:
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
        staged = _Staged(tmp, target, digest.hexdigest(), size)
        self._files.append(staged)
        return staged

    def commit(self) -> None:
        """Move every staged file into place (same directory, so each move is atomic)."""
        for staged in self._files:
            os.replace(staged.tmp, staged.target)
            self._pending.remove(staged.tmp)
        for directory in {s.target.parent for s in self._files}:
            _fsync_dir(directory)
        self._files.clear()

    def discard(self) -> None:
        for tmp in self._pending:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self._pending.clear()
        self._files.clear()


# --- small helpers -----------------------------------------------------------------------


def folder_digest(files: dict[str, str]) -> str:
    """One sha256 for a folder: of its ``<name> <sha256 of the file>`` lines, sorted."""
    lines = "".join(f"{name} {files[name]}\n" for name in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def _folder_matches(folder: Path, files: dict[str, str]) -> bool:
    present = {p.name: p for p in bucket_files(folder)}
    return set(present) == set(files) and all(
        _hash_file(present[name])[0] == digest for name, digest in files.items()
    )


@functools.cache
def _content_list(path: Path, pin: str | None) -> dict[str, str]:
    if pin is not None and _hash_file(path)[0] != pin:
        raise ChecksumMismatchError(
            f"{path}: the checksum list does not match its catalog pin {pin}"
        )
    return read_content_list(path)


def _folder_listing(mirror: Path, source: Source) -> dict[str, str]:
    """Bucket name (without ``.gz``) -> sha256 of its content, for ``source``'s folder."""
    assert source.content_sha256 is not None
    list_path = mirror / source.content_sha256
    if not list_path.is_file():
        raise SourceMissingError(
            f"{source.content_sha256}: the checksum list of {source.mirror_path} is not in "
            f"the mirror {mirror}"
        )
    base = PurePosixPath(source.content_sha256).parent
    folder = PurePosixPath(source.mirror_path).relative_to(base).as_posix()
    listing = {
        name.rsplit("/", 1)[1]: digest
        for name, digest in _content_list(list_path, source.sha256).items()
        if name.rsplit("/", 1)[0] == folder
    }
    if not listing:
        raise SourceMissingError(f"{source.content_sha256} lists no bucket of {folder}")
    return listing


def _replace_folder(staging: Path, target: Path) -> None:
    """Put ``staging`` at ``target`` (an older copy is moved aside, then removed)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}.part")
        os.replace(target, old)
    os.replace(staging, target)
    _fsync_dir(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _download_name(source: Source) -> str:
    """File name of a download: the URL path's basename, or the mirror_path's for queries."""
    parts = urlsplit(source.url)
    name = PurePosixPath(unquote(parts.path)).name
    if parts.query or name in ("", ".", "..") or "\\" in name:
        name = PurePosixPath(source.mirror_path).name
    return name


def _vsizip(zip_path: Path, member: str) -> str:
    return f"/vsizip/{zip_path.absolute().as_posix()}/{member}"


def _check_archive(path: Path, member: str, name: str, url: str) -> None:
    """An archive download must be a zip holding the member the catalog names."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as exc:
        with path.open("rb") as fh:
            head = fh.read(40)
        raise FetchError(
            f"the download {name} from {url} is not a zip archive (starts with {head!r})"
        ) from exc
    if member not in names:
        raise FetchError(
            f"the download {name} from {url} has no member {member!r} "
            f"(it holds {names[:10]}{' ...' if len(names) > 10 else ''})"
        )


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _read_chunks(fh: Any) -> Iterator[bytes]:
    while chunk := fh.read(_CHUNK):
        yield chunk


def _counted(
    chunks: Iterable[bytes], bar: tqdm[Any], position: Callable[[], int] | None = None
) -> Iterator[bytes]:
    """Pass chunks through, advancing ``bar`` by bytes (or to ``position()`` on the wire)."""
    for chunk in chunks:
        yield chunk
        bar.update(position() - bar.n if position is not None else len(chunk))


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in _read_chunks(fh):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _fsync_dir(directory: Path) -> None:
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


def _load_records(raw_dir: Path) -> dict[str, dict[str, Any]]:
    """The existing fetch.json, merged into rather than replaced; unreadable -> empty."""
    path = raw_dir / FETCH_RECORD
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def _write_records(raw_dir: Path, records: dict[str, dict[str, Any]]) -> None:
    text = json.dumps(records, indent=2, sort_keys=True) + "\n"
    with _Staging() as staging:
        staging.write(raw_dir / FETCH_RECORD, [text.encode("utf-8")])
        staging.commit()


__all__ = [
    "DOWNLOADS_DIR",
    "FETCH_RECORD",
    "AbsentFile",
    "FetchReport",
    "FetchedFile",
    "fetch",
    "resolve_source_path",
]
