"""The embedded online store: one SQLite row of values per key, all fields in one read.

Invariant: table ``online(key TEXT PRIMARY KEY, fields TEXT)`` holds a key's values as one
JSON object of string → string (``put`` merges into it with SQLite's ``json_patch``; values are
never JSON null, so a patch never deletes); table ``states(key, field, value)`` holds its
states, one row each, so that a window update is one plain conditional ``UPDATE`` of a small
row — no JSON rewritten. Both are ``WITHOUT ROWID`` (a row sits in its primary-key B-tree),
and ``get`` is one statement (a ``UNION ALL`` of the two point reads). ``swap`` runs in one
``BEGIN IMMEDIATE`` transaction. The file is in WAL mode with ``synchronous=NORMAL`` (a crash
may lose the last commits, never corrupt) and a busy timeout, so a CLI materialisation and a
service can share it; one connection per store object, guarded by a lock for threads.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from uplift_engine.errors import StorageError
from uplift_engine.features.online.store import Swap

_CREATE = (
    "CREATE TABLE IF NOT EXISTS online (key TEXT PRIMARY KEY, fields TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS states (key TEXT NOT NULL, field TEXT NOT NULL, "
    "value TEXT NOT NULL, PRIMARY KEY (key, field)) WITHOUT ROWID",
)
_GET = (
    "SELECT NULL, fields FROM online WHERE key = ?1 "
    "UNION ALL SELECT field, value FROM states WHERE key = ?1"
)
_UPSERT = (
    "INSERT INTO online (key, fields) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET fields = json_patch(fields, excluded.fields)"
)
_GET_STATE = "SELECT value FROM states WHERE key = ? AND field = ?"
_SET = "UPDATE states SET value = ? WHERE key = ? AND field = ? AND value = ?"
_INSERT = "INSERT INTO states (key, field, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
_CHUNK = 500
_ROWS_PER_COMMIT = 20_000
_CACHE_KIB = 65_536  # page cache: a batch's states are rewritten without reading pages back


class SQLiteStore:
    """An :class:`~uplift_engine.features.online.store.OnlineStore` in a SQLite file."""

    def __init__(self, path: str | Path, *, timeout: float = 10.0) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self._con = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            if self.path != ":memory:":
                self._con.execute("PRAGMA journal_mode = WAL")
            self._con.execute("PRAGMA synchronous = NORMAL")
            self._con.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
            for statement in _CREATE:
                self._con.execute(statement)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot open the SQLite online store {self.path!r}: {exc}") from exc
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, str]:
        """Every field of ``key`` (empty when absent): one statement."""
        try:
            with self._lock:
                rows = self._con.execute(_GET, (key,)).fetchall()
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc
        return _fields(rows)

    def get_many(self, keys: Sequence[str]) -> list[dict[str, str]]:
        """Every field of each key, in order (two queries per 500 keys, one snapshot)."""
        values: dict[str, str] = {}
        states: dict[str, list[tuple[str, str]]] = {}
        try:
            with self._lock, self._transaction("BEGIN"):
                for start in range(0, len(keys), _CHUNK):
                    chunk = list(keys[start : start + _CHUNK])
                    marks = ", ".join("?" * len(chunk))
                    sql = f"SELECT key, fields FROM online WHERE key IN ({marks})"
                    values.update(self._con.execute(sql, chunk).fetchall())
                    sql = f"SELECT key, field, value FROM states WHERE key IN ({marks})"
                    for key, field, value in self._con.execute(sql, chunk).fetchall():
                        states.setdefault(key, []).append((field, value))
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc
        out = []
        for key in keys:
            fields: dict[str, str] = json.loads(values[key]) if key in values else {}
            fields.update(states.get(key, ()))
            out.append(fields)
        return out

    def get_state(self, keys: Sequence[str], field: str) -> list[str | None]:
        """State ``field`` of each key, in order (one query per 500 keys, one snapshot)."""
        found: dict[str, str] = {}
        try:
            if len(keys) == 1:  # one statement is its own snapshot: no transaction around it
                with self._lock:
                    row = self._con.execute(_GET_STATE, (keys[0], field)).fetchone()
                return [None if row is None else row[0]]
            with self._lock, self._transaction("BEGIN"):
                for start in range(0, len(keys), _CHUNK):
                    chunk = list(keys[start : start + _CHUNK])
                    marks = ", ".join("?" * len(chunk))
                    sql = f"SELECT key, value FROM states WHERE field = ? AND key IN ({marks})"
                    found.update(self._con.execute(sql, [field, *chunk]).fetchall())
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc
        return [found.get(k) for k in keys]

    def put(self, rows: Iterable[tuple[str, Mapping[str, str]]]) -> int:
        """Merge values into keys, committing every 20,000 rows; returns the rows written."""
        written = 0
        try:
            with self._lock:
                batch: list[tuple[str, str]] = []
                for key, fields in rows:
                    if fields:
                        batch.append((key, json.dumps(fields, separators=(",", ":"))))
                    if len(batch) >= _ROWS_PER_COMMIT:
                        written += self._upsert(batch)
                        batch = []
                written += self._upsert(batch)
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc
        return written

    def swap(self, swaps: Sequence[Swap]) -> list[bool]:
        """Compare-and-set each state, all in one write transaction.

        Distinct keys go in two ``executemany`` (updates, inserts); when the row counts show
        that some did not apply, they are undone (a savepoint) and each swap is tried alone.
        """
        try:
            with self._lock, self._transaction("BEGIN IMMEDIATE"):
                if len(swaps) > 1 and len({(s.key, s.field) for s in swaps}) == len(swaps):
                    self._con.execute("SAVEPOINT swap_all")
                    if self._swap_all(swaps):
                        return [True] * len(swaps)
                    self._con.execute("ROLLBACK TO swap_all")
                    self._con.execute("RELEASE swap_all")
                return self._swap_each(swaps)
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc

    def _swap_all(self, swaps: Sequence[Swap]) -> bool:
        """Apply every swap; whether all of them applied (else the caller rolls back)."""
        updates = [(new, k, f, old) for k, f, old, new in swaps if old is not None]
        inserts = [(k, f, new) for k, f, old, new in swaps if old is None]
        done = self._con.executemany(_SET, updates).rowcount if updates else 0
        if inserts:
            done += self._con.executemany(_INSERT, inserts).rowcount
        return done == len(swaps)

    def _swap_each(self, swaps: Sequence[Swap]) -> list[bool]:
        execute = self._con.execute
        done: list[bool] = []
        for key, field, expected, new in swaps:
            if expected is None:
                done.append(execute(_INSERT, (key, field, new)).rowcount == 1)
            else:
                done.append(execute(_SET, (new, key, field, expected)).rowcount == 1)
        return done

    def delete(self, keys: Iterable[str]) -> int:
        """Remove the keys (values and states); returns how many held values or states."""
        keys = list(keys)
        removed = 0
        try:
            with self._lock, self._transaction("BEGIN IMMEDIATE"):
                for start in range(0, len(keys), _CHUNK):
                    chunk = keys[start : start + _CHUNK]
                    marks = ", ".join("?" * len(chunk))
                    present = self._con.execute(
                        f"SELECT count(*) FROM (SELECT key FROM online WHERE key IN ({marks}) "
                        f"UNION SELECT key FROM states WHERE key IN ({marks}))",
                        chunk + chunk,
                    ).fetchone()[0]
                    self._con.execute(f"DELETE FROM online WHERE key IN ({marks})", chunk)
                    self._con.execute(f"DELETE FROM states WHERE key IN ({marks})", chunk)
                    removed += int(present)
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc
        return removed

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._con.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def _upsert(self, batch: list[tuple[str, str]]) -> int:
        if not batch:
            return 0
        with self._transaction("BEGIN IMMEDIATE"):
            self._con.executemany(_UPSERT, batch)
        return len(batch)

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[None]:
        self._con.execute(begin)
        try:
            yield
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    def _error(self, what: str, exc: sqlite3.Error) -> StorageError:
        return StorageError(f"cannot {what} the SQLite online store {self.path!r}: {exc}")


def _fields(rows: list[tuple[str | None, str]]) -> dict[str, str]:
    if not rows:
        return {}
    if rows[0][0] is None:
        fields: dict[str, str] = json.loads(rows[0][1])
        fields.update(rows[1:])  # type: ignore[arg-type]
        return fields
    return dict(rows)  # type: ignore[arg-type]
