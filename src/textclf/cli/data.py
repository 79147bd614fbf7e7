"""``textclf data validate`` and ``data synth``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from textclf.cli._common import (
    Columns,
    ConfigOptions,
    Splits,
    Task,
    column_options,
    data_flags,
    option_group,
    run,
)
from textclf.errors import ConfigError, TextclfError

app = typer.Typer(help="Check data files and generate demo data.", no_args_is_help=True)

# A tokenizer's "no limit" sentinel (int(1e30)) is not a position limit worth naming.
_NO_LIMIT = 1_000_000


def _guess_split_name(path: str, position: int) -> str:
    stem = Path(path).stem.lower()
    for key, name in (
        ("train", "train"),
        ("dev", "validation"),
        ("val", "validation"),
        ("test", "test"),
    ):
        if key in stem:
            return name
    return ("train", "validation", "test")[position] if position < 3 else f"file{position + 1}"


def _files_by_split(files: Sequence[str], splits: Splits) -> Splits:
    """Positional files named by their stems (``*train*``, ``*dev*``/``*val*``, ``*test*``)."""
    given = dataclasses.asdict(splits)
    names = [_guess_split_name(f, i) for i, f in enumerate(files)]
    if files and "train" not in names and splits.train is None:
        names[0] = "train"
    for name, path in zip(names, files, strict=True):
        if name not in given:
            raise ConfigError(
                f"{path}: a fourth file; give at most a training, a validation and a test file."
            )
        if given[name] is not None:
            raise ConfigError(
                f"{path}: a second {name} file (the first is {given[name]}); name the splits "
                "with --train, --validation and --test."
            )
        given[name] = path
    return Splits(**given)


@app.command("validate")
@option_group(
    Splits,
    train="Training data (instead of a positional file).",
    validation="Validation data (else split from train).",
    test="Test data (else split from train).",
)
@column_options
@option_group(
    ConfigOptions,
    seed="Seed of the carved splits (default: 42).",
    overrides="Dotted override (repeatable), e.g. split.test_size=0.2.",
)
def data_validate(
    files: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="FILE",
            help="Data files: the one named *train* (else the first) is the training split, "
            "*dev*/*val* validation, *test* test.",
        ),
    ] = None,
    splits: Splits = Splits(),
    columns: Columns = Columns(),
    task: Task = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Model whose tokenizer measures the text lengths (default: default, the "
            "bundled all-MiniLM-L6-v2).",
        ),
    ] = None,
    max_length: Annotated[
        int | None,
        typer.Option("--max-length", help="Token limit to measure truncation at (default: 128)."),
    ] = None,
    setup: ConfigOptions = ConfigOptions(),
    json_output: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON.")
    ] = None,
) -> None:
    """Run every check that train runs, with its split settings (exit 2 when train would refuse)."""

    def body() -> None:
        from textclf.data.prepare import prepare_data

        flags = {
            "seed": setup.seed,
            **data_flags(_files_by_split(files or [], splits), columns, task),
            "model.name": model,
            "model.max_length": max_length,
        }
        cfg = setup.build(flags)
        # train checks the model name too; here its tokenizer also measures the lengths.
        from textclf.modeling import check_max_length, token_counter

        limit = check_max_length(cfg.model.name, cfg.model.max_length, revision=cfg.model.revision)
        count_tokens = token_counter(cfg.model.name, revision=cfg.model.revision)
        data = prepare_data(
            cfg, count_tokens=count_tokens, model_max_length=limit, raise_errors=False
        )
        report = data.report
        space = data.space
        print(
            f"Task: {space.task}; {space.num_labels} labels: {', '.join(space.labels[:20])}"
            + (" …" if space.num_labels > 20 else "")
        )
        print(report.to_markdown())
        if json_output:
            from textclf.atomic import write_text_atomic

            write_text_atomic(json_output, json.dumps(report.to_dict(), indent=2))
        print(f"\n{len(report.errors)} error(s), {len(report.warnings)} warning(s).")
        report.raise_for_errors()

    run(body)


@app.command("synth")
def data_synth(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write (.csv, .tsv, .jsonl, .parquet).")
    ],
    task: Annotated[
        str, typer.Option("--task", help="binary|multiclass|multilabel")
    ] = "multiclass",
    n: Annotated[int, typer.Option("--n", help="Number of reports.")] = 2000,
    seed: Annotated[
        int, typer.Option("--seed", help="Seeds the generator: the same seed, the same reports.")
    ] = 0,
) -> None:
    """Generate synthetic breast-cancer pathology reports whose labels follow from their text."""

    def body() -> None:
        from textclf.data.synth import check_args, write_reports

        try:
            check_args(task, n, seed, names=("--task", "--n", "--seed"))
            path = write_reports(output, task, n, seed=seed)
        except ValueError as e:
            raise TextclfError(str(e)) from e
        print(f"Wrote {n} {task} reports to {path}.")

    run(body)
