"""A DuckDB session for the lake: threads, a memory limit, and a spill folder of its own.

DuckDB is imported when a session opens, not with the lake package.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

from uplift_engine.errors import UserInputError
from uplift_engine.lake.quality import sql_quote

if TYPE_CHECKING:
    import duckdb

_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


@contextlib.contextmanager
def duckdb_session(
    threads: int = 2, memory_limit: str = "4GB"
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB session in UTC with bounded threads and memory (spilling to disk)."""
    import duckdb

    if threads < 1:
        raise UserInputError(f"threads must be at least 1, got {threads}", field="threads")
    if not _MEMORY.match(memory_limit):
        raise UserInputError(
            f"memory_limit must look like '4GB' or '512MB', got {memory_limit!r}",
            field="memory_limit",
        )
    spill = tempfile.mkdtemp(prefix="uplift-duckdb-")
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET threads = {int(threads)}")
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET preserve_insertion_order = false")
        with contextlib.suppress(duckdb.Error):  # an optimizer of DuckDB ≥ 1.1
            # Queries here put the small side of a join on the right, where DuckDB builds its
            # hash table; unable to size Arrow scans, this optimizer would put 40M events there.
            con.execute("SET disabled_optimizers = 'build_side_probe_side'")
        con.execute(f"SET temp_directory = '{sql_quote(spill)}'")
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
