"""The request corridor: one customer decided as the batch plan decides them, in a lean venv too.

A bundle trained on the online store's batch features, the store materialised from the session
lake and a plan priced on the store's own values: :class:`DecisionCore` must give the plan's
offer customer by customer, and the decision-only environment (requirements/decide.txt: no
pandas, PyArrow, pydantic, DuckDB, HiGHS, numba or scikit-learn installed) must give the very
same decisions and scores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import numpy as np
import pytest

from serving import AT_US, build
from uplift_engine.config import SQLiteOnlineStore
from uplift_engine.features import FeatureReader, default_registry, open_store
from uplift_engine.learn import load_bundle
from uplift_engine.serve import DecisionCore, served_with_plan

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "pyarrow", "pydantic", "duckdb", "highspy", "numba", "sklearn")


@pytest.fixture(scope="module")
def served(lake: Path, campaign_table: Path, tmp_path_factory) -> dict:
    art = build(lake, campaign_table, tmp_path_factory.mktemp("corridor"))
    (art.root / "decider.json").write_bytes(art.plan_meta)
    store = open_store(SQLiteOnlineStore(path=str(art.store_path)))
    served = served_with_plan(load_bundle(art.model), art.plan_meta, "the plan")
    return {
        "root": art.root,
        "core": DecisionCore(served, FeatureReader(store, default_registry())),
        "art": art,
        "ids": art.ids,
        "store": store,
    }


def test_one_customer_at_a_time_gives_the_batch_plans_offer(served: dict) -> None:
    offers, held = served["art"].offers, served["art"].holdout
    core: DecisionCore = served["core"]
    agree = total = 0
    for i in range(0, len(served["ids"]), 7):
        if held[i]:
            continue
        decided = core.decide(served["ids"][i], at_us=AT_US)
        agree += (decided.offer or "") == offers[i]
        total += 1
    assert total > 3_500
    assert agree / total >= 0.995, f"{total - agree} of {total} differ"


def test_scores_are_the_bundles_on_the_stores_values(served: dict) -> None:
    core: DecisionCore = served["core"]
    customer = served["ids"][11]
    decided = core.decide(customer, at_us=AT_US)
    row = served["core"].reader.read(customer, at_us=AT_US)
    levels = core.bundle.predict_levels({n: [row[n]] for n in core.bundle.encoder.names})[0]
    assert decided.scores["pred_control"] == pytest.approx(levels[0], abs=1e-12)
    assert decided.scores["uplift_cashback"] == pytest.approx(
        levels[core.bundle.arms.index("cashback")] - levels[0], abs=1e-12
    )


LEAN_SCRIPT = """
import importlib.util, json, sys, time
started = time.perf_counter()
from uplift_engine.config import serving_settings
from uplift_engine.features import FeatureReader, default_registry, open_store
from uplift_engine.learn import load_bundle
from uplift_engine.serve import DecisionCore, served_with_plan
imported = time.perf_counter()
settings = serving_settings()
bundle = load_bundle(sys.argv[1], threads=settings.threads)
core = DecisionCore(
    served_with_plan(bundle, open(sys.argv[2], "rb").read(), "the plan"),
    FeatureReader(open_store(settings), default_registry()),
)
ids = json.loads(sys.argv[3])
first = core.decide(ids[0], at_us={at})
decided = time.perf_counter()
out = [{{"offer": d.offer, "scores": d.scores, "decision": d.to_dict()}}
       for d in [first] + [core.decide(c, at_us={at}) for c in ids[1:]]]
from uplift_engine.serve.aws_lambda import lambda_handler
answered = lambda_handler({{"body": json.dumps({{"customerId": ids[0]}})}}, None)
heavy = {heavy!r}
print(json.dumps({{
    "lambda": answered,
    "decisions": out,
    "installed": [m for m in heavy if importlib.util.find_spec(m) is not None],
    "imported": sorted(m for m in sys.modules if m.split(".")[0] in heavy),
    "import_s": imported - started,
    "first_decision_s": decided - imported,
}}))
"""


def build_lean_env(where: Path) -> Path:
    """A fresh venv with only requirements/decide.txt; our code is taken from src/."""
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(ROOT / "requirements" / "decide.txt")],
        check=True, capture_output=True,
    )  # fmt: skip
    return python


@pytest.mark.integration
def test_the_decision_only_environment_decides_alike(served: dict, tmp_path: Path) -> None:
    python = build_lean_env(tmp_path / "venv")
    ids = served["ids"][:40]
    script = LEAN_SCRIPT.format(at=AT_US, heavy=HEAVY)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT / "src"),
        "UPLIFT_ONLINE_STORE__PATH": str(served["root"] / "online.sqlite"),
        "UPLIFT_MODEL_DIR": str(served["root"] / "model"),
        "UPLIFT_PLAN": str(served["root"] / "decider.json"),
        "UPLIFT_DECISION_LOG": str(tmp_path / "decisions"),
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    done = subprocess.run(
        [str(python), "-c", textwrap.dedent(script), str(served["root"] / "model"),
         str(served["root"] / "decider.json"), json.dumps(ids)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lean = json.loads(done.stdout)
    assert lean["installed"] == [] and lean["imported"] == []
    assert lean["lambda"]["statusCode"] == 200, lean["lambda"]
    assert json.loads(lean["lambda"]["body"])["offer"] == lean["decisions"][0]["offer"]
    here = [served["core"].decide(c, at_us=AT_US) for c in ids]
    assert [d["offer"] for d in lean["decisions"]] == [d.offer for d in here]
    for a, mine in zip(lean["decisions"], here, strict=True):
        b = {"scores": mine.scores}
        assert a["decision"]["offers"].keys() == mine.to_dict()["offers"].keys()
        assert a["decision"]["model"] == mine.to_dict()["model"]
        assert a["scores"].keys() == b["scores"].keys()
        np.testing.assert_allclose(
            list(a["scores"].values()), list(b["scores"].values()), rtol=0, atol=1e-12
        )
    assert sys.version_info >= (3, 11)
