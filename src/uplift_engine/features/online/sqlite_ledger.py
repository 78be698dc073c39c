"""The SQLite online store's ledger: capped counters and holds, each change one transaction.

Invariant: table ``ledger_counters(ledger, counter, value)`` holds integer counters and
``ledger_holds(ledger, hold, tag, expires_us, refundable)`` the holds not yet settled; a
reservation reads the capped counters, checks them and writes the amounts and the hold inside
one ``BEGIN IMMEDIATE`` transaction — under SQLite's one write lock, so concurrent reservations
from any number of threads and processes are serialised and a cap is never passed. Integers
only: no rounding can let a sum creep past its cap. A settlement gives back the refundable
amounts and deletes the hold in one transaction, so a hold is settled at most once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

CREATE_LEDGER = (
    "CREATE TABLE IF NOT EXISTS ledger_counters (ledger TEXT NOT NULL, counter TEXT NOT NULL, "
    "value INTEGER NOT NULL, PRIMARY KEY (ledger, counter)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS ledger_holds (ledger TEXT NOT NULL, hold TEXT NOT NULL, "
    "tag TEXT NOT NULL, expires_us INTEGER NOT NULL, refundable TEXT NOT NULL, "
    "PRIMARY KEY (ledger, hold)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS ledger_holds_by_tag ON ledger_holds (ledger, tag, expires_us)",
    "CREATE INDEX IF NOT EXISTS ledger_holds_by_expiry ON ledger_holds (ledger, expires_us)",
)
_ADD = (
    "INSERT INTO ledger_counters (ledger, counter, value) VALUES (?, ?, ?) "
    "ON CONFLICT (ledger, counter) DO UPDATE SET value = value + excluded.value"
)


class SQLiteLedger:
    """The ledger methods of :class:`~uplift_engine.features.online.sqlite.SQLiteStore`."""

    _con: sqlite3.Connection
    _lock: Any

    def reserve(
        self,
        ledger: str,
        hold: str,
        tag: str,
        amounts: Mapping[str, int],
        refundable: Mapping[str, int],
        caps: Mapping[str, int],
        expires_us: int,
    ) -> str | None:
        """Add ``amounts`` and keep the hold unless a cap would be passed (one transaction)."""
        capped = [c for c in amounts if c in caps]
        try:
            with self._lock, self._transaction("BEGIN IMMEDIATE"):  # type: ignore[attr-defined]
                held = self._con.execute(
                    "SELECT 1 FROM ledger_holds WHERE ledger = ? AND hold = ?", (ledger, hold)
                ).fetchone()
                if held:
                    return None
                if capped:
                    marks = ", ".join("?" * len(capped))
                    now = dict(
                        self._con.execute(
                            "SELECT counter, value FROM ledger_counters WHERE ledger = ? "
                            f"AND counter IN ({marks})",
                            (ledger, *capped),
                        ).fetchall()
                    )
                    for counter in capped:
                        if now.get(counter, 0) + amounts[counter] > caps[counter]:
                            return counter
                self._con.executemany(_ADD, [(ledger, c, int(v)) for c, v in amounts.items()])
                self._con.execute(
                    "INSERT INTO ledger_holds (ledger, hold, tag, expires_us, refundable) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (ledger, hold, tag, int(expires_us), json.dumps(dict(refundable))),
                )
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc  # type: ignore[attr-defined]
        return None

    def settle(self, ledger: str, hold: str | None, tag: str | None, redeemed: bool) -> bool:
        """End a hold by id, or the oldest with ``tag``; give back its refund unless redeemed."""
        try:
            with self._lock, self._transaction("BEGIN IMMEDIATE"):  # type: ignore[attr-defined]
                return self._settle(ledger, hold, tag, redeemed)
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc  # type: ignore[attr-defined]

    def _settle(self, ledger: str, hold: str | None, tag: str | None, redeemed: bool) -> bool:
        if hold is not None:
            sql = "SELECT hold, refundable FROM ledger_holds WHERE ledger = ? AND hold = ?"
            row = self._con.execute(sql, (ledger, hold)).fetchone()
        else:
            sql = (
                "SELECT hold, refundable FROM ledger_holds WHERE ledger = ? AND tag = ? "
                "ORDER BY expires_us LIMIT 1"
            )
            row = self._con.execute(sql, (ledger, tag)).fetchone()
        if row is None:
            return False
        if not redeemed:
            back = json.loads(row[1])
            self._con.executemany(_ADD, [(ledger, c, -int(v)) for c, v in back.items() if v])
        sql = "DELETE FROM ledger_holds WHERE ledger = ? AND hold = ?"
        self._con.execute(sql, (ledger, row[0]))
        return True

    def expire(self, ledger: str, now_us: int, limit: int = 1000) -> int:
        """Settle as unredeemed the holds that expired by ``now_us`` (at most ``limit``)."""
        try:
            with self._lock, self._transaction("BEGIN IMMEDIATE"):  # type: ignore[attr-defined]
                holds = self._con.execute(
                    "SELECT hold FROM ledger_holds WHERE ledger = ? AND expires_us <= ? "
                    "ORDER BY expires_us LIMIT ?",
                    (ledger, int(now_us), int(limit)),
                ).fetchall()
                for (hold,) in holds:
                    self._settle(ledger, hold, None, redeemed=False)
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc  # type: ignore[attr-defined]
        return len(holds)

    def counters(self, ledger: str) -> dict[str, int]:
        """Every counter of the ledger."""
        try:
            with self._lock:
                rows = self._con.execute(
                    "SELECT counter, value FROM ledger_counters WHERE ledger = ?", (ledger,)
                ).fetchall()
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc  # type: ignore[attr-defined]
        return {c: int(v) for c, v in rows}
