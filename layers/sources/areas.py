"""The area a fetch is for: states (``--states NV,AZ``) or a bounding box (``--bbox``).

A state becomes, per protocol, a ``where`` clause on the source's state field, a URL of a
per-state file (``{fips}`` / ``{state}`` in the catalog URL), or its bounding boxes as
query envelopes. The boxes come from ``data/state_bounds.csv`` (derived from the Census
cartographic state boundaries of the catalog's ``states`` layer; see ``state_bounds.md``),
so a fresh machine needs no boundary file to fetch. Alaska's box is split at the
antimeridian into two, since a query envelope cannot cross it.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache

from layers import reference
from layers.errors import InvalidParameterError

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class StateBox:
    state: str
    fips: str
    bbox: BBox


@cache
def state_boxes() -> dict[str, tuple[StateBox, ...]]:
    """Postal code -> its bounding boxes (two for Alaska), from data/state_bounds.csv."""
    boxes: dict[str, list[StateBox]] = {}
    path = reference.REFERENCE_DIR / "state_bounds.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            bbox = tuple(float(row[k]) for k in ("minx", "miny", "maxx", "maxy"))
            boxes.setdefault(row["state"], []).append(StateBox(row["state"], row["fips"], bbox))  # type: ignore[arg-type]
    return {k: tuple(v) for k, v in boxes.items()}


@dataclass(frozen=True)
class Area:
    """States or a bounding box (lon/lat, EPSG:4326); an empty area is the whole source."""

    states: tuple[str, ...] = ()
    bbox: BBox | None = None

    @classmethod
    def parse(cls, states: str | None = None, bbox: str | None = None) -> Area:
        """``"NV,AZ"`` and/or ``"minx,miny,maxx,maxy"``; bad input is InvalidParameterError."""
        codes: tuple[str, ...] = ()
        if states:
            codes = tuple(dict.fromkeys(s.strip().upper() for s in states.split(",") if s.strip()))
            known = state_boxes()
            unknown = [c for c in codes if c not in known]
            if unknown:
                raise InvalidParameterError(
                    f"unknown state code(s) {unknown}; use postal codes such as NV, AZ "
                    f"(known: {', '.join(sorted(known))})"
                )
        box = _parse_bbox(bbox) if bbox else None
        if codes and box is not None:
            raise InvalidParameterError("give --states or --bbox, not both")
        return cls(codes, box)

    @property
    def whole(self) -> bool:
        return not self.states and self.bbox is None

    @property
    def tag(self) -> str:
        """A short file-name-safe name: ``us``, ``NV-AZ`` or ``bbox_-120_35_-114_42``."""
        if self.states:
            return "-".join(self.states)
        if self.bbox is not None:
            return "bbox_" + "_".join(f"{v:g}" for v in self.bbox)
        return "us"

    def parts(self) -> list[tuple[str, BBox]]:
        """(label, envelope) per state box or bbox piece; the antimeridian splits both."""
        if self.states:
            boxes = state_boxes()
            return [
                (s.state if len(boxes[code]) == 1 else f"{s.state}#{i}", s.bbox)
                for code in self.states
                for i, s in enumerate(boxes[code])
            ]
        if self.bbox is None:
            return []
        minx, miny, maxx, maxy = self.bbox
        if minx <= maxx:
            return [("bbox", self.bbox)]
        return [("bbox#0", (minx, miny, 180.0, maxy)), ("bbox#1", (-180.0, miny, maxx, maxy))]

    def fips(self) -> list[tuple[str, str]]:
        """(postal code, FIPS) of each state, for per-state file URLs."""
        boxes = state_boxes()
        return [(code, boxes[code][0].fips) for code in self.states]

    def describe(self) -> dict[str, object]:
        if self.states:
            return {"states": list(self.states)}
        if self.bbox is not None:
            return {"bbox": list(self.bbox)}
        return {"whole": True}


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _parse_bbox(text: str) -> BBox:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4 or not all(_NUMBER.match(p) for p in parts):
        raise InvalidParameterError(
            f"--bbox {text!r}: expected minx,miny,maxx,maxy in degrees, e.g. -120,35,-114,42"
        )
    minx, miny, maxx, maxy = (float(p) for p in parts)
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny < maxy <= 90):
        raise InvalidParameterError(
            f"--bbox {text!r}: longitudes must lie in -180..180 and latitudes in -90..90 with "
            "miny < maxy (minx > maxx crosses the antimeridian)"
        )
    return minx, miny, maxx, maxy
