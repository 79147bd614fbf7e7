"""The report embedded in the app runs no script, whoever wrote the model folder."""

from __future__ import annotations

import re

from textclf.app.render import scriptless


def test_the_policy_comes_before_anything_that_could_run():
    hostile = "<!DOCTYPE html>\n<html><head><script>parent.steal()</script></head></html>"
    out = scriptless(hostile)
    policy = out.index("Content-Security-Policy")
    assert policy < out.index("<script>") and out.startswith("<!DOCTYPE html>")
    assert re.search(r"script-src 'none'", out)
    bare = scriptless("<img src=x onerror=alert(1)>")  # no doctype: the policy leads
    assert bare.startswith('<meta http-equiv="Content-Security-Policy"')
