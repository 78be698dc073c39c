"""Replacing a local file or folder so that the old or the new one is whole at every instant.

Invariant: a writer stages its output under a hidden temporary name in the target's folder,
``.<name>.tmp-<pid>-<random>``, and moves it into place in one step:

- a new target: ``rename``;
- an existing folder: an atomic swap of the two names (Linux ``renameat2(RENAME_EXCHANGE)``),
  after which the old folder sits under the temporary name and is deleted. Where the swap is
  not available the old folder is first renamed to ``.<name>.old-<pid>-<random>``: killed
  between the two renames, the target is missing for an instant, and the next writer (or
  :func:`recover`) puts the old folder back;
- an existing file: ``rename`` over it (atomic on POSIX).

A temporary whose writer process is gone is *stale*: :func:`sweep_stale` removes it (and
restores an orphaned ``.old-`` folder), and every writer sweeps before it stages, so that a
killed run leaves nothing behind after the next one. Temporaries are hidden (a leading dot), so
dataset listings never read them.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from uplift_engine.errors import StorageError

_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-[0-9a-f]{8}$")
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def temporary_path(target: Path, kind: str = "tmp") -> Path:
    """A hidden sibling of ``target`` owned by this process (``kind``: ``tmp`` or ``old``)."""
    return target.parent / f".{target.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def owner_alive(pid: int) -> bool:
    """Whether the process that made a temporary may still be writing it (this host)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def sweep_stale(target: Path) -> int:
    """Remove the stale temporaries of ``target`` (and put back an orphaned old folder).

    Returns how many entries were removed or restored.
    """
    folder = target.parent
    if not folder.is_dir():
        return 0
    done = 0
    with os.scandir(folder) as entries:
        found = [(e.name, _TEMP.match(e.name)) for e in entries if e.name.startswith(".")]
    for name, match in found:
        if not match or match["name"] != target.name or owner_alive(int(match["pid"])):
            continue
        path = folder / name
        if match["kind"] == "old" and not target.exists():
            os.rename(path, target)  # the swap was cut between its two renames: roll back
        else:
            _remove(path)
        done += 1
    return done


def recover(target: Path) -> None:
    """Finish or roll back a replacement of ``target`` that a killed writer left half-done."""
    sweep_stale(target)


@contextlib.contextmanager
def staged_folder(target: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield an empty hidden folder that replaces ``target`` whole if the block completes."""
    sweep_stale(target)
    if target.exists() and not target.is_dir():
        raise StorageError(f"{str(target)!r} is a file, not a folder; choose another path")
    staging = temporary_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
    except OSError as exc:
        raise StorageError(f"cannot write {str(target)!r}: {_reason(exc)}") from exc
    try:
        yield staging
        swap_into_place(staging, target, overwrite=overwrite)
    except BaseException:
        _remove(staging)
        raise


def swap_into_place(staged: Path, target: Path, *, overwrite: bool) -> None:
    """Move the folder ``staged`` to ``target``; an existing target is swapped out, then deleted."""
    if not target.exists():
        try:
            os.rename(staged, target)
            return
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise StorageError(f"cannot write {str(target)!r}: {_reason(exc)}") from exc
    if not overwrite:
        raise StorageError(f"{str(target)!r} appeared while it was being written; nothing replaced")
    if exchange(staged, target):
        _remove(staged)  # the old folder, now under the temporary name
        return
    old = temporary_path(target, "old")
    os.rename(target, old)
    try:
        os.rename(staged, target)
    except BaseException:
        os.rename(old, target)
        raise
    _remove(old)


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step; False where the system cannot (then nothing moved)."""
    swap = _renameat2()
    if swap is None:
        return False
    if swap(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise StorageError(f"cannot replace {str(b)!r}: {os.strerror(code)}")


@cache
def _renameat2() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


def write_file(target: Path, data: bytes, *, sync: bool = False) -> None:
    """Write ``target`` whole: staged under a temporary name, then renamed over it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(target)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if sync:
        sync_folder(target.parent)


def sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _reason(exc: OSError) -> str:
    parent = Path(exc.filename).parent if exc.filename else None
    if exc.errno == errno.ENOTDIR or (parent is not None and parent.is_file()):
        return f"{str(parent)!r} is a file, not a folder"
    return exc.strerror or str(exc)
