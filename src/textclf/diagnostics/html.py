"""A self-contained HTML document: inline CSS, images as data URIs, no scripts, no links out.

The report must open offline, from an e-mail attachment or an air-gapped clinical
network, and look the same in five years; so everything it shows lives inside the one
file, and collapsible parts use ``<details>`` instead of JavaScript.

Example:
    >>> doc = render_document(title="Report", sections=[Section("a", "A", "<p>hi</p>")])
    >>> "<script" in doc, "http" in doc
    (False, False)
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

_CSS = """
:root { --bg:#ffffff; --fg:#1f2430; --muted:#5b6475; --card:#f6f7fb; --line:#dfe3ec;
        --accent:#3b5bdb; --good:#2b8a3e; --warn:#c77700; --bad:#c92a2a; }
@media (prefers-color-scheme: dark) {
  :root { --bg:#14161c; --fg:#e6e8ee; --muted:#a3aabb; --card:#1d2029; --line:#30343f;
          --accent:#8ea2ff; --good:#69db7c; --warn:#ffc078; --bad:#ff8787; }
  img.figure { background:#ffffff; }
}
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
       font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; }
header { padding:28px 40px 16px; border-bottom:1px solid var(--line); }
header h1 { margin:0 0 4px; font-size:26px; }
header p { margin:2px 0; color:var(--muted); }
nav { position:sticky; top:0; z-index:1; background:var(--bg); padding:8px 40px;
      border-bottom:1px solid var(--line); overflow-x:auto; white-space:nowrap; }
nav a { color:var(--accent); text-decoration:none; margin-right:18px; font-size:14px; }
main { padding:8px 40px 40px; max-width:1280px; }
section { margin:28px 0; }
h2 { font-size:21px; border-bottom:2px solid var(--accent); padding-bottom:4px; }
h3 { font-size:16px; margin:18px 0 6px; }
.note { background:var(--card); border-left:4px solid var(--accent); padding:8px 12px;
        margin:8px 0; border-radius:4px; }
.note.warn { border-left-color:var(--warn); }
.note.bad { border-left-color:var(--bad); }
.note.good { border-left-color:var(--good); }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(420px,1fr)); gap:16px; }
figure { margin:0; background:var(--card); border:1px solid var(--line); border-radius:6px;
         padding:8px; }
figure img { max-width:100%; height:auto; display:block; margin:auto; }
figcaption { color:var(--muted); font-size:13px; padding-top:4px; }
table { border-collapse:collapse; margin:8px 0; font-size:13.5px; }
th, td { border-bottom:1px solid var(--line); padding:4px 10px; text-align:left;
         vertical-align:top; }
th { background:var(--card); }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.text { min-width:320px; max-width:640px; }
.wide figure { max-width:1100px; margin:0 0 16px; }
details { margin:8px 0; }
summary { cursor:pointer; color:var(--accent); }
.scroll { overflow-x:auto; }
footer { color:var(--muted); font-size:12px; padding:16px 40px; border-top:1px solid var(--line); }
"""


@dataclass
class Section:
    """One titled part of the report.

    Attributes:
        id: Anchor name (letters, digits, dashes).
        title: Heading shown in the page and the navigation bar.
        body: HTML fragment (already escaped where it holds user text).
    """

    id: str
    title: str
    body: str


def esc(value: object) -> str:
    """HTML-escape any value's ``str``."""
    return html.escape(str(value), quote=True)


def note(text: str, *, kind: str = "") -> str:
    """A highlighted paragraph; ``kind`` is ``""``, ``good``, ``warn`` or ``bad``. Escapes ``text``."""
    return f'<div class="note {esc(kind)}">{esc(text)}</div>'


def image(png: bytes, *, alt: str, caption: str = "") -> str:
    """A PNG embedded as a data URI, in a ``<figure>`` with an optional caption."""
    data = base64.b64encode(png).decode("ascii")
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return (
        f'<figure><img class="figure" alt="{esc(alt)}" '
        f'src="data:image/png;base64,{data}">{cap}</figure>'
    )


def grid(items: Sequence[str]) -> str:
    """Figures side by side, wrapping on narrow screens."""
    return '<div class="grid">' + "".join(items) + "</div>"


def table(
    frame: pd.DataFrame,
    *,
    max_rows: int | None = None,
    float_digits: int = 3,
    text_columns: Sequence[str] = ("text",),
) -> str:
    """A DataFrame as an escaped HTML table; numbers right-aligned, long texts wrapped.

    Args:
        frame: The table.
        max_rows: Show only the first rows, and say how many were left out.
        float_digits: Decimals for float columns.
        text_columns: Columns rendered as wrapped prose.

    A float NaN (a value not defined for that row) is shown as "n/a".
    """
    shown = frame if max_rows is None else frame.head(max_rows)
    head = "".join(f"<th>{esc(c)}</th>" for c in shown.columns)
    body = []
    for row in shown.itertuples(index=False):
        cells = []
        for col, value in zip(shown.columns, row, strict=True):
            if isinstance(value, float) and value != value:  # NaN: not defined for this row
                cells.append('<td class="num">n/a</td>')
            elif isinstance(value, float):
                cells.append(f'<td class="num">{value:.{float_digits}f}</td>')
            elif isinstance(value, int):
                cells.append(f'<td class="num">{value}</td>')
            else:
                cls = ' class="text"' if col in text_columns else ""
                cells.append(f"<td{cls}>{esc(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if max_rows is not None and len(frame) > max_rows:
        more = f"<p>… and {len(frame) - max_rows:,} more rows (see the CSV file).</p>"
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{more}"
    )


def stack(items: Sequence[str]) -> str:
    """Figures one under the other at full width (for large matrices)."""
    return '<div class="wide">' + "".join(items) + "</div>"


def collapsible(summary: str, body: str, *, open_: bool = False) -> str:
    """A part the reader expands on demand (no JavaScript)."""
    flag = " open" if open_ else ""
    return f"<details{flag}><summary>{esc(summary)}</summary>{body}</details>"


def render_document(
    *,
    title: str,
    sections: Sequence[Section],
    subtitle: Sequence[str] = (),
    footer: str = "",
) -> str:
    """The whole page: header, navigation bar, sections, footer.

    Args:
        title: Page title (escaped).
        sections: Body parts, in order.
        subtitle: Lines under the title (escaped).
        footer: Footer text (escaped).

    Returns:
        A complete HTML5 document with no external references.
    """
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    parts = "".join(
        f'<section id="{esc(s.id)}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections
    )
    sub = "".join(f"<p>{esc(line)}</p>" for line in subtitle)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1>{sub}</header><nav>{nav}</nav>"
        f"<main>{parts}</main><footer>{esc(footer)}</footer></body></html>\n"
    )
