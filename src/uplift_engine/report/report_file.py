"""``uplift report``: one self-contained HTML file (and its PDF) for people who skip dashboards.

The Qini curve of the champion, the ROI bar chart by strategy, the budget frontier, the campaign
results, the architecture drawing and the key numbers in sentences — in English or Vietnamese,
from the same data as the dashboard's pages (:mod:`.dashboard.data`). The file carries its
charting library and data inline, so it opens anywhere offline. The PDF is the HTML printed by
a headless Chromium (Debian's ``chromium``; ``UPLIFT_CHROMIUM`` names another), which runs the
charts' script first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

from uplift_engine.errors import ConfigError, StorageError
from uplift_engine.replace import write_file
from uplift_engine.report.architecture import architecture_svg
from uplift_engine.report.dashboard.app import STATIC
from uplift_engine.report.dashboard.data import Sources, page
from uplift_engine.report.dashboard.labels import LANGUAGES, labels

TEXT = {
    "en": {
        "heading": "Uplift Engine — campaign report",
        "architecture": "Architecture",
        "numbers": "Key numbers",
        "champion": "The champion model {release} ({learner}, trained on campaign {campaign}) "
        "ranks customers by their expected uplift with a Qini coefficient of {qini} "
        "(out of sample; 0 is random, 1 perfect).",
        "gate": "It replaced the previous model because it beat {against} on customers neither "
        "had seen, by {difference} {unit}.",
        "plan": "On a budget of {budget}, the optimised plan is expected to earn {profit} of "
        "incremental profit (ROI {roi}), against {topk} for top-K by uplift and {propensity} "
        "for top-K by propensity at the same budget.",
        "campaign": "Measured against its randomised holdout, the campaign added {conversions} "
        "conversions (interval {low} to {high}) for an incremental profit of {profit} "
        "(ROI {roi}).",
        "mantra": "Target only the Persuadables: an offer is worth its cost only to customers it "
        "changes.",
        "none": "not measured yet",
    },
    "vi": {
        "heading": "Uplift Engine — báo cáo chiến dịch",
        "architecture": "Kiến trúc",
        "numbers": "Các con số chính",
        "champion": "Mô hình chính {release} ({learner}, huấn luyện trên chiến dịch {campaign}) "
        "xếp hạng khách hàng theo uplift kỳ vọng với hệ số Qini {qini} "
        "(ngoài mẫu; 0 là ngẫu nhiên, 1 là hoàn hảo).",
        "gate": "Mô hình này thay thế mô hình trước vì vượt {against} trên những khách hàng "
        "chưa mô hình nào thấy, hơn {difference} {unit}.",
        "plan": "Với ngân sách {budget}, kế hoạch tối ưu dự kiến mang lại {profit} lợi nhuận "
        "tăng thêm (ROI {roi}), so với {topk} của Top-K theo uplift và {propensity} của Top-K "
        "theo xác suất mua với cùng ngân sách.",
        "campaign": "Đo so với nhóm đối chứng ngẫu nhiên, chiến dịch mang lại thêm {conversions} "
        "chuyển đổi (khoảng {low} đến {high}), lợi nhuận tăng thêm {profit} (ROI {roi}).",
        "mantra": "Chỉ nhắm vào khách hàng thuyết phục được: một ưu đãi chỉ đáng chi phí với "
        "những khách hàng mà nó thay đổi được hành vi.",
        "none": "chưa đo",
    },
}


def _vnd(thousands: float | None, language: str) -> str:
    if thousands is None:
        return "—"
    text = f"{thousands * 1000:,.0f}"
    return (text.replace(",", ".") if language == "vi" else text) + " VND"


def _number(value: float | None, digits: int, language: str) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    return text.translate(str.maketrans(",.", ".,")) if language == "vi" else text


def key_numbers(data: dict[str, Any], language: str) -> list[str]:
    """The report's sentences, from the pages' data."""
    text = TEXT[language]
    out = []
    models = data["models"]
    champion = next((v for v in models["versions"] if v["release"] == models["champion"]), None)
    if champion is not None:
        qini = ", ".join(
            f"{offer} {_number((f['qini_coefficient'] or {}).get('value'), 3, language)}"
            for offer, f in champion["offers"].items()
        )
        out.append(
            text["champion"].format(
                release=champion["release"], learner=champion["learner"],
                campaign=champion["campaign"] or "—", qini=qini,
            )
        )  # fmt: skip
        gate = champion["gate"]
        if gate and gate.get("difference"):
            out.append(text["gate"].format(
                against=gate["against"], unit=gate["unit"],
                difference=_number(gate["difference"]["value"], 4, language)))  # fmt: skip
    plan = data["budget"]["plan"]
    if plan:
        by = {s["strategy"]: s for s in plan["strategies"]}
        best = by.get("optimised") or plan["strategies"][0]
        topk, propensity = by.get("top-K by uplift") or {}, by.get("top-K by propensity") or {}
        out.append(text["plan"].format(
            budget=_vnd(plan["budget"], language), profit=_vnd(best["profit"], language),
            roi=f"{_number(best['roi'] * 100, 0, language)}%",
            topk=_vnd(topk.get("profit"), language),
            propensity=_vnd(propensity.get("profit"), language)))  # fmt: skip
    measured = data["campaign"]["measurement"]
    if measured and measured.get("campaign"):
        part = measured["campaign"]
        conv = part["conversions"]["estimate"]
        roi = part["roi"]["value"]
        out.append(text["campaign"].format(
            conversions=_number(conv["value"], 1, language), low=_number(conv["low"], 1, language),
            high=_number(conv["high"], 1, language),
            profit=_vnd(part["incremental_profit"]["value"], language),
            roi="—" if roi is None else f"{_number(roi * 100, 0, language)}%"))  # fmt: skip
    out.append(text["mantra"])
    return out


def report_html(sources: Sources, language: str = "en") -> str:
    """The whole report as one HTML document."""
    if language not in LANGUAGES:
        raise ConfigError(f"the language is one of {', '.join(LANGUAGES)}, got {language!r}",
                          field="lang")  # fmt: skip
    data = {name: page(name, sources) for name in ("models", "budget", "campaign")}
    text, label = TEXT[language], labels(language)
    plotly = (STATIC / "plotly-basic.min.js").read_text(encoding="utf-8")
    script = (STATIC / "report.js").read_text(encoding="utf-8")
    sentences = "".join(f"<li>{escape(s)}</li>" for s in key_numbers(data, language))
    payload = json.dumps({"data": data, "labels": label, "lang": language}).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="{language}"><head><meta charset="utf-8"><title>{escape(text["heading"])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2rem auto;color:#1a1a1a}}
.chart{{width:100%;height:380px}} section{{break-inside:avoid;margin:1.5rem 0}}
svg{{max-width:100%;height:auto}}</style>
<script>{plotly}</script></head><body>
<h1>{escape(text["heading"])}</h1>
<section><h2>{escape(text["numbers"])}</h2><ul id="numbers">{sentences}</ul></section>
<section id="charts"></section>
<section><h2>{escape(text["architecture"])}</h2>{architecture_svg(language)}</section>
<script id="report-data" type="application/json">{payload}</script>
<script>{script}</script></body></html>"""




