"""The Hugging Face Trainer, assembled: tokenisation, collator, sampler, loss, callbacks, OOM back-off.

Why it is fast on a CPU: texts are tokenised once without padding (cached by ``datasets``),
batches are padded only to their own longest text (``DataCollatorWithPadding``), and
batches are built from texts of similar length (:class:`ShuffledLengthGroupedSampler`) and
served in random order, so little compute is spent on padding tokens.

Example:
    >>> result = train_model(model, tokenizer, space, train_ds, val_ds, cfg.train,
    ...                      output_dir=Path("out/checkpoints"), seed=42)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch
from transformers import (
    DataCollatorWithPadding,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PrinterCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

from textclf.config import AUTO_BATCH_STEPS, TrainConfig
from textclf.data.io import quiet_datasets
from textclf.data.labels import LabelSpace
from textclf.errors import OutputLostError
from textclf.evaluation.calibration import apply_temperature
from textclf.evaluation.metrics import (
    check_metric,
    classification_metrics,
    greater_is_better,
    headline_metric,
)
from textclf.faults import fail_point
from textclf.modeling import quiet_transformers
from textclf.progress import quiet
from textclf.training.callbacks import (
    DegenerationGuard,
    FloorEarlyStopping,
    ProgressCallback,
    prediction_collapse,
)
from textclf.training.checkpoints import (
    CompleteCheckpointCallback,
    checkpoint_record,
    latest_complete_checkpoint,
)
from textclf.training.resources import (
    Resources,
    free_accelerator_memory,
    is_main_process,
    is_out_of_memory,
    select_resources,
    world,
)
from textclf.training.warm_start import freeze_bottom, warm_start

logger = logging.getLogger(__name__)


def tokenize(
    dataset: datasets.Dataset,
    tokenizer: PreTrainedTokenizerBase,
    space: LabelSpace | None,
    *,
    max_length: int,
    desc: str = "Tokenizing",
) -> datasets.Dataset:
    """Tokenise canonical rows (``text``, ``labels``) into model inputs, without padding.

    Args:
        dataset: Canonical rows from :mod:`textclf.data.io`.
        tokenizer: A fast tokenizer.
        space: Encodes ``labels`` into ids / multi-hot rows; ``None`` drops labels.
        max_length: Longer texts are truncated.
        desc: Progress-bar label.

    Returns:
        Columns ``input_ids``, ``attention_mask`` (and ``token_type_ids`` where the
        tokenizer makes them), ``length`` and, with ``space``, ``labels``.
    """

    def encode(batch: dict[str, list[Any]]) -> dict[str, Any]:
        enc = tokenizer(batch["text"], truncation=True, max_length=max_length)
        out: dict[str, Any] = dict(enc)
        out["length"] = [len(ids) for ids in enc["input_ids"]]
        if space is not None:
            out["labels"] = space.encode(batch["labels"]).tolist()
        return out

    # datasets draws its own bar: -q (TEXTCLF_QUIET) silences it as it does textclf's.
    with quiet_datasets() if quiet() else contextlib.nullcontext():
        return dataset.map(
            encode,
            batched=True,
            batch_size=1000,
            remove_columns=dataset.column_names,
            desc=desc,
        )


def class_weights(space: LabelSpace, encoded: np.ndarray, mode: str) -> np.ndarray | None:
    """Loss weights for imbalance: per class (cross-entropy) or ``pos_weight`` (BCE).

    ``balanced`` is scikit-learn's ``n / (k * count)`` for classes and ``negatives /
    positives`` per label; ``sqrt`` takes their square root, a milder correction that
    often gives better macro-F1 on long-tailed data (Mikolov et al. 2013 used the same
    damping for word frequencies). Capped at 100 so one near-empty label cannot dominate.

    Args:
        space: Task and labels.
        encoded: ``(n,)`` ids or ``(n, k)`` multi-hot training labels.
        mode: ``auto``, ``none``, ``balanced`` or ``sqrt``.

    Returns:
        ``(k,)`` float32 weights, or ``None`` for ``none``.
    """
    if mode == "auto":
        # Measured on GoEmotions (28 labels, most under 5 % positive): without pos_weight
        # the negatives dominate BCE and the model predicts no label for hundreds of steps;
        # sqrt(neg/pos) learns much faster without balanced's flood of false positives.
        # Single-label cross-entropy has no such collapse, so it stays unweighted.
        mode = "sqrt" if space.multilabel else "none"
    if mode == "none":
        return None
    if space.multilabel:
        pos = encoded.sum(axis=0)
        weights = (len(encoded) - pos) / np.maximum(pos, 1)
    else:
        counts = np.bincount(encoded, minlength=space.num_labels)
        weights = len(encoded) / (space.num_labels * np.maximum(counts, 1))
    if mode == "sqrt":
        weights = np.sqrt(weights)
    return np.clip(weights, 0, 100).astype(np.float32)


# Top-level module names of the classification head across encoder families
# (BERT/RoBERTa/DeBERTa: classifier; DistilBERT: pre_classifier + classifier).
_HEAD_MODULES = {"classifier", "pre_classifier", "score", "pooler"}


_LAYER = re.compile(r"\.layers?\.(\d+)\.")


def _is_head(name: str) -> bool:
    return name.split(".")[0] in _HEAD_MODULES or ".pooler." in name or name.startswith("pooler.")


def _count_layers(model: torch.nn.Module) -> int:
    found = [int(m.group(1)) for name, _ in model.named_parameters() if (m := _LAYER.search(name))]
    return max(found) + 1 if found else 0


def _lr_scale(name: str, n_layers: int, head: float, layer_decay: float) -> float:
    """Learning-rate factor of one parameter: ``head`` for the head, decayed by depth otherwise."""
    if _is_head(name):
        return head
    if layer_decay == 1.0 or n_layers == 0:
        return 1.0
    match = _LAYER.search(name)
    # Layer i of n sits n-1-i layers below the top; embeddings (no layer index) below them all.
    depth = n_layers - int(match.group(1)) if match else n_layers + 1
    return float(layer_decay ** (depth - 1)) if match else float(layer_decay**n_layers)


class ShuffledLengthGroupedSampler(LengthGroupedSampler):
    """Length-grouped batches in random order: little padding, no length trend within an epoch.

    Hugging Face's ``LengthGroupedSampler`` sorts each mega-batch of 50 batches by length and
    yields its batches longest first, so every epoch sweeps long -> short texts a few times.
    With one epoch on 4,000 SST-2 sentences (batch 32, lr 1e-4) that order cost dev accuracy:
    0.765 at seed 44 against 0.829 with plain random batches. Here each mega-batch holds 8
    batches (texts of similar length still share a batch) and the batches are then shuffled,
    as bucket iterators do (fairseq, AllenNLP); seeds 42-44 gave 0.839 / 0.828 / 0.823,
    random batches 0.818 / 0.819 / 0.829, at half the time of random batches. No sampler
    library does this for the HF Trainer (torchnlp's BucketBatchSampler would be a whole
    package for ten lines), so it is written here on top of HF's own grouping function.
    The first batch stays first: HF's grouping puts the longest text in it, so memory runs
    out at step one or not at all.
    """

    MEGA_BATCH_MULT = 8

    def __iter__(self) -> Iterator[int]:
        indices = get_length_grouped_indices(
            self.lengths, self.batch_size, self.MEGA_BATCH_MULT, generator=self.generator
        )
        size = self.batch_size
        batches = [indices[i : i + size] for i in range(0, len(indices), size)]
        order = [0, *(torch.randperm(len(batches) - 1, generator=self.generator) + 1).tolist()]
        return iter([i for b in order for i in batches[b]])


# Training on a CPU with attention dropout off (``model.attention_dropout``, 0 on small data),
# PyTorch's scaled-dot-product attention takes its fused (flash) kernel, whose per-call
# cost shows on short batches. Measured ms per optimizer step, 2-core AVX512-BF16 EPYC,
# bf16, MiniLM-L6 (fused / plain matmul-softmax / plain with dropout 0.1):
# batch 32 x 24 tokens 219 / 164 / 175, 32 x 64 tokens 457 / 376 / 441,
# batch 8 x 230 tokens 436 / 455 / 720. So CPU batches up to this many tokens take the
# plain path; longer ones the fused kernel. (With dropout on, the CPU always takes the
# plain path: the fused kernel has none.)
_CPU_PLAIN_ATTENTION_MAX_TOKENS = 128


def _attention_kernel(input_ids: torch.Tensor | None, device: torch.device) -> Any:
    """The SDPA backend context for one training batch (see above)."""
    if (
        device.type != "cpu"
        or input_ids is None
        or input_ids.shape[-1] > _CPU_PLAIN_ATTENTION_MAX_TOKENS
    ):
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.MATH])


class _ClassifierTrainer(Trainer):
    """Trainer whose loss follows the label space and applies class weights."""

    # Our loss is a per-batch mean, so the Trainer divides it by the accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(
        self,
        *args: Any,
        loss_weights: np.ndarray | None,
        multilabel: bool,
        lengths: list[int] | None,
        head_lr_multiplier: float = 1.0,
        layer_decay: float = 1.0,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self._weights = None if loss_weights is None else torch.tensor(loss_weights)
        self._multilabel = multilabel
        self._lengths = lengths
        self._head_lr_multiplier = head_lr_multiplier
        self._layer_decay = layer_decay

    def create_optimizer(self, model: Any = None) -> Any:
        """AdamW with per-group learning rates: a faster new head, and optional layer-wise decay.

        The head (pooler and classifier) starts from new weights while the encoder is
        pretrained; a larger step for the head (discriminative fine-tuning, Howard & Ruder
        2018) lets it catch up without pushing the encoder away from its pretrained state.
        With ``layer_decay`` < 1 each encoder layer learns at that factor of the layer above
        it and the embeddings slowest (layer-wise decay, Clark et al. 2020; Zhang et al. 2021).
        """
        if self.optimizer is None and (self._head_lr_multiplier != 1.0 or self._layer_decay != 1.0):
            opt_model: Any = self.model if model is None else model
            decay = set(self.get_decay_parameter_names(opt_model))
            base_lr = self.args.learning_rate
            n_layers = _count_layers(opt_model)
            groups: dict[tuple[float, bool], list[Any]] = {}
            for name, param in opt_model.named_parameters():
                if not param.requires_grad:
                    continue
                scale = _lr_scale(name, n_layers, self._head_lr_multiplier, self._layer_decay)
                groups.setdefault((scale, name in decay), []).append(param)
            param_groups = [
                {
                    "params": params,
                    "weight_decay": self.args.weight_decay if decayed else 0.0,
                    "lr": base_lr * scale,
                }
                for (scale, decayed), params in groups.items()
            ]
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(
                self.args, opt_model
            )
            optimizer_kwargs.pop("lr", None)
            self.optimizer = optimizer_cls(param_groups, lr=base_lr, **optimizer_kwargs)
        return super().create_optimizer(model)

    def _load_callback_state(self) -> None:
        # On resume the Trainer rebuilds each stateful callback from its checkpoint as a new
        # object: point the progress bar at the restored degeneration guard.
        super()._load_callback_state()
        guard = self.guard()
        for callback in self.callback_handler.callbacks:
            if isinstance(callback, ProgressCallback):
                callback.guard = guard

    def guard(self) -> DegenerationGuard | None:
        """The degeneration guard in use (after a resume, the one restored from the checkpoint)."""
        return next(
            (c for c in self.callback_handler.callbacks if isinstance(c, DegenerationGuard)), None
        )

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        # The Trainer drops the `length` column before building its sampler and would then
        # re-read every row to measure it; hand it the lengths measured at tokenisation.
        if self.args.train_sampling_strategy == "group_by_length" and self._lengths is not None:
            return ShuffledLengthGroupedSampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                lengths=self._lengths,
            )
        return super()._get_train_sampler(train_dataset)

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        super().save_model(output_dir, _internal_call=_internal_call)
        if _internal_call:
            fail_point("checkpoint_save")  # weights written; optimizer and state not yet

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        labels = inputs.pop("labels")
        with _attention_kernel(inputs.get("input_ids"), self.args.device):
            outputs = model(**inputs)
        logits = outputs.logits.float()
        weights = None if self._weights is None else self._weights.to(logits.device)
        if self._multilabel:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, labels.to(logits.dtype), pos_weight=weights
            )
        else:
            loss = torch.nn.functional.cross_entropy(logits, labels.view(-1), weight=weights)
        return (loss, outputs) if return_outputs else loss


def _shown_metrics(task: str, metric: str) -> tuple[str, ...]:
    """Headline metrics worth a glance per evaluation, besides the one choosing checkpoints."""
    shown = ("f1_micro", "f1_macro") if task == "multilabel" else ("accuracy", "f1_macro")
    return tuple(m for m in shown if m != metric)


class _FailPointCallback(TrainerCallback):
    """Lets the chaos test kill the run after an optimizer step (see :mod:`textclf.faults`)."""

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        fail_point("train_step")


@dataclass
class TrainResult:
    """What training produced, besides the model (which holds the best weights)."""

    log_history: list[dict[str, Any]]
    best_checkpoint: str | None
    best_metric: float | None
    metric_name: str
    global_step: int
    train_runtime_s: float
    train_samples_per_second: float
    resources: Resources
    batch_size: int
    gradient_accumulation_steps: int
    oom_retries: int = 0
    notes: list[str] = field(default_factory=list)
    degenerate: str | None = None
    """Why the run was stopped as degenerate (stuck at the prior), or ``None``."""
    planned_steps: int | None = None
    """The optimizer steps the run was planned for (more than ``global_step``: it stopped early)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (saved beside the trained-model snapshot)."""
        return {**asdict(self), "resources": asdict(self.resources)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainResult:
        """Inverse of :meth:`to_dict`."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["resources"] = Resources(**data["resources"])
        return cls(**known)


