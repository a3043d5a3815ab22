"""MinMod mineral-site datasets: bucket files, the flat record frame, merge and locations.

MinMod (the mineral-site knowledge graph of DARPA's CriticalMAAS programme) publishes each
dataset as a folder of hash buckets ``bNNN.json``, each a JSON list of MineralSite records;
the mirror keeps them gzip-compressed as ``bNNN.json.gz`` with the same content. A dataset
folder is one catalog ``Source`` with ``content_sha256`` set (see ``layers/catalog.py``).

:func:`read_minmod` flattens the records of one folder into one row per record (what the
record says, nothing normalized but the MinMod site id); ``layers/normalize.py`` then merges
the rows of one source record (:func:`merge_records`), reprojects locations
(:func:`to_lonlat`) and maps commodities (``layers/reference.py``).
"""

from __future__ import annotations

import gzip
import hashlib
import re
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import orjson
import pandas as pd
import pyproj
import shapely
from slugify import slugify

from layers.errors import SchemaError

BUCKET_RE = re.compile(r"^b\d{3}\.json(\.gz)?$")

#: Columns of the frame :func:`read_minmod` returns (one row per MineralSite record).
RECORD_COLUMNS = (
    "source_id",
    "record_id",
    "name",
    "aliases",
    "site_type",
    "site_rank",
    "country",
    "state_observed",
    "crs",
    "location",
    "commodity_observed",
    "commodity_qid",
    "deposit_type",
    "inventory",
    "created_by",
    "modified_at",
    "minmod_id",
)


# --- bucket files ------------------------------------------------------------------------


def bucket_files(folder: Path) -> list[Path]:
    """The bucket files of a dataset folder, in name order (``b000.json[.gz]`` ...)."""
    return sorted(p for p in Path(folder).iterdir() if BUCKET_RE.match(p.name))


def bucket_bytes(path: Path) -> bytes:
    """The JSON content of one bucket (gunzipped when it is a ``.gz``)."""
    data = Path(path).read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def content_sha256(path: Path) -> str:
    """sha256 of a bucket's decompressed content (what ``CONTENT.sha256`` lists)."""
    return hashlib.sha256(bucket_bytes(path)).hexdigest()


def read_content_list(path: Path) -> dict[str, str]:
    """``CONTENT.sha256`` (``<sha256>  <path>`` lines, as ``sha256sum`` writes them) as a
    map from path, without a ``.gz`` suffix, to sha256 of the decompressed content."""
    listing: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise SchemaError(f"{path}: line {number} is not '<sha256>  <path>': {line!r}")
        listing[name.strip().removesuffix(".gz")] = digest
    return listing


# --- MinMod site ids ---------------------------------------------------------------------


def _strip_scheme(source_id: str) -> str:
    for scheme in ("http://", "https://"):
        if source_id.startswith(scheme):
            return source_id[len(scheme) :].removesuffix("/")
    return source_id


_slug = cache(slugify)
_PLAIN = re.compile(r"[A-Za-z0-9]+")


def _record_slug(record_id: str) -> str:
    """slugify, with a fast path for plain alphanumeric ids (most of them)."""
    return record_id.lower() if _PLAIN.fullmatch(record_id) else slugify(record_id)


def minmod_site_id(source_id: str, record_id: str, username: str) -> str:
    """MinMod's id of one creator's record of a site, as in the ``same-as/*.csv`` files:
    ``site__<slug(source)>__<slug(record)>__<creator>`` (MinMod's ``make_site_id``: the
    source without its scheme, both slugified with python-slugify, the pair cut at 120
    characters plus an 8-hex sha256 suffix when longer)."""
    return _site_id(_slug(_strip_scheme(source_id)), record_id, username)


def _site_id(source_slug: str, record_id: str, username: str) -> str:
    path = f"{source_slug}__{_record_slug(record_id)}"
    if len(path) > 120:
        path = path[:120] + "__" + hashlib.sha256(path.encode()).hexdigest()[:8]
    return f"site__{path}__{username}"


def normalize_source_id(source_id: str) -> str:
    """Drop the category prefix older snapshots carry (``database::https://...``)."""
    return source_id.split("::", 1)[1] if "::" in source_id else source_id


