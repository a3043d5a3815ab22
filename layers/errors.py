"""The FedminError hierarchy.

Library code (``layers/`` and ``geo/``) raises these; ``app/errors.py`` maps each class
to an HTTP status in one table, so no library module knows about HTTP.
"""


class FedminError(Exception):
    """Base class of every error fedmin raises on purpose."""


class DataError(FedminError):
    """A source file or the store is missing, corrupt or does not match its schema."""


class SourceMissingError(DataError):
    """A catalog source is not in the raw data directory (run ``fedmin data fetch``)."""


class ChecksumMismatchError(DataError):
    """A fetched file does not have the sha256 the catalog pins."""


class FetchError(DataError):
    """A source could not be copied or downloaded."""


class SchemaError(DataError):
    """A source lacks required columns or has values that cannot be parsed."""


class StoreNotBuiltError(DataError):
    """No store has been built yet (run ``fedmin data build``)."""


class NotFoundError(FedminError):
    """A named thing (layer, collection, feature, cell) does not exist."""


class InvalidParameterError(FedminError):
    """A caller-supplied parameter is out of range or malformed."""


class LimitExceededError(InvalidParameterError):
    """A request asks for more than a configured limit allows."""


class UnknownCommodityError(InvalidParameterError):
    """A commodity name or code is not in the commodity table."""


class TimeBudgetExceededError(FedminError):
    """Work did not finish within its configured time budget; retrying later may succeed."""


class UnknownCriticalListError(InvalidParameterError):
    """A critical-mineral list id is not one of ``layers.critical.CRITICAL_LIST_IDS``."""


class RankingOverloadedError(FedminError):
    """More rankings are computing or queued than the server takes; retry later."""
