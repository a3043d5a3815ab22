"""``fedmin data status``: what each layer was fetched from, when, and whether it changed.

Nothing is downloaded. A whole-file download is checked with a ``HEAD`` (``ETag``,
``Last-Modified``, ``Content-Length`` against what fetch.json recorded); an ArcGIS fetch
with its recorded count queries (``returnCountOnly``) and the layer's ``lastEditDate``; a
MinMod folder is pinned to a commit and cannot change. A mirror copy is a regional extract
pinned by sha256: it is not compared with the national original. Offline, or when the check
itself fails, the status says it could not check and why, never "unchanged".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layers.catalog import Layer
from layers.errors import FetchError
from layers.sources import arcgis, http_file
from layers.sources.http import Policy, PoliteClient


@dataclass(frozen=True)
class SourceStatus:
    layer_id: str
    mirror_path: str
    origin: str
    vintage: str
    source: str
    state: str
    detail: str = ""

    def line(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return (
            f"{self.layer_id:<26} {self.origin:<7} {self.vintage:<21} {self.source}\n"
            f"{'':<26} {self.mirror_path}: {self.state}{detail}"
        )


def status(
    layers: Iterable[Layer],
    raw_dir: Path,
    *,
    online: bool,
    policy: Policy | None = None,
    overrides: Mapping[str, str] | None = None,
) -> list[SourceStatus]:
    from layers.provision import load_records

    records = load_records(raw_dir)
    rows = []
    with PoliteClient(policy or Policy()) as client:
        for entry in layers:
            for source in entry.sources:
                record = records.get(source.mirror_path, {})
                rows.append(_one(client, entry, source.mirror_path, record, online))
    return rows


def _one(
    client: PoliteClient, entry: Layer, mirror_path: str, record: dict[str, Any], online: bool
) -> SourceStatus:
    origin = str(record.get("origin", "-"))
    vintage = str(record.get("retrieved", "-"))
    url = str(record.get("url", ""))
    area = record.get("area")
    where = f" {_area_text(area)}" if area else ""
    base = (entry.id, mirror_path, origin, vintage, f"{url}{where}")
    if "absent" in record:
        return SourceStatus(*base, "absent", str(record["absent"]))
    if not record:
        return SourceStatus(*base, "not fetched", "run `fedmin data fetch`")
    if origin == "mirror":
        return SourceStatus(
            entry.id,
            mirror_path,
            origin,
            entry.retrieved,
            url,
            "mirror extract",
            "pinned by sha256; a regional extract is not compared with the official source",
        )
    if origin == "minmod":
        return SourceStatus(*base, "pinned", f"commit {record.get('commit')}: cannot change")
    if not online:
        return SourceStatus(*base, "could not check", "offline (FEDMIN_OFFLINE)")
    try:
        if origin == "arcgis":
            changed, detail = _check_arcgis(client, entry, record)
        elif record.get("files"):
            changed, detail = _check_files(client, entry, record["files"])
        else:
            changed, detail = _check_file(client, entry, url, record)
    except FetchError as exc:
        return SourceStatus(*base, "could not check", str(exc))
    if changed is None:
        return SourceStatus(*base, "could not check", detail)
    return SourceStatus(*base, "CHANGED" if changed else "unchanged", detail)


def _check_file(
    client: PoliteClient, entry: Layer, url: str, record: dict[str, Any]
) -> tuple[bool | None, str]:
    now = http_file.head(client, url, f"layer {entry.id}: HEAD")
    compared = []
    for key in ("etag", "last_modified"):
        if record.get(key) and now.get(key):
            if record[key] != now[key]:
                return True, f"{key} was {record[key]}, now {now[key]}"
            compared.append(key)
    if now.get("bytes") and str(record.get("bytes")) != now["bytes"]:
        return True, f"size was {record.get('bytes')} bytes, now {now['bytes']}"
    if not compared:
        return None, "the server reports no ETag or Last-Modified to compare"
    return False, f"same {' and '.join(compared)}"


def _check_files(
    client: PoliteClient, entry: Layer, files: list[dict[str, Any]]
) -> tuple[bool | None, str]:
    details = []
    for item in files:
        if "url" not in item:
            return None, "the folder is pinned"
        changed, detail = _check_file(client, entry, item["url"], item)
        if changed is not False:
            return changed, f"{item.get('state', item['path'])}: {detail}"
        details.append(str(item.get("state", item["path"])))
    return False, f"{len(details)} files unchanged"


def _check_arcgis(
    client: PoliteClient, entry: Layer, record: dict[str, Any]
) -> tuple[bool | None, str]:
    counts = record.get("counts", {})
    notes = []
    for query in record.get("query", []):
        q = arcgis.Query(
            query["url"].removesuffix("/query"),
            query["where"],
            tuple(float(v) for v in query["geometry"].split(","))
            if query.get("geometry")
            else None,
            label=query["label"],
        )
        now = arcgis.count(client, q, f"layer {entry.id} [{q.label}]")
        before = counts.get(q.label)
        if before != now:
            return True, f"{q.label}: {before} features when fetched, {now} now"
        notes.append(f"{q.label}: {now} features")
    service = record.get("service", {})
    if service.get("lastEditDate") and record.get("query"):
        layer_url = record["query"][0]["url"].removesuffix("/query")
        meta = arcgis.layer_metadata(client, layer_url, f"layer {entry.id}")
        edited = meta.get("editingInfo", {}).get("lastEditDate")
        if edited != service["lastEditDate"]:
            return True, f"lastEditDate was {service['lastEditDate']}, now {edited}"
        notes.append("same lastEditDate")
    return False, "; ".join(notes)


def _area_text(area: dict[str, Any]) -> str:
    if "states" in area:
        return "states " + ",".join(area["states"])
    if "bbox" in area:
        return "bbox " + ",".join(f"{v:g}" for v in area["bbox"])
    return "(whole source)"
