"""Run the real-data benchmark: cross-fitted Qini / AUUC of every learner on real trials.

Invariants: each trial of ``real_data.REAL_DATASETS`` is prepared once per (cap, seed) under
the work folder (see ``real_splits``) with, per repeat, one seeded K-fold assignment
stratified by arm that every learner uses. Every (trial, repeat, cell) runs in its own child
process under the time and memory limits (``sandbox``; the child is ``real_worker``), fits the
K folds and saves every row's out-of-fold effect; this parent scores those effects on all rows
with ``metrics.headline`` (offer-averaged Qini coefficient, AUUC, uplift@30%: the same
definitions as the held-out benchmark) and appends one JSON record per (trial, repeat, cell)
to ``WORK/real-results.jsonl``. A time-out or a memory kill is a result; after one, that cell's
later repeats of the trial are recorded as skipped (``--every-repeat`` runs them anyway).
``--resume`` keeps recorded results with the same limit (errors, skips and ``--redo`` cells
run again); without it a run starts a new results file and the previous one is renamed, never
deleted.
``--rescore`` fits nothing: it scores the saved out-of-fold effects again. The tables
(``real_report``) summarise each cell over the repeats.

    .venv-bench/bin/python benchmarks/learners/real.py --quick
    .venv-bench/bin/python benchmarks/learners/real.py --resume --write docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, holding learners/
if sys.path[1:2] == [str(Path(__file__).resolve().parent)]:
    del sys.path[1]  # not this folder itself: its module names are not top-level packages

import numpy as np

from learners import metrics, real_report, real_splits, registry, sandbox
from learners.contender import Cell
from learners.real_data import REAL_DATASETS
from learners.report import status_text
from learners.run import _versions

ROOT = Path(__file__).resolve().parents[2]
RESULTS = "real-results.jsonl"
MARK_BEGIN = "<!-- real-data-benchmark:begin -->"
MARK_END = "<!-- real-data-benchmark:end -->"
MIN_PUBLISHED_REPEATS = 5
FULL_ORDER = [  # small first, so that a long run has whole tables early
    "nsw",
    "simulated_bank",
    "social_insure",
    "thornton_hiv",
    "star",
    "hillstrom",
    "hillstrom_conversion",
    "hillstrom_spend",
    "social_pressure",
]
QUICK = ["thornton_hiv", "nsw", "social_insure", "simulated_bank", "hillstrom:10000"]
QUICK_LEARNERS = [
    "ours/auto",
    "ours/s_learner",
    "ours/t_learner",
    "ours/dr_learner",
    "ours/causal_forest",
    "causalml/BaseX",
    "causalml/UpliftRandomForest[KL]",
    "econml/CausalForestDML",
    "econml/DRLearner",
    "sklift/TwoModels",
]
FULL = [n for n in FULL_ORDER if n in REAL_DATASETS] + [
    n for n in REAL_DATASETS if n not in FULL_ORDER
]
GAVE_UP = ("timeout", "memory")


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--quick",
        action="store_true",
        help="four small trials and Hillstrom capped at 10,000 rows, ten learners, 120 s",
    )
    p.add_argument(
        "--datasets",
        nargs="+",
        metavar="NAME[:ROWS]",
        help=f"trials, optionally capped: hillstrom:10000 (from {', '.join(REAL_DATASETS)})",
    )
    p.add_argument(
        "--max-rows", type=int, help="cap every trial given without :ROWS (stratified subsample)"
    )
    p.add_argument("--learners", nargs="+", metavar="PATTERN", help="keys, globs: 'ours/*'")
    p.add_argument("--repeats", type=int, default=5, help="repeats of the K-fold split (5)")
    p.add_argument("--folds", type=int, default=2, help="folds K of each repeat (2)")
    p.add_argument("--limit", type=float, help="seconds per cell and repeat (quick 120, 600)")
    p.add_argument("--memory-gb", type=float, default=12.0, help="RSS limit per cell (12)")
    p.add_argument("--threads", type=int, default=2, help="threads per cell (2)")
    p.add_argument("--seed", type=int, default=1, help="subsamples, folds and learners (1)")
    p.add_argument("--work", default="/tmp/uplift-real-benchmark", help="data and results")
    p.add_argument("--resume", action="store_true", help=f"keep what {RESULTS} holds")
    p.add_argument(
        "--redo",
        nargs="+",
        metavar="PATTERN",
        help="with --resume, fit these cells again though recorded: 'ours/*' after a change",
    )
    p.add_argument(
        "--every-repeat",
        action="store_true",
        help="run a cell's later repeats even after it timed out or passed the memory limit",
    )
    p.add_argument("--write", metavar="MARKDOWN", help="replace the tables between the markers")
    p.add_argument("--list", action="store_true", help="print the trials and cells and exit")
    p.add_argument("--render", action="store_true", help="only rebuild the tables from --work")
    p.add_argument(
        "--rescore", action="store_true", help="score the saved out-of-fold effects again"
    )
    opts = p.parse_args()
    if opts.repeats < 1 or opts.folds < 2:
        p.error("give --repeats 1 or more and --folds 2 or more")
    if opts.write and opts.repeats < MIN_PUBLISHED_REPEATS and not opts.render:
        p.error(f"--write publishes a table: give --repeats {MIN_PUBLISHED_REPEATS} or more")
    if opts.quick:
        opts.learners = opts.learners or QUICK_LEARNERS
    opts.limit = opts.limit or (120.0 if opts.quick else 600.0)
    return opts


def _wanted(key: str, patterns: list[str] | None) -> bool:
    return not patterns or any(key == p or fnmatch.fnmatchcase(key, p) for p in patterns)


RecordKey = tuple[str, int, int, str]


def _key(r: dict[str, Any]) -> RecordKey:
    return (r["dataset"], r["folds"], r["repeat"], r["key"])


def _previous(path: Path) -> dict[RecordKey, dict[str, Any]]:
    """The last record of every (trial, folds, repeat, cell) in ``path``."""
    if not path.exists():
        return {}
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {_key(r): r for r in records}


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record, default=str) + "\n")


def _out(work: Path, record: dict[str, Any]) -> Path:
    where = f"k{record['folds']}_r{record['repeat']}"
    return work / "cells" / record["dataset"] / where / record["key"].replace("/", "__")


def score(folder: Path, out: Path, threads: int, seed: int) -> dict[str, Any]:
    """Offer-averaged Qini, AUUC and uplift@30% of the saved out-of-fold effects, all rows."""
    effects = np.load(out / "effects.npy", allow_pickle=False)
    if not np.isfinite(effects).all():
        effects = np.nan_to_num(effects, nan=0.0, posinf=0.0, neginf=0.0)
    headline = metrics.headline(real_splits.whole(folder), effects, 0, seed, threads)
    return {name: {"value": m["value"]} for name, m in headline.items()}


def run_cell(
    folder: Path, meta: dict[str, Any], repeat: int, cell: Cell, opts: argparse.Namespace
) -> dict[str, Any]:
    """Fit all folds of one repeat in a child and score them: the record for the results."""
    record: dict[str, Any] = {
        "dataset": meta["id"],
        "name": meta["name"],
        "rows": meta["rows"],
        "folds": opts.folds,
        "repeat": repeat,
        "key": cell.key,
        "library": cell.library,
        "learner": cell.learner,
        "setup": cell.setup,
        "limit_s": opts.limit,
        "memory_mb": opts.memory_gb * 1024,
        "seed": opts.seed + repeat,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_before": os.getloadavg()[0],
    }
    if cell.make is None or cell.skip:
        return {**record, "status": "n/a", "skip": cell.skip}
    work = Path(opts.work)
    args = {
        "mode": "cross_fit",
        "data": str(folder),
        "folds": str(real_splits.folds_path(folder, opts.folds, repeat)),
        "key": cell.key,
        "seed": opts.seed + repeat,
        "threads": opts.threads,
        "out": str(_out(work, record)),
    }
    done = sandbox.run_cell(args, opts.limit, opts.memory_gb * 1024)
    result = done.result
    record.update(
        status=done.status,
        wall_s=round(done.wall_s, 2),
        peak_mb=round(done.peak_tree_mb, 1),
        notes=result.get("notes", {}),
        error=result.get("error"),
        traceback=result.get("traceback"),
    )
    if done.status != "ok":
        return record
    record.update(
        fit_s=result["fit_s"],
        fit_s_per_fold=result["fit_s_per_fold"],
        predict_s=result["predict_s"],
        non_finite_predictions=result.get("non_finite_predictions", 0),
    )
    try:
        record["metrics"] = score(folder, Path(args["out"]), opts.threads, opts.seed)
    except Exception as exc:  # bad predictions are a result of that cell
        record.update(status="error", error=f"scoring failed: {type(exc).__name__}: {exc}")
    return record


def _line(r: dict[str, Any]) -> str:
    if r["status"] == "ok":
        m = r["metrics"]
        winners = (r.get("notes") or {}).get("winners")
        extra = f"  → {', '.join(winners)}" if winners else ""
        return (
            f"ok  fit {r['fit_s']:.1f}s  qini {m['qini']['value']:.4f}  "
            f"auuc {m['auuc']['value']:.4f}  peak {r['peak_mb']:.0f} MB{extra}"
        )
    if r["status"] == "skipped":
        return f"skipped: {r['skip']}"
    return status_text(r)


def _skipped(earlier: dict[str, Any], repeat: int, seed: int) -> dict[str, Any]:
    """The record of a repeat not run because an earlier one ran out of time or memory."""
    reason = f"repeat {earlier['repeat']}: {status_text(earlier)}"
    return {
        **{k: v for k, v in earlier.items() if k not in ("error", "traceback", "notes")},
        "repeat": repeat,
        "seed": seed + repeat,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "status": "skipped",
        "skip": reason,
    }


def _header(opts: argparse.Namespace, started: float, records: list[dict[str, Any]]) -> list[str]:
    loads = [r["load_before"] for r in records if r.get("load_before") is not None]
    load = os.getloadavg()
    cells_load = (
        f"1-min load before the cells: median {np.median(loads):.1f}, max {max(loads):.1f}; "
        if loads
        else ""
    )
    return [
        f"Measured {datetime.now(UTC):%Y-%m-%d} with `{' '.join(sys.argv[1:]) or '(full)'}`: "
        f"{opts.repeats} repeats of {opts.folds}-fold cross-fitting stratified by arm (seed "
        f"{opts.seed}; the same folds for every learner), {opts.threads} threads, limit "
        f"{opts.limit:.0f} s and {opts.memory_gb:g} GB per cell and repeat (fit s: the "
        f"{opts.folds} fits of a repeat summed, median over repeats); {cells_load}"
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; "
        f"{', '.join(f'{k} {v}' for k, v in _versions().items())}; "
        f"this invocation took {(time.perf_counter() - started) / 60:.0f} min.",
    ]


def publish(opts: argparse.Namespace, table: str) -> None:
    """Print the tables, keep them in the work folder and, with --write, in the docs."""
    (Path(opts.work) / "real-results.md").write_text(table)
    print("\n" + table)
    if opts.write:
        target = Path(opts.write)
        write_between(target if target.is_absolute() else ROOT / target, table)
        print(f"written into {opts.write}")


def write_between(path: Path, table: str) -> None:
    """Replace what sits between this benchmark's markers in ``path`` with ``table``."""
    text = path.read_text()
    if MARK_BEGIN not in text or MARK_END not in text:
        raise SystemExit(f"{path} has no {MARK_BEGIN} … {MARK_END} markers to write between")
    head, rest = text.split(MARK_BEGIN, 1)
    _, tail = rest.split(MARK_END, 1)
    path.write_text(f"{head}{MARK_BEGIN}\n{table}{MARK_END}{tail}")


