"""Model page: what the model is, what it was trained on, and how well it does (with
intervals), all read from the model folder."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from textclf.app import components, session
from textclf.app.predictions import saved_thresholds
from textclf.app.render import chips_html, scriptless
from textclf.evaluation.report import comparison_sentence, fmt_interval, headline_table

handle = session.model()
info = handle.info
folder = handle.path
eval_dir = folder / "eval"

components.header("Model", f"{handle.name}, read from {folder}")


def _metrics_doc() -> dict[str, Any] | None:
    path = eval_dir / "metrics.json"
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        st.warning(f"{path} cannot be read as JSON; showing the summary from textclf.json.")
        return None
    return doc if isinstance(doc, dict) and "metrics" in doc else None


c1, c2, c3, c4 = st.columns(4)
c1.metric("Task", info.task)
c2.metric("Labels", len(info.labels))
c3.metric(
    "Backbone",
    Path(info.backbone_name).name or "?",
    help=" · ".join(str(v) for v in info.backbone.values() if v) or None,
)
c4.metric("Saved", (info.created or "?")[:10], help=info.created or None)
st.html(f'<div class="tc-chips">{chips_html(info.labels)}</div>')

tab_eval, tab_data, tab_figures, tab_card = st.tabs(
    ["Evaluation", "Training data", "Figures & report", "Model card"]
)

with tab_eval:
    doc = _metrics_doc()
    if doc is not None:
        level = round(100 * doc.get("confidence", 0.95))
        st.markdown(
            f"**{doc.get('split', 'test')} split**: {doc.get('n_examples', '?')} examples · "
            f"value [{level}% bootstrap CI], {doc.get('n_resamples', '?')} resamples "
            f"({doc.get('ci_method', 'percentile')})"
        )
        header, rows = headline_table(doc)
        st.dataframe(pd.DataFrame(rows, columns=header), hide_index=True, width="stretch")
        sentence = comparison_sentence(doc)
        if sentence:
            st.caption(sentence)
        per_label = doc.get("per_label") or {}
        if per_label:
            st.markdown("**Per label**")
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "label": lab,
                            "precision": fmt_interval(v.get("precision")),
                            "recall": fmt_interval(v.get("recall")),
                            "F1": fmt_interval(v.get("f1")),
                            "support": v.get("support"),
                        }
                        for lab, v in per_label.items()
                    ]
                ),
                hide_index=True,
                width="stretch",
            )
    elif info.metrics.get("metrics"):
        summary = info.metrics
        level = round(100 * summary.get("confidence", 0.95))
        st.markdown(
            f"**{summary.get('split', 'test')} split**: {summary.get('n_examples', '?')} "
            f"examples · value [{level}% CI] (from textclf.json; eval/metrics.json is missing)"
        )
        st.dataframe(
            pd.DataFrame(
                [
                    {"metric": name, "value [CI]": fmt_interval(iv)}
                    for name, iv in summary["metrics"].items()
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    else:
        st.info("This model folder has no evaluation (no eval/metrics.json).")

    st.markdown("**Decision rule** (fitted on the validation split)")
    thresholds = saved_thresholds(info)
    rule = info.rule.to_dict()
    lines = [f"- temperature: {info.rule.temperature:.3f}"]
    if rule.get("validation_ece_before") is not None:
        lines.append(
            f"- validation ECE: {rule['validation_ece_before']:.4f} before, "
            f"{rule['validation_ece_after']:.4f} after temperature scaling"
        )
    if thresholds is None:
        lines.append("- the label with the highest probability is predicted")
    elif info.task == "binary":
        lines.append(f"- '{info.labels[1]}' is predicted at probability ≥ {thresholds[0]:.2f}")
    else:
        lines.append("- a label is predicted when its probability reaches its threshold:")
    st.markdown("\n".join(lines))
    if thresholds is not None and info.task == "multilabel":
        st.dataframe(
            pd.DataFrame({"label": info.labels, "threshold": thresholds}),
            hide_index=True,
            width="content",
        )

with tab_data:
    sizes = info.data.get("sizes") or {}
    if sizes:
        cols = st.columns(len(sizes))
        for col, (name, n) in zip(cols, sizes.items(), strict=True):
            col.metric(f"{name} examples", f"{n:,}")
    if info.data.get("split_note"):
        st.caption(info.data["split_note"])
    report = (info.data.get("validation") or {}).get("splits") or {}
    if report:
        counts = (
            pd.DataFrame({name: s.get("label_counts", {}) for name, s in report.items()})
            .fillna(0)
            .astype(int)
        )
        counts.index.name = "label"
        st.markdown("**Label counts per split**")
        st.dataframe(counts, width="stretch")
        st.markdown("**Text length (words)**")
        st.dataframe(
            pd.DataFrame({name: s.get("words", {}) for name, s in report.items()}).T,
            width="stretch",
        )
    findings = (info.data.get("validation") or {}).get("findings") or []
    if findings:
        st.markdown("**Data check findings**")
        for f in findings:
            text = f.get("message", str(f)) if isinstance(f, dict) else str(f)
            st.markdown(f"- {text}")
    fingerprints = info.data.get("fingerprints") or {}
    if fingerprints:
        st.markdown("**Data fingerprints**")
        st.dataframe(
            pd.DataFrame({"split": list(fingerprints), "fingerprint": list(fingerprints.values())}),
            hide_index=True,
            width="stretch",
        )
    training = info.training or {}
    if training:
        st.markdown("**Training run**")
        facts = {
            "device": training.get("device"),
            "precision": training.get("precision"),
            "runtime": f"{training.get('runtime_s', 0):.0f} s",
            "steps": training.get("global_step"),
            "batch size": training.get("batch_size"),
            "best checkpoint": ", ".join(
                f"{k} {v:.4f}"
                for k, v in (training.get("best_metric") or {}).items()
                if v is not None
            ),
        }
        st.dataframe(
            pd.DataFrame({"": list(facts), "value": [str(v) for v in facts.values()]}),
            hide_index=True,
            width="content",
        )
    if not (sizes or report or training):
        st.info("textclf.json has no data summary (a plain Hugging Face folder?).")

with tab_figures:
    report_html = eval_dir / "report.html"
    if report_html.is_file():
        left, right = st.columns([1, 1], vertical_alignment="center")
        with left:
            st.download_button(
                "Download the evaluation report (HTML)",
                data=report_html.read_bytes(),
                file_name=f"{handle.name}-report.html",
                mime="text/html",
                icon=":material/download:",
                on_click="ignore",
            )
        with right:
            show = st.toggle("Show the report here", key="model-show-report")
        if show:
            st.iframe(scriptless(report_html.read_text(encoding="utf-8")), height=800)
    else:
        st.caption("No eval/report.html in this model folder.")
    figures = sorted((eval_dir / "figures").glob("*.png"))
    if not figures:
        st.info("No figures in this model folder (eval/figures/*.png).")
    for start in range(0, len(figures), 2):  # row by row, so neighbours line up
        row = st.columns(2)
        for col, fig in zip(row, figures[start : start + 2], strict=False):
            col.image(str(fig), caption=fig.stem.replace("_", " "), width="stretch")

with tab_card:
    card = folder / "README.md"
    if card.is_file():
        text = card.read_text(encoding="utf-8")
        text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.DOTALL)  # YAML front matter
        st.markdown(text)
    else:
        st.info("No model card (README.md) in this model folder.")
