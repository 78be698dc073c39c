"""The online store named by the settings: SQLite (embedded default) or Redis.

Invariant: the backend is chosen by the store's record (``online_store`` of the settings or of
the serving settings read from the environment), told apart by ``type``; nothing else picks a
backend. On the request corridor: standard library, and the Redis client when Redis is chosen.
"""

from __future__ import annotations

from typing import Protocol

from uplift_engine.config import OnlineStoreConfig, RedisOnlineStore, SQLiteOnlineStore
from uplift_engine.features.online.store import OnlineStore


class HasOnlineStore(Protocol):
    """Settings that name an online store (the full settings, or the serving settings)."""

    @property
    def online_store(self) -> OnlineStoreConfig:
        """The store's record."""


def open_store(
    config: HasOnlineStore | OnlineStoreConfig, *, timeout_ms: float | None = None
) -> OnlineStore:
    """Open the store of ``config`` (settings, or a store's record).

    ``timeout_ms``: a shorter bound on each call than the record's (a decision's time budget).
    """
    records = SQLiteOnlineStore | RedisOnlineStore
    store = config if isinstance(config, records) else config.online_store
    if isinstance(store, RedisOnlineStore):
        from uplift_engine.features.online.redis import RedisStore

        timeout = store.timeout_ms if timeout_ms is None else min(timeout_ms, store.timeout_ms)
        return RedisStore(store.url, store.key_prefix, timeout=timeout / 1000)
    from uplift_engine.features.online.sqlite import SQLiteStore

    return SQLiteStore(store.path)
