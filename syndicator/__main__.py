"""`python -m syndicator` is the `syndicate` command."""

from syndicator.ops.cli import main

main()
