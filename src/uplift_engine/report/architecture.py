"""The architecture, described once as data and drawn by code (SVG), so that the picture stays true.

:data:`COMPONENTS` are the product's parts in the bank's deployment, each with where it runs and
the modules that make it; :data:`FLOWS` the arrows between them. :func:`architecture_svg` lays
them out in three rows (data, learning, deciding) and draws them; the report embeds the SVG and
``docs/architecture.png`` is a screenshot of it (``uplift report --architecture-png``).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Component:
    """One part of the system."""

    key: str
    title: dict[str, str]
    runs_on: str
    modules: str
    row: int
    column: int


COMPONENTS: tuple[Component, ...] = (
    Component("events", {"en": "Digital events", "vi": "Sự kiện số"},
              "Kinesis stream", "serve.aws_lambda (kinesis_handler)", 0, 0),
    Component("lake", {"en": "Data lake", "vi": "Hồ dữ liệu"},
              "S3 · Parquet, quarantine", "lake", 0, 1),
    Component("features", {"en": "Feature store", "vi": "Kho đặc trưng"},
              "DuckDB / Spark offline · SQLite / Redis online", "features", 0, 2),
    Component("batch", {"en": "Tiered batch processing", "vi": "Xử lý lô phân tầng"},
              "AWS Glue / EMR Serverless — tiered processing for cost/performance optimization",
              "features.spark, serve.batch", 0, 3),
    Component("training", {"en": "Training and the gate", "vi": "Huấn luyện và cổng kiểm định"},
              "uplift pipeline run", "learn, evaluate, pipeline", 1, 1),
    Component("registry", {"en": "Model registry", "vi": "Kho mô hình"},
              "S3 release root · champion / challenger", "pipeline.registry", 1, 2),
    Component("optimiser", {"en": "Budget optimiser", "vi": "Tối ưu ngân sách"},
              "HiGHS · guardrails", "decide", 1, 3),
    Component("scoring", {"en": "Real-time scoring", "vi": "Chấm điểm thời gian thực"},
              "Lambda w/ Provisioned Concurrency for low latency · API Gateway", "serve", 2, 1),
    Component("log", {"en": "Decision log", "vi": "Nhật ký quyết định"},
              "fsynced JSON lines → lake", "serve.decision_log, serve.compact", 2, 2),
    Component("monitoring", {"en": "Monitoring", "vi": "Giám sát"},
              "dashboard · drift · measurement", "report, pipeline.drift_report", 2, 3),
)  # fmt: skip

FLOWS: tuple[tuple[str, str], ...] = (
    ("events", "lake"), ("lake", "features"), ("features", "batch"), ("features", "training"),
    ("training", "registry"), ("registry", "optimiser"), ("registry", "scoring"),
    ("features", "scoring"), ("scoring", "log"), ("log", "monitoring"),
)  # fmt: skip
"""The arrows (the decision log's way back into the lake is written in its box)."""

ROWS = {"en": ("Data", "Learning", "Deciding"), "vi": ("Dữ liệu", "Học", "Quyết định")}
WIDTH, HEIGHT = 1200, 560
BOX_W, BOX_H = 240, 110
PALETTE = ("#0072B2", "#009E73", "#D55E00")  # Okabe–Ito, one per row


def _centre(c: Component) -> tuple[float, float]:
    return 240 + c.column * 270, 40 + c.row * 170 + BOX_H / 2


def architecture_svg(language: str = "en") -> str:
    """The architecture drawing as an SVG document."""
    where = {c.key: c for c in COMPONENTS}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="system-ui, sans-serif">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
    ]
    for row, name in enumerate(ROWS[language]):
        parts.append(f'<text x="16" y="{40 + row * 170 + BOX_H / 2 + 6}" font-size="18" '
                     f'font-weight="bold" fill="{PALETTE[row]}">{escape(name)}</text>')  # fmt: skip
    for a, b in FLOWS:
        (x1, y1), (x2, y2) = _centre(where[a]), _centre(where[b])
        if y1 == y2:
            step = BOX_W / 2 if x2 > x1 else -BOX_W / 2
            x1, x2 = x1 + step, x2 - step
        else:
            step = BOX_H / 2 if y2 > y1 else -BOX_H / 2
            y1, y2 = y1 + step, y2 - step
        parts.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#444" '
                     'stroke-width="2" marker-end="url(#arrow)"/>')  # fmt: skip
    for c in COMPONENTS:
        cx, cy = _centre(c)
        x, y = cx - BOX_W / 2, cy - BOX_H / 2
        parts.append(
            f'<g id="{c.key}"><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="10" '
            f'fill="#fff" stroke="{PALETTE[c.row]}" stroke-width="3"/>'
            f'<text x="{cx}" y="{y + 28}" text-anchor="middle" font-size="17" font-weight="bold">'
            f"{escape(c.title[language])}</text>"
            + "".join(
                f'<text x="{cx}" y="{y + 52 + 17 * i}" text-anchor="middle" font-size="12" '
                f'fill="#333">{escape(line)}</text>'
                for i, line in enumerate(_wrap(c.runs_on, 34)[:4])
            )
            + "</g>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines
