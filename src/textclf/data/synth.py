"""Synthetic breast-cancer pathology reports whose labels follow from what they say.

``textclf data synth`` and ``make demo`` need a dataset that a transformer must actually
read: every label is exactly derivable from the report text, but only by applying the
clinical rules to varied wording. Receptors are positive from 1% staining (ASCO/CAP),
HER2 2+ is settled by the ISH ratio, Ki-67 is compared with a 20% threshold, isolated
tumour cells do not make a node positive, and "positive"/"negative" occur all over the
report for margins, controls and other markers. A bag-of-words baseline therefore does
clearly better than chance but far from perfectly.

Each report is drawn in two steps: latent variables (:class:`_Latent`: receptor
percentages, HER2 IHC score and ISH ratio, Ki-67, nodes, lymphovascular invasion) and
then a rendering of those variables with randomly chosen sections, phrasings and light
noise. Labels are computed from the latent variables only, never from the random
wording, so there is no label noise.

Example:
    >>> frame = make_reports("multiclass", 3, seed=1)
    >>> list(frame.columns)
    ['id', 'text', 'label']
    >>> frame["id"].tolist()
    ['S00001', 'S00002', 'S00003']
    >>> set(frame["label"]) <= set(SUBTYPES)
    True
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from textclf.atomic import atomic_path

__all__ = [
    "BINARY_LABELS",
    "FINDINGS",
    "SUBTYPES",
    "SUPPORTED_EXTENSIONS",
    "TASKS",
    "make_reports",
    "write_reports",
]

SUBTYPES: tuple[str, ...] = ("Luminal A", "Luminal B", "HER2-enriched", "Triple-negative")
FINDINGS: tuple[str, ...] = (
    "ER+",
    "PR+",
    "HER2+",
    "Lymph node metastasis",
    "Lymphovascular invasion",
)
BINARY_LABELS: tuple[str, ...] = ("node-negative", "node-positive")
TASKS: tuple[str, ...] = ("binary", "multiclass", "multilabel")
SUPPORTED_EXTENSIONS: tuple[str, ...] = (".csv", ".tsv", ".jsonl", ".parquet")

# Report length bounds in whitespace-separated words.
_MIN_WORDS = 50
_MAX_WORDS = 140
# St Gallen 2013 surrogate definition: Ki-67 >= 20% makes an ER+ tumour Luminal B.
_KI67_CUTOFF = 20
# ASCO/CAP 2018: a HER2/CEP17 ratio >= 2.0 (with >= 4 copies per cell) is amplified.
_HER2_RATIO_CUTOFF = 2.0

_T = TypeVar("_T")


# --------------------------------------------------------------------------- latent state


@dataclass(frozen=True)
class _Latent:
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


def _subtype(latent: _Latent) -> str:
    """Surrogate intrinsic subtype (St Gallen 2013) of a latent report.

    ER-/PR+ is never generated. Should it occur, it is treated as hormone-receptor
    positive (the clinical convention) and, since it cannot meet Luminal A's ER+
    requirement, as Luminal B.

    Example:
        >>> _subtype(_Latent(er_pct=90, pr_pct=60, her2_ihc=1, her2_ratio=None, ki67=10))
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


def _findings(latent: _Latent) -> list[str]:
    """Positive findings of a latent report, in :data:`FINDINGS` order."""
    flags = (
        latent.er_positive,
        latent.pr_positive,
        latent.her2_positive,
        latent.node_positive,
        latent.lvi,
    )
    return [name for name, flag in zip(FINDINGS, flags, strict=True) if flag]


def _node_status(latent: _Latent) -> str:
    """Binary label: micrometastases count as metastasis, isolated tumour cells do not."""
    return BINARY_LABELS[1] if latent.node_positive else BINARY_LABELS[0]


def _label(task: str, latent: _Latent) -> str | list[str]:
    if task == "binary":
        return _node_status(latent)
    if task == "multiclass":
        return _subtype(latent)
    return _findings(latent)


# --------------------------------------------------------------------------- sampling


def _pick(rng: np.random.Generator, options: Sequence[_T]) -> _T:
    # rng.choice converts the sequence to an array on every call; indexing is ~10x faster.
    return options[int(rng.integers(len(options)))]


def _chance(rng: np.random.Generator, p: float) -> bool:
    return bool(rng.random() < p)


def _receptor_positive_pct(rng: np.random.Generator) -> int:
    # A fifth of positives fall in the 1-10% "low positive" band so that the >= 1%
    # threshold matters, not the word "positive".
    if _chance(rng, 0.2):
        return int(rng.integers(1, 11))
    if _chance(rng, 0.7):
        return 5 * int(rng.integers(3, 21))  # pathologists usually round to 5%
    return int(rng.integers(11, 101))


def _her2(rng: np.random.Generator, positive: bool) -> tuple[int, float | None]:
    if positive:
        if _chance(rng, 0.55):
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
    if _chance(rng, 0.5):
        return int(rng.integers(12, _KI67_CUTOFF))
    return int(rng.integers(1, _KI67_CUTOFF))


