"""One reader per source format, each returning a (Geo)DataFrame of the source as published.

Readers do no normalization: ``layers/normalize.py`` maps their output onto the canonical
schemas. A reader that cannot parse its file raises ``SchemaError`` naming the file.
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import pandas as pd
import pyogrio

from layers.catalog import Source
from layers.errors import SchemaError
from layers.minmod import read_minmod

Reader = Callable[[str, Source], pd.DataFrame]


def read_vector(path: str, source: Source) -> gpd.GeoDataFrame:
    """Any OGR vector format (GeoJSON, GeoPackage, shapefile, TopoJSON, zipped)."""
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
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise SchemaError(f"{path}: cannot parse as an MRDS tab-delimited table: {exc}") from exc
    return frame


def read_csv(path: str, source: Source) -> pd.DataFrame:
    """Plain comma-separated tables (USMIN-schema CSV exports, USGS compilations)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="latin-1")
    except (pd.errors.ParserError, OSError) as exc:
        raise SchemaError(f"{path}: cannot parse as CSV: {exc}") from exc
    return frame


READERS: dict[str, Reader] = {
    "minmod": read_minmod,
    "vector": read_vector,
    "mrds_tab": read_mrds_tab,
    "csv": read_csv,
}
