"""Every ``Example:`` in the package's docstrings runs and shows what it prints.

The docstrings are the reference a Python user reads first; this keeps them true. It uses
the standard library's ``doctest`` on each importable module of the package.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import textclf

# Scripts run when imported, and have no examples: Streamlit pages draw the page (and
# cannot be imported outside ``streamlit run``); ``__main__`` modules run the CLI.
PAGES = ("textclf.app.main", "textclf.app.views.")

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(textclf.__path__, "textclf.")
    if not info.name.startswith(PAGES) and not info.name.endswith(".__main__")
)


def test_the_walk_finds_the_modules_with_examples():
    assert {"textclf.evaluation.bootstrap", "textclf.diagnostics.errors"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name: str):
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(verbose=False)
    failures: list[str] = []
    for test in doctest.DocTestFinder().find(module, name):
        result = runner.run(test, out=failures.append)
        assert result.failed == 0, "".join(failures)
