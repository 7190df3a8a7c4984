"""The report as one self-contained HTML page: inline CSS, SVG charts drawn in Python
(views/charts.py), no script and nothing fetched (its Content-Security-Policy forbids
both), so it opens from a file, a mail attachment or a web server, offline.

Everything that comes from users (job names, images, reasons, metric names) is escaped
where it meets the markup: here through `_text`, in the charts by charts.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING

from gpuagent.core.quantities import format_size
from gpuagent.core.values import visible
from gpuagent.observe.health import FAILURES
from gpuagent.runs.record import SKIPPED, RunRecord, Status, duration
from gpuagent.runs.runmetrics import format_value
from gpuagent.views.charts import Axis, Point, line_chart, share_bar
from gpuagent.views.text import sweep_names, sweep_title, unreported_note, when

if TYPE_CHECKING:
    from datetime import datetime

    from gpuagent.commands.report import JobReport, Report
    from gpuagent.jobs.inventory import JobSummary
    from gpuagent.queue.sweepresults import SweepResults

MAX_FAILURES_LISTED = 20
# Nothing outside the page may load: a file:// page, a saved attachment or one served
# from anywhere draws the same. Styles are inline, images none.
POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2328;margin:0 auto;padding:16px 24px;max-width:1100px;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 4px;padding-top:12px;border-top:1px solid #d0d7de}
h3{font-size:14px;margin:14px 0 4px;color:#57606a}.muted{color:#57606a}.problem{color:#b42318}
table{border-collapse:collapse;margin:6px 0}th,td{padding:3px 10px 3px 0;text-align:left;vertical-align:top}
th{font-weight:600;color:#57606a;border-bottom:1px solid #d0d7de}td.num,th.num{text-align:right}
code{font:12px ui-monospace,"DejaVu Sans Mono",monospace}
.figures{display:flex;gap:28px;flex-wrap:wrap;margin:8px 0}.figure b{display:block;font-size:22px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:4px 24px}
svg.chart{width:100%;height:auto;display:block}svg.shares{width:100%;max-width:640px;height:22px;display:block}
svg text{font:11px system-ui,"DejaVu Sans",sans-serif;fill:#57606a}svg text.y{text-anchor:end}svg text.x{text-anchor:middle}
.grid{stroke:#eaeef2}.tick{stroke:#8c959f}.series{fill:none;stroke:#0969da;stroke-width:1.5}
.ok{fill:#1a7f37}.bad{fill:#cf222e}.skip{fill:#bf8700}.run{fill:#0969da}.other{fill:#8c959f}
.dot{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
span.ok{background:#1a7f37}span.bad{background:#cf222e}span.skip{background:#bf8700}span.run{background:#0969da}span.other{background:#8c959f}
"""


def report_page(report: Report) -> str:
    """The whole page, as text: the jobs' runs, or a sweep group's."""
    if report.group is None:
        period = f"runs started since {when(report.since)}, up to {when(report.generated_at)}"
        sections = [_overview(report), *(_job_section(job, report) for job in report.jobs)]
    else:
        period = f"sweep group {report.group.group_id}, runs started since {when(report.since)}, up to {when(report.generated_at)}"
        sections = [_group_section(report.group)]
    body = [
        "<header><h1>gpuagent report</h1>",
        f'<p class="muted">{_text(report.host)}: {_text(period)}</p>',
        _paragraph("problem", report.systemd_problem and f"timers unknown: {report.systemd_problem}"),
        "</header>",
        *sections,
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>gpuagent report: {_text(report.host)}</title><style>{STYLE}</style></head>\n"
        f"<body>{''.join(body)}</body></html>\n"
    )


def _tone(status: str) -> str:
    """The CSS class of a status: ok, bad, skip, run or other."""
    if status == Status.SUCCEEDED:
        return "ok"
    if status in FAILURES:
        return "bad"
    return "skip" if status in SKIPPED else "run" if status == Status.RUNNING else "other"


