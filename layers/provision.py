"""``fedmin data fetch``: put every catalog source file into the raw data directory.

Each ``Source`` file lands at ``raw_dir / mirror_path``, copied from a local mirror when the
mirror holds it; otherwise it is fetched from its official source into ``raw_dir /
"downloads"`` by the adapter of its protocol (``layers/sources/``): a whole file over HTTP
(kept as published: a zip stays a zip and readers open it through ``/vsizip/``), an ArcGIS
REST layer paged to its end, or a MinMod repository folder at a pinned commit.
:func:`resolve_source_path` tells readers which file to open.

With an **area** (``--states NV,AZ`` or ``--bbox``) every layer that has a per-area official
source is fetched from it for that area, mirror or not: ArcGIS layers are queried per state
(or bbox), per-state files are downloaded per state. Layers without one keep their default
(mirror copy, or the national file) and the report says so. A source can be pointed at
another endpoint of the same protocol (``--source LAYER=URL``, ``FEDMIN_SOURCE_OVERRIDES``).
``fetch.json`` records, per source, the origin, URL, area, query, time, validators and
sha256 of what was fetched; the store manifest repeats it per layer. A later fetch without an
area keeps an official fetch whose file still verifies (it does not silently revert to the
mirror); ``refresh=True`` fetches again.

Why it is careful:

* **Atomic writes.** Every file is written to a hidden ``.part`` temp file in its target
  directory, fsynced, verified, and only then ``os.replace``-d into place
  (``layers/sources/staging.py``). The files of one source (a shapefile and its sidecars,
  the buckets of a MinMod folder) are verified together and committed together, so an
  interrupted, truncated or corrupt transfer leaves nothing half-written, and a ``.shp``
  never appears without the ``.dbf`` of the same fetch. ``fetch.json`` is written the same
  way, after each source, so it never describes files that are not there.
* **Resumable.** Downloads and ArcGIS pages accumulate under ``raw_dir/.partial/`` (never
  read by a build); a failed or killed fetch resumes there on the next run (HTTP Range; the
  pages already stored) and ends with the same bytes as an uninterrupted one.
* **Pins.** The catalog pins the sha256 of the regional extracts kept in the mirror. A pin
  is compared whenever the bytes written are meant to *be* the pinned file: every mirror
  copy (main file and companions), and a download that is not an archive (e.g. the
  us-atlas TopoJSON, the same versioned file either way). An archive download
  (``archive_member`` set) is the official national original the extract was cut from, so
  the pin cannot apply; its sha256 is computed and recorded in ``fetch.json`` instead. So is
  that of every query result. A mismatch raises :class:`ChecksumMismatchError` and keeps
  nothing of that source.
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
  For required layers the first failure raises (after removing its temp files); the error
  names the layer, the page or file and the request that failed, and why.
* **Leftovers.** A killed fetch cannot remove its ``.part`` files. Every fetch holds a
  shared ``flock`` on ``raw_dir/.fetch.lock`` while it runs; one that finds no other
  fetch running (it gets the lock exclusively first) deletes every ``.part`` file under
  ``raw_dir`` before it starts, so leftovers go with the next fetch and a concurrent
  fetch's files are never touched.
"""

from __future__ import annotations

import fcntl
import functools
import gzip
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from tqdm import tqdm

from layers.catalog import Layer, Source
from layers.errors import ChecksumMismatchError, FetchError, SourceMissingError
from layers.minmod import bucket_files, read_content_list
from layers.sources import arcgis, http_file, minmod
from layers.sources.areas import Area
from layers.sources.http import Policy, PoliteClient
from layers.sources.staging import (
    Staging,
    fsync_dir,
    hash_file,
    read_chunks,
    remove_tree,
    write_atomic,
)

log = logging.getLogger(__name__)

#: Name of the fetch record inside ``raw_dir``.
FETCH_RECORD = "fetch.json"
#: Held (shared) by every running fetch; see "Leftovers" above.
FETCH_LOCK = ".fetch.lock"
#: Sub-directory of ``raw_dir`` holding official downloads, named after their URL.
DOWNLOADS_DIR = "downloads"