def _training_args(
    cfg: TrainConfig,
    *,
    learning_rate: float,
    output_dir: Path,
    seed: int,
    batch_size: int,
    accumulation: int,
    resources: Resources,
    has_eval: bool,
    metric: str,
    n_train: int,
    processes: int = 1,
) -> TrainingArguments:
    strategy = cfg.eval_strategy if has_eval else "no"
    max_steps = cfg.max_steps if cfg.max_steps is not None else -1
    min_steps = cfg.min_steps_for(n_train, processes)
    if cfg.max_steps is None and min_steps:
        # Small data: size the schedule in optimizer steps, not epochs (Mosbach et al. 2021:
        # few-sample runs fail mostly for lack of updates).
        per_epoch = math.ceil(n_train / (batch_size * accumulation * processes))
        if per_epoch * cfg.epochs < min_steps:
            max_steps = min_steps
            logger.info(
                "Training for %d optimizer steps (train.min_steps), %.1f epochs of %d steps, "
                "rather than %g epochs: small data needs more updates than epochs give "
                "(train.min_steps=null trains exactly the epochs).",
                max_steps,
                max_steps / per_epoch,
                per_epoch,
                cfg.epochs,
            )
    save_strategy = cfg.eval_strategy
    steps = cfg.eval_steps or 500
    return TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=cfg.epochs,
        max_steps=max_steps,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size or max(batch_size, 64),
        gradient_accumulation_steps=accumulation,
        learning_rate=learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_ratio,  # a float in [0, 1) is a ratio of total steps in v5
        lr_scheduler_type="linear",
        max_grad_norm=cfg.max_grad_norm,
        eval_strategy=strategy,
        eval_steps=steps if strategy == "steps" else None,
        save_strategy=save_strategy,
        save_steps=steps if save_strategy == "steps" else 500,
        save_total_limit=2,
        load_best_model_at_end=has_eval,
        metric_for_best_model=metric if has_eval else None,
        # Losses and calibration errors are better when lower; every other metric higher.
        greater_is_better=greater_is_better(metric) if has_eval else None,
        logging_strategy="steps",
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        length_column_name="length",
        seed=seed,
        data_seed=seed,
        bf16=resources.precision == "bf16",
        fp16=resources.precision == "fp16",
        use_cpu=resources.device == "cpu",
        report_to="none",
        dataloader_num_workers=0,
        save_only_model=False,  # optimizer and scheduler state are needed to resume
        # Early stopping's patience counter (and FloorEarlyStopping's floor) come back with
        # the checkpoint: without them a resumed run waited its whole patience again and
        # could keep another model than the same run uninterrupted.
        restore_callback_states_from_checkpoint=True,
        # Our ProgressCallback draws one bar and a line per evaluation instead.
        disable_tqdm=True,
    )


