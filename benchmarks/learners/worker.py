"""The child process of one cell: load the saved dataset, fit, predict, write the predictions.

Invariant: only ``fit`` is inside the fit timer, only ``predict`` on the test part inside the
predict timer, and the interval call has a timer of its own. The predictions go to
``effects.npy`` (and ``low.npy`` / ``high.npy``), the timings and notes to ``result.json``; an
exception is written there too, with the end of its traceback, and the exit code is 1.

Usage (the parent does this): ``python -m learners.worker '{"data": …, "key": …, …}'``; with
``"mode": "cross_fit"`` it runs ``learners.real_worker`` instead (the real-data benchmark).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np


def _peak_mb() -> float:
    """This process's own peak (VmHWM: unlike ``ru_maxrss``, not inherited from the parent)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(args: dict) -> dict:
    """Fit and predict one cell; returns what goes into result.json."""
    from learners.datasets import load
    from learners.registry import cell

    out = Path(args["out"])
    ds = load(Path(args["data"]))
    found = cell(ds.meta, args["key"])
    if found.make is None or found.skip:
        raise RuntimeError(f"cell {found.key} does not run here: {found.skip}")
    contender = found.make(ds, args["seed"], args["threads"])
    result: dict = {"rss_loaded_mb": round(_peak_mb(), 1)}

    clock = time.perf_counter()
    contender.fit(ds.train)
    result["fit_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    effects = contender.predict(ds.test)
    result["predict_s"] = time.perf_counter() - clock
    shape = (len(ds.test.y), len(ds.offers))
    if effects.shape != shape:
        raise RuntimeError(f"predictions have shape {effects.shape}, expected {shape}")
    result["non_finite_predictions"] = int((~np.isfinite(effects)).sum())
    np.save(out / "effects.npy", effects, allow_pickle=False)

    clock = time.perf_counter()
    bounds = contender.interval(ds.test)
    if bounds is not None:
        result["interval_s"] = time.perf_counter() - clock
        np.save(out / "low.npy", bounds[0], allow_pickle=False)
        np.save(out / "high.npy", bounds[1], allow_pickle=False)
    result["notes"] = contender.notes
    result["peak_self_mb"] = round(_peak_mb(), 1)
    return result


def main() -> int:
    args = json.loads(sys.argv[1])
    out = Path(args["out"])
    out.mkdir(parents=True, exist_ok=True)
    if args.get("quiet_warnings", True):
        warnings.simplefilter("ignore")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    fit = run
    if args.get("mode") == "cross_fit":  # every fold of one repeat of a real trial
        from learners.real_worker import run as fit
    try:
        result = fit(args)
        code = 0
    except Exception as exc:  # a learner's failure is a result, not a crash of the run
        result = {
            "error": f"{type(exc).__name__}: {exc}"[:500],
            "traceback": traceback.format_exc()[-3000:],
        }
        code = 1
    (out / "result.json").write_text(json.dumps(result, default=str))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
