r"""The Spark job for ``spark-submit``: build campaign tables on the cluster's Spark.

    spark-submit [--master …] src/uplift_engine/features/spark/job.py \\
        --lake s3://bank-lake/uplift --campaign c2026q4 [--campaign …] [--out …] [--config …]

Invariant: the job is the CLI's Spark tier with the submitter's master and configuration
(``--master``, ``--conf``, EMR Serverless job parameters): it never sets a master itself, it
writes the same tables as ``uplift features build --engine spark``, and it prints the build
summary as one JSON document on stdout. The driver needs ``uplift-engine[spark]`` installed
(on EMR Serverless: a packed virtual environment given as ``spark.archives``).
"""

from __future__ import annotations

import argparse
import json
import sys

from uplift_engine.errors import UpliftError


def main(argv: list[str] | None = None) -> int:
    """Run the job; return the process exit code (errors printed as one line on stderr)."""
    parser = argparse.ArgumentParser(description="Build point-in-time campaign tables on Spark.")
    parser.add_argument("--lake", required=True, help="Lake folder or s3:// URI.")
    parser.add_argument(
        "--campaign", required=True, action="append", help="Campaign id (repeatable)."
    )
    parser.add_argument("--out", help="Output folder (one campaign only).")
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB's limit on the driver.")
    parser.add_argument("--config", help="Settings file (YAML).")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except UpliftError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code


def _run(args: argparse.Namespace) -> int:
    from uplift_engine.config.settings import load_settings
    from uplift_engine.errors import UserInputError
    from uplift_engine.features.offline.engines import build_training_sets
    from uplift_engine.features.spark.session import spark_session

    if args.out and len(args.campaign) != 1:
        raise UserInputError("--out takes one campaign", field="out")
    settings = load_settings(args.config)
    spark = spark_session(settings, master="", app_name="uplift-features-job")
    try:
        choice, summaries = build_training_sets(
            args.lake,
            args.campaign,
            settings,
            engine="spark",
            out_uris=[args.out] if args.out else None,
            memory_limit=args.memory_limit,
            spark=spark,
        )
    finally:
        spark.stop()
    summary = {**choice.to_dict(), "campaign_tables": [s.to_dict() for s in summaries]}
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
