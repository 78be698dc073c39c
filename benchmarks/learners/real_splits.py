"""Real trials for cross-fitting: prepared once, saved as arrays, cut into the same folds for all.

Invariants:
- A prepared trial is a folder of ``.npy`` arrays (loaded without pickle) and a ``meta.json``
  shaped like ``datasets.prepare``'s, so ``registry.cells`` reads it: ``X`` float64 with
  missing values replaced by ``datasets._impute``'s per-column sentinel, categorical columns
  as level codes (their indices in ``meta["categorical"]``), ``treatment`` arm codes with 0
  the control, ``y`` float64 and ``assignment`` (n, arms) the arm shares on every row (every
  trial here is randomised).
- ``--max-rows`` keeps a seeded subsample stratified by arm (each arm keeps its share).
- ``folds/k{K}_r{r}.npy`` holds the fold (0..K-1) of every row in repeat ``r``: stratified by
  arm and drawn from ``(seed, r)`` alone, so one repeat's folds are the same for every learner
  and do not change when more repeats are asked for.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from learners.datasets import Dataset, Part, _impute
from learners.real_data import REAL_DATASETS

SOURCES = {
    "hillstrom": "MineThatData e-mail test (Hillstrom 2008): men's / women's e-mail vs none; "
    "outcome: visited the site within two weeks",
    "hillstrom_conversion": "MineThatData e-mail test (Hillstrom 2008): men's / women's e-mail "
    "vs none; outcome: bought within two weeks (under 1%)",
    "hillstrom_spend": "MineThatData e-mail test (Hillstrom 2008): men's / women's e-mail vs "
    "none; outcome: spend (USD) within two weeks, mostly zeros",
    "social_pressure": "Gerber, Green & Larimer (2008), Michigan 2006 primary: four "
    "get-out-the-vote mailings vs none; outcome: voted",
    "thornton_hiv": "Thornton (2008), Malawi: cash incentive (none / up to $1 / more) to learn "
    "one's HIV result; outcome: learned it",
    "nsw": "NSW job training, Dehejia–Wahba sample: training vs none; outcome: 1978 earnings (USD)",
    "star": "Tennessee STAR, kindergarten: small / regular+aide class vs regular (randomised "
    "within school); outcome: reading + maths score",
    "social_insure": "Cai, de Janvry & Sadoulet (2015), rural China: intensive vs simple "
    "insurance session; outcome: bought weather insurance",
    "simulated_bank": "not a real trial: 600 customers of our simulator's bank (3 offers); "
    "outcome: converted",
}


def dataset_id(name: str, rows: int, seed: int) -> str:
    """The folder name and the results' key of a prepared trial."""
    return f"{name}_{rows}_s{seed}"


def parse_spec(spec: str, max_rows: int | None) -> tuple[str, int | None]:
    """``"hillstrom:10000"`` → ("hillstrom", 10000); a bare name takes ``max_rows``."""
    name, _, size = spec.partition(":")
    if name not in REAL_DATASETS:
        raise SystemExit(f"unknown dataset {name!r}; choose from {', '.join(REAL_DATASETS)}")
    if not size:
        return name, max_rows
    size = size.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(size[-1:], 1)
    try:
        cap = int(float(size.rstrip("km")) * scale)
    except ValueError:
        raise SystemExit(
            f"dataset {spec!r}: give a cap as name:rows, e.g. hillstrom:10000"
        ) from None
    if cap < 100:
        raise SystemExit(f"dataset {spec!r}: keep at least 100 rows")
    return name, cap