def _ki67_high(rng: np.random.Generator, top: int = 70) -> int:
    if _chance(rng, 0.5):
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
        reason = _pick(rng, ("her2", "pr", "ki67"))
        er = _receptor_positive_pct(rng)
        pr = 0 if reason == "pr" or _chance(rng, 0.2) else _receptor_positive_pct(rng)
        her2_ihc, ratio = _her2(rng, positive=reason == "her2" or _chance(rng, 0.1))
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
    er_pos = _chance(rng, 0.7)
    er = _receptor_positive_pct(rng) if er_pos else 0
    # PR is drawn negative for every ER- tumour: ER-/PR+ is rare and would blur the rules.
    pr = _receptor_positive_pct(rng) if er_pos and _chance(rng, 0.82) else 0
    her2_ihc, ratio = _her2(rng, positive=_chance(rng, 0.17))
    if er_pos and her2_ihc != 3 and _chance(rng, 0.55):
        ki67 = _ki67_low(rng)
    else:
        ki67 = _ki67_high(rng, top=90)
    return {"er_pct": er, "pr_pct": pr, "her2_ihc": her2_ihc, "her2_ratio": ratio, "ki67": ki67}


def _nodes(rng: np.random.Generator, positive: bool) -> dict[str, object]:
    sentinel = _chance(rng, 0.6)
    examined = int(rng.integers(1, 6)) if sentinel else int(rng.integers(6, 26))
    if not positive:
        return {
            "nodes_examined": examined,
            "nodes_positive": 0,
            "micromet": False,
            "itc": _chance(rng, 0.12),
            "sentinel": sentinel,
        }
    micromet = _chance(rng, 0.15)
    count = 1 if micromet else min(examined, int(rng.geometric(0.45)))
    return {
        "nodes_examined": examined,
        "nodes_positive": count,
        "micromet": micromet,
        "itc": False,
        "sentinel": sentinel,
    }


def _sample_latent(task: str, rng: np.random.Generator) -> _Latent:
    if task == "multiclass":
        # Drawing the subtype first keeps the four classes balanced (~25% each).
        markers = _markers_for_subtype(rng, _pick(rng, SUBTYPES))
        node_pos = _chance(rng, 0.35)
    else:
        markers = _markers_natural(rng)
        node_pos = _chance(rng, 0.5 if task == "binary" else 0.35)
    nodes = _nodes(rng, node_pos)
    # LVI is commoner with nodal disease: 0.35*0.45 + 0.65*0.14 gives ~25% overall.
    lvi = _chance(rng, 0.45 if node_pos else 0.14)
    return _Latent(**markers, **nodes, lvi=lvi)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- phrasings

