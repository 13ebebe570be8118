"""`python -m syndicator` is the `syndicate` command."""

from .cli import main

main()
