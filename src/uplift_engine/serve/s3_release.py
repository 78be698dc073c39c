"""A release on S3, mirrored to a local folder (a Lambda's ``/tmp``) and followed by its pointer.

``s3://<bucket>/<prefix>/current.json`` names a release whose files are under
``<prefix>/releases/<id>/`` (the layout of :mod:`.release`, uploaded as is). :meth:`sync` reads
the pointer (one GET); when it names a release not yet here, every file of that release is
downloaded into a hidden folder that is renamed into place once whole, and the local pointer is
replaced last — so :func:`~uplift_engine.serve.release.load_release` then reads a complete copy
and verifies every checksum, as for a local release. boto3 is imported here only.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from uplift_engine.errors import BundleError, StorageError
from uplift_engine.serve.release import POINTER_SCHEMA_VERSION, plain_name, point

MAX_RELEASE_FILES = 1_000


class S3ReleaseSource:
    """Mirror the release that an S3 pointer names into ``local_root``."""

    def __init__(
        self,
        bucket: str,
        pointer_key: str,
        local_root: Path,
        *,
        endpoint_url: str | None = None,
        region: str = "ap-southeast-1",
    ) -> None:
        import boto3

        if not bucket or not pointer_key.endswith(".json"):
            raise BundleError(
                f"MODEL_S3_BUCKET and MODEL_S3_KEY must name a release pointer (…/current.json),"
                f" got bucket {bucket!r}, key {pointer_key!r}",
                field="MODEL_S3_KEY",
            )
        self.bucket = bucket
        self.pointer_key = pointer_key
        self.prefix = pointer_key.rpartition("/")[0]
        self.alias = pointer_key.rpartition("/")[2].removesuffix(".json")
        self.local_root = local_root
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)
        self._etag: str | None = None

    def sync(self) -> bool:
        """Fetch the pointer; mirror a new release. True when the local pointer moved."""
        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self.pointer_key)
            if got["ETag"] == self._etag:
                return False
            body = got["Body"].read()
        except Exception as exc:  # botocore's errors: a missing key, a network failure
            raise StorageError(
                f"cannot read the release pointer s3://{self.bucket}/{self.pointer_key}: {exc}"
            ) from exc
        try:
            release = json.loads(body).get("release")
        except (json.JSONDecodeError, AttributeError):
            release = None
        if not plain_name(release):
            raise BundleError(
                f"s3://{self.bucket}/{self.pointer_key} is not a {POINTER_SCHEMA_VERSION} pointer"
            )
        folder = self.local_root / "releases" / str(release)
        if not folder.exists():
            try:
                self._download(str(release), folder)
            except (BundleError, StorageError):
                raise
            except Exception as exc:  # botocore's errors, a full /tmp
                raise StorageError(f"cannot mirror release {release!r}: {exc}") from exc
        point(self.local_root, {"schema_version": POINTER_SCHEMA_VERSION, "release": release},
              self.alias)  # fmt: skip
        self._etag = got["ETag"]
        return True

    def _download(self, release: str, folder: Path) -> None:
        prefix = f"{self.prefix}/releases/{release}/" if self.prefix else f"releases/{release}/"
        staging = folder.with_name(f".{release}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        staging.mkdir(parents=True)
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            count = 0
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    name = item["Key"][len(prefix) :]
                    target = (staging / name).resolve()
                    if not name or not target.is_relative_to(staging.resolve()):
                        raise BundleError(f"release {release!r}: file {name!r} leads outside it")
                    count += 1
                    if count > MAX_RELEASE_FILES:
                        raise BundleError(f"release {release!r} holds too many files")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    self.client.download_file(self.bucket, item["Key"], str(target))
            if count == 0:
                raise BundleError(f"release {release!r} has no files under s3://{self.bucket}/"
                                  f"{prefix}")  # fmt: skip
            os.rename(staging, folder)
        except Exception:
            shutil.rmtree(staging, ignore_errors=True)
            raise
