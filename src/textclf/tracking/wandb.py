"""Weights & Biases backend behind the same ``Tracker`` protocol.

Without an API key (no ``WANDB_API_KEY``, no ``wandb login``) and no ``WANDB_MODE``, runs
are recorded in offline mode: everything is written under ``<run folder>/tracking/wandb``
and ``wandb sync`` uploads it later, so no account is needed to start. W&B's own offline
store plays the part of MLflow's journal here; if an online ``wandb.init`` fails, the run
falls back to offline mode instead of stopping training.

Mapping: parameters → ``run.config``; step metrics → ``run.log(step=…)``; final metrics
(no step) → ``run.summary``; tags → run tags ``key:value`` (cut to W&B's 64 characters)
and ``config["tags"]``; datasets, artifacts and the model → W&B artifacts; nested runs
share the parent's group. This module imports wandb at import time.
"""

from __future__ import annotations

import logging
import netrc
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from textclf.errors import missing_extra
from textclf.tracking.base import (
    DatasetRecord,
    RunStack,
    RunStatus,
    TrackingInfo,
    finite_metrics,
    flatten_params,
)

try:
    import wandb
except ImportError as e:  # pragma: no cover - depends on the installed extras
    raise missing_extra("wandb", "wandb") from e

logger = logging.getLogger(__name__)

_ARTIFACT_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
# Files of the model folder that make up the model (not eval/, tracking/, checkpoints/).
_MODEL_SKIP_DIRS = {"eval", "tracking", "checkpoints"}