def _overview(report: Report) -> str:
    if not report.jobs:
        return "<p>No jobs yet: add one with <code>gpuagent add NAME --at 02:00 --image IMAGE -- COMMAND</code>.</p>"
    rows = [
        "<tr>"
        f'<td><a href="#job-{_text(job.summary.name)}">{_text(job.summary.name)}</a></td>'
        f'<td class="num">{len(job.runs)}</td><td class="num">{_rate(job.success_rate)}</td>'
        f'<td class="num">{len(_failures(job.runs))}</td>'
        f"<td>{_last_run(job.runs)}</td><td>{_text(_next_fire(job))}</td>"
        "</tr>"
        for job in report.jobs
    ]
    head = '<tr><th>job</th><th class="num">runs</th><th class="num">success rate</th><th class="num">failures</th><th>last run</th><th>next fire</th></tr>'
    return f"<table>{head}{''.join(rows)}</table>"


def _job_section(job: JobReport, report: Report) -> str:
    summary = job.summary
    parts = [f'<section id="job-{_text(summary.name)}"><h2>{_text(summary.name)}</h2>', _about(job)]
    if not job.runs:
        parts.append(f'<p class="muted">No runs since {_text(when(report.since))}.</p>')
    else:
        parts += [_figures(job), _statuses(job.runs), '<div class="charts">', *_charts(job.runs), "</div>", _failure_table(summary.name, job.runs)]
    parts += [_next_fires(job), "</section>"]
    return "".join(parts)


