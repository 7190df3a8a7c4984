"""Text output: where it goes (a Screen) and the few shapes views are made of.

A view (views/text.py) describes what to show as blocks: tables, key/value fields, code,
lines. `emit` writes them for the medium: on a terminal aligned and in colour (none with
NO_COLOR), a table too wide for it wrapped by Rich; anywhere else as plain text (no
colours, no rules, one line per table row, however long) for grep and awk.
"""

import os
import shutil
import sys
import unicodedata
from dataclasses import dataclass, field
from typing import IO, Any

COLUMN_GAP = "  "


@dataclass(frozen=True)
class Styled:
    text: str
    style: str  # a Rich style ("red", "bold yellow"); plain text drops it


Cell = str | Styled


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    title: str | None = None
    # On a terminal too narrow for the table, only these columns wrap; the others
    # (times, numbers, names) keep each value on one line.
    wrap: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Fields:
    """Key/value lines, keys aligned."""

    rows: list[tuple[str, Cell]]


@dataclass(frozen=True)
class Code:
    """Text shown as it is (a file, a log tail); highlighted as `lexer` on a terminal."""

    text: str
    lexer: str | None = None


@dataclass(frozen=True)
class Line:
    text: Cell = ""


Block = Table | Fields | Code | Line


@dataclass
class Screen:
    """stdout (or stderr). `file`, `terminal`, `width` and `escapes` are for tests, which
    render at a fixed width, without escape codes (escapes=False) or with them."""

    stderr: bool = False
    file: IO[str] | None = None
    terminal: bool | None = None
    width: int | None = None
    escapes: bool | None = None
    _console: Any = field(default=None, init=False, repr=False)

    @property
    def stream(self) -> IO[str]:
        # looked up at each use: CliRunner swaps sys.stdout per invocation
        return self.file or (sys.stderr if self.stderr else sys.stdout)

    @property
    def is_terminal(self) -> bool:
        if self.terminal is not None:
            return self.terminal
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    @property
    def columns(self) -> int:
        return self.width or shutil.get_terminal_size().columns

    def paint(self, text: str, style: str) -> str:
        """`text` with the escape codes of `style` (words of _SGR): none on a dumb
        terminal, and no colours with NO_COLOR set (as Rich does it)."""
        if not text or not style or self.escapes is False or os.environ.get("TERM") in ("dumb", "unknown"):
            return text
        colours = not os.environ.get("NO_COLOR")
        codes = [_SGR[word] for word in style.split() if word in _SGR and (colours or word not in _COLOURS)]
        return f"\x1b[{';'.join(codes)}m{text}\x1b[0m" if codes else text

    @property
    def console(self):
        """A Rich Console on this stream, made on first use."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(
                file=self.file,
                stderr=self.stderr,
                force_terminal=self.terminal,
                width=self.width,
                color_system=None if self.escapes is False else "auto",
                highlight=False,
            )
        return self._console


def emit(screen: Screen, *blocks: Block) -> None:
    if screen.is_terminal:
        _emit_terminal(screen, blocks)
    else:
        screen.stream.write("".join(_plain(block) for block in blocks))


def plain_text(cell: Cell) -> str:
    return cell.text if isinstance(cell, Styled) else cell


def _styled(cell: Cell) -> Styled:
    return cell if isinstance(cell, Styled) else Styled(cell, "")


def _aligned(table: Table, lines_of, width_of) -> list[list[Styled]]:
    """The table as lines of column-wide segments, its header first: each cell is one
    or more lines (`lines_of`), each padded to its column's widest (`width_of`)."""
    grid = [[[Styled(column, "bold")] for column in table.columns]]
    grid += [[[Styled(line, cell.style) for line in lines_of(cell.text)] for cell in map(_styled, row)] for row in table.rows]
    widths = [max(width_of(line.text) for row in grid for line in row[column]) for column in range(len(table.columns))]
    lines = []
    for row in grid:
        for index in range(max(len(cell) for cell in row)):
            segments = (cell[index] if index < len(cell) else Styled("", "") for cell in row)
            lines.append([Styled(s.text + " " * (width - width_of(s.text)), s.style) for s, width in zip(segments, widths, strict=True)])
    return lines


# --- plain -------------------------------------------------------------------------


def _plain(block: Block) -> str:
    if isinstance(block, Table):
        lines = [COLUMN_GAP.join(segment.text for segment in line).rstrip() for line in _aligned(block, lambda text: [_one_line(text)], len)]
        return "".join(f"{line}\n" for line in ([block.title] if block.title else []) + lines)
    if isinstance(block, Fields):
        width = max((len(key) for key, _ in block.rows), default=0)
        return "".join(f"{key.ljust(width)}{COLUMN_GAP}{_one_line(plain_text(value))}".rstrip() + "\n" for key, value in block.rows)
    if isinstance(block, Code):
        return block.text if block.text.endswith("\n") or not block.text else block.text + "\n"
    return plain_text(block.text) + "\n"


def _one_line(text: str) -> str:
    return "; ".join(text.splitlines())


# --- terminal ------------------------------------------------------------------------
# Tables, fields and lines are aligned and painted here; Rich (~50 ms to import) only
# wraps a table too wide for the terminal, highlights code and spins (trigger --wait).

_SGR = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}
_COLOURS = frozenset({"red", "green", "yellow", "cyan"})


def _emit_terminal(screen: Screen, blocks) -> None:
    for block in blocks:
        if isinstance(block, Table):
            lines = _aligned(block, str.splitlines, cell_width)
            width = sum(cell_width(segment.text) for segment in lines[0]) + len(COLUMN_GAP) * (len(block.columns) - 1)
            if width > screen.columns:
                _wrapped_table(screen.console, block)
                continue
            rule = Styled("─" * width, "dim")
            rows = [lines[0], [rule], *lines[1:]]
            screen.stream.write(screen.paint(f"{block.title}\n", "bold") if block.title else "")
            screen.stream.write("".join(_painted(screen, line) for line in rows))
        elif isinstance(block, Fields):
            fields = Table(["", ""], [[Styled(key, "bold"), value] for key, value in block.rows])
            screen.stream.write("".join(_painted(screen, line) for line in _aligned(fields, str.splitlines, cell_width)[1:]))
        elif isinstance(block, Code) and block.lexer:
            from rich.syntax import Syntax  # with pygments, ~25 ms: only for highlighted code

            screen.console.print(Syntax(block.text, block.lexer, background_color="default"))
        elif isinstance(block, Code):
            screen.stream.write(_plain(block))
        else:
            line = _styled(block.text)
            screen.stream.write(screen.paint(line.text, line.style) + "\n")


def _painted(screen: Screen, line: list[Styled]) -> str:
    *first, last = line
    segments = [*first, Styled(last.text.rstrip(), last.style)]
    return COLUMN_GAP.join(screen.paint(segment.text, segment.style) for segment in segments).rstrip() + "\n"


def cell_width(text: str) -> int:
    """Columns `text` takes on a terminal: two for wide (East Asian) characters."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 0 if unicodedata.combining(char) else 1 for char in text)


def _wrapped_table(console, table: Table) -> None:
    from rich import box
    from rich.table import Table as RichTable
    from rich.text import Text

    rich_table = RichTable(
        title=table.title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0)
    )
    for column in table.columns:
        rich_table.add_column(column, no_wrap=column not in table.wrap)
    for row in table.rows:
        rich_table.add_row(*(Text(cell.text, style=cell.style) for cell in map(_styled, row)))
    console.print(rich_table)
