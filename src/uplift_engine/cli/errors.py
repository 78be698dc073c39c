"""One place where the CLI maps our exceptions to one line and an exit code."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from uplift_engine.errors import UpliftError

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Print an :class:`UpliftError` as ``error: …`` on stderr and exit with its code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UpliftError as exc:
            where = f" [{exc.field}]" if exc.field and exc.field not in exc.message else ""
            print(f"error: {exc.message}{where}", file=sys.stderr)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]
