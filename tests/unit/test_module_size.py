"""No module of the package grows past 700 lines (issue 12): a module that does is split."""

from __future__ import annotations

from pathlib import Path

import textclf

LIMIT = 700


def test_no_module_is_over_the_limit():
    package = Path(textclf.__file__).parent
    sizes = {
        str(path.relative_to(package)): len(path.read_text(encoding="utf-8").splitlines())
        for path in package.rglob("*.py")
    }
    assert len(sizes) > 50  # the package itself, not an empty folder
    over = {name: n for name, n in sizes.items() if n > LIMIT}
    assert not over, f"modules over {LIMIT} lines: {over}"