def train_model(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    space: LabelSpace,
    train_dataset: datasets.Dataset,
    eval_dataset: datasets.Dataset | None,
    cfg: TrainConfig,
    *,
    output_dir: Path,
    seed: int,
    resume: bool = False,
    callbacks: Sequence[TrainerCallback] = (),
) -> TrainResult:
    """Fine-tune ``model`` with the Trainer, backing off on out-of-memory errors.

    On an OOM the per-device batch is halved and gradient accumulation doubled, so the
    effective batch (and thus the optimisation) stays the same; training resumes from the
    last checkpoint. When even batch size 1 does not fit on the GPU, it falls back to the
    CPU and says so.

    Args:
        model: From :func:`textclf.modeling.build_model`.
        tokenizer: Its tokenizer (pads batches).
        space: Task and labels.
        train_dataset: Tokenised training rows (see :func:`tokenize`).
        eval_dataset: Tokenised validation rows, or ``None`` (no early stopping).
        cfg: The ``train`` config section.
        output_dir: Where checkpoints go.
        seed: Seeds model init order, sampling and dropout.
        resume: Continue from the last checkpoint in ``output_dir``.
        callbacks: Extra Trainer callbacks (e.g. experiment tracking).

    Returns:
        The training record; ``model`` holds the best weights afterwards.
    """
    resources = select_resources(cfg.device, cfg.precision)
    logger.info("Training on %s in %s.", resources.note, resources.precision)
    has_eval = eval_dataset is not None and len(eval_dataset) > 0
    check_metric(space.task, cfg.metric_for_best_model)  # TextClassifier.fit comes here first
    metric_name = (
        headline_metric(space.task)
        if cfg.metric_for_best_model == "auto"
        else cfg.metric_for_best_model
    )
    train_labels = np.asarray(train_dataset["labels"])
    lengths = list(train_dataset["length"]) if "length" in train_dataset.column_names else None
    weights = class_weights(space, train_labels, cfg.class_weighting)

    def compute_metrics(pred: Any) -> dict[str, float]:
        logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
        proba = apply_temperature(logits, 1.0, multilabel=space.multilabel)
        fail_point("evaluation")
        labels = np.asarray(pred.label_ids)
        metrics = classification_metrics(space.task, labels, proba)
        metrics.update(prediction_collapse(space.task, labels, proba))
        return metrics

    rank, n_processes = world()
    batch_size = cfg.batch_size_for(len(train_dataset), n_processes)
    accumulation = cfg.gradient_accumulation_steps
    notes: list[str] = []
    retries = 0
    if cfg.batch_size == "auto":
        per_epoch = math.ceil(len(train_dataset) / (batch_size * accumulation * n_processes))
        logger.info(
            "Batch size %d (auto: the largest of 32, 16 and 8 giving at least %d optimizer steps "
            "per epoch on %d texts, else 8): %d steps per epoch.",
            batch_size,
            AUTO_BATCH_STEPS,
            len(train_dataset),
            per_epoch,
        )
    if cfg.freeze_embeddings or cfg.freeze_layers:
        # On a CPU the word embeddings' dense gradient and AdamW update (11.7M of all-MiniLM-
        # L6-v2's 22.7M weights) are a large share of a short-text step; each frozen bottom
        # layer also drops its share of the backward pass.
        frozen = freeze_bottom(model, cfg.freeze_layers, embeddings=cfg.freeze_embeddings)
        if cfg.freeze_layers:
            notes.append(f"embeddings and the bottom {frozen} encoder layer(s) kept frozen")
            logger.info("Frozen: the embeddings and the bottom %d encoder layer(s).", frozen)
    if n_processes > 1 and rank == 0:
        logger.info(
            "Distributed training on %d processes: batch size %d is per device, %d texts per "
            "optimizer step in all.",
            n_processes,
            batch_size,
            batch_size * accumulation * n_processes,
        )
    resumed = latest_complete_checkpoint(output_dir, move_aside=False) if resume else None
    seconds_before = 0.0
    if resumed is not None:
        # What the first process noted (how it initialised the model) and how long it
        # trained, kept in the checkpoint's marker: the card describes the whole run.
        earlier, seconds_before = checkpoint_record(resumed)
        notes = earlier + notes
    resuming = resumed is not None
    if not resuming:
        # (A resumed run restores its weights from the checkpoint: no warm start to redo.)
        model.to(resources.device)  # type: ignore[arg-type]
        notes += warm_start(
            model,
            tokenizer,
            space,
            train_dataset,
            head_init=cfg.head_init,
            pooler_init=cfg.pooler_init,
            reinit_layers=cfg.reinit_layers,
            seed=seed,
            batch_size=cfg.eval_batch_size or max(batch_size, 64),
            bf16=resources.precision == "bf16",
        )
    pad_multiple = 8 if resources.device == "cuda" else None  # tensor cores like multiples of 8
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_multiple)
    while True:
        args = _training_args(
            cfg,
            output_dir=output_dir,
            seed=seed,
            batch_size=batch_size,
            accumulation=accumulation,
            resources=resources,
            has_eval=has_eval,
            metric=metric_name,
            learning_rate=cfg.learning_rate,
            n_train=len(train_dataset),
            processes=n_processes,
        )
        guard = DegenerationGuard(
            n_validation=len(eval_dataset) if eval_dataset is not None else None
        )
        completion = CompleteCheckpointCallback(notes, seconds_before)
        cbs: list[TrainerCallback] = [
            completion,
            guard,
            _FailPointCallback(),
            ProgressCallback(
                metric_name, show=_shown_metrics(space.task, metric_name), guard=guard
            ),
            *callbacks,
        ]
        if has_eval and cfg.early_stopping_patience:
            # max_steps overrides the floor (see _training_args)
            floor = None if cfg.max_steps else cfg.min_steps_for(len(train_dataset), n_processes)
            cbs.append(FloorEarlyStopping(cfg.early_stopping_patience, min_steps=floor or 0))
        trainer = _ClassifierTrainer(
            model=model,
            args=args,
            data_collator=collator,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset if has_eval else None,
            processing_class=tokenizer,
            compute_metrics=compute_metrics if has_eval else None,
            callbacks=cbs,
            loss_weights=weights,
            multilabel=space.multilabel,
            lengths=lengths,
            head_lr_multiplier=cfg.head_lr_multiplier_for(space.task),
            layer_decay=cfg.layer_decay,
        )
        trainer.remove_callback(PrinterCallback)  # it prints every log as a raw dict
        last = (
            latest_complete_checkpoint(output_dir, move_aside=is_main_process())
            if (resume or retries > 0)
            else None
        )
        resume_from = str(last) if last else None
        if resume and retries == 0:
            if last:
                logger.info("Resuming from %s.", last)
            else:
                logger.warning(
                    "--resume: no checkpoint in %s yet; starting from the beginning.", output_dir
                )
        try:
            with quiet_transformers():  # checkpoint bars and notices (textclf's bar stays)
                trainer.train(resume_from_checkpoint=resume_from)
            break
        except Exception as e:
            if not is_out_of_memory(e) or retries >= cfg.oom_retries:
                raise
            retries += 1
            del trainer
            free_accelerator_memory()
            if batch_size > 1:
                batch_size //= 2
                accumulation *= 2
                msg = (
                    f"Out of memory: retrying with batch size {batch_size} x {accumulation} "
                    "accumulation steps (same effective batch)."
                )
            else:
                resources = Resources("cpu", "fp32", "CPU (no GPU configuration fitted in memory)")
                model = model.to("cpu")  # type: ignore[arg-type]  # transformers types .to() oddly
                msg = "Out of memory even at batch size 1 on the GPU: falling back to the CPU."
            logger.warning(msg)
            notes.append(msg)
    # Mixed precision wraps the model's forward in autocast (accelerate); take the wrapper
    # off, so the trained model predicts in fp32, as the saved folder does.
    from accelerate.utils import extract_model_from_parallel

    extract_model_from_parallel(trainer.model, keep_fp32_wrapper=False)
    state = trainer.state
    best = state.best_model_checkpoint
    if args.load_best_model_at_end and best and not Path(best).is_dir():
        # The Trainer only warns and keeps the last step's weights, which the model folder
        # would then present as the best checkpoint's.
        raise OutputLostError(
            f"{best}: the best checkpoint disappeared before training ended (was the output "
            "folder removed or cleaned while the run was going?), so the weights in memory "
            "are the last step's, not the best; train again with --overwrite."
        )
    best_metric = state.best_metric
    # The whole run's seconds, a resumed run's earlier processes included (the Trainer
    # counts this process only, and its samples per second mix the two).
    runtime = completion.seconds()
    sps = len(train_dataset) * float(state.epoch or 0.0) / runtime if runtime > 0 else float("nan")
    return TrainResult(
        log_history=list(state.log_history),
        best_checkpoint=state.best_model_checkpoint,
        best_metric=None if best_metric is None else float(best_metric),
        metric_name=metric_name,
        global_step=int(state.global_step),
        train_runtime_s=runtime,
        train_samples_per_second=sps,
        resources=resources,
        batch_size=batch_size,
        gradient_accumulation_steps=accumulation,
        oom_retries=retries,
        notes=notes,
        degenerate=(trainer.guard() or guard).reason,
        planned_steps=int(state.max_steps or 0) or None,
    )
