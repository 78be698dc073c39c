"""Run the learners benchmark: every learner of every library on the same splits and seeds.

Invariants: datasets are generated and split once per (name, size, seed) and saved under the
work folder; every cell (learner × dataset) runs in its own child process under the time and
memory limits (see ``sandbox``), reading those saved arrays; this parent scores every cell's
test-set predictions the same way (see ``metrics``) and appends one JSON record per cell to
``WORK/results.jsonl``. With ``--resume`` a cell already recorded with the same limits is not
run again, so a long run can be stopped and continued (or more cells added to a run's tables).
Without it a run starts a new ``results.jsonl`` and the previous one is renamed
``results.<its time>.jsonl``, never deleted. ``--rescore`` fits nothing: it scores again the
predictions each recorded cell saved under ``WORK/cells`` (after a change to the metrics) and
appends the updated records; a cell whose saved predictions are not those of its last record
(another run wrote them) is named and left as it was.

    .venv-bench/bin/python benchmarks/learners/run.py --quick
    .venv-bench/bin/python benchmarks/learners/run.py --write docs/benchmarks.md --resume
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, holding learners/
if sys.path[1:2] == [str(Path(__file__).resolve().parent)]:
    del sys.path[1]  # not this folder itself: its module names are not top-level packages

import numpy as np

from learners import datasets, metrics, registry, report, sandbox

ROOT = Path(__file__).resolve().parents[2]
QUICK = ["sim:20000", "cml_logistic:20000", "cml_nuisance:10000"]
FULL = [
    "sim:100000",
    "sim_revenue:100000",
    "cml_classification:100000",
    "cml_logistic:100000",
    "cml_nuisance:100000",
    "cml_rct:100000",
    "cml_hard_baseline:100000",
    "cml_unrelated:100000",
    "sim:1000000",
    "cml_classification:1000000",
]
MARK_BEGIN = "<!-- learners-benchmark:begin -->"
MARK_END = "<!-- learners-benchmark:end -->"
PACKAGES = (
    "uplift-engine",
    "causalml",
    "econml",
    "scikit-uplift",
    "lightgbm",
    "scikit-learn",
    "numpy",
    "pandas",
)


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small datasets, short limits (minutes)")
    p.add_argument("--datasets", nargs="+", metavar="NAME:ROWS", help="e.g. sim:100000 cml_rct:1M")
    p.add_argument("--learners", nargs="+", metavar="PATTERN", help="keys, globs: 'ours/*'")
    p.add_argument("--limit", type=float, help="seconds per cell (quick 120, full 1200)")
    p.add_argument("--memory-gb", type=float, default=12.0, help="RSS limit per cell")
    p.add_argument("--n-boot", type=int, help="bootstrap resamples (quick 100, full 200)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", default="/tmp/uplift-learners-benchmark", help="data and results")
    p.add_argument("--resume", action="store_true", help="keep cells already in results.jsonl")
    p.add_argument("--write", metavar="MARKDOWN", help="replace the table between the markers")
    p.add_argument("--list", action="store_true", help="print the cells and exit")
    p.add_argument(
        "--render", action="store_true", help="only rebuild the tables of the last run in --work"
    )
    p.add_argument(
        "--rescore",
        action="store_true",
        help="score the saved predictions of the recorded cells again (of --datasets if given)",
    )
    return p.parse_args()


def _versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    found["python"] = platform.python_version()
    return found


def _previous(path: Path) -> dict[tuple[str, str], dict]:
    if not path.exists():
        return {}
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(r["dataset"], r["key"]): r for r in records}


def _wanted(key: str, patterns: list[str] | None) -> bool:
    return not patterns or any(key == p or fnmatch.fnmatchcase(key, p) for p in patterns)


def _predictions(out: Path) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """A cell's saved test-set effects and, if it gave intervals, their bounds."""
    effects = np.load(out / "effects.npy", allow_pickle=False)
    if not (out / "low.npy").exists():
        return effects, None
    low = np.load(out / "low.npy", allow_pickle=False)
    return effects, (low, np.load(out / "high.npy", allow_pickle=False))


