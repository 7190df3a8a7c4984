"""gpuagent doctor: is this host ready to run jobs, and if not, the command that fixes it.

Each check says ok, warning or error; an error is something that stops runs (of every
job, of GPU jobs, or of one job), and makes `gpuagent doctor` exit non-zero.
"""

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from gpuagent.core.errors import (
    DockerError,
    InvalidInput,
    NotFound,
    NvmlUnavailable,
    SystemdError,
)
from gpuagent.core.paths import Paths
from gpuagent.host.systemd import Systemd
from gpuagent.host.tzdata import ZONEINFO, has_zone, has_zone_database
from gpuagent.jobs.catalog import job_names, load_job
from gpuagent.jobs.inventory import read_timers, timer_names
from gpuagent.jobs.job import Job
from gpuagent.jobs.jobfile import zone_named
from gpuagent.jobs.units import shipped_unit_states, timer_text

OK, WARNING, ERROR = "ok", "warning", "error"
NVIDIA_HOOK = "nvidia-container-runtime-hook"
# Where the NVIDIA container toolkit puts its hook; dockerd finds it on its own PATH,
# which may not be ours.
_HOOK_DIRS = ("/usr/bin", "/usr/local/bin", "/usr/sbin")
_TOOLKIT_FIX = "apt-get install nvidia-container-toolkit && nvidia-ctk runtime configure --runtime=docker && systemctl restart docker"


@dataclass(frozen=True)
class Finding:
    check: str  # what was looked at: systemd, template-unit (each shipped unit), docker, docker-gpu, nvidia-driver, gpu, directory, job, tzdata
    level: str  # OK, WARNING or ERROR
    message: str
    fix: str | None = None  # the command that fixes it


@dataclass(frozen=True)
class DoctorReport:
    findings: list[Finding]

    @property
    def blocking(self) -> bool:
        return any(finding.level == ERROR for finding in self.findings)


def diagnose(paths: Paths) -> DoctorReport:
    jobs, job_findings = _jobs(paths)
    gpu_jobs = any(job.uses_gpu for job in jobs)
    return DoctorReport(
        [
            *_systemd(paths),
            *_shipped_units(paths),
            *_docker(gpu_jobs),
            *_nvidia(gpu_jobs),
            *_directories(paths),
            *_unreadable_spool(paths),
            *_monitoring(paths),
            *job_findings,
            *_circles(paths, jobs),
            *time_zone_findings(paths),
            *_notify_files(paths),
        ]
    )


def _systemctl(paths: Paths) -> str:
    return "systemctl --user" if paths.user_mode else "systemctl"


def _systemd(paths: Paths) -> list[Finding]:
    try:
        Systemd(paths.user_mode).show(["timers.target"], ["ActiveState"])
    except SystemdError as err:
        fix = "loginctl enable-linger $USER" if paths.user_mode else "apt-get install systemd-sysv, then boot the host with systemd"
        return [Finding("systemd", ERROR, f"no systemd to run timers: {err.message}", fix)]
    manager = "your systemd user manager" if paths.user_mode else "systemd"
    return [Finding("systemd", OK, f"{manager} is running")]


def _shipped_units(paths: Paths) -> list[Finding]:
    """Each unit gpuagent ships (the template and its failure handler), as systemd loads it.
    An edited one is reported, never replaced (add and sync only write a missing one):
    local changes belong in a drop-in."""
    findings = []
    for state in shipped_unit_states(paths):
        unit = state.unit
        if state.path is None:
            places = " or ".join(str(place) for place in paths.unit_places(unit.name))
            level = ERROR if unit.needed_to_run else WARNING
            findings.append(Finding("template-unit", level, f"no {unit.name} ({places}): {unit.without_it}", "gpuagent sync"))
        elif not state.current:
            message = (
                f"{state.path} differs from the unit this gpuagent ships (edited, or of another version); add and sync keep it. "
                f"Local changes belong in a drop-in: {_systemctl(paths)} edit {unit.name}"
            )
            fix = f"install -m 0644 {unit.source} {state.path} && {_systemctl(paths)} daemon-reload"
            findings.append(Finding("template-unit", WARNING, message, fix))
        else:
            findings.append(Finding("template-unit", OK, f"{state.path} is installed and current"))
    return findings