def chromium() -> str:
    """The Chromium to print with: ``UPLIFT_CHROMIUM``, or ``chromium`` on the path."""
    found = os.environ.get("UPLIFT_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser"
    )
    if not found:
        raise ConfigError(
            "printing a PDF needs Chromium: install Debian's chromium (apt-get install chromium) "
            "or name it in UPLIFT_CHROMIUM",
            field="pdf",
        )
    return found


def print_pdf(html: str, out: Path) -> None:
    """Print ``html`` to the PDF ``out`` with a headless Chromium (written whole)."""
    _render(html, out, "pdf", lambda product: [
        "--no-pdf-header-footer", "--virtual-time-budget=20000", f"--print-to-pdf={product}",
    ], timeout=180)  # fmt: skip


def screenshot_png(html: str, out: Path, width: int, height: int) -> None:
    """A PNG of ``html`` at ``width`` × ``height`` with a headless Chromium (written whole)."""
    _render(html, out, "png", lambda product: [
        "--hide-scrollbars", f"--window-size={width},{height}", f"--screenshot={product}",
    ], timeout=120)  # fmt: skip


def _render(
    html: str, out: Path, kind: str, flags: Callable[[Path], list[str]], *, timeout: float
) -> None:
    """A headless Chromium, reaching no network, turns ``html`` into the ``kind`` file ``out``."""
    with tempfile.TemporaryDirectory() as folder:
        page_file, product = Path(folder) / "page.html", Path(folder) / f"page.{kind}"
        page_file.write_text(html, encoding="utf-8")
        done = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={folder}/profile",
             *flags(product), page_file.as_uri()],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if done.returncode != 0 or not product.exists() or product.stat().st_size == 0:
            raise StorageError(
                f"Chromium could not write the {kind.upper()}: {done.stderr.strip()[-500:]}"
            )
        write_file(out, product.read_bytes(), sync=True)
