"""``python -m textclf``: the command line (also under torchrun)."""

from textclf.cli import main

main()
