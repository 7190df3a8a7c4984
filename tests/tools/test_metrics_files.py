"""Prometheus metrics written for jobs whose schedules systemd-analyze reads, and `gpuagent metrics`."""

import dataclasses

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from gpuagent import __version__
from gpuagent.cli.app import app
from gpuagent.observe.metrics import HOST_FILE, exposition, refresh
from gpuagent.runs.record import Status
from tests.gpu_sim import GiB
from tests.support.promql import GPUAGENT_NAMES
from tests.support.records import record, run_record
from tests.unit import test_metrics
from tests.unit.test_metrics import HOUR, NOW, paths_of

# fixtures the in-process half of these tests takes too
home = test_metrics.home


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def test_a_jobs_metrics_say_how_its_runs_went(home):
    found = samples(exposition(paths_of(home)))
    nightly = {"job_name": "nightly"}
    assert value(found, "gpuagent_job_last_run_status", status="failed", **nightly) == 1
    assert value(found, "gpuagent_job_last_run_status", status="succeeded", **nightly) == 0
    assert value(found, "gpuagent_job_last_run_start_timestamp_seconds", **nightly) == pytest.approx(NOW - HOUR)
    assert value(found, "gpuagent_job_last_run_duration_seconds", **nightly) == pytest.approx(60.0)
    assert value(found, "gpuagent_job_last_run_peak_vram_bytes", **nightly) == GiB
    # the key metric of a batch job: when it last succeeded (run n3 ended 63 s after its start)
    assert value(found, "gpuagent_job_last_success_timestamp_seconds", **nightly) == pytest.approx(NOW - 4 * HOUR + 63)
    # failed and cuda-oom since that success; the skip neither counts nor breaks the streak
    assert value(found, "gpuagent_job_consecutive_failures", **nightly) == 2
    assert value(found, "gpuagent_job_runs_total", status="failed", **nightly) == 2
    assert value(found, "gpuagent_job_runs_total", status="skipped-vram", **nightly) == 1
    assert value(found, "gpuagent_job_runs_total", status="lost", **nightly) == 0
    assert value(found, "gpuagent_job_period_seconds", **nightly) == 24 * HOUR
    assert value(found, "gpuagent_job_info", image="gpuagent-test/busybox:latest", schedule="daily at 02:00", **nightly) == 1
    assert value(found, "gpuagent_info", version=__version__) == 1
    assert value(found, "gpuagent_jobs") == 2


def test_the_last_successful_runs_numbers_are_exported_by_name(home):
    database = home.root / "state" / "history.db"
    record(database, run_record("m1", "nightly", "succeeded", NOW - 0.5 * HOUR, metrics={"val_loss": 0.25, "steps": 500.0}))
    record(database, run_record("m2", "nightly", "failed", NOW - 0.2 * HOUR, metrics={"val_loss": 9.0}))
    found = samples(exposition(paths_of(home)))
    assert value(found, "gpuagent_job_last_success_metric", job_name="nightly", metric="val_loss") == 0.25
    assert value(found, "gpuagent_job_last_success_metric", job_name="nightly", metric="steps") == 500


def test_a_job_that_never_ran_has_no_last_run_and_no_last_success(home):
    found = samples(exposition(paths_of(home)))
    names = {name for name, labels in found if ("job_name", "idle") in labels}
    assert "gpuagent_job_last_success_timestamp_seconds" not in names
    assert "gpuagent_job_last_run_status" not in names
    assert value(found, "gpuagent_job_consecutive_failures", job_name="idle") == 0


def test_every_family_is_named_by_the_rules_and_none_carries_job_or_instance(home):
    families = list(text_string_to_metric_families(exposition(paths_of(home))))
    assert families
    for family in families:
        assert family.name.startswith("gpuagent")
        names = {sample.name for sample in family.samples}
        assert names <= GPUAGENT_NAMES, f"{names - GPUAGENT_NAMES} not among the names of gpuagent's families"
        assert not any({"job", "instance"} & set(sample.labels) for sample in family.samples)
    assert not any(name.endswith("_created") for family in families for name in (s.name for s in family.samples))


def test_refresh_writes_one_file_per_job_and_the_hosts_and_deletes_a_removed_jobs(home):
    textfiles = home.root / "textfiles"
    (home.root / "config" / "gpuagent.toml").write_text(f'[metrics]\ntextfile_dir = "{textfiles}"\n')
    lines = []
    refresh(paths_of(home), lines.append)
    assert sorted(p.name for p in textfiles.iterdir()) == sorted([HOST_FILE, "gpuagent-job-idle.prom", "gpuagent-job-nightly.prom"]), lines
    nightly = samples((textfiles / "gpuagent-job-nightly.prom").read_text())
    assert value(nightly, "gpuagent_job_consecutive_failures", job_name="nightly") == 2
    assert all(("job_name", "idle") not in labels for _, labels in nightly), "a job's file holds only that job"
    assert ("gpuagent_info", (("version", __version__),)) in samples((textfiles / HOST_FILE).read_text())

    (home.root / "config" / "jobs" / "idle.toml").unlink()
    refresh(paths_of(home), lines.append, jobs=["nightly"])
    assert sorted(p.name for p in textfiles.iterdir()) == sorted([HOST_FILE, "gpuagent-job-nightly.prom"])
    assert lines == []


