"""One typed settings object (``UPLIFT_`` environment variables, or a YAML/JSON file).

Built once at the edge (CLI entry, app factory, Lambda init) and passed down; nothing below
reads ``os.environ``. Backends are chosen by a discriminated union on ``type`` with
``extra="forbid"`` so a typo fails loudly, e.g. ``UPLIFT_LAKE__TYPE=s3``,
``UPLIFT_LAKE__URI=s3://bank-lake/uplift``, ``UPLIFT_ONLINE_STORE__TYPE=redis``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from uplift_engine.config.files import read_mapping
from uplift_engine.config.stores import RedisOnlineStore, SQLiteOnlineStore
from uplift_engine.config.strict import StrictModel, config_error


class _Strict(StrictModel):
    what = "setting"


class LocalLake(_Strict):
    """A lake in a local folder (the embedded default)."""

    type: Literal["local"] = "local"
    uri: str = "./lake"


class S3Lake(_Strict):
    """A lake under an ``s3://bucket/prefix`` URI (reached by the settings' ``s3_*`` fields)."""

    type: Literal["s3"] = "s3"
    uri: str

    @field_validator("uri")
    @classmethod
    def _s3_uri(cls, value: str) -> str:
        if not value.startswith("s3://"):
            raise ValueError(f"an S3 lake needs an s3://bucket/prefix URI, got {value!r}")
        return value


_DURATION = re.compile(r"^\d+[dhms]$")


class StreamingSettings(_Strict):
    """How the event stream keeps the near-real-time windows (durations like ``10m``)."""

    lateness: str = Field(
        default="10m",
        description="How far behind a customer's latest event an event may still arrive.",
    )
    max_clock_skew: str | None = Field(
        default="5m",
        description="Events further ahead of the clock are dead letters; null turns it off.",
    )
    batch_size: int = Field(default=10_000, ge=1, le=1_000_000)

    @field_validator("lateness", "max_clock_skew")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and not _DURATION.match(value):
            raise ValueError(f"expected a whole number of d, h, m or s like '10m', got {value!r}")
        return value


class Settings(BaseSettings):
    """Everything configurable, with embedded defaults that need no server and no cloud."""

    model_config = SettingsConfigDict(
        env_prefix="UPLIFT_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    lake: Annotated[LocalLake | S3Lake, Field(discriminator="type")] = LocalLake()
    online_store: Annotated[SQLiteOnlineStore | RedisOnlineStore, Field(discriminator="type")] = (
        SQLiteOnlineStore()
    )
    streaming: StreamingSettings = StreamingSettings()
    s3_endpoint_url: str | None = Field(
        default=None,
        description="S3-compatible endpoint for s3:// URIs (a local test server).",
    )
    s3_region: str = "ap-southeast-1"
    threads: int = Field(default=2, ge=1, le=256, description="Threads for LightGBM and DuckDB.")
    seed: int = Field(default=42, ge=0)
    spark_threshold_bytes: int = Field(
        default=20 * 1024**3,
        ge=0,
        description="Offline features: event data larger than this (bytes) is built on Spark.",
    )
    spark_master: str | None = Field(
        default=None,
        description="Spark master for in-process Spark builds (default local[threads]).",
    )
    spark_conf: tuple[tuple[str, str], ...] = Field(
        default=(),
        description="Extra Spark settings as a mapping, e.g. spark.hadoop.fs.s3a.* for S3 lakes.",
    )

    @field_validator("spark_conf", mode="before")
    @classmethod
    def _spark_conf(cls, value: object) -> object:
        # given as a mapping (YAML, JSON in UPLIFT_SPARK_CONF), kept as sorted pairs: hashable
        if isinstance(value, dict):
            return tuple(sorted((str(k), str(v)) for k, v in value.items()))
        return value


def load_settings(path: str | Path | None = None) -> Settings:
    """Build the settings from ``UPLIFT_*`` variables, overlaid on a YAML/JSON file if given."""
    data = {} if path is None else read_mapping(path, "settings file", field="config")
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise config_error(exc, "setting") from exc
