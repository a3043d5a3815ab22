"""GeoJSON as bytes: geometries serialized by GEOS per page, properties prepared once.

The default JSON encoder never sees a feature: ``shapely.to_geojson`` writes a page of
geometries in one vectorized call, their text is embedded with ``orjson.Fragment`` and
the properties are the JSON-ready dicts the collection built at start-up.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import shapely

from app.collections import Collection


def _features(collection: Collection, positions: np.ndarray) -> list[dict[str, Any]]:
    geometries = shapely.to_geojson(collection.geoms[positions])
    return [
        {
            "type": "Feature",
            "id": collection.ids[i],
            "geometry": orjson.Fragment(geometry),
            "properties": collection.records[i],
        }
        for i, geometry in zip(positions.tolist(), geometries.tolist(), strict=True)
    ]


def feature_collection(
    collection: Collection, positions: np.ndarray, members: dict[str, Any]
) -> bytes:
    """A FeatureCollection of ``positions``; ``members`` (links, counts) come first."""
    features = orjson.dumps(_features(collection, positions))
    doc = {"type": "FeatureCollection", **members, "features": orjson.Fragment(features)}
    return orjson.dumps(doc)


def feature(collection: Collection, position: int, links: list[dict[str, Any]]) -> bytes:
    (doc,) = _features(collection, np.array([position]))
    return orjson.dumps({**doc, "links": links})
