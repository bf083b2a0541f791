"""The desk in a real terminal (tmux): start, wait for positions, F, read the screen, q."""
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "tmux_smoke.sh"


def test_flatten_all_in_a_real_terminal():
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TRIFACTOR_CMD": f"{sys.executable} -m tui"})
    assert done.returncode == 0 and done.stdout.rstrip().endswith("PASS"), done.stdout + done.stderr
