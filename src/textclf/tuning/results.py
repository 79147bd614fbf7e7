"""The end of a search: ``trials.csv``, ``study.json``, Optuna's figures, the exported model.

The best trial's folder already holds its best checkpoint's weights and decision rule;
exporting measures it once on the held-out test split (with baselines), saves it as an
ordinary model folder at ``OUTPUT`` with its card and report, and adds the search's
figures to the report. Workers that share ``OUTPUT`` finish one at a time.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from textclf.assess import assess, baseline_verdict, fit_configured_baselines
from textclf.atomic import atomic_path, write_text_atomic
from textclf.config import ExperimentConfig, apply_overrides
from textclf.data.prepare import PreparedData
from textclf.errors import TextclfError
from textclf.estimator import TextClassifier
from textclf.experiment import save_fitted
from textclf.persistence import SIDECAR, WEIGHTS_REMOVED
from textclf.run_folder import RunFolder
from textclf.tracking.session import TrackingSession
from textclf.tuning.selection import keep_trial
from textclf.tuning.space import config_with, describe
from textclf.tuning.storage import counted_trials, mask_url

logger = logging.getLogger(__name__)

TRIALS_DIR = "trials"
TUNING_DIR = "tuning"

_REPORT_START = "<!-- textclf:tuning -->"
_REPORT_END = "<!-- /textclf:tuning -->"


@dataclass
class TuneResult:
    """What a search produced and where.

    Attributes:
        study: Study name.
        storage: Storage URL (password masked).
        metric: The validation metric optimised, and its ``direction``.
        counts: Trials by state (``COMPLETE``, ``PRUNED``, ``FAIL``, ``RUNNING``).
        ran: Trials this worker ran.
        best_trial: Number of the kept trial: the best one, or the untuned one when the
            best beats it only by noise (``selection``); ``None`` when none completed.
        best_value: Its value (the best checkpoint's validation metric).
        best_params: Its sampled values (dotted key → value).
        output_dir: The exported model folder; ``None`` when the best trial's folder is
            on another machine (see ``notes``).
        evaluation: The final ``metrics.json`` document (test split).
        tuning_dir: ``OUTPUT/tuning``: ``trials.csv``, ``study.json``, the figures.
        tracking: Where the search was tracked (``TrackingInfo`` fields).
        notes: Plain-words notes (pruned counts, skipped figures, where the best model is).
        warnings: Prominent verdicts (the model does not beat the best baseline).
        selection: Why the exported trial was kept over the untuned one, or the other way
            round (:func:`textclf.tuning.selection.keep_trial`); ``None`` when not compared.
        total_runtime_s: Wall time of this worker.
    """

    study: str
    storage: str
    metric: str
    direction: str
    counts: dict[str, int]
    ran: int
    best_trial: int | None
    best_value: float | None
    best_params: dict[str, Any]
    output_dir: Path | None
    evaluation: dict[str, Any]
    tuning_dir: Path
    tracking: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    total_runtime_s: float = 0.0
    selection: str | None = None


def finish(
    optuna: Any,
    study: Any,
    config: ExperimentConfig,
    data: PreparedData,
    *,
    output: Path,
    metric: str,
    url: str,
    session: TrackingSession,
) -> TuneResult:
    """Write the study's files, export the best model if it is here, end the tracked run.

    Workers that share the output folder finish one at a time; each one exports the
    study's best model unless it is already there.
    """
    tuning = output / TUNING_DIR
    state = optuna.trial.TrialState
    tuning.mkdir(parents=True, exist_ok=True)
    with FileLock(str(tuning / ".finish.lock")):
        trials = study.get_trials(deepcopy=False)
        if not trials:  # nothing ran and nothing is to be reported
            raise TextclfError(
                f"study '{study.study_name}' has no trial yet and --trials asked for none; "
                "give --trials 1 or more."
            )
        counts = {s.name: sum(t.state == s for t in trials) for s in state}
        stopped = len(trials) - counted_trials(trials, state)
        counts["FAIL"] -= stopped
        counts["STOPPED"] = stopped
        counts = {k: v for k, v in counts.items() if v}
        complete = [t for t in trials if t.state == state.COMPLETE]
        best = study.best_trial if complete else None
        kept = None
        if best is not None:
            kept = keep_trial(
                best,
                complete,
                task=data.space.task,
                metric=metric,
                direction=study.direction.name.lower(),
                confidence=config.eval.confidence,
                n_resamples=config.eval.n_resamples,
                seed=config.seed,
            )
            best = kept.trial
        result = TuneResult(
            study=study.study_name,
            storage=mask_url(url),
            metric=metric,
            direction=study.direction.name.lower(),
            counts=counts,
            ran=0,
            best_trial=best.number if best else None,
            best_value=best.value if best else None,
            best_params=dict(best.params) if best else {},
            output_dir=None,
            evaluation={},
            tuning_dir=tuning,
        )
        result.notes.append(_counts_sentence(counts, len(trials)))
        if kept is not None and kept.note:
            result.selection = kept.note
            result.notes.append(kept.note)
        _write_study_files(study, trials, result, tuning)
        figures, notes = study_figures(study, tuning / "figures")
        result.notes += notes
        sections = _tuning_sections(result, trials, figures)
        _write_tuning_report(result, sections, tuning / "report.html")
        if best is None:
            raise TextclfError(
                f"no trial of study '{result.study}' completed ({result.notes[0].rstrip('.')}); "
                f"the errors are in {tuning / 'trials.csv'}; fix them and run again."
            )
        folder = Path(best.user_attrs.get("folder", ""))
        marker = tuning / "best.json"
        exported = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else {}
        if exported.get("trial") == best.number and (output / SIDECAR).is_file():
            result.output_dir = output
            stored = output / "eval" / "metrics.json"
            if stored.is_file():
                result.evaluation = json.loads(stored.read_text(encoding="utf-8"))
        elif (folder / SIDECAR).is_file():
            final = config_with(config, best.params)
            final = apply_overrides(final, [f"output_dir={json.dumps(str(output))}"])
            _export(final, data, folder, output, result=result, best_number=best.number)
            write_text_atomic(
                marker,
                json.dumps({"trial": best.number, "folder": str(folder)}, indent=1) + "\n",
            )
        else:
            host = (best.user_attrs.get("worker") or {}).get("host", "another machine")
            result.notes.append(
                f"The best trial ({best.number}) ran on {host}: its model folder is "
                f"{folder} there. Run the same 'textclf tune' command with --trials 0 there "
                "to export it."
            )
        if result.output_dir is not None:
            _embed_in_report(output / "eval" / "report.html", sections)
        if not config.tune.keep_trial_models:
            _drop_trial_weights(output, trials, best.number, state)
    _complete_tracking(session, result, tuning, output, data)
    return result


def _counts_sentence(counts: Mapping[str, int], total: int) -> str:
    parts = [
        f"{counts.get(k, 0)} {w}"
        for k, w in (("COMPLETE", "completed"), ("PRUNED", "pruned"), ("FAIL", "failed"))
    ]
    if counts.get("RUNNING"):
        parts.append(f"{counts['RUNNING']} still running")
    if counts.get("STOPPED"):
        parts.append(
            f"{counts['STOPPED']} stopped from outside (Ctrl-C or a killed worker; run again in "
            "their place, not counted toward --trials)"
        )
    return f"{total} trial(s): " + ", ".join(parts) + "."


def _trial_rows(trials: Sequence[Any]) -> list[dict[str, Any]]:
    rows = []
    for t in trials:
        duration = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else None
        )
        last = max(t.intermediate_values) if t.intermediate_values else None
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "evaluations": len(t.intermediate_values),
                "last_intermediate": t.intermediate_values.get(last) if last else None,
                "duration_s": None if duration is None else round(duration, 1),
                **{f"params.{k}": v for k, v in t.params.items()},
                "error": t.user_attrs.get("error"),
                "folder": t.user_attrs.get("folder"),
            }
        )
    return rows


def _write_study_files(study: Any, trials: Sequence[Any], result: TuneResult, tuning: Path) -> None:
    """``trials.csv`` (one row per trial) and ``study.json`` (settings, counts, best, trials)."""
    import pandas as pd

    rows = _trial_rows(trials)
    write_text_atomic(tuning / "trials.csv", pd.DataFrame(rows).to_csv(index=False))
    doc = {
        "study": result.study,
        "storage": result.storage,
        "metric": result.metric,
        "direction": result.direction,
        "counts": result.counts,
        "best": None
        if result.best_trial is None
        else {
            "trial": result.best_trial,
            "value": result.best_value,
            "params": result.best_params,
            "folder": next(
                (t.user_attrs.get("folder") for t in trials if t.number == result.best_trial),
                None,
            ),
        },
        "trials": [
            {**r, "intermediate": dict(t.intermediate_values)}
            for r, t in zip(rows, trials, strict=True)
        ],
    }
    write_text_atomic(tuning / "study.json", json.dumps(doc, indent=1, default=str) + "\n")


def study_figures(study: Any, out: Path) -> tuple[dict[str, Path], list[str]]:
    """Optuna's matplotlib figures of a study, saved as PNGs in ``out``.

    Returns:
        Title → PNG path for the figures drawn, and notes on those that could not be
        (too few trials, one parameter, no varying values).
    """
    import matplotlib
    import matplotlib.pyplot as plt
    import numpy as np
    from optuna.visualization import matplotlib as ovm

    kinds: dict[str, tuple[str, Callable[[Any], Any]]] = {
        "Optimisation history": ("history.png", ovm.plot_optimization_history),
        "Learning curves (validation, per evaluation)": (
            "intermediate.png",
            ovm.plot_intermediate_values,
        ),
        "Parameter importances": ("importances.png", ovm.plot_param_importances),
        "Slices: value against each parameter": ("slices.png", ovm.plot_slice),
    }
    drawn: dict[str, Path] = {}
    notes: list[str] = []
    category = logging.getLogger("matplotlib.category")
    level = category.level
    for title, (name, plot) in kinds.items():
        try:
            # Optuna's plots call plt.style.use("ggplot"), which would restyle every later
            # figure of the process (the report's): rc_context restores the settings.
            with warnings.catch_warnings(), matplotlib.rc_context():
                warnings.simplefilter("ignore")  # ExperimentalWarning on every call
                category.setLevel(logging.WARNING)  # "categorical units" for choices
                fig = np.atleast_1d(plot(study)).ravel()[0].figure
                buf = io.BytesIO()
                if fig.axes[0].has_data():
                    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
                plt.close(fig)
            if not buf.getvalue():
                notes.append(f"{title}: not drawn (no trial data yet).")
                continue
            with atomic_path(out / name) as tmp:
                tmp.write_bytes(buf.getvalue())
            drawn[title] = out / name
        except Exception as e:  # too few trials, a single parameter, …: the search stands
            plt.close("all")
            notes.append(f"{title}: not drawn ({type(e).__name__}: {str(e)[:120]}).")
        finally:
            category.setLevel(level)
    return drawn, notes


def _tuning_sections(
    result: TuneResult, trials: Sequence[Any], figures: Mapping[str, Path]
) -> list[Any]:
    import pandas as pd

    from textclf.diagnostics import html as H

    facts = [
        f"Study '{result.study}' in {result.storage}: {result.notes[0]}",
        f"Objective: the best checkpoint's validation {result.metric} ({result.direction}).",
    ]
    if result.best_trial is not None:
        facts.append(
            f"Kept: trial {result.best_trial}, {result.metric} {result.best_value:.4f}, "
            f"{describe(result.best_params)}."
        )
    if result.selection:
        facts.append(result.selection)
    body = "".join(f"<p>{H.esc(line)}</p>" for line in facts)
    images = [
        H.image(path.read_bytes(), alt=title, caption=title) for title, path in figures.items()
    ]
    frame = pd.DataFrame(_trial_rows(trials)).drop(columns=["folder"], errors="ignore")
    return [
        H.Section("tuning", "Hyperparameter search", body + H.grid(images)),
        H.Section("tuning-trials", "Trials", H.table(frame, text_columns=("error",))),
    ]


def _write_tuning_report(result: TuneResult, sections: list[Any], path: Path) -> None:
    from textclf.diagnostics import html as H

    page = H.render_document(title=f"textclf tune: {result.study}", sections=sections)
    write_text_atomic(path, page)


def _embed_in_report(report: Path, sections: list[Any]) -> None:
    """Put the search's sections into the model's ``report.html`` (replacing earlier ones)."""
    if not report.is_file():
        return
    from textclf.diagnostics import html as H

    page = report.read_text(encoding="utf-8")
    page = re.sub(
        re.escape(_REPORT_START) + ".*?" + re.escape(_REPORT_END), "", page, flags=re.DOTALL
    )
    if "</main>" not in page or "</nav>" not in page:
        return
    body = "".join(
        f'<section id="{H.esc(s.id)}"><h2>{H.esc(s.title)}</h2>{s.body}</section>' for s in sections
    )
    links = "".join(f'<a href="#{H.esc(s.id)}">{H.esc(s.title)}</a>' for s in sections)
    page = page.replace("</nav>", f"{_REPORT_START}{links}{_REPORT_END}</nav>", 1)
    page = page.replace("</main>", f"{_REPORT_START}{body}{_REPORT_END}</main>", 1)
    write_text_atomic(report, page)


def _export(
    config: ExperimentConfig,
    data: PreparedData,
    trial_folder: Path,
    output: Path,
    *,
    result: TuneResult,
    best_number: int,
) -> None:
    """Make the best trial's model the folder at ``output``, evaluated on the test split.

    The trial's folder already holds its best checkpoint's weights and decision rule;
    here they are measured once on the held-out test split (with baselines), saved as an
    ordinary model folder with its card, and the report is written.
    """
    logger.info("Exporting trial %d (%s) to %s.", best_number, trial_folder, output)
    clf = TextClassifier.from_pretrained(trial_folder)
    folder = RunFolder(output)
    folder.set_state("running")
    history = trial_folder / "eval" / "log_history.json"
    eval_dir = output / "eval"
    shutil.rmtree(eval_dir, ignore_errors=True)  # an earlier best's evaluation
    space = data.space
    baselines = fit_configured_baselines(
        data.splits["train"], space, config, validation=data.splits.get("validation")
    )
    split_name = "test" if "test" in data.splits else "validation"
    batch_size = max(64, config.train.batch_size_for(len(data.splits["train"])) * 2)
    assessment = assess(
        clf,
        data.splits[split_name],
        baselines=baselines,
        eval_config=config.eval,
        seed=config.seed,
        split_name=split_name,
        batch_size=batch_size,
        metric=config.train.chosen_metric(),
    )
    doc = assessment.document
    assessment.write(eval_dir)
    log_history = json.loads(history.read_text(encoding="utf-8")) if history.is_file() else None
    if log_history is not None:
        write_text_atomic(eval_dir / "log_history.json", json.dumps(log_history, indent=1))
    verdict = baseline_verdict(doc)
    result.warnings += [verdict] if verdict else []
    info = clf.info()
    info.training = {
        **info.training,
        "tuning": {
            "study": result.study,
            "trial": best_number,
            "metric": result.metric,
            "value": result.best_value,
            "params": result.best_params,
            "trials": result.counts,
        },
    }
    notes = [n for n in (data.split_note, *info.training.get("notes", []), *info.rule.notes) if n]
    notes.append(
        f"Chosen by a hyperparameter search: trial {best_number} of study '{result.study}' "
        f"({result.notes[0]}), validation {result.metric} {result.best_value:.4f}."
    )
    if result.selection:
        notes.append(result.selection)
    result.notes += save_fitted(
        clf,
        output,
        info,
        config,
        data,
        assessment,
        notes=notes,
        warnings=result.warnings,
        batch_size=batch_size,
        log_history=log_history,
        best_metric=result.metric,
        title=f"textclf report: {output.name} (tuned, trial {best_number})",
        facts=[
            ("backbone", info.backbone_name),
            ("search", f"study '{result.study}', trial {best_number}"),
        ],
    )
    folder.set_state("finished")
    result.output_dir = output
    result.evaluation = doc


def mark_weights_removed(folder: Path, reason: str) -> None:
    """Leave ``reason`` in a trial folder whose model is gone, for loading it to report."""
    write_text_atomic(
        folder / WEIGHTS_REMOVED,
        f"{reason}; run tune with --set tune.keep_trial_models=true to keep every trial's model.\n",
    )


def _drop_trial_weights(output: Path, trials: Sequence[Any], best: int, state: Any) -> None:
    """Delete the weights and checkpoints of finished trials but the kept and the untuned one.

    The untuned trial keeps its weights: a worker that finishes later may keep it over a
    new best that beats it only by noise (:func:`textclf.tuning.selection.keep_trial`).
    """
    for t in trials:
        if t.number == best or t.state == state.RUNNING or t.user_attrs.get("defaults"):
            continue
        folder = output / TRIALS_DIR / f"trial-{t.number:03d}"
        if not folder.is_dir():
            continue
        shutil.rmtree(folder / "checkpoints", ignore_errors=True)
        weights = folder / "model.safetensors"
        if weights.is_file():
            mark_weights_removed(
                folder,
                f"'textclf tune' deleted the weights of trial {t.number}, which was not kept "
                f"(the kept model is {output})",
            )
            weights.unlink()


def _complete_tracking(
    session: TrackingSession, result: TuneResult, tuning: Path, output: Path, data: PreparedData
) -> None:
    """Record the search's summary in the parent run; with the model when it was exported."""
    if not session.active:
        return
    tracker = session.tracker
    summary = {f"tune_trials_{k.lower()}": float(v) for k, v in result.counts.items()}
    if result.best_value is not None:
        summary[f"tune_best_{result.metric}"] = result.best_value
    tracker.log_metrics(summary)
    if result.best_trial is not None:
        tracker.set_tags({"textclf.best_trial": str(result.best_trial)})
        tracker.log_params({f"best.{k}": v for k, v in result.best_params.items()})
    for name in ("trials.csv", "study.json", "report.html"):
        if (tuning / name).is_file():
            tracker.log_artifacts(tuning / name, artifact_path="tuning")
    if (tuning / "figures").is_dir():
        tracker.log_artifacts(tuning / "figures", artifact_path="tuning/figures")
    if result.output_dir is not None:
        result.tracking = session.complete(output, result.evaluation, task=data.space.task)
    else:
        result.tracking = session.end()
