"""``textclf report`` and ``explain``: diagnostics for a saved model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from textclf._version import __version__
from textclf.cli._common import (
    Columns,
    Measurement,
    TrainedModel,
    column_options,
    measurement_options,
    print_evaluation,
    run,
    split_csv,
)
from textclf.data.formats import data_stem
from textclf.errors import TextclfError, did_you_mean


@column_options
@measurement_options
def report(
    model: TrainedModel,
    data: Annotated[str, typer.Option("--data", "-d", help="Labelled file to diagnose.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Folder for the report (default: MODEL/eval/<file>)."),
    ] = None,
    train_file: Annotated[
        str | None,
        typer.Option("--train", help="Training file: baselines, label distribution, lengths."),
    ] = None,
    columns: Columns = Columns(),
    explain_text: Annotated[
        list[str] | None,
        typer.Option("--explain", help="A text to explain in the report (repeatable)."),
    ] = None,
    projections: Annotated[
        str, typer.Option("--projections", help="Embedding maps: any of pca,tsne,umap.")
    ] = "pca,tsne,umap",
    max_points: Annotated[
        int, typer.Option("--max-points", help="t-SNE/UMAP sample size at most.")
    ] = 2000,
    measurement: Measurement = Measurement(),
) -> None:
    """Diagnose a saved model on a labelled file: report.html, errors.csv and the figures."""

    def body() -> None:
        from textclf.config import DiagnosticsConfig
        from textclf.experiment import report_files

        started = time.perf_counter()
        blank = [i + 1 for i, text in enumerate(explain_text or []) if not text.strip()]
        if blank:
            raise TextclfError(
                f"--explain {blank[0]} is empty or only whitespace; give a text to explain."
            )
        try:
            options = DiagnosticsConfig(
                projections=split_csv(projections) or [],  # type: ignore[arg-type]
                max_points=max_points,
                explain_texts=list(explain_text or []),
            )
        except ValueError as e:
            raise TextclfError(
                f"invalid --projections or --max-points: {e.errors()[0]['msg']}; "  # type: ignore[attr-defined]
                "use a comma list of pca, tsne, umap and a sample size of at least 50."
            ) from e
        out = output or (model / "eval" / data_stem(data))
        assessment, notes = report_files(
            model,
            data,
            out,
            train=train_file,
            spec=columns.spec(),
            options=options,
            **measurement.kwargs(),
        )
        print_evaluation(assessment.document)
        for line in notes:
            print(f"Note: {line}")
        n_errors = int(
            (assessment.y_pred != assessment.y_true)
            .reshape(len(assessment.y_true), -1)
            .any(axis=1)
            .sum()
        )
        print(f"{n_errors} misclassified examples: {out / 'errors.csv'}")
        print(f"Report: {out / 'report.html'} ({time.perf_counter() - started:.0f} s)")

    run(body)


def explain(
    model: TrainedModel,
    texts: Annotated[list[str], typer.Argument(metavar="TEXT", help="Text(s) to explain.")],
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label", "-l", help="Explain this label (repeatable; default: the predicted ones)."
        ),
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Tokens shown per direction.")] = 8,
    method: Annotated[
        str,
        typer.Option("--method", help="integrated_gradients, attention_rollout or both."),
    ] = "integrated_gradients",
    steps: Annotated[int, typer.Option("--steps", help="Integrated Gradients steps.")] = 32,
    html_out: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the highlighted texts to this HTML file."),
    ] = None,
) -> None:
    """Show which tokens push a text towards its predicted (or a given) label."""

    def body() -> None:
        from textclf.atomic import write_text_atomic
        from textclf.diagnostics import html as H
        from textclf.diagnostics.attributions import explain as explain_text
        from textclf.diagnostics.attributions import highlight_html
        from textclf.inference.pipeline import Predictor

        methods = {
            "integrated_gradients": ("integrated_gradients",),
            "attention_rollout": ("attention_rollout",),
            "both": ("integrated_gradients", "attention_rollout"),
        }
        if method not in methods:
            raise TextclfError(
                f"unknown --method '{method}'; use integrated_gradients, attention_rollout or both."
            )
        if top < 1:
            raise TextclfError(f"--top {top}: must be at least 1 token per direction.")
        blank = [i + 1 for i, text in enumerate(texts) if not text.strip()]
        if blank:
            raise TextclfError(
                f"text {blank[0]} is empty or only whitespace; give a text to explain."
            )
        predictor = Predictor.from_folder(model)
        labels = list(predictor.info.labels)
        unknown = [lab for lab in label or [] if lab not in labels]
        if unknown:
            hint = did_you_mean(unknown[0], labels)
            shown = ", ".join(labels[:10]) + (
                f", … ({len(labels)} in all)" if len(labels) > 10 else ""
            )
            raise TextclfError(
                f"--label {unknown[0]}: not one of the model's labels"
                + (hint if hint else f" ({shown}); pass one of them with --label.")
            )
        fragments = []
        for text in texts:
            started = time.perf_counter()
            attrs = explain_text(
                predictor, text, labels=label or None, methods=methods[method], n_steps=steps
            )
            seconds = time.perf_counter() - started
            decided = predictor.predict([text])[0]
            chosen = [str(x) for x in decided] if isinstance(decided, list) else [str(decided)]
            print(f"\n{text}")
            for a in attrs:
                head = f"  {a.method}" + (
                    f" → {a.label} (p = {a.probability:.3f})" if a.label else ""
                )
                if a.label and a.label not in chosen:  # asked for with --label, or the top one
                    head += (
                        f"; not predicted (predicted: {', '.join(chosen)})"
                        if chosen
                        else "; not predicted: no label passes its threshold, this is the top score"
                    )
                print(head + (" [text truncated]" if a.truncated else ""))
                pos = ", ".join(f"{t} {s:+.2f}" for t, s in a.top_tokens(top, sign="positive"))
                print(f"    for:     {pos or '(none)'}")
                if a.method == "integrated_gradients":
                    neg = ", ".join(f"{t} {s:+.2f}" for t, s in a.top_tokens(top, sign="negative"))
                    print(f"    against: {neg or '(none)'}")
                note = a.accuracy_note(f"--steps (now {steps})")
                if note:
                    print(f"    note:    {note}")
                fragments.append(highlight_html(a))
            print(f"  ({seconds:.2f} s)")
        if html_out is not None:
            doc = H.render_document(
                title=f"textclf explain: {model.name}",
                sections=[H.Section("explanations", "Token attributions", "".join(fragments))],
                footer=f"textclf {__version__}",
            )
            write_text_atomic(html_out, doc)
            print(f"\nWrote {html_out}")

    run(body)
