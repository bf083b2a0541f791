#!/usr/bin/env bash
# Runs the desk as a person would, inside tmux: start it on the sim market, wait for signals
# and open positions, shrink the terminal to 80x24 and back, press F (flatten all), and read
# the screen: every position must be gone, the result must be shown and entries must be
# halted. Then q quits it.
#
#   tests/tmux_smoke.sh            uses `trifactor` from PATH, else `python3 -m tui`
#   TRIFACTOR_CMD="..." tests/tmux_smoke.sh
#
# Everything the desk writes (state, database, log) goes to a temporary directory.
set -euo pipefail

cd "$(dirname "$0")/.."
command -v tmux >/dev/null || { echo "FAIL: tmux is not installed (apt-get install tmux)"; exit 2; }

if [ -n "${TRIFACTOR_CMD:-}" ]; then
  cmd="$TRIFACTOR_CMD"
elif command -v trifactor >/dev/null; then
  cmd="trifactor"
else
  cmd="${PYTHON:-python3} -m tui"
fi

work=$(mktemp -d)
socket="trifactor-smoke-$$"
session="desk"
tmx() { tmux -L "$socket" "$@"; }
cleanup() {
  tmx kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

screen() { tmx capture-pane -p -t "$session" 2>/dev/null || true; }

# wait_for PATTERN SECONDS WHAT: poll the screen until PATTERN (extended regex) shows.
wait_for() {
  local pattern=$1 seconds=$2 what=$3
  for _ in $(seq 1 $((seconds * 5))); do
    if screen | grep -Eq -- "$pattern"; then echo "ok: $what"; return 0; fi
    sleep 0.2
  done
  echo "FAIL: $what (no /$pattern/ on screen after ${seconds}s). The screen:"
  screen
  exit 1
}

export XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data" XDG_STATE_HOME="$work/state"
tmx new-session -d -s "$session" -x 200 -y 50 \
  "env XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' \
   $cmd run --speed 20 --seed 42; sleep 30"

wait_for 'Signals · [0-9]+ symbols' 120 "the desk shows its signals"
wait_for 'Positions · [1-9][0-9]* open' 120 "the strategy opened positions"

# The terminal shrinks to 80x24 (one pane at a time) and grows back.
tmx resize-window -t "$session" -x 80 -y 24
wait_for '\[1 Signals\]' 30 "at 80x24 the panes became tabs"
tmx resize-window -t "$session" -x 200 -y 50
wait_for 'Positions · [0-9]+ open' 30 "back at 200x50 every pane shows again"

tmx send-keys -t "$session" F
wait_for 'Positions · 0 open' 60 "F closed every position"
wait_for 'flat: [0-9]+ position' 30 "the flatten result is shown"
wait_for 'ENTRIES HALTED' 30 "entries stay halted"
if screen | grep -q 'No open positions'; then echo "ok: the positions pane is empty"; else
  echo "FAIL: the positions pane still lists positions"; screen; exit 1; fi

tmx send-keys -t "$session" q
for _ in $(seq 1 100); do
  if ! screen | grep -q 'Signals ·'; then echo "ok: q quit the desk"; echo "PASS"; exit 0; fi
  sleep 0.2
done
echo "FAIL: the desk did not quit on q"
screen
exit 1