def _docker(gpu_jobs: bool) -> list[Finding]:
    try:
        from gpuagent.host.dockerd import Docker

        info = Docker().info()
    except DockerError as err:
        return [Finding("docker", ERROR, err.message, "systemctl start docker")]
    findings = [Finding("docker", OK, f"docker {info.get('ServerVersion', '?')} is reachable")]
    hook = shutil.which(NVIDIA_HOOK) or next((f"{d}/{NVIDIA_HOOK}" for d in _HOOK_DIRS if os.access(f"{d}/{NVIDIA_HOOK}", os.X_OK)), None)
    if "nvidia" in (info.get("Runtimes") or {}):
        findings.append(Finding("docker-gpu", OK, "docker has the nvidia runtime: it can hand GPUs to containers"))
    elif hook:
        findings.append(Finding("docker-gpu", OK, f"docker can hand GPUs to containers ({hook})"))
    else:
        level = ERROR if gpu_jobs else WARNING
        findings.append(Finding("docker-gpu", level, "docker cannot hand GPUs to containers: no NVIDIA container toolkit", _TOOLKIT_FIX))
    return findings


def _nvidia(gpu_jobs: bool) -> list[Finding]:
    from gpuagent.host.nvml import driver_version, nvml_kept_open, read_gpus

    try:
        with nvml_kept_open():
            gpus, driver = read_gpus(), driver_version()
    except NvmlUnavailable as err:
        level = ERROR if gpu_jobs else WARNING
        impact = "GPU jobs cannot run" if gpu_jobs else "only CPU jobs can run"
        return [Finding("nvidia-driver", level, f"{err.message}: {impact}", "apt-get install nvidia-driver, then check with nvidia-smi")]
    findings = [Finding("nvidia-driver", OK, f"NVIDIA driver {driver or '?'}; NVML sees {len(gpus)} GPU(s)")]
    findings += [
        Finding("gpu", WARNING, f"GPU {gpu.index} cannot be read ({gpu.error}): no job is admitted on it", f"nvidia-smi -q -i {gpu.index}")
        for gpu in gpus
        if gpu.error
    ]
    return findings


def _directories(paths: Paths) -> list[Finding]:
    """gpuagent's own directories: owned by whoever runs it (root for the system), and not
    writable by others, who could otherwise put a job there (job files are not checked
    for their owner, only for their mode)."""
    findings = []
    owner = os.geteuid()
    for directory in (paths.config_dir, paths.jobs_dir, paths.state_dir):
        try:
            info = directory.stat()
        except FileNotFoundError:
            findings.append(Finding("directory", OK, f"{directory} does not exist yet (it is made when needed)"))
            continue
        mode = stat.S_IMODE(info.st_mode)
        if info.st_uid != owner:
            findings.append(Finding("directory", WARNING, f"{directory} is owned by uid {info.st_uid}, not {owner}", f"chown {owner} {directory}"))
        elif mode & (stat.S_IWGRP | stat.S_IWOTH):
            findings.append(Finding("directory", WARNING, f"{directory} is writable by others (mode {mode:04o})", f"chmod go-w {directory}"))
        else:
            findings.append(Finding("directory", OK, f"{directory}: owner uid {owner}, mode {mode:04o}"))
    return findings


# What node_exporter and dcgm-exporter are called when they run (Debian's name, upstream's).
NODE_EXPORTERS = ("prometheus-node-exporter", "node_exporter")
DCGM_EXPORTERS = ("dcgm-exporter",)


