"""Prometheus metrics of the jobs, for node_exporter's textfile collector.

gpuagent is not resident, so nothing is counted in memory: every write reads the state
afresh (job files, timers, history) and says it whole. One file per job
(gpuagent-job-NAME.prom: a run rewrites only its own job's) and one for the host
(gpuagent.prom: the version, so that a writer that stopped writing can be alerted on).
Files are replaced atomically under a name node_exporter does not read; a removed job's
file is deleted, since node_exporter never expires one.

The job is the label `job_name`: Prometheus renames a target's own `job` label.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gpuagent import __version__
from gpuagent.core.errors import GpuAgentError
from gpuagent.core.journal import Log
from gpuagent.core.paths import Paths
from gpuagent.host.files import write_atomic
from gpuagent.host.historydb import STORE_ERRORS, HistoryStore, existing_history
from gpuagent.host.hostconfig import read_host_config
from gpuagent.host.queuedb import existing_queue
from gpuagent.jobs.inventory import JobSummary, job_summaries
from gpuagent.jobs.schedule import Schedule
from gpuagent.observe.health import FAILURES, missed_last_fire
from gpuagent.queue.entry import EntryState
from gpuagent.runs.record import RunKind, RunRecord, Status

HOST_FILE = "gpuagent.prom"
JOB_FILE_PREFIX = "gpuagent-job-"
# Enough fires to see a schedule's longest gap (Fri -> Mon of a weekday job).
PERIOD_SAMPLE_FIRES = 8


@dataclass(frozen=True)
class MetricFamily:
    name: str
    kind: str  # "gauge" | "counter" | "info"
    help: str
    labels: tuple[str, ...] = ("job_name",)


# Every family gpuagent writes, with its HELP text: node_exporter refuses the same name
# with two HELP texts in two files, so there is exactly one of each.
FAMILIES = {
    metric.name: metric
    for metric in (
        MetricFamily("gpuagent", "info", "This host's gpuagent (the metrics writer).", ("version",)),
        MetricFamily("gpuagent_jobs", "gauge", "Jobs defined on this host (job files).", ()),
        MetricFamily("gpuagent_job", "info", "A job: its image and schedule.", ("job_name", "image", "schedule")),
        MetricFamily("gpuagent_job_enabled", "gauge", "1 when the job's timer is enabled."),
        MetricFamily("gpuagent_job_next_fire_timestamp_seconds", "gauge", "When the job's timer fires next (absent: not scheduled)."),
        MetricFamily("gpuagent_job_period_seconds", "gauge", "The longest time between two fires of the job's schedule."),
        MetricFamily("gpuagent_job_missed_fire", "gauge", "1 when the timer's last fire left no run in history."),
        MetricFamily("gpuagent_job_last_run_status", "gauge", "1 for the status of the job's last run, 0 for the others.", ("job_name", "status")),
        MetricFamily("gpuagent_job_last_run_start_timestamp_seconds", "gauge", "When the job's last run started."),
        MetricFamily("gpuagent_job_last_run_end_timestamp_seconds", "gauge", "When the job's last run ended."),
        MetricFamily("gpuagent_job_last_run_duration_seconds", "gauge", "How long the job's last run took."),
        MetricFamily("gpuagent_job_last_run_exit_code", "gauge", "The exit code of the last run's container."),
        MetricFamily("gpuagent_job_last_run_peak_vram_bytes", "gauge", "The most GPU memory the last run's container held."),
        MetricFamily("gpuagent_job_last_success_timestamp_seconds", "gauge", "When the job's last successful run ended."),
        MetricFamily(
            "gpuagent_job_last_success_metric",
            "gauge",
            "A number the job's last successful run reported (its metrics file), by name.",
            ("job_name", "metric"),
        ),
        MetricFamily("gpuagent_job_runs", "counter", "The job's runs in history, by how they ended.", ("job_name", "status")),
        MetricFamily("gpuagent_job_consecutive_failures", "gauge", "Failed runs since the job's last success (skips do not count)."),
        MetricFamily("gpuagent_job_last_notification_delivered", "gauge", "1 when the job's last notification or ping was delivered."),
        MetricFamily("gpuagent_queue_entries", "gauge", "Runs in the queue, by state: waiting, starting, running.", ("state",)),
        MetricFamily(
            "gpuagent_queue_oldest_waiting_timestamp_seconds", "gauge", "When the run that has waited longest was submitted (absent: none waits).", ()
        ),
        MetricFamily("gpuagent_queued_runs", "counter", "Runs submitted to the queue, in history, by how they ended.", ("status",)),
    )
}


@dataclass(frozen=True)
class JobFacts:
    """What the metrics of one job say, read from its file, its timer and history."""

    summary: JobSummary
    last_run: RunRecord | None
    last_success: RunRecord | None
    runs_by_status: dict[str, int]
    consecutive_failures: int
    period_seconds: float | None
    missed_fire: bool
    last_notification_delivered: bool | None
    next_fire: float | None = None  # epoch seconds; None: not scheduled


def refresh(paths: Paths, log: Log, jobs: Sequence[str] | None = None) -> None:
    """Rewrite the metrics files of `jobs` (every job when None) and the host's, and
    delete those of jobs that are gone. Never raises: metrics that cannot be written are
    a line in the journal, not a failed run."""
    try:
        directory = read_host_config(paths).metrics_dir()
        if directory is None:
            return
        _write(paths, directory, jobs)
    except (GpuAgentError, OSError, *STORE_ERRORS) as err:
        log(f"metrics not written: {getattr(err, 'message', err)}")


def exposition(paths: Paths) -> str:
    """Every metric gpuagent writes, as one text (`gpuagent metrics`)."""
    listing = job_summaries(paths)
    with existing_history(paths) as store:
        facts = [job_facts(paths, summary, store, time.time()) for summary in listing.jobs]
        queue = queue_facts(paths, store)
    return _render(_families(_host_samples(len(listing.jobs), queue), *(_job_samples(fact) for fact in facts)))


def _write(paths: Paths, directory: Path, only: Sequence[str] | None) -> None:
    from gpuagent.jobs.catalog import job_names

    now = time.time()
    with existing_history(paths) as store:
        for summary in job_summaries(paths, only).jobs:
            text = _render(_families(_job_samples(job_facts(paths, summary, store, now))))
            write_atomic(directory / f"{JOB_FILE_PREFIX}{summary.name}.prom", text)
        queue = queue_facts(paths, store)
    existing = job_names(paths.jobs_dir)
    _write_if_changed(directory / HOST_FILE, _render(_families(_host_samples(len(existing), queue))))
    for stale in directory.glob(f"{JOB_FILE_PREFIX}*.prom"):
        if stale.name.removeprefix(JOB_FILE_PREFIX).removesuffix(".prom") not in existing:
            stale.unlink(missing_ok=True)


def _write_if_changed(path: Path, text: str) -> None:
    """The host's file says the same from one run to the next (its version, jobs and
    queue): rewriting it unchanged would cost each run a sync to disk and nothing reads
    its age. (A job's file is always rewritten: its age is what says its runs stopped.)"""
    try:
        if path.read_text() == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    write_atomic(path, text)


def job_facts(paths: Paths, summary: JobSummary, store: HistoryStore | None, now: float) -> JobFacts:
    name = summary.name
    last = store.runs(name, 1) if store else []
    success = store.runs(name, 1, status=Status.SUCCEEDED) if store else []
    after = success[0].started_at if success else None
    fired = summary.timer.last_trigger if summary.timer else None
    notification = store.last_notification(name) if store else None
    return JobFacts(
        summary=summary,
        last_run=last[0] if last else None,
        last_success=success[0] if success else None,
        runs_by_status=store.status_counts(name) if store else {},
        consecutive_failures=store.count_since(name, FAILURES, after) if store else 0,
        period_seconds=_period(paths, summary.job.schedule) if summary.job else None,
        missed_fire=missed_last_fire(fired.timestamp() if fired else None, last, now),
        next_fire=_next_fire(paths, summary, now),
        last_notification_delivered=None if notification is None else bool(notification.delivered),
    )


def _next_fire(paths: Paths, summary: JobSummary, now: float) -> float | None:
    """When the job's timer fires next. systemd arms a timer again only once the run it
    started has ended, so the write at a timer run's end, made by that run, reads no next
    elapse: the schedule says it then (without the timer's random delay), else the
    metric would be missing after every scheduled run, and the overdue alert blind."""
    timer, job = summary.timer, summary.job
    if timer is None:
        return None
    if timer.next_elapse is not None:
        return timer.next_elapse.timestamp()
    if not timer.enabled or job is None:
        return None
    if job.schedule.interval_seconds is not None:  # --every: counted from the last start
        return timer.last_trigger.timestamp() + job.schedule.interval_seconds if timer.last_trigger else None
    from gpuagent.host.calendar import remembered_next_elapses

    ahead = [fire.timestamp() for fire in remembered_next_elapses(job.schedule, PERIOD_SAMPLE_FIRES, paths.elapse_cache) if fire.timestamp() > now]
    return ahead[0] if ahead else None


def _period(paths: Paths, schedule: Schedule) -> float | None:
    if schedule.interval_seconds is not None:
        return float(schedule.interval_seconds)
    from gpuagent.host.calendar import remembered_next_elapses

    fires = remembered_next_elapses(schedule, PERIOD_SAMPLE_FIRES, paths.elapse_cache)
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(fires, fires[1:], strict=False)]
    return max(gaps) if gaps else None