_SIDES = ("left", "right")
_QUADRANTS = (
    "upper outer quadrant",
    "UOQ",
    "upper inner quadrant",
    "UIQ",
    "lower outer quadrant",
    "LOQ",
    "lower inner quadrant",
    "LIQ",
    "retroareolar region",
    "central region",
)
_EXCISIONS = (
    "lumpectomy",
    "partial mastectomy",
    "wide local excision",
    "segmental mastectomy",
    "total mastectomy",
    "simple mastectomy",
    "modified radical mastectomy",
    "needle-localized excision",
)
_BIOPSIES = ("core needle biopsy", "ultrasound-guided core biopsy", "stereotactic core biopsy")
_SPECIMEN = (
    "Specimen: {side} breast, {quad}, {proc}",
    "SPECIMEN: {Side} breast {proc} ({quad})",
    "{Side} breast, {quad}, {proc}",
    "Procedure: {proc}; laterality: {side}; site: {quad}",
    "Part A: {side} breast {quad}, {proc}",
    "Specimen submitted: {proc}, {Side} breast at {clock} o'clock",
    "{SIDE_ABBR} breast {proc}, {quad}",
)
_HISTORY = (
    "Clinical history: {age}-year-old woman with a palpable {side} breast mass",
    "Hx: screen-detected mass, BI-RADS {birads}",
    "Clinical: abnormal mammogram with calcifications, r/o malignancy",
    "History: {age} y/o F, family history of breast cancer, BRCA status unknown",
    "Clinical information: {age}F, irregular mass on ultrasound",
    "Indication: carcinoma diagnosed on prior core biopsy, here for definitive surgery",
    "Clinical history: postmenopausal patient, {side} breast lesion on MRI",
    "Clinical: {side} breast mass and prominent axillary node on ultrasound, r/o metastasis",
)
_GROSS_EXCISION = (
    "Gross: received fresh, labeled with the patient's name and '{side} breast', a "
    "{a} x {b} x {c} cm fibrofatty specimen; sectioning reveals a firm stellate tan-white "
    "mass, {size} cm",
    "GROSS DESCRIPTION: {a} x {b} x {c} cm oriented specimen with a {size} cm firm gray-white "
    "lesion, {gap} cm from the closest margin",
    "Gross: tumor measures {size} cm in greatest dimension",
    "Gross: the specimen is inked and serially sectioned; a {size} cm ill-defined firm area "
    "is present, entirely submitted in cassettes A1-A{blocks}",
)
_GROSS_CORE = (
    "Gross: {cores} cores of tan-white tissue, up to {length} cm in length, entirely submitted",
    "Received in formalin: multiple core fragments, aggregate {a} x {b} cm, one cassette",
)
_HISTOLOGY = (
    "invasive ductal carcinoma",
    "invasive ductal carcinoma, NOS",
    "invasive carcinoma of no special type (NST)",
    "invasive lobular carcinoma, classic type",
    "invasive mammary carcinoma with ductal and lobular features",
    "IDC",
    "infiltrating ductal carcinoma",
    "invasive carcinoma, NST",
    "ILC",
)
_DIAGNOSIS = (
    "DIAGNOSIS: {hist}, {grade}",
    "Final diagnosis: {hist} ({grade}), measuring {size} cm",
    "{Hist}, {grade}, tumor size {size} cm",
    "Diagnosis: {Side} breast, {proc}: {hist}, {grade}",
    "Invasive carcinoma present: {hist}; histologic grade: {grade}",
)
_GRADE = (
    "Nottingham grade {g}",
    "Nottingham histologic grade {g} of 3",
    "grade {g}/3",
    "G{g}",
    "{diff} (grade {g})",
    "Nottingham score {total}/9 (grade {g})",
    "Nottingham grade {roman} (tubules {t}, nuclei {n}, mitoses {m})",
    "SBR grade {g}",
    "modified Bloom-Richardson grade {g}",
)
_DIFFERENTIATION = {
    1: "well differentiated",
    2: "moderately differentiated",
    3: "poorly differentiated",
}
_ROMAN = {1: "I", 2: "II", 3: "III"}
# Nottingham component scores (each 1-3) per grade: total 3-5, 6-7 and 8-9.
_NOTTINGHAM = {
    g: tuple(c for c in product((1, 2, 3), repeat=3) if lo <= sum(c) <= hi)
    for g, (lo, hi) in {1: (3, 5), 2: (6, 7), 3: (8, 9)}.items()
}
_DIRECTIONS = ("anterior", "posterior", "superior", "inferior", "medial", "lateral", "deep")
_MARGINS = (
    "Margins: negative for invasive carcinoma (closest {mm} mm, {dir})",
    "Margins negative",
    "Surgical margins: uninvolved; nearest margin {mm} mm ({dir})",
    "Margins: invasive carcinoma extends to the {dir} margin (positive margin)",
    "All margins free of tumor (>2 mm)",
    "Margins: DCIS is {mm} mm from the {dir} margin; invasive carcinoma >5 mm from all margins",
    "margins clear",
    "{Dir} margin positive for DCIS, other margins negative",
)
_DCIS = (
    "DCIS: present, {pattern} type, {ng} nuclear grade",
    "associated ductal carcinoma in situ ({pattern}, {ng} grade), about {pct}% of tumor",
    "No DCIS identified",
    "In situ carcinoma: not identified",
    "DCIS: absent",
    "LCIS present, classic type",
)
_CALCS = (
    "Microcalcifications: present in invasive carcinoma",
    "Calcifications: present, associated with benign ducts",
    "no microcalcifications identified",
    "Calcs: present in DCIS",
)
_STAGE = (
    "Pathologic stage (AJCC 8th ed.): pT{t} {pn}",
    "pT{t} {pn}",
    "Stage: pT{t}, {pn}, pMX",
)
_FRAGMENTS = (
    "see comment",
    "See note",
    "(see comment)",
    "Comment: results discussed with Dr. {name} on {day}/{month}",
    "Controls stained appropriately",
    "Fixation: 10% NBF, 6-72 h",
    "Cold ischemia time <1 h",
    "Case reviewed by a second pathologist, who concurs",
    "Block A{blocks} used for ancillary studies",
)
_SURNAMES = ("Smith", "Nguyen", "Garcia", "Patel", "Okafor", "Muller", "Rossi", "Kim", "Haddad")
# A generic comment used only when the chosen sections fall short of the minimum length.
_FILLER = (
    "Comment: the tumor was examined in multiple levels and all sections were reviewed; "
    "the findings are summarized in the synoptic report below and were correlated with "
    "the imaging and the clinical presentation"
)

