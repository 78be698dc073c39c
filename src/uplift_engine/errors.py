"""The project's exceptions, one small tree.

    UpliftError                     base of everything we raise on purpose
    ├── UserInputError              bad input at a boundary: CLI exit 2, HTTP 4xx
    │   ├── ConfigError             settings, economics or policy files that do not hold
    │   ├── DataError               missing column, wrong type, too few rows
    │   └── BundleError             a model bundle that is missing, corrupt or fails its checksum
    ├── StorageError                a lake or store that fails (exit 1, HTTP 503)
    └── NotFittedError              a model used before it was fitted (also a ValueError and
                                    an AttributeError, as scikit-learn's)

Every message names the thing, what was expected and what was received. ``field`` names the
column, option or JSON field at fault when there is one, so that the HTTP layer can put it in
``{"error": {"code", "message", "field"}}`` and the CLI can print it in one line.
"""

from __future__ import annotations

from collections.abc import Iterable


class UpliftError(Exception):
    """Base of all errors raised on purpose by Uplift Engine."""

    code = "uplift_error"
    exit_code = 1
    http_status = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, object]:
        """The error as the HTTP contract's ``{"error": {...}}`` body."""
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class UserInputError(UpliftError):
    """Input that the user can fix: exit code 2, HTTP 400/422."""

    code = "invalid_input"
    exit_code = 2
    http_status = 422


class ConfigError(UserInputError):
    """Settings, economics or policy files that do not hold."""

    code = "invalid_config"


class DataError(UserInputError):
    """A table that cannot serve the request: missing column, wrong type, too few rows."""

    code = "invalid_data"


class BundleError(UserInputError):
    """A model bundle that is missing, corrupt or fails its checksum."""

    code = "invalid_bundle"


class StorageError(UpliftError):
    """A lake or store that cannot be read or written."""

    code = "storage_unavailable"
    exit_code = 1
    http_status = 503


class NotFittedError(UpliftError, ValueError, AttributeError):
    """A learner asked to predict before ``fit``: a defect of the calling code, not of input."""

    code = "not_fitted"


def quote_values(values: Iterable[object], limit: int = 12) -> str:
    """Render values for a message: ``'a', 'b', 'c'`` (sorted, at most ``limit``, then '…')."""
    items = sorted({str(v) for v in values})
    shown = ", ".join(repr(v) for v in items[:limit])
    return shown + (f", … ({len(items) - limit} more)" if len(items) > limit else "")
