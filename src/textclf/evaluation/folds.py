"""The summary of a k-fold cross-validation: mean ± sd over folds, and the corrected
resampled t-test of the mean difference against the best baseline.

Arrays and metrics documents in, ``cv.json`` and ``cv.md`` out; no torch. The folds
themselves are run by :mod:`textclf.crossval`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from textclf.evaluation.metrics import greater_is_better
from textclf.evaluation.report import interval_digits
from textclf.markdown import md_escape


def _mean_sd(values: list[float | None]) -> dict[str, Any]:
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    return {
        "mean": float(np.mean(finite)) if finite else None,
        "sd": float(np.std(finite, ddof=1)) if len(finite) > 1 else None,
        "folds": values,
    }


def _value(entry: Any) -> float | None:
    return entry.get("value") if isinstance(entry, dict) else None


def corrected_ttest(
    differences: list[float | None],
    *,
    n_train: float,
    n_test: float,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """The mean of per-fold differences with the corrected resampled t-test's interval.

    The folds' training sets overlap, so their differences are correlated and the plain
    t-test's variance ``s²/k`` is too small: it rejects far too often. Nadeau & Bengio
    (2003, "Inference for the generalization error") correct it to
    ``(1/k + n_test/n_train) · s²``, with ``k - 1`` degrees of freedom. scipy has only the
    uncorrected test (``scipy.stats.ttest_1samp``), hence this function.

    Args:
        differences: One difference per fold (``None`` where undefined, left out).
        n_train: Rows a fold trains on (its validation carve included).
        n_test: Rows a fold is tested on.
        confidence: Two-sided level of the interval.

    Returns:
        ``value``, ``ci_low``, ``ci_high``, ``p_value`` (two-sided, of "no difference"),
        ``df`` and ``method``; the bounds and p-value are ``None`` with fewer than two
        defined differences, or when every fold gave the same one (then a ``note`` says so).

    Example:
        >>> r = corrected_ttest([0.1, 0.2, 0.3], n_train=200, n_test=100)
        >>> round(r["p_value"], 4), round(r["ci_low"], 4), round(r["ci_high"], 4)
        (0.1598, -0.1928, 0.5928)
    """
    from scipy import stats

    d = np.asarray([v for v in differences if v is not None and math.isfinite(v)], float)
    out: dict[str, Any] = {
        "value": float(d.mean()) if len(d) else None,
        "ci_low": None,
        "ci_high": None,
        "p_value": None,
        "df": max(len(d) - 1, 0),
        "method": "corrected resampled t-test, Nadeau & Bengio 2003",
    }
    if len(d) < 2:
        return out
    se = math.sqrt((1 / len(d) + n_test / n_train) * float(d.var(ddof=1)))
    if se == 0:  # every fold gave the same difference: no spread to test it against
        out["note"] = "every fold gave the same difference; there is no spread to test"
        return out
    t = out["value"] / se
    half = float(stats.t.ppf(0.5 + confidence / 2, len(d) - 1)) * se
    out.update(
        ci_low=out["value"] - half,
        ci_high=out["value"] + half,
        p_value=float(2 * stats.t.sf(abs(t), len(d) - 1)),
    )
    return out


def summarise(docs: list[dict[str, Any]], plan: dict[str, Any]) -> dict[str, Any]:
    """``cv.json`` from the folds' ``eval/metrics.json`` documents.

    Every metric of the model and of each baseline gets its per-fold values and their mean
    and sd (ddof 1); the comparison gets each fold's difference against that fold's best
    baseline on validation, its interval and p-value, and how many folds the model won.
    """
    metric = docs[0]["headline_metric"]
    confidence = float(docs[0].get("confidence", 0.95))
    names = list(docs[0]["metrics"])
    model = {m: _mean_sd([_value(d["metrics"].get(m)) for d in docs]) for m in names}
    baselines: dict[str, Any] = {}
    for key in docs[0].get("baselines", {}):
        runs = [d.get("baselines", {}).get(key, {}) for d in docs]
        baselines[key] = {
            "name": runs[0].get("name", key),
            "metrics": {
                m: _mean_sd([_value(r.get("metrics", {}).get(m)) for r in runs]) for m in names
            },
        }
    comparison = None
    if all(d.get("comparison") for d in docs):
        comparisons: list[dict[str, Any]] = [d["comparison"] for d in docs]
        higher = greater_is_better(metric)
        per_fold = [
            {
                "baseline": c["baseline"],
                "value": _value(c["difference"]),
                "ci_low": c["difference"].get("ci_low"),
                "ci_high": c["difference"].get("ci_high"),
                "p_value": c.get("p_value"),
            }
            for c in comparisons
        ]
        ahead = [
            f["value"] is not None and f["value"] != 0 and (f["value"] > 0) == higher
            for f in per_fold
        ]
        comparison = {
            "metric": metric,
            "difference": _mean_sd([f["value"] for f in per_fold]),
            "mean_difference": corrected_ttest(
                [f["value"] for f in per_fold],
                n_train=sum(d["n_examples"] for d in docs) * (1 - 1 / len(docs)),
                n_test=sum(d["n_examples"] for d in docs) / len(docs),
                confidence=confidence,
            ),
            "per_fold": per_fold,
            "folds_ahead": sum(ahead),
            "folds_ahead_significant": sum(
                a and f["p_value"] is not None and f["p_value"] < 0.05
                for a, f in zip(ahead, per_fold, strict=True)
            ),
        }
    return {
        "task": docs[0]["task"],
        "folds": plan["folds"],
        "seed": plan["seed"],
        "source": plan["source"],
        "n_examples": sum(int(d["n_examples"]) for d in docs),
        "fold_sizes": [int(d["n_examples"]) for d in docs],
        "headline_metric": metric,
        "confidence": confidence,
        "metrics": model,
        "baselines": baselines,
        "comparison": comparison,
        "note": "sd over folds: how much the estimate moves with the split, not a standard "
        "error (the folds' training parts overlap); each fold's bootstrap interval is in "
        "fold-i/eval/metrics.json.",
    }


def _fmt(stats: dict[str, Any], digits: int, *, signed: bool = False) -> str:
    mean, sd = stats["mean"], stats["sd"]
    if mean is None:
        return "n/a"
    shown = f"{mean:+.{digits}f}" if signed else f"{mean:.{digits}f}"
    return f"{shown} ± {sd:.{digits}f}" if sd is not None else shown


def summary_markdown(doc: dict[str, Any]) -> str:
    """The headline metric per fold and mean ± sd, for the model and each baseline."""
    metric = doc["headline_metric"]
    k = doc["folds"]
    rows = [("model", doc["metrics"][metric])] + [
        (b["name"], b["metrics"][metric])
        for b in doc["baselines"].values()
        if metric in b["metrics"]
    ]
    digits = 3
    head = "| | " + " | ".join(f"fold {i}" for i in range(1, k + 1)) + " | mean ± sd |"
    lines = [
        f"# Cross-validation: {k} folds of {md_escape(doc['source'])}",
        "",
        f"{doc['task']}, {doc['n_examples']} examples (fold sizes "
        f"{', '.join(map(str, doc['fold_sizes']))}), seed {doc['seed']}; {metric} on each "
        "held-out fold.",
        "",
        head,
        "|" + "---|" * (k + 2),
    ]
    for name, stats in rows:
        cells = ["n/a" if v is None else f"{v:.{digits}f}" for v in stats["folds"]]
        lines.append(f"| {md_escape(name)} | " + " | ".join(cells) + f" | {_fmt(stats, digits)} |")
    cmp = doc.get("comparison")
    if cmp:
        d = cmp["difference"]
        dd = interval_digits(*cmp["per_fold"])
        per = "; ".join(
            f"fold {i}: {f['value']:+.{dd}f} [{f['ci_low']:+.{dd}f}, {f['ci_high']:+.{dd}f}]"
            if None not in (f["value"], f["ci_low"], f["ci_high"])
            else f"fold {i}: n/a"
            for i, f in enumerate(cmp["per_fold"], 1)
        )
        mean = cmp["mean_difference"]
        tested = (
            f"{mean['value']:+.{dd}f} [{mean['ci_low']:+.{dd}f}, {mean['ci_high']:+.{dd}f}] "
            f"({doc['confidence']:.0%} interval), p = {mean['p_value']:.3g} ({mean['method']}); "
            if mean["ci_low"] is not None
            else ""
        )
        lines += [
            "",
            f"Model minus each fold's best baseline on validation, {metric}: {tested}"
            f"{_fmt(d, dd, signed=True)} over folds; ahead in {cmp['folds_ahead']} of {k} folds, with "
            f"paired-bootstrap p < 0.05 in {cmp['folds_ahead_significant']}.",
            "",
            f"Per fold ({doc['confidence']:.0%} interval): {per}.",
        ]
    lines += ["", doc["note"], ""]
    return "\n".join(lines)