# -- samples: (family name, labels, value) --------------------------------------------

Sample = tuple[str, dict[str, str], float]


@dataclass(frozen=True)
class QueueFacts:
    entries: dict[str, int]  # by state, every state
    oldest_waiting: float | None
    runs_by_status: dict[str, int]  # the queued runs in history


def queue_facts(paths: Paths, store: HistoryStore | None) -> QueueFacts:
    queue = existing_queue(paths)
    entries = [] if queue is None else queue.entries()
    if queue is not None:
        queue.close()
    counts = {state.value: sum(entry.state == state for entry in entries) for state in EntryState}
    waiting = [entry.submitted_at for entry in entries if entry.waiting]
    return QueueFacts(counts, min(waiting) if waiting else None, store.kind_status_counts(RunKind.QUEUED) if store else {})


def _host_samples(job_count: int, queue: QueueFacts) -> list[Sample]:
    samples: list[Sample] = [("gpuagent", {"version": __version__}, 1), ("gpuagent_jobs", {}, job_count)]
    samples += [("gpuagent_queue_entries", {"state": state}, count) for state, count in queue.entries.items()]
    if queue.oldest_waiting is not None:
        samples.append(("gpuagent_queue_oldest_waiting_timestamp_seconds", {}, queue.oldest_waiting))
    samples += [("gpuagent_queued_runs", {"status": status}, count) for status, count in sorted(queue.runs_by_status.items())]
    return samples


