"""`python -m tui`: the same as the `trifactor` command."""
import sys

from tui.cli import main

sys.exit(main())
