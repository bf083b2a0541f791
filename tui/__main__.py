"""`python -m tui`: the same as the `trifactor` command."""
from tui.cli import run_command

run_command()