_ER_NAMES = ("ER", "ER", "Estrogen receptor", "Estrogen receptor (ER)", "Oestrogen receptor")
_PR_NAMES = ("PR", "PR", "PgR", "Progesterone receptor", "Progesterone receptor (PR)")
# {n}: full or short name, {s}: short name, {p}: percent, {i}: intensity, {a}: Allred score.
_HR_HIGH = (
    "{n}: positive ({p}%, {i} intensity)",
    "{n}: POSITIVE ({p}%)",
    "{s}+ (Allred {a}/8)",
    "{s}+ ({p}%)",
    "{n} positive in {p}% of tumor nuclei, {i} staining",
    "{n} {p}%",
    "{n}: {p}% of invasive tumor cells, {i}",
    "{n} expressed in approximately {p}% of tumor cells",
    "{s} pos ({p}%, {i})",
    "{n}: positive, Allred score {a}/8 ({p}%)",
)
_HR_LOW = (
    "{n}: low positive ({p}%, {i})",
    "{n} weakly positive ({p}%)",
    "{n} {p}% (low positive)",
    "{n}: {p}% of tumor cells with {i} staining",
    "{n}: positive, low ({p}%)",
    "{s}: {p}% ({i}), low positive per ASCO/CAP",
)
_HR_NEG = (
    "{n}: negative (0%)",
    "{n}: NEGATIVE (<1%)",
    "{s} neg",
    "{n} not detected",
    "{s} 0%",
    "no {s} expression identified",
    "{n}: negative (Allred 0/8)",
    "{n} negative, Allred score 2/8 (<1%)",
    "{n}: <1% of tumor cells staining (negative)",
    "{n}: no nuclear staining in tumor cells (internal control positive)",
    "{s}-negative",
)
_HER2_NAMES = ("HER2", "HER2", "HER2/neu", "HER-2", "c-erbB-2")
_HER2_3 = (
    "{h} (IHC): 3+ positive",
    "{h}: POSITIVE (score 3+)",
    "{h} IHC 3+",
    "{h} 3+, complete intense circumferential membrane staining in >10% of cells",
    "{h}: positive (3+)",
    "{h} overexpressed (IHC 3+)",
)
_HER2_0 = (
    "{h} IHC 0",
    "{h}: negative (0)",
    "{h} negative (score 0)",
    "{h}: no membrane staining (0, negative)",
    "{h} not overexpressed (IHC score 0)",
    "c-erbB-2 negative",
)
_HER2_1 = (
    "{h} 1+ (negative)",
    "{h}: negative (1+)",
    "{h} IHC 1+, faint incomplete membrane staining",
    "{h}-low (IHC 1+)",
    "{h}: 1+",
    "c-erbB-2 negative (1+)",
)
# IHC 2+ is equivocal either way; the ISH result settles it. The last three phrasings are
# shared by both outcomes, so only the ratio and copy number tell them apart.
_HER2_2_AMP = (
    "{h} 2+ (equivocal); FISH amplified, HER2/CEP17 ratio {r}",
    "{h} IHC 2+, reflex ISH: amplified (ratio {r}, mean HER2 copy number {c})",
    "{h} equivocal (2+) by IHC; ISH positive (HER2/CEP17 {r})",
    "{h} 2+; FISH: HER2/CEP17 ratio {r}, average HER2 copies {c} per cell",
    "{h}: 2+ equivocal, dual-probe ISH ratio {r} (average copy number {c})",
    "{h} IHC 2+ (equivocal), FISH HER2/CEP17 {r}, {c} signals per nucleus",
)
_HER2_2_NONAMP = (
    "{h} 2+ equivocal, ISH not amplified (ratio {r})",
    "{h} IHC 2+; FISH: no amplification (HER2/CEP17 {r})",
    "{h} 2+, SISH negative (ratio {r})",
    "{h} 2+; FISH: HER2/CEP17 ratio {r}, average HER2 copies {c} per cell",
    "{h}: 2+ equivocal, dual-probe ISH ratio {r} (average copy number {c})",
    "{h} IHC 2+ (equivocal), FISH HER2/CEP17 {r}, {c} signals per nucleus",
)
_KI67 = (
    "Ki-67: {k}%",
    "Ki67 proliferation index ~{k}%",
    "MIB-1 labeling index {k} percent",
    "Ki-67 (MIB-1): {k}% of tumor nuclei",
    "Proliferation index (Ki-67): {k}%",
    "Ki-67 index approximately {k}%",
    "Ki67 {k}%",
    "Ki-67 {k}% (hot spot)",
    "Ki-67 labeling index: {k} percent",
)
_BIO_HEADINGS = (
    "BIOMARKERS:",
    "Receptor studies:",
    "IHC:",
    "Immunohistochemistry (block A3):",
    "Prognostic markers:",
    "Ancillary studies:",
    "Breast biomarkers:",
    "",
)
_LVI_PRESENT = (
    "Lymphovascular invasion: present",
    "LVI: identified (focal)",
    "lymphovascular invasion is present",
    "LVI present",
    "angiolymphatic invasion: present (extensive)",
    "Lymph-vascular invasion: PRESENT",
    "foci of lymphovascular invasion are seen",
    "definite LVI identified",
)
_LVI_ABSENT = (
    "LVI not identified",
    "no lymphovascular invasion seen",
    "Lymphovascular invasion: absent",
    "LVI: none identified",
    "negative for lymphovascular invasion",
    "angiolymphatic invasion not identified",
    "Lymphovascular invasion: not identified",
    "no definite LVI",
    "no lymphovascular invasion seen; perineural invasion present",
)
# {k}: positive nodes, {e}: examined, {nodes}/{Nodes}: node noun, {pn}: pN category,
# {d}: deposit size in mm, {ene}: extranodal extension wording.
_NODES_NEG = (
    "Lymph nodes: 0/{e} positive for metastatic carcinoma",
    "{e} {nodes}, negative for metastatic carcinoma (0/{e})",
    "{Nodes}: negative for malignancy (0/{e})",
    "no evidence of metastatic carcinoma in {e} {nodes} (0/{e})",
    "Lymph nodes: negative (0/{e}); {pn}",
    "{pn} (0/{e})",
    "{pn}",
    "{Nodes}: benign, no metastasis ({e} examined)",
    "{e} {nodes} free of tumor",
    "Lymph node status: 0 of {e} involved ({pn})",
    "{Nodes} ({e}): metastatic carcinoma not identified",
)
_NODES_ITC = (
    "isolated tumor cells in 1 of {e} {nodes} (largest cluster 0.1 mm), {pn}",
    "{Nodes}: ITCs only, no metastatic carcinoma (0/{e}); {pn}",
    "{e} {nodes} negative for metastasis; rare isolated tumor cells on cytokeratin stain ({pn})",
)
_NODES_POS = (
    "Lymph nodes: {k}/{e} positive for metastatic carcinoma",
    "metastatic carcinoma in {k} of {e} {nodes}",
    "Lymph nodes: {k}/{e} involved; {pn}",
    "{pn} ({k}/{e})",
    "{pn}",
    "{k} of {e} {nodes} with metastatic carcinoma (largest deposit {d} mm), extranodal "
    "extension {ene}",
    "{Nodes}: POSITIVE for metastatic carcinoma ({k}/{e})",
    "{Nodes}: metastatic carcinoma present ({k}/{e}), largest focus {d} mm",
    "Lymph node status: {k} of {e} involved ({pn})",
    "{Nodes} ({e}): metastatic carcinoma identified in {k}, extranodal extension {ene}",
)
_NODES_MICRO = (
    "micrometastasis ({d} mm) in 1 of {e} {nodes} ({pn})",
    "Lymph nodes: 1/{e} with micrometastatic carcinoma ({d} mm); {pn}",
    "{Nodes}: metastatic carcinoma, {d} mm (micrometastasis), 1/{e}",
    "{pn}, 1 of {e} nodes",
)
# Misspellings applied to non-critical sections only, so they never touch a label cue.
_TYPOS = {
    "carcinoma": ("carcinomma", "carcnoma"),
    "specimen": ("specimin", "speciman"),
    "received": ("recieved",),
    "margin": ("margn", "magin"),
    "lobular": ("lobualr",),
    "tissue": ("tisue",),
    "sectioning": ("sectionning",),
    "mammogram": ("mamogram",),
    "quadrant": ("quadrent",),
    "grade": ("grdae",),
}


