"""Runs and models mirrored to an MLflow tracking server, with the registry's aliases (optional).

Where a bank runs MLflow, the pipeline config's ``mlflow`` section names its tracking URI; each
pipeline run is then logged there as an MLflow run — the config as parameters, the gate's and
the training's figures as metrics, the decision, fingerprints and our run id as tags, the run
record and the candidate bundle as artifacts — and a registered candidate becomes a version of
the MLflow model ``model_name`` (tagged with its release id), whose aliases follow ours: every
move of ``champion`` or ``challenger`` in the registry is mirrored (:func:`mirror_alias`).

The release root stays the system of record: MLflow is told, never asked. A failure to reach it
is recorded and warned about, never a failed run or a refused promotion; a run's logging is
retried by the next run on the same inputs, and it is idempotent (an MLflow run is found again
by our run id, a model version by its release id). Needs the ``mlflow`` extra (mlflow-skinny).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from uplift_engine.config.strict import StrictModel
from uplift_engine.errors import ConfigError

log = logging.getLogger("uplift_engine.pipeline")
RUN_TAG, RELEASE_TAG = "uplift_run", "uplift_release"


class MlflowConfig(StrictModel):
    """Where to mirror runs and models."""

    tracking_uri: str = Field(min_length=1)
    experiment: str = Field(default="uplift-engine", min_length=1)
    model_name: str = Field(default="uplift-engine", min_length=1)


def _client(config: MlflowConfig) -> Any:
    # MLflow's client retries a dead server for minutes by default; being optional, it gets a
    # few tries here unless the user set its own variables
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise ConfigError(
            "logging to MLflow needs the mlflow extra: pip install 'uplift-engine[mlflow]'",
            field="mlflow",
        ) from None
    return MlflowClient(tracking_uri=config.tracking_uri, registry_uri=config.tracking_uri)


def log_run(config: MlflowConfig, record: dict[str, Any], work: Path) -> dict[str, Any]:
    """Log a finished pipeline run (and register its release's model); what MLflow named.

    Returns ``{"run_id", "model_version"}`` or ``{"error"}`` when MLflow could not be reached.
    """
    try:
        return _log_run(_client(config), config, record, work)
    except ConfigError:
        raise
    except Exception as exc:  # MLflow is told, never required: any failure is a warning
        log.warning("MLflow logging failed: %s", exc)
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}


def _log_run(
    client: Any, config: MlflowConfig, record: dict[str, Any], work: Path
) -> dict[str, Any]:
    from mlflow.entities import Metric, Param, RunTag

    found = client.get_experiment_by_name(config.experiment)
    experiment = found.experiment_id if found else client.create_experiment(config.experiment)
    runs = client.search_runs([experiment], filter_string=f"tags.{RUN_TAG} = '{record['run']}'")
    if runs:
        run_id = runs[0].info.run_id
    else:
        run_id = client.create_run(experiment, run_name=record["run"],
                                   tags={RUN_TAG: record["run"]}).info.run_id  # fmt: skip
        steps = record["steps"]
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, 0) for k, v in _metrics(steps).items()]
        params = [Param(k, str(v)[:500]) for k, v in sorted(_flat(record["config"]).items())]
        tags = {
            "decision": record["decision"], "why": " | ".join(record["why"])[:5000],
            "campaign": (steps.get("features") or {}).get("campaign"),
            "inputs_sha256": record["inputs"]["sha256"],
            "features_sha256": record["features_sha256"],
            "code_version": record["code"]["version"], "code_sha256": record["code"]["sha256"],
        }  # fmt: skip
        run_tags = [RunTag(k, str(v)) for k, v in tags.items() if v is not None]
        client.log_batch(run_id, metrics=metrics, params=params, tags=run_tags)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "run_record.json"
            path.write_text(json.dumps(record, indent=1, sort_keys=True, default=str))
            client.log_artifact(run_id, str(path))
        if (work / "candidate").is_dir():
            client.log_artifacts(run_id, str(work / "candidate"), "bundle")
        client.set_terminated(run_id, "FINISHED")
    release = (record["steps"].get("register") or {}).get("release")
    out: dict[str, Any] = {"run_id": run_id, "model_version": None}
    if release is not None:
        out["model_version"] = _model_version(client, config, release, run_id)
        moved = (record["steps"].get("promote") or {}).get("alias")
        if moved and out["model_version"] is not None:
            client.set_registered_model_alias(config.model_name, moved, out["model_version"])
    return out


def _model_version(
    client: Any, config: MlflowConfig, release: str, run_id: str | None
) -> str | None:
    """The MLflow model version of ``release``, created from its run's bundle if need be.

    None when it has none and no run is given (a release registered by hand, or whose run is
    not logged yet: its run's logging sets its aliases).
    """
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(config.model_name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    query = f"name = '{config.model_name}' and tags.{RELEASE_TAG} = '{release}'"
    versions = client.search_model_versions(query)
    if versions:
        return str(versions[0].version)
    if run_id is None:
        return None
    source = f"{client.get_run(run_id).info.artifact_uri}/bundle"
    made = client.create_model_version(config.model_name, source, run_id=run_id,
                                       tags={RELEASE_TAG: release})  # fmt: skip
    return str(made.version)


def mirror_alias(config: MlflowConfig, alias: str, release: str) -> str | None:
    """Point MLflow's ``alias`` at ``release``'s model version; None when it cannot."""
    try:
        client = _client(config)
        version = _model_version(client, config, release, None)
        if version is not None:
            client.set_registered_model_alias(config.model_name, alias, version)
        return version
    except Exception as exc:  # MLflow is told, never required: any failure is a warning
        log.warning("MLflow alias %s not moved to %s: %s", alias, release, exc)
        return None


def _metrics(steps: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    gate = steps.get("gate") or {}
    for key in ("candidate", "champion"):
        if isinstance(gate.get(key), int | float):
            out[f"gate_{key}"] = gate[key]
    for key, value in (gate.get("difference") or {}).items():
        if isinstance(value, int | float):
            out[f"gate_difference_{key}"] = value
    plan = steps.get("plan") or {}
    for key in ("spend", "expected_profit", "treated", "budget"):
        if isinstance(plan.get(key), int | float):
            out[f"plan_{key}"] = plan[key]
    if isinstance((steps.get("features") or {}).get("rows"), int):
        out["campaign_rows"] = steps["features"]["rows"]
    return out


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_flat(inner, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): json.dumps(value) if isinstance(value, list) else value}
