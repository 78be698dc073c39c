"""The catalogue of bad inputs: every boundary answers with one line that names the problem.

One row per bad input a user has given us (or will): the command, the files it reads, the exit
code and a fragment of the one-line message. Nothing is written where a command fails. Later
boundaries (HTTP, Lambda events, policy files) add their rows here, so the catalogue grows with
the product.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from uplift_engine.cli.main import app
from uplift_engine.lake import read_table, write_table

pytestmark = pytest.mark.slow
runner = CliRunner()
ROLES = ["--treatment", "arm", "--control", "control", "--outcome", "converted"]
ECONOMICS = """
control: control
offers:
  cashback: {contact_cost: 0.5, redemption_cost: 10.0}
  fee_waiver: {contact_cost: 0.3, redemption_cost: 4.0}
  bonus_points: {contact_cost: 0.2, redemption_cost: 2.0}
"""


@pytest.fixture(scope="module")
def ground(campaign_table, tmp_path_factory) -> Path:
    """A folder with a small campaign (CSV), a model trained on it, and its scores."""
    root = tmp_path_factory.mktemp("bad-inputs")
    table = read_table(campaign_table).slice(0, 4_000)
    write_table(table, root / "campaign.parquet")
    write_table(table.drop(["revenue"]), root / "campaign.csv")
    done = runner.invoke(
        app,
        ["train", str(root / "campaign.parquet"), "--outcome", "converted",
         "--learner", "t_learner", "--out", str(root / "model")],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    done = runner.invoke(
        app, ["score", str(root / "model"), str(root / "campaign.parquet"),
              "--out", str(root / "scores.parquet")],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    (root / "economics.yaml").write_text(ECONOMICS)
    (root / "a_file").write_text("not a folder\n")
    return root


@dataclass(frozen=True)
class Case:
    """A bad input: files to make in a fresh folder, the command's arguments, what it says."""

    make: Callable[[Path, Path], None]
    args: list[str]
    message: str
    code: int = 2


def nothing(ground: Path, here: Path) -> None:
    """No extra file."""


def campaign_csv(change: Callable[[pa.Table], pa.Table | bytes]) -> Callable[[Path, Path], None]:
    """Write ``here/data.csv`` from the ground's campaign (without revenue), changed."""

    def make(ground: Path, here: Path) -> None:
        changed = change(read_table(ground / "campaign.parquet").drop(["revenue"]))
        if isinstance(changed, bytes):
            (here / "data.csv").write_bytes(changed)
        else:
            pacsv.write_csv(changed, here / "data.csv")

    return make


def raw(data: bytes) -> Callable[[Path, Path], None]:
    def make(ground: Path, here: Path) -> None:
        (here / "data.csv").write_bytes(data)

    return make


def with_arm(change: Callable[[list[str]], list[str]]) -> Callable[[pa.Table], pa.Table]:
    def edit(table: pa.Table) -> pa.Table:
        arms = change(table.column("arm").to_pylist())
        return table.set_column(table.column_names.index("arm"), "arm", pa.array(arms))

    return edit


def blank_arms(arms: list[str]) -> list[str]:
    return ["", " ", *arms[2:]]


def look_alike_arms(arms: list[str]) -> list[str]:
    out, seen = [], 0
    for arm in arms:
        if arm == "control":
            seen += 1
            arm = "Control" if seen % 3 == 1 else "control " if seen % 3 == 2 else arm
        out.append(arm)
    return out


def times(column: str, factor: float) -> Callable[[pa.Table], pa.Table]:
    def edit(table: pa.Table) -> pa.Table:
        values = pc.multiply(table.column(column).cast(pa.float64()), factor)
        return table.set_column(table.column_names.index(column), column, values)

    return edit


def add_column(name: str, values: Callable[[pa.Table], pa.Array]) -> Callable[[pa.Table], pa.Table]:
    return lambda table: table.append_column(name, values(table))


