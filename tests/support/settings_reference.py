"""The job file reference (docs/reference/job-file.md), made from the settings table
(jobs/settings.py), and its table of what maps to a cluster, made from each export
engine's table. tests/support/docs_reference.py writes both into the page between their
markers, and tests/unit/test_docs_reference.py fails when the page holds anything else.
"""

from gpuagent.export.engines import ENGINES, Mapping
from gpuagent.export.exporter import MAPPINGS
from gpuagent.jobs.schedule import KIND_HELP, ZONE_HELP, ZONE_KEY
from gpuagent.jobs.settings import BOOLEAN, SETTINGS, Setting

BEGIN = "<!-- job settings: made from gpuagent/jobs/settings.py -->"
END = "<!-- end of job settings -->"
CLUSTER_BEGIN = "<!-- cluster mappings: made from gpuagent/jobs/settings.py -->"
CLUSTER_END = "<!-- end of cluster mappings -->"
# What every engine's table holds before the settings' rows, for the reference: the job's
# identity, which the exporter maps itself (export/exporter.py).
NAME_AND_SCHEDULE = ("name", "schedule")


def _default(setting: Setting) -> str:
    if setting.required:
        return "required"
    if setting.default in (None, ()):
        return "-"
    if setting.kind is BOOLEAN:
        return "`true`" if setting.default else "`false`"
    return f"`{setting.human(setting.default)}`"


def _options(setting: Setting) -> str:
    return ", ".join(f"`{option}`" for option in setting.options) or "arguments after `--`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def reference() -> str:
    rows = ["| key | `add` option | TOML type | default | meaning |", "| --- | --- | --- | --- | --- |"]
    rows += [
        f"| `schedule.{kind}` | `--{kind}` | string | one of the four | {words.removeprefix('Schedule: ')} |" for kind, words in KIND_HELP.items()
    ]
    rows.append(f"| `schedule.{ZONE_KEY}` | `--{ZONE_KEY}` | string | - | {ZONE_HELP} |")
    rows += [
        f"| `{setting.path}` | {_options(setting)} | {setting.kind.words} | {_default(setting)} | {_cell(setting.help)} |" for setting in SETTINGS
    ]
    return "\n".join([BEGIN, *rows, END])


def _mapping(mapping: Mapping) -> str:
    return f"**{mapping.fit}**: {_cell(mapping.becomes)}"


def _mappings(field: str) -> str:
    return " | ".join(_mapping(MAPPINGS[engine][field]) for engine in ENGINES)


def cluster_reference() -> str:
    """What the job's name, its schedule and each setting become in each engine `gpuagent
    export` writes for: the engines' own tables (export/slurm.py, export/kubernetes.py)."""
    rows = [f"| key | {' | '.join(ENGINES.values())} |", "| --- |" + " --- |" * len(ENGINES)]
    rows += [f"| {key} | {_mappings(key)} |" for key in NAME_AND_SCHEDULE]
    rows += [f"| `{setting.path}` | {_mappings(setting.field)} |" for setting in SETTINGS]
    return "\n".join([CLUSTER_BEGIN, *rows, CLUSTER_END])


if __name__ == "__main__":
    print(reference())
    print()
    print(cluster_reference())
