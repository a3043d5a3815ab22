"""Fixtures for the geo tests: a store built from the real-data mirror, an engine over it,
and a synthetic two-cell toy store (named as such) whose scores can be computed by hand.

The real store is the session's one build from the mirror (``tests/conftest.py``); the
tests skip with a reason when no mirror is present.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.schema import SCHEMAS, LayerKind


@pytest.fixture(scope="session")
def geo_store(real_store: Any) -> Any:
    """The real store: the session's one build from the mirror (``tests/conftest.py``)."""
    return real_store


@pytest.fixture(scope="session")
def geo_engine(geo_store: Any) -> Any:
    from geo.engine import MemoryEngine

    return MemoryEngine.from_store(geo_store)


@pytest.fixture(scope="session")
def enriched(geo_engine: Any) -> gpd.GeoDataFrame:
    return geo_engine.deposits


# --- synthetic toy store ---------------------------------------------------------------


@dataclass
class ToyStore:
    """The slice of ``layers.store.Store`` the engine uses, over in-memory frames."""

    root: Path
    frames: dict[str, tuple[LayerKind, gpd.GeoDataFrame, dict[str, Any]]]
    build_id: str = "toy-build"
    manifest: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        layers = {}
        for layer_id, (kind, frame, extra) in self.frames.items():
            layers[layer_id] = {
                "kind": kind.value,
                "rows": len(frame),
                "bounds": [float(v) for v in frame.total_bounds] if len(frame) else None,
                "sources": [
                    {
                        "path": f"toy/{layer_id}",
                        "sha256": hashlib.sha256(layer_id.encode()).hexdigest(),
                    }
                ],
                **extra,
            }
        self.manifest = {"build_id": self.build_id, "layers": layers, "absent": {}}

    def layer_ids(self, kind: LayerKind | None = None) -> list[str]:
        return [k for k, (kd, _, _) in self.frames.items() if kind is None or kd == kind]

    def frame(self, layer_id: str) -> gpd.GeoDataFrame:
        from layers.errors import NotFoundError

        if layer_id not in self.frames:
            raise NotFoundError(layer_id)
        return self.frames[layer_id][1]

    def kind_frame(self, kind: LayerKind) -> gpd.GeoDataFrame:
        frames = [f for kd, f, _ in self.frames.values() if kd == kind]
        if not frames:
            columns = [*SCHEMAS[kind].columns, "geometry"]
            return gpd.GeoDataFrame(columns=columns, geometry="geometry", crs=4326)
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)

    @property
    def source_checksums(self) -> dict[str, list[dict[str, str]]]:
        return {k: v["sources"] for k, v in self.manifest["layers"].items()}


#: The toy grid: two 5 km square cells A (col 600, row 850) and B (col 601, row 850).
TOY_COL, TOY_ROW, TOY_SIZE = 600, 850, 5000.0


def toy_centres() -> tuple[tuple[float, float], tuple[float, float]]:
    from geo.grid import GRID_ORIGIN

    xa = GRID_ORIGIN[0] + (TOY_COL + 0.5) * TOY_SIZE
    ya = GRID_ORIGIN[1] + (TOY_ROW + 0.5) * TOY_SIZE
    return (xa, ya), (xa + TOY_SIZE, ya)


def _to4326(geoms: list[shapely.Geometry]) -> np.ndarray:
    dense = shapely.segmentize(np.asarray(geoms, dtype=object), 100.0)
    return np.asarray(gpd.GeoSeries(dense, crs=5070).to_crs(4326).values, dtype=object)