def test_a_run_rewrites_only_its_own_jobs_file(home):
    textfiles = home.root / "textfiles"
    (home.root / "config" / "gpuagent.toml").write_text(f'[metrics]\ntextfile_dir = "{textfiles}"\n')
    refresh(paths_of(home), print, jobs=["nightly"])
    assert sorted(p.name for p in textfiles.iterdir()) == sorted([HOST_FILE, "gpuagent-job-nightly.prom"])


def test_node_exporters_directory_is_written_when_it_is_there(home):
    refresh(paths_of(home), print)
    assert sorted(p.name for p in (home.root / "textfiles").iterdir()) == sorted([HOST_FILE, "gpuagent-job-idle.prom", "gpuagent-job-nightly.prom"])


def test_metrics_that_cannot_be_written_are_a_line_not_a_failure(home):
    blocker = home.root / "a-file"
    blocker.write_text("")
    (home.root / "config" / "gpuagent.toml").write_text(f'[metrics]\ntextfile_dir = "{blocker}/metrics"\n')
    lines = []
    refresh(paths_of(home), lines.append)
    assert len(lines) == 1 and lines[0].startswith("metrics not written:")


def test_a_bad_host_config_is_named_with_its_key(home):
    (home.root / "config" / "gpuagent.toml").write_text('[metrics]\ntextfile_dir = "relative/dir"\n')
    result = CliRunner().invoke(app, ["--system", "add", "x", "--at", "02:00", "--image", "img", "--dry-run", "--", "true"], env=home.env)
    lines = []
    refresh(paths_of(home), lines.append)
    assert "metrics.textfile_dir must be an absolute directory path" in lines[0]
    assert result.exit_code == 0, "a dry run writes nothing, metrics included"


def test_gpuagent_metrics_prints_the_exposition(home):
    result = CliRunner().invoke(app, ["--system", "metrics"], env=home.env)
    assert result.exit_code == 0, result.output
    assert value(samples(result.stdout), "gpuagent_job_runs_total", job_name="nightly", status=Status.CUDA_OOM.value) == 1


def test_the_hosts_file_is_rewritten_only_when_it_changes_and_a_jobs_always(home):
    textfiles = home.root / "textfiles"
    refresh(paths_of(home), print, jobs=["nightly"])
    host, job = textfiles / HOST_FILE, textfiles / "gpuagent-job-nightly.prom"
    host_inode, job_inode = host.stat().st_ino, job.stat().st_ino
    refresh(paths_of(home), print, jobs=["nightly"])
    assert host.stat().st_ino == host_inode, "an unchanged host file is left alone"
    assert job.stat().st_ino != job_inode, "a job's file is rewritten: its age says its runs go on"
    home.write_job("third", "gpuagent-test/busybox:latest", ["true"])
    refresh(paths_of(home), print, jobs=["third"])
    assert value(samples(host.read_text()), "gpuagent_jobs") == 3
    host.write_text("garbage")
    refresh(paths_of(home), print, jobs=["third"])
    assert value(samples(host.read_text()), "gpuagent_jobs") == 3


def test_a_run_started_by_its_timer_still_says_when_the_timer_fires_next(home):
    """systemd arms a timer again only once the run it started has ended: the write at
    that run's end reads no next elapse, and the schedule must say it."""
    from datetime import UTC, datetime, timedelta

    from gpuagent.host.calendar import next_elapses
    from gpuagent.host.systemd import TimerState
    from gpuagent.jobs.inventory import job_summaries
    from gpuagent.observe.metrics import job_facts

    paths = paths_of(home)
    home.write_job("often", "gpuagent-test/busybox:latest", ["true"], schedule={"every": "6h"})
    summaries = {summary.name: summary for summary in job_summaries(paths).jobs}
    fired = datetime.now(UTC) - timedelta(seconds=5)
    running = TimerState(loaded=True, enabled=True, next_elapse=None, last_trigger=fired)

    def next_fire(name: str, timer: TimerState) -> float | None:
        return job_facts(paths, dataclasses.replace(summaries[name], timer=timer), None, NOW).next_fire

    [due] = next_elapses(summaries["nightly"].job.schedule, 1)
    assert next_fire("nightly", running) == due.timestamp()
    assert next_fire("often", running) == fired.timestamp() + 6 * HOUR
    assert next_fire("nightly", dataclasses.replace(running, enabled=False)) is None
    armed = dataclasses.replace(running, next_elapse=due + timedelta(minutes=3))  # the timer's random delay
    assert next_fire("nightly", armed) == (due + timedelta(minutes=3)).timestamp()
    assert next_fire("nightly", None) is None
