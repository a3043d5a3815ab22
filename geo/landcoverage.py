"""Where land status is known: the coverage the land layers declare.

Each land layer declares in the catalog what it covers (``layers.catalog.LandCoverage``;
the build copies it into the manifest as ``land_coverage``). Only a layer that maps
*all* federal land of an area (``complete``: the coarse federal-lands layer of the lower
48) lets fedmin say that a point on no unit is ``non_federal``. Layers that map only
their own units (parks, forests, wilderness, Alaska's protected areas) say nothing about
the land between their units: there, and wherever no complete layer reaches (most of
Alaska today), a point's status is ``unknown``, with the reason.

``LandCoverage`` holds the lon/lat area covered completely (the union of the declared
states, widened seaward as for infrastructure coverage) and a per-layer summary for
``/health``, the collections' metadata and the map's legend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.access import states_coverage
from layers.schema import LayerKind

#: Zones of the coverage collection: land status known off the units, or only on them.
COMPLETE = "complete"
UNITS_ONLY = "units_only"

REASON_NON_FEDERAL = (
    "on no mapped land unit, inside the area where {layers} map all federal land: "
    "non-federal (private, state, tribal or local land)"
)
REASON_UNKNOWN = (
    "on no mapped land unit, and no land layer maps all federal land here (in Alaska only "
    "protected units are mapped; general BLM, state and Native land are not): status unknown"
)


@dataclass
class LandCoverage:
    """The area where federal land is mapped completely, and what each land layer covers."""

    complete_area: BaseGeometry
    layers: list[dict[str, Any]] = field(default_factory=list)
    states: gpd.GeoDataFrame | None = None

    def __post_init__(self) -> None:
        shapely.prepare(self.complete_area)

    @property
    def complete_layers(self) -> list[str]:
        return [rec["layer"] for rec in self.layers if rec["complete"]]

    def complete_at(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """True where a point on no unit is known to be non-federal."""
        if self.complete_area.is_empty:
            return np.zeros(len(lon), dtype=bool)
        return shapely.intersects_xy(self.complete_area, lon, lat)

    def off_unit_reason(self, complete: bool) -> str:
        if complete:
            return REASON_NON_FEDERAL.format(layers=", ".join(self.complete_layers))
        return REASON_UNKNOWN

    def to_dict(self) -> dict[str, Any]:
        return coverage_summary(self.layers)

    def zones(self) -> gpd.GeoDataFrame:
        """The coverage as two lon/lat features the map can draw: ``complete`` (status
        known everywhere) and ``units_only`` (known only on the mapped units)."""
        complete = self.complete_area
        if self.states is not None and len(self.states):
            everything = shapely.union_all(self.states.geometry.values)
            partial = (
                shapely.difference(everything, complete) if not complete.is_empty else everything
            )
        else:
            partial = shapely.Polygon()
        unit_layers = [rec["layer"] for rec in self.layers if not rec["complete"]]
        frame = gpd.GeoDataFrame(
            {
                "id": [COMPLETE, UNITS_ONLY],
                "name": [
                    "Land status known (all federal land mapped)",
                    "Land status known only on mapped units (elsewhere unknown)",
                ],
                "coverage": [COMPLETE, UNITS_ONLY],
                "layers": [self.complete_layers, unit_layers],
                "off_unit_status": ["non_federal", "unknown"],
            },
            geometry=[complete, partial],
            crs=4326,
        )
        return frame.loc[~frame.geometry.is_empty].reset_index(drop=True)


def coverage_summary(layers: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``/health``, the collections and the map legend say about land coverage."""
    return {
        "rule": (
            "a point on no land unit is non_federal only where a layer that maps all "
            "federal land covers it; elsewhere its status is unknown. BLM public land is "
            "open only in the blm_designation_states, where a layer maps BLM's national "
            "monuments and conservation areas; elsewhere its status is unknown"
        ),
        "complete_states": sorted({s for rec in layers if rec["complete"] for s in rec["states"]}),
        "blm_designation_states": sorted(
            {s for rec in layers if rec.get("blm_designations") for s in rec["states"]}
        ),
        "layers": layers,
        "collection": "land_coverage",
    }


def declared_coverage(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Per land layer of a store, the coverage its manifest records (a land layer without
    one covers only its own units, nationwide)."""
    layers = []
    for layer_id, record in manifest["layers"].items():
        if record.get("kind") != LayerKind.FEDERAL_LANDS.value:
            continue
        declared = record.get("land_coverage") or {}
        layers.append(
            {
                "layer": layer_id,
                "states": list(declared.get("states") or []),
                "complete": bool(declared.get("complete", False)),
                "blm_designations": bool(declared.get("blm_designations", False)),
                "note": declared.get("note", ""),
            }
        )
    return layers


def land_coverage_for_store(store: Any) -> LandCoverage:
    """The store's land coverage: the area of the complete layers' declared states."""
    layers = declared_coverage(store.manifest)
    complete_states = {s for rec in layers if rec["complete"] for s in rec["states"]}
    states = store.frame("states") if "states" in store.layer_ids() else None
    if states is not None and any(rec["complete"] and not rec["states"] for rec in layers):
        complete_states = set(states["state"].dropna())  # a complete national layer
    if complete_states and states is not None:
        area = states_coverage(states, complete_states)
    else:
        area = shapely.Polygon()
    return LandCoverage(area, layers, states)
