"""The dashboard in a real headless browser: every page, its charts' numbers, both languages, keys.

A world made once: a simulated bank's pipeline run twice (a champion, a second run with drift
measured), a service's decisions compacted into a lake, a measured campaign and a budget curve.
The dashboard serves it on 127.0.0.1 behind a key; Debian's chromium, driven by Playwright and
barred from every address but 127.0.0.1, signs in, opens every page, checks that each chart
draws the numbers the API gives, switches to Vietnamese and checks every label, and saves a
screenshot of each page (``tests/artefacts/dashboard/``).
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from conftest import require
from pipeline_lake import ECONOMICS, config, land, source
from uplift_engine.cli.main import app as cli
from uplift_engine.config import SQLiteOnlineStore
from uplift_engine.config.settings import Settings
from uplift_engine.features import FeatureReader, default_registry, open_store
from uplift_engine.lake import layout
from uplift_engine.pipeline.pipeline_config import PipelineConfig
from uplift_engine.pipeline.run import run_pipeline
from uplift_engine.report.dashboard.app import SESSION_COOKIE, create_dashboard
from uplift_engine.report.dashboard.data import PAGES, Sources, page
from uplift_engine.report.dashboard.labels import LABELS, labels
from uplift_engine.report.local_server import serving_in_thread
from uplift_engine.report.simulated_campaigns import measured_campaign
from uplift_engine.serve.compact import compact
from uplift_engine.serve.decision_log import DecisionLog
from uplift_engine.serve.http import HttpSettings, create_app
from uplift_engine.serve.release import read_pointer
from uplift_engine.serve.service import ServiceState

CHROMIUM = "/usr/bin/chromium"
KEY = "dashboard-test-key-0123456789"
ARTEFACTS = Path(__file__).parent / "artefacts" / "dashboard"
BROWSER_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Release root with two pipeline runs, a decision lake, a measurement, a budget curve and
    the running service that made the decisions."""
    tmp = tmp_path_factory.mktemp("dashboard")
    src = source(tmp / "source", 12_000, campaigns=("c1", "c2"))
    lake, releases = tmp / "lake", tmp / "releases"
    land(src, lake, "c1", first=True)
    settings = Settings()
    first, _ = run_pipeline(PipelineConfig(**config(lake, releases)), settings)
    assert first["decision"].startswith("promoted"), first["why"]
    land(src, lake, "c2")
    run_pipeline(PipelineConfig(**config(lake, releases)), settings)

    store = open_store(SQLiteOnlineStore(path=str(tmp / "online.sqlite")))
    state = ServiceState(FeatureReader(store, default_registry()), release_root=releases,
                         alias="champion")  # fmt: skip
    app = create_app(state, DecisionLog(tmp / "log"), HttpSettings((), 4096, 10, 60))
    with serving_in_thread(app, "the decision service") as url:  # for the module's tests
        with httpx.Client(base_url=url, timeout=10) as client:
            for customer in range(1, 41):
                r = client.post("/v1/decide", json={"customerId": customer, "channel": "app"})
                assert r.status_code == 200, r.text
        compact(tmp / "log", str(tmp / "decisions"))

        measurement = tmp / "measurement.json"
        measurement.write_text(json.dumps(measured_campaign(3, 3_000).measurement.to_dict()))
        (tmp / "economics.yaml").write_text(yaml.safe_dump(ECONOMICS))
        champion = read_pointer(releases, "champion")
        curve = tmp / "curve.json"
        args = [
            "budget-curve", str(lake / layout.campaign_table_path("c1")), "--model",
            str(releases / "releases" / champion / "bundle"), "--economics",
            str(tmp / "economics.yaml"), "--value", "40", "--points", "6", "--outcome", "converted",
            "--out", str(curve),
        ]  # fmt: skip
        done = CliRunner().invoke(cli, args)
        assert done.exit_code == 0, done.output
        yield Sources(releases, str(tmp / "decisions"), measurement, curve, url)


