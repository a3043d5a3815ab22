"""Ranking components on disk, so a fresh process ranks a filter it has seen from a file.

The weight-independent stage of a ranking (``geo.components.RankComponents``) is what a
cold ranking spends its seconds on (about 6 s for the national overview at 25 km); it
depends only on the store build, the engine's code and the filter and grid
(``RankParams.component_key``). The engine writes each one it computes to
``cache/components-<digest>.npz`` beside the store, on a writer thread once the ranking is
answered (``MemoryEngine.close`` waits for it); a restarted server, another worker or the
map's first ranking after ``fedmin serve`` reads it back instead.

* Named by everything it depends on: the build id, the key, the engine kind and a digest
  of the ``geo`` and ``layers`` sources (:func:`code_digest`), so an edit of the scoring
  code never meets a file of the old code, with no version number to forget.
* One uncompressed ``.npz``: the arrays as computed (same dtypes), the table as GeoParquet
  bytes with its list and dict columns as JSON text, and a JSON header (the key, the
  object columns, the validation and the notes). Floats round-trip exactly.
* Written all or nothing (``layers.sources.staging.Staging``); a file that cannot be read
  or is of another key is ignored (the components are recomputed), never trusted.
* Bounded by bytes on disk with the engine's other files (``geo.surface_cache``).
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from geo.components import RankComponents
from layers.sources.staging import Staging
from layers.store import read_geoparquet

log = logging.getLogger(__name__)

#: The files' names in the cache directory (``SurfaceCache`` pattern).
COMPONENT_FILES = "components-*.npz"
#: The array fields of ``RankComponents``, stored as they are.
ARRAY_FIELDS = (
    "evidence_positions",
    "evidence_weights",
    "pair_cell",
    "pair_deposit",
    "pair_contribution",
    "point_cells",
    "developed",
)
_PACKAGES = ("geo", "layers")


@functools.cache
def code_digest() -> str:
    """sha256 of the ``geo`` and ``layers`` sources: what computed the components."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for package in _PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def components_path(directory: Path, build_id: str, engine_kind: str, key: str) -> Path:
    """Where the components of ``key`` over build ``build_id`` are kept."""
    name = orjson.dumps([build_id, engine_kind, key, code_digest()])
    return directory / f"components-{hashlib.sha256(name).hexdigest()[:24]}.npz"


def write_components(components: RankComponents, path: Path, key: str) -> bool:
    """Write ``components`` to ``path``; False (and a log line) when the store is
    read-only or full: the ranking is still answered from memory."""
    table = pd.DataFrame(components.table)
    json_columns = [c for c in table.columns if c != "geometry" and table[c].dtype == object]
    for column in json_columns:
        table[column] = [
            orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode() for v in table[column]
        ]
    parquet = io.BytesIO()
    gpd.GeoDataFrame(table, geometry="geometry", crs=4326).to_parquet(parquet, index=True)
    header = {
        "key": key,
        "json_columns": json_columns,
        "validation": components.validation,
        "notes": components.notes,
    }
    arrays = {name: getattr(components, name) for name in ARRAY_FIELDS}
    buffer = io.BytesIO()
    np.savez(
        buffer,
        header=np.frombuffer(orjson.dumps(header, option=orjson.OPT_SERIALIZE_NUMPY), np.uint8),
        table=np.frombuffer(parquet.getbuffer(), np.uint8),
        **arrays,
    )
    try:
        with Staging() as staging:
            staging.write(path, [buffer.getbuffer()])
            staging.commit()
    except OSError as exc:
        log.info("ranking components kept in memory only (%s)", exc)
        return False
    return True


def read_components(path: Path, key: str) -> RankComponents | None:
    """The components written to ``path`` for ``key``; None when there are none (or the
    file is unreadable or of another key)."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            header = orjson.loads(stored["header"].tobytes())
            if header["key"] != key:
                log.warning("ignoring ranking components of another key in %s", path)
                return None
            table = read_geoparquet(pa.BufferReader(stored["table"].tobytes()))
            arrays = {name: stored[name] for name in ARRAY_FIELDS}
    except FileNotFoundError:
        return None
    except Exception as exc:  # a corrupt or truncated file is recomputed, never trusted
        log.warning("ignoring unreadable ranking components %s: %s", path, exc)
        return None
    for column in header["json_columns"]:
        table[column] = pd.Series(
            [orjson.loads(v) for v in table[column].tolist()], index=table.index, dtype=object
        )
    return RankComponents(
        table=table,
        validation=header["validation"],
        notes=header["notes"],
        **arrays,
    )
