"""A benchmark's table in the docs: written between its two markers, the rest left as it is."""

from __future__ import annotations

from pathlib import Path


def write_block(path: Path, name: str, body: str, *, heading: str) -> None:
    """Put ``body`` between ``<!-- NAME-benchmark:begin -->`` and its end marker in ``path``.

    A file without the markers gets a ``## heading`` section with them at its end; a missing file
    starts as ``# Benchmarks``.
    """
    begin, end = f"<!-- {name}-benchmark:begin -->", f"<!-- {name}-benchmark:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{begin}\n{body}\n{end}"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n## {heading}\n\n{block}\n"
    path.write_text(text)
