"""The views of this host: gpus, doctor, metrics."""

import click
import typer

from gpuagent.cli.app import click_commands, command_set, out, paths, show
from gpuagent.cli.options import AsJson
from gpuagent.commands.doctor import diagnose
from gpuagent.observe.metrics import exposition
from gpuagent.runs.gpuholders import read_gpu_report
from gpuagent.views import jsondoc, text

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


def commands() -> dict[str, click.Command]:
    return click_commands(host)
