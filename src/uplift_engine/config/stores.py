"""Which online store to use: a SQLite file (embedded) or a Redis server (production).

Records (:mod:`.records`) told apart by ``type``, validated by the settings at the edge
(``UPLIFT_ONLINE_STORE__TYPE=redis``) and built from the environment on the request corridor
(:mod:`.environment`); standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from uplift_engine.config.records import STRICT

DEFAULT_SQLITE_PATH = "./lake/online.sqlite"


@dataclass(frozen=True)
class SQLiteOnlineStore:
    """Online features in a SQLite file (the embedded default)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT
    type: Literal["sqlite"] = "sqlite"
    path: str = DEFAULT_SQLITE_PATH


@dataclass(frozen=True)
class RedisOnlineStore:
    """Online features in Redis (production)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT
    type: Literal["redis"] = "redis"
    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "uplift:"
    timeout_ms: int = 5000
    """How long a read or write may take before it fails (a decision's store read is bounded
    by the service's time budget instead, when that is shorter)."""


OnlineStoreConfig = SQLiteOnlineStore | RedisOnlineStore
"""Either store's record."""
