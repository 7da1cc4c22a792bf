"""`python -m jiesu.cli`: the same as the `jiesu` command."""

from jiesu.cli.root import main

main()
