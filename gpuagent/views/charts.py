"""SVG charts for the HTML report, drawn here as text: no script, no library, nothing
fetched, so the page shows the same in any browser, offline. Every label that reaches a
chart is escaped here."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

WIDTH, HEIGHT = 640, 190
LEFT, RIGHT, TOP, BOTTOM = 70, 14, 10, 26  # room for the axis labels
# Past this many points a chart is a line alone: a marker with its tooltip is ~150 bytes.
MAX_MARKERS = 300
X_STEPS = [timedelta(hours=hours) for hours in (1, 2, 3, 6, 12, 24, 48, 24 * 7, 24 * 14, 24 * 30, 24 * 91, 24 * 365)]
MAX_X_TICKS = 7


@dataclass(frozen=True)
class Point:
    x: float  # when, epoch seconds
    y: float
    tone: str  # its marker's CSS class (the run's status)


@dataclass(frozen=True)
class Axis:
    """How a chart's values read: `unit` is the size of one step of the 1-2-5 tick scale
    (a minute, a GiB) for the largest value `unit_for` meets; `format` writes a tick."""

    format: Callable[[float], str]
    unit_for: Callable[[float], float] = lambda _: 1.0
    from_zero: bool = True


def line_chart(title: str, points: Sequence[Point], period: tuple[float, float], axis: Axis, tooltip: Callable[[int], str]) -> str:
    """An SVG of `points` (in time order) over `period` (epoch seconds), with a marker for
    each of up to MAX_MARKERS, whose tooltip is `tooltip(its index)`: asked only of the
    markers drawn, as it costs more than the rest of a point. Empty points draw the axes alone."""
    low, high, ticks = _value_scale([point.y for point in points], axis)
    start, end = period

    def x(when: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (when - start) / ((end - start) or 1)

    def y(value: float) -> float:
        return HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * (value - low) / ((high - low) or 1)

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">', f"<title>{escape(title)}</title>"]
    parts += [_y_tick(y(value), axis.format(value)) for value in ticks]
    parts += [_x_tick(x(moment.timestamp()), label) for moment, label in _time_ticks(start, end)]
    if len(points) > 1:
        line = " ".join(f"{x(point.x):.1f},{y(point.y):.1f}" for point in points)
        parts.append(f'<polyline class="series" points="{line}"/>')
    if len(points) <= MAX_MARKERS:
        parts += [_marker(x(point.x), y(point.y), point.tone, tooltip(index)) for index, point in enumerate(points)]
    parts.append("</svg>")
    return "".join(parts)


def share_bar(title: str, shares: Sequence[tuple[str, int, str]]) -> str:
    """One bar split into (label, count, CSS class) shares, each with its tooltip."""
    total = sum(count for _, count, _ in shares) or 1
    parts = [f'<svg class="shares" viewBox="0 0 {WIDTH} 22" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    offset = 0.0
    for label, count, tone in shares:
        width = WIDTH * count / total
        parts.append(f'<rect class="{tone}" x="{offset:.1f}" y="0" width="{width:.1f}" height="22"><title>{escape(label)}: {count}</title></rect>')
        offset += width
    parts.append("</svg>")
    return "".join(parts)


def _marker(cx: float, cy: float, tone: str, tooltip: str) -> str:
    return f'<circle class="{tone}" cx="{cx:.1f}" cy="{cy:.1f}" r="3"><title>{escape(tooltip)}</title></circle>'


def _y_tick(at: float, label: str) -> str:
    return f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{at:.1f}" y2="{at:.1f}"/><text class="y" x="{LEFT - 6}" y="{at + 4:.1f}">{escape(label)}</text>'


def _x_tick(at: float, label: str) -> str:
    return f'<line class="tick" x1="{at:.1f}" x2="{at:.1f}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM + 4}"/><text class="x" x="{at:.1f}" y="{HEIGHT - 8}">{escape(label)}</text>'


def _value_scale(values: Sequence[float], axis: Axis) -> tuple[float, float, list[float]]:
    """The value range the chart spans and its ticks, at round numbers of the axis' unit."""
    if not values:
        return 0.0, 1.0, [0.0, 1.0]
    low = min(0.0, *values) if axis.from_zero else min(values)
    high = max(values)
    if high == low:  # one value, or all the same: room around it
        pad = abs(high) * 0.1 or 1.0
        low, high = (low if axis.from_zero and low == 0 else low - pad), high + pad
    step = _round_step((high - low) / 4, axis.unit_for(max(abs(low), abs(high))))
    first, last = math.floor(low / step), math.ceil(high / step)
    return first * step, last * step, [n * step for n in range(first, last + 1)]


def _round_step(rough: float, unit: float) -> float:
    """The smallest of 1, 2 or 5 times a power of ten (in `unit`s) at least `rough`."""
    scaled = rough / unit
    power = 10 ** math.floor(math.log10(scaled))
    return unit * power * next(factor for factor in (1, 2, 5, 10) if factor * power >= scaled)


def _time_ticks(start: float, end: float) -> list[tuple[datetime, str]]:
    """Local times at round steps across the period, at most MAX_X_TICKS, and their labels."""
    span = timedelta(seconds=max(end - start, 1))
    step = next((step for step in X_STEPS if span / step <= MAX_X_TICKS), X_STEPS[-1])
    first = datetime.fromtimestamp(start).astimezone()
    if step >= timedelta(days=1):
        first = first.replace(hour=0, minute=0, second=0, microsecond=0)
        shape = "%Y-%m-%d" if step >= timedelta(days=30) else "%m-%d"
    else:
        first = first.replace(minute=0, second=0, microsecond=0)
        shape = "%m-%d %H:%M"
    ticks, moment = [], first
    while moment.timestamp() <= end:
        if moment.timestamp() >= start:
            ticks.append((moment, moment.strftime(shape)))
        moment = (moment + step).astimezone()
    return ticks
