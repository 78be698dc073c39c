"""Settings: one typed object, built once at the edge and passed down."""

from uplift_engine.config.files import read_mapping
from uplift_engine.config.settings import (
    LocalLake,
    RedisOnlineStore,
    S3Lake,
    Settings,
    SQLiteOnlineStore,
    load_settings,
)

__all__ = [
    "LocalLake",
    "RedisOnlineStore",
    "S3Lake",
    "SQLiteOnlineStore",
    "Settings",
    "load_settings",
    "read_mapping",
]