def _job_samples(facts: JobFacts) -> list[Sample]:
    label = {"job_name": facts.summary.name}
    samples: list[Sample] = []

    def add(name: str, value: float | None, **extra: str) -> None:
        if value is not None:
            samples.append((name, {**label, **extra}, float(value)))

    job, timer, last = facts.summary.job, facts.summary.timer, facts.last_run
    if job is not None:
        add("gpuagent_job", 1, image=job.image, schedule=job.when)
    if timer is not None:
        add("gpuagent_job_enabled", int(timer.enabled))
        add("gpuagent_job_next_fire_timestamp_seconds", facts.next_fire)
        add("gpuagent_job_missed_fire", int(facts.missed_fire))
    add("gpuagent_job_period_seconds", facts.period_seconds)
    if last is not None:
        for status in Status:
            add("gpuagent_job_last_run_status", int(last.status == status), status=status.value)
        add("gpuagent_job_last_run_start_timestamp_seconds", last.started_at)
        add("gpuagent_job_last_run_end_timestamp_seconds", last.ended_at)
        add("gpuagent_job_last_run_duration_seconds", last.duration)
        add("gpuagent_job_last_run_exit_code", last.exit_code)
        add("gpuagent_job_last_run_peak_vram_bytes", last.peak_vram_bytes)
    if facts.last_success is not None:
        add("gpuagent_job_last_success_timestamp_seconds", facts.last_success.ended_at)
        for metric, value in (facts.last_success.metrics or {}).items():
            add("gpuagent_job_last_success_metric", value, metric=metric)
    for status in Status:
        add("gpuagent_job_runs", facts.runs_by_status.get(status, 0), status=status.value)
    add("gpuagent_job_consecutive_failures", facts.consecutive_failures)
    if facts.last_notification_delivered is not None:
        add("gpuagent_job_last_notification_delivered", int(facts.last_notification_delivered))
    return samples


def _families(*groups: list[Sample]) -> list:
    """Metric families in FAMILIES' order, each holding its samples of `groups`; a family
    with no samples is left out."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

    by_name: dict[str, list[Sample]] = {}
    for group in groups:
        for sample in group:
            by_name.setdefault(sample[0], []).append(sample)
    families = []
    for name, metric in FAMILIES.items():
        if name not in by_name:
            continue
        if metric.kind == "info":
            family = InfoMetricFamily(name, metric.help, labels=metric.labels[:1])
            for _, labels, _ in by_name[name]:
                key = metric.labels[0]
                family.add_metric([labels[key]] if key in labels else [], {k: v for k, v in labels.items() if k != key})
        else:
            family = (CounterMetricFamily if metric.kind == "counter" else GaugeMetricFamily)(name, metric.help, labels=metric.labels)
            for _, labels, value in by_name[name]:
                family.add_metric([labels[key] for key in metric.labels], value)
        families.append(family)
    return families


def _render(families: list) -> str:
    from prometheus_client import CollectorRegistry, generate_latest

    class _Snapshot:
        def collect(self):
            return families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot())
    return generate_latest(registry).decode()