def test_every_page_has_its_data(world: Sources) -> None:
    models = page("models", world)
    assert len(models["versions"]) >= 1 and models["champion"] in {
        v["release"] for v in models["versions"]
    }
    champion = next(v for v in models["versions"] if v["release"] == models["champion"])
    assert set(champion["offers"]) == {"cashback", "fee_waiver", "bonus_points"}
    assert all(len(o["calibration"]) == 10 for o in champion["offers"].values())
    budget = page("budget", world)
    names = [s["strategy"] for s in budget["plan"]["strategies"]]
    assert names == ["optimised", "top-K by uplift", "top-K by propensity"]
    assert len(budget["curve"]) == 6 and budget["missing"] == []
    profits = [p["profit"] for p in budget["frontier"]]
    assert len(profits) == 11 and profits[0] == pytest.approx(0, abs=1e-6)
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(profits))
    ops = page("operations", world)
    assert ops["traffic"]["decisions"] == 40 and ops["missing"] == []
    latency = ops["service"]["latency_ms"]["decide"]
    assert latency["count"] == 40 and 0 < latency["p50"] <= latency["p90"] <= latency["p99"]
    assert ops["service"]["requests"]["decide 200"] == 40
    assert ops["pipeline"]["drift"]["reference"] == "c1"
    assert page("campaign", world)["measurement"]["campaign"]["incremental_profit"]
    targeting = page("targeting", world)
    assert targeting["offers"] == ops["traffic"]["offers"] and targeting["missing"] == []
    for shares in targeting["types"]["offers"].values():  # every customer has one type
        totals = [sum(col) for col in zip(*shares.values(), strict=True)]
        assert totals == pytest.approx([1.0] * len(targeting["types"]["segments"]))
    assert all(len(items) == 5 for items in targeting["drivers"].values())


def test_a_key_is_exchanged_for_an_httponly_session(world: Sources) -> None:
    from starlette.testclient import TestClient

    with TestClient(create_dashboard(world, (KEY,)), follow_redirects=False) as client:
        assert client.get("/api/models").status_code == 401
        assert client.get("/models").headers["location"] == "/login"
        wrong = client.post("/login", data={"key": KEY[:-1] + "x"})
        assert wrong.status_code == 401 and SESSION_COOKIE not in wrong.cookies
        right = client.post("/login", data={"key": KEY})
        assert right.status_code == 303
        cookie = right.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert client.get("/api/models").status_code == 200
        assert client.get("/api/nothing").status_code == 404
        client.get("/logout")
        assert client.get("/api/models").status_code == 401


def test_labels_exist_in_both_languages() -> None:
    assert all(set(texts) == {"en", "vi"} and all(texts.values()) for texts in LABELS.values())
    assert sum(t["en"] != t["vi"] for t in LABELS.values()) > 0.8 * len(LABELS)


@pytest.fixture(scope="module")
def served(world: Sources):
    """The dashboard on a free loopback port, behind the key."""
    with serving_in_thread(create_dashboard(world, (KEY,)), "the dashboard") as url:
        yield url


