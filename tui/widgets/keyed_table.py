"""A DataTable changed only by diffs: rows keep stable keys and only changed cells are written.

Clearing and refilling a table re-measures and re-renders every row. Even DataTable's own
`update_cell` throws away the rendering of every row (all its caches are keyed on one update
counter) and repaints the whole table. Here a cell update forgets only its own row's cached
rendering and repaints only that row, so a frame costs what moved, not what is visible.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence

from rich.text import Text
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from tui.bindings import INSPECT

Cell = str | Text
ROWS_PER_FRAME = 8
CACHED_ROWS = 300  # more lines than any terminal shows of one table, with room for the cursor's
CACHED_CELLS = 1500


@dataclass(frozen=True)
class Column:
    """`width` None: as wide as the widest cell when rows are added (for values that never
    change, like symbols). Numbers get a fixed width, so a value that grows is not cut."""

    key: str
    label: str
    width: int | None = None
    right: bool = False  # right-aligned (numbers)


class KeyedTable(DataTable):
    """Each row is about one symbol (its `symbol` column); the desk's per-symbol keys act on
    the symbol of the row under the cursor of whichever table has focus."""

    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    PANE: ClassVar[str] = "table"  # the pane's name, for hints
    BINDINGS = [INSPECT]

    class Inspect(Message):
        """The operator asked to look closely at a symbol (None: no row under the cursor)."""

        def __init__(self, table: "KeyedTable", symbol: str | None) -> None:
            super().__init__()
            self.table = table
            self.symbol = symbol

        @property
        def control(self) -> "KeyedTable":
            return self.table

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", False)
        # No padding: right-aligned numbers in fixed widths keep their own gap, and an 80
        # column terminal has no room for two spaces between every pair of columns.
        kwargs.setdefault("cell_padding", 0)
        super().__init__(**kwargs)
        self._size_caches()
        self._column_keys = [c.key for c in self.COLUMNS]
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self._stale_cells: set[tuple[RowKey, ColumnKey]] = set()
        self._pending: set[str] = set()  # rows whose newest values wait until they can be seen
        self._more_scheduled = False
        for n, column in enumerate(self.COLUMNS):
            self.add_column(self._aligned(n, column.label), width=column.width, key=column.key)

    def _size_caches(self) -> None:
        # DataTable keeps renderings of up to 10,000 cells and 1,000 rows and lines: tens of
        # thousands of long-lived lists and segments per table, which every full garbage collection
        # walks (a 100 ms stall every few seconds with four busy tables). A table shows at most a
        # screenful of rows; a few screens' worth keeps every frame's hits.
        self._cell_render_cache = LRUCache(CACHED_CELLS)
        self._row_render_cache = LRUCache(CACHED_ROWS)
        self._row_renderable_cache = LRUCache(CACHED_ROWS)
        self._line_cache = LRUCache(CACHED_ROWS)

    def _aligned(self, n: int, cell: Cell) -> Text:
        column = self.COLUMNS[n]
        text = cell.copy() if isinstance(cell, Text) else Text(cell)
        if column.right:
            text.justify = "right"
        elif n:
            text = Text(" ") + text  # the gap after the column to its left
        return text

    def show_row(self, key: str, cells: Sequence[Cell]) -> bool:
        """Add the row, or write only its cells that differ from what is shown.

        Returns whether anything was written."""
        cells = tuple(cells)
        shown = self._shown.get(key)
        self._shown[key] = cells
        if shown is None:
            self.add_row(*(self._aligned(n, cell) for n, cell in enumerate(cells)), key=key)
            return True
        changed = False
        for n, (column, old, new) in enumerate(zip(self._column_keys, shown, cells)):
            if old != new or (isinstance(new, Text) and new.style != getattr(old, "style", None)):
                self.update_cell(key, column, self._aligned(n, new))
                changed = True
        return changed

    def update_cell(self, row_key, column_key, value, *, update_width: bool = False) -> None:
        if update_width:
            return super().update_cell(row_key, column_key, value, update_width=True)
        row_key = RowKey(row_key) if isinstance(row_key, str) else row_key
        column_key = ColumnKey(column_key) if isinstance(column_key, str) else column_key
        if row_key not in self._row_locations or column_key not in self._column_locations:
            raise CellDoesNotExist(f"No cell exists for row_key={row_key!r}, column_key={column_key!r}.")
        self._data[row_key][column_key] = value
        self._stale_cells.add((row_key, column_key))
        self.refresh_row(self._row_locations.get(row_key))

    def _update_dimensions(self, new_rows) -> None:
        # DataTable measures new rows when it is next idle, and keys its cached renderings without
        # the column widths: a row drawn before the measuring would keep its cut cells ("BTCUSD")
        # for good, since a symbol cell never changes. A wider column makes every rendering stale.
        widths = [column.content_width for column in self.ordered_columns]
        super()._update_dimensions(new_rows)
        if widths != [column.content_width for column in self.ordered_columns]:
            self._update_count += 1
            self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        if self._stale_cells:
            self._forget_stale_cells()
        return super().render_lines(crop)

    def _forget_stale_cells(self) -> None:
        """Drop the cached rendering of the cells that changed since the last frame, and of
        the rows and lines that hold them; every other cell keeps its rendering."""
        cells, count = self._stale_cells, self._update_count
        rows = {row for row, _ in cells}
        for key in rows:
            if key in self._row_locations:
                self._row_renderable_cache.discard((count, self._row_locations.get(key)))
        for cache_key in [k for k in self._cell_render_cache.keys() if k[:2] in cells]:
            self._cell_render_cache.discard(cache_key)
        for cache_key in [k for k in self._row_render_cache.keys() if k[0] in rows]:
            self._row_render_cache.discard(cache_key)
        header = self.header_height if self.show_header else 0
        lines = {y + header for y, (key, _) in enumerate(self._y_offsets) if key in rows}
        for cache_key in [k for k in self._line_cache.keys() if k[0] in lines]:
            self._line_cache.discard(cache_key)
        cells.clear()

    def drop_row(self, key: str) -> None:
        self._pending.discard(key)
        if self._shown.pop(key, None) is not None:
            self.remove_row(key)

    def drop_all(self) -> None:
        self._shown.clear()
        self._pending.clear()
        self.clear()

    # Rows written when they can be seen ----------------------------------------------------

    def cells_of(self, key: str) -> tuple[Cell, ...]:
        """The row's newest cells (for rows written lazily, through `mark`)."""
        raise NotImplementedError

    def mark(self, keys) -> None:
        """These rows changed: a new one is added at once, a known one is written when in view."""
        for key in keys:
            if self.has_row(key):
                self._pending.add(key)
            else:
                self.show_row(key, self.cells_of(key))
        if not self._more_scheduled:  # otherwise the next frame's call writes them
            self.show_pending()

    @property
    def up_to_date(self) -> bool:
        """Every row in view shows its newest values (one out of view is written when it comes into view),
        in columns already as wide as their cells (DataTable measures new rows when it is next idle)."""
        if self._require_update_dimensions:
            return False
        pending = self._pending
        return not pending or not any(self.key_at(i) in pending for i in self.visible_row_range())

    def show_pending(self, everything: bool = False) -> None:
        """Write marked rows that are in view (or all of them), the highlighted row first.

        A row scrolled out of view is only written when it comes into view: a bar re-marks every
        row, and most are not on screen. At most ROWS_PER_FRAME changed rows are written per
        frame: when a whole bar lands at once, the screen catches up over a few short frames
        instead of one long one, so a key pressed meanwhile is not kept waiting.
        """
        self._more_scheduled = False
        if not self._pending:
            return
        if everything:
            for key in list(self._pending):
                self.show_row(key, self.cells_of(key))
            self._pending.clear()
            return
        rows = list(self.visible_row_range())
        if self.cursor_row in rows:
            rows.remove(self.cursor_row)
            rows.insert(0, self.cursor_row)
        written = 0
        for index in rows:
            key = self.key_at(index)
            if key not in self._pending:
                continue
            if written == ROWS_PER_FRAME:
                self._more_scheduled = True
                self.call_after_refresh(self.show_pending)
                return
            self._pending.discard(key)
            written += self.show_row(key, self.cells_of(key))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.call_after_refresh(self.show_pending)

    def on_resize(self) -> None:
        self.call_after_refresh(self.show_pending)

    def on_show(self) -> None:
        self.call_after_refresh(self.show_pending)

    def has_row(self, key: str) -> bool:
        return key in self._shown

    def shown_keys(self) -> list[str]:
        return list(self._shown)

    def shown_cells(self, key: str) -> tuple[Cell, ...] | None:
        return self._shown.get(key)

    def key_at(self, row_index: int) -> str:
        return self.coordinate_to_cell_key(Coordinate(row_index, 0)).row_key.value

    def action_inspect(self) -> None:
        self.post_message(self.Inspect(self, self.cursor_symbol))

    @property
    def cursor_symbol(self) -> str | None:
        """The symbol of the row under the cursor, if there is a row."""
        key = self.cursor_key
        if key is None:
            return None
        cells = self._shown.get(key)
        column = self._column_keys.index("symbol")
        return str(cells[column]) if cells is not None else None

    @property
    def cursor_key(self) -> str | None:
        """The key of the highlighted row, if there is one."""
        if not self.row_count:
            return None
        return self.key_at(min(max(self.cursor_row, 0), self.row_count - 1))

    def visible_row_range(self) -> range:
        """Row indices that can be on screen now (none while the table is not shown)."""
        if not self.is_on_screen or not self.row_count:
            return range(0)
        first = int(self.scroll_y)
        return range(first, min(self.row_count, first + self.size.height))
