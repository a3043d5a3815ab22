"""One reader per source format, each returning a (Geo)DataFrame of the source as published.

Readers do no normalization: ``layers/normalize.py`` maps their output onto the canonical
schemas. A reader that cannot parse its file raises ``SchemaError`` naming the file; so do
an empty file and a shapefile missing a sidecar GDAL needs (``.shx``, ``.dbf``: without
the ``.dbf`` GDAL reads geometries with no attributes, which would fail later on a
missing column that does not say why).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from layers.catalog import Source
from layers.errors import SchemaError, SourceMissingError
from layers.minmod import read_minmod

Reader = Callable[[str, Source], pd.DataFrame]
#: The sidecars a shapefile cannot be read without (``.prj`` is optional: lon/lat assumed).
SHAPEFILE_SIDECARS = (".shx", ".dbf")


def check_file(path: str) -> None:
    """A local source file exists, is not empty and, for a shapefile, has its sidecars.
    GDAL virtual paths (``/vsizip/...``) are checked by GDAL itself."""
    if path.startswith("/vsi"):
        return
    file = Path(path)
    if not file.is_file():
        raise SourceMissingError(f"{path}: the source file is missing (run fedmin data fetch)")
    if file.stat().st_size == 0:
        raise SchemaError(f"{path}: the source file is empty (0 bytes); fetch it again")
    if file.suffix.lower() == ".shp":
        for suffix in SHAPEFILE_SIDECARS:
            present = [file.with_suffix(s) for s in (suffix, suffix.upper())]
            if not any(p.is_file() for p in present):
                raise SchemaError(
                    f"{file.with_suffix(suffix)}: missing; the shapefile {file.name} needs "
                    f"its {suffix} file beside it (fetch the source again)"
                )


def read_vector(path: str, source: Source) -> gpd.GeoDataFrame:
    """Any OGR vector format (GeoJSON, GeoPackage, shapefile, TopoJSON, zipped)."""
    check_file(path)
    try:
        frame = pyogrio.read_dataframe(path, layer=source.gdal_layer, use_arrow=True)
    except Exception as exc:  # pyogrio raises several GDAL error types
        raise SchemaError(f"{path}: cannot read as a vector dataset: {exc}") from exc
    if frame.crs is None:
        # TopoJSON and some GeoJSON carry no CRS: they are lon/lat by specification.
        frame = frame.set_crs(4326)
    return frame


def read_mrds_tab(path: str, source: Source) -> pd.DataFrame:
    """MRDS relational export table: tab-delimited, quoted strings, header row."""
    check_file(path)
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise SchemaError(f"{path}: cannot parse as an MRDS tab-delimited table: {exc}") from exc
    return frame


def read_csv(path: str, source: Source) -> pd.DataFrame:
    """Plain comma-separated tables (USMIN-schema CSV exports, USGS compilations)."""
    check_file(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="latin-1")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        raise SchemaError(f"{path}: cannot parse as CSV: {exc}") from exc
    return frame


READERS: dict[str, Reader] = {
    "minmod": read_minmod,
    "vector": read_vector,
    "mrds_tab": read_mrds_tab,
    "csv": read_csv,
}
