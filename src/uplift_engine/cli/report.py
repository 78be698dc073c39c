"""``uplift report``: the campaign report as one HTML file, and as a PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from uplift_engine.cli.dashboard import (
    BudgetCurveOption,
    LakeOption,
    MeasurementOption,
    ReleasesOption,
    sources_from,
)
from uplift_engine.cli.errors import user_errors
from uplift_engine.errors import UserInputError


@user_errors
def report(
    releases: ReleasesOption,
    out: Annotated[str, typer.Option(help="The HTML file to write.")],
    pdf: Annotated[str | None, typer.Option(help="Also print it to this PDF (Chromium).")] = None,
    lang: Annotated[str, typer.Option(help="en or vi.")] = "en",
    lake: LakeOption = None,
    measurement: MeasurementOption = None,
    budget_curve: BudgetCurveOption = None,
) -> None:
    """Qini curve, ROI by strategy, budget frontier, campaign results, architecture, key numbers."""
    from uplift_engine.replace import write_file
    from uplift_engine.report.report_file import print_pdf, report_html

    sources = sources_from(releases, lake, measurement, budget_curve)
    if not out.endswith((".html", ".htm")):
        raise UserInputError(f"--out is an .html file, got {out!r}", field="out")
    html = report_html(sources, lang)
    write_file(Path(out), html.encode("utf-8"), sync=True)
    print(f"wrote {out}")
    if pdf is not None:
        print_pdf(html, Path(pdf))
        print(f"wrote {pdf}")
