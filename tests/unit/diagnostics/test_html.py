"""The HTML shell: escaping, embedded images, no external references."""

from __future__ import annotations

import base64

import pandas as pd

from textclf.diagnostics import html as H


def test_document_is_self_contained_and_escaped():
    png = b"\x89PNG\r\n\x1a\nfake"
    body = H.image(png, alt="a <b>", caption="cap & more") + H.note("<script>alert(1)</script>")
    doc = H.render_document(
        title="T <1>", sections=[H.Section("s1", "First", body)], subtitle=["x < y"]
    )
    assert doc.startswith("<!DOCTYPE html>")
    assert "<script" not in doc and "http" not in doc
    assert "&lt;script&gt;" in doc and "T &lt;1&gt;" in doc and "x &lt; y" in doc
    assert base64.b64encode(png).decode() in doc
    assert '<section id="s1">' in doc and 'href="#s1"' in doc


def test_table_formats_numbers_and_truncates():
    frame = pd.DataFrame({"text": ["<i>a</i>", "b", "c"], "p": [0.12345, 0.5, 1.0], "n": [1, 2, 3]})
    out = H.table(frame, max_rows=2, float_digits=2)
    assert "&lt;i&gt;a&lt;/i&gt;" in out
    assert '<td class="num">0.12</td>' in out and '<td class="num">2</td>' in out
    assert "… and 1 more rows" in out and ">c<" not in out


def test_table_shows_an_undefined_value_as_n_a():
    out = H.table(pd.DataFrame({"score": [0.25, float("nan")]}))
    assert '<td class="num">0.250</td>' in out and '<td class="num">n/a</td>' in out
    assert "nan" not in out
