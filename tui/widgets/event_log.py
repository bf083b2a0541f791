"""The event log pane: every entry, newest at the bottom, following the newest unless the
operator has scrolled up; a filter line above keeps only the entries whose symbol or kind
starts with (or whose text contains) every word typed."""
from __future__ import annotations

from collections import deque
from typing import Iterable

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input

from tui.bindings import LOG_FILTER
from tui.event_log import KINDS, LogEntry
from tui.palette import Palette
from tui.widgets.entry_log import EntryLog

KEEP = 2000


class EventLogPane(Vertical):
    BINDINGS = [LOG_FILTER]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.entries: deque[LogEntry] = deque(maxlen=KEEP)
        self.words: tuple[str, ...] = ()
        self._palette = Palette()
        self.following = True

    def compose(self) -> ComposeResult:
        yield Input(placeholder=f"filter: symbol or kind ({', '.join(KINDS)}), / to edit", id="event-filter")
        yield EntryLog(KEEP, id="event-log")

    @property
    def palette(self) -> Palette:
        return self._palette

    @palette.setter
    def palette(self, palette: Palette) -> None:
        self._palette = palette
        if self.is_mounted:
            self._restyle()

    def _restyle(self) -> None:
        # Bold and reverse read without colour and are never fainter than normal text.
        self.log_view.alarm_style = self._palette.alarm
        self.log_view.refresh()

    def on_mount(self) -> None:
        self._restyle()
        self.watch(self.log_view, "scroll_y", self._scrolled, init=False)

    def _scrolled(self, old: float, new: float) -> None:
        # Decided by the direction of the move, not by comparing with the end: a write moves the
        # end down at once but scrolls after the next refresh, so the view lags it for a moment.
        if new >= self.log_view.max_scroll_y:
            self.following = True
        elif new < old:
            self.following = False  # the operator scrolled up to read

    @property
    def log_view(self) -> EntryLog:
        return self.query_one("#event-log", EntryLog)

    def add(self, entries: Iterable[LogEntry]) -> None:
        shown = []
        for entry in entries:
            self.entries.append(entry)
            if entry.matches(self.words):
                shown.append((entry.line(), entry.alarm))
        if shown:
            self.log_view.write(shown, scroll_end=self.following)

    def add_history(self, entries: Iterable[LogEntry]) -> None:
        """Earlier runs' entries, from the store: before everything this run logged."""
        current = list(self.entries)
        self.entries.clear()
        self.entries.extend([*entries, *current][-KEEP:])
        self.set_filter(" ".join(self.words))

    def shown(self) -> list[LogEntry]:
        return [e for e in self.entries if e.matches(self.words)]

    def set_filter(self, text: str) -> None:
        self.words = tuple(text.lower().split())
        self.log_view.replace((entry.line(), entry.alarm) for entry in self.shown())

    def action_filter(self) -> None:
        self.query_one("#event-filter", Input).focus()

    @on(Input.Changed, "#event-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.set_filter(event.value)

    @on(Input.Submitted, "#event-filter")
    def _filter_done(self) -> None:
        self.log_view.focus()
