"""Benchmark datasets: our simulated bank and causalml's generators, made once, split once.

Invariant: a dataset on disk is a folder of ``.npy`` arrays (loaded without pickle) and a
``meta.json``. ``X`` is float64 with missing values replaced by a per-column sentinel at least
one below the column's smallest observed value (so every library gets the same finite matrix,
and a tree can still isolate "missing"); ``treatment`` holds arm codes 0..K with 0 the control;
``assignment`` (n, K+1) is the probability of every arm for every row as the design set it (the
arm shares for a randomised trial, e(x) for causalml's observational settings); ``truth``
(n, K+1), when the generator gives it, is the true expected outcome under every arm; ``train``
and ``test`` are row indices (stratified by arm, seeded; 30% held out). Every learner reads
these same arrays.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TEST_SHARE = 0.3
CAMPAIGN = "c2026q4"


@dataclass(frozen=True)
class Raw:
    """A generated dataset before it is saved."""

    X: np.ndarray
    treatment: np.ndarray
    y: np.ndarray
    arms: list[str]
    features: list[str]
    categorical: list[int]
    assignment: np.ndarray
    randomised: bool
    truth: np.ndarray | None
    notes: str
    expected: np.ndarray | None = None
    """The simulator's expected outcome given the traits (its conditional effect), (n, K+1)."""


@dataclass(frozen=True)
class Part:
    """The rows of one side of the split, with everything a learner may use."""

    X: np.ndarray
    treatment: np.ndarray
    y: np.ndarray
    assignment: np.ndarray
    truth: np.ndarray | None
    expected: np.ndarray | None = None

    @property
    def received(self) -> np.ndarray:
        """Probability of the arm each row received."""
        return self.assignment[np.arange(len(self.y)), self.treatment]


@dataclass(frozen=True)
class Dataset:
    """A saved dataset: its description and both parts of the split."""

    meta: dict[str, Any]
    train: Part
    test: Part

    @property
    def arms(self) -> list[str]:
        return list(self.meta["arms"])

    @property
    def offers(self) -> list[str]:
        return self.arms[1:]

    @property
    def binary(self) -> bool:
        return self.meta["outcome"] == "binary"

    @property
    def randomised(self) -> bool:
        return bool(self.meta["randomised"])

    @property
    def categorical(self) -> list[int]:
        return list(self.meta["categorical"])


# -- generators -------------------------------------------------------------------------------


def _shares(treatment: np.ndarray, n_arms: int) -> np.ndarray:
    shares = np.bincount(treatment, minlength=n_arms) / len(treatment)
    return np.broadcast_to(shares, (len(treatment), n_arms)).copy()


def _simulated_lake(n: int, work: Path, seed: int) -> str:
    """Simulate the bank once per size and seed, and build its campaign table."""
    from uplift_engine.features.offline import build_campaign_table
    from uplift_engine.lake import layout
    from uplift_engine.simulate import SimulationConfig, simulate_bank

    lake = work / f"lake_{n}_{seed}"
    done = lake / layout.campaign_table_path(CAMPAIGN) / "_manifest.json"
    if not done.exists():
        simulate_bank(SimulationConfig(customers=n, seed=seed), str(lake))
        build_campaign_table(str(lake), CAMPAIGN, threads=2)
    return str(lake)


def _simulator(outcome: str, other: str) -> Callable[[int, Path, int], Raw]:
    def make(n: int, work: Path, seed: int) -> Raw:
        from uplift_engine.evaluate import truth_matrix
        from uplift_engine.lake import layout, read_table
        from uplift_engine.learn.data import assign_roles, encode_campaign

        lake = _simulated_lake(n, work, seed)
        table = read_table(f"{lake}/{layout.campaign_table_path(CAMPAIGN)}")
        roles = assign_roles(table, treatment="arm", outcome=outcome, exclude=(other,))
        data = encode_campaign(table, roles, "control")
        arms = list(data.arms.names)
        truth_table = read_table(f"{lake}/{layout.TRUTH}")
        truth = truth_matrix(data.ids, str(roles.id_column), truth_table, outcome, arms, CAMPAIGN)
        # the same lining-up for the expected values given the traits (expected_<outcome>_<arm>)
        renamed = truth_table.select(
            ["campaign_id", "customer_id"] + [layout.expected_column(outcome, a) for a in arms]
        ).rename_columns(
            ["campaign_id", "customer_id"] + [layout.truth_column(outcome, a) for a in arms]
        )
        expected = truth_matrix(data.ids, str(roles.id_column), renamed, outcome, arms, CAMPAIGN)
        return Raw(
            X=data.X,
            treatment=data.treatment,
            y=data.y,
            arms=arms,
            features=list(data.encoder.names),
            categorical=list(data.encoder.categorical_indices),
            assignment=_shares(data.treatment, len(arms)),
            randomised=True,
            truth=truth,
            expected=expected,
            notes=(
                f"uplift_engine.simulate, {len(arms) - 1} offers, outcome {outcome!r}; truth: "
                "true expected outcome under every arm (LAKE/truth/campaign_truth); coverage "
                "in brackets: of the conditional effect given the traits (expected_*)"
            ),
        )

    return make


