"""No value of a job, and no path given to export, leaves its place in a generated file:
each field of the job is fed characters that end a line, start a comment or a directive,
or quote, and the Slurm script, the scrontab entry and the Kubernetes manifest must keep
the structure they have with a plain value (the same lines, comments still comments,
#SBATCH and #SCRON lines the same) and give the value back exactly where it was put
(YAML read back). What a reader refuses at the input (a newline in a path) is refused
there; bash reading the words back is tests/tools/test_export_words.py's."""

import pytest
import yaml

from gpuagent.core.errors import InvalidInput
from gpuagent.export.exporter import MANIFEST, SCRIPT, SCRONTAB, ExportOptions
from tests.unit.test_export import export, job

PLAIN = "plainvalue"
HOSTILE = [
    "a\nb",
    "a\r\nb",
    "x\n#SCRON --chdir=/tmp\n* * * * * /bin/rm -rf /home",
    "x\n#SBATCH --uid=0",
    "it's",
    'say "hi"',
    "$(id) `id` ${HOME}",
    "back\\slash\\",
    "\x1b[31mred",
    "line\u2028sep\x85",
    "100% done",
    "tab\there",
    "# comment",
    "\\n",
    "--- a: 1",
    "a,b",
]

# each field, by how a value goes into the job's options
FIELDS = {
    "command": lambda value: {"command": ("sh", "-c", value)},
    "env": lambda value: {"env": [f"VALUE={value}"]},
    "volume-host": lambda value: {"volumes": [f"/srv/{value}:/data"]},
    "volume-container": lambda value: {"volumes": [f"/srv/data:/mnt/{value}"]},
    "workdir": lambda value: {"workdir": f"/work/{value}"},
    "env-file": lambda value: {"env_file": f"/etc/{value}.env"},
}
ENGINES = {
    "slurm-pyxis": ExportOptions("slurm", runtime="pyxis", scrontab_script="/shared/jobs/nightly.sbatch"),
    "slurm-docker": ExportOptions("slurm", runtime="docker", scrontab_script="/shared/jobs/nightly.sbatch"),
    "kubernetes": ExportOptions("kubernetes"),
}


def made(field: str, value: str, options: ExportOptions):
    """The files of a job with `value` in `field`; None when it is refused."""
    try:
        return export(job(**FIELDS[field](value)), options).files
    except InvalidInput as err:  # refused, with one line: by the job's reader, or by the engine
        assert "\n" not in err.message
        return None


def shape(text: str) -> list[str]:
    """What a file's lines are: a comment, a directive (by option), or a line of code."""
    kinds = []
    for line in text.split("\n"):
        if line.startswith(("#SBATCH ", "#SCRON ")):
            kinds.append(line.partition("=")[0])
        else:
            kinds.append("comment" if line.startswith("#") else "code")
    return kinds


def header(text: str) -> list[str]:
    return [line for line in text.split("\n")[:3] if line.startswith("#")]


def replaced(document, value: str):
    if isinstance(document, dict):
        return {key: replaced(item, value) for key, item in document.items()}
    if isinstance(document, list):
        return [replaced(item, value) for item in document]
    return document.replace(PLAIN, value) if isinstance(document, str) else document


@pytest.mark.parametrize("options", ENGINES.values(), ids=ENGINES.keys())
@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_a_value_stays_in_its_place(field, value, options):
    plain = made(field, PLAIN, options)
    hostile = made(field, value, options)
    if hostile is None:
        return  # refused at the input, or by an engine that cannot hold it, with one line
    assert hostile.keys() == plain.keys()
    for kind in hostile.keys() - {MANIFEST}:
        assert shape(hostile[kind]) == shape(plain[kind]), (kind, hostile[kind])
    if MANIFEST in hostile:  # YAML writes a text of several lines as a block: read it back
        assert header(hostile[MANIFEST]) == header(plain[MANIFEST])
        documents = list(yaml.safe_load_all(hostile[MANIFEST]))
        assert documents == replaced(list(yaml.safe_load_all(plain[MANIFEST])), value)


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_a_scrontab_path_stays_in_its_place_or_is_refused(value):
    options = ExportOptions("slurm", scrontab_script=f"/shared/{value}/nightly.sbatch")
    plain = export(job(), ExportOptions("slurm", scrontab_script=f"/shared/{PLAIN}/nightly.sbatch")).files
    try:
        hostile = export(job(), options).files
    except InvalidInput as err:  # what an #SCRON --chdir line cannot hold as itself
        assert ("control character" in err.message) == (not value.isprintable())
        assert "control character" in err.message or "Slurm does not read as itself" in err.message
        return
    assert value.isprintable() and not any(char.isspace() or char in "#\"'\\" for char in value)
    for kind in (SCRIPT, SCRONTAB):
        assert shape(hostile[kind]) == shape(plain[kind])
    assert hostile[SCRONTAB].split("\n")[-2].startswith("0 2 * * * /bin/bash ")


def test_a_command_of_several_lines_is_one_line_of_the_script():
    script = export(job(command=("sh", "-c", "echo one\necho two")), ExportOptions("slurm")).files[SCRIPT]
    assert "sh -c $'echo one\\x0aecho two'" in script


def test_pyxis_refuses_a_path_with_a_comma_which_docker_mounts():
    comma = job(volumes=["/srv/a,b:/data"])
    with pytest.raises(InvalidInput, match="Pyxis cannot mount a path with a comma"):
        export(comma, ExportOptions("slurm", runtime="pyxis"))
    assert "-v /srv/a,b:/data" in export(comma, ExportOptions("slurm", runtime="docker")).files[SCRIPT]
