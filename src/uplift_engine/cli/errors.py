"""One place where the CLI maps our exceptions to one line and an exit code."""

from __future__ import annotations

import functools
import inspect
import sys
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from typer.models import OptionInfo

from uplift_engine.errors import UpliftError

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Print an :class:`UpliftError` as ``error: …`` on stderr and exit with its code.

    Errors below the CLI name the field at fault in their own words; the line ends with the
    command's flag for that field (``[--outcome]``), or the field itself when no flag sets it.
    """
    flags = option_flags(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UpliftError as exc:
            field = exc.field.split(".")[0] if exc.field else None
            flag = flags.get(field) if field else None
            if flag and flag not in exc.message:
                where = f" [{flag}]"
            elif exc.field and exc.field not in exc.message and not flag:
                where = f" [{exc.field}]"
            else:
                where = ""
            print(f"error: {exc.message}{where}", file=sys.stderr)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def option_flags(func: Callable[..., Any]) -> dict[str, str]:
    """Each option parameter of a command and its flag (``keep_feature`` → ``--keep-feature``)."""
    flags: dict[str, str] = {}
    hints = typing.get_type_hints(func, include_extras=True)
    for name in inspect.signature(func).parameters:
        options = [
            m for m in getattr(hints.get(name), "__metadata__", ()) if isinstance(m, OptionInfo)
        ]
        if not options:  # an argument, not an option
            continue
        declared = [d for d in (options[0].param_decls or ()) if d.startswith("--")]
        key = name.rstrip("_")
        flags[key] = declared[0] if declared else "--" + key.replace("_", "-")
    return flags
