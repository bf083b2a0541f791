"""`trifactor run --headless | head`: when the reader goes away the run stops quietly, with the
exit status Unix tools give (141, or 0), and no error on stderr."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_headless_into_head_exits_quietly(tmp_path):
    env = {**os.environ, **{v: str(tmp_path / v.lower()) for v in ("XDG_CONFIG_HOME", "XDG_DATA_HOME",
                                                                  "XDG_STATE_HOME", "XDG_RUNTIME_DIR")}}
    script = (f"{sys.executable} -m tui run --headless --speed 200 --db sqlite:///{tmp_path / 'p.db'} "
              f"2>{tmp_path / 'err'} | head -n 3 >/dev/null; echo ${{PIPESTATUS[0]}}")
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.stdout.strip() in ("0", "141"), done.stdout + done.stderr
    assert (tmp_path / "err").read_text() == ""
