"""The views of this host: gpus, doctor, metrics; and what its boot runs (boot)."""

import typer

from gpuagent.cli.app import agent_log, click, click_commands, command_set, err, out, paths, show
from gpuagent.cli.options import AsJson
from gpuagent.commands.boot import close_earlier_boots
from gpuagent.commands.doctor import diagnose
from gpuagent.observe.metrics import exposition
from gpuagent.runs.gpuholders import read_gpu_report
from gpuagent.views import jsondoc, text
from gpuagent.views.screen import Line, emit

host = command_set()


@host.command()
def gpus(as_json: AsJson = False) -> None:
    """Every GPU: memory, utilisation, temperature, power, which job's (or notebook's) processes are on it, and what is reserved."""
    show(read_gpu_report(paths()), text.gpus, jsondoc.gpus, as_json)


@host.command()
def doctor(as_json: AsJson = False) -> None:
    """Check this host can run jobs: systemd, docker and its GPU support, the NVIDIA driver,
    the units gpuagent ships, directories, job files. Exit 1 when something stops runs."""
    found = diagnose(paths())
    show(found, text.doctor, jsondoc.doctor, as_json)
    if found.blocking:
        raise typer.Exit(1)


@host.command()
def metrics() -> None:
    """Print the Prometheus metrics gpuagent writes for node_exporter's textfile collector."""
    out.stream.write(exposition(paths()))


@host.command("boot", hidden=True)
def boot() -> None:
    """Record lost the runs an earlier boot left running, remove their containers and claims, and notify `lost` once (gpuagent-boot.service)."""
    done = close_earlier_boots(paths(), log=agent_log)
    for container in done.reaped:
        emit(out, Line(f"removed {container}"))
    for problem in done.problems:
        emit(err, Line(f"warning: {problem}"))
    emit(out, Line(f"{len(done.lost)} run(s) of earlier boots recorded lost, {done.announced} notification(s) and ping(s) sent"))
    if done.problems:
        raise typer.Exit(1)


def commands() -> dict[str, click.Command]:
    return click_commands(host)
