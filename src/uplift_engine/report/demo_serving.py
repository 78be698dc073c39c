"""The demo's last step: the model and its plan published as a release and served over HTTP.

The online store is filled from the lake (batch features and customer attributes), the bundle
and the plan become a registered release (the champion), the decision service starts on a free
loopback port in this process, and a few customers are decided through it — as a bank's app
would ask — and told in a marketer's words. Every answer goes to the decision log, as in production.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from uplift_engine.config import SQLiteOnlineStore
from uplift_engine.features import FeatureReader, default_registry, open_store
from uplift_engine.features.offline import materialize
from uplift_engine.pipeline.registry import promote, register
from uplift_engine.report.local_server import serving_in_thread
from uplift_engine.serve.decision_log import DecisionLog, read_lines
from uplift_engine.serve.http import create_app
from uplift_engine.serve.service import ServiceState

THOUSAND_VND = 1_000.0
REASONS = {
    ("guardrail", "protected"): "protected (a priority customer)",
    ("guardrail", "harm"): "it would put them off",
    ("guardrail", "dnc"): "do not contact",
}


def serve_and_ask(root: Path, plan_meta: dict[str, Any], customers: list[int]) -> list[str]:
    """Serve the demo's release and decide ``customers`` through HTTP; the story's lines."""
    store = open_store(SQLiteOnlineStore(path=str(root / "online.sqlite")))
    materialize(str(root / "lake"), store, default_registry())
    text = json.dumps(plan_meta, default=float, sort_keys=True).encode()
    release = register(root / "releases", root / "model", text)  # a version, with its record
    for alias in ("champion", "current"):  # what the pipeline and `uplift serve` follow
        promote(root / "releases", release, alias)
    state = ServiceState(FeatureReader(store, default_registry()), release_root=root / "releases")
    log = DecisionLog(root / "decisions")
    answers = []
    with serving_in_thread(create_app(state, log), "the demo's decision service") as url:
        for customer in customers:
            body = json.dumps({"customerId": customer, "channel": "app"}).encode()
            request = urllib.request.Request(
                url + "/v1/decide", body, {"content-type": "application/json"}
            )
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=10) as reply:
                answers.append((json.loads(reply.read()), time.perf_counter() - started))
    logged = sum(1 for path in (root / "decisions").glob("*.jsonl") for _ in read_lines(path))
    lines = [
        f"\n5. Deciding in real time: the model and the plan are published as release {release} "
        f"and served over HTTP ({url}/v1/decide), each customer's features read from the "
        "online store. Asked as the bank's app would ask:"
    ]
    for answer, seconds in answers:
        lines.append(f"   - customer {answer['customer_id']} ({seconds * 1e3:.0f} ms): "
                     + _in_words(answer))  # fmt: skip
    lines.append(
        f"   Every answer is in the decision log ({logged} lines in decisions/), for measuring "
        "the campaign and for the audit. `uplift serve --release releases/` runs this service."
    )
    return lines


def _in_words(answer: dict[str, Any]) -> str:
    offers = answer["offers"]
    chosen = answer["offer"]
    parts = []
    if chosen is None:
        parts.append("no offer")
    else:
        figures = offers[chosen]
        parts.append(
            f"offer {chosen} (+{100 * figures['uplift']:.1f} points of conversion, worth "
            f"{figures['net_value'] * THOUSAND_VND:,.0f} VND net)"
        )
    ruled = [
        f"{name}: {REASONS.get((e['kind'], e['name']), e['kind'] + ' ' + e['name'])}"
        for name, f in sorted(offers.items())
        if (e := f["excluded_by"]) is not None
    ]
    if ruled:
        parts.append("ruled out — " + "; ".join(ruled))
    return ", ".join(parts)
