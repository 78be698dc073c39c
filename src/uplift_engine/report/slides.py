"""The bank's presentation kit, generated so that it stays true: the architecture PNG and a deck.

``uplift kit --releases ROOT --out DIR`` writes ``architecture.png`` (the drawing of
:mod:`.architecture`, screenshot by a headless Chromium) and ``slides.pdf``: the architecture,
the champion's Qini curve, the ROI bar chart by strategy, the trade-offs of provisioned
concurrency and of tiered batch processing, and the business mantra — one slide each, 16:9,
from the same data as the dashboard. ``docs/presenter_notes.md`` follows the deck slide by slide.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from uplift_engine.report.architecture import HEIGHT, WIDTH, architecture_svg
from uplift_engine.report.dashboard.app import STATIC
from uplift_engine.report.dashboard.data import Sources, page
from uplift_engine.report.dashboard.labels import labels
from uplift_engine.report.report_file import key_numbers, print_pdf, screenshot_png

SLIDES: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Uplift Engine: target only the Persuadables",
        "subtitle": "Which customer should get which offer — so the budget buys incremental profit",
        "architecture": "Architecture",
        "qini": "The model ranks the customers an offer changes",
        "roi": "ROI by strategy at the same budget",
        "concurrency": "Provisioned concurrency",
        "concurrency_points": [
            "No banking request waits for a cold start: the model is loaded before traffic.",
            "A warm decision takes about a millisecond; API Gateway and the network dominate.",
            "It costs money while idle: size it to the peak requests per second × latency,"
            " and schedule it up for campaign hours and down at night.",
        ],
        "tiers": "Tiered batch processing",
        "tiers_points": [
            "Default tier: DuckDB and Arrow in one process — a laptop, a Lambda, a Glue job.",
            "Heavy tier: Spark on EMR Serverless (or any cluster) above a size threshold.",
            "Both tiers give the same results on the same input (tested), so cost decides.",
        ],
        "mantra": "Target only the Persuadables",
        "mantra_points": [
            "Persuadables buy because of the offer: spend here.",
            "Sure Things buy anyway, Lost Causes never: an offer is wasted on them.",
            "Sleeping Dogs are put off by it: do not disturb.",
        ],
    },
    "vi": {
        "title": "Uplift Engine: chỉ nhắm khách hàng thuyết phục được",
        "subtitle": "Khách hàng nào nên nhận ưu đãi nào — để ngân sách mang lại lợi nhuận"
        " tăng thêm",
        "architecture": "Kiến trúc",
        "qini": "Mô hình xếp hạng những khách hàng mà ưu đãi thay đổi được",
        "roi": "ROI theo chiến lược với cùng ngân sách",
        "concurrency": "Provisioned concurrency",
        "concurrency_points": [
            "Không yêu cầu ngân hàng nào phải chờ khởi động nguội: mô hình được nạp sẵn.",
            "Một quyết định khi đã khởi động mất khoảng một mili giây; API Gateway và mạng"
            " chiếm phần lớn.",
            "Tốn chi phí cả khi rảnh: đặt theo số yêu cầu mỗi giây lúc cao điểm × độ trễ,"
            " tăng theo lịch vào giờ chiến dịch và giảm vào ban đêm.",
        ],
        "tiers": "Xử lý lô phân tầng",
        "tiers_points": [
            "Tầng mặc định: DuckDB và Arrow trong một tiến trình — máy tính, Lambda, Glue.",
            "Tầng nặng: Spark trên EMR Serverless (hoặc cụm bất kỳ) khi dữ liệu vượt ngưỡng.",
            "Hai tầng cho cùng kết quả trên cùng dữ liệu (đã kiểm thử), nên chi phí quyết định.",
        ],
        "mantra": "Chỉ nhắm khách hàng thuyết phục được",
        "mantra_points": [
            "Khách hàng thuyết phục được mua vì ưu đãi: hãy chi ở đây.",
            "Khách chắc chắn mua thì vẫn mua, khách không thể thuyết phục thì không bao giờ:"
            " ưu đãi là lãng phí.",
            "Khách phản tác dụng bị ưu đãi làm phiền: đừng đánh thức họ.",
        ],
    },
}


def slides_html(sources: Sources, language: str = "en") -> str:
    """The deck as one HTML document, a 16:9 page per slide."""
    s = SLIDES[language]
    data = {name: page(name, sources) for name in ("models", "budget", "campaign")}
    numbers = key_numbers(data, language)
    plotly = (STATIC / "plotly-basic.min.js").read_text(encoding="utf-8")
    payload = json.dumps({"data": data, "labels": labels(language)}).replace("</", "<\\/")

    def bullets(items: list[str]) -> str:
        return "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"

    slides = [
        f"<h1>{escape(s['title'])}</h1><p class='sub'>{escape(s['subtitle'])}</p>"
        + bullets(numbers[:3]),
        f"<h2>{escape(s['architecture'])}</h2>{architecture_svg(language)}",
        f"<h2>{escape(s['qini'])}</h2><div id='qini' class='chart'></div>",
        f"<h2>{escape(s['roi'])}</h2><div id='roi' class='chart'></div>",
        f"<h2>{escape(s['concurrency'])}</h2>{bullets(s['concurrency_points'])}",
        f"<h2>{escape(s['tiers'])}</h2>{bullets(s['tiers_points'])}",
        f"<h1>{escape(s['mantra'])}</h1>{bullets(s['mantra_points'])}",
    ]
    body = "".join(f"<section class='slide'>{content}</section>" for content in slides)
    return f"""<!doctype html><html lang="{language}"><head><meta charset="utf-8">
