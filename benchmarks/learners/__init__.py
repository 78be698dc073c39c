"""Side-by-side benchmark of uplift learners: ours against causalml, EconML and scikit-uplift.

Run with ``.venv-bench/bin/python benchmarks/learners/run.py --quick`` (see README.md). Every
learner sees the same saved arrays and the same train/test split; each fit runs in a child
process with a time and memory limit, and the parent computes every metric with
:mod:`uplift_engine.evaluate`.
"""