#: Sub-directory of ``raw_dir`` holding resumable partial downloads and ArcGIS pages.
PARTIAL_DIR = ".partial"

Origin = Literal["mirror", "url", "arcgis", "minmod"]
#: Origins of official fetches that a later plain fetch keeps (see the module docstring).
OFFICIAL_ORIGINS = ("arcgis", "minmod", "url")

#: Kept under this name so tests can interrupt a mirror copy (monkeypatch).
_read_chunks = read_chunks


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
    #: Wall time of the fetch of this source and what it took (pages, features, files).
    seconds: float = 0.0
    detail: str = ""


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
    #: Layers an area was asked for that have no per-area source (they kept the default).
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line per file, then the totals."""
        lines = []
        for f in self.fetched:
            took = f", {f.detail}" if f.detail else ""
            lines.append(
                f"fetched  {f.mirror_path} ({f.origin}, {f.bytes} bytes{took}, {f.seconds:.1f} s)"
            )
        lines += [f"present  {f.mirror_path}" for f in self.skipped]
        lines += [f"ABSENT   {a.mirror_path} (layer {a.layer_id}): {a.reason}" for a in self.absent]
        lines += [f"note     {n}" for n in self.notes]
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
    area: Area | None = None,
    overrides: Mapping[str, str] | None = None,
    policy: Policy | None = None,
    page_size: int | None = None,
    refresh: bool = False,
    whole: Iterable[str] = (),
) -> FetchReport:
    """Fetch every source file of ``layers`` into ``raw_dir`` and record it in fetch.json.

    ``mirror_dir`` is the local mirror (``FEDMIN_DATA_MIRROR``), preferred to the network
    unless an ``area`` is asked for. ``timeout`` bounds each network operation (connect,
    each read), not a whole download; ``policy`` (retries, back-off, request interval)
    overrides it. ``download=False`` never touches the network (tests, air-gapped
    machines): a source the mirror lacks is then missing, which optional layers record as
    absent. ``overrides`` maps a layer id to another endpoint of the same protocol
    (``--source``). ``page_size`` caps ArcGIS pages below the service's maxRecordCount.
    Raises ``ChecksumMismatchError``, ``FetchError`` or ``SourceMissingError`` for required
    layers; see the module docstring for the rules.
    """
    raw_dir = Path(raw_dir)
    mirror = Path(mirror_dir) if mirror_dir is not None else None
    raw_dir.mkdir(parents=True, exist_ok=True)
    records = _load_records(raw_dir)
    report = FetchReport()
    overrides = dict(overrides or {})
    layers = list(layers)
    unknown = sorted(set(overrides) - {entry.id for entry in layers})
    if unknown:
        raise FetchError(f"--source names layers that are not being fetched: {unknown}")
    if area is not None and area.whole:
        area = None
    client = PoliteClient(policy or Policy(timeout=timeout))
    fetcher = _Fetcher(
        raw_dir,
        mirror,
        records,
        report,
        client,
        progress,
        download,
        area,
        overrides,
        page_size,
        refresh,
        frozenset(whole),
    )
    lock = _fetch_lock(raw_dir)
    try:
        for entry in layers:
            started = time.perf_counter()
            text = json.dumps(records, sort_keys=True)
            before = {s.mirror_path: records.get(s.mirror_path) for s in entry.sources}
            try:
                for source in entry.sources:
                    try:
                        fetcher.fetch_source(entry, source)
                    except (SourceMissingError, FetchError) as exc:
                        if not entry.optional:
                            raise
                        fetcher.mark_absent(entry, source, str(exc))
                    if len(entry.sources) > 1:  # survive a kill before the layer is whole
                        _write_records(raw_dir, _held_back(records, before))
            except BaseException:
                records.update(_held_back(records, before))
                raise
            finally:
                if json.dumps(records, sort_keys=True) != text:
                    _write_records(raw_dir, records)
            log.info("layer %s: %.1f s", entry.id, time.perf_counter() - started)
    finally:
        client.close()
        os.close(lock)
    return report


def _held_back(
    records: dict[str, dict[str, Any]], before: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """A layer whose fetch failed part-way keeps its previous data for every source.

    Sources already fetched in this run are not lost: their records wait under
    ``pending`` (the files are in downloads/, verified), and the rerun adopts them once the
    whole layer is in, so a build never mixes an area fetch of one source with the old
    data of another.
    """
    held = dict(records)
    for mirror_path, old in before.items():
        new = records.get(mirror_path)
        if new is old or new is None or new.get("origin") == "mirror" or "absent" in new:
            continue
        held[mirror_path] = {**(old or {}), "pending": new}
    return held


def _fetch_lock(raw_dir: Path) -> int:
    """Take the fetch lock (shared) and return its descriptor; when no other fetch holds
    it, first remove the ``.part`` files killed fetches left behind."""
    fd = os.open(raw_dir / FETCH_LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pass  # another fetch is running: its .part files are live
    else:
        for stale in raw_dir.rglob(".*.part"):
            if PARTIAL_DIR in stale.relative_to(raw_dir).parts:
                continue  # resumable downloads are kept on purpose
            log.info("removing %s, left by an interrupted fetch", stale)
            if stale.is_dir():  # a folder source's staging directory
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def resolve_source_path(raw_dir: Path, source: Source) -> str | None:
    """The GDAL-openable path of a fetched source, or None when it has not been fetched.

    What fetch.json records for the source wins (an official fetch for an area replaces the
    mirror copy); else the mirror copy at ``raw_dir / mirror_path`` (it is what the
    catalog's columns and options describe); else the official download, opened inside its
    zip through ``/vsizip/`` when the source names an ``archive_member``.
    """
    raw_dir = Path(raw_dir)
    record = _load_records(raw_dir).get(source.mirror_path, {})
    recorded = raw_dir / record["path"] if isinstance(record.get("path"), str) else None
    candidates = [recorded] if recorded is not None and recorded.exists() else []
    candidates += [raw_dir / source.mirror_path, raw_dir / DOWNLOADS_DIR / _download_name(source)]
    for path in candidates:
        if path.is_dir():
            if source.is_folder and not bucket_files(path):
                continue
            return str(path.absolute())
        if not path.is_file():
            continue
        if source.archive_member and path.suffix.lower() == ".zip":
            return _vsizip(path, source.archive_member)
        return str(path.absolute())
    return None


def source_provenance(raw_dir: Path, source: Source) -> dict[str, Any]:
    """Where a source's data came from (fetch.json's record), for the store manifest."""
    record = _load_records(Path(raw_dir)).get(source.mirror_path, {})
    keys = (
        "origin",
        "url",
        "catalog_url",
        "area",
        "query",
        "retrieved",
        "sha256",
        "bytes",
        "etag",
        "last_modified",
        "features",
        "pages",
        "service",
        "commit",
        "files",
    )
    return {k: record[k] for k in keys if k in record}


def override_url(url: str, base: str) -> str:
    """``url`` re-rooted at ``base``: its last path segment (the ArcGIS layer id, the file
    name) is kept and everything before it replaced, so one ``--source LAYER=BASE`` serves
    every source of a layer (``.../MapServer`` for layers 1 and 2, a directory of files).
    A MinMod tree URL keeps its ``<owner>/<repo>/tree/<commit>/<folder>`` part instead."""
    base = base.rstrip("/")
    if "/tree/" in url:
        parts = urlsplit(url).path.lstrip("/")
        return f"{base}/{parts}"
    return f"{base}/{url.rstrip('/').rsplit('/', 1)[-1]}"


# --- the work ----------------------------------------------------------------------------


@dataclass
class _Fetcher:
    """State shared by the sources of one fetch run."""

    raw_dir: Path
    mirror: Path | None
    records: dict[str, dict[str, Any]]
    report: FetchReport
    client: PoliteClient
    progress: bool
    download: bool
    area: Area | None
    overrides: dict[str, str]
    page_size: int | None
    refresh: bool
    whole: frozenset[str]

    @property
    def timeout(self) -> float:
        return self.client.policy.timeout

    def fetch_source(self, entry: Layer, source: Source) -> None:
        """Skip, copy from the mirror, or fetch one source (with its companions)."""
        url = self._url(entry, source)
        if self._wants_official(entry, source, url):
            if not self.download:
                why = "downloads are switched off (offline)"
                raise SourceMissingError(
                    self._missing_message(entry, source, [source.mirror_path], why)
                )
            self._fetch_official(entry, source, url)
            return
        if not self.refresh and self._keep_official(entry, source):
            return

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

        missing = [mp for mp, _ in todo if mirror is None or not (mirror / mp).is_file()]
        if source.direct_download and not self.download:
            why = "downloads are switched off (offline)"
            raise SourceMissingError(self._missing_message(entry, source, missing, why))
        if source.direct_download:
            if source.companions and not source.archive_member:
                why = "companion files have no download URL of their own"
                raise SourceMissingError(self._missing_message(entry, source, missing, why))
            if source.per_state:
                why = "its official files are per state: give --states"
                raise SourceMissingError(self._missing_message(entry, source, missing, why))
            if source.protocol == "arcgis" and entry.optional and entry.id not in self.whole:
                why = (
                    "it is a national service: give --states or --bbox, or name it in "
                    "--layers to fetch the whole country"
                )
                raise SourceMissingError(self._missing_message(entry, source, missing, why))
            self._fetch_official(entry, source, url)
            return
        why = "the publisher offers no direct download"
        raise SourceMissingError(self._missing_message(entry, source, missing, why))

    def mark_absent(self, entry: Layer, source: Source, reason: str) -> None:
        """Record an optional source as absent and carry on."""
        log.warning("optional layer %s: %s", entry.id, reason)
        for mp in [source.mirror_path, *(c for c, _ in source.companions)]:
            self.records[mp] = {"absent": reason}
            self.report.absent.append(AbsentFile(entry.id, mp, reason))

    # -- official sources ---------------------------------------------------------------

    def _url(self, entry: Layer, source: Source) -> str:
        base = self.overrides.get(entry.id)
        return source.url if base is None else override_url(source.url, base)

    def _wants_official(self, entry: Layer, source: Source, url: str) -> bool:
        """An area or an override asks for the official source, when it has a protocol."""
        if url != source.url:
            return True
        if self.area is None:
            return False
        if source.protocol == "arcgis" or source.per_state:
            return True
        note = (
            f"{entry.id}: no per-area source ({source.protocol} {source.url}); "
            "kept its default (mirror copy or national file)"
        )
        if note not in self.report.notes:
            self.report.notes.append(note)
        return False

    def _keep_official(self, entry: Layer, source: Source) -> bool:
        """A plain fetch keeps an earlier official fetch whose file still verifies."""
        record = self.records.get(source.mirror_path, {})
        if record.get("origin") not in OFFICIAL_ORIGINS or "area" not in record:
            return False
        return self._skip_recorded(entry, source, record)

    def _skip_recorded(self, entry: Layer, source: Source, record: dict[str, Any]) -> bool:
        path = self.raw_dir / str(record.get("path", ""))
        if not record.get("path"):
            return False
        if path.is_dir():
            ok = all(
                (path / f["path"]).is_file() and hash_file(path / f["path"])[0] == f["sha256"]
                for f in record.get("files", [])
            )
            digest, size = record.get("sha256", ""), int(record.get("bytes", 0))
        elif path.is_file():
            digest, size = hash_file(path)
            ok = digest == record.get("sha256")
        else:
            return False
        if not ok:
            return False
        self.report.skipped.append(
            FetchedFile(
                entry.id, source.mirror_path, record["origin"], record["path"], digest, size
            )
        )
        return True

    def _fetch_official(self, entry: Layer, source: Source, url: str) -> None:
        area = self.area or Area()
        record = self.records.get(source.mirror_path, {})
        pending = record.get("pending")
        for candidate in (record, pending) if not self.refresh else ():
            if (
                isinstance(candidate, dict)
                and candidate.get("url") == url
                and candidate.get("area") == area.describe()
                and self._skip_recorded(entry, source, candidate)
            ):
                self.records[source.mirror_path] = candidate
                return
        started = time.perf_counter()
        if source.protocol == "arcgis":
            result = self._fetch_arcgis(entry, source, url, area)
        elif source.protocol == "minmod":
            result = self._fetch_minmod(entry, source, url)
        elif source.per_state:
            result = self._fetch_per_state(entry, source, url, area)
        else:
            result = self._download(entry, source, url)
        seconds = round(time.perf_counter() - started, 2)
        result.record |= {
            "area": area.describe(),
            "catalog_url": source.url,
            "seconds": seconds,
        }
        self.records[source.mirror_path] = result.record
        item = result.item
        self.report.fetched.append(
            FetchedFile(
                entry.id,
                source.mirror_path,
                item.origin,
                item.path,
                item.sha256,
                item.bytes,
                seconds,
                result.detail,
            )
        )
        log.info(
            "layer %s: %s in %.1f s (%s)", entry.id, source.mirror_path, seconds, result.detail
        )

    def _target(self, entry: Layer, source: Source, area: Area, suffix: str) -> str:
        name = source.fetch_name or PurePosixPath(source.mirror_path).stem
        return f"{DOWNLOADS_DIR}/{entry.id}/{name}.{area.tag}{suffix}"

    def _fetch_arcgis(self, entry: Layer, source: Source, url: str, area: Area) -> _Result:
        queries = _arcgis_queries(source, url, area)
        workdir = self.raw_dir / PARTIAL_DIR / "arcgis" / entry.id
        what = f"layer {entry.id} ({PurePosixPath(source.mirror_path).name})"
        paged = arcgis.fetch_pages(
            self.client, queries, workdir, what, page_size=self.page_size, progress=self.progress
        )
        rel = self._target(entry, source, area, ".json")
        with Staging() as staging:
            staged = staging.write(self.raw_dir / rel, [paged.payload])
            staging.commit()
        remove_tree(paged.pages_dir)
        record = self._record("arcgis", rel, staged.sha256, staged.size, url)
        record |= {
            "query": [q.describe() for q in queries],
            "features": paged.features,
            "pages": paged.pages,
            "counts": paged.counts,
            "service": paged.metadata,
        }
        detail = f"{paged.features} features in {paged.pages} pages"
        return _Result(
            FetchedFile(entry.id, source.mirror_path, "arcgis", rel, staged.sha256, staged.size),
            record,
            detail,
        )

    def _fetch_minmod(self, entry: Layer, source: Source, url: str) -> _Result:
        what = f"layer {entry.id} (MinMod folder {url})"
        folder = minmod.full_commit(self.client, minmod.Folder.parse(url), what)
        rel = f"{DOWNLOADS_DIR}/{entry.id}/{folder.repo}@{folder.commit[:12]}/{folder.path}"
        partial = self.raw_dir / PARTIAL_DIR / "minmod" / entry.id / folder.commit[:12]
        what = f"layer {entry.id} (MinMod {folder.path} at {folder.commit[:12]})"
        with Staging() as staging:
            files = minmod.fetch_folder(
                self.client,
                folder,
                self.raw_dir / rel,
                partial,
                staging,
                what,
                progress=self.progress,
            )
            staging.commit()
        remove_tree(partial)
        digest = folder_digest({str(f["path"]): str(f["sha256"]) for f in files})
        size = sum(int(f["bytes"]) for f in files)
        record = self._record("minmod", rel, digest, size, url)
        record |= {"commit": folder.commit, "files": files}
        return _Result(
            FetchedFile(entry.id, source.mirror_path, "minmod", rel, digest, size),
            record,
            f"{len(files)} files verified against commit {folder.commit[:12]}",
        )

    def _fetch_per_state(self, entry: Layer, source: Source, url: str, area: Area) -> _Result:
        """One published file per state, united for the readers by an OGR VRT file."""
        if not area.states:
            raise SourceMissingError(
                f"layer {entry.id}: its official files are per state ({url}); give --states"
            )
        files = []
        with Staging() as staging:
            for code, fips in area.fips():
                state_url = url.format(fips=fips, state=code)
                name = _download_name_of(state_url, source.mirror_path)
                part = self.raw_dir / PARTIAL_DIR / "files" / entry.id / name
                what = f"layer {entry.id} ({code}: {name})"
                got = http_file.download(self.client, state_url, part, what, progress=self.progress)
                member = (
                    source.archive_member.format(fips=fips, state=code)
                    if source.archive_member
                    else None
                )
                if member:
                    self._check_or_discard(part, member, name, state_url)
                target = self.raw_dir / DOWNLOADS_DIR / entry.id / name
                staged = staging.adopt(part, target)
                files.append(
                    {
                        "state": code,
                        "url": state_url,
                        "path": name,
                        "member": member,
                        "sha256": staged.sha256,
                        "bytes": staged.size,
                        **got.validators(),
                    }
                )
            rel = self._target(entry, source, area, ".vrt")
            vrt = _union_vrt(entry.id, self.raw_dir / DOWNLOADS_DIR / entry.id, files)
            staged_vrt = staging.write(self.raw_dir / rel, [vrt.encode()])
            staging.commit()
        for item in files:
            http_file.discard(self.raw_dir / PARTIAL_DIR / "files" / entry.id / str(item["path"]))
        record = self._record("url", rel, staged_vrt.sha256, staged_vrt.size, url)
        record["files"] = files
        return _Result(
            FetchedFile(
                entry.id, source.mirror_path, "url", rel, staged_vrt.sha256, staged_vrt.size
            ),
            record,
            f"{len(files)} state files",
        )

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
        digest, size = hash_file(path)
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
        with Staging() as staging:
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
            if self.download and source.protocol == "minmod":
                # Not in the mirror: the repository folder at its pinned commit.
                if not self.refresh and self._keep_official(entry, source):
                    return
                self._fetch_official(entry, source, self._url(entry, source))
                return
            where = f"not in the mirror {mirror}" if mirror else "no mirror was given"
            why = "downloads are switched off (offline)" if not self.download else ""
            raise SourceMissingError(
                f"{source.mirror_path} (layer {entry.id}) is missing: {where}"
                f"{', and ' + why if why else ''}. Get the folder from {source.url} "
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

    # -- whole-file downloads -----------------------------------------------------------

    def _download(self, entry: Layer, source: Source, url: str) -> _Result:
        """Fetch ``url`` (resumably) into downloads/, checking zip member and pin rule."""
        name = _download_name_of(url, source.mirror_path)
        rel = f"{DOWNLOADS_DIR}/{name}"
        part = self.raw_dir / PARTIAL_DIR / "files" / name
        what = f"could not download {name} (for {source.mirror_path})"
        got = http_file.download(self.client, url, part, what, progress=self.progress)
        if source.archive_member:
            self._check_or_discard(part, source.archive_member, name, url)
        with Staging() as staging:
            staged = staging.adopt(part, self.raw_dir / rel)
            if (
                not source.archive_member
                and source.sha256 is not None
                and staged.sha256 != source.sha256
            ):
                http_file.discard(part)
                raise ChecksumMismatchError(
                    f"{source.mirror_path}: the download {name} from {url} does not match the "
                    f"catalog pin: expected sha256 {source.sha256}, got {staged.sha256}"
                )
            staging.commit()
        http_file.discard(part)
        record = self._record("url", rel, staged.sha256, staged.size, url) | got.validators()
        if source.archive_member:
            record["member"] = source.archive_member
        resumed = f", resumed at byte {got.resumed_from}" if got.resumed_from else ""
        return _Result(
            FetchedFile(entry.id, source.mirror_path, "url", rel, staged.sha256, staged.size),
            record,
            f"HTTP{resumed}",
        )

    def _check_or_discard(self, part: Path, member: str, name: str, url: str) -> None:
        """A complete but bad archive is not resumable: forget it, then fail."""
        try:
            _check_archive(part, member, name, url)
        except FetchError:
            http_file.discard(part)
            raise

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


@dataclass
class _Result:
    item: FetchedFile
    record: dict[str, Any]
    detail: str


# --- small helpers -----------------------------------------------------------------------


def _arcgis_queries(source: Source, url: str, area: Area) -> list[arcgis.Query]:
    """One query per state (a where clause on its state field, or its boxes) or bbox part."""
    if area.states and source.state_field:
        codes = ", ".join(f"'{code}'" for code in area.states)
        where = f"({source.where}) AND {source.state_field} IN ({codes})"
        return [arcgis.Query(url, where, label="-".join(area.states))]
    parts = area.parts()
    if not parts:
        return [arcgis.Query(url, source.where, label="all")]
    return [arcgis.Query(url, source.where, envelope, label=label) for label, envelope in parts]


def _union_vrt(layer_id: str, directory: Path, files: list[dict[str, Any]]) -> str:
    """An OGR VRT uniting per-state files; each part's sha256 is written in it, so the
    VRT's own checksum (what the store's build key sees) changes with any part."""
    layers = []
    for item in files:
        path = (directory / str(item["path"])).absolute().as_posix()
        member = item.get("member")
        src = _vsizip(Path(path), str(member)) if member else path
        src_layer = PurePosixPath(str(member or item["path"])).stem
        layers.append(
            f"    <!-- {item['state']} {item['path']} sha256 {item['sha256']} -->\n"
            f'    <OGRVRTLayer name="{src_layer}"><SrcDataSource>{src}</SrcDataSource>'
            f"<SrcLayer>{src_layer}</SrcLayer></OGRVRTLayer>"
        )
    body = "\n".join(layers)
    return (
        f'<OGRVRTDataSource>\n  <OGRVRTUnionLayer name="{layer_id}">\n{body}\n'
        "  </OGRVRTUnionLayer>\n</OGRVRTDataSource>\n"
    )


def folder_digest(files: dict[str, str]) -> str:
    """One sha256 for a folder: of its ``<name> <sha256 of the file>`` lines, sorted."""
    lines = "".join(f"{name} {files[name]}\n" for name in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def _folder_matches(folder: Path, files: dict[str, str]) -> bool:
    present = {p.name: p for p in bucket_files(folder)}
    return set(present) == set(files) and all(
        hash_file(present[name])[0] == digest for name, digest in files.items()
    )


@functools.cache
def _content_list(path: Path, pin: str | None) -> dict[str, str]:
    if pin is not None and hash_file(path)[0] != pin:
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
    fsync_dir(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _download_name(source: Source) -> str:
    """File name of a download: the URL path's basename, or the mirror_path's for queries."""
    return _download_name_of(source.url, source.mirror_path)


def _download_name_of(url: str, mirror_path: str) -> str:
    parts = urlsplit(url)
    name = PurePosixPath(unquote(parts.path)).name
    if parts.query or name in ("", ".", "..") or "\\" in name:
        name = PurePosixPath(mirror_path).name
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
            f"the download {name} from {url} is not a zip archive or is truncated "
            f"(starts with {head!r}, {path.stat().st_size} bytes: {exc})"
        ) from exc
    if member not in names:
        raise FetchError(
            f"the download {name} from {url} has no member {member!r} "
            f"(it holds {names[:10]}{' ...' if len(names) > 10 else ''})"
        )


def _counted(
    chunks: Iterable[bytes], bar: tqdm[Any], position: Callable[[], int] | None = None
) -> Iterator[bytes]:
    """Pass chunks through, advancing ``bar`` by bytes (or to ``position()`` on the wire)."""
    for chunk in chunks:
        yield chunk
        bar.update(position() - bar.n if position is not None else len(chunk))


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


def load_records(raw_dir: Path) -> dict[str, dict[str, Any]]:
    """fetch.json as a dict (empty when missing), for ``fedmin data status``."""
    return _load_records(Path(raw_dir))


def _write_records(raw_dir: Path, records: dict[str, dict[str, Any]]) -> None:
    text = json.dumps(records, indent=2, sort_keys=True) + "\n"
    write_atomic(raw_dir / FETCH_RECORD, text.encode("utf-8"))


__all__ = [
    "DOWNLOADS_DIR",
    "FETCH_RECORD",
    "PARTIAL_DIR",
    "AbsentFile",
    "FetchReport",
    "FetchedFile",
    "fetch",
    "load_records",
    "override_url",
    "resolve_source_path",
    "source_provenance",
]
