"""The Spark session and the lake's paths as Spark sees them.

Invariant: every session we build computes in UTC (``spark.sql.session.timeZone``), so that
timestamps and ``unix_micros`` agree with DuckDB; a local master binds to 127.0.0.1 with the
UI off; settings' ``spark_conf`` is applied last, so a deployment can override anything.
Under ``spark-submit`` (any cluster, EMR Serverless) the master comes from the submitter and
is never set here. Lake URIs map to Hadoop paths: a local folder → ``file://…``, ``s3://`` →
``s3a://`` (the hadoop-aws connector; its ``fs.s3a.*`` settings go in ``spark_conf``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from uplift_engine.config.settings import Settings
from uplift_engine.errors import ConfigError, UserInputError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INSTALL_HINT = "install the Spark tier with: pip install 'uplift-engine[spark]' (and Java 17+)"


def require_pyspark() -> None:
    """Fail with an installable hint when PySpark is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        message = f"the Spark engine needs PySpark: {INSTALL_HINT}"
        raise ConfigError(message, field="engine") from exc


def spark_session(
    settings: Settings,
    *,
    master: str | None = None,
    app_name: str = "uplift-features",
) -> SparkSession:
    """A Spark session for the offline features (the active one is reused, reconfigured).

    ``master`` defaults to ``settings.spark_master`` or ``local[threads]``; pass ``""`` under
    ``spark-submit`` to keep the submitter's master.
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    if master is None:
        master = settings.spark_master or f"local[{settings.threads}]"
    builder = SparkSession.builder.appName(app_name)
    conf = {"spark.sql.session.timeZone": "UTC"}
    if master:
        builder = builder.master(master)
        if master.startswith("local"):
            conf.update(
                {
                    "spark.ui.enabled": "false",
                    "spark.ui.showConsoleProgress": "false",
                    "spark.driver.host": "127.0.0.1",
                    "spark.driver.bindAddress": "127.0.0.1",
                    "spark.sql.shuffle.partitions": str(4 * settings.threads),
                }
            )
    conf.update(s3a_conf(settings))
    conf.update(dict(settings.spark_conf))
    for name, value in conf.items():
        builder = builder.config(name, value)
    session = builder.getOrCreate()
    session.conf.set("spark.sql.session.timeZone", "UTC")  # also on a reused session
    if master and master.startswith("local"):
        session.sparkContext.setLogLevel("ERROR")
    return session


def s3a_conf(settings: Settings) -> dict[str, str]:
    """Hadoop s3a settings implied by the lake settings (endpoint, region), for ``s3://`` lakes.

    Credentials are left to the default AWS provider chain (instance role, environment).
    """
    conf = {"spark.hadoop.fs.s3a.endpoint.region": settings.s3_region}
    if settings.s3_endpoint_url:
        conf["spark.hadoop.fs.s3a.endpoint"] = settings.s3_endpoint_url
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        if settings.s3_endpoint_url.startswith("http://"):
            conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = "false"
    return conf


def spark_path(uri: str) -> str:
    """The Hadoop path Spark reads for a lake URI: ``file://`` for a folder, ``s3a://`` for S3."""
    text = str(uri).rstrip("/")
    if text.startswith("s3://"):
        return "s3a://" + text[len("s3://") :]
    if text.startswith(("s3a://", "file://")):
        return text
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise UserInputError(
            f"unsupported storage scheme {scheme!r} in {text!r}; use a path or s3://"
        )
    return Path(text).expanduser().absolute().as_uri()
