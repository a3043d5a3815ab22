"""The nearest known spelling of a mistyped name or value, for error messages.

``lithum`` -> ``lithium``, ``colour`` -> ``color``: a 400 that names what was meant saves
a round trip to the docs. RapidFuzz's normalized Indel similarity, with a cut-off so an
unrelated word gets no suggestion rather than a random one.
"""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz import fuzz, process, utils

#: Lowest similarity (0-100) worth suggesting.
MIN_SCORE = 60.0


def nearest(value: str, choices: Iterable[str]) -> str | None:
    """The choice most like ``value`` (case-insensitive), or None when none is close."""
    match = process.extractOne(
        value,
        list(choices),
        scorer=fuzz.ratio,
        processor=utils.default_process,
        score_cutoff=MIN_SCORE,
    )
    return None if match is None else match[0]


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the nearest choice, or an empty string."""
    found = nearest(value, choices)
    return f" (did you mean {found!r}?)" if found is not None else ""
