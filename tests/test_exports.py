"""Package faces: eager, every name of ``__all__`` defined, and the corridor's faces light.

The structure docs/architecture.md draws, checked: each package's ``__init__`` imports what it
offers (no lazy loading, so tools and mypy see the routes), and the request corridor's faces —
``config``, ``features``, ``learn``, ``decide``, ``serve`` — import in an interpreter where the
training stack, the lake's engines, the solver, pydantic and the simulator cannot be imported.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import uplift_engine
from isolation import run_without

PACKAGES = sorted(
    name
    for _, name, is_package in pkgutil.walk_packages(uplift_engine.__path__, "uplift_engine.")
    if is_package
)
CORRIDOR = (
    "uplift_engine.config",
    "uplift_engine.features",
    "uplift_engine.learn",
    "uplift_engine.learn.explain",
    "uplift_engine.decide",
    "uplift_engine.serve",
)
BLOCKED = (
    "pandas",
    "sklearn",
    "pyarrow",
    "pydantic",
    "pydantic_settings",
    "numba",
    "duckdb",
    "highspy",
    "yaml",
    "typer",
    "rich",
    "uplift_engine.simulate",
    "uplift_engine.lake",
)


@pytest.mark.parametrize("package", PACKAGES)
def test_a_face_lists_what_it_offers(package: str) -> None:
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{package} has no __all__"
    assert len(names) == len(set(names)), f"{package}.__all__ repeats a name"
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"{package}.__all__ names {missing}, which it does not define"
    assert not hasattr(module, "__getattr__"), f"{package} loads names lazily"


def test_the_corridors_faces_need_none_of_the_heavy_packages() -> None:
    imports = "\n".join(f"import {name}" for name in CORRIDOR)
    out = run_without(
        BLOCKED,
        imports
        + """
from uplift_engine.config import serving_settings
from uplift_engine.decide import Decider, compile_rule
from uplift_engine.features import FeatureReader, default_registry, open_store
from uplift_engine.serve import DecisionCore
settings = serving_settings({"UPLIFT_ONLINE_STORE__PATH": ":memory:"})
reader = FeatureReader(open_store(settings), default_registry())
assert compile_rule("age >= 18 and segment in ('mass')").evaluate_row(
    {"age": 30, "segment": "mass"}, unknown=False
)
print(len(reader.read(7)))
""",
    )
    assert int(out) == len(default_names())


def default_names() -> tuple[str, ...]:
    from uplift_engine.features import default_registry

    return default_registry().names


def test_serving_settings_match_the_full_settings(monkeypatch) -> None:
    from uplift_engine.config import serving_settings
    from uplift_engine.config.settings import Settings

    env = {
        "UPLIFT_ONLINE_STORE__TYPE": "redis",
        "UPLIFT_ONLINE_STORE__URL": "redis://127.0.0.1:6390/2",
        "UPLIFT_THREADS": "3",
        "UPLIFT_S3_REGION": "eu-west-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("UPLIFT_S3_ENDPOINT_URL", raising=False)  # the S3 server's, if it ran
    full, lean = Settings(), serving_settings(env)
    assert lean.online_store == full.online_store
    assert (lean.threads, lean.s3_region, lean.s3_endpoint_url) == (
        full.threads,
        full.s3_region,
        full.s3_endpoint_url,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"UPLIFT_ONLINE_STORE__URLL": "x"}, "UPLIFT_ONLINE_STORE__URLL is not a setting"),
        ({"UPLIFT_ONLINE_STORE__TYPE": "memcached"}, "must be sqlite or redis, got 'memcached'"),
        ({"UPLIFT_THREADS": "0"}, "UPLIFT_THREADS must be a whole number from 1 to 256"),
    ],
    ids=["typo", "unknown-store", "threads"],
)
def test_serving_settings_refuse_what_they_cannot_use(env: dict, message: str) -> None:
    from uplift_engine.config import serving_settings
    from uplift_engine.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        serving_settings(env)
