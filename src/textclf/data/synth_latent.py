"""The facts a synthetic pathology report states, the labels they imply, and how they are drawn.

A report starts as latent variables (:class:`Latent`: receptor percentages, HER2 IHC
score and ISH ratio, Ki-67, nodes, lymphovascular invasion). The labels are functions of
those variables alone, following the clinical rules: receptors are positive from 1%
staining (ASCO/CAP), HER2 2+ is settled by the ISH ratio, Ki-67 is compared with a 20%
threshold (St Gallen 2013), and isolated tumour cells do not make a node positive. The
wording that states them is drawn afterwards (:mod:`textclf.data.synth_render`), so the
labels carry no noise.

Example:
    >>> latent = sample_latent("binary", np.random.default_rng(0))
    >>> label_for("binary", latent) in BINARY_LABELS
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

SUBTYPES: tuple[str, ...] = ("Luminal A", "Luminal B", "HER2-enriched", "Triple-negative")
FINDINGS: tuple[str, ...] = (
    "ER+",
    "PR+",
    "HER2+",
    "Lymph node metastasis",
    "Lymphovascular invasion",
)
BINARY_LABELS: tuple[str, ...] = ("node-negative", "node-positive")

# St Gallen 2013 surrogate definition: Ki-67 >= 20% makes an ER+ tumour Luminal B.
_KI67_CUTOFF = 20
# ASCO/CAP 2018: a HER2/CEP17 ratio >= 2.0 (with >= 4 copies per cell) is amplified.
_HER2_RATIO_CUTOFF = 2.0

_T = TypeVar("_T")


# --------------------------------------------------------------------------- latent state


@dataclass(frozen=True)
class Latent:
    """The facts a report states; every label is a function of these fields alone.

    Attributes:
        er_pct: Percentage of tumour nuclei staining for ER; 0 means "<1%" (negative).
        pr_pct: Same for PR.
        her2_ihc: HER2 immunohistochemistry score, 0 to 3.
        her2_ratio: HER2/CEP17 ratio by ISH; required for IHC 2+, ``None`` otherwise.
        ki67: Ki-67 labelling index in percent.
        nodes_examined: Number of lymph nodes examined (at least 1).
        nodes_positive: Nodes with a macro- or micrometastasis.
        micromet: The single positive node holds only a micrometastasis (pN1mi).
        itc: Isolated tumour cells only; pN0(i+) is node-negative under AJCC.
        sentinel: Sentinel node biopsy rather than axillary dissection.
        lvi: Lymphovascular invasion present.
    """

    er_pct: int
    pr_pct: int
    her2_ihc: int
    her2_ratio: float | None
    ki67: int
    nodes_examined: int = 3
    nodes_positive: int = 0
    micromet: bool = False
    itc: bool = False
    sentinel: bool = True
    lvi: bool = False

    def __post_init__(self) -> None:
        # Inconsistent latent states would render self-contradicting reports, which is
        # exactly the label noise this module promises not to have.
        if not (0 <= self.er_pct <= 100 and 0 <= self.pr_pct <= 100):
            raise ValueError("er_pct and pr_pct must lie in 0..100.")
        if self.her2_ihc not in (0, 1, 2, 3):
            raise ValueError("her2_ihc must be 0, 1, 2 or 3.")
        if (self.her2_ihc == 2) != (self.her2_ratio is not None):
            raise ValueError("her2_ratio must be given exactly when her2_ihc is 2.")
        if not 0 <= self.ki67 <= 100:
            raise ValueError("ki67 must lie in 0..100.")
        if not 0 <= self.nodes_positive <= self.nodes_examined or self.nodes_examined < 1:
            raise ValueError("Need 1 <= nodes_examined and 0 <= nodes_positive <= examined.")
        if self.micromet and self.nodes_positive != 1:
            raise ValueError("micromet requires exactly one positive node.")
        if self.itc and self.nodes_positive != 0:
            raise ValueError("itc (isolated tumour cells) requires no positive node.")

    @property
    def er_positive(self) -> bool:
        return self.er_pct >= 1

    @property
    def pr_positive(self) -> bool:
        return self.pr_pct >= 1

    @property
    def her2_positive(self) -> bool:
        if self.her2_ihc == 3:
            return True
        return self.her2_ratio is not None and self.her2_ratio >= _HER2_RATIO_CUTOFF

    @property
    def node_positive(self) -> bool:
        return self.nodes_positive > 0


def subtype_of(latent: Latent) -> str:
    """Surrogate intrinsic subtype (St Gallen 2013) of a latent report.

    ER-/PR+ is never generated. Should it occur, it is treated as hormone-receptor
    positive (the clinical convention) and, since it cannot meet Luminal A's ER+
    requirement, as Luminal B.

    Example:
        >>> subtype_of(Latent(er_pct=90, pr_pct=60, her2_ihc=1, her2_ratio=None, ki67=10))
        'Luminal A'
    """
    if not latent.er_positive and not latent.pr_positive:
        return "HER2-enriched" if latent.her2_positive else "Triple-negative"
    if (
        latent.er_positive
        and latent.pr_positive
        and not latent.her2_positive
        and latent.ki67 < _KI67_CUTOFF
    ):
        return "Luminal A"
    return "Luminal B"


def findings_of(latent: Latent) -> list[str]:
    """Positive findings of a latent report, in :data:`FINDINGS` order."""
    flags = (
        latent.er_positive,
        latent.pr_positive,
        latent.her2_positive,
        latent.node_positive,
        latent.lvi,
    )
    return [name for name, flag in zip(FINDINGS, flags, strict=True) if flag]


def node_status_of(latent: Latent) -> str:
    """Binary label: micrometastases count as metastasis, isolated tumour cells do not."""
    return BINARY_LABELS[1] if latent.node_positive else BINARY_LABELS[0]


def label_for(task: str, latent: Latent) -> str | list[str]:
    """The label of ``latent`` for ``task``: a name, or the list of findings (multilabel)."""
    if task == "binary":
        return node_status_of(latent)
    if task == "multiclass":
        return subtype_of(latent)
    return findings_of(latent)


# --------------------------------------------------------------------------- sampling


def pick(rng: np.random.Generator, options: Sequence[_T]) -> _T:
    """One of ``options``, uniformly."""
    # rng.choice converts the sequence to an array on every call; indexing is ~10x faster.
    return options[int(rng.integers(len(options)))]


def chance(rng: np.random.Generator, p: float) -> bool:
    """``True`` with probability ``p``."""
    return bool(rng.random() < p)


def _receptor_positive_pct(rng: np.random.Generator) -> int:
    # A fifth of positives fall in the 1-10% "low positive" band so that the >= 1%
    # threshold matters, not the word "positive".
    if chance(rng, 0.2):
        return int(rng.integers(1, 11))
    if chance(rng, 0.7):
        return 5 * int(rng.integers(3, 21))  # pathologists usually round to 5%
    return int(rng.integers(11, 101))


def _her2(rng: np.random.Generator, positive: bool) -> tuple[int, float | None]:
    if positive:
        if chance(rng, 0.55):
            return 3, None
        return 2, round(float(rng.uniform(2.0, 6.0)), 1)
    r = rng.random()
    if r < 0.35:
        return 0, None
    if r < 0.65:
        return 1, None
    # Below 1.94 so that rounding to one decimal never reaches the 2.0 cutoff.
    return 2, round(float(rng.uniform(0.8, 1.94)), 1)


def _ki67_low(rng: np.random.Generator) -> int:
    # Half of the low values sit just under the cutoff, where the number must be read.
    if chance(rng, 0.5):
        return int(rng.integers(12, _KI67_CUTOFF))
    return int(rng.integers(1, _KI67_CUTOFF))


def _ki67_high(rng: np.random.Generator, top: int = 70) -> int:
    if chance(rng, 0.5):
        return int(rng.integers(_KI67_CUTOFF, 30))
    return int(rng.integers(_KI67_CUTOFF, top + 1))


def _markers_for_subtype(rng: np.random.Generator, subtype: str) -> dict[str, object]:
    """Receptor, HER2 and Ki-67 values consistent with a target subtype."""
    if subtype == "Luminal A":
        her2_ihc, ratio = _her2(rng, positive=False)
        er, pr, ki67 = _receptor_positive_pct(rng), _receptor_positive_pct(rng), _ki67_low(rng)
    elif subtype == "Luminal B":
        # One reason is forced; the others follow looser priors, so some tumours have
        # several Luminal B features, as in practice.
        reason = pick(rng, ("her2", "pr", "ki67"))
        er = _receptor_positive_pct(rng)
        pr = 0 if reason == "pr" or chance(rng, 0.2) else _receptor_positive_pct(rng)
        her2_ihc, ratio = _her2(rng, positive=reason == "her2" or chance(rng, 0.1))
        ki67 = _ki67_high(rng) if reason == "ki67" else int(rng.integers(1, 71))
    elif subtype == "HER2-enriched":
        her2_ihc, ratio = _her2(rng, positive=True)
        er, pr, ki67 = 0, 0, _ki67_high(rng, top=90)
    else:  # Triple-negative
        her2_ihc, ratio = _her2(rng, positive=False)
        er, pr, ki67 = 0, 0, int(rng.integers(5, 91))
    return {"er_pct": er, "pr_pct": pr, "her2_ihc": her2_ihc, "her2_ratio": ratio, "ki67": ki67}


def _markers_natural(rng: np.random.Generator) -> dict[str, object]:
    """Marker values from population-like priors (ER+ ~70%, HER2+ ~17%)."""
    er_pos = chance(rng, 0.7)
    er = _receptor_positive_pct(rng) if er_pos else 0
    # PR is drawn negative for every ER- tumour: ER-/PR+ is rare and would blur the rules.
    pr = _receptor_positive_pct(rng) if er_pos and chance(rng, 0.82) else 0
    her2_ihc, ratio = _her2(rng, positive=chance(rng, 0.17))
    if er_pos and her2_ihc != 3 and chance(rng, 0.55):
        ki67 = _ki67_low(rng)
    else:
        ki67 = _ki67_high(rng, top=90)
    return {"er_pct": er, "pr_pct": pr, "her2_ihc": her2_ihc, "her2_ratio": ratio, "ki67": ki67}


def _nodes(rng: np.random.Generator, positive: bool) -> dict[str, object]:
    sentinel = chance(rng, 0.6)
    examined = int(rng.integers(1, 6)) if sentinel else int(rng.integers(6, 26))
    if not positive:
        return {
            "nodes_examined": examined,
            "nodes_positive": 0,
            "micromet": False,
            "itc": chance(rng, 0.12),
            "sentinel": sentinel,
        }
    micromet = chance(rng, 0.15)
    count = 1 if micromet else min(examined, int(rng.geometric(0.45)))
    return {
        "nodes_examined": examined,
        "nodes_positive": count,
        "micromet": micromet,
        "itc": False,
        "sentinel": sentinel,
    }


def sample_latent(task: str, rng: np.random.Generator) -> Latent:
    """Draw the facts of one report: balanced subtypes for ``multiclass``, else
    population-like priors (about balanced node status for ``binary``)."""
    if task == "multiclass":
        # Drawing the subtype first keeps the four classes balanced (~25% each).
        markers = _markers_for_subtype(rng, pick(rng, SUBTYPES))
        node_pos = chance(rng, 0.35)
    else:
        markers = _markers_natural(rng)
        node_pos = chance(rng, 0.5 if task == "binary" else 0.35)
    nodes = _nodes(rng, node_pos)
    # LVI is commoner with nodal disease: 0.35*0.45 + 0.65*0.14 gives ~25% overall.
    lvi = chance(rng, 0.45 if node_pos else 0.14)
    return Latent(**markers, **nodes, lvi=lvi)  # type: ignore[arg-type]