# --------------------------------------------------------------------------- rendering


def _receptor(rng: np.random.Generator, names: Sequence[str], pct: int) -> str:
    name = _pick(rng, names)
    short = name if len(name) <= 3 else ("ER" if names is _ER_NAMES else "PR")
    if pct == 0:
        template = _pick(rng, _HR_NEG)
        intensity = ""
    elif pct <= 10:
        template = _pick(rng, _HR_LOW)
        intensity = _pick(rng, ("weak", "weak", "moderate"))
    else:
        template = _pick(rng, _HR_HIGH)
        intensity = _pick(rng, ("weak", "moderate", "strong", "strong", "strong"))
    # Allred = proportion score (1-10%: 2, to 1/3: 3, to 2/3: 4, more: 5) + intensity (1-3).
    proportion = 2 if pct <= 10 else 3 if pct <= 33 else 4 if pct <= 66 else 5
    allred = proportion + {"weak": 1, "moderate": 2, "strong": 3}.get(intensity, 0)
    return template.format(n=name, s=short, p=pct, i=intensity, a=allred)


def _receptor_pair(rng: np.random.Generator, er: int, pr: int) -> str:
    def value(pct: int) -> str:
        return _pick(rng, ("0%", "<1%", "negative")) if pct == 0 else f"{pct}%"

    # The combined "ER/PR: 90%/0%" form makes the order of the two values matter.
    return _pick(
        rng,
        (
            "ER/PR: {er}/{pr}",
            "Hormone receptors: ER {er}, PR {pr}",
            "ER and PR: {er} and {pr} respectively",
        ),
    ).format(er=value(er), pr=value(pr))


