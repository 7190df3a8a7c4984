"""`gpuagent export`: a job as the files a cluster's scheduler runs, made by the rows of
the settings table, each through the engine's own table (SLURM in export/slurm.py,
KUBERNETES in export/kubernetes.py; export/engines.py says what they share).

The same job gives the same bytes (nothing of the moment or the host is written), so an
export can be committed and diffed; each file's first comment line is the command that
made it, which `export --check` runs again to tell whether the file still matches the job.
A setting that maps only approximately is said in the notes; one that cannot map, or a
schedule with no cron line, refuses the whole export, naming the setting.
"""

import shlex
from dataclasses import dataclass, field
from typing import Any

from gpuagent.core.errors import InvalidInput
from gpuagent.export.cronline import cron_line
from gpuagent.export.engines import ENGINES, Builder, Mapping, comment
from gpuagent.export.kubernetes import KUBERNETES, CronJobManifest, env_secret, kubernetes_name
from gpuagent.export.slurm import DEFAULT_RUNTIME, RUNTIMES, SLURM, SlurmScript
from gpuagent.jobs.job import Job
from gpuagent.jobs.settings import SETTINGS

SCRIPT, SCRONTAB, MANIFEST = "script", "scrontab", "manifest"
SUFFIXES = {SCRIPT: ".sbatch", SCRONTAB: ".scrontab", MANIFEST: ".yaml"}
_MADE_BY = "Made from the job file of {name}: change the job, not this file, then export it again (`gpuagent export --check FILE` tells whether this still matches)."

# Each engine's table, by the engine's key in ENGINES.
MAPPINGS: dict[str, dict[str, Mapping[Any]]] = {"slurm": SLURM, "kubernetes": KUBERNETES}


@dataclass(frozen=True)
class ExportOptions:
    engine: str  # a key of ENGINES
    runtime: str = DEFAULT_RUNTIME  # Slurm's: how the batch script runs the container (RUNTIMES)
    scrontab_script: str | None = None  # Slurm: the script's absolute path, for a scrontab entry that runs it
    with_secret: bool = False  # Kubernetes: the env file's Secret goes with the CronJob

    def command(self, name: str) -> str:
        """The command that makes this export again: the first line of each file it writes."""
        words = ["gpuagent", "export", name, "--to", self.engine]
        if self.engine == "slurm":
            words += ["--runtime", self.runtime]
        if self.scrontab_script is not None:
            words += ["--scrontab", "-o", self.scrontab_script]
        if self.with_secret:
            words.append("--with-secret")
        return shlex.join(words)


@dataclass(frozen=True)
class Exported:
    job: str
    files: dict[str, str]  # SCRIPT, SCRONTAB or MANIFEST -> its text
    notes: list[str] = field(default_factory=list)  # "KEY: how it maps only approximately"


def export_job(
    job: Job,
    options: ExportOptions,
    *,
    env_pairs: list[tuple[str, str]] | None = None,
    host_paths: dict[str, int] | None = None,
) -> Exported:
    """`job` for `options.engine`; `env_pairs`: its env
    file's entries, for --with-secret; `host_paths`: what each volume's host path is here
    (stat's S_IFMT; absent: nothing), for Kubernetes' hostPath types. InvalidInput, naming
    the setting, when it cannot map."""
    try:
        if options.engine == "slurm":
            return _slurm(job, options)
        return _kubernetes(job, options, env_pairs or [], host_paths or {})
    except InvalidInput as err:
        raise InvalidInput(f"cannot export {job.name} to {ENGINES[options.engine]}: {err.message}", err.hint) from None


def _apply_rows(job: Job, builder: Builder, engine: str) -> None:
    for setting in SETTINGS:
        mapping = MAPPINGS[engine][setting.field]
        value = getattr(job, setting.field)
        builder.notes.setting = setting.path
        if mapping.apply is not None:
            mapping.apply(builder, value)
        elif value != setting.default:
            builder.notes.refuse(f"{ENGINES[engine]} has no equivalent of {setting.option} ({setting.human(value)})", mapping.instead)


def _header(job: Job, options: ExportOptions) -> list[str]:
    return [options.command(job.name), _MADE_BY.format(name=job.name)]


