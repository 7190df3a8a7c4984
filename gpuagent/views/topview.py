"""`gpuagent top` on screen: a frame (commands/top.py) as four sections (the GPUs, the runs
running, the head of the queue, the last ends), and the live loop that redraws it.

The sections are described once, as the blocks of views/screen.py: piped, they are
printed as plain text, one line a row. On a terminal each section becomes a Rich table
cut to the terminal: every row one line (a long value ends in an ellipsis, nothing
wraps) and, when the rows do not all fit the height, the longest sections give up their
last rows to a `… N more` line, so an 80x24 SSH session shows every section.

The terminal is handled here alone: the alternate screen (Rich's Live), and stdin in
cbreak mode to read `q` without Enter, both restored on the way out, whatever ends it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gpuagent.core.quantities import format_duration, format_size
from gpuagent.core.values import visible
from gpuagent.runs.record import duration
from gpuagent.views.screen import Block, Cell, Line, Screen, Styled, Table, emit, plain_text
from gpuagent.views.text import size, status_cell

if TYPE_CHECKING:  # what it draws: the command has loaded it
    from gpuagent.commands.top import RunningRun, TopFrame
    from gpuagent.queue.standing import QueueRow
    from gpuagent.runs.gpuholders import GpuView
    from gpuagent.runs.record import RunRecord

QUEUE_HEAD = 10  # the waiting entries shown, at most, of a long queue
QUIT_KEYS = frozenset("qQ")
MEMORY_BAR = 8
# On a terminal, the columns that take the width left (and give it up first), by share:
# the others keep their values whole.
FLEXIBLE = {"name": 1, "held by": 2, "why": 2, "reason": 2}


@dataclass(frozen=True)
class Section:
    title: str
    table: Table | None  # None: nothing to list (the title says so)
    more: int = 0  # rows beyond those in the table (a long queue's tail)


def _sections(frame: TopFrame, terminal: bool) -> tuple[Line, list[Section], list[Line]]:
    """The frame as a header line, its sections, and the problems met reading it (a
    memory bar on a terminal only: plain text is for grep and awk)."""
    moment = time.strftime("%H:%M:%S", time.localtime(frame.taken_at))
    header = Line(Styled(f"gpuagent top  {moment}", "bold"))
    problems = [Line(Styled(text, "yellow")) for text in _problems(frame)]
    return header, [_gpus(frame, terminal), _running(frame), _queue(frame), _ends(frame)], problems


def print_frame(screen: Screen, frame: TopFrame) -> None:
    """One frame, printed once (where stdout is no terminal: plain text)."""
    header, sections, problems = _sections(frame, screen.is_terminal)
    blocks: list[Block] = [header]
    for section in sections:
        blocks += [Line(section.title)] + ([section.table] if section.table else [])
        blocks += [Line(f"… {section.more} more")] if section.more else []
    emit(screen, *blocks, *problems)


def fitted(frame: TopFrame, width: int, height: int, footer: str = ""):
    """The frame as a Rich renderable at most `width` columns by `height` lines."""
    from rich.console import Group
    from rich.text import Text

    header, sections, problems = _sections(frame, terminal=True)
    top = Text(plain_text(header.text), style="bold", no_wrap=True, overflow="ellipsis")
    if footer:
        top.append(f"  {footer}", style="dim")
    lines = [Text(plain_text(line.text), style="yellow", no_wrap=True, overflow="ellipsis") for line in problems]
    fixed = 1 + len(lines) + len(sections)  # the header, the problems, each section's title
    shown = _row_budget([_wanted(section) for section in sections], height - fixed)
    parts = [top]
    for section, rows in zip(sections, shown, strict=True):
        parts.append(Text(section.title, style="bold", no_wrap=True, overflow="ellipsis"))
        if section.table and rows:
            parts.append(_rich_table(section, rows, width))
    return Group(*parts, *lines)


@contextlib.contextmanager
def _keys(stdin) -> Iterator[Callable[[float], str | None]]:
    """A reader of the keys typed within a timeout, stdin in cbreak mode meanwhile (keys
    come without Enter and are not echoed; Ctrl-C still interrupts); None once the
    terminal is gone (a hung-up SSH session whose SIGHUP was ignored), rather than a
    loop that spins. Without a terminal on stdin, no key comes: the reader only waits."""
    import select
    import termios
    import tty

    if not stdin.isatty():
        yield lambda timeout: time.sleep(timeout) or ""
        return
    fd = stdin.fileno()

    def typed(timeout: float) -> str | None:
        if not select.select([fd], [], [], timeout)[0]:
            return ""
        try:
            return os.read(fd, 64).decode(errors="replace") or None
        except OSError:  # EIO: the terminal hung up
            return None

    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield typed
    finally:
        with contextlib.suppress(termios.error):  # a terminal that hung up has nothing to restore
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _terminated_cleanly() -> Iterator[None]:
    """SIGTERM (`kill`) ends the view as q does, through the restoring of the terminal,
    not leaving it in cbreak mode on the alternate screen."""
    import signal

    def leave(signum: int, _frame) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def live(screen: Screen, stdin, read_frame: Callable[[], TopFrame], interval: float) -> None:
    """Redraw a frame every `interval` seconds until q (or Ctrl-C, which raises
    KeyboardInterrupt once the terminal is restored)."""
    from rich.live import Live

    console = screen.console
    footer = f"every {format_duration(round(interval))}, q quits"
    with _terminated_cleanly(), _keys(stdin) as typed, Live(console=console, screen=True, auto_refresh=False, transient=True) as view:
        while True:
            frame = read_frame()
            width, height = console.size
            view.update(fitted(frame, width, height, footer), refresh=True)
            deadline = time.monotonic() + interval
            while (left := deadline - time.monotonic()) > 0:
                keys = typed(left)
                if keys is None or QUIT_KEYS & set(keys):
                    return


# --- the sections -------------------------------------------------------------------


def _gpus(frame: TopFrame, terminal: bool) -> Section:
    report = frame.gpus
    if report.nvml_problem:
        return Section("GPUs: none to show", None)
    # the models in the title, each once: a row's width goes to who holds the GPU
    models = Counter((view.gpu.name or "?").removeprefix("NVIDIA ") for view in report.gpus if not view.gpu.error)
    kinds = ", ".join(f"{count} × {name}" for name, count in models.items())
    driver = f"driver {report.driver_version or '?'}"
    title = f"GPUs ({kinds}, {driver})" if kinds else f"GPUs ({driver})"
    rows = [_gpu_row(view, terminal, report.docker_problem) for view in report.gpus]
    return Section(title, Table(["gpu", "memory", "util", "held by"], rows) if rows else None)


def _gpu_row(view: GpuView, terminal: bool, docker_problem: str | None) -> list[Cell]:
    gpu = view.gpu
    if gpu.error:
        return [str(gpu.index), Styled("unavailable", "red"), "-", gpu.error]
    util = "-" if gpu.utilization_pct is None else f"{gpu.utilization_pct}%"
    return [str(gpu.index), _memory(gpu.used_bytes, gpu.total_bytes, terminal), util, _holders(view, docker_problem)]


def _memory(used: int | None, total: int | None, terminal: bool) -> Cell:
    if used is None or not total:
        return "-"
    fraction = min(used / total, 1.0)
    filled = round(fraction * MEMORY_BAR)
    bar = f"{'█' * filled}{'░' * (MEMORY_BAR - filled)} " if terminal else ""
    style = "red" if fraction > 0.9 else "yellow" if fraction > 0.6 else "green"
    return Styled(f"{bar}{format_size(used)}/{format_size(total)}", style)


def _holders(view: GpuView, docker_problem: str | None) -> str:
    """Whose processes use the GPU (a job, a queued run, a notebook), who has memory
    reserved on it, then the processes outside gpuagent's containers (`other`; `unknown`
    when dockerd could not say whose a container is, as `gpus` says it)."""
    used: dict[str, int] = {}
    for process in view.processes:
        holder = process.job or ("unknown" if process.container_id and docker_problem else "other")
        used[holder] = used.get(holder, 0) + (process.used_bytes or 0)
    ours = [f"{holder} {size(vram)}" for holder, vram in used.items() if holder not in ("other", "unknown")]
    reserved = [f"reserved {claim.holder or claim.run_id} {size(claim.bytes)}" for claim in view.claims if claim.bytes]
    others = [f"{holder} {size(vram)}" for holder, vram in used.items() if holder in ("other", "unknown")]
    return ", ".join(ours + reserved + others) or "-"


def _running(frame: TopFrame) -> Section:
    if not frame.running:
        return Section("running: none", None)
    rows = [_running_row(run, frame.taken_at) for run in frame.running]
    return Section(f"running ({len(rows)})", Table(["run", "name", "elapsed", "timeout left"], rows))


def _running_row(run: RunningRun, now: float) -> list[Cell]:
    if run.started_at is None:
        return [run.run_id, run.name, Styled("starting", "cyan"), _left(run.timeout)]
    elapsed = max(now - run.started_at, 0)
    left = None if run.timeout is None else run.timeout - elapsed
    return [run.run_id, run.name, duration(elapsed), _left(left)]


def _left(seconds: float | None) -> Cell:
    if seconds is None:
        return "-"
    return Styled("over", "red") if seconds < 0 else duration(seconds)


def _queue(frame: TopFrame) -> Section:
    waiting = [row for row in frame.queue.rows if row.position is not None]
    if not waiting:
        return Section("queue: nothing waits", None)
    held = f", GPUs held for {frame.queue.held_for}" if frame.queue.held_for else ""
    rows = [_queue_row(row) for row in waiting[:QUEUE_HEAD]]
    table = Table(["#", "run", "name", "prio", "waited", "why"], rows)
    return Section(f"queue ({len(waiting)} waiting{held})", table, len(waiting) - len(rows))


def _queue_row(row: QueueRow) -> list[Cell]:
    entry = row.entry
    values = " ".join(f"{name}={value}" for name, value in (entry.params or {}).items())
    why = row.why or ("starts at the next dispatch" if row.starts_next else "")
    name = entry.subject + (f" {values}" if values else "")
    return [str(row.position), entry.id, name, str(entry.priority), duration(max(row.waited, 0)), why]


def _ends(frame: TopFrame) -> Section:
    if not frame.ends:
        return Section("ended: none yet", None)
    rows = [_end_row(run, frame.taken_at) for run in frame.ends]
    return Section("ended, newest first", Table(["run", "name", "status", "ended", "reason"], rows))


def _end_row(run: RunRecord, now: float) -> list[Cell]:
    ago = f"{duration(max(now - run.ended_at, 0))} ago" if run.ended_at is not None else "-"
    return [run.run_id, run.job, status_cell(run.status), ago, " ".join(visible(run.reason or "").split()) or "-"]


def _problems(frame: TopFrame) -> list[str]:
    found = [frame.gpus.nvml_problem] if frame.gpus.nvml_problem else []
    if frame.gpus.docker_problem:
        found.append(f"jobs of containers unknown: {frame.gpus.docker_problem}")
    if frame.queue.gpu_error and not frame.gpus.nvml_problem:
        found.append(f"the queue's GPUs not read: {frame.queue.gpu_error}")
    return found


# --- fitting a terminal -------------------------------------------------------------


def _wanted(section: Section) -> int:
    """Lines the section's table takes in full: its header and its rows (and `… more`)."""
    if section.table is None:
        return 0
    return 1 + len(section.table.rows) + (1 if section.more else 0)


