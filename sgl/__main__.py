"""`python -m sgl` runs the `sgl` command."""

from sgl.cli import main

main()