<title>{escape(s["title"])}</title><style>
@page {{ size: 1280px 720px; margin: 0 }}
body {{ margin: 0; font-family: system-ui, sans-serif; color: #1a1a1a }}
.slide {{ width: 1280px; height: 720px; box-sizing: border-box; padding: 48px 64px;
  page-break-after: always; overflow: hidden; border-top: 12px solid #0b3d5c }}
.slide:last-of-type {{ page-break-after: auto }}
h1 {{ font-size: 48px; margin-top: 120px }} h2 {{ font-size: 36px; margin: 0 0 24px }}
.sub {{ font-size: 24px; color: #444 }} li {{ font-size: 24px; margin: 14px 0 }}
.chart {{ width: 1150px; height: 560px }} svg {{ width: 1150px; height: auto }}
</style><script>{plotly}</script></head><body>{body}
<script id="deck-data" type="application/json">{payload}</script>
<script>{_DECK_SCRIPT}</script></body></html>"""


_DECK_SCRIPT = """
(function () {
  const R = JSON.parse(document.getElementById("deck-data").textContent), T = R.labels;
  const P = ["#0072B2", "#E69F00", "#009E73", "#D55E00"], cfg = { staticPlot: true };
  const m = R.data.models, champ = m.versions.find((v) => v.release === m.champion);
  const lay = { colorway: P, margin: { t: 16, r: 16, b: 56, l: 80 }, font: { size: 16 } };
  if (champ) {
    Plotly.newPlot("qini", Object.entries(champ.offers).filter(([, f]) => f.curves)
      .map(([o, f]) => ({ type: "scatter", mode: "lines", name: o, x: f.curves.x,
        y: f.curves.qini.map((p) => p.value) })),
      Object.assign({ xaxis: { tickformat: ".0%", title: { text: T.share_targeted } } }, lay), cfg);
  }
  const plan = R.data.budget.plan;
  if (plan) {
    const s = plan.strategies;
    Plotly.newPlot("roi", [{ type: "bar", x: s.map((x) => T[x.strategy] || x.strategy),
      y: s.map((x) => x.roi), marker: { color: P.slice(0, s.length) } }],
      Object.assign({ yaxis: { tickformat: ".0%" } }, lay), cfg);
  }
})();
"""


def write_kit(sources: Sources, out: Path, language: str = "en") -> list[Path]:
    """``architecture.png`` and ``slides.pdf`` into the folder ``out``; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    figure = (
        "<!doctype html><html><body style='margin:0'>"
        f"{architecture_svg(language)}</body></html>"
    )
    screenshot_png(figure, out / "architecture.png", WIDTH, HEIGHT)
    print_pdf(slides_html(sources, language), out / "slides.pdf")
    return [out / "architecture.png", out / "slides.pdf"]