def _row_budget(wanted: list[int], room: int) -> list[int]:
    """Lines each section's table gets, `room` in all: while they do not fit, the one
    given the most loses a line (the last in a tie, so the GPUs keep theirs). A table
    cut to fewer lines than its header, one row and its `… N more` shows nothing: its
    title has the count."""
    shown = list(wanted)
    while sum(shown) > max(room, 0):
        longest = max(range(len(shown)), key=lambda index: (shown[index], index))
        shown[longest] -= 1
        if shown[longest] < min(wanted[longest], 3):
            shown[longest] = 0
    # the lines freed by a table that went are for the first ones still cut
    for index, lines in enumerate(shown):
        if lines:
            shown[index] += min(wanted[index] - lines, max(room, 0) - sum(shown))
    return shown


def _rich_table(section: Section, lines: int, width: int):
    """The section's table in `lines` lines (its header one of them): when its rows do
    not all fit, the last line says how many are not shown."""
    from rich.console import Group
    from rich.table import Table as RichTable
    from rich.text import Text

    table = section.table
    room = lines - 1
    rows, hidden = table.rows, section.more
    if len(rows) + bool(hidden) > room:
        rows, hidden = rows[: room - 1], len(rows) - (room - 1) + hidden
    rich_table = RichTable(box=None, pad_edge=False, padding=(0, 1, 0, 0), width=width, header_style="dim")
    for column in table.columns:
        rich_table.add_column(column, no_wrap=True, overflow="ellipsis", ratio=FLEXIBLE.get(column))
    for row in rows:
        rich_table.add_row(*(Text(plain_text(cell), style=cell.style if isinstance(cell, Styled) else "") for cell in row))
    if not hidden:
        return rich_table
    return Group(rich_table, Text(f"… {hidden} more", style="dim", no_wrap=True, overflow="ellipsis"))