def subsample(treatment: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """Sorted row indices of a seeded subsample of about ``cap`` rows, stratified by arm."""
    rng = np.random.default_rng([seed, 7])
    share = cap / len(treatment)
    kept = []
    for arm in np.unique(treatment):
        rows = np.flatnonzero(treatment == arm)
        kept.append(rng.choice(rows, max(round(len(rows) * share), 1), replace=False))
    return np.sort(np.concatenate(kept))


def fold_ids(treatment: np.ndarray, folds: int, seed: int, repeat: int) -> np.ndarray:
    """The fold of every row in one repeat: each arm's rows shuffled and dealt in turn."""
    rng = np.random.default_rng([seed, repeat])
    out = np.empty(len(treatment), np.int64)
    for arm in np.unique(treatment):
        rows = rng.permutation(np.flatnonzero(treatment == arm))
        out[rows] = (np.arange(len(rows)) + rng.integers(folds)) % folds
    return out


def folds_path(folder: Path, folds: int, repeat: int) -> Path:
    """Where the folds of one repeat are saved."""
    return folder / "folds" / f"k{folds}_r{repeat}.npy"


def save_folds(folder: Path, folds: int, repeats: int, seed: int) -> None:
    """Write the folds of repeats 0..repeats-1 (the same arrays every time)."""
    treatment = np.load(folder / "treatment.npy", allow_pickle=False)
    (folder / "folds").mkdir(exist_ok=True)
    for repeat in range(repeats):
        path = folds_path(folder, folds, repeat)
        if not path.exists():
            np.save(path, fold_ids(treatment, folds, seed, repeat), allow_pickle=False)


def prepare(name: str, cap: int | None, seed: int, work: Path) -> Path:
    """Load, subsample, impute and save one trial (once: an existing folder is reused)."""
    clock = time.perf_counter()
    data = REAL_DATASETS[name]()
    available = len(data.y)
    rows = np.arange(available)
    if cap is not None and cap < available:
        rows = subsample(data.treatment, cap, seed)
    folder = work / "data" / dataset_id(name, len(rows), seed)
    if (folder / "meta.json").exists():
        return folder
    X, missing = _impute(data.X[rows])
    treatment = data.treatment[rows].astype(np.int64)
    y = data.y[rows].astype(np.float64)
    arms = len(data.arm_names)
    shares = np.bincount(treatment, minlength=arms) / len(treatment)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "X": X,
        "treatment": treatment,
        "y": y,
        "assignment": np.broadcast_to(shares, (len(y), arms)).copy(),
    }
    for key, value in arrays.items():
        np.save(folder / f"{key}.npy", value, allow_pickle=False)
    meta: dict[str, Any] = {
        "id": dataset_id(name, len(rows), seed),
        "name": name,
        "rows": len(y),
        "rows_available": available,
        "seed": seed,
        "arms": data.arm_names,
        "features": data.feature_names,
        "categorical": data.categorical,
        "outcome": "binary" if bool(np.isin(y, (0.0, 1.0)).all()) else "continuous",
        "randomised": True,
        "truth": False,
        "missing_values_replaced": missing,
        "arm_counts": np.bincount(treatment, minlength=arms).tolist(),
        "outcome_mean": float(y.mean()),
        "notes": SOURCES.get(name, name),
        "seconds": round(time.perf_counter() - clock, 2),
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
    return folder


def load(folder: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A prepared trial's meta and arrays."""
    meta = json.loads((folder / "meta.json").read_text())
    arrays = {p.stem: np.load(p, allow_pickle=False) for p in folder.glob("*.npy")}
    return meta, arrays


def part(arrays: dict[str, np.ndarray], rows: np.ndarray) -> Part:
    """The rows ``rows`` as a :class:`Part` (no truth: these are real trials)."""
    return Part(
        X=arrays["X"][rows],
        treatment=arrays["treatment"][rows],
        y=arrays["y"][rows],
        assignment=arrays["assignment"][rows],
        truth=None,
    )


def fold_dataset(
    meta: dict[str, Any], arrays: dict[str, np.ndarray], folds: np.ndarray, k: int
) -> Dataset:
    """Fold ``k`` held out: fit on the other folds, predict on this one."""
    return Dataset(
        meta=meta,
        train=part(arrays, np.flatnonzero(folds != k)),
        test=part(arrays, np.flatnonzero(folds == k)),
    )


def whole(folder: Path) -> Dataset:
    """Every row as the test part, for scoring out-of-fold effects with ``metrics``."""
    meta, arrays = load(folder)
    everyone = part(arrays, np.arange(len(arrays["y"])))
    return Dataset(meta=meta, train=everyone, test=everyone)
