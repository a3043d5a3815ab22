"""CQL2 filters (OGC API - Features Part 3) evaluated over a frame, through pygeofilter.

``cql2-text`` and ``cql2-json`` are parsed by pygeofilter into one AST, checked against
the queryables of the collection (an unknown property is an ``InvalidParameterError``
naming the nearest), then evaluated column-wise with pygeofilter's geopandas backend.

List properties (``commodities``): a comparison, ``LIKE`` or ``IN`` on a list is true when
any of its items matches, which is what a client means by
``commodities LIKE '%lithium%'`` or ``commodities = 'gold'`` (GDAL sends exactly these).
Spatial predicates (``S_INTERSECTS``, ``S_WITHIN``, ...) and ``BBOX`` apply to the
``geometry`` property in lon/lat (CRS84).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pygeofilter import ast
from pygeofilter.backends.evaluator import handle
from pygeofilter.backends.geopandas.evaluate import GeoPandasEvaluator
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.util import like_pattern_to_re

from layers.errors import InvalidParameterError
from layers.suggest import did_you_mean

CQL2_TEXT, CQL2_JSON = "cql2-text", "cql2-json"
LANGUAGES = (CQL2_TEXT, CQL2_JSON)
GEOMETRY = "geometry"
#: The property ``geometry`` of a feature; always queryable.
GEOMETRY_ALIASES = frozenset({GEOMETRY, "geom", "the_geom"})


def _bbox_literal(*bounds: float) -> shapely.Geometry:
    """CQL2's ``BBOX(minx, miny, maxx, maxy)`` literal as a polygon (lon/lat)."""
    if len(bounds) not in (4, 6):
        raise InvalidParameterError(f"filter: BBOX takes 4 (or 6) numbers, got {len(bounds)}")
    minx, miny, maxx, maxy = (
        (bounds[0], bounds[1], bounds[2], bounds[3])
        if len(bounds) == 4
        else (bounds[0], bounds[1], bounds[3], bounds[4])
    )
    return shapely.box(minx, miny, maxx, maxy)


#: Functions a filter may call (pygeofilter parses the BBOX literal as one).
FUNCTIONS = {"bbox": _bbox_literal, "BBOX": _bbox_literal}


def _is_list_column(series: pd.Series) -> bool:
    """An object column holding lists or arrays (e.g. ``commodities``)."""
    if series.dtype != object or series.empty:
        return False
    first = series.dropna()
    return not first.empty and isinstance(first.iloc[0], list | tuple | np.ndarray)


def _any_item(series: pd.Series, test: Any) -> pd.Series:
    """True where any item of the row's list passes ``test`` (an empty list: False)."""
    return series.map(lambda items: items is not None and any(test(v) for v in items)).astype(bool)


class _Evaluator(GeoPandasEvaluator):
    """pygeofilter's geopandas evaluator, with list properties matched item-wise."""

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node: Any, lhs: Any, rhs: Any) -> Any:
        if isinstance(lhs, pd.Series) and _is_list_column(lhs):
            op = node.op.value
            if op == "=":
                return _any_item(lhs, lambda v: v == rhs)
            if op == "<>":
                return ~_any_item(lhs, lambda v: v == rhs)
            raise InvalidParameterError(
                f"filter: {op} does not apply to the list property {node.lhs.name!r}; "
                "use =, <>, LIKE or IN"
            )
        return super().comparison(node, lhs, rhs)

    @handle(ast.Like)
    def like(self, node: Any, lhs: Any) -> Any:
        if isinstance(lhs, pd.Series) and _is_list_column(lhs):
            regex = re.compile(
                like_pattern_to_re(
                    node.pattern,
                    node.nocase,
                    node.wildcard,
                    node.singlechar,
                    node.escapechar or "\\",
                )
            )
            matched = _any_item(lhs, lambda v: isinstance(v, str) and bool(regex.match(v)))
            return ~matched if node.not_ else matched
        if isinstance(lhs, pd.Series):
            matched = super().like(node, lhs.astype("string"))
            return matched.fillna(node.not_).astype(bool)
        return super().like(node, lhs)

    @handle(ast.In)
    def in_(self, node: Any, lhs: Any, *options: Any) -> Any:
        if isinstance(lhs, pd.Series) and _is_list_column(lhs):
            wanted = set(options)
            matched = _any_item(lhs, lambda v: v in wanted)
            return ~matched if node.not_ else matched
        return super().in_(node, lhs, *options)


def _attributes(node: Any) -> Iterator[str]:
    if isinstance(node, ast.Attribute):
        yield node.name
    elif isinstance(node, ast.Node):
        for sub in node.get_sub_nodes():
            yield from _attributes(sub)
    elif isinstance(node, list | tuple):
        for sub in node:
            yield from _attributes(sub)


@dataclass(frozen=True)
class CqlFilter:
    """A ``filter`` parameter: its text and language (hashable, a cache key)."""

    text: str
    lang: str = CQL2_TEXT

    def __post_init__(self) -> None:
        if self.lang not in LANGUAGES:
            raise InvalidParameterError(
                f"filter-lang: {self.lang!r} is not served{did_you_mean(self.lang, LANGUAGES)}; "
                f"one of {list(LANGUAGES)}"
            )
        _ = self.ast  # parse now: a syntax error is a 400 before any work

    @cached_property
    def ast(self) -> Any:
        try:
            if self.lang == CQL2_JSON:
                return parse_cql2_json(json.loads(self.text))
            # imported on first use: building its grammar is 0.13 s of every start
            from pygeofilter.parsers.cql2_text import parse as parse_cql2_text

            return parse_cql2_text(self.text)
        except Exception as exc:  # lark and json raise many kinds
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidParameterError(f"filter: not valid {self.lang}: {first}") from None

    def properties(self) -> set[str]:
        """The properties the filter names."""
        return set(_attributes(self.ast))

    def mask(self, frame: gpd.GeoDataFrame, queryables: Mapping[str, Any]) -> np.ndarray:
        """Rows of ``frame`` the filter keeps; properties must be in ``queryables``."""
        names = {n: (GEOMETRY if n in GEOMETRY_ALIASES else n) for n in self.properties()}
        unknown = sorted(n for n, column in names.items() if column not in queryables)
        if unknown:
            raise InvalidParameterError(
                f"filter: unknown property {unknown[0]!r}"
                f"{did_you_mean(unknown[0], queryables)}; queryables: {sorted(queryables)}"
            )
        mapping = {n: column for n, column in names.items()}
        mapping[GEOMETRY] = frame.geometry.name
        try:
            result = _Evaluator(frame, mapping, FUNCTIONS).evaluate(self.ast)
        except InvalidParameterError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise InvalidParameterError(f"filter: cannot be evaluated here: {exc}") from None
        if isinstance(result, bool | np.bool_):  # a filter with no property, e.g. 1 = 1
            return np.full(len(frame), bool(result))
        if not isinstance(result, pd.Series | np.ndarray):
            raise InvalidParameterError("filter: not a condition (true or false per feature)")
        return np.asarray(pd.Series(result).fillna(False), dtype=bool)
