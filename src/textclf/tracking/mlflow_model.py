"""The model that an MLflow run logs: a textclf model folder as a pyfunc (models from code).

:func:`log_model` logs the folder's model files with :class:`TextclfPyfunc`, which loads
them with textclf's ``Predictor`` and answers with the records of ``textclf predict`` (the
saved temperature, thresholds and abstention applied), so ``mlflow models serve`` gives
the same labels. :class:`textclf.tracking.mlflow.MlflowSink` calls it for a journal's
``model`` record; a model already logged from that record is not logged again.

This module imports MLflow at import time; import it only when MLflow is wanted.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from textclf._version import __version__
from textclf.errors import TrackingError, missing_extra
from textclf.evaluation.decision import DecisionRule

try:
    import mlflow
    import mlflow.pyfunc
    from mlflow.pyfunc.model import PythonModel
except ImportError as e:  # pragma: no cover - depends on the installed extras
    raise missing_extra("mlflow", "tracking") from e

MODEL_RECORD_TAG = "textclf.journal_record"
TEXT_COLUMN = "text"

# What MLflow runs when it loads the model ("models from code": MLflow 3 refuses pickled
# python models unless MLFLOW_ALLOW_PICKLE_DESERIALIZATION is set). The inference layer
# sits above tracking in the import contract, so it is wired in here, in the serving
# process, and handed to the wrapper rather than imported by this module.
_ENTRY_POINT = """\
\"\"\"MLflow entry point of a textclf model: textclf's Predictor with its saved decision rule.\"\"\"

import mlflow

from textclf.inference.pipeline import Predictor
from textclf.inference.records import prediction_records
from textclf.tracking.mlflow_model import TextclfPyfunc

