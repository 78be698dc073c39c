"""The documents agree with the code: links resolve, every command they name exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from uplift_engine.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")
COMMAND = re.compile(r"`uplift ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_relative_links_point_inside_the_repository(doc: Path) -> None:
    for target, _ in LINK.findall(doc.read_text()):
        if "://" in target:
            continue
        path = (doc.parent / target).resolve()
        assert path.is_relative_to(ROOT), f"{doc.name} links outside the repository: {target}"
        assert path.exists(), f"{doc.name} links to a missing file: {target}"


def _commands() -> set[str]:
    from uplift_engine.cli.main import app as typer_app

    names = {c.name or c.callback.__name__ for c in typer_app.registered_commands if c.callback}
    for group in typer_app.registered_groups:
        sub = group.typer_instance
        names |= {
            f"{group.name} {c.name or c.callback.__name__}"
            for c in sub.registered_commands
            if c.callback
        }
        names.add(str(group.name))
    return names


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_command_a_document_names_exists(doc: Path) -> None:
    known = _commands()
    for first, second in COMMAND.findall(doc.read_text()):
        name = f"{first} {second}" if second and f"{first} {second}" in known else first
        assert name in known, f"{doc.name} names `uplift {name}`, which does not exist"


def test_help_shows_the_extra_to_install() -> None:
    done = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert "uplift-engine[catboost]" in done.stdout


def test_the_policy_and_economics_examples_load_from_yaml_files(tmp_path: Path) -> None:
    """docs/decide.md's examples, as files: times and dates stay text (YAML would make them
    datetimes, which the records refuse)."""
    from uplift_engine.decide.planning import load_economics, load_policy

    text = (ROOT / "docs" / "decide.md").read_text()
    loaded = set()
    for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", text, re.S)):
        path = tmp_path / f"example-{i}.yaml"
        path.write_text(block.replace("dnc: dnc.csv", f"dnc: {tmp_path / 'dnc.csv'}"))
        if "contact_policies:" in block:
            policy = load_policy(str(path))
            assert policy.contacts and policy.policy.universal_holdout is not None
            assert policy.policy.universal_holdout.until == "2027-06-30"
            loaded.add("policy")
        if "pacing:" in block and "offers:" in block:
            economics = load_economics(str(path))
            assert economics.pacing is not None and economics.pacing.start_us > 0
            loaded.add("economics")
    assert loaded == {"policy", "economics"}
