"""The on-disk model folder: save and load.

```
model/
  config.json          architectures, id2label, label2id, problem_type (set explicitly)
  model.safetensors    never pickles
  tokenizer files
  textclf.json         task, label order, thresholds, temperature, metrics, data, versions
  config.yaml          the resolved experiment config
  README.md            model card
```

Plain ``transformers.pipeline("text-classification", model=folder)`` loads it and
returns the right label names (sigmoid scores for multi-label, from ``problem_type``).
``textclf.json`` holds only what Hugging Face has no slot for, and is written last: a
folder without it is incomplete (a crash mid-save) and is refused.

Example:
    >>> model, tokenizer, info = load_model_folder("runs/demo")  # doctest: +SKIP
    >>> info.labels  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from textclf.atomic import make_temp_dir, public_mode, write_text_atomic
from textclf.data.labels import LabelSpace
from textclf.errors import ConfigError, ModelLoadError
from textclf.evaluation.decision import DecisionRule
from textclf.faults import fail_point

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

SIDECAR = "textclf.json"
#: A training run's state file in its output folder (see :mod:`textclf.run_folder`).
RUN_STATE = ".textclf-run.json"
_RUN_LOCK = ".textclf.lock"


RunState = Literal["empty", "running", "finished"]


def run_state(folder: str | os.PathLike[str]) -> RunState:
    """``empty`` (nothing there), ``running`` (started, not finished) or ``finished``: the
    state of the training run whose ``--output`` is ``folder``.

    Here, below the run folder's own module, so that loading a model can tell an
    unfinished run from a folder that is no model at all.
    """
    path = Path(folder)
    if not path.is_dir() or not any(p.name != _RUN_LOCK for p in path.iterdir()):
        return "empty"
    state_file = path / RUN_STATE
    if state_file.is_file():
        try:
            status = json.loads(state_file.read_text(encoding="utf-8")).get("status")
        except (json.JSONDecodeError, AttributeError):
            status = None
        return "finished" if status == "finished" else "running"
    # Folders written before the state file existed: finished when the model is there.
    return "finished" if (path / SIDECAR).is_file() else "running"


# Left in a folder whose weights were deleted on purpose (``tune`` drops its losing
# trials' weights); holds the one-line reason and fix that loading reports.
WEIGHTS_REMOVED = "WEIGHTS-REMOVED.txt"
FORMAT_VERSION = 2


@dataclass
class ModelInfo:
    """The contents of ``textclf.json``.

    Attributes:
        task: ``binary``, ``multiclass`` or ``multilabel``.
        labels: Label order (= ``id2label`` order = probability columns).
        rule: The decision rule (temperature, thresholds, abstention): the one stored copy.
        max_length: Tokeniser truncation length used in training.
        backbone: The pretrained checkpoint that was fine-tuned: ``name``, ``source``,
            ``revision`` or ``sha256`` of its weights (see ``modeling.describe_backbone``).
        metrics: Summary of the final evaluation; ``stale`` says why it no longer applies.
        data: Data fingerprints and split sizes.
        training: Run facts (runtime, steps, device, best checkpoint metric).
        versions: Library versions at save time.
    """

    task: str
    labels: list[str]
    rule: DecisionRule = field(default_factory=DecisionRule)
    max_length: int = 128
    backbone: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        self.rule.task = self.task

    @property
    def space(self) -> LabelSpace:
        return LabelSpace(self.task, tuple(self.labels))  # type: ignore[arg-type]

    @property
    def backbone_name(self) -> str:
        """A short name of the backbone for display ("" when unknown)."""
        return str(self.backbone.get("name") or self.backbone.get("path") or "")

    @property
    def served_backbone(self) -> dict[str, Any]:
        """The backbone as a server shows it: without ``path``, a folder on the machine
        that trained the model (security review)."""
        return {k: v for k, v in self.backbone.items() if k != "path"}

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "rule"}
        data["decision_rule"] = self.rule.to_dict()
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=json_default) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        """Read any ``textclf.json`` version (format 1 kept the rule in flat keys)."""
        rule = DecisionRule.from_sidecar(data)
        backbone = data.get("backbone") or {}
        if isinstance(backbone, str):  # format 1: the name as given to --model
            backbone = {"name": backbone}
        known = {
            k: v
            for k, v in data.items()
            if k in cls.__dataclass_fields__ and k not in ("rule", "backbone", "format_version")
        }
        return cls(rule=rule, backbone=backbone, **known)


def json_default(value: Any) -> Any:
    """``json.dumps(default=…)`` for numpy scalars and arrays in metrics and sidecars."""
    if isinstance(value, np.floating | np.integer):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def library_versions() -> dict[str, str]:
    """Versions that decide whether a saved model loads and predicts the same."""
    import datasets
    import torch
    import transformers

    from textclf._version import __version__

    return {
        "textclf": __version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "datasets": datasets.__version__,
        "python": platform.python_version(),
    }


def save_model_folder(
    directory: str | os.PathLike[str],
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    info: ModelInfo,
    *,
    config_yaml: str | None = None,
    model_card: str | None = None,
) -> Path:
    """Write the model folder.

    Files are first written into a temporary folder beside their destination, then each
    is renamed into place, and ``textclf.json`` goes last; so a crash never leaves a
    folder that looks complete but is not. Other contents of ``directory`` (checkpoints,
    ``eval/``) are left alone.

    Returns:
        The folder path.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    info.created = info.created or datetime.now(UTC).isoformat(timespec="seconds")
    info.versions = info.versions or library_versions()
    # Keep the config labels in step with the sidecar, whatever the model was built with.
    model.config.id2label = dict(enumerate(info.labels))
    model.config.label2id = {name: i for i, name in enumerate(info.labels)}
    model.config.problem_type = info.space.problem_type  # type: ignore[assignment]
    tmp = make_temp_dir(target, ".saving-")
    try:
        from textclf.modeling import quiet_transformers

        with quiet_transformers():
            model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if config_yaml is not None:
            (tmp / "config.yaml").write_text(config_yaml, encoding="utf-8")
        if model_card is not None:
            (tmp / "README.md").write_text(model_card, encoding="utf-8")
        for item in tmp.rglob("*"):
            # transformers writes the weights through a private (0600) temporary file:
            # give every file the mode the umask gives, so others can load the model.
            public_mode(item)
        (target / SIDECAR).unlink(missing_ok=True)  # the folder is incomplete from here on
        for item in tmp.iterdir():
            dest = target / item.name
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            os.replace(item, dest)
        fail_point("final_save")
        write_text_atomic(target / SIDECAR, info.to_json())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("Saved model folder %s.", target)
    return target


