"""Where bytes live: a URI (a local path or ``s3://bucket/key``) resolved to a PyArrow filesystem.

The same calls serve a laptop folder and S3 (or any S3-compatible endpoint given in the
settings), so that no layer above needs to know which one it talks to. Writes are atomic:
local files are written under a temporary name and moved into place; S3 objects appear whole.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from uplift_engine.config import Settings
from uplift_engine.errors import StorageError, UserInputError


@dataclass(frozen=True)
class Location:
    """A resolved URI: the filesystem, the path inside it, and the URI as the user gave it."""

    fs: pafs.FileSystem
    path: str
    uri: str

    @property
    def is_local(self) -> bool:
        """True for a local path (atomic renames are available)."""
        return isinstance(self.fs, pafs.LocalFileSystem)

    def child(self, *parts: str) -> Location:
        """The location of a file or folder below this one."""
        sep = "/"
        path = sep.join([self.path.rstrip(sep), *parts])
        uri = sep.join([self.uri.rstrip(sep), *parts])
        return Location(self.fs, path, uri)

    def exists(self) -> bool:
        """Whether a file or folder is there."""
        return self.fs.get_file_info(self.path).type != pafs.FileType.NotFound

    def is_dir(self) -> bool:
        """Whether a folder is there (any prefix with objects below it, on S3)."""
        return self.fs.get_file_info(self.path).type == pafs.FileType.Directory

    def read_bytes(self) -> bytes:
        """The whole file."""
        try:
            with self.fs.open_input_stream(self.path) as stream:
                return bytes(stream.read())
        except FileNotFoundError as exc:
            raise UserInputError(f"no file at {self.uri!r}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read {self.uri!r}: {exc}") from exc

    def write_bytes(self, data: bytes) -> None:
        """Write the whole file atomically."""
        try:
            if self.is_local:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                tmp = f"{self.path}.tmp-{uuid.uuid4().hex[:8]}"
                with open(tmp, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, self.path)
            else:
                with self.fs.open_output_stream(self.path) as stream:
                    stream.write(data)
        except OSError as exc:
            raise StorageError(f"cannot write {self.uri!r}: {exc}") from exc

    def list_files(self, suffix: str = "") -> list[Location]:
        """Files below this folder (recursively) whose names end with ``suffix``, sorted."""
        selector = pafs.FileSelector(self.path, recursive=True, allow_not_found=True)
        infos = self.fs.get_file_info(selector)
        found = sorted(i.path for i in infos if i.type == pafs.FileType.File)
        base = self.path.rstrip("/")
        return [
            self.child(p[len(base) + 1 :]) for p in found if p.endswith(suffix) and "/." not in p
        ]

    def delete(self) -> None:
        """Remove the file or folder if it is there."""
        info = self.fs.get_file_info(self.path)
        if info.type == pafs.FileType.Directory:
            self.fs.delete_dir(self.path)
        elif info.type == pafs.FileType.File:
            self.fs.delete_file(self.path)


def resolve(uri: str | Path, settings: Settings | None = None) -> Location:
    """Resolve a local path or an ``s3://`` URI to a :class:`Location`."""
    text = str(uri)
    if text.startswith("s3://"):
        settings = settings or Settings()
        bucket_key = text[len("s3://") :].rstrip("/")
        if not bucket_key:
            raise UserInputError(f"S3 URI {text!r} names no bucket")
        endpoint = settings.s3_endpoint_url
        options: dict[str, object] = {"region": settings.s3_region}
        if endpoint:
            scheme, _, host = endpoint.partition("://")
            options.update(endpoint_override=host or scheme, scheme=scheme if host else "http")
        try:
            fs = pafs.S3FileSystem(**options)
        except Exception as exc:  # pragma: no cover - depends on the pyarrow build
            raise StorageError(f"cannot open S3 for {text!r}: {exc}") from exc
        return Location(fs, bucket_key, text)
    if "://" in text and not text.startswith("file://"):
        scheme = text.split("://", 1)[0]
        raise UserInputError(
            f"unsupported storage scheme {scheme!r} in {text!r}; use a path or s3://"
        )
    path = Path(text.removeprefix("file://")).expanduser().absolute()
    return Location(pafs.LocalFileSystem(), path.as_posix(), text)


@contextlib.contextmanager
def atomic_folder(target: Location, *, overwrite: bool = False) -> Iterator[Location]:
    """Yield a staging folder that becomes ``target`` only if the block completes.

    Locally the folder is staged beside the target and renamed into place. On S3, where there
    is no rename, files go straight to the target and the caller writes its manifest last, so a
    reader that checks the manifest never sees a half-written folder.
    """
    if target.exists() and not overwrite:
        raise UserInputError(f"{target.uri!r} already exists; choose another path or remove it")
    if not target.is_local:
        yield target
        return
    final = Path(target.path)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield Location(target.fs, staging.as_posix(), staging.as_posix())
        if final.exists():
            target.delete()
        os.replace(staging, final)
    except BaseException:
        Location(target.fs, staging.as_posix(), staging.as_posix()).delete()
        raise
