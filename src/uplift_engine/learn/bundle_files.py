"""Where a bundle's bytes come from: one method, a local folder or an S3 prefix.

Invariant: a :class:`BundleFiles` reads one file of a bundle, whole, by its path inside the
bundle, and raises :class:`~uplift_engine.errors.BundleError` when the file is not there or
its path leads outside the bundle. This module is on the request corridor: the standard library
for a folder, and boto3 — imported only when an ``s3://`` bundle is opened — for S3, with the
endpoint and region of :class:`S3Access` when given (a test server, another region) and boto3's
own configuration otherwise. Neither reads through the lake's Arrow file systems.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from uplift_engine.errors import BundleError, StorageError


class BundleFiles(Protocol):
    """Reads the files of one bundle."""

    uri: str

    def read(self, name: str) -> bytes:
        """The whole file ``name`` (a path inside the bundle, ``/``-separated)."""
        ...


class S3Access(Protocol):
    """How to reach S3: the settings' endpoint (None: AWS's) and region."""

    @property
    def s3_endpoint_url(self) -> str | None:
        """An S3-compatible endpoint (a test server), or None for AWS's."""

    @property
    def s3_region(self) -> str:
        """The region of the bucket."""


class LocalFiles:
    """A bundle in a local folder."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.folder = Path(uri.removeprefix("file://"))
        if not self.folder.is_dir():
            raise BundleError(f"no model bundle at {uri!r}: not a folder")
        self._root = self.folder.resolve()

    def read(self, name: str) -> bytes:
        """The whole file ``name`` of the bundle."""
        path = self.folder / name
        if not path.resolve().is_relative_to(self._root):
            raise BundleError(f"bundle {self.uri!r}: file {name!r} points outside the bundle")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise BundleError(
                f"bundle {self.uri!r} has no {name}: is it a model bundle?"
            ) from exc


class S3Files:
    """A bundle under an ``s3://bucket/prefix``, read with boto3."""

    def __init__(self, uri: str, access: S3Access | None = None) -> None:
        self.uri = uri
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise BundleError(f"S3 URI {uri!r} names no bucket")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        try:
            import boto3
        except ImportError as exc:  # pragma: no cover - boto3 is a dependency
            raise BundleError(
                f"bundle {uri!r} is on S3 and boto3 is not installed: pip install boto3"
            ) from exc
        options: dict[str, Any] = {}
        if access is not None:
            options["region_name"] = access.s3_region
            if access.s3_endpoint_url:
                options["endpoint_url"] = access.s3_endpoint_url
        self._client = boto3.client("s3", **options)

    def read(self, name: str) -> bytes:
        """The whole object ``prefix/name``."""
        if ".." in name.split("/"):
            raise BundleError(f"bundle {self.uri!r}: file {name!r} points outside the bundle")
        key = f"{self.prefix}/{name}" if self.prefix else name
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=key)
            return bytes(answer["Body"].read())
        except self._client.exceptions.NoSuchKey as exc:
            raise BundleError(
                f"bundle {self.uri!r} has no {name}: is it a model bundle?"
            ) from exc
        except self._client.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket", "404", "NotFound"):
                raise BundleError(
                    f"bundle {self.uri!r} has no {name}: is it a model bundle?"
                ) from exc
            raise StorageError(f"cannot read {self.uri}/{name}: {code or exc}") from exc
        except Exception as exc:  # connection failures of botocore
            raise StorageError(f"cannot read {self.uri}/{name}: {exc}") from exc


def bundle_files(uri: str, access: S3Access | None = None) -> BundleFiles:
    """The reader of the bundle at ``uri``: a local folder, or ``s3://bucket/prefix``."""
    if uri.startswith("s3://"):
        return S3Files(uri, access)
    if "://" in uri and not uri.startswith("file://"):
        scheme = uri.split("://", 1)[0]
        raise BundleError(f"unsupported storage scheme {scheme!r} in {uri!r}; use a path or s3://")
    return LocalFiles(uri)
