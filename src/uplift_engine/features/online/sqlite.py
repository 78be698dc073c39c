"""The embedded online store: one SQLite row of values per key, window events as rows.

Invariant: table ``online(key TEXT PRIMARY KEY, fields TEXT)`` holds a key's values as one
JSON object of string → string (``put`` merges into it with SQLite's ``json_patch``; values are
never JSON null, so a patch never deletes); table ``window_events(key, field, id, ts, row)``
holds the kept events of each window, one row per event, in arrival order, indexed by
``(key, field)`` — so a window update appends rows at the end of the table (one
``executemany``; only the small index entries land all over the file) and rewrites nothing.
``get`` is one statement (the values' point read ``UNION ALL`` each window's rows joined into
``[watermark,[row,…]]``, where the watermark is the latest kept time: the latest event is never
forgotten). ``online`` is ``WITHOUT ROWID`` (a row sits in its primary-key B-tree). An id
appears at most once in a window: no constraint says so, the decisions below do.

``append_events`` decides every event inside one ``BEGIN IMMEDIATE`` transaction, i.e. under
SQLite's one write lock, from each window's *head* (latest time, oldest time, kept ids with
their times). Heads are cached per connection and trusted only while ``PRAGMA data_version``
says no other connection has committed since (a change by anyone else empties the cache and
the heads are read again, within the same transaction): decisions are always taken on the
current state, so concurrent writers never lose an update and never need to retry. The file is
in WAL mode with ``synchronous=NORMAL`` (a crash may lose the last commits, never corrupt) and
a busy timeout, so a CLI materialisation and a service can share it; one connection per store
object, guarded by a lock for threads.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

from uplift_engine.errors import StorageError
from uplift_engine.features.online.sqlite_ledger import CREATE_LEDGER, SQLiteLedger
from uplift_engine.features.online.store import ACCEPTED, DUPLICATE, LATE, WindowEvent

_loads: Callable[[str], Any]
try:  # the store wrote the text with json, so it is valid JSON; orjson reads it 3-4× faster
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - the decision-only environment may lack it
    _loads = json.loads

_CREATE = (
    "CREATE TABLE IF NOT EXISTS online (key TEXT PRIMARY KEY, fields TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS window_events (key TEXT NOT NULL, field TEXT NOT NULL, "
    "id TEXT NOT NULL, ts INTEGER NOT NULL, row TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS window_events_by_key ON window_events (key, field)",
)
_WINDOW = "'[' || max(ts) || ',[' || group_concat(row, ',') || ']]'"
_GET = (
    "SELECT NULL, fields FROM online WHERE key = ?1 "
    f"UNION ALL SELECT field, {_WINDOW} FROM window_events WHERE key = ?1 GROUP BY field"
)
_UPSERT = (
    "INSERT INTO online (key, fields) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET fields = json_patch(fields, excluded.fields)"
)
_APPEND = "INSERT INTO window_events (key, field, id, ts, row) VALUES (?1, {field}, ?2, ?3, ?4)"
# (the field is a quoted literal, so the events are the parameters as they come)
_FORGET = "DELETE FROM window_events WHERE key = ? AND field = ? AND ts < ?"
_CHUNK = 500
_ROWS_PER_COMMIT = 20_000
_CACHE_KIB = 65_536  # page cache: a batch's windows are appended to without reading pages back

_key_of = itemgetter(0)
# a window's head: [latest kept time, oldest kept time, {kept id: its time}]
_Head = list


class SQLiteStore(SQLiteLedger):
    """An :class:`~uplift_engine.features.online.store.OnlineStore` in a SQLite file.

    It is also the campaign ledger of real-time pacing (:mod:`.sqlite_ledger`).

    ``cached_windows`` bounds the window heads kept in memory between batches (per connection).
    """

    def __init__(
        self, path: str | Path, *, timeout: float = 10.0, cached_windows: int = 50_000
    ) -> None:
        self.path = str(path)
        self.cached_windows = cached_windows
        self._heads: dict[str, dict[str, _Head]] = {}  # field → key → head
        self._data_version: int | None = None
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
            for statement in (*_CREATE, *CREATE_LEDGER):
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
        windows: dict[str, list[tuple[str, str]]] = {}
        try:
            with self._lock, self._transaction("BEGIN"):
                for start in range(0, len(keys), _CHUNK):
                    chunk = list(keys[start : start + _CHUNK])
                    marks = ", ".join("?" * len(chunk))
                    sql = f"SELECT key, fields FROM online WHERE key IN ({marks})"
                    values.update(self._con.execute(sql, chunk).fetchall())
                    sql = (
                        f"SELECT key, field, {_WINDOW} FROM window_events "
                        f"WHERE key IN ({marks}) GROUP BY key, field"
                    )
                    for key, field, value in self._con.execute(sql, chunk).fetchall():
                        windows.setdefault(key, []).append((field, value))
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc
        out = []
        for key in keys:
            fields: dict[str, str] = _loads(values[key]) if key in values else {}
            fields.update(windows.get(key, ()))
            out.append(fields)
        return out

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

    def append_events(
        self, field: str, events: Sequence[WindowEvent], lateness_us: int, horizon_us: int
    ) -> str:
        """Add events to window ``field`` in one write transaction; an outcome code per event.

        Inserts go in one ``executemany``; forgotten events are removed in another, only for
        windows whose oldest event has fallen beyond the horizon.
        """
        if not events:
            return ""
        try:
            with self._lock:
                try:
                    with self._transaction("BEGIN IMMEDIATE"):
                        heads = self._current_heads(field, events)
                        codes, rows, forget = _decide(heads, field, events, lateness_us, horizon_us)
                        if rows:
                            literal = "'" + field.replace("'", "''") + "'"
                            self._con.executemany(_APPEND.format(field=literal), rows)
                        if forget:
                            self._con.executemany(_FORGET, forget)
                except BaseException:
                    self._heads.clear()  # heads were updated for a write that did not happen
                    raise
                if len(heads) > self.cached_windows:
                    for key in list(islice(heads, len(heads) - self.cached_windows // 2)):
                        del heads[key]  # the earliest cached
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc
        return codes

    def _current_heads(self, field: str, events: Sequence[WindowEvent]) -> dict[str, _Head]:
        """The heads of the events' windows, exact inside the running write transaction."""
        version = self._con.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:  # another connection committed: trust nothing
            self._heads.clear()
            self._data_version = version
        heads = self._heads.setdefault(field, {})
        missing = list(set(map(_key_of, events)).difference(heads))
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            for key in chunk:
                heads[key] = [None, None, {}]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT key, id, ts FROM window_events WHERE field = ? AND key IN ({marks})"
            for key, event_id, ts in self._con.execute(sql, [field, *chunk]):
                head = heads[key]
                head[2][event_id] = ts
                if head[0] is None or ts > head[0]:
                    head[0] = ts
                if head[1] is None or ts < head[1]:
                    head[1] = ts
        return heads

    def delete(self, keys: Iterable[str]) -> int:
        """Remove the keys (values and windows); returns how many held values or windows."""
        keys = list(keys)
        removed = 0
        try:
            with self._lock, self._transaction("BEGIN IMMEDIATE"):
                self._heads.clear()
                for start in range(0, len(keys), _CHUNK):
                    chunk = keys[start : start + _CHUNK]
                    marks = ", ".join("?" * len(chunk))
                    present = self._con.execute(
                        f"SELECT count(*) FROM (SELECT key FROM online WHERE key IN ({marks}) "
                        f"UNION SELECT key FROM window_events WHERE key IN ({marks}))",
                        chunk + chunk,
                    ).fetchone()[0]
                    self._con.execute(f"DELETE FROM online WHERE key IN ({marks})", chunk)
                    self._con.execute(f"DELETE FROM window_events WHERE key IN ({marks})", chunk)
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
        fields: dict[str, str] = _loads(rows[0][1])
        fields.update(rows[1:])  # type: ignore[arg-type]
        return fields
    return dict(rows)  # type: ignore[arg-type]


