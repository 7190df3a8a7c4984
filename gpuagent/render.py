"""How results look in a terminal (Rich). Commands return data; this turns it into text."""

from datetime import datetime

from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from gpuagent.commands.add import AddResult
from gpuagent.commands.list_jobs import JobSummary
from gpuagent.commands.show import JobDetail
from gpuagent.history import RunRecord

STATUS_STYLES = {
    "succeeded": "green",
    "running": "cyan",
    "failed": "red",
    "oom-killed": "red",
    "timed-out": "red",
    "error": "red",
    "stopped": "yellow",
    "skipped-vram": "yellow",
    "skipped-overlap": "yellow",
}


def when(moment: datetime | float | None) -> str:
    if moment is None:
        return "-"
    if isinstance(moment, float):
        moment = datetime.fromtimestamp(moment).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def add_result(console: Console, result: AddResult) -> None:
    if result.dry_run:
        for path, text in result.files.items():
            console.print(Panel(Syntax(text, "toml" if path.suffix == ".toml" else "ini"), title=f"would write {path}"))
        console.print("dry run: nothing written")
        return
    for path in result.files:
        console.print(f"wrote {path}")
    state = "enabled" if result.enabled else "disabled (gpuagent enable " + result.job.name + " to start it)"
    console.print(f"job [bold]{result.job.name}[/]: {result.job.schedule.describe()}, timer {state}")


def job_table(console: Console, jobs: list[JobSummary]) -> None:
    if not jobs:
        console.print("no jobs yet: add one with `gpuagent add NAME --at 02:00 --image IMAGE -- COMMAND`")
        return
    table = Table("job", "schedule", "image", "gpus", "enabled", "next fire")
    for job in jobs:
        schedule = Text(job.problem, style="red") if job.problem else Text(job.schedule or "")
        table.add_row(job.name, schedule, job.image or "-", str(job.gpus), "yes" if job.enabled else "no", when(job.next_fire))
    console.print(table)


def job_detail(console: Console, detail: JobDetail) -> None:
    job = detail.job
    facts = Table.grid(padding=(0, 2))
    facts.add_row("schedule", job.schedule.describe())
    facts.add_row("enabled", "yes" if detail.enabled else "no")
    facts.add_row("next fires", ", ".join(when(t) for t in detail.next_fires) or "after each run (interval)")
    facts.add_row("job file", detail.job_file)
    parts = [facts, Syntax(detail.job_text, "toml")]
    if detail.timer_text is not None:
        parts.append(Syntax(detail.timer_text, "ini"))
    console.print(Panel(Group(*parts), title=f"job {job.name}"))


def run_table(console: Console, runs: list[RunRecord]) -> None:
    if not runs:
        console.print("no runs recorded yet")
        return
    table = Table("run", "job", "started", "duration", "status", "exit", "gpu", "reason")
    for run in runs:
        table.add_row(
            run.run_id,
            run.job,
            when(run.started_at),
            duration(run.duration),
            Text(run.status, style=STATUS_STYLES.get(run.status, "")),
            "-" if run.exit_code is None else str(run.exit_code),
            ",".join(uuid[:12] for uuid in run.gpu_uuids) or "-",
            run.reason or "",
        )
    console.print(table)