def _monitoring(paths: Paths) -> list[Finding]:
    """Whether node_exporter reads the directory gpuagent writes its metrics in, and whether
    dcgm-exporter reads its job mapping (docs/monitoring.md)."""
    from gpuagent.core.paths import DEBIAN_TEXTFILE_DIR
    from gpuagent.host.hostconfig import read_host_config
    from gpuagent.host.procs import command_lines, environment, flag_value

    try:
        config = read_host_config(paths)
    except InvalidInput as err:
        return [
            Finding("host-config", WARNING, f"{err.message}: metrics, job mapping and notifications use their defaults until it is fixed", err.hint)
        ]
    findings = []
    directory = config.metrics_dir()
    exporters = command_lines(NODE_EXPORTERS)
    where = f"set [metrics] textfile_dir in {paths.host_config}"
    if directory is None:
        findings.append(
            Finding(
                "metrics",
                WARNING,
                f"{config.textfile_dir} does not exist: no metrics are written",
                f"apt-get install prometheus-node-exporter, or {where}",
            )
        )
    elif not exporters:
        findings.append(
            Finding(
                "metrics", WARNING, f"metrics go to {directory}, but no node_exporter runs to serve them", "apt-get install prometheus-node-exporter"
            )
        )
    for pid, argv in exporters.items():
        read = flag_value(argv, "--collector.textfile.directory")
        read = read or (str(DEBIAN_TEXTFILE_DIR) if argv[0].endswith(NODE_EXPORTERS[0]) else None)
        if directory is not None and read == str(directory):
            findings.append(Finding("metrics", OK, f"node_exporter (pid {pid}) reads gpuagent's metrics in {directory}"))
        elif directory is not None:
            reads = f"reads {read}" if read else "has no --collector.textfile.directory"
            findings.append(
                Finding(
                    "metrics",
                    WARNING,
                    f"node_exporter (pid {pid}) {reads}, but gpuagent writes to {directory}",
                    f"--collector.textfile.directory={directory}, or {where}",
                )
            )
    for pid, argv in command_lines(DCGM_EXPORTERS).items():
        read = flag_value(argv, "--hpc-job-mapping-dir") or environment(pid).get("DCGM_HPC_JOB_MAPPING_DIR")
        if read == str(config.hpc_job_mapping_dir):
            findings.append(Finding("dcgm", OK, f"dcgm-exporter (pid {pid}) labels GPU metrics with the job from {read}"))
        else:
            findings.append(
                Finding(
                    "dcgm",
                    WARNING,
                    f"dcgm-exporter (pid {pid}) does not read gpuagent's job mapping: its GPU metrics say nothing of jobs",
                    f"start it with --hpc-job-mapping-dir {config.hpc_job_mapping_dir}",
                )
            )
    return findings


def _jobs(paths: Paths) -> tuple[list[Job], list[Finding]]:
    """Every job file, fully checked (calendars by systemd-analyze too), and its timer."""
    jobs, findings = [], []
    names = job_names(paths.jobs_dir)
    for name in names:
        path = paths.job_file(name)
        try:
            job = load_job(path)
        except (InvalidInput, NotFound) as err:
            hint = f" ({err.hint})" if err.hint else ""
            findings.append(
                Finding(
                    "job", ERROR, f"job {name} will not run: {err.message}{hint}", f"edit {path}, or re-create it: gpuagent add {name} --replace ..."
                )
            )
            continue
        jobs.append(job)
        timer = paths.timer_file(name)
        if not job.schedule.has_timer:
            findings.append(Finding("job", OK, f"job {name} is valid ({job.when}{'' if job.enabled else ', disabled'})"))
        elif not timer.is_file():
            findings.append(Finding("job", ERROR, f"job {name} has no timer ({timer}): it never fires", "gpuagent sync"))
        elif timer.read_text() != timer_text(paths, job):
            message = f"job {name}: its timer ({timer}) differs from its job file: systemd fires it on the timer's schedule, not the file's"
            findings.append(Finding("job", WARNING, message, "gpuagent sync"))
        else:
            findings.append(Finding("job", OK, f"job {name} is valid"))
    findings += _timer_drift(paths, [job for job in jobs if job.schedule.has_timer and paths.timer_file(job.name).is_file()])
    orphans = [name for name in timer_names(paths) if name not in names]
    findings += [Finding("job", WARNING, f"{paths.timer_file(name)} has no job file: each fire fails", "gpuagent sync") for name in orphans]
    if not names:
        findings.append(Finding("job", OK, "no jobs yet"))
    return jobs, findings


def _circles(paths: Paths, jobs: list[Job]) -> list[Finding]:
    """Circles of --after jobs written by hand (`add` and `sync` refuse them): a run
    starts no follower on one, so none of its jobs runs after another."""
    from gpuagent.jobs.chains import circle_problem, circles

    found = circles({job.name: job.after for job in jobs})
    return [
        Finding(
            "job",
            ERROR,
            circle_problem(circle),
            f"edit {' or '.join(str(paths.job_file(name)) for name in circle[:-1])}: one must not run --after; then gpuagent sync",
        )
        for circle in found
    ]