def _latest(work: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str], int]:
    """The last finished run's trials, header and folds; or, while one runs, what it has."""
    records = list(_previous(work / RESULTS).values())
    if (work / "real-run.json").exists():
        run = json.loads((work / "real-run.json").read_text())
        return run["datasets"], records, run["header"], run["folds"]
    if not records:
        raise SystemExit(f"{work} holds no {RESULTS} yet")
    ids = list(dict.fromkeys(r["dataset"] for r in records))
    metas = [json.loads((work / "data" / i / "meta.json").read_text()) for i in ids]
    header = [f"Partial: the records in {work / RESULTS} so far (the run has not finished)."]
    return metas, records, header, records[-1]["folds"]


def render_only(opts: argparse.Namespace) -> int:
    """Rebuild the tables from ``real-run.json`` and the results file."""
    metas, records, header, folds = _latest(Path(opts.work))
    publish(opts, real_report.render(metas, records, header, folds))
    return 0


def rescore(opts: argparse.Namespace) -> int:
    """Score every recorded cell's saved out-of-fold effects again and rebuild the tables."""
    work = Path(opts.work)
    metas, _, header, folds = _latest(work)
    path = work / RESULTS
    records = _previous(path)
    for key, record in sorted(records.items()):
        if record["status"] != "ok" or not _wanted(record["key"], opts.learners):
            continue
        out = _out(work, record)
        try:
            saved = json.loads((out / "result.json").read_text())
        except (OSError, ValueError):
            saved = {}
        if saved.get("fit_s") != record.get("fit_s"):
            print(f"  {key}: its saved effects are from another run; kept as it was")
            continue
        folder = work / "data" / record["dataset"]
        updated = {
            **record,
            "metrics": score(folder, out, opts.threads, opts.seed),
            "rescored": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        records[key] = updated
        _append(path, updated)
        print(f"  {record['dataset']} r{record['repeat']} {record['key']:38s} {_line(updated)}")
    publish(opts, real_report.render(metas, list(records.values()), header, folds))
    return 0


def _kept(old: dict[str, Any], opts: argparse.Namespace) -> bool:
    if opts.redo and _wanted(old["key"], opts.redo):
        return False
    return old["limit_s"] == opts.limit and old["status"] not in ("error", "skipped")


def main() -> int:
    opts = _args()
    if opts.render:
        return render_only(opts)
    if opts.rescore:
        return rescore(opts)
    specs = opts.datasets or (QUICK if opts.quick else FULL)
    work = Path(opts.work)
    work.mkdir(parents=True, exist_ok=True)
    path = work / RESULTS
    previous = _previous(path) if opts.resume else {}
    if not opts.resume and path.exists() and not opts.list:
        stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        kept = path.with_name(f"real-results.{stamp:%Y%m%dT%H%M%S}.jsonl")
        path.rename(kept)
        print(f"the previous run's records are now in {kept}", flush=True)
    started = time.perf_counter()
    metas, records = [], []
    for spec in specs:
        name, cap = real_splits.parse_spec(spec, opts.max_rows)
        folder = real_splits.prepare(name, cap, opts.seed, work)
        real_splits.save_folds(folder, opts.folds, opts.repeats, opts.seed)
        meta, _ = real_splits.load(folder)
        metas.append(meta)
        cells = [c for c in registry.cells(meta) if _wanted(c.key, opts.learners)]
        print(f"[{meta['id']}] {meta['rows']:,} rows, {len(cells)} cells", flush=True)
        if opts.list:
            for c in cells:
                print(f"  {c.key:42s} {c.skip or c.setup}")
            continue
        gave_up: dict[str, dict[str, Any]] = {}
        for repeat in range(opts.repeats):
            for cell in cells:
                old = previous.get((meta["id"], opts.folds, repeat, cell.key))
                if old is not None and _kept(old, opts):
                    record, label = old, "(kept) "
                elif cell.key in gave_up and not opts.every_repeat:
                    record, label = _skipped(gave_up[cell.key], repeat, opts.seed), ""
                    _append(path, record)
                else:
                    record, label = run_cell(folder, meta, repeat, cell, opts), ""
                    _append(path, record)
                if record["status"] in GAVE_UP and cell.key not in gave_up:
                    gave_up[cell.key] = record
                records.append(record)
                print(f"  r{repeat} {cell.key:40s} {label}{_line(record)}", flush=True)
    if opts.list:
        return 0
    header = _header(opts, started, records)
    (work / "real-run.json").write_text(
        json.dumps({"header": header, "datasets": metas, "folds": opts.folds})
    )
    publish(opts, real_report.render(metas, records, header, opts.folds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
