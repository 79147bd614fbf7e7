"""How one ``run_experiment`` call is tracked: settings → health check → run → final records.

The experiment calls, in order: :meth:`TrackingSession.check` before the output folder
is created (the health check; a down server means "record locally" unless
``tracking.required``), :meth:`~TrackingSession.begin` once the folder exists (the run
starts; config, data and tags are recorded), and :meth:`~TrackingSession.complete` after
the model folder is saved (final metrics with interval bounds, ``eval/`` and the model),
or :meth:`~TrackingSession.fail` when anything raised.

Example:
    >>> session = TrackingSession(ExperimentConfig(output_dir="runs/x"))  # doctest: +SKIP
    >>> session.check()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from textclf._version import __version__
from textclf.atomic import write_text_atomic
from textclf.config import DataConfig, ExperimentConfig
from textclf.data.formats import data_stem
from textclf.errors import TextclfError, TrackingError, missing_extra
from textclf.tracking.base import (
    DatasetRecord,
    NullTracker,
    RunStatus,
    Tracker,
    TrackingInfo,
    finite_metrics,
    flatten_params,
    metric_key,
    status_for,
)
from textclf.tracking.health import HealthReport, check_tracking, resolve_uri

logger = logging.getLogger(__name__)

ENV_SWITCH = "TEXTCLF_TRACKING"
"""``TEXTCLF_TRACKING=off`` turns tracking off whatever the config says (CI, tests)."""

RUN_FILE = "run.json"
# File names too generic to name an experiment: use the folder's name instead.
_GENERIC_STEMS = {"train", "training", "data", "dataset", "all", "full", "labelled", "labeled"}


class StopRun(Exception):
    """Raised (e.g. from a Trainer callback) to end a run on purpose before it finishes.

    A pruned hyperparameter trial is the case: its tracked run ends ``KILLED``, not
    ``FAILED``, so the tracker's UI does not show the search's pruning as crashes.
    """


def disabled_by_env() -> bool:
    """Whether ``TEXTCLF_TRACKING`` switches tracking off."""
    return os.environ.get(ENV_SWITCH, "").strip().lower() in {"0", "off", "false", "no"}


def default_experiment_name(data: DataConfig) -> str:
    """The experiment a run goes to when none is configured: named after its training data.

    ``data/banking77.csv`` → ``banking77``; ``banking77/train.csv`` → ``banking77`` (a
    generic file name gives way to its folder's); a hub dataset ``org/name`` →
    ``org-name``; data passed as objects → ``textclf``.

    Example:
        >>> default_experiment_name(DataConfig(train="corpora/banking77/train.csv"))
        'banking77'
    """
    train = data.train
    if not train:
        return "textclf"
    path = Path(train)
    if not path.exists() and not path.suffix:
        return train.strip("/").replace("/", "-") or "textclf"  # a hub dataset name
    name = data_stem(path) if path.suffix else path.name
    if name.lower() in _GENERIC_STEMS:
        parent = path.parent if str(path.parent) not in ("", ".") else path.resolve().parent
        name = parent.name or name
    return name or "textclf"


def git_commit(cwd: Path | None = None) -> tuple[str | None, bool]:
    """``(commit, has uncommitted changes)`` of the git checkout around ``cwd``, if any."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None, False
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None, False
    return head.stdout.strip() or None, bool(status.stdout.strip())


def evaluation_metrics(doc: Mapping[str, Any]) -> dict[str, float]:
    """Flat metrics from a ``metrics.json`` document, each with its interval bounds.

    ``<split>_<metric>`` with ``_lower``/``_upper``; per label ``<split>_<f1|precision|
    recall>/<label>``; at the plain 0.5 threshold ``<split>_at_0.5_<metric>``; baselines
    ``baseline_<kind>_<metric>``; the paired comparison ``<split>_vs_<baseline>_<metric>
    _difference`` and its p-values; the decision rule's temperature and validation ECE.

    Example:
        >>> evaluation_metrics({"split": "test", "metrics": {"f1_macro": {
        ...     "value": 0.8, "ci_low": 0.7, "ci_high": 0.9}}})
        {'test_f1_macro': 0.8, 'test_f1_macro_lower': 0.7, 'test_f1_macro_upper': 0.9}
    """
    split = str(doc.get("split") or "test")
    out: dict[str, Any] = {}

    def add(key: str, interval: Any) -> None:
        if isinstance(interval, Mapping):
            out[key] = interval.get("value")
            out[f"{key}_lower"] = interval.get("ci_low")
            out[f"{key}_upper"] = interval.get("ci_high")

    for name, interval in (doc.get("metrics") or {}).items():
        add(f"{split}_{name}", interval)
    for label, scores in (doc.get("per_label") or {}).items():
        for kind in ("precision", "recall", "f1"):
            add(f"{split}_{kind}/{label}", scores.get(kind))
        out[f"{split}_support/{label}"] = scores.get("support")
    for name, interval in ((doc.get("at_default_threshold") or {}).get("metrics") or {}).items():
        add(f"{split}_at_0.5_{name}", interval)
    for kind, baseline in (doc.get("baselines") or {}).items():
        for name, interval in (baseline.get("metrics") or {}).items():
            add(f"baseline_{kind}_{name}", interval)
    comparison = doc.get("comparison")
    if comparison:
        key = f"{split}_vs_{comparison['baseline']}_{comparison['metric']}"
        add(f"{key}_difference", comparison.get("difference"))
        out[f"{key}_p_value"] = comparison.get("p_value")
        out[f"{key}_mcnemar_p_value"] = comparison.get("mcnemar_p_value")
    rule = (doc.get("thresholds") or {}).get("decision_rule") or {}
    out["decision_temperature"] = rule.get("temperature")
    out["validation_ece_before"] = rule.get("validation_ece_before")
    out["validation_ece_after"] = rule.get("validation_ece_after")
    out[f"{split}_n_examples"] = doc.get("n_examples")
    return {metric_key(k): v for k, v in finite_metrics(out).items()}


#: The files of ``eval/`` that hold no text of the data (metrics, the training log, label
#: pairs, figures): all that is uploaded unless ``tracking.log_texts`` is set.
TEXT_FREE = ("metrics.json", "metrics.md", "log_history.json", "confused_pairs.csv", "figures")


class TrackingSession:
    """Tracking of one experiment run (see the module docstring).

    Args:
        config: The experiment config (``config.tracking`` decides the backend).
        tracker: A tracker with an open run (e.g. a hyperparameter search's): this run is
            recorded as its nested child, and no health check is repeated.
    """

    def __init__(self, config: ExperimentConfig, *, tracker: Tracker | None = None):
        self.config = config
        self.tracker: Tracker = NullTracker()
        self._parent = tracker
        self._open = False
        self._info: TrackingInfo | None = None

    @property
    def active(self) -> bool:
        """Whether this run is recorded anywhere."""
        return not isinstance(self.tracker, NullTracker)

    def check(self) -> HealthReport | None:
        """Choose the tracker and check its store; call before the output folder exists.

        Returns:
            The health report (MLflow), or ``None`` when tracking is off or not MLflow.

        Raises:
            TrackingError: when the check fails and ``tracking.required`` is set.
            MissingExtraError: when the backend's package is missing although a tracking
                setting asks for it.
        """
        cfg = self.config.tracking
        if self._parent is not None:
            self.tracker = self._parent
            return None
        if not cfg.enabled or disabled_by_env():
            return None
        output = Path(self.config.output_dir or ".")
        experiment = cfg.experiment or default_experiment_name(self.config.data)
        if cfg.backend == "wandb":
            from textclf.tracking.wandb import WandbTracker

            self.tracker = WandbTracker(experiment, local_dir=output / "tracking")
            return None
        try:
            import mlflow  # noqa: F401
        except ImportError as e:
            asked = cfg.uri or os.environ.get("MLFLOW_TRACKING_URI") or cfg.registered_model
            if asked or cfg.required:
                raise missing_extra("mlflow", "tracking") from e
            logger.info(
                "Run not tracked: MLflow is not installed (pip install 'textclf[tracking]')."
            )
            return None
        uri = resolve_uri(cfg.uri)
        report = check_tracking(uri, experiment, timeout=min(5.0, cfg.timeout_s))
        if report.ok:
            logger.info("Tracking: %s", report.message)
        elif cfg.required:
            raise TrackingError(
                f"tracking check failed: {report.message} (tracking.required is set; unset it "
                "to train anyway and push the records later with 'textclf tracking sync')"
            )
        else:
            logger.warning(
                "Tracking: %s Training goes on; the run is recorded in %s and can be pushed "
                "later with 'textclf tracking sync %s'.",
                report.message,
                output / "tracking",
                output,
            )
        from textclf.tracking.mlflow import MlflowTracker

        self.tracker = MlflowTracker(
            uri,
            experiment,
            local_dir=output / "tracking",
            online=report.ok,
            timeout=cfg.timeout_s,
        )
        return report

    def begin(
        self,
        output_dir: Path,
        *,
        resume: bool,
        task: str,
        labels: Sequence[str],
        datasets: Sequence[DatasetRecord],
    ) -> None:
        """Start the run and record the config, the data and the tags."""
        if not self.active:
            return
        cfg = self.config.tracking
        output = Path(output_dir)
        tags = {
            "textclf.version": __version__,
            "textclf.task": task,
            "textclf.backbone": self.config.model.name,
            "textclf.output_dir": str(output.resolve()),
            "mlflow.source.name": "textclf",
            "mlflow.source.type": "LOCAL",
            **cfg.tags,
        }
        with contextlib.suppress(OSError, KeyError):  # no user name in some containers
            tags["mlflow.user"] = getpass.getuser()
        commit, dirty = git_commit()
        if commit:
            tags.update(
                {"mlflow.source.git.commit": commit, "textclf.git_dirty": str(dirty).lower()}
            )
        name = cfg.run_name or output.resolve().name
        key = self._resume_key(output) if resume else None
        try:
            self.tracker.start_run(name, nested=self._parent is not None, tags=tags, resume=key)
        except TextclfError as e:
            logger.warning("Cannot continue the tracked run %s (%s); starting a new one.", key, e)
            self.tracker.start_run(name, nested=self._parent is not None, tags=tags)
        self._open = True
        info = self.tracker.info()
        write_text_atomic(
            output / "tracking" / RUN_FILE,
            json.dumps({"backend": info.backend, "key": info.key}, indent=1) + "\n",
        )
        params = flatten_params(self.config.public_dump(texts=self.config.tracking.log_texts))
        params.update(
            {
                "data.resolved_task": task,
                "data.num_labels": str(len(labels)),
                "data.labels": json.dumps(list(labels), ensure_ascii=False),
            }
        )
        params.update({f"data.size.{d.name}": str(d.num_rows) for d in datasets})
        self.tracker.log_params(params)
        for dataset in datasets:
            self.tracker.log_dataset(dataset)

    def complete(
        self, output_dir: Path, evaluation: Mapping[str, Any], *, task: str
    ) -> dict[str, Any]:
        """Record the final metrics, ``eval/``, the model card and the model; end the run.

        Returns:
            :meth:`summary`.
        """
        if not self._open:
            return self.summary()
        cfg = self.config.tracking
        output = Path(output_dir)
        tracker = self.tracker
        if evaluation:
            tracker.log_metrics(evaluation_metrics(evaluation))
        if (output / "eval").is_dir():
            if cfg.log_texts:
                tracker.log_artifacts(output / "eval", artifact_path="eval")
            else:  # only what holds no text of the data leaves the machine
                for name in TEXT_FREE:
                    if (output / "eval" / name).exists():
                        folder = "eval/" + name if (output / "eval" / name).is_dir() else "eval"
                        tracker.log_artifacts(output / "eval" / name, artifact_path=folder)
        for name in ("README.md", "config.yaml", "textclf.json"):
            if (output / name).is_file():
                tracker.log_artifacts(output / name)
        if cfg.log_model:
            tracker.log_model(output, task=task, registered_model=cfg.registered_model)
        elif cfg.registered_model:
            logger.warning(
                "tracking.registered_model is set but log_model is off: nothing registered."
            )
        self._info = tracker.end_run("FINISHED")
        self._open = False
        return self.summary()

    def fail(self, error: BaseException) -> None:
        """End the run as FAILED (KILLED on Ctrl-C or :class:`StopRun`); never raises."""
        if not self._open:
            return
        self._open = False
        status: RunStatus = "KILLED" if isinstance(error, StopRun) else status_for(error)
        try:
            self._info = self.tracker.end_run(status)
        except Exception as e:  # the original error matters more
            logger.warning("Could not mark the tracked run as failed (%s).", e)

    def end(self) -> dict[str, Any]:
        """End the run FINISHED without the final records (no model folder to record).

        A search whose best model was trained on another machine ends this way.

        Returns:
            :meth:`summary`.
        """
        if self._open:
            self._open = False
            self._info = self.tracker.end_run("FINISHED")
        return self.summary()

    def summary(self) -> dict[str, Any]:
        """Where the run was recorded (``TrackingInfo`` as a dict); ``{}`` when not tracked."""
        if self._info is not None:
            return self._info.to_dict()
        return self.tracker.info().to_dict() if self.active else {}

    def _resume_key(self, output: Path) -> str | None:
        path = output / "tracking" / RUN_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return None
        if data.get("backend") != self.tracker.info().backend:
            return None
        key = data.get("key")
        return str(key) if key else None
