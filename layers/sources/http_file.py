"""Whole files over HTTP (zip or not), resumable.

A download streams into ``raw/.partial/files/<name>`` and keeps what arrived when the
connection drops or the process is killed; the next attempt (a retry in the same run, or
the next ``fedmin data fetch``) asks for the rest with ``Range: bytes=<n>-`` and
``If-Range: <ETag or Last-Modified>``. A ``206 Partial Content`` is appended; a ``200``
(the server ignores ranges, or the file changed since) starts over. ``ETag`` and
``Last-Modified`` are recorded in fetch.json, and ``fedmin data status`` compares them with
a ``HEAD`` to tell whether the publisher's file changed. The finished file is adopted into
the caller's :class:`~layers.sources.staging.Staging`, so it appears in ``downloads/``
whole or not at all.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from layers.errors import FetchError
from layers.sources.http import PoliteClient
from layers.sources.staging import prune_empty, write_atomic

log = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class Download:
    """A complete file in the partial directory, ready to be adopted."""

    path: Path
    etag: str | None
    last_modified: str | None
    resumed_from: int

    def validators(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (("etag", self.etag), ("last_modified", self.last_modified))
            if v is not None
        }


def download(
    client: PoliteClient, url: str, partial: Path, what: str, *, progress: bool = True
) -> Download:
    """Fetch ``url`` into ``partial`` (resuming what an earlier attempt left there)."""
    meta_path = partial.with_name(partial.name + ".meta")
    meta = _load_meta(meta_path)
    if meta.get("url") != url:
        discard(partial)
        meta = {}
    partial.parent.mkdir(parents=True, exist_ok=True)
    resumed_from = 0
    failure = ""
    for attempt in range(client.policy.retries + 1):
        offset = partial.stat().st_size if partial.is_file() else 0
        headers = {"Accept-Encoding": "identity"}
        validator = _strong(meta.get("etag")) or meta.get("last_modified")
        if offset and validator:
            headers |= {"Range": f"bytes={offset}-", "If-Range": validator}
        elif offset:
            offset = 0
        response = client.request("GET", url, what, headers=headers, stream=True)
        try:
            start, total = _span(response, offset)
            if attempt == 0:
                resumed_from = start
            meta = {
                "url": url,
                "etag": response.headers.get("etag"),
                "last_modified": response.headers.get("last-modified"),
            }
            write_atomic(meta_path, json.dumps(meta).encode())
            failure = _receive(response, partial, start, total, what, progress)
        finally:
            response.close()
        if not failure:
            return Download(partial, meta["etag"], meta["last_modified"], resumed_from)
        if attempt < client.policy.retries:
            delay = min(client.policy.backoff * 2**attempt, client.policy.max_backoff)
            log.info("%s: %s; resuming in %.1f s", what, failure, delay)
            client.sleep(delay)
    kept = partial.stat().st_size if partial.is_file() else 0
    raise FetchError(
        f"{what}: {failure} at {url}; {kept} bytes are kept in {partial.parent}, and the "
        "next `fedmin data fetch` resumes from there"
    )


def head(client: PoliteClient, url: str, what: str) -> dict[str, str | None]:
    """The validators the publisher reports now (for ``fedmin data status``)."""
    response = client.request("HEAD", url, what)
    response.close()
    return {
        "etag": response.headers.get("etag"),
        "last_modified": response.headers.get("last-modified"),
        "bytes": response.headers.get("content-length"),
    }


def discard(partial: Path) -> None:
    """Forget a partial download (it completed, or its bytes are known to be bad)."""
    for path in (partial, partial.with_name(partial.name + ".meta")):
        path.unlink(missing_ok=True)
    prune_empty(partial.parent)


def _span(response: httpx.Response, offset: int) -> tuple[int, int | None]:
    """(first byte of this body, total file size) from a 200 or 206 answer."""
    if response.status_code == 206:
        match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
        if match and int(match.group(1)) == offset:
            total = match.group(3)
            return offset, None if total == "*" else int(total)
        raise FetchError(
            f"{response.url}: asked for bytes {offset}- but got "
            f"Content-Range {response.headers.get('content-range')!r}"
        )
    length = response.headers.get("content-length")
    return 0, int(length) if length and length.isdigit() else None


def _receive(
    response: httpx.Response,
    partial: Path,
    start: int,
    total: int | None,
    what: str,
    progress: bool,
) -> str:
    """Append the body to ``partial`` from ``start``; '' when complete, else why not."""
    mode = "r+b" if start and partial.is_file() else "wb"
    with (
        partial.open(mode) as fh,
        tqdm(
            total=total,
            initial=start,
            desc=partial.name,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            disable=not progress,
            leave=False,
        ) as bar,
    ):
        fh.seek(start)
        fh.truncate()
        failure = ""
        try:
            for chunk in response.iter_raw():
                fh.write(chunk)
                bar.update(len(chunk))
        except httpx.TimeoutException as exc:
            failure = f"timed out ({type(exc).__name__})"
        except httpx.TransportError as exc:
            failure = f"the connection dropped ({type(exc).__name__}: {exc})"
        fh.flush()
        os.fsync(fh.fileno())
        size = fh.tell()
    if total is not None and size != total:
        cut = "was cut short" if size < total else "is longer than announced"
        return f"the download {cut}: received {size} of {total} bytes" + (
            f" ({failure})" if failure else ""
        )
    return failure


def _strong(etag: str | None) -> str | None:
    """If-Range needs a strong validator; a weak ETag (``W/"..."``) cannot resume."""
    return etag if etag and not etag.startswith("W/") else None


def _load_meta(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
