"""``uplift report``: the campaign report as one HTML file, and as a PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from uplift_engine.cli.errors import user_errors
from uplift_engine.errors import UserInputError


@user_errors
def report(
    releases: Annotated[str, typer.Option(help="The release root (registry, runs, plans).")],
    out: Annotated[str, typer.Option(help="The HTML file to write.")],
    pdf: Annotated[str | None, typer.Option(help="Also print it to this PDF (Chromium).")] = None,
    lang: Annotated[str, typer.Option(help="en or vi.")] = "en",
    lake: Annotated[
        str | None, typer.Option(help="The lake holding the compacted decision log.")
    ] = None,
    measurement: Annotated[
        str | None, typer.Option(help="A campaign's measurement (uplift measure --out).")
    ] = None,
    budget_curve: Annotated[
        str | None, typer.Option(help="A budget curve (uplift budget-curve --out FILE.json).")
    ] = None,
) -> None:
    """Qini curve, ROI by strategy, budget frontier, campaign results, architecture, key numbers."""
    from uplift_engine.replace import write_file
    from uplift_engine.report.dashboard.data import Sources
    from uplift_engine.report.report_file import print_pdf, report_html

    for name, path in (("measurement", measurement), ("budget_curve", budget_curve)):
        if path is not None and not Path(path).is_file():
            raise UserInputError(f"no file {path!r}", field=name)
    if not Path(releases).is_dir():
        raise UserInputError(f"no release root {releases!r}", field="releases")
    if not out.endswith((".html", ".htm")):
        raise UserInputError(f"--out is an .html file, got {out!r}", field="out")
    sources = Sources(
        Path(releases), lake,
        None if measurement is None else Path(measurement),
        None if budget_curve is None else Path(budget_curve),
    )  # fmt: skip
    html = report_html(sources, lang)
    write_file(Path(out), html.encode("utf-8"), sync=True)
    print(f"wrote {out}")
    if pdf is not None:
        print_pdf(html, Path(pdf))
        print(f"wrote {pdf}")
