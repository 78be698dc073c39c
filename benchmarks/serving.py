"""Serving, measured: in process, over HTTP, as a Lambda, and in batch — each beside its baseline.

    .venv/bin/pip install fastapi          # the HTTP baseline only
    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/serving.py [--only http lambda …]

- **in process**: one full decision (store read, request features, every offer, guardrails,
  prices, the Decision and its log line) against the raw model time it needs (the bundle's
  prediction of every arm for one row), one thread; medians and where the rest goes.
- **http**: ``uplift serve`` (SQLite store, decision log fsynced) under 32 concurrent clients of
  a closed-loop load generator in its own process (benchmarks/loadgen.py), beside the trivial
  FastAPI endpoint and bare Starlette + orjson in the same run; p50/p99 and decisions a second;
  then a longer run of the service alone for the RSS drift and errors.
- **lambda**: a fresh process importing the handler module and answering the first call (bundle
  from a local folder), then warm invocations (the log written to a file on tmpfs, standing in
  for the network put that is excluded).
- **batch**: ``decide_table`` on 10 million customers × 3 offers with the T-learner bundle,
  beside the bundle's raw scoring of the same rows; other learners on 1 million.

Writes the tables into docs/serving.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from corridor import artefacts
from docs_block import write_block

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
ROUNDS = 3
"""HTTP: rounds of load, every server in each, so that a change in the machine's load falls on
all of them alike."""
BATCH_PAIRS = 2
ENV = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1", "UPLIFT_THREADS": "1"}


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


# ---- in process ---------------------------------------------------------------------------


def in_process(model: Path, decider: Path, store: Path, ids: list[int]) -> str:
    import orjson

    from uplift_engine.config import SQLiteOnlineStore
    from uplift_engine.features import FeatureReader, default_registry, open_store
    from uplift_engine.features.online import customer_key
    from uplift_engine.learn import load_bundle
    from uplift_engine.serve import DecisionCore, served_with_plan
    from uplift_engine.serve.corridor import Ask

    bundle = load_bundle(model, threads=1)
    core = DecisionCore(
        served_with_plan(bundle, decider.read_bytes(), "plan"),
        FeatureReader(open_store(SQLiteOnlineStore(path=str(store))), default_registry()),
    )
    sample = ids[:3000]
    parts: dict[str, list[float]] = {k: [] for k in (
        "store read", "store read, features and encoding", "model",
        "guardrails, prices and the Decision", "answer's and log line's JSON", "full decision",
        "raw model")}  # fmt: skip
    clock = time.perf_counter
    request = {"channel": "app"}
    for c in sample:  # warm
        core.decide(c, request)
    for c in sample:
        t0 = clock()
        core.reader.store.get(customer_key(c))
        t1 = clock()
        batch = core.prepare([Ask(c, request)])
        t2 = clock()
        predicted = core.predict(batch)
        t3 = clock()
        (d,) = core.finish(batch, predicted)
        t4 = clock()
        orjson.dumps(d.to_dict())
        orjson.dumps(d.log_record())
        t5 = clock()
        core.decide(c, request)
        t6 = clock()
        features = batch.values[0][0]
        bundle.predict_levels({n: [features[n]] for n in core.features})
        t7 = clock()
        for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6),
                        strict=True):  # fmt: skip
            parts[k].append(v)
    med = {k: statistics.median(v) for k, v in parts.items()}
    full = med["full decision"] + med["answer's and log line's JSON"]
    lines = [
        f"One thread, {len(sample):,} customers of the simulated bank (T-learner bundle trained "
        f"on the whole campaign table: 4 boosters, 3 offers, {len(core.features)} features — "
        "attributes, batch aggregates, stream windows, request-time features; SQLite store; a "
        "plan with the optimiser's prices; each request gives its channel); medians.",
        "",
        "| step | median |",
        "| --- | ---: |",
    ]
    for k in ("store read", "store read, features and encoding", "model",
              "guardrails, prices and the Decision", "answer's and log line's JSON"):  # fmt: skip
        lines.append(f"| {k} | {_us(med[k])} |")
    lines += [
        f"| **full decision** (`DecisionCore.decide` + the answer's and the log's JSON) | "
        f"**{_us(full)}** |",
        "| raw model time (the bundle's prediction of every arm for one row, from its values) | "
        f"{_us(med['raw model'])} |",
        "",
        f"Full decision / raw model time: **{full / med['raw model']:.2f}×** (target ≤ 3×).",
    ]
    return "\n".join(lines)


# ---- HTTP ---------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen, path: str | None) -> None:
    """Until the port answers (and ``path`` gives 200, when given)."""
    import socket
    import urllib.request

    port = int(url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
            if path is None:
                return
            with urllib.request.urlopen(url + path, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("the server died")
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def _load(url: str, bodies: Path, clients: int, seconds: float) -> dict:
    done = subprocess.run(
        [sys.executable, str(HERE / "loadgen.py"), url + "/v1/decide", "--bodies", str(bodies),
         "--clients", str(clients), "--seconds", str(seconds)],
        capture_output=True, text=True, check=True, env=ENV,
    )  # fmt: skip
    return json.loads(done.stdout)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def http(work: Path, model: Path, decider: Path, store: Path, ids: list[int], seconds: float,
         soak: float) -> str:  # fmt: skip
    bodies = work / "bodies.json"
    channels = ("app", "web", "branch", "contact_center")
    bodies.write_text(json.dumps([{"customer_id": c, "channel": channels[c % 4]}
                                  for c in ids[:5000]]))  # fmt: skip
    uplift = str(Path(sys.executable).parent / "uplift")
    env = {**ENV, "UPLIFT_ONLINE_STORE__TYPE": "sqlite", "UPLIFT_ONLINE_STORE__PATH": str(store)}
    env.pop("UPLIFT_API_KEYS", None)
    servers = {
        "trivial FastAPI endpoint": [sys.executable, "-m", "uvicorn", "trivial_apps:fastapi_app",
                                     "--log-level", "warning", "--no-access-log"],
        "bare Starlette + orjson": [sys.executable, "-m", "uvicorn", "trivial_apps:starlette_app",
                                    "--log-level", "warning", "--no-access-log"],
        "**uplift serve** (full decisions, fsynced log)": [
            uplift, "serve", "--model", str(model), "--plan", str(decider),
            "--decision-log", str(work / "decisions")],
    }  # fmt: skip
    procs, urls = {}, {}
    try:
        for name, command in servers.items():  # all started; an idle one costs nothing
            port = _free_port()
            args = [*command, "--port", str(port)]
            if "uvicorn" in command:
                args += ["--host", "127.0.0.1"]
            procs[name] = subprocess.Popen(args, cwd=HERE, env=env, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.PIPE)  # fmt: skip
            urls[name] = f"http://127.0.0.1:{port}"
            _wait(urls[name], procs[name], "/ready" if "uplift" in name else None)
        rounds: dict[str, list[dict]] = {name: [] for name in servers}
        for _ in range(ROUNDS):  # interleaved: every server in every round, one at a time
            for name in servers:
                rounds[name].append(_load(urls[name], bodies, 32, seconds))
        results: dict[str, dict] = {
            name: {k: statistics.median(r[k] for r in runs)
                   for k in ("per_second", "p50_ms", "p90_ms", "p99_ms")}
            | {"errors": sum(v for r in runs for k, v in r["statuses"].items() if k != "200")}
            for name, runs in rounds.items()
        }  # fmt: skip
        ours = next(name for name in servers if "uplift" in name)
        if soak > 0:
            rss0 = _rss_kb(procs[ours].pid)
            long = _load(urls[ours], bodies, 32, soak)
            rss1 = _rss_kb(procs[ours].pid)
            results["soak"] = long | {"rss0": rss0, "rss1": rss1}
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(timeout=30)
    lines = [
        f"127.0.0.1, 32 concurrent clients (closed loop, keep-alive, in a process of their own), "
        f"{seconds:.0f} s after a 3 s warm-up; {ROUNDS} rounds in one run, each round loading "
        "every server in turn (medians over the rounds); one uvicorn worker (uvloop, "
        "httptools), one LightGBM thread.",
        "",
        "| server | requests/s | p50 | p90 | p99 | non-200 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        if name == "soak":
            continue
        lines.append(
            f"| {name} | {r['per_second']:,.0f} | {r['p50_ms']:.2f} ms | {r['p90_ms']:.2f} ms "
            f"| {r['p99_ms']:.2f} ms | {r['errors']} |"
        )
    if "soak" in results:
        s = results["soak"]
        errors = sum(v for k, v in s["statuses"].items() if k != "200")
        drift = (s["rss1"] - s["rss0"]) / s["rss0"] * 100
        lines += ["", f"Soak: {soak / 60:.0f} min at 32 clients, {s['requests']:,} decisions, "
                  f"{errors} errors, p99 {s['p99_ms']:.2f} ms; RSS {s['rss0'] / 1024:.0f} MB → "
                  f"{s['rss1'] / 1024:.0f} MB ({drift:+.1f}%)."]  # fmt: skip
    return "\n".join(lines)


# ---- Lambda -------------------------------------------------------------------------------

LAMBDA_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from uplift_engine.serve.aws_lambda import lambda_handler
t1 = time.perf_counter()
ids = json.loads(sys.argv[1])
first = lambda_handler({"body": json.dumps({"customerId": ids[0]})}, None)
t2 = time.perf_counter()
if first["statusCode"] != 200:
    raise SystemExit(f"the first call failed: {first}")
lat = []
for c in ids[1:]:
    event = {"body": json.dumps({"customerId": c})}
    s = time.perf_counter()
    lambda_handler(event, None)
    lat.append(time.perf_counter() - s)
lat.sort()
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "p50": lat[len(lat) // 2],
                  "p99": lat[int(len(lat) * 0.99)]}))
"""


