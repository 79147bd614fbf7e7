"""The file-level entries: a saved model folder and data files in, an :class:`Assessment` out.

What the ``evaluate``, ``calibrate``, ``compare`` and ``report`` commands run: read and check
the files (labels the model does not know, texts it was trained on), fit the baselines on a
training file, then measure through :func:`textclf.assess.assess` like a fresh model.

Example:
    >>> ev = evaluate_files("runs/x", "test.csv", train="train.csv")  # doctest: +SKIP
    >>> ev.metrics["f1_macro"]  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from textclf.assess import (
    Assessment,
    Comparison,
    Model,
    as_predictor,
    assess,
    check_known_labels,
    compare_models,
    fit_baselines,
)
from textclf.atomic import write_text_atomic
from textclf.baselines import BaselineClassifier
from textclf.config import EvalConfig
from textclf.data.formats import check_source, data_stem
from textclf.data.io import ColumnSpec, Split, read_split
from textclf.data.labels import LabelSpace
from textclf.errors import ConfigError
from textclf.estimator import TextClassifier
from textclf.evaluation.decision import DecisionRule
from textclf.inference.pipeline import Predictor

logger = logging.getLogger(__name__)


def read_labelled(path: str, spec: ColumnSpec, space: LabelSpace, name: str) -> Split:
    """Read a labelled file and check its labels against the model's.

    Repeated texts and conflicting labels in it are warned about as ``data validate``
    words them: a bootstrap counts copies as independent examples, so its intervals come
    out too narrow.

    Raises:
        DataError: for an unreadable file or labels the model does not know.
    """
    from textclf.data.validate import validate_splits

    split = read_split(path, spec, name=name)
    check_known_labels(split, space, where=path)
    if name == "train":  # the baselines' training file: repeats measure nothing there
        return split
    for finding in validate_splits({name: split}, None).findings:
        if finding.code == "duplicate_text":
            logger.warning(
                "%s The intervals count each copy as an example, so they are too narrow.",
                finding.message,
            )
        elif finding.code == "conflicting_labels":
            logger.warning("%s", finding.message)
    return split


def read_training_file(path: str, spec: ColumnSpec, space: LabelSpace) -> Split:
    """The ``--train`` file of evaluate and report (baselines, its label distribution).

    Its ids are never written anywhere, so ``--id-column`` names a column of the data
    evaluated on, not one this file must have.
    """
    return read_labelled(path, dataclasses.replace(spec, id_column=None), space, "train")


def model_spec(spec: ColumnSpec | None, folder: str | os.PathLike[str] | None) -> ColumnSpec:
    """``spec``, with the label separator the model was trained with when none is given.

    A multi-label model trained on ``"a|b"`` cells reads its test file the same way;
    without this, every such cell would be one unknown label.
    """
    spec = spec or ColumnSpec()
    if spec.label_separator is not None or spec.label_columns or folder is None:
        return spec
    separator = _trained_data_setting(Path(folder), "label_separator")
    if separator is None:
        return spec
    logger.info("Labels split at %r, as in the model's training (its config.yaml).", separator)
    return dataclasses.replace(spec, label_separator=separator)


def check_sources(spec: ColumnSpec | None, *paths: str | None) -> None:
    """Refuse a missing data file before a model is loaded (seconds) for nothing.

    Raises:
        DataError: naming the first path that is neither a file nor a hub dataset name.
    """
    file_format = spec.file_format if spec is not None else "auto"
    for path in paths:
        if path is not None:
            check_source(path, file_format)


def _warn_if_seen(data: str, split: Split, predictors: Sequence[Predictor]) -> None:
    """Warn when ``data`` is the file a model was trained or validated on.

    Its fingerprint (the file's sha256, computed once for all models) is the one
    ``textclf.json`` recorded: the scores would measure what the model has seen.
    (``calibrate`` refuses the test file itself.)
    """
    from textclf.data.prepare import fingerprint

    fp: str | None = None
    for predictor in predictors:
        recorded = (predictor.info.data or {}).get("fingerprints") or {}
        seen = [name for name in ("train", "validation") if recorded.get(name)]
        if seen and fp is None:
            fp = fingerprint(data, split)
        name = next((name for name in seen if recorded[name] == fp), None)
        if name is not None:
            use = "trained" if name == "train" else "validated (checkpoint and rule chosen)"
            logger.warning(
                "%s is the %s file %s was %s on (its fingerprint is in textclf.json), so "
                "these scores are optimistic; evaluate on held-out data.",
                data,
                name,
                predictor.folder or "the model",
                use,
            )


def _warn_if_shared(data: str, split: Split, train: str, train_split: Split) -> None:
    """Warn when texts of ``data`` are in the ``--train`` file the baselines are fitted on."""
    known = set(train_split.dataset["text"])
    shared = sum(1 for text in split.dataset["text"] if text in known)
    if shared:
        logger.warning(
            "%d of the %d texts of %s are also in --train %s, so the baselines fitted on it "
            "score optimistically; give a --train file without the evaluated texts.",
            shared,
            len(split),
            data,
            train,
        )


def _file_baselines(
    train: str | None,
    spec: ColumnSpec,
    predictor: Predictor,
    *,
    seed: int,
    data: str,
    split: Split,
) -> tuple[dict[str, BaselineClassifier] | None, Split | None]:
    """Baselines fitted on a labelled file with the model's backbone, and that file's
    split; ``(None, None)`` without one.

    Also warns when the evaluated file ``data`` (read as ``split``) shares texts with
    ``train``, which the baselines are fitted on.
    """
    if not train:
        return None, None
    info = predictor.info
    train_split = read_training_file(train, spec, predictor.space)
    _warn_if_shared(data, split, train, train_split)
    baselines = fit_baselines(
        train_split,
        predictor.space,
        seed=seed,
        backbone=str(info.backbone.get("given") or "default"),
        max_length=info.max_length,
    )
    return baselines, train_split


def evaluate_files(
    model: Model,
    data: str,
    *,
    train: str | None = None,
    spec: ColumnSpec | None = None,
    eval_config: EvalConfig | None = None,
    seed: int = 42,
    batch_size: int = 64,
    backend: str = "auto",
) -> Assessment:
    """:func:`assess` a saved model on a labelled file; with ``train``, against the baselines.

    ``backend`` as in :func:`as_predictor`; the document records the one used.
    """
    check_sources(spec, data, train)
    predictor = as_predictor(model, batch_size=batch_size, backend=backend)
    spec = model_spec(spec, predictor.folder)
    split = read_labelled(data, spec, predictor.space, "test")
    _warn_if_seen(data, split, [predictor])
    baselines, train_split = _file_baselines(
        train, spec, predictor, seed=seed, data=data, split=split
    )
    assessment = assess(
        predictor,
        split,
        baselines=baselines,
        eval_config=eval_config,
        seed=seed,
        split_name=Path(data).name,
        batch_size=batch_size,
    )
    assessment.document["backend"] = predictor.backend
    assessment.splits = {
        "test": split,
        **({"train": train_split} if train_split is not None else {}),
    }
    return assessment


def calibrate_folder(
    model: str | os.PathLike[str],
    data: str,
    *,
    spec: ColumnSpec | None = None,
    calibrate: bool = True,
    tune_thresholds: bool = True,
    at_least_one: bool = False,
    force: bool = False,
    batch_size: int = 64,
) -> DecisionRule:
    """Refit a saved model's decision rule on a validation file and save it in the folder.

    The stored metrics (``textclf.json``, every ``metrics.json`` and ``metrics.md`` under
    ``eval/``) and the model card were measured under the old rule: they are marked stale,
    naming the command that re-measures.

    Raises:
        ConfigError: when ``data`` is the file recorded as the model's test split (unless
            ``force``): a rule fitted on the test data makes the test figures optimistic.
    """
    from textclf.data.prepare import fingerprint
    from textclf.model_card import mark_stale, replace_rule
    from textclf.persistence import SIDECAR

    check_sources(spec, data)
    folder = Path(model)
    clf = TextClassifier.from_pretrained(folder)
    clf.predictor(batch_size=batch_size)
    info = clf.info()
    if at_least_one and not info.space.multilabel:
        raise ConfigError(
            f"--at-least-one: {folder} is a {info.task} model, which always predicts one label; "
            "the option is for multi-label models, so leave it out."
        )
    split = read_labelled(data, model_spec(spec, folder), info.space, "validation")
    recorded = (info.data or {}).get("fingerprints") or {}
    fp = fingerprint(data, split)
    if fp == recorded.get("test") and not force:
        raise ConfigError(
            f"{data}: this is the file the model was tested on (its fingerprint matches the test "
            "split in textclf.json), so a rule fitted on it would make the test figures "
            "optimistic; calibrate on the validation file, or pass --force."
        )
    shared = _shared_with_test(folder, split.dataset["text"])
    if shared and not force:
        n = len(split)
        if 2 * shared >= n:
            raise ConfigError(
                f"{data}: {shared} of its {n} texts are in the split the model was tested on "
                f"({folder / 'eval' / 'predictions.jsonl'}), so a rule fitted on them would make "
                "the test figures optimistic; calibrate on validation data, or pass --force."
            )
        logger.warning(
            "%s: %d of its %d texts are in the model's test split; the stored test figures "
            "will be somewhat optimistic.",
            data,
            shared,
            n,
        )
    if fp == recorded.get("train"):
        logger.warning(
            "%s is the model's training file: a rule fitted on training data is over-confident; "
            "prefer held-out validation data.",
            data,
        )
    rule = clf.fit_rule(
        split,
        eval_options=EvalConfig(
            calibrate=calibrate, tune_thresholds=tune_thresholds, at_least_one_label=at_least_one
        ),
        fitted_on=str(data),
    )
    when = time.strftime("%Y-%m-%d %H:%M")
    test = _trained_data_setting(folder, "test")  # None: the test split was carved
    out = f"{folder / 'eval' / data_stem(test)}/" if test else f"{folder / 'eval'}/<test file>/"
    reason = (
        f"the decision rule was refitted by textclf calibrate on {data} ({when}); the metrics "
        f"here were measured under the previous rule; textclf evaluate --model {folder} --data "
        f"{test or '<test file>'} measures the new one (into {out})"
    )
    info = clf.info()
    info.metrics = {**(info.metrics or {}), "stale": reason}
    write_text_atomic(folder / SIDECAR, info.to_json())
    card = folder / "README.md"
    if card.is_file():
        text = replace_rule(card.read_text(encoding="utf-8"), info)  # the rule that applies
        write_text_atomic(card, mark_stale(text, reason))
    # Every evaluation stored in the folder: the run's, and evaluate's or report's copies.
    for stored in sorted((folder / "eval").rglob("metrics.json")):
        doc = json.loads(stored.read_text(encoding="utf-8"))
        doc["stale"] = reason
        write_text_atomic(stored, json.dumps(doc, indent=2))
    for stored in sorted((folder / "eval").rglob("metrics.md")):
        write_text_atomic(stored, mark_stale(stored.read_text(encoding="utf-8"), reason))
    return rule


def _trained_data_setting(folder: Path, key: str) -> str | None:
    """A non-empty ``data.<key>`` string of the folder's ``config.yaml`` (the run's
    settings), or ``None`` when the folder has none or the file cannot be read."""
    import yaml

    try:
        config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8")) or {}
        value = config["data"][key]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) and value else None


def _shared_with_test(folder: Path, texts: Sequence[str]) -> int:
    """How many of ``texts`` are texts of the test split the model's stored evaluation used.

    The fingerprint check catches the test file itself; this catches its rows under
    another name or format. 0 when the folder holds no test-split predictions.
    """
    metrics, records = folder / "eval" / "metrics.json", folder / "eval" / "predictions.jsonl"
    try:
        if json.loads(metrics.read_text(encoding="utf-8")).get("split") != "test":
            return 0
        with records.open(encoding="utf-8") as f:
            tested = {json.loads(line).get("text") for line in f if line.strip()}
    except (OSError, json.JSONDecodeError, AttributeError):
        return 0
    tested.discard(None)
    return sum(1 for text in texts if text in tested)


def compare_files(
    models: Sequence[str | os.PathLike[str]],
    data: str,
    *,
    train: str | None = None,
    spec: ColumnSpec | None = None,
    metric: str | None = None,
    eval_config: EvalConfig | None = None,
    seed: int = 42,
    batch_size: int = 64,
    backend: str = "auto",
) -> Comparison:
    """:func:`compare_models` on a labelled file (with baselines fitted on ``train``)."""
    check_sources(spec, data, train)
    predictors = [as_predictor(m, batch_size=batch_size, backend=backend) for m in models]
    spec = model_spec(spec, predictors[0].folder)
    space = predictors[0].space
    split = read_labelled(data, spec, space, "test")
    _warn_if_seen(data, split, predictors)
    return compare_models(
        predictors,
        split,
        names=[str(m) for m in models],
        baselines=_file_baselines(train, spec, predictors[0], seed=seed, data=data, split=split)[0],
        metric=metric,
        eval_config=eval_config,
        seed=seed,
        batch_size=batch_size,
    )
