"""The request corridor's settings, read from the environment without pydantic.

A Lambda or a decision service starts in an environment where pydantic is not installed, so the
part of the settings that deciding needs is read here from the same ``UPLIFT_*`` variables that
:class:`~uplift_engine.config.settings.Settings` reads at the other edges, with the same
defaults and the same names (``UPLIFT_ONLINE_STORE__TYPE=redis``, ``UPLIFT_THREADS=2``…). A
variable of a section read here that it does not know (``UPLIFT_ONLINE_STORE__URLL``), or a
value it cannot use, raises :class:`~uplift_engine.errors.ConfigError` naming the variable.
Standard library only; read once, at the start (nothing below reads ``os.environ``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from uplift_engine.config.stores import (
    DEFAULT_SQLITE_PATH,
    OnlineStoreConfig,
    RedisOnlineStore,
    SQLiteOnlineStore,
)
from uplift_engine.errors import ConfigError

PREFIX = "UPLIFT_"
STORE = f"{PREFIX}ONLINE_STORE__"
MAX_THREADS = 256


@dataclass(frozen=True)
class ServingSettings:
    """What deciding one customer needs to know about its surroundings."""

    online_store: OnlineStoreConfig = field(default_factory=SQLiteOnlineStore)
    s3_endpoint_url: str | None = None
    s3_region: str = "ap-southeast-1"
    threads: int = 2


def serving_settings(environ: Mapping[str, str] | None = None) -> ServingSettings:
    """The serving settings of ``environ`` (default: this process's environment)."""
    env = os.environ if environ is None else environ
    threads = env.get(f"{PREFIX}THREADS", "2")
    if not threads.isdigit() or not 1 <= int(threads) <= MAX_THREADS:
        raise ConfigError(
            f"{PREFIX}THREADS must be a whole number from 1 to {MAX_THREADS}, got {threads!r}",
            field="threads",
        )
    return ServingSettings(
        online_store=_store(env),
        s3_endpoint_url=env.get(f"{PREFIX}S3_ENDPOINT_URL") or None,
        s3_region=env.get(f"{PREFIX}S3_REGION", "ap-southeast-1"),
        threads=int(threads),
    )


def _store(env: Mapping[str, str]) -> OnlineStoreConfig:
    given = {k[len(STORE) :].lower(): v for k, v in env.items() if k.startswith(STORE)}
    kind = given.pop("type", "sqlite")
    allowed = {"sqlite": {"path"}, "redis": {"url", "key_prefix", "timeout_ms"}}
    if kind not in allowed:
        raise ConfigError(
            f"{STORE}TYPE must be sqlite or redis, got {kind!r}", field="online_store.type"
        )
    unknown = sorted(set(given) - allowed[kind])
    if unknown:
        names = ", ".join(f"{STORE}{u.upper()}" for u in unknown)
        raise ConfigError(
            f"{names} is not a setting of the {kind} online store (it takes "
            f"{', '.join(STORE + a.upper() for a in sorted(allowed[kind]))})",
            field=f"online_store.{unknown[0]}",
        )
    if kind == "redis":
        defaults = RedisOnlineStore()
        timeout = given.get("timeout_ms", str(defaults.timeout_ms))
        if not timeout.isdigit() or int(timeout) < 1:
            raise ConfigError(
                f"{STORE}TIMEOUT_MS must be a whole number of milliseconds ≥ 1, got {timeout!r}",
                field="online_store.timeout_ms",
            )
        return RedisOnlineStore(
            url=given.get("url", defaults.url),
            key_prefix=given.get("key_prefix", defaults.key_prefix),
            timeout_ms=int(timeout),
        )
    return SQLiteOnlineStore(path=given.get("path", DEFAULT_SQLITE_PATH))
