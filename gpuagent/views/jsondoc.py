"""--json: each read command's result as one JSON document, for scripts.

The field names are an interface: docs/reference/json-output.md documents them and
tests/unit/test_json_output.py holds their schema. Add fields; never rename or drop one.
Moments are ISO 8601 in UTC, sizes are bytes, durations are seconds, and an unknown or
missing value is null. No Rich here: --json output imports none of it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gpuagent.core.values import CONTROL_CHARACTERS
from gpuagent.runs.record import kind_of

if TYPE_CHECKING:
    from gpuagent.commands.doctor import DoctorReport
    from gpuagent.commands.history import MetricHistory, RunHistory, RunInFull
    from gpuagent.commands.notebook import NotebookState
    from gpuagent.commands.show import JobDetail
    from gpuagent.commands.status import StatusReport
    from gpuagent.host.systemd import TimerState
    from gpuagent.jobs.inventory import JobList
    from gpuagent.jobs.job import Job
    from gpuagent.observe.notifications import Notification
    from gpuagent.queue.standing import QueueView
    from gpuagent.queue.sweepresults import SweepResults
    from gpuagent.runs.gpuholders import GpusReport
    from gpuagent.runs.record import RunRecord


def dumps(document: dict) -> str:
    """The document, readable (UTF-8, not \\u escapes), but with every control character
    escaped: json escapes those below U+0020 itself; the C1 controls and bidirectional
    overrides a run printed would otherwise reach a terminal raw through `jq` or `cat`."""
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return CONTROL_CHARACTERS.sub(lambda match: f"\\u{ord(match[0]):04x}", text) + "\n"


def moment(value: datetime | float | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        value = datetime.fromtimestamp(value, tz=UTC)
    return value.astimezone(UTC).isoformat()


def job_settings(job: Job) -> dict:
    """The job's settings, each under its row's JSON key (jobs/settings.py)."""
    from gpuagent.jobs.settings import SETTINGS

    return {
        "name": job.name,
        "schedule": {
            "kind": job.schedule.kind,
            "value": job.schedule.value,
            "description": job.schedule.describe(),
            "on_calendar": list(job.schedule.on_calendar),
            "interval_seconds": job.schedule.interval_seconds,
            "tz": job.schedule.tz,
        },
        **{setting.json_name: setting.to_json(getattr(job, setting.field)) for setting in SETTINGS},
    }


def timer(state: TimerState | None) -> dict:
    return {
        "enabled": None if state is None else state.enabled,
        "next_fire": None if state is None else moment(state.next_elapse),
        "last_fire": None if state is None else moment(state.last_trigger),
    }


def job_list(listing: JobList) -> dict:
    return {
        "jobs": [
            {"name": job.name, "problem": job.problem, "job": job_settings(job.job) if job.job else None, **timer(job.timer)} for job in listing.jobs
        ],
        "systemd_error": listing.systemd_problem,
    }


def job_detail(detail: JobDetail) -> dict:
    return {
        "job": job_settings(detail.job),
        "job_file": detail.job_file,
        "timer_file": detail.timer_file,
        "timer_installed": detail.timer_text is not None,
        **timer(detail.timer),
        "next_fires": [moment(fire) for fire in detail.next_fires],
        "followers": detail.followers,
        "vram_need": None if detail.vram_need is None else {"bytes": detail.vram_need.bytes, "source": detail.vram_need.source},
        "systemd_error": detail.systemd_problem,
        "notify": None
        if detail.notify is None
        else {
            "file": detail.notify.file,
            "urls": [{"scope": scope, "events": list(events)} for scope, events in detail.notify.targets],
            "ping": detail.notify.ping,
            "problems": detail.notify.problems,
        },
    }


def status(report: StatusReport) -> dict:
    jobs = []
    for job in report.jobs:
        settings, last = job.summary.job, job.last_run
        jobs.append(
            {
                "name": job.summary.name,
                "problem": job.summary.problem,
                "schedule": settings.when if settings else None,
                "on_calendar": list(settings.schedule.on_calendar) if settings else None,
                "interval_seconds": settings.schedule.interval_seconds if settings else None,
                "tz": settings.schedule.tz if settings else None,
                **timer(job.summary.timer),
                "last_run": None
                if last is None
                else {
                    "run_id": last.run_id,
                    "status": last.status,
                    "reason": last.reason,
                    "exit_code": last.exit_code,
                    "started_at": moment(last.started_at),
                    "ended_at": moment(last.ended_at),
                    "duration_seconds": last.duration,
                },
                "recent_finished": job.finished,
                "recent_succeeded": job.succeeded,
                "success_rate": job.success_rate,
                "failing": job.failing,
                "missed_last_fire": job.missed_last_fire,
                "last_notification": None if job.last_notification is None else notification(job.last_notification, with_run=True),
                "metric": None
                if job.metric is None
                else {"name": report.metric, "run_id": job.metric.run.run_id, "value": job.metric.value, "change": job.metric.change},
            }
        )
    queue = report.queue
    return {
        "host": report.host,
        "jobs": jobs,
        "systemd_error": report.systemd_problem,
        "queue": None if queue is None else {**queue.entries, "oldest_waiting_since": moment(queue.oldest_waiting)},
    }


def notification(sent: Notification, with_run: bool = False) -> dict:
    fields = {
        "channel": sent.channel,
        "event": sent.event,
        "sent_at": moment(sent.sent_at),
        "delivered": sent.delivered,
        "detail": sent.detail,
    }
    return {"run_id": sent.run_id, **fields} if with_run else fields


def run_record(run: RunRecord, notifications: list[Notification] | None = None) -> dict:
    return {
        "run_id": run.run_id,
        "job": run.job,
        "kind": kind_of(run.job),
        "status": run.status,
        "reason": run.reason,
        "exit_code": run.exit_code,
        "started_at": moment(run.started_at),
        "ended_at": moment(run.ended_at),
        "duration_seconds": run.duration,
        "attempt": run.attempt,
        "first_run_id": run.first_run_id,
        "gpu_uuids": list(run.gpu_uuids),
        "gpu_names": run.gpu_names.split(",") if run.gpu_names else [],
        "driver_version": run.driver_version,
        "peak_vram_bytes": run.peak_vram_bytes,
        "mean_vram_bytes": run.mean_vram_bytes,
        "mean_gpu_util_pct": run.mean_gpu_util,
        "image": run.image,
        "image_digest": run.image_digest,
        "job_hash": run.job_hash,
        "container_id": run.container_id,
        "invocation_id": run.invocation_id,
        "agent_pid": run.agent_pid,
        "log_tail": run.log_tail,
        "metrics": run.metrics or {},
        "metrics_problem": run.metrics_problem,
        "upstream_run_id": run.upstream_run_id,
        "catch_up": run.catch_up,
        "submitter": run.submitter,
        "group_id": run.group_id,
        "params": run.params or {},
        "vram_need_bytes": run.vram_need,
        "vram_need_source": run.vram_need_source,
        "notifications": [notification(sent) for sent in notifications or []],
    }


def runs(history: RunHistory) -> dict:
    return {"runs": [run_record(run, history.notifications.get(run.run_id)) for run in history.runs]}


def run_detail(detail: RunInFull) -> dict:
    return {
        "run": run_record(detail.run, detail.notifications),
        "started_runs": [{"run_id": run.run_id, "job": run.job, "status": run.status} for run in detail.started],
    }


def metric_history(history: MetricHistory) -> dict:
    return {
        "job": history.job,
        "metric": history.metric,
        "runs": [
            {
                "run_id": point.run.run_id,
                "status": point.run.status,
                "started_at": moment(point.run.started_at),
                "value": point.value,
                "change": point.change,
            }
            for point in history.points
        ],
    }


def group_history(results: SweepResults) -> dict:
    return {
        "group_id": results.group_id,
        "metric": results.metric,
        "order": results.order,
        "runs_in_group": results.runs_in_group,
        "unreported": results.unreported,
        "runs": [
            {
                "rank": each.rank,
                "value": each.value,
                "params": each.run.params or {},
                "run_id": each.run.run_id,
                "job": each.run.job,
                "status": each.run.status,
                "attempt": each.run.attempt,
                "started_at": moment(each.run.started_at),
                "ended_at": moment(each.run.ended_at),
                "duration_seconds": each.run.duration,
                "peak_vram_bytes": each.run.peak_vram_bytes,
                "metrics": each.run.metrics or {},
            }
            for each in results.runs
        ],
    }


def gpus(report: GpusReport) -> dict:
    return {
        "host": report.host,
        "driver_version": report.driver_version,
        "nvml_error": report.nvml_problem,
        "docker_error": report.docker_problem,
        "gpus": [
            {
                "index": view.gpu.index,
                "uuid": view.gpu.uuid or None,
                "name": view.gpu.name,
                "memory_total_bytes": view.gpu.total_bytes,
                "memory_used_bytes": view.gpu.used_bytes,
                "memory_free_bytes": view.gpu.free_bytes,
                "utilization_pct": view.gpu.utilization_pct,
                "temperature_c": view.gpu.temperature_c,
                "power_watts": view.gpu.power_watts,
                "error": view.gpu.error,
                "processes": [{"pid": p.pid, "used_bytes": p.used_bytes, "container_id": p.container_id, "job": p.job} for p in view.processes],
                "reserved": [{"holder": c.holder or None, "run_id": c.run_id, "bytes": c.bytes} for c in view.claims if c.bytes],
            }
            for view in report.gpus
        ],
    }


def notebooks(listed: list[NotebookState]) -> dict:
    return {
        "notebooks": [
            {
                "name": state.name,
                "active": state.active,
                "url": None if state.address is None else state.address.url,
                "port": None if state.spec is None else state.spec.port,
                "like": None if state.spec is None else state.spec.like,
                "idle_timeout_seconds": None if state.spec is None else state.spec.idle_timeout,
                "ends_by": None if state.spec is None else moment(state.spec.started_at + state.spec.max_time),
                "run": None if state.run is None else run_record(state.run),
            }
            for state in listed
        ]
    }


def doctor(report: DoctorReport) -> dict:
    return {
        "ready": not report.blocking,
        "findings": [{"check": f.check, "level": f.level, "message": f.message, "fix": f.fix} for f in report.findings],
    }


def queue(view: QueueView) -> dict:
    return {
        "entries": [
            {
                "run_id": row.entry.id,
                "name": row.entry.name,
                "state": row.entry.state,
                "position": row.position,
                "priority": row.entry.priority,
                "submitter": row.entry.submitter,
                "submitted_at": moment(row.entry.submitted_at),
                "waited_seconds": round(row.waited, 3),
                "gpus": row.entry.gpus,
                "vram_need_bytes": row.need.bytes if row.entry.gpus else None,
                "vram_need_source": row.need.source if row.entry.gpus else None,
                "why": row.why,
                "starts_next": row.starts_next,
                "gpu_uuids": list(row.entry.gpu_uuids),
                "group_id": row.entry.group_id,
                "params": row.entry.params or {},
                "dedupe_key": row.entry.dedupe_key,
            }
            for row in view.rows
        ],
        "groups": [
            {"group_id": group.group_id, "name": group.name, "waiting": group.waiting, "running": group.running, "ended": group.ended}
            for group in view.groups
        ],
        "held_for": view.held_for,
        "starvation_bound_seconds": view.rules.starvation_bound,
        "max_gpus_per_submitter": view.rules.max_gpus_per_submitter,
        "nvml_error": view.gpu_error,
    }
