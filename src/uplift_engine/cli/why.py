"""``uplift why``: the audit of a decision — which rule removed which offer, with its scores."""

from __future__ import annotations

from typing import Annotated

import typer

from uplift_engine.cli.console import moment_option, print_json
from uplift_engine.cli.errors import user_errors
from uplift_engine.errors import UserInputError


@user_errors
def why(
    request: Annotated[str | None, typer.Option(help="The decision's request id.")] = None,
    customer: Annotated[
        str | None, typer.Option(help="A customer id: their decisions (or --at: the one then).")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(help="With --customer: the decision in force at this ISO time (with zone)."),
    ] = None,
    log: Annotated[
        str | None, typer.Option(help="A service's decision log folder (recent decisions).")
    ] = None,
    lake: Annotated[
        str | None, typer.Option(help="A lake with compacted decisions (LAKE/decisions).")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the decisions as JSON.")] = False,
) -> None:
    """Explain a logged decision: every offer's uplift, interval, net value and what removed it."""
    from uplift_engine.serve.audit import check_request_id, explain, find_decisions

    at_us = None
    if at is not None:
        if customer is None:
            raise UserInputError("--at goes with --customer", field="at")
        at_us = moment_option(at, "at")
    if request is not None:
        check_request_id(request, "request")
    found = find_decisions(log=log, lake=lake, request_id=request, customer_id=customer,
                           at_us=at_us)  # fmt: skip
    if not found:
        what = f"request {request!r}" if request else f"customer {customer!r}"
        raise UserInputError(f"no decision of {what} in the log or lake given", field="request")
    if json:
        print_json({"decisions": found})
        return
    for i, record in enumerate(found):
        if i:
            print()
        print("\n".join(explain(record)))