def _cml_classification(n: int, work: Path, seed: int) -> Raw:
    from causalml.dataset import make_uplift_classification

    df, names = make_uplift_classification(n_samples=max(n // 4, 50), random_seed=seed)
    arms = ["control", "treatment1", "treatment2", "treatment3"]
    treatment = np.searchsorted(arms, df["treatment_group_key"].to_numpy())
    return Raw(
        X=df[names].to_numpy(np.float64),
        treatment=treatment.astype(np.int64),
        y=df["conversion"].to_numpy(np.float64),
        arms=arms,
        features=list(names),
        categorical=[],
        assignment=_shares(treatment, len(arms)),
        randomised=True,
        truth=None,
        notes=(
            "causalml.dataset.make_uplift_classification (defaults, 4 equal arms); no usable "
            "truth: its treatment_effect column is a realised label difference"
        ),
    )


def _cml_logistic(n: int, work: Path, seed: int) -> Raw:
    from causalml.dataset import make_uplift_classification_logistic

    arms = ["control", "treatment1", "treatment2", "treatment3"]
    df, names = make_uplift_classification_logistic(n_samples=max(n // 4, 50), random_seed=seed)
    treatment = np.searchsorted(arms, df["treatment_group_key"].to_numpy())
    truth = np.column_stack(
        [df["control_conversion_prob"].to_numpy()]
        + [df[f"{a}_conversion_prob"].to_numpy() for a in arms[1:]]
    )
    return Raw(
        X=df[names].to_numpy(np.float64),
        treatment=treatment.astype(np.int64),
        y=df["conversion"].to_numpy(np.float64),
        arms=arms,
        features=list(names),
        categorical=[],
        assignment=_shares(treatment, len(arms)),
        randomised=True,
        truth=truth.astype(np.float64),
        notes=(
            "causalml.dataset.make_uplift_classification_logistic (defaults, one effect "
            "negative); truth: the generator's conversion probabilities per arm"
        ),
    )


def _nie_wager(function: str, setup: str) -> Callable[[int, Path, int], Raw]:
    def make(n: int, work: Path, seed: int) -> Raw:
        import causalml.dataset as cd

        np.random.seed(seed)  # the generators draw from NumPy's global state
        y, X, w, tau, b, e = getattr(cd, function)(n=n)
        treatment = np.asarray(w, np.int64)
        e = np.clip(np.asarray(e, np.float64), 1e-6, 1 - 1e-6)
        randomised = bool(np.ptp(e) == 0)
        return Raw(
            X=np.asarray(X, np.float64),
            treatment=treatment,
            y=np.asarray(y, np.float64),
            arms=["control", "treatment"],
            features=[f"x{i}" for i in range(X.shape[1])],
            categorical=[],
            assignment=np.column_stack([1 - e, e]),
            randomised=randomised,
            truth=np.column_stack([b - tau / 2, b + tau / 2]),
            notes=(
                f"causalml.dataset.{function} (Nie & Wager setup {setup}, p=5, sigma=1), "
                "continuous outcome; "
                + ("randomised, e = 0.5" if randomised else "confounded: e(x) known")
                + "; truth: b ∓ tau/2"
            ),
        )

    return make


GENERATORS: dict[str, Callable[[int, Path, int], Raw]] = {
    "sim": _simulator("converted", "revenue"),
    "sim_revenue": _simulator("revenue", "converted"),
    "cml_classification": _cml_classification,
    "cml_logistic": _cml_logistic,
    "cml_nuisance": _nie_wager("simulate_nuisance_and_easy_treatment", "A"),
    "cml_rct": _nie_wager("simulate_randomized_trial", "B"),
    "cml_hard_baseline": _nie_wager("simulate_easy_propensity_difficult_baseline", "C"),
    "cml_unrelated": _nie_wager("simulate_unrelated_treatment_control", "D"),
}
"""Dataset name → generator(n, work folder, seed)."""


# -- saving and loading -----------------------------------------------------------------------


def parse_spec(spec: str) -> tuple[str, int]:
    """``"sim:100000"`` → ("sim", 100000); sizes may use ``k`` and ``M`` (``sim:1M``)."""
    name, _, size = spec.partition(":")
    if name not in GENERATORS:
        raise SystemExit(f"unknown dataset {name!r}; choose from {', '.join(GENERATORS)}")
    size = size.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(size[-1:], 1)
    try:
        n = int(float(size.rstrip("km")) * scale)
    except ValueError:
        raise SystemExit(f"dataset {spec!r}: give a size as name:rows, e.g. sim:100000") from None
    if n < 2_000:
        raise SystemExit(f"dataset {spec!r}: at least 2,000 rows, please")
    return name, n


def dataset_id(name: str, n: int, seed: int) -> str:
    return f"{name}_{n}_s{seed}"


def _impute(X: np.ndarray) -> tuple[np.ndarray, int]:
    X = np.array(X, np.float64, copy=True)
    missing = np.isnan(X)
    count = int(missing.sum())
    if count:
        observed = np.where(missing, np.inf, X).min(axis=0)
        sentinel = np.where(np.isfinite(observed), np.floor(observed) - 1.0, -1.0)
        X[missing] = np.broadcast_to(sentinel, X.shape)[missing]
    return X, count


def prepare(name: str, n: int, seed: int, work: Path) -> Path:
    """Generate, split and save one dataset (once: an existing folder is reused)."""
    from uplift_engine.learn.data import holdout_split

    folder = work / "data" / dataset_id(name, n, seed)
    if (folder / "meta.json").exists():
        return folder
    clock = time.perf_counter()
    raw = GENERATORS[name](n, work, seed)
    train, test = holdout_split(raw.treatment, TEST_SHARE, seed)
    X, missing = _impute(raw.X)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "X": X,
        "treatment": raw.treatment.astype(np.int64),
        "y": raw.y.astype(np.float64),
        "assignment": raw.assignment.astype(np.float64),
        "train": train.astype(np.int64),
        "test": test.astype(np.int64),
    }
    if raw.truth is not None:
        arrays["truth"] = raw.truth.astype(np.float64)
    if raw.expected is not None:
        arrays["expected"] = raw.expected.astype(np.float64)
    for key, value in arrays.items():
        np.save(folder / f"{key}.npy", value, allow_pickle=False)
    binary = bool(np.isin(raw.y, (0.0, 1.0)).all())
    meta = {
        "id": dataset_id(name, n, seed),
        "name": name,
        "rows": len(raw.y),
        "train_rows": len(train),
        "test_rows": len(test),
        "seed": seed,
        "arms": raw.arms,
        "features": raw.features,
        "categorical": raw.categorical,
        "outcome": "binary" if binary else "continuous",
        "randomised": raw.randomised,
        "truth": raw.truth is not None,
        "missing_values_replaced": missing,
        "arm_counts": np.bincount(raw.treatment, minlength=len(raw.arms)).tolist(),
        "outcome_mean": float(raw.y.mean()),
        "notes": raw.notes,
        "seconds": round(time.perf_counter() - clock, 2),
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
    return folder


def load(folder: Path) -> Dataset:
    """Read a saved dataset and cut it into its two parts."""
    meta = json.loads((folder / "meta.json").read_text())
    arrays = {p.stem: np.load(p, allow_pickle=False) for p in folder.glob("*.npy")}
    truth = arrays.get("truth")
    expected = arrays.get("expected")

    def part(rows: np.ndarray) -> Part:
        return Part(
            X=arrays["X"][rows],
            treatment=arrays["treatment"][rows],
            y=arrays["y"][rows],
            assignment=arrays["assignment"][rows],
            truth=None if truth is None else truth[rows],
            expected=None if expected is None else expected[rows],
        )

    return Dataset(meta=meta, train=part(arrays["train"]), test=part(arrays["test"]))