mlflow.models.set_model(TextclfPyfunc(Predictor.from_folder, prediction_records))
"""

# Run artefacts beside the model in a run folder; the logged model is the model only.
_NOT_MODEL = {"eval", "checkpoints", "tracking", "trials", "tuning"}


class TextclfPyfunc(PythonModel):
    """A textclf model folder as an MLflow pyfunc that predicts what ``textclf predict`` does.

    The temperature, the tuned thresholds and abstention are applied (the plain
    transformers flavour applies none of them), with sigmoids for multi-label models.

    Input: a DataFrame with a ``text`` column (the model's signature). ``mlflow models
    serve`` builds it from any of ``{"dataframe_records": [{"text": "…"}, …]}``,
    ``{"dataframe_split": {"columns": ["text"], "data": [["…"], …]}}``,
    ``{"inputs": ["…", …]}`` or ``{"inputs": {"text": ["…", …]}}``.

    Output: textclf's prediction records as a DataFrame, one row per text: ``row``,
    ``label`` (single-label; ``None`` when the model abstains) or ``labels`` (multi-label,
    a list), and ``scores`` (every label's probability).

    Args:
        load: Model folder → a ``textclf.inference.pipeline.Predictor``.
        records: ``textclf.inference.records.prediction_records``.
    """

    def __init__(self, load: Callable[[str], Any], records: Callable[..., list[dict[str, Any]]]):
        self._load = load
        self._records = records
        self.predictor: Any = None

    def load_context(self, context: Any) -> None:
        """Load the model folder shipped in the model's artifacts."""
        self.predictor = self._load(context.artifacts["model"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Prediction records for the texts (see the class docstring)."""
        texts = _texts(model_input)
        predictor = self.predictor
        proba = predictor.predict_proba(texts)
        decided = predictor.decide(proba)
        return pd.DataFrame(self._records(proba, decided, predictor.space))


def _texts(model_input: Any) -> list[str]:
    """The texts of a pyfunc input: the ``text`` column (else the only one) of a DataFrame."""
    if isinstance(model_input, pd.DataFrame):
        column = TEXT_COLUMN if TEXT_COLUMN in model_input.columns else model_input.columns[0]
        return [str(t) for t in model_input[column]]
    return [str(t) for t in model_input]


def log_model(
    client: mlflow.MlflowClient,
    uri: str,
    run_id: str,
    record: Mapping[str, Any],
    *,
    model_dir: Path,
    marker: str,
) -> None:
    """Log the model folder ``model_dir`` to the run ``run_id`` as a :class:`TextclfPyfunc`.

    Args:
        client: A client of the store at ``uri``.
        uri: The tracking URI (MLflow logs models through its fluent API only).
        run_id: The run the model belongs to.
        record: The journal's ``model`` record (``name``, ``task``, ``registered_model``).
        model_dir: The model folder, resolved.
        marker: ``<journal id>:<seq>`` of the record: a model tagged with it is not logged twice.

    Raises:
        TrackingError: the model folder is gone.
        MlflowException, requests exceptions: from the store.
    """
    name = str(record.get("name") or "model")
    experiment_id = client.get_run(run_id).info.experiment_id
    earlier = client.search_logged_models(
        experiment_ids=[experiment_id],
        filter_string=f"tags.`{MODEL_RECORD_TAG}` = '{marker}'",
        max_results=1,
    )
    if len(earlier) and str(earlier[0].status) == "READY":
        return  # logged by an earlier attempt: idempotent replay
    if not (model_dir / "config.json").is_file():
        raise TrackingError(
            f"{model_dir}: the model folder logged by this run is gone; the model is "
            "skipped (restore the folder and sync again to include it)."
        )
    sidecar_path = model_dir / "textclf.json"
    sidecar = json.loads(sidecar_path.read_text(encoding="utf-8")) if sidecar_path.is_file() else {}
    rule = DecisionRule.from_sidecar(sidecar).to_dict() if sidecar else {}
    # Created here rather than by log_model, which would file it under the fluent API's
    # active experiment instead of the run's; an attempt cut short is completed.
    logged = (
        earlier[0]
        if len(earlier)
        else client.create_logged_model(
            experiment_id, name=name, source_run_id=run_id, tags={MODEL_RECORD_TAG: marker}
        )
    )
    from mlflow.models import Model, ModelSignature
    from mlflow.types import ColSpec, Schema

    with tempfile.TemporaryDirectory(prefix="textclf-mlflow-") as tmp:
        files = _copy_model_files(model_dir, Path(tmp) / "model")
        entry = Path(tmp) / "textclf_model.py"
        entry.write_text(_ENTRY_POINT, encoding="utf-8")
        with _global_tracking_uri(uri), _quiet_validation():
            # Model.log is what mlflow.pyfunc.log_model forwards to; called directly,
            # it takes the run to link the model to (log_model only knows the fluent
            # API's active run).
            Model.log(
                artifact_path=None,
                name=name,
                flavor=mlflow.pyfunc,
                flavor_name="pyfunc.ModelFromCode",
                python_model=str(entry),
                artifacts={"model": str(files)},
                signature=ModelSignature(inputs=Schema([ColSpec("string", TEXT_COLUMN)])),
                # Saved as serving_input_example.json (the payload format), and tried
                # once here, so a model that cannot predict says so when it is logged.
                input_example=pd.DataFrame({TEXT_COLUMN: ["an example text to classify"]}),
                model_id=logged.model_id,
                run_id=run_id,
                registered_model_name=record.get("registered_model"),
                await_registration_for=60,
                pip_requirements=_pip_requirements(),
                metadata={
                    "textclf": {
                        "task": sidecar.get("task") or record.get("task"),
                        "labels": sidecar.get("labels"),
                        "decision_rule": rule,
                    }
                },
            )


def _copy_model_files(model_dir: Path, dest: Path) -> Path:
    """The model folder without run artefacts (evaluation, checkpoints, trials, journals)."""
    dest.mkdir(parents=True)
    for item in model_dir.iterdir():
        if item.name in _NOT_MODEL or item.name.startswith("."):
            continue
        if item.is_dir():
            shutil.copytree(item, dest / item.name)
        else:
            shutil.copy2(item, dest / item.name)
    return dest


def _pip_requirements() -> list[str]:
    """What ``mlflow models serve`` installs: textclf and the libraries that load the model."""
    reqs = [f"textclf=={__version__}"]
    for dist in ("transformers", "torch", "tokenizers", "safetensors", "pandas"):
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            reqs.append(dist)
            continue
        reqs.append(f"{dist}=={version.split('+')[0]}")  # no local tag such as +cpu
    return reqs


@contextlib.contextmanager
def _quiet_validation() -> Iterator[None]:
    """Keep the input example's trial run out of the terminal.

    Trying the example, MLflow copies the logged model back with a progress bar per file
    and loads it, and the Predictor then logs which backend it chose: lines that read as
    if the run were predicting again. Errors and warnings still show.
    """
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    previous = os.environ.get(key)
    os.environ[key] = "false"
    inference = logging.getLogger("textclf.inference")
    level = inference.level
    inference.setLevel(logging.WARNING)
    try:
        yield
    finally:
        inference.setLevel(level)
        if previous is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = previous


@contextlib.contextmanager
def _global_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API at ``uri`` for the block (``log_model`` only has that API)."""
    from mlflow.tracking._tracking_service import utils

    scoped = getattr(utils, "_use_tracking_uri", None)
    if scoped is not None:
        with scoped(uri):
            yield
        return
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)
