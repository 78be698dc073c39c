"""The online store named by the settings: SQLite (embedded default) or Redis.

Invariant: the backend is chosen by ``Settings.online_store``, a union discriminated on
``type``; nothing else picks a backend.
"""

from __future__ import annotations

from uplift_engine.config.settings import RedisOnlineStore, Settings, SQLiteOnlineStore
from uplift_engine.features.online.store import OnlineStore


def open_store(
    config: Settings | SQLiteOnlineStore | RedisOnlineStore | None = None,
) -> OnlineStore:
    """Open the store of ``config`` (settings, or their ``online_store``; default SQLite)."""
    if config is None:
        config = Settings()
    if isinstance(config, Settings):
        config = config.online_store
    if isinstance(config, RedisOnlineStore):
        from uplift_engine.features.online.redis import RedisStore

        return RedisStore(config.url, config.key_prefix)
    from uplift_engine.features.online.sqlite import SQLiteStore

    return SQLiteStore(config.path)
