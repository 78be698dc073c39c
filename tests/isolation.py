"""Run a snippet in a fresh interpreter where some packages cannot be imported.

The scoring path must load and score a bundle without the training stack (and without
optional bases); tests prove it by blocking those imports in a child process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

TRAINING_STACK = ("pandas", "sklearn", "pyarrow", "pydantic", "numba")


def run_without(blocked: tuple[str, ...], body: str) -> str:
    """Run ``body`` where importing any of ``blocked`` fails; its stripped stdout."""
    script = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in blocked)
    done = subprocess.run(
        [sys.executable, "-c", script + textwrap.dedent(body)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