def test_every_page_in_a_real_browser(served: str, world: Sources) -> None:
    require(Path(CHROMIUM).exists(), "chromium (apt)", "browser tests need Debian's chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright (pip)", "browser tests need Playwright's Python package")
    shutil.rmtree(ARTEFACTS, ignore_errors=True)
    ARTEFACTS.mkdir(parents=True)
    vi = labels("vi")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.goto(f"{served}/models")
        assert tab.url.endswith("/login")
        tab.fill("input[name=key]", KEY)
        tab.click("button[type=submit]")
        tab.wait_for_url(f"{served}/models")
        for name in PAGES:
            tab.goto(f"{served}/{name}")
            tab.wait_for_function("window.uplift && window.uplift.ready")
            api = json.loads(json.dumps(page(name, world)))
            shown = tab.evaluate("window.uplift.data")
            if name == "operations":  # the service's counters move with every look at them
                assert shown.pop("service")["latency_ms"].keys() == api.pop("service")[
                    "latency_ms"].keys()  # fmt: skip
                shown["service"] = api["service"] = tab.evaluate("window.uplift.data.service")
            assert shown == api
            drawn = tab.evaluate(
                "Object.fromEntries(Array.from(document.querySelectorAll('.js-plotly-plot'))"
                ".map(g => [g.id, g.data.map(t => ({x: Array.from(t.x || []),"
                " y: Array.from(t.y || [])}))]))"
            )
            _check_charts(name, api, drawn)
            tab.screenshot(path=str(ARTEFACTS / f"{name}-en.png"), full_page=True)
            tab.click("#language")
            tab.wait_for_function("window.uplift.lang === 'vi'")
            shown = tab.evaluate(
                "Array.from(document.querySelectorAll('[data-i18n]'))"
                ".map(n => [n.dataset.i18n, n.textContent])"
            )
            assert shown and all(text == vi[key] for key, text in shown), shown
            titles = tab.evaluate(
                "Array.from(document.querySelectorAll('.js-plotly-plot'))"
                ".map(g => g.layout.title.text)"
            )
            assert titles and all(title in vi.values() for title in titles), titles
            if name == "campaign":  # the numbers in the tables are written the Vietnamese way
                cost = api["measurement"]["campaign"]["cost"] * 1000
                table = tab.inner_text("#table-campaign")
                assert f"{cost:,.0f}".replace(",", ".") + " ₫" in table, table
            tab.screenshot(path=str(ARTEFACTS / f"{name}-vi.png"), full_page=True)
            tab.click("#language")  # back to English for the next page
            tab.wait_for_function("window.uplift.lang === 'en'")
        browser.close()
    assert len(list(ARTEFACTS.glob("*.png"))) == 2 * len(PAGES)


