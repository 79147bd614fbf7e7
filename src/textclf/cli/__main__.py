"""``python -m textclf.cli``."""

from textclf.cli import main

main()
