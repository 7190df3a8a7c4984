"""How results look as text. Commands return data; each function here turns one kind of
result into blocks (views/screen.py) and prints them. JSON is views/jsondoc.py's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from gpuagent.core.quantities import format_duration, format_size
from gpuagent.core.values import visible
from gpuagent.runs.record import duration
from gpuagent.runs.runmetrics import format_change, format_value
from gpuagent.views.screen import (
    Block,
    Cell,
    Code,
    Fields,
    Line,
    Screen,
    Styled,
    Table,
    emit,
)

if TYPE_CHECKING:  # each view imports what it needs at run time: a command loads only its own
    from gpuagent.commands.add import AddResult
    from gpuagent.commands.cancel import Cancelled
    from gpuagent.commands.doctor import DoctorReport
    from gpuagent.commands.export import CheckResult, ExportResult
    from gpuagent.commands.history import MetricHistory, RunHistory, RunInFull
    from gpuagent.commands.notebook import NotebookState, StartedNotebook
    from gpuagent.commands.show import JobDetail, NotifyOverview
    from gpuagent.commands.status import JobStatus, StatusReport
    from gpuagent.commands.submit import Submitted
    from gpuagent.commands.sync import SyncResult
    from gpuagent.core.errors import GpuAgentError
    from gpuagent.host.systemd import TimerState
    from gpuagent.jobs.inventory import JobList
    from gpuagent.jobs.job import Job
    from gpuagent.observe.notifications import Notification
    from gpuagent.queue.standing import QueueView
    from gpuagent.queue.sweepresults import SweepResults
    from gpuagent.runs.following import RunEnded, RunEvent, RunQueued, RunWaiting
    from gpuagent.runs.gpuholders import GpusReport, GpuView
    from gpuagent.runs.record import RunRecord
    from gpuagent.runs.runmetrics import MetricPoint

STATUS_STYLES = {
    "succeeded": "green",
    "running": "cyan",
    "failed": "red",
    "oom-killed": "red",
    "cuda-oom": "red",
    "timed-out": "red",
    "lost": "red",
    "error": "red",
    "stopped": "yellow",
    "preempted": "yellow",
    "skipped-vram": "yellow",
    "skipped-overlap": "yellow",
}
NO_JOBS = "no jobs yet: add one with `gpuagent add NAME --at 02:00 --image IMAGE -- COMMAND`"
BAR_WIDTH = 10


def when(moment: datetime | float | None, seconds: bool = False, *, tz: str | None = None) -> str:
    """Local time (or the time in zone `tz`, a schedule's), to the minute (or second); '-' for none."""
    if moment is None:
        return "-"
    if isinstance(moment, float):
        moment = datetime.fromtimestamp(moment).astimezone()
    return moment.astimezone(ZoneInfo(tz) if tz else None).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def next_fire(job: Job | None, timer: TimerState | None) -> str:
    """When the job's timer fires next, for a table: in the schedule's zone, named on a
    line of its own, when it has one."""
    if timer is None:
        return "?"
    tz = job.schedule.tz if job else None
    if tz is None or timer.next_elapse is None:
        return when(timer.next_elapse)
    return f"{when(timer.next_elapse, tz=tz)}\n{tz}"


def next_fires(job: Job, moments: list[datetime]) -> str:
    """The next fire times of `show`, in the schedule's zone (named once) when it has one."""
    if not job.schedule.has_timer:
        return f"each time {job.after} succeeds"
    if not moments:
        return "after each run (interval)"
    times = ", ".join(when(moment, seconds=True, tz=job.schedule.tz) for moment in moments)
    return f"{times} ({job.schedule.tz})" if job.schedule.tz else times


def size(value: int | None) -> str:
    return "-" if value is None else format_size(value) if value else "0"


def status_cell(status: str) -> Styled:
    return Styled(status, STATUS_STYLES.get(status, ""))


def enabled(job: Job | None, timer: TimerState | None) -> str:
    """Whether the job's timer is on, and what its file says where the two differ (`sync`
    makes the timer what the file says); for a job that has no timer (it runs only
    --after), '-', or 'no' when its file says it is disabled."""
    if job is not None and not job.schedule.has_timer:
        return "-" if job.enabled else "no"
    state = yes_no(timer.enabled if timer else None)
    if job is not None and timer is not None and timer.loaded and timer.enabled is not job.enabled:
        return f"{state} (job file: {yes_no(job.enabled)})"
    return state


def yes_no(value: bool | None) -> str:
    return "?" if value is None else "yes" if value else "no"


def calendar(job: Job) -> str:
    """What the timer holds: its OnCalendar= lines, or the interval of --every."""
    if not job.schedule.has_timer:
        return "no timer"
    if job.schedule.interval_seconds is not None:
        return f"OnUnitActiveSec={format_duration(job.schedule.interval_seconds)}"
    return "\n".join(job.schedule.on_calendar)


def error(screen: Screen, err: GpuAgentError) -> None:
    emit(screen, Line(Styled(f"error: {err.message}", "red")), *([Line(f"hint: {err.hint}")] if err.hint else []))


# --- jobs ------------------------------------------------------------------------------


def add_result(screen: Screen, result: AddResult) -> None:
    if result.dry_run:
        for path, text in result.files.items():
            emit(screen, Line(Styled(f"would write {path}:", "bold")), Code(text, "toml" if path.suffix == ".toml" else "ini"))
        if result.notify_file is not None:
            emit(screen, Line(Styled(f"would write {result.notify_file} (mode 0600; not shown: its URLs hold tokens)", "bold")))
        emit(screen, Line("dry run: nothing written"))
        return
    state = "enabled" if result.enabled else f"disabled (gpuagent enable {result.job.name} to start it)"
    emit(
        screen,
        *([Line(f"wrote {result.notify_file} (mode 0600)")] if result.notify_file is not None else []),
        *(Line(f"wrote {path}") for path in result.files),
        Line(f"job {result.job.name}: {result.job.schedule.describe()}, timer {state}"),
    )


def sync_result(screen: Screen, result: SyncResult) -> None:
    """One line per change, then the counts; the job files that do not load are errors,
    shown after (with render.error, on stderr)."""
    wrote, removed, enabled = ("would write", "would remove", "would enable its timer") if result.dry_run else ("wrote", "removed", "timer enabled")
    lines = [Line(f"{wrote} {path}" + _sync_note(path, result.new, enabled)) for path in result.written]
    lines += [Line(f"{removed} {path} (its job file is gone)") for path in result.removed]
    switch = "would switch" if result.dry_run else "switched"
    lines += [Line(f"{switch} on {path} (its job file says enabled)") for path in result.switched_on]
    lines += [Line(f"{switch} off {path} (its job file says enabled = false)") for path in result.switched_off]
    for state in result.units:
        if state.path is not None and not state.current:
            lines.append(
                Line(
                    Styled(
                        f"kept {state.path}: it differs from the unit this gpuagent ships "
                        f"(local changes belong in a drop-in: systemctl edit {state.unit.name}; see gpuagent doctor)",
                        "yellow",
                    )
                )
            )
    if result.broken:
        lines.append(Line(f"{len(result.broken)} job file(s) do not load: their timers are left as they are"))
    written, removed, unchanged = len(result.written), len(result.removed), len(result.unchanged)
    if not result.changed:
        lines.append(Line(f"nothing to change: {unchanged} timer(s) match their job files"))
    elif result.dry_run:
        lines.append(Line(f"dry run: {written} to write, {removed} to remove, {unchanged} unchanged; nothing changed"))
    else:
        lines.append(Line(f"synced: {written} written, {removed} removed, {unchanged} unchanged; systemd reloaded"))
    emit(screen, *lines)


def _sync_note(path: Path, new: list[Path], enabled: str) -> str:
    if path.suffix == ".service":
        return " (there was none)"
    return f" (a new job: {enabled})" if path in new else ""


def export_notes(screen: Screen, result: ExportResult) -> None:
    """Each setting that maps only approximately, per job (on stderr)."""
    several = len(result.exports) > 1
    lines = [f"{exported.job}: {note}" if several else note for exported in result.exports for note in exported.notes]
    emit(screen, *(Line(f"approximately: {line}") for line in lines))


def export_written(screen: Screen, result: ExportResult) -> None:
    emit(screen, *(Line(f"wrote {path}") for path in result.written))


def export_check(screen: Screen, result: CheckResult) -> None:
    if not result.diff:
        emit(screen, Line(f"{result.file} matches job {result.job}"))
        return
    emit(
        screen,
        Line(f"{result.file} no longer matches job {result.job}: `{result.command}` writes it again"),
        Code("".join(result.diff), "diff"),
    )


def job_list(screen: Screen, listing: JobList) -> None:
    if not listing.jobs:
        emit(screen, Line(NO_JOBS))
        return
    rows = []
    for summary in listing.jobs:
        job, timer = summary.job, summary.timer
        schedule: Cell = Styled(summary.problem, "red") if summary.problem else job.when
        rows.append(
            [
                summary.name,
                schedule,
                job.image if job else "-",
                str(job.gpus) if job else "-",
                enabled(job, timer),
                next_fire(job, timer),
            ]
        )
    table = Table(["job", "schedule", "image", "gpus", "enabled", "next fire"], rows, wrap=frozenset({"schedule", "image"}))
    emit(screen, table, *_systemd_note(listing.systemd_problem))


def job_detail(screen: Screen, detail: JobDetail) -> None:
    job, timer = detail.job, detail.timer
    facts = Fields(
        [
            ("job", job.name),
            ("schedule", job.when),
            *([("followed by", ", ".join(detail.followers))] if detail.followers else []),
            *([("vram need", f"{format_size(detail.vram_need.bytes)} ({detail.vram_need.source})")] if detail.vram_need else []),
            ("timer", calendar(job)),
            ("enabled", enabled(job, timer)),
            ("next fires", next_fires(job, detail.next_fires)),
            ("job file", detail.job_file),
            ("timer file", _timer_file(detail)),
            *([("notify", _notify_overview(detail.notify))] if detail.notify else []),
        ]
    )
    timer_text = [Code(detail.timer_text, "ini")] if detail.timer_text is not None else []
    notify_problems = [Line(Styled(f"notify: {problem}", "yellow")) for problem in (detail.notify.problems if detail.notify else [])]
    emit(
        screen,
        facts,
        *_circle_lines([detail.circle] if detail.circle else []),
        *notify_problems,
        Line(),
        _settings(job),
        Line(),
        Code(detail.job_text, "toml"),
        *timer_text,
        *_systemd_note(detail.systemd_problem),
    )


def _timer_file(detail: JobDetail) -> Cell:
    if not detail.job.schedule.has_timer:
        return "none: the job runs only after another"
    return detail.timer_file if detail.timer_text is not None else Styled(f"{detail.timer_file} is missing", "red")


def _notify_overview(notify: NotifyOverview) -> str:
    """How many URLs, the events of each, and whether a ping is set: never the URLs."""
    urls = "; ".join(f"{scope}: {', '.join(events)}" for scope, events in notify.targets)
    told = f"{len(notify.targets)} URL(s) ({urls})" if notify.targets else "no URLs"
    return f"{told}; ping {'set' if notify.ping else 'not set'} ({notify.file})"


def _settings(job: Job) -> Fields:
    """Every setting as the run will apply it, defaults included, by its `add` option."""
    from gpuagent.jobs.settings import SETTINGS

    return Fields([(setting.option.removeprefix("--"), setting.human(getattr(job, setting.field))) for setting in SETTINGS])


def _circle_lines(circles: list[list[str]]) -> list[Line]:
    from gpuagent.jobs.chains import circle_problem

    return [Line(Styled(circle_problem(circle), "red")) for circle in circles]


def _systemd_note(problem: str | None) -> list[Block]:
    return [Line(Styled(f"timer states unknown: {problem}", "yellow"))] if problem else []


# --- status ------------------------------------------------------------------------------


def status(screen: Screen, report: StatusReport) -> None:
    from gpuagent.commands.status import RECENT_RUNS

    queue = _queue_line(report)
    if not report.jobs:
        emit(screen, Line(NO_JOBS), *queue)
        return
    columns = ["job", "schedule", "enabled", "next fire", "last run", f"ok/{RECENT_RUNS}", "alert"]
    rows = [_status_row(job, screen.is_terminal) for job in report.jobs]
    if report.metric is not None:
        columns.insert(5, report.metric)
        for row, job in zip(rows, report.jobs, strict=True):
            row.insert(5, _metric_cell(job.metric))
    problems = [Line(Styled(f"{job.summary.name}: {visible(job.summary.problem)}", "red")) for job in report.jobs if job.summary.problem]
    table = Table(columns, rows, wrap=frozenset({"schedule", "alert"}))
    emit(screen, table, *problems, *_circle_lines(report.circles), *_systemd_note(report.systemd_problem), *queue)


def _queue_line(report: StatusReport) -> list[Line]:
    """The queue in one line, when it holds runs."""
    queue = report.queue
    if queue is None or not any(queue.entries.values()):
        return []
    from gpuagent.queue.entry import EntryState  # only when the queue holds runs

    waiting = queue.entries.get(EntryState.WAITING, 0)
    started = sum(count for state, count in queue.entries.items() if state != EntryState.WAITING)
    longest = "" if queue.oldest_waiting is None else f" (longest {format_duration(max(0, int(time.time() - queue.oldest_waiting)))})"
    return [Line(f"queue: {waiting} waiting{longest}, {started} running: `gpuagent queue` says why")]


def _status_row(status: JobStatus, terminal: bool) -> list[Cell]:
    summary, last = status.summary, status.last_run
    job, timer = summary.job, summary.timer
    last_run: Cell = "never"
    if last:
        took = "" if last.duration is None else f" in {duration(last.duration)}"
        last_run = Styled(f"{when(last.started_at)}\n{last.status}{took}", STATUS_STYLES.get(last.status, ""))
    return [
        summary.name,
        f"{job.when}\n{calendar(job)}" if job else "-",
        enabled(job, timer),
        next_fire(job, timer),
        last_run,
        f"{status.succeeded}/{status.finished}" if status.finished else "-",
        _alert(status, terminal),
    ]


def _metric_cell(point: MetricPoint | None) -> str:
    if point is None:
        return "-"
    change = format_change(point.change)
    return f"{format_value(point.value)}\n{change}" if change else format_value(point.value)


def _alert(status: JobStatus, terminal: bool) -> Cell:
    alerts = []
    if status.summary.problem:
        alerts.append(("✗ ", "job file invalid"))
    if status.failing:
        alerts.append(("✗ ", "failed last 3"))
    if status.missed_last_fire:
        alerts.append(("⚠ ", "missed last fire"))
    if status.last_notification is not None and not status.last_notification.delivered:
        alerts.append(("⚠ ", "notification not delivered"))
    if not alerts:
        return ""
    return Styled("\n".join(f"{mark if terminal else ''}{words}" for mark, words in alerts), "bold red")


# --- history -----------------------------------------------------------------------------


def runs(screen: Screen, history: RunHistory) -> None:
    records = history.runs
    if not records:
        emit(screen, Line("no runs recorded yet"))
        return
    rows = [
        [
            run.run_id,
            run.job,
            when(run.started_at),
            duration(run.duration),
            status_cell(run.status),
            "-" if run.exit_code is None else str(run.exit_code),
            "\n".join(uuid[:12] for uuid in run.gpu_uuids) or "-",
            size(run.peak_vram_bytes),
            visible(run.reason or "") + _undelivered(history.notifications.get(run.run_id, [])),
        ]
        for run in records
    ]
    columns = ["run", "job", "started", "took", "status", "exit", "gpu", "peak vram", "reason"]
    emit(screen, Table(columns, rows, wrap=frozenset({"reason"})))


def metric_history(screen: Screen, history: MetricHistory) -> None:
    if not history.points:
        emit(screen, Line("no runs recorded yet"))
        return
    rows = [
        [
            point.run.run_id,
            when(point.run.started_at),
            status_cell(point.run.status),
            "-" if point.value is None else format_value(point.value),
            format_change(point.change),
        ]
        for point in history.points
    ]
    emit(screen, Table(["run", "started", "status", history.metric, "change"], rows))
    if all(point.value is None for point in history.points):
        emit(screen, Line(Styled(f"none of these runs of {history.job} reported {history.metric}", "yellow")))


def group_history(screen: Screen, results: SweepResults) -> None:
    if not results.runs:
        emit(screen, Line(f"none of the {results.runs_in_group} runs of group {results.group_id} match"))
        return
    names = sweep_names(results)
    ranking = results.metric is not None
    rows = []
    for each in results.runs:
        run = each.run
        ranks = ["-" if each.rank is None else str(each.rank), "-" if each.value is None else format_value(each.value)] if ranking else []
        values = [(run.params or {}).get(param, "-") for param in names]
        reported = [] if ranking else ["\n".join(f"{name}={format_value(value)}" for name, value in (run.metrics or {}).items()) or "-"]
        rows.append([*ranks, *values, status_cell(run.status), duration(run.duration), size(run.peak_vram_bytes), run.run_id, *reported])
    columns = [*(["rank", results.metric] if ranking else []), *names, "status", "took", "peak vram", "run", *([] if ranking else ["metrics"])]
    blocks: list[Block] = [Line(sweep_title(results)), Table(columns, rows, wrap=frozenset({"metrics"}))]
    note = unreported_note(results)
    if note:
        blocks.append(Line(Styled(note, "yellow")))
    emit(screen, *blocks)


def unreported_note(results: SweepResults) -> str | None:
    """What to say of the runs that did not report the metric, if any did not."""
    if not results.unreported:
        return None
    runs = "1 run" if results.unreported == 1 else f"{results.unreported} runs"
    return f"{runs} did not report {results.metric}: unranked, after the ranked ones"


def sweep_names(results: SweepResults) -> list[str]:
    """The sweep's value names, in the order its runs hold them."""
    return list(dict.fromkeys(name for each in results.runs for name in each.run.params or {}))


def sweep_title(results: SweepResults) -> str:
    """'group 3f2a9c1b: 6 runs of queue/train, ranked by val_loss, lowest first'"""
    jobs = ", ".join(dict.fromkeys(each.run.job for each in results.runs))
    shown = f"{len(results.runs)} of {results.runs_in_group} runs" if len(results.runs) < results.runs_in_group else f"{results.runs_in_group} runs"
    order = "oldest first" if results.metric is None else f"ranked by {results.metric}, {results.order.replace('-', ' ')}"
    return f"group {results.group_id}: {shown} of {jobs}, {order}"


def _undelivered(notifications: list[Notification]) -> str:
    missed = [sent for sent in notifications if not sent.delivered]
    return f" ({len(missed)} notification(s) not delivered)" if missed else ""


def run_detail(screen: Screen, detail: RunInFull) -> None:
    run = detail.run
    attempt = str(run.attempt) + (f" (retry of {run.first_run_id})" if run.first_run_id else "")
    fields = Fields(
        [
            ("run", run.run_id),
            ("job", run.job),
            ("status", status_cell(run.status)),
            ("reason", visible(run.reason or "-")),
            ("exit code", "-" if run.exit_code is None else str(run.exit_code)),
            ("started", when(run.started_at, seconds=True)),
            ("ended", when(run.ended_at, seconds=True)),
            ("took", duration(run.duration)),
            ("attempt", attempt),
            ("gpus", "\n".join(run.gpu_uuids) or "-"),
            ("gpu names", run.gpu_names or "-"),
            ("driver", run.driver_version or "-"),
            ("peak vram", size(run.peak_vram_bytes)),
            ("mean vram", size(run.mean_vram_bytes)),
            ("mean gpu util", "-" if run.mean_gpu_util is None else f"{run.mean_gpu_util:.0f}%"),
            ("image", run.image or "-"),
            ("image digest", run.image_digest or "-"),
            ("job file hash", run.job_hash or "-"),
            ("container", run.container_id or "-"),
            ("invocation", run.invocation_id or "- (started by hand)"),
            ("agent pid", "-" if run.agent_pid is None else str(run.agent_pid)),
            ("notified", "\n".join(_sent(sent) for sent in detail.notifications) or "-"),
            ("started by", run.upstream_run_id or "-"),
            ("trigger", "catch-up: its timer fired late, for a time the host was down" if run.catch_up else "-"),
            ("followed by", "\n".join(f"{started.run_id} ({started.job}: {started.status})" for started in detail.started) or "-"),
            ("metrics", _metrics(run)),
        ]
    )
    if run.log_tail:
        tail = [Line(), Line(Styled("log tail:", "bold")), Code(visible(run.log_tail))]
    else:
        whole = f"gpuagent logs {run.job} --run {run.run_id}" if run.invocation_id else "its output went to the terminal that ran it"
        tail = [Line(), Line(f"no log tail kept (only runs that did not succeed keep one); the whole log: {whole}")]
    emit(screen, fields, *tail)


def _metrics(run: RunRecord) -> Cell:
    reported = "\n".join(f"{name} = {format_value(value)}" for name, value in (run.metrics or {}).items()) or "-"
    return Styled(f"{reported}\n{visible(run.metrics_problem)}", "yellow") if run.metrics_problem else reported


def _sent(sent: Notification) -> str:
    words = f"{sent.event} by {sent.channel} at {when(sent.sent_at, seconds=True)}: "
    return words + ("delivered" if sent.delivered else f"NOT delivered ({visible(sent.detail or 'no detail')})")


# --- gpus --------------------------------------------------------------------------------


def gpus(screen: Screen, report: GpusReport) -> None:
    if report.nvml_problem:
        emit(screen, Line(report.nvml_problem), Line("no GPUs to show; jobs without --gpus still run here"))
        return
    rows = [_gpu_row(view, screen.is_terminal) for view in report.gpus]
    processes = [
        [str(view.gpu.index), str(process.pid), _owner(process.job, process.container_id, report.docker_problem), size(process.used_bytes)]
        for view in report.gpus
        for process in view.processes
    ]
    blocks: list[Block] = [
        Line(f"NVIDIA driver {report.driver_version or '?'}"),
        Table(["gpu", "name / uuid", "memory used", "util", "temp", "power"], rows),
    ]
    blocks += [Table(["gpu", "pid", "job", "vram"], processes)] if processes else [Line("no processes on the GPUs")]
    claims = [[str(view.gpu.index), claim.holder or claim.run_id, size(claim.bytes)] for view in report.gpus for claim in view.claims if claim.bytes]
    if claims:
        # memory admitted and not yet in use (a run loading, a notebook with no kernel yet):
        # no other run is admitted on it
        blocks.append(Table(["gpu", "reserved for", "vram"], claims))
    if report.docker_problem:
        blocks.append(Line(Styled(f"jobs of containers unknown: {report.docker_problem}", "yellow")))
    emit(screen, *blocks)


def _gpu_row(view: GpuView, terminal: bool) -> list[Cell]:
    gpu = view.gpu
    name = "\n".join(filter(None, (gpu.name or "-", gpu.uuid)))
    if gpu.error:
        return [str(gpu.index), name, Styled(f"unavailable: {gpu.error}", "red"), "-", "-", "-"]
    return [
        str(gpu.index),
        name,
        _memory(gpu.used_bytes, gpu.total_bytes, terminal),
        "-" if gpu.utilization_pct is None else f"{gpu.utilization_pct}%",
        "-" if gpu.temperature_c is None else f"{gpu.temperature_c}°C",
        "-" if gpu.power_watts is None else f"{gpu.power_watts:.0f} W",
    ]


def _memory(used: int | None, total: int | None, terminal: bool) -> Cell:
    if used is None or not total:
        return "-"
    fraction = min(used / total, 1.0)
    filled = round(fraction * BAR_WIDTH)
    bar = ("█" * filled + "░" * (BAR_WIDTH - filled)) if terminal else ("#" * filled + "." * (BAR_WIDTH - filled))
    style = "red" if fraction > 0.9 else "yellow" if fraction > 0.6 else "green"
    return Styled(f"{bar} {format_size(used)} / {format_size(total)}", style)


def _owner(job: str | None, container_id: str | None, docker_problem: str | None) -> str:
    if job:
        return job
    return "unknown" if container_id and docker_problem else "other"


# --- notebooks -------------------------------------------------------------------------


def notebook_started(screen: Screen, started: StartedNotebook) -> None:
    spec, run = started.spec, started.run
    gpus = f" on {_gpu_words(run)}" if run is not None and run.gpu_uuids else ""
    emit(
        screen,
        Line(f"notebook {spec.name}: JupyterLab{gpus} answers after {started.seconds:.1f}s ({started.unit})"),
        Line(),
        Fields(
            [
                ("on this host", spec.address.url),
                ("from a laptop", f"{spec.address.tunnel(started.login)}, then open the same URL"),
                ("stops", f"after {format_duration(spec.idle_timeout)} idle, or {format_duration(spec.max_time)} at most"),
                ("stop it now", f"gpuagent notebook stop {spec.name}"),
            ]
        ),
        Line(),
        Line("It listens on 127.0.0.1 only, and the token is its key: keep the URL to yourself."),
    )


def notebook_stopped(screen: Screen, name: str, run: RunRecord | None) -> None:
    ended = "" if run is None else f": run {run.run_id} {run.status} after {duration(run.duration)}"
    emit(screen, Line(f"notebook {name} stopped{ended}"))


def notebooks(screen: Screen, listed: list[NotebookState]) -> None:
    if not listed:
        emit(screen, Line("no notebook is running: start one with `gpuagent notebook start --like JOB` (or --image IMG)"))
        return
    rows = []
    for state in listed:
        run, spec = state.run, state.spec
        rows.append(
            [
                state.name,
                status_cell(run.status) if run is not None and state.active else Styled("ending" if not state.active else "starting", "yellow"),
                "-" if run is None or not run.gpu_uuids else _gpu_words(run),
                "-" if run is None else when(run.started_at),
                "-" if spec is None else when(spec.started_at + spec.max_time),
                "(its file is not readable: sudo?)" if spec is None else spec.address.url,
            ]
        )
    emit(screen, Table(["notebook", "state", "gpu", "since", "ends by", "url"], rows, wrap=frozenset({"url"})))


def _gpu_words(run: RunRecord) -> str:
    return ", ".join(run.gpu_uuids) if not run.gpu_names else f"{run.gpu_names} ({', '.join(run.gpu_uuids)})"


# --- doctor ------------------------------------------------------------------------------


def doctor(screen: Screen, report: DoctorReport) -> None:
    from gpuagent.commands.doctor import ERROR, OK, WARNING

    marks = {OK: ("✓", "green"), WARNING: ("!", "bold yellow"), ERROR: ("✗", "bold red")}

    def level(name: str) -> Cell:
        mark, style = marks[name]
        return Styled(mark if screen.is_terminal else name, style)

    rows = [[level(f.level), f.check, f.message, f.fix or ""] for f in report.findings]
    errors = sum(f.level == ERROR for f in report.findings)
    verdict = Styled(f"{errors} problem(s) stop runs", "bold red") if errors else Styled("ready: nothing stops runs", "bold green")
    emit(screen, Table(["", "check", "finding", "fix"], rows, wrap=frozenset({"finding", "fix"})), Line(verdict))


# --- trigger --wait ----------------------------------------------------------------------


def follow(screen: Screen, events: Iterator[RunEvent], job: str) -> RunEnded:
    """Print a run's events as they come: a spinner while it waits (a line, off a
    terminal), its output, then how it ended, which is returned."""
    from gpuagent.runs.following import RunOutput, RunQueued, RunRunning, RunWaiting

    spinner, said = None, ""
    try:
        for event in events:
            if isinstance(event, RunOutput):
                emit(screen, *(Line(visible(line)) for line in event.lines))
            elif isinstance(event, RunWaiting | RunQueued):
                text = _waiting(event)
                if screen.is_terminal:
                    spinner = spinner or screen.console.status(text)
                    spinner.update(text)
                    spinner.start()
                elif text != said:
                    emit(screen, Line(f"{text}..."))
                said = text
            elif isinstance(event, RunRunning):
                if spinner:
                    spinner.stop()
            else:
                if spinner:
                    spinner.stop()
                emit(screen, _ended(event, job))
                return event
    finally:
        if spinner:
            spinner.stop()
    raise AssertionError("the run's events ended without RunEnded")


def _waiting(event: RunWaiting | RunQueued) -> str:
    from gpuagent.runs.following import RunQueued

    if isinstance(event, RunQueued):
        return f"queued, {'next' if event.position == 1 else f'number {event.position}'}: {event.why}" if event.position else "starting"
    if event.run is None:
        return "starting"
    return f"run {event.run.run_id}: waiting for VRAM" if event.vram else f"run {event.run.run_id}: starting its container"


def _ended(event: RunEnded, job: str) -> Line:
    run = event.run
    if run is None:
        return Line(Styled(f"{job}: the run ended (exit {event.exit_status}) without a record; see gpuagent logs {job}", "red"))
    style = STATUS_STYLES.get(run.status, "")
    reason = visible(run.reason or "-")
    return Line(Styled(f"run {run.run_id} of {job}: {run.status} ({reason}), took {duration(run.duration)}", f"bold {style}".strip()))


# -- the queue ---------------------------------------------------------------------------


def submitted(screen: Screen, result: Submitted) -> None:
    """One line per run queued: its id first, so a script can take it."""
    for entry in result.entries:
        values = "".join(f" {name}={value}" for name, value in (entry.params or {}).items())
        emit(screen, Line(f"{entry.id} queued as {entry.subject}{values}"))
    if result.group_id:
        emit(screen, Line(f"group {result.group_id}: {len(result.entries)} runs; `gpuagent history --group {result.group_id}` compares them"))


def queue(screen: Screen, view: QueueView) -> None:
    if not view.rows:
        emit(screen, Line("the queue is empty: queue a run with `gpuagent submit --image IMAGE -- COMMAND`"))
        return
    rows = []
    for row in view.rows:
        entry = row.entry
        place = str(row.position) if row.position is not None else entry.state
        why = row.why or ("starts at the next dispatch" if row.starts_next else "")
        if row.position is None:
            why = "on " + ", ".join(uuid[:12] for uuid in entry.gpu_uuids) if entry.gpu_uuids else ""
        values = " ".join(f"{name}={value}" for name, value in (entry.params or {}).items())
        rows.append(
            [
                place,
                entry.id,
                entry.subject + (f" {values}" if values else ""),
                str(entry.priority),
                entry.submitter,
                row.needs,
                format_duration(int(row.waited)),
                why,
            ]
        )
    emit(screen, Table(["#", "run", "name", "prio", "by", "needs", "waited", "why"], rows, wrap=frozenset({"why", "name"})))
    for group in view.groups:
        ended = ", ".join(f"{count} {status}" for status, count in sorted(group.ended.items()))
        emit(
            screen, Line(f"group {group.group_id} ({group.name}): {group.waiting} waiting, {group.running} running" + (f", {ended}" if ended else ""))
        )
    if view.gpu_error:
        emit(screen, Line(Styled(f"GPUs not read: {view.gpu_error}", "yellow")))


def cancelled(screen: Screen, done: list[Cancelled]) -> None:
    for each in done:
        how = "stopped (recorded stopped)" if each.was_running else "taken out of the queue"
        emit(screen, Line(f"{each.entry.id} ({each.entry.subject}): {how}"))