def as_bytes(encode: Callable[[bytes], bytes]) -> Callable[[pa.Table], bytes]:
    def edit(table: pa.Table) -> bytes:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink)
        return encode(sink.getvalue().to_pybytes())

    return edit


def latin1(data: bytes) -> bytes:
    text = data.decode().replace('"mass"', '"mass café"')
    return text.encode("latin-1")


def tampered(edit: Callable[[dict], None]) -> Callable[[Path, Path], None]:
    """A copy of the ground's model whose manifest was edited and re-checksummed."""

    def make(ground: Path, here: Path) -> None:
        shutil.copytree(ground / "model", here / "model")
        manifest = json.loads((here / "model" / "manifest.json").read_text())
        edit(manifest)
        data = json.dumps(manifest, indent=2, sort_keys=True).encode()
        (here / "model" / "manifest.json").write_bytes(data)
        (here / "model" / "manifest.sha256").write_text(hashlib.sha256(data).hexdigest() + "\n")

    return make


def economics(text: str) -> Callable[[Path, Path], None]:
    def make(ground: Path, here: Path) -> None:
        (here / "economics.yaml").write_text(text)

    return make


G, H = "{ground}", "{here}"
TRAIN = ["train", f"{H}/data.csv", *ROLES, "--out", f"{H}/m"]
SCORE = ["score", f"{G}/model", f"{G}/campaign.parquet"]
OPTIMIZE = ["optimize", f"{G}/scores.parquet", "--economics", f"{G}/economics.yaml"]
OPTIMIZE_HERE = ["optimize", f"{G}/scores.parquet", "--economics", f"{H}/economics.yaml",
                 "--budget", "100", "--value", "40", "--out", f"{H}/p.csv"]  # fmt: skip
LEAK = add_column("redeemed", lambda t: pc.cast(t.column("converted"), pa.int64()))

