"""report layer: results in a marketer's words, and the demo's story.

The words a training run, an evaluation and a plan are told in (:mod:`.summaries`), shared by
the CLI today and by the dashboard and campaign reports tomorrow; the whole loop told on a
simulated bank (:func:`run_demo`).
"""

from uplift_engine.report.demo import run_demo
from uplift_engine.report.summaries import describe_evaluation, describe_training

__all__ = ["describe_evaluation", "describe_training", "run_demo"]
