"""Every key of the desk, in one place. Each binding has an id, so `ui.keys` in the config
can move it to another key (binding id -> key).
"""
from __future__ import annotations

from textual.binding import Binding

FLATTEN_ALL = Binding("F", "flatten_all", "Flatten all", id="flatten_all", key_display="F")

# The flatten key must work over every screen, dialog and prompt, so the app holds it as a
# priority binding (checked before any screen or focused widget). The desk keeps its own copy
# only so the footer lists it first; on the desk the app's copy is the one that fires.
APP_BINDINGS: list[Binding] = [
    Binding(FLATTEN_ALL.key, FLATTEN_ALL.action, FLATTEN_ALL.description, id=FLATTEN_ALL.id,
            key_display=FLATTEN_ALL.key_display, priority=True),
]

DESK_BINDINGS: list[Binding] = [
    FLATTEN_ALL,
    Binding("S", "stop_flatten", "Stop flatten", id="stop_flatten", key_display="S"),
    Binding("x", "flatten_symbol", "Flatten row", id="flatten_symbol"),
    Binding("p", "pause_symbol", "Pause row", id="pause_symbol"),
    Binding("space", "halt_entries", "Halt", id="halt_entries"),
    Binding("m", "switch_mode", "Mode", id="switch_mode"),
    Binding("s", "sort", "Sort", id="sort"),
    Binding("t", "next_theme", "Theme", id="next_theme"),
    Binding("question_mark", "help", "Help", id="help", key_display="?"),
    Binding("q", "quit_desk", "Quit", id="quit"),
    Binding("1", "show_pane('signals')", "Signals pane", id="pane_signals", show=False),
    Binding("2", "show_pane('breakdown')", "Breakdown pane", id="pane_breakdown", show=False),
    Binding("3", "show_pane('positions')", "Positions pane", id="pane_positions", show=False),
    Binding("4", "show_pane('trades')", "Trades pane", id="pane_trades", show=False),
    Binding("5", "show_pane('equity')", "Equity pane", id="pane_equity", show=False),
    Binding("6", "show_pane('log')", "Event log pane", id="pane_log", show=False),
    Binding("7", "show_pane('risk')", "Risk pane", id="pane_risk", show=False),
    Binding("escape", "back", "Back to signals", id="back", show=False),
]

# Keys that belong to a widget rather than the desk, listed here so the help and the
# keymap check know every id.
INSPECT = Binding("enter", "inspect", "Inspect", id="inspect", show=False)
LOG_FILTER = Binding("slash", "filter", "Filter", id="log_filter", key_display="/")
WIDGET_BINDINGS = [INSPECT, LOG_FILTER]

ALL_BINDING_IDS = frozenset(b.id for b in [*DESK_BINDINGS, *WIDGET_BINDINGS] if b.id)

HELP_TEXT = {
    "flatten_all": "Close every position now (no dialog); entries stay halted until resumed",
    "stop_flatten": "Stop a running flatten (offered only while one runs); what is still open stays open",
    "flatten_symbol": "Close the position of the row under the cursor of the focused table "
                      "(Signals, Positions or Trades)",
    "pause_symbol": "Pause or resume the symbol of the row under the cursor of the focused table "
                    "(Signals, Positions or Trades); it keeps its position",
    "halt_entries": "Halt or resume all new entries",
    "switch_mode": "Switch trading mode: paper, testnet or live",
    "sort": "Sort the signals by the next column",
    "next_theme": "Next colour theme (remembered)",
    "help": "This help",
    "quit": "Stop the engine and quit (asks first only with live positions open)",
    "inspect": "Factor breakdown of the row under the cursor (Signals, Positions or Trades)",
    "pane_signals": "Show the signals pane",
    "pane_breakdown": "Show the factor breakdown pane",
    "pane_positions": "Show the positions pane",
    "pane_trades": "Show the trades pane",
    "pane_equity": "Show the equity pane",
    "pane_log": "Show the event log: orders, fills, commands, breakers, mismatches, feed, store, errors "
                "(/ filters by symbol or kind)",
    "pane_risk": "Show the risk pane: exposure against the caps, margin, distance to the breakers and to "
                 "liquidation",
    "back": "Back to the signals",
    "log_filter": "In the event log: type words to keep only entries of that symbol or kind",
}


def unknown_binding_ids(keymap: dict[str, str]) -> list[str]:
    return sorted(k for k in keymap if k not in ALL_BINDING_IDS)
