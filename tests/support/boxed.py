"""gpuagent inside a SystemdBox: run it, read its history through the box's root."""

from datetime import datetime, timedelta

from gpuagent.history import HistoryStore
from tests.support.agent import wait_for


def gpuagent(box, *args: str, check: bool = True):
    return box.exec(["gpuagent", *args], check=check, env={"COLUMNS": "200"})


def seconds_ahead(seconds: int) -> str:
    """A calendar spec that elapses once, `seconds` from now (the box shares our clock)."""
    return (datetime.now() + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


def runs(box, job: str):
    database = box.root / "var/lib/gpuagent/history.db"
    if not database.exists():
        return []
    with HistoryStore(database) as store:
        return store.runs(job)


def finished_run(box, job: str, count: int = 1, timeout: float = 90):
    def done():
        found = [run for run in runs(box, job) if run.status != "running"]
        return found if len(found) >= count else None

    return wait_for(done, timeout=timeout, interval=0.5, what=f"{count} finished run(s) of {job}")[0]


def unit_property(box, unit: str, name: str) -> str:
    return box.exec(["systemctl", "show", "-P", name, unit]).stdout.strip()