def has_api_key() -> bool:
    """Whether W&B credentials are configured (environment or ``~/.netrc``)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlsplit(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or ""
    try:
        return netrc.netrc().authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def resolve_mode() -> str:
    """``WANDB_MODE`` when set; else ``online`` with credentials and ``offline`` without."""
    mode = os.environ.get("WANDB_MODE")
    if mode:
        return mode
    return "online" if has_api_key() else "offline"


def _artifact_name(text: str) -> str:
    return _ARTIFACT_NAME_UNSAFE.sub("-", text).strip("-")[:120] or "artifact"


class WandbTracker(RunStack[Any]):
    """Records runs in Weights & Biases (see the module docstring).

    Args:
        project: W&B project (textclf's experiment name).
        local_dir: Where W&B writes its files (unless ``WANDB_DIR`` is set).
        mode: ``online``, ``offline`` or ``disabled``; default :func:`resolve_mode`.
        entity: W&B entity (team or user); default W&B's own (``WANDB_ENTITY``).
    """

    backend = "wandb"

    def __init__(
        self,
        project: str,
        *,
        local_dir: Path,
        mode: str | None = None,
        entity: str | None = None,
    ):
        super().__init__()
        self.project = project
        self.local_dir = Path(local_dir)
        self.mode = mode or resolve_mode()
        self.entity = entity
        self._last: TrackingInfo | None = None
        self._warned = False

    def _open_run(
        self, name: str | None, *, parent: Any, tags: Mapping[str, str], resume: str | None
    ) -> Any:
        kwargs: dict[str, Any] = {
            "project": self.project,
            "entity": self.entity,
            "name": name,
            "mode": self.mode,
            "reinit": "create_new",
            "job_type": "trial" if parent is not None else "train",
            "group": (parent.group or parent.id) if parent is not None else None,
            "config": {"tags": dict(tags)},
            "tags": self._tag_list(tags),
        }
        if not os.environ.get("WANDB_DIR"):
            self.local_dir.mkdir(parents=True, exist_ok=True)
            kwargs["dir"] = str(self.local_dir)
        if resume:
            kwargs.update(id=resume, resume="allow")
        try:
            run = wandb.init(**kwargs)
        except Exception as e:
            if self.mode == "offline":
                raise
            # The W&B server is unreachable or refused the key: keep the run on disk.
            logger.warning(
                "W&B could not start an online run (%s); recording offline instead: push "
                "it later with 'wandb sync'.",
                e,
            )
            self.mode = kwargs["mode"] = "offline"
            run = wandb.init(**kwargs)
        return run

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._call(lambda run: run.config.update(flatten_params(params), allow_val_change=True))

    def log_metrics(self, metrics: Mapping[str, float], *, step: int | None = None) -> None:
        values = finite_metrics(metrics)
        if not values:
            return
        if step is None:
            self._call(lambda run: run.summary.update(values))
        else:
            self._call(lambda run: run.log(values, step=step))

    def set_tags(self, tags: Mapping[str, str]) -> None:
        def update(run: Any) -> None:
            run.tags = tuple(dict.fromkeys([*run.tags, *self._tag_list(tags)]))
            known = dict(run.config.get("tags") or {})
            run.config.update({"tags": {**known, **tags}}, allow_val_change=True)

        self._call(update)

    def log_dataset(self, dataset: DatasetRecord) -> None:
        def log(run: Any) -> None:
            artifact = wandb.Artifact(
                _artifact_name(f"{self.project}-{dataset.name}"),
                type="dataset",
                metadata={
                    "context": dataset.context,
                    "fingerprint": dataset.fingerprint,
                    "num_rows": dataset.num_rows,
                    "source": dataset.source,
                },
            )
            source = Path(dataset.source)
            if source.is_file():
                artifact.add_reference(source.resolve().as_uri())
            run.log_artifact(artifact, aliases=[dataset.context])

        self._call(log)

    def log_artifacts(self, local_path: Path, *, artifact_path: str | None = None) -> None:
        path = Path(local_path)

        def log(run: Any) -> None:
            artifact = wandb.Artifact(
                _artifact_name(f"{run.id}-{artifact_path or path.name}"), type="evaluation"
            )
            if path.is_dir():
                artifact.add_dir(str(path), name=artifact_path)
            else:
                name = f"{artifact_path}/{path.name}" if artifact_path else path.name
                artifact.add_file(str(path), name=name)
            run.log_artifact(artifact)

        self._call(log)

    def log_model(self, model_dir: Path, *, task: str, registered_model: str | None = None) -> None:
        folder = Path(model_dir)

        def log(run: Any) -> None:
            artifact = wandb.Artifact(
                _artifact_name(registered_model or f"model-{run.id}"),
                type="model",
                metadata={"task": task, "library": "textclf"},
            )
            for item in sorted(folder.iterdir()):
                if item.is_file():
                    artifact.add_file(str(item))
                elif item.is_dir() and item.name not in _MODEL_SKIP_DIRS:
                    artifact.add_dir(str(item), name=item.name)
            run.log_artifact(artifact, aliases=["latest"])
            if registered_model and self.mode == "online":
                run.link_artifact(artifact, f"model-registry/{registered_model}")
            elif registered_model:
                logger.warning(
                    "W&B is offline: the model is logged as artifact '%s'; link it to the "
                    "registry after 'wandb sync'.",
                    artifact.name,
                )

        self._call(log)

    def end_run(self, status: RunStatus = "FINISHED") -> TrackingInfo:
        if not self._stack:
            return self.info()
        info = self.info()
        run = self._stack.pop()
        try:
            run.finish(exit_code=0 if status == "FINISHED" else 1)
        except Exception as e:
            logger.warning("W&B could not finish run %s cleanly (%s).", run.id, e)
        if info.fallback:
            logger.info(
                "W&B run kept offline in %s; upload it with: %s", info.fallback, info.sync_command
            )
        self._last = info
        return info

    def info(self) -> TrackingInfo:
        if not self._stack:
            return self._last or TrackingInfo(
                backend=self.backend, uri=self.mode, experiment=self.project
            )
        run = self._stack[-1]
        offline = self.mode == "offline"
        sync_dir = str(getattr(run.settings, "sync_dir", "") or "") or None
        return TrackingInfo(
            backend=self.backend,
            uri=self.mode,
            experiment=self.project,
            run_id=run.id,
            key=run.id,
            fallback=sync_dir if offline else None,
            sync_command=f"wandb sync {sync_dir}" if offline and sync_dir else None,
            ui_hint=run.url
            or (f"wandb sync {sync_dir}, then open the run on wandb.ai" if sync_dir else None),
        )

    def _call(self, action: Any) -> None:
        if not self._stack:
            raise RuntimeError("no open run: call start_run first")
        try:
            action(self._stack[-1])
        except Exception as e:  # a tracker never stops training
            if not self._warned:
                self._warned = True
                logger.warning("W&B failed to record (%s); training goes on.", e)

    @staticmethod
    def _tag_list(tags: Mapping[str, str]) -> list[str]:
        return [f"{k}:{v}"[:64] for k, v in tags.items()]