def _her2_text(rng: np.random.Generator, latent: _Latent) -> str:
    name = _pick(rng, _HER2_NAMES)
    if latent.her2_ihc == 3:
        return _pick(rng, _HER2_3).format(h=name)
    if latent.her2_ihc in (0, 1):
        return _pick(rng, _HER2_1 if latent.her2_ihc else _HER2_0).format(h=name)
    ratio = latent.her2_ratio
    assert ratio is not None  # guaranteed by _Latent.__post_init__ for IHC 2+
    cep17 = float(rng.uniform(1.6, 2.4))
    if ratio >= _HER2_RATIO_CUTOFF:
        # Keep to ASCO/CAP group 1 (ratio >= 2 and >= 4 copies): unambiguously amplified.
        copies, templates = max(4.0, ratio * cep17), _HER2_2_AMP
    else:
        # Group 5 (ratio < 2 and < 4 copies): unambiguously not amplified.
        copies, templates = min(3.9, ratio * cep17), _HER2_2_NONAMP
    return _pick(rng, templates).format(h=name, r=f"{ratio:.1f}", c=f"{copies:.1f}")


def _ki67_text(rng: np.random.Generator, ki67: int) -> str:
    return _pick(rng, _KI67).format(k=ki67)


def _pn_category(latent: _Latent, rng: np.random.Generator) -> str:
    k = latent.nodes_positive
    if k == 0:
        pn = "pN0(i+)" if latent.itc else "pN0"
    elif latent.micromet:
        pn = "pN1mi"
    else:
        pn = "pN1a" if k <= 3 else "pN2a" if k <= 9 else "pN3a"
    if latent.sentinel and k <= 3 and _chance(rng, 0.4):
        pn += "(sn)"
    return pn


def _nodes_text(rng: np.random.Generator, latent: _Latent, pn: str) -> str:
    e, k = latent.nodes_examined, latent.nodes_positive
    plural = "s" if e > 1 else ""
    noun = f"sentinel lymph node{plural}" if latent.sentinel else f"axillary lymph node{plural}"
    if latent.sentinel and _chance(rng, 0.3):
        noun = f"SLN{plural}"
    if k == 0:
        template = _pick(rng, _NODES_ITC if latent.itc else _NODES_NEG)
        deposit = 0.0
    elif latent.micromet:
        template = _pick(rng, _NODES_MICRO)
        deposit = float(rng.uniform(0.3, 2.0))  # micrometastasis: > 0.2 mm and <= 2 mm
    else:
        template = _pick(rng, _NODES_POS)
        deposit = float(rng.uniform(2.5, 25.0))
    return template.format(
        k=k,
        e=e,
        nodes=noun,
        Nodes=noun[0].upper() + noun[1:],
        pn=pn,
        d=f"{deposit:.1f}",
        ene=_pick(rng, ("not identified", "present", "absent")),
    )


def _grade_text(rng: np.random.Generator) -> str:
    g = int(rng.integers(1, 4))
    t, n, m = _pick(rng, _NOTTINGHAM[g])
    return _pick(rng, _GRADE).format(
        g=g, diff=_DIFFERENTIATION[g], total=t + n + m, roman=_ROMAN[g], t=t, n=n, m=m
    )


def _t_category(size_cm: float) -> str:
    if size_cm <= 0.5:
        return "1a"
    if size_cm <= 1.0:
        return "1b"
    if size_cm <= 2.0:
        return "1c"
    return "2" if size_cm <= 5.0 else "3"


def _add_noise(rng: np.random.Generator, section: str, *, typos: bool) -> str:
    if typos and _chance(rng, 0.2):
        present = [word for word in _TYPOS if word in section]
        if present:
            word = _pick(rng, present)
            section = section.replace(word, _pick(rng, _TYPOS[word]), 1)
    if _chance(rng, 0.08):
        spaces = [i for i, ch in enumerate(section) if ch == " "]
        if spaces:
            cut = _pick(rng, spaces)
            section = section[:cut] + " " + section[cut:]
    if _chance(rng, 0.06):
        section = section.upper()
    return section