def _decide(
    heads: dict[str, _Head],
    field: str,
    events: Sequence[WindowEvent],
    lateness: int,
    horizon: int,
) -> tuple[str, list[WindowEvent], list[tuple[str, str, int]]]:
    """Each event's outcome code, the rows to insert, the windows to forget events from.

    The rules are those of :mod:`~uplift_engine.features.streaming.windows`: an id is kept
    while its time is within the horizon of the window's latest time, and a kept id is a
    duplicate whatever its time. Forgetting is ``(key, field, cutoff)``: the window's events
    before ``cutoff`` go. The heads are updated as the events are decided.
    """
    codes: list[str] = []
    rows: list[WindowEvent] = []
    touched: dict[str, _Head] = {}
    for event in events:
        key, event_id, ts, _ = event
        head = heads[key]
        latest, _, ids = head
        seen = ids.get(event_id)
        if seen is not None and seen >= latest - horizon:
            codes.append(DUPLICATE)
        elif latest is not None and ts < latest - lateness:
            codes.append(LATE)
        else:
            ids[event_id] = ts
            if latest is None or ts > latest:
                head[0] = ts
            if head[1] is None or ts < head[1]:
                head[1] = ts
            rows.append(event)
            touched[key] = head
            codes.append(ACCEPTED)
    forget: list[tuple[str, str, int]] = []
    for key, head in touched.items():
        cutoff = head[0] - horizon
        if head[1] < cutoff:
            kept = {i: t for i, t in head[2].items() if t >= cutoff}
            head[1], head[2] = min(kept.values()), kept
            forget.append((key, field, cutoff))
    return "".join(codes), rows, forget