CASES = {
    # --- training data -------------------------------------------------------------------
    "empty-csv": Case(raw(b""), TRAIN, "is empty: it has no header and no rows"),
    "header-only-csv": Case(raw(b"age,arm,converted\n"), TRAIN, "has no rows (a header only)"),
    "semicolon-csv": Case(
        campaign_csv(as_bytes(lambda b: b.replace(b",", b";"))), TRAIN, "looks ';'-separated"
    ),
    "latin-1-csv": Case(campaign_csv(as_bytes(latin1)), TRAIN, "is not UTF-8 text"),
    "latin-1-header": Case(raw("café,arm\n1,x\n".encode("latin-1")), TRAIN, "not UTF-8"),
    "blank-arms": Case(
        campaign_csv(with_arm(blank_arms)), TRAIN, "has 2 row(s) without an arm (missing or blank)"
    ),
    "look-alike-arms": Case(
        campaign_csv(with_arm(look_alike_arms)),
        TRAIN,
        "'Control', 'control', 'control '; fix the data, or say which arm each one is, "
        "e.g. --arm-map 'Control=control'",
    ),
    "outcome-times-1e300": Case(campaign_csv(times("converted", 1e300)), TRAIN, "beyond ±1e+15"),
    "outcome-leak": Case(
        campaign_csv(LEAK), TRAIN, "column 'redeemed' separates converters from the others"
    ),
    "declared-other-outcome-left-out": Case(
        lambda g, h: shutil.copy(g / "campaign.parquet", h / "data.parquet"),
        [
            "train",
            f"{H}/data.parquet",
            "--outcome",
            "revenue",
            "--learner",
            "t_learner",
            "--out",
            f"{H}/m",
        ],
        "note: left out 'converted'",
        code=0,
    ),
    "imbalanced-column": Case(
        campaign_csv(
            add_column(
                "channel_score",
                lambda t: pa.array(
                    (np.asarray(t.column("arm")) == "cashback") * 1.0
                    + np.random.default_rng(0).normal(size=t.num_rows)
                ),
            )
        ),
        [*TRAIN, "--learner", "t_learner"],
        "warning: feature 'channel_score' differs between 'cashback' and control "
        "(standardised difference +",
        code=0,
    ),
    "unknown-keep-feature": Case(
        campaign_csv(lambda t: t),
        [*TRAIN, "--keep-feature", "nope"],
        "the columns to keep as features name 'nope', which are not features of this table "
        "[--keep-feature]",
    ),
    "bad-arm-map": Case(campaign_csv(lambda t: t), [*TRAIN, "--arm-map", "control"], "FROM=TO"),
    "roles-missing": Case(
        campaign_csv(lambda t: t),
        ["train", f"{H}/data.csv", "--out", f"{H}/m"],
        "name the treatment: the column with each row's arm; the table does not declare it "
        "[--treatment]",
    ),
    "small-arm": Case(
        campaign_csv(lambda t: t.slice(0, 60)), TRAIN, "every arm needs at least 20 rows"
    ),
    # --- output paths: refused before any work ---------------------------------------------
    "train-out-in-proc": Case(
        campaign_csv(lambda t: t), [*TRAIN[:-1], "/proc/m"], "'/proc' does not accept new files"
    ),
    "train-out-is-a-file": Case(
        campaign_csv(lambda t: t), [*TRAIN[:-1], f"{G}/a_file"], "is a file; give a folder path"
    ),
    "train-out-exists": Case(
        campaign_csv(lambda t: t), [*TRAIN[:-1], f"{G}/model"], "already exists"
    ),
    "simulate-out-is-a-file": Case(
        nothing, ["simulate", "--customers", "100", "--out", f"{G}/a_file"], "is a file"
    ),
    "features-build-out-is-a-file": Case(
        nothing,
        [
            "features",
            "build",
            "--campaign",
            "c2026q4",
            "--lake",
            f"{G}/lake",
            "--out",
            f"{G}/a_file",
        ],
        "is a file; give a folder path",
    ),
    "score-out-under-a-file": Case(
        nothing, [*SCORE, "--out", f"{G}/a_file/s.csv"], "is a file, not a folder"
    ),
    "evaluate-out-under-a-file": Case(
        nothing,
        ["evaluate", f"{G}/model", f"{G}/campaign.parquet", "--out", f"{G}/a_file/r.json"],
        "is a file, not a folder",
    ),
    # --- bundles ----------------------------------------------------------------------------
    "manifest-extra-arm": Case(
        tampered(lambda m: m["arms"].append("sms")),
        ["score", f"{H}/model", f"{G}/campaign.parquet", "--out", f"{H}/s.csv"],
        "manifest field 'arms' lists 5 arms but its scoring graph gives 4",
    ),
    "manifest-lost-feature": Case(
        tampered(lambda m: m["features"].pop()),
        ["score", f"{H}/model", f"{G}/campaign.parquet", "--out", f"{H}/s.csv"],
        "manifest field 'features' lists",
    ),
    # --- optimisation -------------------------------------------------------------------------
    "economics-is-a-binary": Case(
        nothing,
        [*OPTIMIZE[:-1], "/bin/ls", "--budget", "10", "--value", "40", "--out", f"{H}/p.csv"],
        "is not UTF-8 text",
    ),
    "budget-1e300": Case(
        nothing,
        [*OPTIMIZE, "--budget", "1e300", "--value", "40", "--out", f"{H}/p.csv"],
        "the budget is 1e+300, beyond 1e+15",
    ),
    "negative-value": Case(
        nothing,
        [*OPTIMIZE, "--budget", "100", "--value", "-5", "--out", f"{H}/p.csv"],
        "must be > 0, got -5",
    ),
    "unpriced-offer": Case(
        economics("offers:\n  cashback: {contact_cost: 0.5, redemption_cost: 10.0}\n"),
        OPTIMIZE_HERE,
        "do not price offer(s) 'bonus_points', 'fee_waiver'",
    ),
    "absurd-contact-cost": Case(
        economics(ECONOMICS.replace("contact_cost: 0.5", "contact_cost: 1e300")),
        OPTIMIZE_HERE,
        "offers.cashback.contact_cost",
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_gets_one_line(case: Case, ground: Path, tmp_path: Path) -> None:
    case.make(ground, tmp_path)
    before = sorted(p.name for p in ground.iterdir())
    args = [a.format(ground=ground, here=tmp_path) for a in case.args]
    done = runner.invoke(app, args, catch_exceptions=False)
    assert done.exit_code == case.code, done.output
    if case.code == 0:
        assert case.message in done.stdout
        return
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert case.message in lines[0]
    assert sorted(p.name for p in ground.iterdir()) == before  # nothing half-written
    assert not [p for p in tmp_path.iterdir() if p.name in ("m", "p.csv", "s.csv")]


def test_stream_event_with_a_negative_customer_id_is_refused() -> None:
    from uplift_engine.features.definitions import EVENTS
    from uplift_engine.features.streaming.schema import EventError, EventSchema

    schema = EventSchema(EVENTS)
    good = {"event_id": 1, "type": "login", "ts": "2026-10-01T09:00:00+07:00"}
    assert schema.parse(json.dumps(good | {"customer_id": 0})).key == 0
    with pytest.raises(EventError, match=r"customer_id: negative \(got -1\); ids are integers ≥ 0"):
        schema.parse(json.dumps(good | {"customer_id": -1}))


def test_repeated_ids_train_with_a_counted_warning(ground: Path, tmp_path: Path) -> None:
    table = read_table(ground / "campaign.parquet")
    write_table(pa.concat_tables([table, table.slice(0, 7)]), tmp_path / "d.parquet")
    done = runner.invoke(
        app,
        ["train", str(tmp_path / "d.parquet"), "--outcome", "converted",
         "--learner", "t_learner", "--out", str(tmp_path / "m")],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "warning: 7 row(s) repeat an id of column 'customer_id'" in done.stdout


def test_user_errors_exit_2_every_time(ground: Path, tmp_path: Path) -> None:
    """Repeated runs of failing commands in real processes: always 2, never an abort (134)."""
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "semi.csv").write_bytes(b"a;arm;y\n1;x;0\n" * 3)
    uplift = str(Path(sys.executable).parent / "uplift")
    commands = [
        [uplift, "train", str(tmp_path / name), *ROLES, "--out", str(tmp_path / "m")]
        for name in ("empty.csv", "semi.csv", "missing.csv")
    ] + [[uplift, "train", str(ground / "campaign.csv"), *ROLES, "--control", "nobody",
          "--out", str(tmp_path / "m")]]  # fmt: skip
    codes = []
    for round_ in range(6):
        running = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                   for c in commands]  # fmt: skip
        for proc in running:
            _, err = proc.communicate(timeout=120)
            codes.append(proc.returncode)
            assert err.decode().startswith("error: "), (round_, err)
    assert codes == [2] * len(codes)


def test_features_found_by_the_leak_check_on_real_features_are_none(campaign_table) -> None:
    """The simulator's behavioural features are all pre-treatment: none is refused."""
    from uplift_engine.learn.data import fit_encoder
    from uplift_engine.learn.data.leakage import find_leaks

    table = read_table(campaign_table)
    features = [c for c in table.column_names if c not in ("customer_id", "arm", "converted",
                                                           "revenue")]  # fmt: skip
    encoder = fit_encoder(table, features)
    X = encoder.transform({n: table.column(n) for n in features})
    y = np.asarray(table.column("converted"), dtype=float)
    assert find_leaks(X, y, encoder.names, encoder.categorical_indices, binary=True) == []
    revenue = np.asarray(table.column("revenue"), dtype=float)
    assert find_leaks(X, revenue, encoder.names, encoder.categorical_indices, binary=False) == []