def _slurm(job: Job, options: ExportOptions) -> Exported:
    if options.runtime not in RUNTIMES:
        raise InvalidInput(f"--runtime: {options.runtime!r} is not one of {', '.join(RUNTIMES)}")
    script = SlurmScript(job.name, runtime=options.runtime, on_schedule=options.scrontab_script is not None)
    _apply_rows(job, script, "slurm")
    header = _header(job, options)
    files = {SCRIPT: script.script(header)}
    script.notes.setting = "schedule"
    if options.scrontab_script is None:
        script.notes.approximately("a batch script has no schedule: submit it with sbatch, or export with --scrontab for a scrontab entry")
    else:
        line = cron_line(job.schedule)
        if line.approximation:
            script.notes.approximately(line.approximation)
        script.notes.approximately(
            "scrontab reads the cron line in slurmctld's time zone" + (f": run it in {job.schedule.tz}" if job.schedule.tz else "")
        )
        files[SCRONTAB] = script.scrontab(header, str(line), options.scrontab_script)
    return Exported(job.name, files, script.notes.lines)


def _kubernetes(job: Job, options: ExportOptions, env_pairs: list[tuple[str, str]], host_paths: dict[str, int]) -> Exported:
    manifest = CronJobManifest(kubernetes_name(job.name), host_paths=host_paths)
    notes = manifest.notes
    notes.setting = "name"
    if manifest.name != job.name:
        notes.approximately(f"Kubernetes names have no '_': the CronJob is {manifest.name}")
    notes.setting = "schedule"
    line = cron_line(job.schedule)
    manifest.cron_job["schedule"] = str(line)
    if line.approximation:
        notes.approximately(line.approximation)
    if job.schedule.tz:
        manifest.cron_job["timeZone"] = job.schedule.tz
    else:
        notes.approximately("the job names no time zone: the CronJob is read in kube-controller-manager's (UTC, mostly); give the job --tz")
    _apply_rows(job, manifest, "kubernetes")
    documents = manifest.documents()
    if options.with_secret:
        if manifest.env_secret is None:
            raise InvalidInput("--with-secret: the job has no env file", "drop --with-secret, or give the job --env-file")
        documents.insert(0, env_secret(manifest.env_secret, env_pairs))
    text = "".join(f"{comment(line)}\n" for line in _header(job, options)) + _yaml(documents)
    return Exported(job.name, {MANIFEST: text}, notes.lines)


def _yaml(documents: list[dict]) -> str:
    """The documents as YAML, keys sorted (the same bytes each time), a text of several
    lines (the pod's check) as a block that reads as it runs."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, text)
    return yaml.dump_all(documents, Dumper=Dumper, sort_keys=True, default_flow_style=False)


def read_header(text: str) -> tuple[str, ExportOptions]:
    """The job and options an exported file was made with, from its first comment line."""
    lines = text.splitlines()[:2]
    words = next((shlex.split(line[2:]) for line in lines if line.startswith("# gpuagent export ")), None)
    if words is None:
        raise InvalidInput("not a file `gpuagent export` wrote: its first lines do not say `# gpuagent export JOB ...`")
    name, rest = words[2], words[3:]
    values: dict[str, str | bool] = {}
    while rest:
        word = rest.pop(0)
        if word in ("--to", "--runtime", "-o") and rest:
            values[word] = rest.pop(0)
        elif word in ("--scrontab", "--with-secret"):
            values[word] = True
        else:
            raise InvalidInput(f"cannot read the export command in the file's first lines: {word!r}")
    engine = str(values.get("--to", ""))
    if engine not in ENGINES:
        raise InvalidInput(f"the file's export command names no engine gpuagent knows ({engine!r})")
    options = ExportOptions(
        engine,
        runtime=str(values.get("--runtime", DEFAULT_RUNTIME)),
        scrontab_script=str(values["-o"]) if values.get("--scrontab") else None,
        with_secret=bool(values.get("--with-secret")),
    )
    return name, options


def kind_of(text: str) -> str:
    """Which file of an export `text` is: SCRIPT, SCRONTAB or MANIFEST."""
    if text.startswith("#!"):
        return SCRIPT
    return SCRONTAB if "\n#SCRON " in text else MANIFEST
