"""The wording of a synthetic pathology report: phrasings, and one report rendered from its facts.

Only the wording is random. Whatever the draws, a report states the ER and PR
percentages or status, the HER2 result (with the ISH result for IHC 2+), the Ki-67
index, the nodal status and LVI, so every label is recoverable from the text; but only by
applying the clinical rules to varied wording, since "positive" and "negative" occur all
over the report for margins, controls and other markers. Sections, their order, the
phrasings and light noise (typos, double spaces, capitals; never in a label-bearing
section) are drawn from ``rng``.

Example:
    >>> latent = Latent(er_pct=0, pr_pct=0, her2_ihc=3, her2_ratio=None, ki67=40)
    >>> text = render(latent, np.random.default_rng(0))
    >>> 50 <= len(text.split()) <= 140
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

import numpy as np

from textclf.data.synth_latent import Latent, chance, pick

# Report length bounds in whitespace-separated words.
_MIN_WORDS = 50
_MAX_WORDS = 140

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
    name = pick(rng, names)
    short = name if len(name) <= 3 else ("ER" if names is _ER_NAMES else "PR")
    if pct == 0:
        template = pick(rng, _HR_NEG)
        intensity = ""
    elif pct <= 10:
        template = pick(rng, _HR_LOW)
        intensity = pick(rng, ("weak", "weak", "moderate"))
    else:
        template = pick(rng, _HR_HIGH)
        intensity = pick(rng, ("weak", "moderate", "strong", "strong", "strong"))
    # Allred = proportion score (1-10%: 2, to 1/3: 3, to 2/3: 4, more: 5) + intensity (1-3).
    proportion = 2 if pct <= 10 else 3 if pct <= 33 else 4 if pct <= 66 else 5
    allred = proportion + {"weak": 1, "moderate": 2, "strong": 3}.get(intensity, 0)
    return template.format(n=name, s=short, p=pct, i=intensity, a=allred)


def _receptor_pair(rng: np.random.Generator, er: int, pr: int) -> str:
    def value(pct: int) -> str:
        return pick(rng, ("0%", "<1%", "negative")) if pct == 0 else f"{pct}%"

    # The combined "ER/PR: 90%/0%" form makes the order of the two values matter.
    return pick(
        rng,
        (
            "ER/PR: {er}/{pr}",
            "Hormone receptors: ER {er}, PR {pr}",
            "ER and PR: {er} and {pr} respectively",
        ),
    ).format(er=value(er), pr=value(pr))


def _her2_text(rng: np.random.Generator, latent: Latent) -> str:
    name = pick(rng, _HER2_NAMES)
    if latent.her2_ihc == 3:
        return pick(rng, _HER2_3).format(h=name)
    if latent.her2_ihc in (0, 1):
        return pick(rng, _HER2_1 if latent.her2_ihc else _HER2_0).format(h=name)
    ratio = latent.her2_ratio
    assert ratio is not None  # guaranteed by Latent.__post_init__ for IHC 2+
    cep17 = float(rng.uniform(1.6, 2.4))
    if latent.her2_positive:  # for IHC 2+: the ratio reaches the ASCO/CAP cutoff
        # Keep to ASCO/CAP group 1 (ratio >= 2 and >= 4 copies): unambiguously amplified.
        copies, templates = max(4.0, ratio * cep17), _HER2_2_AMP
    else:
        # Group 5 (ratio < 2 and < 4 copies): unambiguously not amplified.
        copies, templates = min(3.9, ratio * cep17), _HER2_2_NONAMP
    return pick(rng, templates).format(h=name, r=f"{ratio:.1f}", c=f"{copies:.1f}")


def _ki67_text(rng: np.random.Generator, ki67: int) -> str:
    return pick(rng, _KI67).format(k=ki67)


def _pn_category(latent: Latent, rng: np.random.Generator) -> str:
    k = latent.nodes_positive
    if k == 0:
        pn = "pN0(i+)" if latent.itc else "pN0"
    elif latent.micromet:
        pn = "pN1mi"
    else:
        pn = "pN1a" if k <= 3 else "pN2a" if k <= 9 else "pN3a"
    if latent.sentinel and k <= 3 and chance(rng, 0.4):
        pn += "(sn)"
    return pn


def _nodes_text(rng: np.random.Generator, latent: Latent, pn: str) -> str:
    e, k = latent.nodes_examined, latent.nodes_positive
    plural = "s" if e > 1 else ""
    noun = f"sentinel lymph node{plural}" if latent.sentinel else f"axillary lymph node{plural}"
    if latent.sentinel and chance(rng, 0.3):
        noun = f"SLN{plural}"
    if k == 0:
        template = pick(rng, _NODES_ITC if latent.itc else _NODES_NEG)
        deposit = 0.0
    elif latent.micromet:
        template = pick(rng, _NODES_MICRO)
        deposit = float(rng.uniform(0.3, 2.0))  # micrometastasis: > 0.2 mm and <= 2 mm
    else:
        template = pick(rng, _NODES_POS)
        deposit = float(rng.uniform(2.5, 25.0))
    return template.format(
        k=k,
        e=e,
        nodes=noun,
        Nodes=noun[0].upper() + noun[1:],
        pn=pn,
        d=f"{deposit:.1f}",
        ene=pick(rng, ("not identified", "present", "absent")),
    )


def _grade_text(rng: np.random.Generator) -> str:
    g = int(rng.integers(1, 4))
    t, n, m = pick(rng, _NOTTINGHAM[g])
    return pick(rng, _GRADE).format(
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
    if typos and chance(rng, 0.2):
        present = [word for word in _TYPOS if word in section]
        if present:
            word = pick(rng, present)
            section = section.replace(word, pick(rng, _TYPOS[word]), 1)
    if chance(rng, 0.08):
        spaces = [i for i, ch in enumerate(section) if ch == " "]
        if spaces:
            cut = pick(rng, spaces)
            section = section[:cut] + " " + section[cut:]
    if chance(rng, 0.06):
        section = section.upper()
    return section


def render(latent: Latent, rng: np.random.Generator) -> str:
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
        >>> latent = Latent(er_pct=0, pr_pct=0, her2_ihc=3, her2_ratio=None, ki67=40)
        >>> text = render(latent, np.random.default_rng(0))
        >>> "3+" in text and "\\t" not in text
        True
    """
    side = pick(rng, _SIDES)
    biopsy = chance(rng, 0.2)
    proc = pick(rng, _BIOPSIES if biopsy else _EXCISIONS)
    size = round(float(rng.uniform(0.4, 6.5)), 1)
    quad = pick(rng, _QUADRANTS)
    a, b, c = (round(float(rng.uniform(lo, lo + 8)), 1) for lo in (4.0, 3.0, 1.5))
    context = {
        "side": side,
        "Side": side.capitalize(),
        "SIDE_ABBR": pick(rng, ("L", "LT")) if side == "left" else pick(rng, ("R", "RT")),
        "quad": quad,
        "proc": proc,
        "clock": int(rng.integers(1, 13)),
        "age": int(rng.integers(28, 89)),
        "birads": pick(rng, ("4C", "5")),
        "size": size,
        "a": a,
        "b": b,
        "c": c,
        "gap": round(float(rng.uniform(0.1, 2.5)), 1),
        "blocks": int(rng.integers(4, 16)),
        "cores": int(rng.integers(2, 7)),
        "length": round(float(rng.uniform(0.8, 2.0)), 1),
    }
    hist = pick(rng, _HISTOLOGY)
    pn = _pn_category(latent, rng)

    # Sections present in every report; the label-bearing ones never get typos.
    specimen = pick(rng, _SPECIMEN).format(**context)
    diagnosis = pick(rng, _DIAGNOSIS).format(
        hist=hist, Hist=hist[0].upper() + hist[1:], grade=_grade_text(rng), **context
    )
    nodes = _nodes_text(rng, latent, pn)
    lvi = pick(rng, _LVI_PRESENT if latent.lvi else _LVI_ABSENT)
    her2 = _her2_text(rng, latent)
    ki67 = _ki67_text(rng, latent.ki67)
    if chance(rng, 0.2):
        receptors = [_receptor_pair(rng, latent.er_pct, latent.pr_pct)]
    else:
        receptors = [
            _receptor(rng, _ER_NAMES, latent.er_pct),
            _receptor(rng, _PR_NAMES, latent.pr_pct),
        ]
    markers = [*receptors, her2]
    ki67_apart = chance(rng, 0.2)  # Ki-67 sometimes reported beside the diagnosis
    if not ki67_apart:
        markers.append(ki67)
    if chance(rng, 0.3):
        markers = [markers[int(i)] for i in rng.permutation(len(markers))]
    heading = pick(rng, _BIO_HEADINGS)
    joined = pick(rng, ("; ", ", ", ". ", "; ")).join(markers)
    biomarkers = f"{heading} {joined}" if heading else joined
    required = [specimen, diagnosis, nodes, lvi, biomarkers] + ([ki67] if ki67_apart else [])

    # Optional context sections, each drawn with its own probability.
    margins = (
        "Margins: not applicable (core biopsy)"
        if biopsy
        else pick(rng, _MARGINS).format(
            mm=int(rng.integers(1, 15)),
            dir=pick(rng, _DIRECTIONS),
            Dir=pick(rng, _DIRECTIONS).capitalize(),
        )
    )
    gross = pick(rng, _GROSS_CORE if biopsy else _GROSS_EXCISION).format(**context)
    optional = {
        "history": (pick(rng, _HISTORY).format(**context), 0.6),
        "gross": (gross, 0.7),
        "margins": (margins, 0.8),
        "dcis": (
            pick(rng, _DCIS).format(
                pattern=pick(rng, ("cribriform", "solid", "micropapillary", "comedo")),
                ng=pick(rng, ("low", "intermediate", "high")),
                pct=5 * int(rng.integers(1, 9)),
            ),
            0.5,
        ),
        "calcs": (pick(rng, _CALCS), 0.3),
        "stage": (pick(rng, _STAGE).format(t=_t_category(size), pn=pn), 0.3),
        "fragment": (
            pick(rng, _FRAGMENTS).format(
                name=pick(rng, _SURNAMES),
                day=int(rng.integers(1, 29)),
                month=int(rng.integers(1, 13)),
                blocks=int(rng.integers(2, 9)),
            ),
            0.35,
        ),
    }
    if biopsy:
        del optional["stage"]  # staging is not assigned on a core biopsy
    chosen = [key for key, (_, p) in optional.items() if chance(rng, p)]
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
        head = [history, specimen] if chance(rng, 0.3) else [specimen, history]
    if "gross" in chosen:
        head.append(optional["gross"][0])
    head.append(diagnosis)
    if ki67_apart:
        head.append(ki67)
    block = [optional[key][0] for key in ("margins", "dcis", "calcs") if key in chosen]
    block += [nodes, lvi]
    if "stage" in chosen:
        block.append(optional["stage"][0])
    if chance(rng, 0.35):
        block = [block[int(i)] for i in rng.permutation(len(block))]
    if chance(rng, 0.7):
        block.append(biomarkers)
    else:
        block.insert(int(rng.integers(len(block) + 1)), biomarkers)
    sections = head + block + extra
    if "fragment" in chosen:
        sections.insert(int(rng.integers(1, len(sections) + 1)), optional["fragment"][0])

    critical = {nodes, lvi, biomarkers, ki67}
    noisy = [_add_noise(rng, s, typos=s not in critical) for s in sections]
    text = pick(rng, ("; ", ". ", ". ", "; ")).join(noisy)
    return text if text.endswith(".") else text + "."