def username(created_by: str | list[str] | None) -> str | None:
    """``https://minmod.isi.edu/users/s/umn`` -> ``umn`` (the first creator of a list)."""
    if isinstance(created_by, list):
        created_by = created_by[0] if created_by else None
    return created_by.rstrip("/").rsplit("/", 1)[-1] if created_by else None


# --- one record -> one row ---------------------------------------------------------------
# Typed decoding (msgspec) reads only the fields fedmin uses, which is several times faster
# than building every dict of a record (references, page info, confidences) and then
# picking from them. Field types are loose where the sources are (``Any``).


class Candidate(msgspec.Struct):
    observed_name: Any = None
    normalized_uri: str | None = None
    confidence: float | None = None


class Measure(msgspec.Struct):
    value: Any = None
    unit: Candidate | None = None


class InventoryEntry(msgspec.Struct):
    commodity: Candidate | None = None
    category: list[Candidate] = []
    ore: Measure | None = None
    grade: Measure | None = None
    zone: Any = None
    date: Any = None


class LocationInfo(msgspec.Struct):
    country: list[Candidate] = []
    state_or_province: list[Candidate] = []
    crs: Candidate | None = None
    location: str | None = None


class MineralSite(msgspec.Struct):
    source_id: str
    record_id: str | int
    name: Any = None
    aliases: list[Any] = []
    site_type: str | None = None
    site_rank: str | None = None
    location_info: LocationInfo | None = None
    mineral_inventory: list[InventoryEntry] = []
    deposit_type_candidate: list[Candidate] = []
    created_by: str | list[str] | None = None
    modified_at: str | None = None


_DECODER = msgspec.json.Decoder(list[MineralSite])


def _qid(entry: Candidate | None) -> str | None:
    uri = entry.normalized_uri if entry is not None else None
    return uri.rsplit("/", 1)[-1] if uri else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else str(value).strip()
    return text or None


def _observed(candidates: list[Candidate]) -> str | None:
    return next((t for t in (_text(c.observed_name) for c in candidates) if t), None)


def _top_deposit_type(candidates: list[Candidate]) -> str | None:
    if not candidates:
        return None
    return _text(max(candidates, key=lambda c: c.confidence or 0.0).observed_name)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _inventory_item(entry: InventoryEntry, observed: str | None, qid: str | None) -> dict | None:
    ore = _number(entry.ore.value) if entry.ore else None
    grade = _number(entry.grade.value) if entry.grade else None
    if ore is None and grade is None:
        return None
    categories = sorted({c for c in (_qid(x) for x in entry.category) if c})
    return {
        "commodity_observed": observed,
        "commodity_qid": qid,
        "ore": ore,
        "ore_unit": _qid(entry.ore.unit) if entry.ore else None,
        "grade": grade,
        "grade_unit": _qid(entry.grade.unit) if entry.grade else None,
        "category": "+".join(categories) or None,
    }


def _first_observed(candidates: list[Candidate]) -> str | None:
    """The first candidate's observed name (nearly always there), else the next one's."""
    if not candidates:
        return None
    return _text(candidates[0].observed_name) or _observed(candidates[1:])


