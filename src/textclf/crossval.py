"""k-fold cross-validation: every example is predicted once by a model that never saw it.

On a few hundred labelled examples one test split is small: its interval is wide, and
which examples happen to land in it moves the estimate. :func:`cross_validate` cuts the
training data into k stratified folds (iterative stratification for multi-label; the
repeats of a text kept in one fold) and runs the whole ``train`` pipeline once per fold
(:func:`textclf.experiment.run_experiment`): fold i is the test split and validation is
carved from the other folds, so each fold fits its own decision rule, baselines and paired
comparison, exactly as a single run would. It then summarises the folds — mean ± sd of
every metric of the model and of each baseline, and the fold-by-fold differences against
the best baseline — and pools the out-of-fold predictions, one record per example.

The folds are not independent samples (their training parts overlap), so the sd over folds
describes how much the estimate moves with the split, not a standard error; each fold's own
bootstrap interval stays in ``fold-i/eval/metrics.json`` (Bengio & Grandvalet 2004, "No
unbiased estimator of the variance of k-fold cross-validation").

Layout of the output folder::

    folds/plan.json          the data's fingerprint, k, the seed and each fold's rows
    folds/fold-i/train.jsonl fold i's training part (text, label, id = the row in the file)
    folds/fold-i/test.jsonl  fold i's held-out part
    fold-i/                  a complete run folder per fold (model, eval/, report)
    oof_predictions.jsonl    every example's out-of-fold prediction, in the file's order
    cv.json, cv.md           the summary

An interrupted cross-validation continues with ``resume=True``: finished folds are kept,
an interrupted fold resumes from its last checkpoint, and the fold files are checked to be
the same plan (same data, k and seed).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout

from textclf.atomic import write_text_atomic
from textclf.config import ExperimentConfig
from textclf.data.columns import ColumnSpec
from textclf.data.io import Split, read_split
from textclf.data.labels import LabelSpace
from textclf.data.prepare import content_fingerprint
from textclf.data.split import kfold_indices
from textclf.data.validate import validate_splits
from textclf.errors import ConfigError, DataError
from textclf.evaluation.folds import summarise, summary_markdown
from textclf.experiment import run_experiment
from textclf.run_folder import RunFolder
from textclf.tracking.base import DatasetRecord
from textclf.tracking.session import TrackingSession, default_experiment_name

logger = logging.getLogger(__name__)

PLAN = "folds/plan.json"
LABELS = "folds/labels.txt"
LOCK = ".textclf-cv.lock"
SUMMARY = "cv.json"
OOF = "oof_predictions.jsonl"


@dataclass
class CrossValidation:
    """The summary of a finished cross-validation.

    Attributes:
        output_dir: The output folder.
        folds: k.
        task: ``binary``, ``multiclass`` or ``multilabel``.
        metric: The headline metric (``eval.metric``, else the task's default).
        document: What ``cv.json`` holds (see :func:`summarise`).
        notes: What happened besides training (folds kept from an earlier start, …).
        tracking: Where the parent run was recorded (``TrackingInfo`` as a dict; ``{}``
            when not tracked).
    """

    output_dir: Path
    folds: int
    task: str
    metric: str
    document: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    tracking: dict[str, Any] = field(default_factory=dict)

    @property
    def markdown(self) -> str:
        """``cv.md``: the per-fold table and the mean ± sd over folds."""
        return summary_markdown(self.document)


def _read(config: ExperimentConfig, train: Any) -> tuple[Split, LabelSpace]:
    """The whole labelled training data, read and checked as ``train`` reads it."""
    dc = config.data
    source = train if train is not None else dc.train
    if source is None:
        raise ConfigError("no training data: pass --train FILE (or data.train in the config).")
    if dc.validation is not None or dc.test is not None:
        raise ConfigError(
            "cross-validation holds out each fold as the test split and carves validation "
            "from the other folds; drop --validation and --test (data.validation, data.test)."
        )
    spec = ColumnSpec.from_config(dc)
    split = read_split(source, spec, name="train")
    space = LabelSpace.infer(
        split.dataset["labels"],
        task=dc.task,
        order=spec.label_names or spec.label_columns,
        multilabel_source=split.label_sets,
        source=split.source,
    )
    validate_splits({"train": split}, space).raise_for_errors()
    return split, space


def plan_folds(
    split: Split, space: LabelSpace, *, folds: int, seed: int, min_examples: int
) -> list[np.ndarray]:
    """The held-out rows (positions in ``split``) of each fold; repeats of a text together.

    Raises:
        DataError: a class with too few distinct texts for ``folds`` folds, each with a
            validation split carved from its training part.
    """
    if folds < 2:
        raise ConfigError(f"--folds {folds}: use at least 2 folds.")
    y = space.encode(split.dataset["labels"])
    groups, uniques = pd.factorize(np.asarray(split.dataset["text"], dtype=object))
    _, first = np.unique(groups, return_index=True)
    counts = (
        y[first].sum(axis=0) if y.ndim == 2 else np.bincount(y[first], minlength=len(space.labels))
    )
    # Each fold's training part keeps (k-1)/k of a class, and its validation carve needs
    # split.min_examples_per_class of them; every fold's test part needs one.
    need = max(folds, math.ceil(min_examples * folds / (folds - 1)))
    small = [(space.labels[i], int(c)) for i, c in enumerate(counts) if 0 < c < need]
    if small:
        name, count = min(small, key=lambda t: t[1])
        others = f" (and {len(small) - 1} more)" if len(small) > 1 else ""
        raise DataError(
            f"{split.source}: class '{name}' has only {count} distinct text(s){others}, too "
            f"few for {folds} folds that each carve a validation split (need {need}); add "
            "examples, merge or remove the class, or use fewer --folds."
        )
    parts = kfold_indices(
        y, folds=folds, seed=seed, groups=None if len(uniques) == len(groups) else groups
    )
    # Iterative stratification does not promise each fold at most ceil(c/k) of a label, so
    # check what each fold's training part really keeps, before anything is written.
    held_groups = [np.isin(np.arange(len(first)), groups[part]) for part in parts]
    for i, held in enumerate(held_groups, start=1):
        kept = y[first][~held]
        left = kept.sum(axis=0) if y.ndim == 2 else np.bincount(kept, minlength=len(counts))
        short = [
            (space.labels[j], int(c)) for j, c in enumerate(left) if counts[j] and c < min_examples
        ]
        if short:
            name, count = min(short, key=lambda t: t[1])
            raise DataError(
                f"{split.source}: with --seed {seed}, fold {i}'s training part keeps only "
                f"{count} distinct text(s) of class '{name}', too few to carve its validation "
                f"split (need {min_examples}); add examples of it, try another --seed, or use "
                "fewer --folds."
            )
    return parts


def _records(split: Split, rows: np.ndarray, space: LabelSpace) -> str:
    """Fold rows as JSON Lines: the text, the label *ids* (read with ``folds/labels.txt``,
    so every fold has the whole data's labels in its order) and the file's row as ``id``."""
    index = {name: i for i, name in enumerate(space.labels)}
    texts, labels, numbers = (split.dataset[c] for c in ("text", "labels", "row"))
    lines = []
    for i in rows.tolist():
        ids = [index[name] for name in labels[i]]
        label: Any = ids if space.multilabel else ids[0]
        lines.append(json.dumps({"text": texts[i], "label": label, "id": int(numbers[i])}))
    return "\n".join(lines) + "\n"


def _check_folder(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse an output folder that is not new, ours to redo, or ours to resume."""
    names = sorted(p.name for p in out.iterdir() if p.name != LOCK) if out.is_dir() else []
    if not names:
        return
    if not (out / PLAN).is_file():
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        raise ConfigError(
            f"{out}: the output folder holds files that are not a cross-validation ({shown}); "
            "choose a new or empty --output."
        )
    if overwrite:
        return
    if (out / SUMMARY).is_file():
        raise ConfigError(
            f"{out}: this cross-validation has finished; choose a new --output, or pass "
            "--overwrite to run it again."
        )
    if not resume:
        raise ConfigError(
            f"{out}: the output folder holds an unfinished cross-validation; pass --resume to "
            "continue it (finished folds are kept), or --overwrite to start again."
        )


def _clear(out: Path) -> None:
    """``--overwrite``: remove what a cross-validation wrote; ``folds/plan.json`` last, so
    that an interrupted clear leaves a folder that is still recognised as ours."""
    for fold in out.glob("fold-*"):
        ours = re.fullmatch(r"fold-\d+", fold.name) and fold.is_dir() and not fold.is_symlink()
        if ours and RunFolder(fold).foreign_files() == []:
            shutil.rmtree(fold)
    for name in (SUMMARY, "cv.md", OOF, "tracking"):
        target = out / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
    for item in (out / "folds").iterdir():
        if item.name != "plan.json":
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item)
            else:
                item.unlink()
    (out / PLAN).unlink()


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold ``out``'s lock: a second job on the same cross-validation is refused at once."""
    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out / LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise ConfigError(
            f"{out}: another textclf job is working in this cross-validation right now; wait "
            "for it to finish, or choose another --output."
        ) from None
    try:
        yield
    finally:
        lock.release()


def _settings(config: ExperimentConfig) -> str:
    """A hash of what decides the folds' results: every setting but the paths and tracking."""
    dump = config.model_dump(mode="json")
    for key in ("output_dir", "tracking", "diagnostics", "tune"):
        dump.pop(key, None)
    dump["data"].pop("train", None)
    return hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest()[:16]


#: What each plan field is called in the message when a resume does not match it.
_PLAN_NAMES = {
    "fingerprint": "other data",
    "folds": "another --folds",
    "seed": "another --seed",
    "task": "another task",
    "labels": "other labels",
    "rows": "other folds",
    "settings": "other settings (backbone, schedule, eval, …)",
    "confidence": "another confidence level",
}


def cross_validate(
    config: ExperimentConfig,
    *,
    folds: int = 5,
    resume: bool = False,
    overwrite: bool = False,
    train: Any = None,
) -> CrossValidation:
    """Run ``train``'s whole pipeline on each of ``folds`` folds and summarise them.

    Args:
        config: The run's config; ``output_dir`` is the cross-validation's folder and
            ``data.train`` (or ``train``) the labelled data. ``split.validation_size``
            sizes each fold's validation carve; ``split.test_size`` is not used.
        folds: k, at least 2.
        resume: Continue an interrupted cross-validation in ``output_dir``.
        overwrite: Replace a cross-validation in ``output_dir``.
        train: A data object (DataFrame, Dataset, …) instead of ``config.data.train``.

    Returns:
        The summary; ``cv.json``, ``cv.md`` and ``oof_predictions.jsonl`` are written.

    Raises:
        ConfigError: no data or output folder, given validation or test data, an output
            folder that is not a cross-validation, or one that holds another plan.
        DataError: unreadable data, or a class too small for the folds.
    """
    if config.output_dir is None:
        raise ConfigError("no output folder: pass --output DIR (or output_dir in the config).")
    out = Path(config.output_dir)
    split, space = _read(config, train)
    test_rows = plan_folds(
        split,
        space,
        folds=folds,
        seed=config.seed,
        min_examples=config.split.min_examples_per_class,
    )
    experiment = config.tracking.experiment or (
        default_experiment_name(config.data) if train is None else "textclf"
    )
    tracking = config.tracking.model_copy(update={"experiment": experiment})
    session = TrackingSession(config.model_copy(update={"tracking": tracking}))
    session.check()  # before anything is written: a required tracker that fails stops here
    _check_folder(out, resume=resume, overwrite=overwrite)
    with _locked(out):
        if overwrite and (out / PLAN).is_file():
            _clear(out)
        return _run_folds(
            config, out, split, space, test_rows, session, folds=folds, resume=resume,
            experiment=experiment,
        )  # fmt: skip


def _run_folds(
    config: ExperimentConfig,
    out: Path,
    split: Split,
    space: LabelSpace,
    test_rows: list[np.ndarray],
    session: TrackingSession,
    *,
    folds: int,
    resume: bool,
    experiment: str,
) -> CrossValidation:
    """Write the plan and the fold files, run the folds that are not finished, summarise."""
    plan = {
        "source": str(split.source),
        "fingerprint": content_fingerprint(split),
        "folds": folds,
        "seed": config.seed,
        "task": space.task,
        "labels": list(space.labels),
        "rows": [[int(r) for r in np.asarray(split.dataset["row"])[idx]] for idx in test_rows],
        "settings": _settings(config),
        "confidence": config.eval.confidence,
    }
    plan_file = out / PLAN
    if plan_file.is_file():
        earlier = json.loads(plan_file.read_text(encoding="utf-8"))
        # The source's path may move; its content, the settings and the folds may not:
        # the summary averages the folds, which must be runs of one recipe on one plan.
        changed = [_PLAN_NAMES[k] for k, v in plan.items() if k != "source" and earlier.get(k) != v]
        if changed:
            raise ConfigError(
                f"{out}: the unfinished cross-validation there was started with "
                f"{' and '.join(changed[:2])}; resume it with the same data and options, or "
                "pass --overwrite to start again."
            )
    # The plan first: it marks the folder as a cross-validation, which --resume continues.
    write_text_atomic(plan_file, json.dumps(plan, indent=1))
    write_text_atomic(out / LABELS, "".join(f"{name}\n" for name in space.labels))
    multilabel = space.multilabel
    for i, held in enumerate(test_rows, start=1):
        rest = np.setdiff1d(np.arange(len(split)), held)
        write_text_atomic(out / f"folds/fold-{i}/train.jsonl", _records(split, rest, space))
        write_text_atomic(out / f"folds/fold-{i}/test.jsonl", _records(split, held, space))

    try:
        # One parent run, the folds' runs nested under it (as a search's trials are).
        session.begin(
            out,
            resume=resume,
            task=space.task,
            labels=space.labels,
            datasets=[
                DatasetRecord(
                    "train", "train", content_fingerprint(split), str(split.source), len(split)
                )
            ],
        )
        session.tracker.set_tags({"textclf.kind": "cv", "textclf.folds": str(folds)})
        parent = session.tracker if session.active else None
        docs = []
        notes: list[str] = []
        for i in range(1, folds + 1):
            fold_dir = out / f"fold-{i}"
            if RunFolder(fold_dir).state() == "finished":
                notes.append(f"fold {i} had finished in an earlier start and is kept.")
                logger.info("Fold %d of %d: finished earlier, kept.", i, folds)
            else:
                logger.info(
                    "Fold %d of %d: training on %d rows, testing on %d.",
                    i,
                    folds,
                    len(split) - len(test_rows[i - 1]),
                    len(test_rows[i - 1]),
                )
                # A fold not begun yet starts plainly (no "nothing to resume" warning).
                started = resume and RunFolder(fold_dir).state() == "running"
                fold_config = _fold_config(config, out, i, space.task, experiment)
                run_experiment(fold_config, resume=started, tracker=parent)
            docs.append(
                json.loads((fold_dir / "eval" / "metrics.json").read_text(encoding="utf-8"))
            )
        document = summarise(docs, plan)
        write_text_atomic(out / OOF, _pooled_predictions(out, folds, split, multilabel))
        write_text_atomic(out / "cv.md", summary_markdown(document))
        write_text_atomic(out / SUMMARY, json.dumps(document, indent=1))
        if parent is not None:
            parent.log_metrics(_tracked(document))
            for name in ("cv.md", SUMMARY):  # no text of the data in either
                parent.log_artifacts(out / name)
        recorded = session.end()
    except BaseException as e:
        session.fail(e)  # the parent run ends FAILED (KILLED on Ctrl-C)
        raise
    return CrossValidation(
        output_dir=out,
        folds=folds,
        task=space.task,
        metric=document["headline_metric"],
        document=document,
        notes=notes,
        tracking=recorded,
    )


def _tracked(document: dict[str, Any]) -> dict[str, float]:
    """The parent run's metrics: each metric's mean and sd over folds, and the difference's."""
    out: dict[str, float] = {}
    stats = [(f"cv_{name}", v) for name, v in document["metrics"].items()]
    if document["comparison"]:
        stats.append(("cv_difference", document["comparison"]["difference"]))
    for key, v in stats:
        for part in ("mean", "sd"):
            if v[part] is not None:
                out[f"{key}_{part}"] = float(v[part])
    return out


def _fold_config(
    config: ExperimentConfig, out: Path, i: int, task: str, experiment: str
) -> ExperimentConfig:
    """Fold ``i``'s run: its files (plain text, label, id), its folder, the same settings."""
    data = config.data.model_copy(
        update={
            "train": str(out / f"folds/fold-{i}/train.jsonl"),
            "validation": None,
            "test": str(out / f"folds/fold-{i}/test.jsonl"),
            "format": "jsonl",
            "text_column": "text",
            "label_column": "label",
            "label_columns": None,
            "label_separator": None,
            "label_names": str(out / LABELS),
            "id_column": "id",
            "column_names": None,
            "quoting": "auto",
            "hf_config": None,
            "task": task,
        }
    )
    # The folds' models are evidence, not releases: not logged or registered (as trials).
    tracking = config.tracking.model_copy(
        update={"experiment": experiment, "log_model": False, "registered_model": None}
    )
    return config.model_copy(
        update={
            "data": data,
            "tracking": tracking,
            "output_dir": str(out / f"fold-{i}"),
            "split": config.split.model_copy(update={"test_size": 0.0}),
        }
    )


def _pooled_predictions(out: Path, folds: int, split: Split, multilabel: bool) -> str:
    """Every fold's test predictions with the fold, the true label(s), the file's row and,
    with an id column, the example's id."""
    truth = {
        int(row): (list(labels) if multilabel else labels[0])
        for row, labels in zip(split.dataset["row"], split.dataset["labels"], strict=True)
    }
    # The fold files carry the file's row as their id; the data's own ids come back here.
    own_ids = (
        dict(zip(split.dataset["row"], split.dataset["id"], strict=True))
        if "id" in split.dataset.column_names
        else None
    )
    records = []
    for i in range(1, folds + 1):
        path = out / f"fold-{i}" / "eval" / "predictions.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            row = int(rec.pop("id"))
            rec.pop("row", None)
            ident = {"id": own_ids[row]} if own_ids is not None else {}
            records.append({"row": row, **ident, "fold": i, "true": truth[row], **rec})
    records.sort(key=lambda r: r["row"])
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
