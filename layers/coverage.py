"""Where each deposits layer has data: the ``deposit_coverage`` layer, built with the store.

Every deposits layer declares its ``Coverage`` in the catalog: whole states (state surveys),
part of a state, a box (the northern California extracts), or the nation (MRDS sampled,
national compilations of one kind of deposit). The build turns the declarations into
polygons with the Census state boundaries, so the map can draw them and a ranking can say
when its area has only national sources (``geo/coverage.py``).
"""

from __future__ import annotations

import geopandas as gpd
import shapely

from layers.catalog import Coverage, Layer

LAYER_ID = "deposit_coverage"
#: Coverage kinds that stand for a complete inventory of their area.
FULL_KINDS = frozenset({"state_survey", "region_box"})


def coverage_polygon(coverage: Coverage, states: gpd.GeoDataFrame) -> shapely.Geometry:
    """The area a coverage declaration stands for (states by postal code, a box, or all)."""
    if coverage.bbox is not None:
        return shapely.box(*coverage.bbox)
    chosen = states if not coverage.states else states[states["state"].isin(coverage.states)]
    missing = set(coverage.states) - set(chosen["state"])
    if missing:
        raise ValueError(f"coverage names states not in the states layer: {sorted(missing)}")
    return shapely.union_all(chosen.geometry.to_numpy())


def build_deposit_coverage(layers: list[Layer], states: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One polygon per deposits layer with a coverage declaration (``LayerKind.COVERAGE``)."""
    national = None
    rows, geometries = [], []
    for entry in layers:
        coverage = entry.coverage
        if coverage is None:
            continue
        if coverage.bbox is None and not coverage.states:
            national = national if national is not None else coverage_polygon(coverage, states)
            geometry = national
        else:
            geometry = coverage_polygon(coverage, states)
        rows.append(
            {
                "id": f"{LAYER_ID}:{entry.id}",
                "source": entry.id,
                "coverage": coverage.kind,
                "note": coverage.note,
                "states": ",".join(coverage.states) or None,
            }
        )
        geometries.append(shapely.make_valid(geometry))
    frame = gpd.GeoDataFrame(rows, geometry=geometries, crs=4326)
    if not len(frame):
        frame = gpd.GeoDataFrame(
            columns=["id", "source", "coverage", "note", "states", "geometry"], crs=4326
        )
    return frame
