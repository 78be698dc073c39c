"""Where bytes live: a URI (a local path or ``s3://bucket/key``) resolved to a PyArrow filesystem.

The same calls serve a laptop folder and S3 (or any S3-compatible endpoint given in the
settings), so that no layer above needs to know which one it talks to. Writes are atomic:
local files are written under a temporary name and moved into place; S3 objects appear whole.
"""

from __future__ import annotations

import contextlib
import errno
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from uplift_engine.config.settings import Settings
from uplift_engine.errors import StorageError, UserInputError
from uplift_engine.replace import staged_folder, sweep_stale, write_file


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

    def write_bytes(self, data: bytes, *, sync: bool = False) -> None:
        """Write the whole file atomically (``sync``: durable before it returns, locally).

        Locally, stale temporaries that a killed writer left beside the file go first.
        """
        try:
            if self.is_local:
                target = Path(self.path)
                if target.is_dir():
                    raise StorageError(f"cannot write {self.uri!r}: it is a folder")
                sweep_stale(target)
                write_file(target, data, sync=sync)
            else:
                with self.fs.open_output_stream(self.path) as stream:
                    stream.write(data)
        except OSError as exc:
            raise StorageError(f"cannot write {self.uri!r}: {_os_reason(exc)}") from exc

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
        if settings is None:  # the edge builds the settings; nothing below reads the environment
            raise StorageError(
                f"reaching {text!r} needs the settings (S3 endpoint and region); pass them"
            )
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

    Locally the folder is staged beside the target and swapped into place in one step, so the
    old folder or the new one is whole at every instant, even under ``kill -9`` (see
    :mod:`.replace`). On S3, where there is no rename, files go straight to the target and the
    caller writes its manifest last, so a reader that checks the manifest never sees a
    half-written folder.
    """
    check_writable(target)
    if target.exists() and not overwrite:
        raise UserInputError(f"{target.uri!r} already exists; choose another path or remove it")
    if not target.is_local:
        yield target
        return
    final = Path(target.path)
    with staged_folder(final, overwrite=overwrite) as staging:
        yield Location(target.fs, staging.as_posix(), staging.as_posix())


def check_file_target(target: Location, *, field: str = "out") -> None:
    """Refuse, before any work, a file output where a folder stands or that cannot be written."""
    if target.is_dir():
        raise UserInputError(f"{target.uri!r} is a folder; give a file path", field=field)
    check_writable(target)


def check_folder_target(target: Location) -> None:
    """Refuse, before any work, a folder output (a lake, a bundle) where a file stands."""
    if target.exists() and not target.is_dir():
        raise UserInputError(f"{target.uri!r} is a file; give a folder path", field="out")
    check_writable(target)


def check_writable(target: Location) -> None:
    """Refuse, before any work, an output path that cannot be written (locally).

    Its nearest existing ancestor must be a writable folder; a file in the way is named.
    """
    if not target.is_local:
        return
    path = Path(target.path)
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserInputError(
            f"cannot write {target.uri!r}: {str(ancestor)!r} is a file, not a folder"
        )
    try:  # a nameless file where the system allows it: nothing is left behind
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as exc:
        raise UserInputError(
            f"cannot write {target.uri!r}: {str(ancestor)!r} does not accept new files "
            f"({_os_reason(exc)})"
        ) from exc


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOTDIR:
        return "a part of the path is a file, not a folder"
    return exc.strerror or str(exc)