def _check_charts(name: str, api: dict, drawn: dict) -> None:
    """Each chart on the page draws the API's numbers (money shown in VND, the API's × 1000)."""
    if name == "models":
        versions = api["versions"]
        assert len(drawn["qini"]) == 3
        for trace in drawn["qini"]:
            assert trace["x"] == [v["release"] for v in versions]
        values = sorted(
            v["offers"][o]["qini_coefficient"]["value"] for v in versions for o in v["offers"]
        )
        assert sorted(y for t in drawn["qini"] for y in t["y"]) == pytest.approx(values)
        for version in versions:  # the pipeline's bundles carry their curves
            assert all(f["curves"] is not None for f in version["offers"].values())
        for offer in versions[0]["offers"]:
            for curve in ("qini", "gain"):
                traces = drawn[f"{curve}_{offer}"]
                assert len(traces) == 3 * len(versions) + 1  # band, band, line; random
                for k, version in enumerate(versions):
                    points = version["offers"][offer]["curves"][curve]
                    assert traces[3 * k + 2]["y"] == pytest.approx([p["value"] for p in points])
                    assert traces[3 * k]["y"] == pytest.approx([p["high"] for p in points])
                assert traces[-1]["y"] == pytest.approx([0, points[-1]["value"]])
        champion = next(v for v in versions if v["release"] == api["champion"])
        predicted = [c["predicted"] for o in champion["offers"].values() for c in o["calibration"]]
        assert sorted(y for t in drawn["calibration"][::2] for y in t["y"]) == pytest.approx(
            sorted(predicted)
        )
    elif name == "budget":
        strategies = api["plan"]["strategies"]
        assert drawn["profit"][0]["y"] == pytest.approx([s["profit"] * 1000 for s in strategies])
        assert drawn["roi"][0]["y"] == pytest.approx([s["roi"] for s in strategies])
        frontier = api["frontier"]
        assert drawn["frontier"][0]["y"] == pytest.approx([p["profit"] * 1000 for p in frontier])
        assert drawn["curve"][2]["y"] == pytest.approx([p["gain"]["value"] * 1000
                                                        for p in api["curve"]])  # fmt: skip
    elif name == "campaign":
        m = api["measurement"]
        parts = [m["campaign"], *m["by_offer"].values()]
        assert drawn["incremental"][0]["y"] == pytest.approx(
            [p["incremental_profit"]["value"] * 1000 for p in parts]
        )
        conversions = [p["conversions"]["estimate"]["value"] for p in parts]
        assert drawn["conversions"][0]["y"] == pytest.approx(conversions)
        assert drawn["roi_parts"][0]["y"] == pytest.approx([p["roi"]["value"] for p in parts])
    elif name == "operations":
        days = api["traffic"]["by_day"]
        assert drawn["traffic"][0]["y"] == [d["decisions"] for d in days]
        assert sum(drawn["traffic"][0]["y"]) == 40
        latency = api["service"]["latency_ms"]
        assert drawn["latency"][2]["y"] == pytest.approx([latency[r]["p99"] for r in latency])
    elif name == "targeting":
        for offer, shares in api["types"]["offers"].items():
            kinds = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")
            assert [y for t in drawn[f"types_{offer}"] for y in t["y"]] == pytest.approx(
                [y for k in kinds for y in shares[k]]
            )
            top = [i["mean_abs"] for i in api["drivers"][offer]]
            assert drawn[f"drivers_{offer}"][0]["x"] == pytest.approx(top[::-1])
        assert drawn["offers"][0]["y"] == list(api["offers"].values())
        if api["by_kind"]:
            assert drawn["by_kind"][0]["y"] == list(api["by_kind"].values())
        else:
            assert "by_kind" not in drawn


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_report_as_html_and_pdf(world: Sources, tmp_path: Path, lang: str) -> None:
    require(Path(CHROMIUM).exists(), "chromium (apt)", "printing the report needs chromium")
    import numpy as np
    import pypdfium2

    html, pdf = tmp_path / "report.html", tmp_path / "report.pdf"
    args = ["report", "--releases", str(world.releases), "--out", str(html), "--pdf", str(pdf),
            "--lang", lang, "--measurement", str(world.measurement),
            "--budget-curve", str(world.budget_curve)]  # fmt: skip
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.output
    text = html.read_text()
    skeleton = re.sub(r"<script[^>]*>.*?</script>", "", text, flags=re.DOTALL)
    assert "<script" not in skeleton and 'src="http' not in skeleton  # everything inline
    assert 'href="http' not in skeleton
    models, budget = page("models", world), page("budget", world)
    optimised = budget["plan"]["strategies"][0]
    money = f"{optimised['profit'] * 1000:,.0f}"
    assert (money.replace(",", ".") if lang == "vi" else money) in text
    assert models["champion"] in text
    assert ("Kiến trúc" if lang == "vi" else "Architecture") in text
    assert "Lambda w/ Provisioned Concurrency" in text and "EMR Serverless" in text
    document = pypdfium2.PdfDocument(str(pdf))
    assert len(document) >= 2
    for number in range(len(document)):
        image = np.asarray(document[number].render(scale=0.5).to_pil().convert("L"))
        assert image.std() > 5, f"page {number + 1} is blank"  # ink on every page
        image_path = ARTEFACTS.parent / f"report-{lang}-page{number + 1}.png"
        image_path.parent.mkdir(parents=True, exist_ok=True)
        document[number].render(scale=1).to_pil().save(image_path)


def test_the_report_refuses_bad_input_naming_it(world: Sources, tmp_path: Path) -> None:
    base = ["report", "--releases", str(world.releases)]
    cases = [
        (["--out", str(tmp_path / "r.txt")], "--out"),
        (["--out", str(tmp_path / "r.html"), "--lang", "fr"], "language"),
        (["--out", str(tmp_path / "r.html"), "--measurement", str(tmp_path / "nope.json")],
         "nope.json"),
    ]  # fmt: skip
    for extra, message in cases:
        done = CliRunner().invoke(cli, base + extra)
        assert done.exit_code == 2 and message in done.output, done.output
    assert not (tmp_path / "r.html").exists()