def read_info(directory: str | os.PathLike[str]) -> ModelInfo:
    """Read ``textclf.json``, or derive it from ``config.json`` for a plain HF classifier.

    Raises:
        ModelLoadError: for a missing or incomplete folder.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: model folder not found; check the --model path.")
    sidecar = folder / SIDECAR
    if sidecar.is_file():
        try:
            data = json.loads(sidecar.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ModelLoadError(
                f"{sidecar} line {e.lineno}: not valid JSON ({e.msg}); copy the model folder again from where it was saved, or retrain."
            ) from e
        try:
            return ModelInfo.from_dict(data)
        except (KeyError, TypeError, ValueError) as e:
            raise ModelLoadError(
                f"{sidecar}: not a textclf.json this version can read ({e}); re-save the model "
                "with this version of textclf."
            ) from e
    config_path = folder / "config.json"
    # An unfinished run has no textclf.json yet; weights and config.json may already be
    # there (a run stopped while saving its model, or resumed and not done), and without
    # the decision rule they would be used with the plain one (crash review D3).
    if (folder / RUN_STATE).is_file() and run_state(folder) == "running":
        raise ModelLoadError(
            f"{folder}: this training run has not finished, so there is no model yet; "
            "finish it with the same 'textclf train' command and --resume."
        )
    if not config_path.is_file():
        raise ModelLoadError(
            f"{folder}: not a model folder (no {SIDECAR} or config.json); give the --output "
            "folder of 'textclf train'."
        )
    if any(folder.glob(".saving-*")):
        raise ModelLoadError(
            f"{folder}: the model was not saved completely (the run stopped while saving); "
            "run training again, with --resume to reuse its checkpoints."
        )
    config = json.loads(config_path.read_text(encoding="utf-8"))
    id2label = config.get("id2label") or {}
    if not id2label:
        raise ModelLoadError(f"{config_path}: no id2label, so the label names are unknown.")
    labels = [id2label[k] for k in sorted(id2label, key=int)]
    multilabel = config.get("problem_type") == "multi_label_classification"
    task = "multilabel" if multilabel else ("binary" if len(labels) == 2 else "multiclass")
    return ModelInfo(task=task, labels=labels, backbone={"path": str(folder)})


def load_model_folder(
    directory: str | os.PathLike[str],
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, ModelInfo]:
    """Load a model folder: weights from safetensors only, never remote code.

    Returns:
        ``(model, tokenizer, info)``; the model is in eval mode on the CPU.

    Raises:
        ModelLoadError: for a missing, incomplete or unreadable folder.
    """
    from transformers import AutoTokenizer

    from textclf.modeling import load_classifier

    folder = Path(directory)
    has_weights = (folder / "model.safetensors").is_file() or any(
        folder.glob("model-*.safetensors")
    )
    removed = folder / WEIGHTS_REMOVED
    if not has_weights and removed.is_file():
        raise ModelLoadError(f"{folder}: {removed.read_text(encoding='utf-8').strip()}")
    info = read_info(folder)
    if not has_weights:
        raise ModelLoadError(
            f"{folder}: no model.safetensors; textclf loads safetensors weights only "
            "(re-save the model with save_pretrained(safe_serialization=True))."
        )
    model = load_classifier(folder)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{folder}: cannot load the tokenizer ({e}).") from e
    return model, tokenizer, info


# Folders never searched for models: checkpoints hold weights but are not finished models.
_SKIP = {"checkpoints", "eval", ".git", "__pycache__", "node_modules", ".venv"}


def is_model_folder(path: Path, *, strict: bool = True) -> bool:
    """A finished textclf model folder (``textclf.json``); with ``strict=False`` also a
    plain Hugging Face classifier folder (``config.json`` and safetensors weights)."""
    if (path / "textclf.json").is_file():
        return True
    return not strict and (path / "config.json").is_file() and any(path.glob("model*.safetensors"))


def discover_models(paths: Iterable[str | os.PathLike[str]], *, depth: int = 2) -> list[Path]:
    """Model folders among ``paths``: each path itself, or the model folders below it.

    A path given directly may be a plain Hugging Face folder; below a path only folders
    with ``textclf.json`` count (so training checkpoints are not offered).

    Args:
        paths: Folders given by the user.
        depth: How many levels below each path to search.

    Returns:
        Model folders, in the order given, sorted by name below each path; no duplicates.

    Raises:
        ConfigError: a path does not exist, or no model folder is found at all.
    """
    found: list[Path] = []
    given = [Path(p).expanduser() for p in paths]
    for root in given:
        if not root.is_dir():
            raise ConfigError(
                f"{root}: model folder not found; pass the --output folder of 'textclf train'."
            )
        if is_model_folder(root, strict=False):
            found.append(root)
            continue
        level = [root]
        for _ in range(depth):
            children = sorted(
                c
                for d in level
                for c in d.iterdir()
                if c.is_dir() and c.name not in _SKIP and not c.name.startswith(".")
            )
            found += [c for c in children if is_model_folder(c)]
            level = [c for c in children if not is_model_folder(c)]
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        where = ", ".join(str(p) for p in given) or "(none given)"
        raise ConfigError(
            f"no model folder found in {where}; pass a folder made by 'textclf train' with "
            "--model (or in TEXTCLF_APP_MODELS)."
        )
    return unique