def _group_section(results: SweepResults) -> str:
    """The sweep's runs, best first by its metric (or oldest first), with their values:
    a table like the failures', each run on a row."""
    names = sweep_names(results)
    ranking = results.metric is not None
    rows = []
    for each in results.runs:
        run = each.run
        value = "-" if each.value is None else format_value(each.value)
        cells = [f'<td class="num">{"-" if each.rank is None else each.rank}</td>', f'<td class="num">{_text(value)}</td>'] if ranking else []
        cells += [f"<td>{_text((run.params or {}).get(name, '-'))}</td>" for name in names]
        cells += [
            f'<td><span class="dot {_tone(run.status)}"></span>{_text(run.status)}</td>',
            f'<td class="num">{_text(duration(run.duration))}</td>',
            f'<td class="num">{_text("-" if run.peak_vram_bytes is None else format_size(run.peak_vram_bytes))}</td>',
            f"<td><code>{_text(run.run_id)}</code></td>",
        ]
        if not ranking:
            reported = ", ".join(f"{name} = {format_value(value)}" for name, value in (run.metrics or {}).items())
            cells.append(f"<td>{_text(reported or '-')}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    head = ['<th class="num">rank</th>', f'<th class="num">{_text(results.metric or "")}</th>'] if ranking else []
    head += [f"<th>{_text(name)}</th>" for name in names]
    head += ['<th>status</th><th class="num">took</th><th class="num">peak VRAM</th><th>run</th>', *([] if ranking else ["<th>metrics</th>"])]
    return (
        f'<section id="group-{_text(results.group_id)}"><h2>sweep group {_text(results.group_id)}</h2>'
        f'<p class="muted">{_text(sweep_title(results))}</p>'
        f"<table><tr>{''.join(head)}</tr>{''.join(rows)}</table>{_paragraph('muted', unreported_note(results))}</section>"
    )


def _about(job: JobReport) -> str:
    summary = job.summary
    if summary.job is None and summary.problem is None:
        return _paragraph("muted", f"runs submitted to the queue (gpuagent submit --name {summary.name.partition('/')[2]}): no job file, no timer")
    if summary.job is None:
        return _paragraph("problem", f"job file: {summary.problem}")
    job = summary.job
    if job.schedule.has_timer:
        after = f", and after each success of {job.after}" if job.after else ""
        schedule = f"{job.schedule.describe()}{after}; {_timer_words(summary)}"
    else:
        schedule = _without_timer(summary)
    return f'<p class="muted">{_text(schedule)}; image <code>{_text(job.image)}</code></p>'


def _timer_words(summary: JobSummary) -> str:
    timer = summary.timer
    if timer is None:
        return "timer state unknown"
    if not timer.loaded:
        return "timer not installed (gpuagent sync writes it)"
    return "timer enabled" if timer.enabled else "timer disabled"


def _without_timer(summary: JobSummary) -> str:
    """What starts a job that has no timer of its own."""
    if summary.job is not None and summary.job.after:
        return f"no timer: runs after each success of {summary.job.after}"
    return f"no timer: runs when started (gpuagent trigger {summary.name})"


def _figures(job: JobReport) -> str:
    finished = job.finished
    succeeded = sum(run.status == Status.SUCCEEDED for run in finished)
    durations = sorted(run.duration for run in finished if run.duration is not None)
    peaks = [run.peak_vram_bytes for run in job.runs if run.peak_vram_bytes is not None]
    figures = [
        ("success rate", _rate(job.success_rate), f"{succeeded} of {len(finished)} finished runs"),
        ("runs", str(len(job.runs)), f"{len(_failures(job.runs))} failed"),
        ("median duration", duration(durations[len(durations) // 2] if durations else None), "finished runs"),
        ("highest peak VRAM", format_size(max(peaks)) if peaks else "-", "of one run"),
    ]
    cells = [
        f'<div class="figure"><span class="muted">{_text(label)}</span><b>{_text(value)}</b><span class="muted">{_text(note)}</span></div>'
        for label, value, note in figures
    ]
    return f'<div class="figures">{"".join(cells)}</div>'


def _statuses(runs: list[RunRecord]) -> str:
    counts = Counter(run.status for run in runs).most_common()
    shares = [(status, count, _tone(status)) for status, count in counts]
    legend = " ".join(f'<span class="dot {_tone(status)}"></span>{_text(status)} {count}&emsp;' for status, count in counts)
    return f"<h3>runs by status</h3>{share_bar('runs by status', shares)}<p>{legend}</p>"


def _charts(runs: list[RunRecord]) -> list[str]:
    """Duration and peak VRAM of each run, then each metric the runs reported, by name."""
    charts = [
        _chart("duration", runs, lambda run: run.duration, Axis(_duration_tick, _time_unit)),
        _chart("peak VRAM", runs, lambda run: run.peak_vram_bytes, Axis(_size, _size_unit)),
    ]
    names = sorted({name for run in runs for name in run.metrics or {}})
    charts += [_chart(name, runs, lambda run, name=name: (run.metrics or {}).get(name), Axis(_number, from_zero=False)) for name in names]
    return charts


def _chart(title: str, runs: list[RunRecord], value: Callable[[RunRecord], float | None], axis: Axis) -> str:
    """One chart of `value(run)` over the runs that have one; a note when none has."""
    drawn = [(run, y) for run in runs if (y := value(run)) is not None]
    if not drawn:
        return f'<div><h3>{_text(title)}</h3><p class="muted">no run in the period has one</p></div>'
    points = [Point(run.started_at, y, _tone(run.status)) for run, y in drawn]

    def tooltip(index: int) -> str:
        run, y = drawn[index]
        return f"{when(run.started_at)} {run.run_id} {run.status}: {axis.format(y)}"

    return f"<div><h3>{_text(title)}</h3>{line_chart(title, points, _span(runs), axis, tooltip)}</div>"


def _span(runs: list[RunRecord]) -> tuple[float, float]:
    """The time a chart covers: its job's runs (an hour each side of a lone one), so the
    job's charts line up."""
    first, last = runs[0].started_at, runs[-1].started_at
    return (first, last) if last > first else (first - 3600, first + 3600)


def _failure_table(name: str, runs: list[RunRecord]) -> str:
    failures = _failures(runs)[::-1]
    if not failures:
        return "<h3>failures</h3><p>None in the period.</p>"
    rows = [
        "<tr>"
        f"<td>{_text(when(run.started_at))}</td><td>{_text(run.status)}</td>"
        f'<td class="num">{_text("-" if run.exit_code is None else str(run.exit_code))}</td>'
        f'<td class="num">{_text(duration(run.duration))}</td>'
        f"<td>{_text(run.reason or '-')}</td><td><code>{_text(run.run_id)}</code></td>"
        "</tr>"
        for run in failures[:MAX_FAILURES_LISTED]
    ]
    head = '<tr><th>started</th><th>status</th><th class="num">exit</th><th class="num">took</th><th>reason</th><th>run</th></tr>'
    more = len(failures) - MAX_FAILURES_LISTED
    note = f'<p class="muted">and {more} older ones: <code>gpuagent history {_text(name)} --since ...</code> lists them.</p>' if more > 0 else ""
    return f"<h3>failures, newest first</h3><table>{head}{''.join(rows)}</table>{note}"


def _next_fires(job: JobReport) -> str:
    summary = job.summary
    if summary.job is None:
        return ""
    tz = summary.job.schedule.tz
    if job.next_fires:
        items = "".join(f"<li>{_text(_fire(moment, tz))}</li>" for moment in job.next_fires)
        return f"<h3>next fires</h3><ul>{items}</ul>"
    return f"<h3>next fires</h3><p>{_text(job.next_fires_problem or _next_fire(job))}</p>"


def _next_fire(job: JobReport) -> str:
    """The next fire in words: the calendar's, the timer's (--every), or what starts it."""
    summary = job.summary
    if summary.job is None:
        return "-"
    if not summary.job.schedule.has_timer:
        return _without_timer(summary)
    if summary.timer is not None and summary.timer.loaded and not summary.timer.enabled:
        return f"none: the timer is disabled (gpuagent enable {summary.name})"
    if job.next_fires:
        return _fire(job.next_fires[0], summary.job.schedule.tz)
    if summary.timer is not None and summary.timer.next_elapse is not None:
        return when(summary.timer.next_elapse)
    return "unknown (the run is going on, or systemd was not asked)"


def _fire(moment: datetime, tz: str | None) -> str:
    """A fire time in the schedule's zone, named when it has one."""
    return when(moment, tz=tz) + (f" {tz}" if tz else "")


def _last_run(runs: list[RunRecord]) -> str:
    if not runs:
        return "-"
    last = runs[-1]
    return f'<span class="dot {_tone(last.status)}"></span>{_text(last.status)} {_text(when(last.started_at))}'


def _failures(runs: list[RunRecord]) -> list[RunRecord]:
    return [run for run in runs if run.status in FAILURES]


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _size(value: float) -> str:
    return format_size(round(value))


def _size_unit(largest: float) -> float:
    return next((factor for factor in (1024**4, 1024**3, 1024**2, 1024) if largest >= factor), 1.0)


def _time_unit(largest: float) -> float:
    return 3600.0 if largest >= 7200 else 60.0 if largest >= 120 else 1.0


def _duration_tick(seconds: float) -> str:
    """A duration on an axis: 50m and 6h, not 50m00s and 6h00m; below a second in ms, and
    a fraction of a second as one (250ms, 1.5s), so no two ticks read alike."""
    if 0 < abs(seconds) < 1:
        return f"{seconds * 1000:.4g}ms"
    if seconds != round(seconds) and seconds < 60:
        return f"{seconds:.4g}s"
    text = duration(seconds)
    return text.removesuffix("00m") if "h" in text else text.removesuffix("00s")


def _number(value: float) -> str:
    return f"{value:.4g}"


def _paragraph(css: str, text: str | None) -> str:
    return f'<p class="{css}">{_text(text)}</p>' if text else ""


def _text(text: str) -> str:
    """Text for the page: control characters written out (a reason may quote a run's
    output), then markup characters and quotes escaped."""
    return escape(visible(text), quote=True)