def test_the_presentation_kit(world: Sources, tmp_path: Path) -> None:
    require(Path(CHROMIUM).exists(), "chromium (apt)", "the kit needs chromium")
    import numpy as np
    import pypdfium2
    from PIL import Image

    done = CliRunner().invoke(cli, ["kit", "--releases", str(world.releases), "--out",
                                    str(tmp_path / "kit")])  # fmt: skip
    assert done.exit_code == 0, done.output
    picture = np.asarray(Image.open(tmp_path / "kit" / "architecture.png").convert("L"))
    assert picture.shape == (560, 1200) and picture.std() > 10
    deck = pypdfium2.PdfDocument(str(tmp_path / "kit" / "slides.pdf"))
    assert len(deck) == 7  # title, architecture, Qini, ROI, concurrency, tiers, mantra
    for number in range(len(deck)):
        image = np.asarray(deck[number].render(scale=0.4).to_pil().convert("L"))
        assert image.std() > 5, f"slide {number + 1} is blank"
        deck[number].render(scale=0.6).to_pil().save(ARTEFACTS.parent / f"slide-{number + 1}.png")


def test_the_rehearsal_timer_follows_the_schedule() -> None:
    from uplift_engine.report.rehearsal import read_schedule, rehearse, scale

    schedule = read_schedule(Path(__file__).parents[1] / "docs" / "dry_run_schedule.md")
    assert [s.minutes for s in schedule] == [0.5, 1.0, 1.0, 1.0, 1.0, 0.5]
    plan = scale(schedule, 10)
    assert sum(s.minutes for s in plan) == pytest.approx(10)
    now = [0.0]
    said: list[tuple[float, str]] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    took = rehearse(plan, say=lambda line: said.append((now[0], line)), clock=lambda: now[0],
                    sleep=sleep, tick=5.0)  # fmt: skip
    assert took == pytest.approx(600)
    starts = [at for at, line in said if line.startswith("[") and "/6 " in line]
    assert starts == pytest.approx([0, 60, 180, 300, 420, 540])
    warnings = [at for at, line in said if "s left: next" in line]
    assert len(warnings) == 5 and all(any(0 < s - w <= 15 for s in starts) for w in warnings)
    assert said[-1][1].endswith("time — thank you")
    schedule_file = Path(__file__).parents[1] / "docs" / "dry_run_schedule.md"
    done = CliRunner().invoke(
        cli, ["rehearse", "--minutes", "5", "--dry-run", "--schedule", str(schedule_file)]
    )
    assert done.exit_code == 0 and "The architecture" in done.output
    bad = CliRunner().invoke(cli, ["rehearse", "--minutes", "0"])
    assert bad.exit_code == 2 and "--minutes" in bad.output


def test_pacing_is_read_from_the_decision_log(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from uplift_engine.serve.compact import SCHEMA

    n = 1_200
    at = [datetime(2026, 12, 7, 8, tzinfo=UTC) + timedelta(seconds=30 * i) for i in range(n)]
    at[:100] = [datetime(2026, 10, 1, tzinfo=UTC)] * 100  # past the 30 days operations read
    audits = [json.dumps({"rules": [], "pacing": {
        "campaign": "tet", "price_factor": 1.0, "expected_spend": 0.08 * i, "committed": 0.1 * i,
        "budget": 120.0, "target_share": i / n}}) for i in range(n)]  # fmt: skip
    rows = {"request_id": [f"r{i}" for i in range(n)], "at": at, "customer_id": ["1"] * n,
            "model_version": ["m"] * n, "plan_version": ["p"] * n, "features_sha256": [""] * n,
            "offer": ["cashback"] * n, "degraded": [False] * n, "offers": ["{}"] * n,
            "schema_version": ["uplift.decision/1"] * n, "audit": audits,
            "assignment": [None] * n, "shadow": [None] * n}  # fmt: skip
    day = tmp_path / "lake" / "decisions" / "day=2026-12-07"
    day.mkdir(parents=True)
    pq.write_table(pa.Table.from_pydict(rows, schema=SCHEMA), day / "part-00000.parquet")
    root = tmp_path / "releases"
    root.mkdir()
    ops = page("operations", Sources(root, str(tmp_path / "lake")))
    assert ops["traffic"]["decisions"] == n - 100
    series = ops["pacing"]["tet"]
    assert len(series) == 500 and series[-1]["target"] == pytest.approx((n - 1) / n)
    assert series[-1]["spent"] == pytest.approx(0.08 * (n - 1) / 120)
    assert [p["at"] for p in series] == sorted(p["at"] for p in series)
    assert ops["missing"] == ["service"]