class _RowMaker:
    """MineralSite -> row tuple; per-dataset constants (source slug, creator) memoized."""

    def __init__(self) -> None:
        self._sources: dict[str, tuple[str, str]] = {}
        self._creators: dict[object, str | None] = {}

    def _source(self, raw: str) -> tuple[str, str]:
        if raw not in self._sources:
            source_id = normalize_source_id(raw)
            self._sources[raw] = (source_id, _slug(_strip_scheme(source_id)))
        return self._sources[raw]

    def _creator(self, created_by: str | list[str] | None) -> str | None:
        key = tuple(created_by) if isinstance(created_by, list) else created_by
        if key not in self._creators:
            self._creators[key] = username(created_by)
        return self._creators[key]

    def __call__(self, record: MineralSite) -> tuple:
        location = record.location_info or _NO_LOCATION
        observed: list[str | None] = []
        qids: list[str | None] = []
        inventory = []
        for entry in record.mineral_inventory:
            commodity = entry.commodity
            name = _text(commodity.observed_name) if commodity is not None else None
            qid = _qid(commodity)
            if (name or qid) and not any(
                o == name and q == qid for o, q in zip(observed, qids, strict=True)
            ):
                observed.append(name)
                qids.append(qid)
            if entry.ore is not None or entry.grade is not None:
                item = _inventory_item(entry, name, qid)
                if item is not None:
                    inventory.append(item)
        source_id, source_slug = self._source(record.source_id)
        record_id = str(record.record_id).strip()
        creator = self._creator(record.created_by)
        site_id = _site_id(source_slug, record_id, creator) if creator else None
        return (
            source_id,
            record_id,
            _text(record.name),
            [t for t in (_text(a) for a in record.aliases) if t] if record.aliases else [],
            record.site_type,
            record.site_rank,
            _first_observed(location.country),
            _first_observed(location.state_or_province),
            _text(location.crs.observed_name) if location.crs is not None else None,
            location.location,
            observed,
            qids,
            _top_deposit_type(record.deposit_type_candidate),
            inventory,
            creator,
            record.modified_at,
            site_id,
        )


_NO_LOCATION = LocationInfo()


def read_minmod(path: str, source: object = None) -> pd.DataFrame:
    """One row per MineralSite record of the dataset folder ``path`` (``RECORD_COLUMNS``).

    Raises ``SchemaError`` naming the bucket that is not a JSON list of MineralSite
    records, or the folder when it holds no bucket at all.
    """
    folder = Path(path)
    if not folder.is_dir() or not bucket_files(folder):
        raise SchemaError(f"{path}: no MinMod bucket files (bNNN.json or bNNN.json.gz) there")
    rows = []
    make_row = _RowMaker()
    for bucket in bucket_files(folder):
        try:
            records = _DECODER.decode(bucket_bytes(bucket))
        except (msgspec.DecodeError, OSError, EOFError, gzip.BadGzipFile) as exc:
            raise SchemaError(
                f"{bucket}: not a MinMod bucket of MineralSite records: {exc}"
            ) from exc
        rows.extend(map(make_row, records))
    return pd.DataFrame.from_records(rows, columns=list(RECORD_COLUMNS))


# --- locations ---------------------------------------------------------------------------