def toy_frames() -> dict[str, tuple[LayerKind, gpd.GeoDataFrame, dict[str, Any]]]:
    """Layers of the two-cell toy (every geometry drawn in EPSG:5070, see test_scoring)."""
    (xa, ya), (xb, yb) = toy_centres()
    h = TOY_SIZE / 2
    land = shapely.box(xa - h + 1, ya - h + 1, xb + h - 1, yb + h - 1)  # inset 1 m
    states = gpd.GeoDataFrame(
        {"id": ["99"], "name": ["Toyland"], "level": ["state"], "state": ["ZZ"]},
        geometry=_to4326([land]),
        crs=4326,
    )
    forest = shapely.box(xa - 20_000, ya - 20_000, xb + 20_000, yb + 20_000)
    wilderness = shapely.box(xa - h, ya - h, xa - 1250, ya + h)
    lands = gpd.GeoDataFrame(
        {
            "id": ["toy:forest", "toy:wild"],
            "name": ["Toy NF", "Toy Wilderness"],
            "source": ["toy", "toy"],
            "agency": ["USFS", "USFS"],
            "designation": ["national_forest", "wilderness"],
            "mineral_entry": ["open", "closed"],
        },
        geometry=_to4326([forest, wilderness]),
        crs=4326,
    )
    deposit_xy = [(xa, ya), (xa + 1000, ya), (xb, yb)]
    deposits = gpd.GeoDataFrame(
        {
            "id": ["toy:d1", "toy:d2", "toy:d3"],
            "name": ["Toy producer", "Toy occurrence", "Toy chromite prospect"],
            "source": ["toy"] * 3,
            "source_id": ["1", "2", "3"],
            "source_url": [None] * 3,
            "commodities": [["gold"], ["gold"], ["chromium"]],
            "primary_commodity": ["gold", "gold", "chromium"],
            "critical": [False, False, True],
            "dev_status": ["producer", "occurrence", "prospect"],
            "state": ["ZZ"] * 3,
            "county": [None] * 3,
            "details": ["{}"] * 3,
        },
        geometry=_to4326([shapely.Point(x, y) for x, y in deposit_xy]),
        crs=4326,
    )
    active = shapely.box(xb + 1250, yb + 1250, xb + 1750, yb + 1750)  # 500 m x 500 m
    closed = shapely.box(xa - 30_000, ya - 30_000, xa - 29_500, ya - 29_500)
    claims = gpd.GeoDataFrame(
        {
            "id": ["toy:c1", "toy:c2"],
            "name": ["Active", "Closed"],
            "source": ["toy"] * 2,
            "claim_type": ["lode", "lode"],
            "status": ["active", "closed"],
            "acres": [62.0, 62.0],
        },
        geometry=_to4326([active, closed]),
        crs=4326,
    )
    road = shapely.LineString([(xa - 1000, ya - 50_000), (xa - 1000, ya + 50_000)])
    power = shapely.LineString([(xb + 4000, ya - 50_000), (xb + 4000, ya + 50_000)])
    infra = {
        "toy_roads": (road, "road"),
        "toy_power": (power, "power"),
    }
    frames: dict[str, tuple[LayerKind, gpd.GeoDataFrame, dict[str, Any]]] = {
        "states": (LayerKind.BOUNDARIES, states, {}),
        "toy_lands": (
            LayerKind.FEDERAL_LANDS,
            lands,
            {"land_coverage": {"states": ["ZZ"], "complete": True, "note": "synthetic"}},
        ),
        "toy_deposits": (LayerKind.DEPOSITS, deposits, {}),
        "toy_claims": (LayerKind.CLAIMS, claims, {}),
    }
    for layer_id, (line, kind) in infra.items():
        frame = gpd.GeoDataFrame(
            {
                "id": [f"{layer_id}:0"],
                "kind": [kind],
                "name": [None],
                "class": [None],
                "source": [layer_id],
            },
            geometry=_to4326([line]),
            crs=4326,
        )
        frames[layer_id] = (
            LayerKind.INFRASTRUCTURE,
            frame,
            {"infrastructure_kind": kind, "coverage_states": ["ZZ"]},
        )
    return frames


@pytest.fixture
def toy_store(tmp_path: Path) -> ToyStore:
    """Synthetic two-cell toy store (no rail layer at all: rail distances are null)."""
    return ToyStore(root=tmp_path, frames=toy_frames())
