"""Training assembly: class weights, OOM back-off, probability conversion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from textclf.config import TrainConfig
from textclf.data.io import split_from_lists
from textclf.data.labels import LabelSpace
from textclf.training import trainer as trainer_mod
from textclf.training.resources import is_out_of_memory, select_resources


def test_class_weights_known_answers():
    space = LabelSpace("multiclass", ("a", "b", "c"))
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    w = trainer_mod.class_weights(space, y, "balanced")
    np.testing.assert_allclose(w, [8 / 12, 8 / 6, 8 / 6], rtol=1e-6)
    np.testing.assert_allclose(trainer_mod.class_weights(space, y, "sqrt"), np.sqrt(w), rtol=1e-6)
    assert trainer_mod.class_weights(space, y, "none") is None
    ml = LabelSpace("multilabel", ("x", "y"))
    multi = np.array([[1, 0], [1, 1], [0, 0], [1, 0]], dtype=np.float32)
    np.testing.assert_allclose(trainer_mod.class_weights(ml, multi, "balanced"), [1 / 3, 3.0])


def test_oom_detection():
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))


@pytest.mark.parametrize("native", [True, False])
def test_the_cpu_trains_in_bf16_only_where_it_has_native_bf16(
    native: bool, monkeypatch: pytest.MonkeyPatch
):
    from textclf.inference import torch_backend
    from textclf.training import resources

    monkeypatch.setattr(torch_backend, "_cuda_works", lambda index=0: (False, "no GPU"))
    monkeypatch.setattr(torch_backend, "_mps_works", lambda: False)
    monkeypatch.setattr(resources, "cpu_has_native_bf16", lambda: native)
    res = select_resources("auto", "auto")
    assert (res.device, res.precision) == ("cpu", "bf16" if native else "fp32")
    assert select_resources("cpu", "fp32").precision == "fp32"
    assert select_resources("cpu", "bf16").precision == "bf16"  # asked for: kept, maybe slow
    assert select_resources("cpu", "fp16").precision == "fp32"


def test_native_bf16_is_read_from_the_cpu_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import builtins

    from textclf.training.resources import cpu_has_native_bf16

    real_open = builtins.open
    flags = {"value": "fpu avx512f avx512_bf16"}

    def fake_open(path, *args, **kwargs):
        if path == "/proc/cpuinfo":
            target = tmp_path / "cpuinfo"
            target.write_text(f"processor\t: 0\nflags\t\t: {flags['value']}\n")
            return real_open(target, *args, **kwargs)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    assert cpu_has_native_bf16()
    flags["value"] = "fpu avx512f avx2"
    assert not cpu_has_native_bf16()


def test_oom_backoff_halves_batch_and_keeps_effective_batch(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from textclf.modeling import build_model, load_tokenizer

    space = LabelSpace("binary", ("neg", "pos"))
    split = split_from_lists(
        [f"apple {i}" for i in range(8)] + [f"banana {i}" for i in range(8)],
        ["neg"] * 8 + ["pos"] * 8,
    )
    tok = load_tokenizer(str(tiny_model_dir))
    ds = trainer_mod.tokenize(split.dataset, tok, space, max_length=16)
    real_train = trainer_mod._ClassifierTrainer.train
    seen: list[tuple[int, int]] = []

    def flaky_train(self, *args, **kwargs):
        seen.append((self.args.per_device_train_batch_size, self.args.gradient_accumulation_steps))
        if len(seen) <= 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_train(self, *args, **kwargs)

    monkeypatch.setattr(trainer_mod._ClassifierTrainer, "train", flaky_train)
    cfg = TrainConfig(batch_size=8, max_steps=2, early_stopping_patience=None)
    result = trainer_mod.train_model(
        build_model(str(tiny_model_dir), space),
        tok,
        space,
        ds,
        None,
        cfg,
        output_dir=tmp_path / "ckpt",
        seed=0,
    )
    assert seen == [(8, 1), (4, 2), (2, 4)]
    assert (result.batch_size, result.gradient_accumulation_steps) == (2, 4)
    assert result.oom_retries == 2
    assert any("same effective batch" in note for note in result.notes), result.notes


def test_oom_gives_up_after_configured_retries(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from textclf.modeling import build_model, load_tokenizer

    space = LabelSpace("binary", ("neg", "pos"))
    split = split_from_lists(["apple", "banana"] * 4, ["neg", "pos"] * 4)
    tok = load_tokenizer(str(tiny_model_dir))
    ds = trainer_mod.tokenize(split.dataset, tok, space, max_length=16)

    def always_oom(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(trainer_mod._ClassifierTrainer, "train", always_oom)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        trainer_mod.train_model(
            build_model(str(tiny_model_dir), space),
            tok,
            space,
            ds,
            None,
            TrainConfig(batch_size=4, max_steps=1, oom_retries=1),
            output_dir=tmp_path / "c",
            seed=0,
        )


def test_auto_weighting_is_sqrt_for_multilabel_and_none_for_single_label():
    ml = LabelSpace("multilabel", ("x", "y"))
    multi = np.array([[1, 0], [0, 0], [0, 0], [1, 1]], dtype=np.float32)
    np.testing.assert_allclose(trainer_mod.class_weights(ml, multi, "auto"), np.sqrt([1.0, 3.0]))
    single = LabelSpace("binary", ("a", "b"))
    assert trainer_mod.class_weights(single, np.array([0, 0, 0, 1]), "auto") is None


def test_head_learning_rate_multiplier_builds_param_groups(tiny_model_dir: Path, tmp_path: Path):
    from transformers import TrainingArguments

    from textclf.modeling import build_model

    space = LabelSpace("multilabel", ("x", "y"))
    model = build_model(str(tiny_model_dir), space)
    args = TrainingArguments(
        output_dir=str(tmp_path),
        learning_rate=1e-4,
        weight_decay=0.01,
        report_to="none",
        use_cpu=True,
    )
    trainer = trainer_mod._ClassifierTrainer(
        model=model,
        args=args,
        loss_weights=None,
        multilabel=True,
        lengths=None,
        head_lr_multiplier=10.0,
    )
    opt = trainer.create_optimizer()
    by_lr: dict[float, set[str]] = {}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in opt.param_groups:
        for p in group["params"]:
            by_lr.setdefault(round(group["lr"], 10), set()).add(names[id(p)].split(".")[0])
    assert by_lr[1e-3] == {"classifier", "bert"}  # bert.pooler.* is part of the head
    assert all(n.startswith("bert") for n in by_lr[1e-4])
    head_names = {
        names[id(p)]
        for g in opt.param_groups
        if g["lr"] == pytest.approx(1e-3)
        for p in g["params"]
    }
    assert any(".pooler." in n for n in head_names) and not any(
        ".encoder." in n for n in head_names
    )
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    assert TrainConfig(head_init="random").head_lr_multiplier_for("multilabel") == 10.0
    assert TrainConfig().head_lr_multiplier_for("multilabel") == 1.0  # a probed head: 1x
    assert TrainConfig().head_lr_multiplier_for("binary") == 1.0
    assert TrainConfig(head_lr_multiplier=3).head_lr_multiplier_for("binary") == 3.0


def _cpu_training_args(cfg: TrainConfig, output_dir: Path, *, metric: str, n_train: int):
    """The Trainer arguments for ``cfg`` on the CPU: learning rate 1e-4, batch 8, with eval."""
    return trainer_mod._training_args(
        cfg,
        learning_rate=1e-4,
        output_dir=output_dir,
        seed=0,
        batch_size=8,
        accumulation=1,
        resources=select_resources("cpu", "auto"),
        has_eval=True,
        metric=metric,
        n_train=n_train,
    )


@pytest.mark.parametrize(
    ("metric", "greater"), [("f1_macro", True), ("log_loss", False), ("ece", False)]
)
def test_best_checkpoint_direction_follows_the_metric(tmp_path: Path, metric: str, greater: bool):
    args = _cpu_training_args(TrainConfig(), tmp_path, metric=metric, n_train=100)
    assert args.greater_is_better is greater


@pytest.mark.parametrize(("n_train", "expected"), [(40, 100), (4000, -1)])
def test_min_steps_sizes_the_schedule_in_steps_on_small_data(
    tmp_path: Path, n_train: int, expected: int
):
    # 40 texts x 5 epochs at batch 8 = 25 steps < 100: max_steps becomes 100;
    # 4,000 texts give 2,500 steps: the epochs decide.
    args = _cpu_training_args(
        TrainConfig(min_steps=100), tmp_path, metric="f1_macro", n_train=n_train
    )
    assert args.max_steps == expected


def test_layer_decay_scales_learning_rates_by_depth():
    from textclf.training.trainer import _lr_scale

    # 6 layers: the top (5) at 1, layer 0 at 0.5**5, embeddings at 0.5**6, the head at 10.
    assert _lr_scale("bert.encoder.layer.5.output.dense.weight", 6, 10.0, 0.5) == 1.0
    assert _lr_scale("bert.encoder.layer.0.output.dense.weight", 6, 10.0, 0.5) == 0.5**5
    assert _lr_scale("bert.embeddings.word_embeddings.weight", 6, 10.0, 0.5) == 0.5**6
    assert _lr_scale("classifier.weight", 6, 10.0, 0.5) == 10.0
    assert _lr_scale("bert.pooler.dense.weight", 6, 10.0, 0.5) == 10.0
    assert _lr_scale("bert.encoder.layer.0.output.dense.weight", 6, 1.0, 1.0) == 1.0


def test_cpu_short_batches_take_the_plain_attention_path():
    import contextlib

    from textclf.training.trainer import _CPU_PLAIN_ATTENTION_MAX_TOKENS, _attention_kernel

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    short = torch.zeros((4, _CPU_PLAIN_ATTENTION_MAX_TOKENS), dtype=torch.long)
    long = torch.zeros((4, _CPU_PLAIN_ATTENTION_MAX_TOKENS + 1), dtype=torch.long)
    assert not isinstance(_attention_kernel(short, cpu), contextlib.nullcontext)
    for ids, device in ((long, cpu), (short, cuda), (None, cpu)):
        assert isinstance(_attention_kernel(ids, device), contextlib.nullcontext)
    with _attention_kernel(short, cpu):  # the plain path computes attention
        q = torch.randn(1, 2, 5, 8)
        out = torch.nn.functional.scaled_dot_product_attention(q, q, q)
    assert out.shape == q.shape


@pytest.mark.parametrize("quiet", [False, True])
def test_the_tokenizing_bar_follows_quiet(
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    quiet: bool,
):
    from transformers import AutoTokenizer

    from textclf.progress import QUIET_ENV

    monkeypatch.setenv(QUIET_ENV, "1" if quiet else "0")
    split = split_from_lists([f"text number {i}" for i in range(12)], ["a", "b"] * 6)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    capfd.readouterr()
    out = trainer_mod.tokenize(split.dataset, tokenizer, None, max_length=16, desc="Tokenizing x")
    assert len(out) == 12
    assert ("Tokenizing x" in capfd.readouterr().err) is not quiet


def test_a_resumed_run_gets_its_early_stopping_counter_back(tmp_path: Path):
    """Crash review D1: killed after an evaluation that did not improve, a run resumed with
    its patience counter at 0, trained 50 steps instead of 15 and kept another model."""
    from transformers.trainer_callback import TrainerState

    from textclf.training.callbacks import FloorEarlyStopping

    args = _cpu_training_args(TrainConfig(), tmp_path, metric="f1_macro", n_train=100)
    assert args.restore_callback_states_from_checkpoint
    # What the Trainer saves with a checkpoint and rebuilds from it on resume.
    cb = FloorEarlyStopping(2, min_steps=10)
    cb.early_stopping_patience_counter = 1
    saved = TrainerState(stateful_callbacks=[cb]).stateful_callbacks["FloorEarlyStopping"]
    copy = FloorEarlyStopping(**saved["args"])
    for name, value in saved["attributes"].items():
        setattr(copy, name, value)
    assert (copy.early_stopping_patience_counter, copy.min_steps) == (1, 10)