def _render(latent: _Latent, rng: np.random.Generator) -> str:
    """Render one report that states every fact in ``latent``, with random wording.

    Only the wording is random: whatever the draws, the text states the ER and PR
    percentages or status, the HER2 result (with the ISH result for IHC 2+), the Ki-67
    index, the nodal status and LVI, so every label is recoverable from the text.

    Args:
        latent: The facts to state.
        rng: Source of all randomness.

    Returns:
        A single-line report of 50 to 140 words without tabs or double quotes.

    Example:
        >>> latent = _Latent(er_pct=0, pr_pct=0, her2_ihc=3, her2_ratio=None, ki67=40)
        >>> text = _render(latent, np.random.default_rng(0))
        >>> "3+" in text and "\\t" not in text
        True
    """
    side = _pick(rng, _SIDES)
    biopsy = _chance(rng, 0.2)
    proc = _pick(rng, _BIOPSIES if biopsy else _EXCISIONS)
    size = round(float(rng.uniform(0.4, 6.5)), 1)
    quad = _pick(rng, _QUADRANTS)
    a, b, c = (round(float(rng.uniform(lo, lo + 8)), 1) for lo in (4.0, 3.0, 1.5))
    context = {
        "side": side,
        "Side": side.capitalize(),
        "SIDE_ABBR": _pick(rng, ("L", "LT")) if side == "left" else _pick(rng, ("R", "RT")),
        "quad": quad,
        "proc": proc,
        "clock": int(rng.integers(1, 13)),
        "age": int(rng.integers(28, 89)),
        "birads": _pick(rng, ("4C", "5")),
        "size": size,
        "a": a,
        "b": b,
        "c": c,
        "gap": round(float(rng.uniform(0.1, 2.5)), 1),
        "blocks": int(rng.integers(4, 16)),
        "cores": int(rng.integers(2, 7)),
        "length": round(float(rng.uniform(0.8, 2.0)), 1),
    }
    hist = _pick(rng, _HISTOLOGY)
    pn = _pn_category(latent, rng)

    # Sections present in every report; the label-bearing ones never get typos.
    specimen = _pick(rng, _SPECIMEN).format(**context)
    diagnosis = _pick(rng, _DIAGNOSIS).format(
        hist=hist, Hist=hist[0].upper() + hist[1:], grade=_grade_text(rng), **context
    )
    nodes = _nodes_text(rng, latent, pn)
    lvi = _pick(rng, _LVI_PRESENT if latent.lvi else _LVI_ABSENT)
    her2 = _her2_text(rng, latent)
    ki67 = _ki67_text(rng, latent.ki67)
    if _chance(rng, 0.2):
        receptors = [_receptor_pair(rng, latent.er_pct, latent.pr_pct)]
    else:
        receptors = [
            _receptor(rng, _ER_NAMES, latent.er_pct),
            _receptor(rng, _PR_NAMES, latent.pr_pct),
        ]
    markers = [*receptors, her2]
    ki67_apart = _chance(rng, 0.2)  # Ki-67 sometimes reported beside the diagnosis
    if not ki67_apart:
        markers.append(ki67)
    if _chance(rng, 0.3):
        markers = [markers[int(i)] for i in rng.permutation(len(markers))]
    heading = _pick(rng, _BIO_HEADINGS)
    joined = _pick(rng, ("; ", ", ", ". ", "; ")).join(markers)
    biomarkers = f"{heading} {joined}" if heading else joined
    required = [specimen, diagnosis, nodes, lvi, biomarkers] + ([ki67] if ki67_apart else [])

    # Optional context sections, each drawn with its own probability.
    margins = (
        "Margins: not applicable (core biopsy)"
        if biopsy
        else _pick(rng, _MARGINS).format(
            mm=int(rng.integers(1, 15)),
            dir=_pick(rng, _DIRECTIONS),
            Dir=_pick(rng, _DIRECTIONS).capitalize(),
        )
    )
    gross = _pick(rng, _GROSS_CORE if biopsy else _GROSS_EXCISION).format(**context)
    optional = {
        "history": (_pick(rng, _HISTORY).format(**context), 0.6),
        "gross": (gross, 0.7),
        "margins": (margins, 0.8),
        "dcis": (
            _pick(rng, _DCIS).format(
                pattern=_pick(rng, ("cribriform", "solid", "micropapillary", "comedo")),
                ng=_pick(rng, ("low", "intermediate", "high")),
                pct=5 * int(rng.integers(1, 9)),
            ),
            0.5,
        ),
        "calcs": (_pick(rng, _CALCS), 0.3),
        "stage": (_pick(rng, _STAGE).format(t=_t_category(size), pn=pn), 0.3),
        "fragment": (
            _pick(rng, _FRAGMENTS).format(
                name=_pick(rng, _SURNAMES),
                day=int(rng.integers(1, 29)),
                month=int(rng.integers(1, 13)),
                blocks=int(rng.integers(2, 9)),
            ),
            0.35,
        ),
    }
    if biopsy:
        del optional["stage"]  # staging is not assigned on a core biopsy
    chosen = [key for key, (_, p) in optional.items() if _chance(rng, p)]
    spare = [key for key in optional if key not in chosen]

    def words(keys: list[str]) -> int:
        return sum(len(s.split()) for s in required) + sum(
            len(optional[key][0].split()) for key in keys
        )

    while words(chosen) > _MAX_WORDS and chosen:
        chosen.pop(int(rng.integers(len(chosen))))
    order = rng.permutation(len(spare))
    for i in order:
        if words(chosen) >= _MIN_WORDS:
            break
        chosen.append(spare[int(i)])
    extra = [_FILLER] if words(chosen) < _MIN_WORDS else []

    # Order: specimen (history may come first), gross, diagnosis, then the findings block,
    # which is sometimes shuffled; a stray fragment may land anywhere after the start.
    head = [specimen]
    if "history" in chosen:
        history = optional["history"][0]
        head = [history, specimen] if _chance(rng, 0.3) else [specimen, history]
    if "gross" in chosen:
        head.append(optional["gross"][0])
    head.append(diagnosis)
    if ki67_apart:
        head.append(ki67)
    block = [optional[key][0] for key in ("margins", "dcis", "calcs") if key in chosen]
    block += [nodes, lvi]
    if "stage" in chosen:
        block.append(optional["stage"][0])
    if _chance(rng, 0.35):
        block = [block[int(i)] for i in rng.permutation(len(block))]
    if _chance(rng, 0.7):
        block.append(biomarkers)
    else:
        block.insert(int(rng.integers(len(block) + 1)), biomarkers)
    sections = head + block + extra
    if "fragment" in chosen:
        sections.insert(int(rng.integers(1, len(sections) + 1)), optional["fragment"][0])

    critical = {nodes, lvi, biomarkers, ki67}
    noisy = [_add_noise(rng, s, typos=s not in critical) for s in sections]
    text = _pick(rng, ("; ", ". ", ". ", "; ")).join(noisy)
    return text if text.endswith(".") else text + "."