def lambda_(work: Path, model: Path, decider: Path, store: Path, ids: list[int], runs: int) -> str:
    import venv

    lean = work / "lean"
    if not (lean / "bin" / "python").exists():
        venv.create(lean, with_pip=True)
        subprocess.run([str(lean / "bin/python"), "-m", "pip", "install", "--quiet",
                        "-r", str(ROOT / "requirements/decide.txt")], check=True)  # fmt: skip
    shm = Path(tempfile.mkdtemp(prefix="uplift-lambda-log-", dir="/dev/shm"))
    env = {**ENV, "UPLIFT_ONLINE_STORE__PATH": str(store), "UPLIFT_MODEL_DIR": str(model),
           "UPLIFT_PLAN": str(decider), "UPLIFT_DECISION_LOG": str(shm),
           "PYTHONPATH": str(ROOT / "src")}  # fmt: skip
    rows = {}
    try:
        pythons = {"decision-only (what the Lambda ships)": lean / "bin/python",
                   "full (.venv: LightGBM imports pandas)": Path(sys.executable)}  # fmt: skip
        results: dict[str, list[dict]] = {name: [] for name in pythons}
        for _ in range(runs):  # interleaved: the two environments alternate
            for name, python in pythons.items():
                done = subprocess.run(
                    [str(python), "-c", textwrap.dedent(LAMBDA_CHILD), json.dumps(ids[:2000])],
                    capture_output=True, text=True, check=True, env=env,
                )  # fmt: skip
                results[name].append(json.loads(done.stdout))
        for name, runs_of in results.items():
            rows[name] = {k: statistics.median(r[k] for r in runs_of) for k in runs_of[0]}
    finally:
        shutil.rmtree(shm, ignore_errors=True)
    lines = [
        f"Fresh processes ({runs} each, medians); the bundle and plan from a local folder (as "
        "after the mirror to /tmp); the decision log on tmpfs (the Kinesis or Firehose put it "
        "stands for is network, excluded); 1,999 warm invocations each.",
        "",
        "| environment | handler import | first call (store, bundle, plan loaded; decided) "
        "| import + first | warm p50 | warm p99 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, med in rows.items():
        lines.append(
            f"| {name} | {_ms(med['import'])} | {_ms(med['first'])} "
            f"| **{_ms(med['import'] + med['first'])}** | {_us(med['p50'])} "
            f"| **{_us(med['p99'])}** |"
        )
    return "\n".join(lines)


# ---- batch --------------------------------------------------------------------------------


def batch(work: Path, model: Path, decider: Path, store: Path, ids: list[int], rows: int) -> str:
    import numpy as np
    import pyarrow as pa

    from uplift_engine.lake import read_table
    from uplift_engine.learn import load_bundle
    from uplift_engine.learn.data import score_table
    from uplift_engine.serve import served_with_plan
    from uplift_engine.serve.batch import decide_table

    bundle = load_bundle(model, threads=2)
    campaign = read_table(work / "lake/curated/campaign_table/c2026q4")
    base = campaign.select(list(bundle.encoder.names))  # the rows the API would build
    reps = -(-rows // base.num_rows)
    table = pa.concat_tables([base] * reps).slice(0, rows)
    table = table.append_column("customer_id", pa.array(np.arange(rows, dtype=np.int64)))
    table = table.combine_chunks()
    served = served_with_plan(bundle, decider.read_bytes(), "plan")
    scoring, deciding = [], []
    for _ in range(BATCH_PAIRS):  # interleaved: scores alone, then decisions, in turn
        started = time.perf_counter()
        score_table(bundle, table)
        scoring.append(time.perf_counter() - started)
        started = time.perf_counter()
        decided = decide_table(served, table)
        deciding.append(time.perf_counter() - started)
    score_s, decide_s = statistics.median(scoring), statistics.median(deciding)
    offered = decided.num_rows - decided.column("offer").null_count
    others = _other_learners(work, table.slice(0, min(rows, 1_000_000)))
    return "\n".join([
        f"{rows:,} customers (the bank's 20,000 repeated) × 3 offers, T-learner bundle, "
        f"LightGBM on 2 threads, in memory (reading and writing the files excluded); medians of "
        f"{BATCH_PAIRS} pairs, scores and decisions in turn.",
        "",
        "| step | seconds | customers/s |",
        "| --- | ---: | ---: |",
        f"| the bundle's scores alone (`uplift score`'s core) | {score_s:.1f} "
        f"| {rows / (score_s):,.0f} |",
        f"| **decisions** (scores, guardrails, economics, prices, exclusions per offer) "
        f"| **{decide_s:.1f}** | {rows / (decide_s):,.0f} |",
        "",
        f"Decisions / scores alone: {(decide_s) / (score_s):.2f}×; {offered:,} offers made.",
        "",
        "Other learners, 1,000,000 customers each (economics without a plan's prices; each "
        "bundle trained on the same 20,000-customer campaign):",
        "",
        "| learner | decisions, seconds | customers/s | × the T-learner's rate |",
        "| --- | ---: | ---: | ---: |",
        *(f"| {name} | {sec:.1f} | {1e6 / sec:,.0f} | {(1e6 / sec) / (rows / (decide_s)):.2f} |"
          for name, sec in others.items()),
    ])  # fmt: skip


def _other_learners(work: Path, table: object) -> dict[str, float]:
    """Seconds to decide ``table`` with a bundle of each other learner (economics only)."""
    from uplift_engine.config.settings import Settings
    from uplift_engine.decide import Decider
    from uplift_engine.decide.planning import load_economics
    from uplift_engine.lake import read_table
    from uplift_engine.learn import load_bundle
    from uplift_engine.pipeline.train import TrainOptions, train_bundle
    from uplift_engine.serve import ECONOMICS, Served
    from uplift_engine.serve.batch import decide_table

    campaign = read_table(work / "lake/curated/campaign_table/c2026q4")
    economics = load_economics(json.loads((work / "decider.json").read_text())["economics"])
    out = {}
    for name in ("s_learner", "x_learner", "dr_learner", "uplift_forest", "causal_forest",
                 "ensemble"):  # fmt: skip
        options = TrainOptions(outcome="converted", exclude=("revenue",), learner=name, seed=1)
        train_bundle(campaign, options, work / f"model-{name}", Settings())
        bundle = load_bundle(work / f"model-{name}", threads=2)
        decider = Decider(economics, control=bundle.control, outcome_kind="binary", value=40.0)
        served = Served(bundle, decider, None, ECONOMICS)
        started = time.perf_counter()
        decide_table(served, table)  # type: ignore[arg-type]
        out[name] = time.perf_counter() - started
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", default=["in-process", "http", "lambda", "batch"])
    p.add_argument("--customers", type=int, default=20_000)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--soak", type=float, default=300.0, help="seconds of the long HTTP run")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--write", action="store_true", help="write the tables into docs/serving.md")
    opts = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    try:
        model, decider, ids = artefacts(work, opts.customers, every_tier=True)
        store = work / "online.sqlite"
        sections = {
            "in-process": lambda: in_process(model, decider, store, ids),
            "http": lambda: http(work, model, decider, store, ids, opts.seconds, opts.soak),
            "lambda": lambda: lambda_(work, model, decider, store, ids, opts.runs),
            "batch": lambda: batch(work, model, decider, store, ids, opts.rows),
        }
        for name in opts.only:
            body = sections[name]()
            print(f"## {name}\n{body}\n", flush=True)
            if opts.write:
                write_block(ROOT / "docs" / "serving.md", f"serving-{name}", body,
                            heading=f"Measured: {name}")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
