"""Values of the data (label names, file names, messages that quote them) put into Markdown.

A label such as ``<img src=x onerror=…>`` or ``a|b`` went into the model card and
``metrics.md`` as it was: raw HTML for a renderer that allows it, a broken table row
otherwise (security review). Hugging Face and GitHub sanitise HTML; wikis, editor previews
and static-site generators may not.

Example:
    >>> md_escape("<b>a|b</b>")
    '\\\\<b\\\\>a\\\\|b\\\\</b\\\\>'
    >>> md_code("a`b")
    '`` a`b ``'
"""

from __future__ import annotations

import re

# What starts HTML, code or a table cell, and the "](" that closes a link's text (a bracket
# elsewhere, as in "rows [1, 2]", stays as it is, readable in the raw file).
_SPECIAL = re.compile(r"([\\`<>|]|\](?=\())")


def md_escape(text: object) -> str:
    """``text`` with the characters that start HTML, links, code or table cells escaped."""
    return _SPECIAL.sub(r"\\\1", str(text))


def md_code(text: object) -> str:
    """``text`` as a code span that no backtick inside can end, safe in a table cell."""
    value = str(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest else ""
    return f"{fence}{pad}{value}{pad}{fence}"
