"""Make data/sample_data.csv: a small randomised campaign with the bank's sample columns.

The bank's Lambda design calls ``lambda_handler`` with ``customerId``, ``age``, ``income`` and
``number_of_transactions``; this table has those columns (and a few more) for customers of the
synthetic bank, with their randomised arm and whether they converted, so that a model trained on
it answers that call. Made by the simulator (seeded), not copied from anywhere:

    .venv/bin/python data/make_sample_data.py [--customers 3000] [--seed 11]

Columns: customer_id, age, income (monthly, thousands of VND), tenure_months, products_held,
number_of_transactions (transfers and card payments in the 30 days before assignment), arm,
converted.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

from uplift_engine.cli.simulate import run_simulation
from uplift_engine.lake import read_table

HERE = Path(__file__).resolve().parent


def main() -> None:
    """Simulate the bank and write the sample table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", default=str(HERE / "sample_data.csv"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        lake = Path(work) / "lake"
        run_simulation(customers=args.customers, out=str(lake), seed=args.seed, quiet=True)
        folder = next((lake / "curated" / "campaign_table").iterdir())  # the one campaign
        table = read_table(str(folder)).to_pylist()
    with open(args.out, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["customer_id", "age", "income", "tenure_months", "products_held",
             "number_of_transactions", "arm", "converted"]
        )  # fmt: skip
        for row in table:
            writer.writerow(
                [row["customer_id"], row["age"], round(row["income_m_vnd"] * 1000),
                 row["tenure_months"], row["products_held"],
                 row["transfers_30d"] + row["card_txn_30d"], row["arm"], row["converted"]]
            )  # fmt: skip
    print(f"wrote {len(table):,} rows to {args.out}")


if __name__ == "__main__":
    main()