def _timer_drift(paths: Paths, jobs: list[Job]) -> list[Finding]:
    """A timer switched on or off by hand (`systemctl enable`), against its job file's
    schedule.enabled: the file wins at the next `sync` or reinstall."""
    states, _ = read_timers(paths, [job.name for job in jobs]) if jobs else ({}, None)
    findings = []
    for job in jobs:
        state = states.get(job.name)
        if state is None or not state.loaded or state.enabled is job.enabled:
            continue
        timer, file = ("enabled", "enabled = false") if state.enabled else ("disabled", "it is enabled")
        keep = f"gpuagent {'enable' if state.enabled else 'disable'} {job.name}"
        message = (
            f"job {job.name}: its timer is {timer} in systemd, but its job file says {file}: the next sync or reinstall undoes the timer's state"
        )
        findings.append(Finding("job", WARNING, message, f"gpuagent sync (as the file says), or {keep} (as the timer is)"))
    return findings


def time_zone_findings(paths: Paths, zoneinfo: Path = ZONEINFO) -> list[Finding]:
    """The zone database, when a job names a time zone (tz): without it, or without the
    zone, the job's file does not load and its timer fires at the wrong time, if at all.
    Read from the job files as they are, whether they load or not (a missing zone is one
    reason they do not)."""
    zones: dict[str, list[str]] = {}
    for name in job_names(paths.jobs_dir):
        try:
            zone = zone_named(paths.job_file(name).read_text(errors="replace"))
        except OSError:
            continue
        if zone is not None:
            zones.setdefault(zone, []).append(name)
    if not zones:
        return []
    if not has_zone_database(zoneinfo):
        named = ", ".join(sorted(name for names in zones.values() for name in names))
        message = f"no time zone database ({zoneinfo} is missing or empty), and job(s) {named} name a time zone: they cannot run"
        return [Finding("tzdata", ERROR, message, "apt-get install tzdata")]
    findings = [
        Finding(
            "tzdata",
            ERROR,
            f"the time zone database ({zoneinfo}) has no {zone}, which job(s) {', '.join(names)} name: they cannot run",
            "apt-get install tzdata tzdata-legacy (older names such as US/Eastern are in tzdata-legacy), or name another zone with tz",
        )
        for zone, names in sorted(zones.items())
        if not has_zone(zone, zoneinfo)
    ]
    return findings or [Finding("tzdata", OK, f"the time zone database ({zoneinfo}) holds the zones the jobs name: {', '.join(sorted(zones))}")]


def _unreadable_spool(paths: Paths) -> list[Finding]:
    """Run records that could not be added to history from the unrecorded-runs spool:
    they were set aside, not dropped, and only a person can tell what to do with them."""
    from gpuagent.host.spool import rejected_path

    rejected = rejected_path(paths.history_db)
    try:
        with rejected.open("rb") as lines:
            count = sum(1 for _ in lines)
    except FileNotFoundError:
        return []
    return [
        Finding(
            "history",
            WARNING,
            f"{rejected} holds {count} run record(s) that could not be added to history (cut short by a full disk, or from another gpuagent version)",
            f"read them (one JSON record a line), then delete the file: rm {rejected}",
        )
    ]


def _notify_files(paths: Paths) -> list[Finding]:
    """The files of notification URLs: only their owner may read them (the URLs hold
    tokens), and one that does not load sends nothing (its runs still go on)."""
    from gpuagent.core.errors import GpuAgentError
    from gpuagent.host.delivery import read_notify_file

    places = [(paths.host_notify_file, False)]
    findings = []
    if paths.notify_dir.is_dir():
        places += [(path, True) for path in sorted(paths.notify_dir.rglob("*.toml"))]
        mode = stat.S_IMODE(paths.notify_dir.stat().st_mode)
        if mode & 0o077:
            message = f"{paths.notify_dir} is open to group or others (mode {mode:04o}): it holds notification URLs, which hold tokens"
            findings.append(Finding("notify", WARNING, message, f"chmod 700 {paths.notify_dir}"))
    for path, per_job in places:
        try:
            loaded = read_notify_file(path, per_job=per_job)
        except GpuAgentError as err:
            hint = f" ({err.hint})" if err.hint else ""
            findings.append(Finding("notify", WARNING, f"{err.message}{hint}: nothing is sent from it; runs go on", f"edit {path}"))
            continue
        if loaded is None:
            continue
        if loaded.exposed:
            findings.append(Finding("notify", WARNING, loaded.exposed, f"chown {os.geteuid()} {path} && chmod 600 {path}"))
            continue
        settings = loaded.settings
        ping = ", a ping" if settings.ping else ""
        findings.append(Finding("notify", OK, f"{path}: {len(settings.targets)} notification URL(s){ping}; readable by its owner only"))
    return findings
