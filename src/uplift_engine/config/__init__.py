"""config layer: the settings, built once at the edge and passed down.

This face is light (standard library only), so that the request corridor can import it: the
online store's records and the serving settings read from the environment
(:func:`serving_settings`). The full, pydantic-validated :class:`~uplift_engine.config.settings.
Settings` of the CLI and the services is :mod:`uplift_engine.config.settings`'; files are read
by :mod:`uplift_engine.config.files`, models are made strict by :mod:`uplift_engine.config.strict`.
"""

from uplift_engine.config.environment import ServingSettings, serving_settings
from uplift_engine.config.records import STRICT, from_mapping
from uplift_engine.config.stores import OnlineStoreConfig, RedisOnlineStore, SQLiteOnlineStore

__all__ = [
    "STRICT",
    "OnlineStoreConfig",
    "RedisOnlineStore",
    "SQLiteOnlineStore",
    "ServingSettings",
    "from_mapping",
    "serving_settings",
]
