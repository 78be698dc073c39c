"""The demo's dashboard step: the decision log into the lake, and the dashboard over both.

The service's decisions are compacted into the demo's lake; the dashboard starts on a free
loopback port in this process (no key: loopback only), its pages' data are read back as a
browser would, and the story says what each page shows and how to open it.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from uplift_engine.errors import StorageError
from uplift_engine.report.dashboard.app import create_dashboard
from uplift_engine.report.dashboard.data import PAGES, Sources
from uplift_engine.report.local_server import serving_in_thread
from uplift_engine.serve.compact import compact


def show_dashboard(root: Path) -> list[str]:
    """Compact the decisions, serve the dashboard, read its pages; the story's lines."""
    compact(root / "decisions", str(root / "lake"))
    sources = Sources(root / "releases", str(root / "lake"))
    with serving_in_thread(create_dashboard(sources), "the demo's dashboard") as url:
        pages = {name: _get(f"{url}/api/{name}") for name in PAGES}
        if not _get(f"{url}/static/plotly-basic.min.js", raw=True):
            raise StorageError(
                "the dashboard serves an empty charting library: the package is installed "
                "without its static files (report/dashboard/static)"
            )
    models, budget, ops = pages["models"], pages["budget"], pages["operations"]
    champion = next(v for v in models["versions"] if v["release"] == models["champion"])
    qini = ", ".join(
        f"{offer} {f['qini_coefficient']['value']:.3f}" for offer, f in champion["offers"].items()
    )
    plan = budget["plan"]["strategies"] if budget["plan"] else []
    profits = ", ".join(f"{s['strategy']} {s['profit'] * 1000:,.0f} VND" for s in plan)
    beat = (
        "; the budget page puts the optimised plan's expected profit beside top-K by uplift and "
        f"by propensity ({profits})"
        if plan
        else ""
    )
    return [
        f"\n6. The dashboard ({url}, pages {', '.join(PAGES)}; English and Vietnamese): the models"
        f" page shows the champion's Qini coefficient per offer ({qini}) with its intervals, "
        f"its uplift calibration by decile and uplift among the top k%{beat}; operations counts "
        f"the {ops['traffic']['decisions']} decisions logged. Open it with "
        f"`uplift dashboard --releases {root / 'releases'} --lake {root / 'lake'}`."
    ]


def _get(url: str, *, raw: bool = False) -> Any:
    with urllib.request.urlopen(url, timeout=30) as reply:
        body = reply.read()
    return body if raw else json.loads(body)
