"""Shared fixtures: a tiny BERT built from a config, and small labelled data sets.

No downloads: the tokenizer is a WordPiece vocabulary trained on the fixture texts and the
model is a 2-layer, hidden-32 BERT with random weights, saved as an ordinary model folder
so that the real loading code path is exercised.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests_support import held_out_splits, tiny_run_overrides

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Runs are not tracked unless a test turns tracking on (tests/unit/tracking, the MLflow
# integration tests): no mlflow.db appears in the working directory, and nothing phones home.
os.environ.setdefault("TEXTCLF_TRACKING", "off")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("WANDB_SILENT", "true")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# What the CLI's callback (textclf.cli._main) sets for its whole process.
_CLI_ENV = ("DATASETS_VERBOSITY", "TRANSFORMERS_VERBOSITY", "TRANSFORMERS_NO_ADVISORY_WARNINGS")
_CLI_LOGGERS = ("datasets", "transformers", "urllib3", "filelock", "fsspec", "httpx")


def _texts_for(task: str) -> pd.DataFrame:
    """Small separable data: each class has its own words, so a tiny model can overfit it."""
    rows = []
    words = {
        "alpha": "apple apricot avocado almond",
        "beta": "banana blueberry barley basil",
        "gamma": "grape guava ginger garlic",
    }
    for i in range(8):
        for lab, vocab in words.items():
            w = vocab.split()
            text = f"{w[i % 4]} and {w[(i + 1) % 4]} with {w[(i + 2) % 4]} number {i}"
            if task == "binary" and lab == "gamma":
                continue
            if task == "multilabel":
                other = "beta" if lab == "alpha" else "alpha"
                extra = words[other].split()[i % 4] if i % 2 else ""
                labels = [lab, other] if extra else [lab]
                rows.append({"text": f"{text} {extra}".strip(), "label": "|".join(sorted(labels))})
            else:
                rows.append({"text": text, "label": lab})
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, hidden-32 BERT and a WordPiece tokenizer trained on the fixture texts."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    corpus = [t for task in ("multiclass", "multilabel") for t in _texts_for(task)["text"]]
    corpus += ["the quick brown fox", "unknown words appear here", "number and with"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(
        corpus, trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials)
    )
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    fast = BertTokenizerFast(tokenizer_object=tok, model_max_length=64)
    fast.save_pretrained(folder)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    # Seeded: otherwise the weights depend on whichever test built the fixture first and
    # what had drawn from torch's generator before, so a test could pass alone and fail in
    # the full run.
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.fixture(params=["binary", "multiclass", "multilabel"])
def task(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def task_frame(task: str) -> pd.DataFrame:
    return _texts_for(task)


@pytest.fixture
def task_csv(tmp_path: Path, task_frame: pd.DataFrame) -> Path:
    path = tmp_path / "train.csv"
    task_frame.to_csv(path, index=False)
    return path


@pytest.fixture
def multiclass_csv(tmp_path: Path) -> Path:
    path = tmp_path / "multiclass.csv"
    _texts_for("multiclass").to_csv(path, index=False)
    return path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def trained_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """``trained_run(task)`` → a finished run folder (model + ``eval/``) on the fixture data.

    Trained once per task per session (about 10 s each on 2 cores) with train, validation
    and test files, so thresholds, calibration, the report and the errors file all exist.
    Treat the folder as read-only: copy it before changing it.
    """
    from textclf.config import ExperimentConfig, apply_overrides
    from textclf.experiment import run_experiment

    runs: dict[str, Path] = {}

    def make(task: str) -> Path:
        if task in runs:
            return runs[task]
        root = tmp_path_factory.mktemp(f"run-{task}")
        paths = {}
        for name, part in held_out_splits(_texts_for(task)).items():
            paths[name] = root / f"{name}.csv"
            part.to_csv(paths[name], index=False)
        overrides = tiny_run_overrides(
            tiny_model_dir, root / "run", paths["train"], paths["validation"], paths["test"]
        )
        if task == "multilabel":
            overrides.append("data.label_separator=|")
        run_experiment(apply_overrides(ExperimentConfig(), overrides))
        runs[task] = root / "run"
        return runs[task]

    return make


@pytest.fixture
def restore_cli_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo the env defaults and logger levels that an in-process CLI call sets.

    Modules that invoke the CLI in-process use it for every test:
    ``pytestmark = pytest.mark.usefixtures("restore_cli_state")``.
    """
    for key in _CLI_ENV:
        monkeypatch.delenv(key, raising=False)  # restored to the outer value afterwards
    levels = {name: logging.getLogger(name).level for name in _CLI_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def runner() -> CliRunner:
    """A typer test runner for in-process CLI calls."""
    return CliRunner()
