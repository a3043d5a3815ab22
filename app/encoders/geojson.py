"""GeoJSON as bytes: each feature encoded once at start-up, a page joined from them.

The collection keeps every row as an encoded GeoJSON Feature
(``Collection.features``: geometries written by GEOS in one vectorized call,
properties the JSON-ready dicts), so a page is an index lookup and one ``bytes.join``;
the default JSON encoder never sees a feature.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from app.collections import Collection


def feature_collection(
    collection: Collection,
    positions: np.ndarray,
    members: dict[str, Any],
    properties: tuple[str, ...] | None = None,
) -> bytes:
    """A FeatureCollection of ``positions``; ``members`` (links, counts) come first.
    With ``properties``, the features keep only those (encoded for this page)."""
    encoded = (
        collection.features.take(positions)
        if properties is None
        else collection.feature_subset(positions, properties)
    )
    features = b"[" + b",".join(encoded) + b"]"
    doc = {"type": "FeatureCollection", **members, "features": orjson.Fragment(features)}
    return orjson.dumps(doc)


def feature(collection: Collection, position: int, links: list[dict[str, Any]]) -> bytes:
    """One feature with ``links`` as its last member."""
    encoded = collection.features[position]
    return encoded[:-1] + b',"links":' + orjson.dumps(links) + b"}"