def to_lonlat(location: pd.Series, crs: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WKT points in their stated CRS -> WGS84 lon/lat arrays (NaN where invalid).

    No CRS stated means WGS84 (MinMod's default). Longitudes are normalized to
    [-180, 180] (Aleutian records east of the antimeridian), so Alaska is one range.
    Invalid means: no or unparseable WKT, not a point, non-finite, or outside the valid
    range after reprojection (e.g. latitude -90). Returns (lon, lat, has_location): the
    last says which records state a location at all (valid or not).
    """
    n = len(location)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    text = location.to_numpy(dtype=object)
    has = np.array([isinstance(t, str) and t.strip() != "" for t in text], dtype=bool)
    geoms = np.full(n, None, dtype=object)
    with np.errstate(all="ignore"):
        geoms[has] = shapely.from_wkt(text[has], on_invalid="ignore")
    # A MULTIPOINT of one point (some extracted reports) is that point; more is no location.
    single = np.array(
        [g is not None and g.geom_type == "MultiPoint" and len(g.geoms) == 1 for g in geoms],
        dtype=bool,
    )
    geoms[single] = [g.geoms[0] for g in geoms[single]]
    points = np.array(
        [g is not None and g.geom_type == "Point" and not g.is_empty for g in geoms], dtype=bool
    )
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    x[points] = shapely.get_x(geoms[points])
    y[points] = shapely.get_y(geoms[points])
    stated = crs.fillna("EPSG:4326").astype(str).str.strip().replace("WGS84", "EPSG:4326")
    for name in stated[points].unique():
        rows = points & (stated.to_numpy() == name)
        if name == "EPSG:4326":
            lon[rows], lat[rows] = x[rows], y[rows]
            continue
        try:
            transformer = pyproj.Transformer.from_crs(name, 4326, always_xy=True)
        except pyproj.exceptions.CRSError as exc:
            raise SchemaError(f"MinMod records state an unknown CRS {name!r}: {exc}") from exc
        lon[rows], lat[rows] = transformer.transform(x[rows], y[rows], errcheck=False)
    lon = np.where(np.isfinite(lon), (lon + 180.0) % 360.0 - 180.0, np.nan)
    valid = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) < 90.0)
    # A point exactly at 0, 0 is a placeholder, not a location.
    valid &= ~((lon == 0.0) & (lat == 0.0))
    lon[~valid] = np.nan
    lat[~valid] = np.nan
    return lon, lat, has


# --- merge -------------------------------------------------------------------------------

#: List columns united across the rows of one source record (order: newest first).
UNITED_COLUMNS = ("aliases", "commodity_observed", "commodity_qid", "inventory", "minmod_id")


def merge_records(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One row per ``(source_id, record_id)``: rows of several creators or snapshots merged.

    Rules (``docs/data.md``): rows are ordered by ``modified_at`` and then by ``_order``
    (the source's position in the catalog entry, later = newer snapshot); for every scalar
    column the newest non-null value wins; the location (``lon``/``lat``, together) comes
    from the newest row that has a valid one; list columns are united, newest first, without
    repeats (``commodity_observed``/``commodity_qid`` pairwise). Returns the merged frame
    and the number of rows merged away.
    """
    frame = frame.sort_values(
        ["source_id", "record_id", "modified_at", "_order"], kind="stable", na_position="first"
    ).reset_index(drop=True)
    key = (frame["source_id"] + "\x1f" + frame["record_id"]).to_numpy(dtype=object)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    scalar = [c for c in frame.columns if c not in UNITED_COLUMNS]
    merged = frame[scalar].groupby(key, sort=False).last().reset_index(drop=True)
    # ``last`` takes the last non-null lon and the last non-null lat; they are null together.
    ids = frame["minmod_id"].to_numpy(dtype=object)
    merged["minmod_id"] = _united(
        np.array([[v] if v else [] for v in ids] + [None], dtype=object)[:-1], starts
    )
    merged["aliases"] = _united(frame["aliases"].to_numpy(dtype=object), starts)
    merged["inventory"] = _united(frame["inventory"].to_numpy(dtype=object), starts)
    observed = frame["commodity_observed"].to_numpy(dtype=object)
    qids = frame["commodity_qid"].to_numpy(dtype=object)
    pairs = np.empty(len(frame), dtype=object)
    multi_rows = np.repeat(
        np.diff(np.r_[starts, len(frame)]) > 1, np.diff(np.r_[starts, len(frame)])
    )
    for row in np.flatnonzero(multi_rows).tolist():
        pairs[row] = list(zip(observed[row], qids[row], strict=True))
    united = _united(pairs, starts)
    single = ~multi_rows[starts]
    merged["commodity_observed"] = np.where(single, observed[starts], None)
    merged["commodity_qid"] = np.where(single, qids[starts], None)
    for group in np.flatnonzero(~single).tolist():
        merged.at[group, "commodity_observed"] = [p[0] for p in united[group]]
        merged.at[group, "commodity_qid"] = [p[1] for p in united[group]]
    return merged, len(frame) - len(merged)


def _marker(item: object) -> object:
    return orjson.dumps(item, option=orjson.OPT_SORT_KEYS) if isinstance(item, dict) else item


def _united(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per group of rows (``starts``: first row of each), the union of the list values,
    newest (last row) first, without repeats. A group of one row keeps its list."""
    sizes = np.diff(np.r_[starts, len(values)])
    out = np.empty(len(starts), dtype=object)
    single = sizes == 1
    out[single] = values[starts[single]]
    for group in np.flatnonzero(~single).tolist():
        start, end = int(starts[group]), int(starts[group] + sizes[group])
        bucket, seen = [], set()
        for row in range(end - 1, start - 1, -1):
            for item in values[row]:
                marker = _marker(item)
                if marker not in seen:
                    seen.add(marker)
                    bucket.append(item)
        out[group] = bucket
    return out
