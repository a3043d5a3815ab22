"""Errors raised by ``geo/``: the shared FedminError hierarchy, re-exported for callers."""

from layers.errors import (
    FedminError,
    InvalidParameterError,
    LimitExceededError,
    NotFoundError,
    UnknownCommodityError,
)

__all__ = [
    "FedminError",
    "InvalidParameterError",
    "LimitExceededError",
    "NotFoundError",
    "UnknownCommodityError",
]