def run_cell(
    ds: datasets.Dataset, folder: Path, cell, opts: argparse.Namespace, work: Path
) -> dict:
    """Run one cell and score it; the record that goes into results.jsonl."""
    record = {
        "dataset": ds.meta["id"],
        "key": cell.key,
        "library": cell.library,
        "learner": cell.learner,
        "setup": cell.setup,
        "limit_s": opts.limit,
        "memory_mb": opts.memory_gb * 1024,
        "seed": opts.seed,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_before": os.getloadavg()[0],
    }
    if cell.make is None or cell.skip:
        return {**record, "status": "n/a", "skip": cell.skip}
    out = work / "cells" / ds.meta["id"] / cell.key.replace("/", "__")
    args = {
        "data": str(folder),
        "key": cell.key,
        "seed": opts.seed,
        "threads": opts.threads,
        "out": str(out),
    }
    done = sandbox.run_cell(args, opts.limit, opts.memory_gb * 1024)
    result = done.result
    record.update(
        status=done.status,
        wall_s=round(done.wall_s, 2),
        peak_mb=round(done.peak_tree_mb, 1),
        rss_loaded_mb=result.get("rss_loaded_mb"),
        notes=result.get("notes", {}),
        error=result.get("error"),
        traceback=result.get("traceback"),
    )
    if done.status != "ok":
        return record
    n_test = len(ds.test.y)
    record.update(
        fit_s=result["fit_s"],
        predict_s=result["predict_s"],
        predict_s_per_m=result["predict_s"] * 1e6 / n_test,
        interval_s=result.get("interval_s"),
        non_finite_predictions=result.get("non_finite_predictions", 0),
    )
    effects, bounds = _predictions(out)
    try:
        record["metrics"] = metrics.score(
            ds, effects, bounds, n_boot=opts.n_boot, seed=opts.seed, threads=opts.threads
        )
    except Exception as exc:  # bad predictions are a result of that cell
        record.update(status="error", error=f"scoring failed: {type(exc).__name__}: {exc}")
    return record


def _line(r: dict) -> str:
    if r["status"] == "ok":
        m = r["metrics"]
        pehe = (m.get("truth") or {}).get("pehe")
        extra = f" PEHE {pehe:.4g}" if pehe is not None else ""
        return (
            f"ok  fit {r['fit_s']:.1f}s  qini {m['qini']['value']:.4f}{extra}  "
            f"peak {r['peak_mb']:.0f} MB"
        )
    return report.status_text(r)


def write_markdown(path: Path, table: str) -> None:
    """Replace what sits between the markers of ``path`` with ``table``."""
    text = path.read_text()
    if MARK_BEGIN not in text or MARK_END not in text:
        raise SystemExit(f"{path} has no {MARK_BEGIN} … {MARK_END} markers to write between")
    head, rest = text.split(MARK_BEGIN, 1)
    _, tail = rest.split(MARK_END, 1)
    path.write_text(f"{head}{MARK_BEGIN}\n{table}{MARK_END}{tail}")


def publish(opts: argparse.Namespace, table: str) -> None:
    """Print the tables, keep them in the work folder and, with --write, in the docs."""
    (Path(opts.work) / "results.md").write_text(table)
    print("\n" + table)
    if opts.write:
        target = Path(opts.write)
        write_markdown(target if target.is_absolute() else ROOT / target, table)
        print(f"written into {opts.write}")


def render_only(opts: argparse.Namespace) -> int:
    """Rebuild the tables from ``run.json`` and ``results.jsonl`` of the last run."""
    work = Path(opts.work)
    run = json.loads((work / "run.json").read_text())
    records = list(_previous(work / "results.jsonl").values())
    publish(opts, report.render(run["datasets"], records, run["header"]))
    return 0


def _saved_predictions(work: Path, record: dict) -> Path | None:
    """The folder of a record's predictions, if the ones saved there are that record's."""
    out = work / "cells" / record["dataset"] / record["key"].replace("/", "__")
    try:
        saved = json.loads((out / "result.json").read_text())
    except (OSError, ValueError):
        return None
    return out if saved.get("fit_s") == record.get("fit_s") else None