# --------------------------------------------------------------------------- public API


def _validate(task: str, n: int, seed: int) -> None:
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; use one of: {', '.join(TASKS)}.")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a whole number >= 1 (got {n!r}); pass how many reports.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0 (got {seed!r}).")


def make_reports(task: str, n: int, *, seed: int = 0) -> pd.DataFrame:
    """Generate ``n`` synthetic breast pathology reports labelled for ``task``.

    Args:
        task: ``"binary"`` (node-negative/node-positive, about balanced),
            ``"multiclass"`` (surrogate subtype from :data:`SUBTYPES`, about 25% each)
            or ``"multilabel"`` (positive :data:`FINDINGS`; the list may be empty).
        n: Number of reports, at least 1.
        seed: Seed for :func:`numpy.random.default_rng`; the same seed gives the same
            frame, a different seed a different one.

    Returns:
        A frame with columns ``id`` (``"S00001"``, ...), ``text`` (one line, no tabs)
        and ``label`` (a string, or for ``"multilabel"`` a list of strings in
        :data:`FINDINGS` order).

    Raises:
        ValueError: ``task`` is not in :data:`TASKS`, or ``n``/``seed`` is out of range.

    Example:
        >>> frame = make_reports("multilabel", 2, seed=7)
        >>> all(set(labels) <= set(FINDINGS) for labels in frame["label"])
        True
    """
    _validate(task, n, seed)
    rng = np.random.default_rng(seed)
    ids: list[str] = []
    texts: list[str] = []
    labels: list[str | list[str]] = []
    for i in range(int(n)):
        latent = _sample_latent(task, rng)
        ids.append(f"S{i + 1:05d}")
        texts.append(_render(latent, rng))
        labels.append(_label(task, latent))
    return pd.DataFrame({"id": ids, "text": texts, "label": labels})


def write_reports(path: str | os.PathLike[str], task: str, n: int, *, seed: int = 0) -> Path:
    """Generate reports with :func:`make_reports` and write them atomically to ``path``.

    The format follows the extension: ``.csv`` and ``.tsv`` (multi-label labels as a JSON
    list in the cell, ``["ER+", "PR+"]``, and ``[]`` for a report with no finding),
    ``.jsonl`` (one object per line, multi-label labels as a JSON list) or ``.parquet``
    (multi-label labels as a list column). Every one of them reads back as multi-label
    data with ``textclf train --train FILE`` alone (see :mod:`textclf.data.io`). The file
    appears complete or not at all: it is written beside ``path`` under a temporary name,
    then renamed.

    Args:
        path: Output file; its folder is created if missing.
        task: One of :data:`TASKS`.
        n: Number of reports, at least 1.
        seed: Seed passed to :func:`make_reports`.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: The extension is not supported, or ``task``/``n``/``seed`` is invalid.

    Example:
        >>> write_reports("demo/train.csv", "binary", 500, seed=0)  # doctest: +SKIP
        PosixPath('demo/train.csv')
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise ValueError(
            f"Cannot write {str(target)!r}: unsupported extension {target.suffix or '(none)'!r}; "
            f"use one of {', '.join(SUPPORTED_EXTENSIONS)}."
        )
    frame = make_reports(task, n, seed=seed)
    with atomic_path(target) as tmp:
        if suffix in (".csv", ".tsv"):
            if task == "multilabel":
                # JSON lists, not "a|b": the reader takes a JSON-list cell as a label set
                # without --label-separator, and "[]" says "no finding" where an empty
                # cell would read as a missing label (issue 10).
                frame = frame.assign(
                    label=[
                        json.dumps(list(labels), ensure_ascii=False) for labels in frame["label"]
                    ]
                )
            if suffix == ".csv":
                frame.to_csv(tmp, index=False, encoding="utf-8")
            else:
                # Texts hold no tab, newline or double quote, so no field needs quoting and
                # readers that disable quoting for TSV read the file back unchanged.
                frame.to_csv(tmp, index=False, sep="\t", quoting=csv.QUOTE_NONE, encoding="utf-8")
        elif suffix == ".jsonl":
            with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
                for record in frame.to_dict(orient="records"):
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            frame.to_parquet(tmp, index=False)
    return target