def rescore(opts: argparse.Namespace) -> int:
    """Score every recorded cell's saved predictions again and rebuild the tables."""
    work = Path(opts.work)
    run = json.loads((work / "run.json").read_text())
    wanted = None
    if opts.datasets:
        wanted = {datasets.dataset_id(*datasets.parse_spec(s), opts.seed) for s in opts.datasets}
    results_path = work / "results.jsonl"
    records = _previous(results_path)
    loaded: dict[str, datasets.Dataset] = {}
    for (ds_id, key), record in sorted(records.items()):
        if record["status"] != "ok" or (wanted is not None and ds_id not in wanted):
            continue
        if not _wanted(key, opts.learners):
            continue
        out = _saved_predictions(work, record)
        if out is None:
            print(f"  {ds_id} {key}: its saved predictions are from another run; kept as it was")
            continue
        if ds_id not in loaded:
            loaded[ds_id] = datasets.load(work / "data" / ds_id)
        effects, bounds = _predictions(out)
        updated = {
            **record,
            "metrics": metrics.score(
                loaded[ds_id],
                effects,
                bounds,
                n_boot=opts.n_boot,
                seed=record["seed"],
                threads=opts.threads,
            ),
            "rescored": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        records[(ds_id, key)] = updated
        with results_path.open("a") as f:
            f.write(json.dumps(updated, default=str) + "\n")
        print(f"  {ds_id} {key:42s} {_line(updated)}", flush=True)
    publish(opts, report.render(run["datasets"], list(records.values()), run["header"]))
    return 0


def main() -> int:
    opts = _args()
    if opts.render:
        return render_only(opts)
    if opts.rescore:
        opts.n_boot = opts.n_boot if opts.n_boot is not None else 200
        return rescore(opts)
    specs = opts.datasets or (QUICK if opts.quick else FULL)
    opts.limit = opts.limit or (120.0 if opts.quick else 1200.0)
    opts.n_boot = opts.n_boot if opts.n_boot is not None else (100 if opts.quick else 200)
    work = Path(opts.work)
    work.mkdir(parents=True, exist_ok=True)
    results_path = work / "results.jsonl"
    previous = _previous(results_path) if opts.resume else {}
    if not opts.resume and results_path.exists() and not opts.list:
        # a fresh run starts a fresh file; the last one's records stay beside it
        stamp = datetime.fromtimestamp(results_path.stat().st_mtime, UTC)
        kept = results_path.with_name(f"results.{stamp:%Y%m%dT%H%M%S}.jsonl")
        results_path.rename(kept)
        print(f"the previous run's records are now in {kept}", flush=True)
    started = time.perf_counter()
    metas, records = [], []
    for spec in specs:
        name, n = datasets.parse_spec(spec)
        print(f"[{spec}] preparing", flush=True)
        folder = datasets.prepare(name, n, opts.seed, work)
        ds = datasets.load(folder)
        metas.append(ds.meta)
        for cell in registry.cells(ds.meta):
            if not _wanted(cell.key, opts.learners):
                continue
            if opts.list:
                print(f"  {cell.key:42s} {cell.skip or cell.setup}")
                continue
            old = previous.get((ds.meta["id"], cell.key))
            if old and old["limit_s"] == opts.limit and old["status"] != "error":
                records.append(old)
                print(f"  {cell.key:42s} (kept) {_line(old)}", flush=True)
                continue
            record = run_cell(ds, folder, cell, opts, work)
            records.append(record)
            with results_path.open("a") as f:
                f.write(json.dumps(record, default=str) + "\n")
            print(f"  {cell.key:42s} {_line(record)}", flush=True)
    if opts.list:
        return 0
    header = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} with `{' '.join(sys.argv[1:]) or '(full)'}`: "
        f"{opts.threads} threads per cell, limit {opts.limit:.0f} s and "
        f"{opts.memory_gb:g} GB per cell, seed {opts.seed}, {opts.n_boot} bootstrap resamples; "
        f"{', '.join(f'{k} {v}' for k, v in _versions().items())}; "
        f"run took {(time.perf_counter() - started) / 60:.0f} min.",
    ]
    (work / "run.json").write_text(json.dumps({"header": header, "datasets": metas}))
    publish(opts, report.render(metas, records, header))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
