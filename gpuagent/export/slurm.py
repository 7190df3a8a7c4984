"""A job as a Slurm batch script (and a scrontab entry), from what the rows of
jobs/settings.py put into a SlurmScript, each through its method in the table SLURM below.

The script asks Slurm for what the job needs (#SBATCH lines), checks the GPUs it was
given (export/gpucheck.py), then runs the container: with Pyxis (`srun --container-image`,
what GPU clusters use: the container runs in the job's cgroup, under its limits) or with
`docker run` (--runtime docker: the container runs outside Slurm's cgroup, so the script
repeats the limits to docker and stops and removes the container itself, on every way
out). Retries are a loop in the script: Slurm requeues only after a node failure.
"""

import math
import posixpath
import shlex
from dataclasses import dataclass, field

from gpuagent.core.errors import InvalidInput
from gpuagent.core.quantities import format_duration, mebibytes
from gpuagent.core.values import NOBODY, printable
from gpuagent.export.engines import APPROXIMATE, EXACT, NOT_AT_ALL, Builder, Mapping, comment
from gpuagent.export.gpucheck import NO_FIT, check_script

RUNTIMES = ("pyxis", "docker")
DEFAULT_RUNTIME = "pyxis"
KILL_WAIT = 30  # slurm.conf's KillWait by default: between SIGTERM and SIGKILL when Slurm ends a job
TIMED_OUT = 124  # what an attempt that ran past its timeout returns (as `timeout` does)
# options a scrontab entry has no use for: it never overlaps a job's fires itself, and its
# jobs start in the user's login environment (SLURM_GET_USER_ENV), whatever --export says
_NOT_IN_SCRONTAB = ("--dependency", "--export")


@dataclass
class SlurmScript(Builder):
    runtime: str = DEFAULT_RUNTIME
    on_schedule: bool = False  # a scrontab entry runs it
    options: list[tuple[str, str]] = field(default_factory=list)  # #SBATCH --OPTION=VALUE
    docker_options: list[str] = field(default_factory=list)  # words for `docker run`, --runtime docker
    pyxis_options: list[str] = field(default_factory=list)  # words for `srun`, --runtime pyxis
    environment: list[tuple[str, str]] = field(default_factory=list)
    env_file: str | None = None
    image: str = ""
    command: tuple[str, ...] = ()
    gpus: int = 0
    user: str | None = None
    timeout: int | None = None
    stop_grace: int = 10
    retries: int = 0
    retry_delay: int = 60
    holds_gpus = "the job's allocation"
    free_vram_words = "checked with nvidia-smi on the GPUs Slurm gave, before the container starts"
    priority_words = "add `--nice` or `--qos` by hand"

    def _container_option(self, *, pyxis: list[str] | None = None, docker: list[str] | None = None) -> None:
        self.pyxis_options += pyxis or []
        self.docker_options += docker or []

    # ------------------------------------------------- one method per row of the settings

    def set_image(self, image: str) -> None:
        self.image = image

    def set_command(self, command: tuple[str, ...]) -> None:
        self.command = command

    def set_persistent(self, flag: bool) -> None:
        if self.on_schedule and not flag:
            self.notes.approximately("scrontab runs a fire missed while slurmctld was down once it is back: it cannot skip it")

    def set_gpus(self, count: int) -> None:
        self.gpus = count
        if count:
            self.options.append(("--gres", f"gpu:{count}"))

    def set_memory(self, size: int | None) -> None:
        if size is not None:
            self.options.append(("--mem", f"{mebibytes(size)}M"))
            self._container_option(docker=[f"--memory {size}", f"--memory-swap {size}"])

    def set_cpus(self, cores: float | None) -> None:
        if cores is None:
            return
        self.options.append(("--cpus-per-task", str(math.ceil(cores))))
        self._container_option(docker=[f"--cpus {cores:g}"])
        if not float(cores).is_integer():
            self.notes.approximately(
                f"Slurm allocates whole CPUs: {math.ceil(cores)} for {cores:g}"
                + (f" (docker limits it to {cores:g})" if self.runtime == "docker" else "")
            )

    def set_shm_size(self, size: int | None) -> None:
        if size is None:
            return
        self._container_option(docker=[f"--shm-size {size}"])
        if self.runtime == "pyxis":
            self.notes.approximately("Pyxis containers share the node's /dev/shm: its size is not set")

    def set_volumes(self, volumes) -> None:
        if self.runtime == "pyxis" and any("," in volume.spec() for volume in volumes):
            # --container-mounts is one list, split at commas: the path would become two mounts
            self.notes.refuse(
                f"Pyxis cannot mount a path with a comma ({next(volume.spec() for volume in volumes if ',' in volume.spec())})",
                "rename the path, or export with --runtime docker",
            )
        if volumes:
            self._container_option(
                pyxis=[f"--container-mounts={_shell_word(','.join(volume.spec() for volume in volumes))}"],
                docker=[f"-v {_shell_word(volume.spec())}" for volume in volumes],
            )

    def set_env(self, pairs: tuple[tuple[str, str], ...]) -> None:
        self.environment = list(pairs)

    def set_env_file(self, path: str | None) -> None:
        self.env_file = path

    def set_workdir(self, directory: str | None) -> None:
        if directory:
            self._container_option(pyxis=[f"--container-workdir={_shell_word(directory)}"], docker=[f"-w {_shell_word(directory)}"])

    def set_user(self, user: str | None) -> None:
        if self.runtime == "docker":
            self.user = user
        elif user is not None:
            self.notes.approximately(f"Pyxis runs the container as the user who submits the job: --user {user} is not kept")

    def set_timeout(self, seconds: int | None) -> None:
        self.timeout = seconds
        if seconds is not None:
            self.notes.approximately("Slurm keeps --time in whole minutes and ends a job over it within about a minute more")

    def set_stop_grace(self, seconds: int) -> None:
        self.stop_grace = seconds
        if seconds > KILL_WAIT:
            self.notes.approximately(
                f"when Slurm ends a job it waits KillWait (the cluster's; {KILL_WAIT}s by default) between SIGTERM and SIGKILL, not {seconds}s"
            )

    def set_retries(self, count: int) -> None:
        self.retries = count

    def set_retry_delay(self, seconds: int) -> None:
        self.retry_delay = seconds

    # ------------------------------------------------------------------------ rendering

    def script(self, header: list[str]) -> str:
        """The batch script; `header` is its comment lines (what made it)."""
        lines = ["#!/bin/bash", *map(comment, header)]
        lines += [_directive("#SBATCH", name, value) for name, value in self.sbatch_options()]
        lines += ["set -u", ""]
        if self.environment:
            lines += [f"export {key}={_shell_word(value)}" for key, value in self.environment] + [""]
        if self.env_file and self.runtime == "pyxis":
            lines += _export_env_file(self.env_file)
        if self.check.needed:
            lines.append(check_script(self.check, '"${SLURM_JOB_GPUS:-}"'))
        if self.random_delay:
            lines += [f"sleep $(( RANDOM % {self.random_delay + 1} ))  # the job's random_delay", ""]
        lines += self._docker_lines() if self.runtime == "docker" else self._pyxis_lines()
        lines += self._attempts()
        return "\n".join(lines) + "\n"

    def sbatch_options(self) -> list[tuple[str, str]]:
        options = [("--job-name", self.name), *self.options]
        limit = self.time_limit()
        if limit is not None:
            options.append(("--time", _slurm_time(limit)))
        # the name written out: scrontab's jobs (22.05) spell %x "(null)"
        options += [("--dependency", "singleton"), ("--output", f"{self.name}-%j.out"), ("--open-mode", "append"), ("--export", "ALL")]
        return options

    def scrontab(self, header: list[str], line: str, script_path: str) -> str:
        """A scrontab entry that runs the script at `script_path` on the cron `line`."""
        # its jobs start in the user's home: the output goes beside the script, as sbatch's does where it is run
        options = [
            ("--chdir", posixpath.dirname(script_path)),
            *((name, value) for name, value in self.sbatch_options() if name not in _NOT_IN_SCRONTAB),
        ]
        return (
            "\n".join(
                [
                    *map(comment, header),
                    *(_directive("#SCRON", name, value) for name, value in options),
                    f"{line} /bin/bash {shlex.quote(script_path)}",  # printable: it is in the header's comment
                ]
            )
            + "\n"
        )

    def time_limit(self) -> int | None:
        """Seconds for --time: every attempt with its grace, the pauses between them, the
        longest GPU check and random delay. None (the partition's limit) without a timeout."""
        if self.timeout is None:
            return None
        attempt = self.timeout + (self.stop_grace if self._in_script_timeout() else 0)
        return (self.retries + 1) * attempt + self.retries * self.retry_delay + self.most_before_command

    def _in_script_timeout(self) -> bool:
        """Each attempt has a watchdog of its own when --time spans more than one: else
        Slurm's own limit ends the job, and its record says TIMEOUT."""
        return self.timeout is not None and (self.retries > 0 or self.most_before_command > 0)

    def _attempt(self, run: str, stop: str) -> list[str]:
        """gpuagent_attempt, which runs `run` once; with a timeout of its own, a watchdog
        runs `stop` when it is spent and leaves a note, so a timed-out attempt returns
        TIMED_OUT whatever the stopped command exited with (SIGKILL's 137 is an OOM kill's too)."""
        if not self._in_script_timeout():
            return ["gpuagent_attempt() {", f"    {run} &", "    wait $!", "}", ""]
        return [
            "# the job's timeout, per attempt: a watchdog stops the attempt, and its note tells a timeout from a failure",
            "gpuagent_attempt() {",
            f"    {run} &",
            "    gpuagent_run=$!",
            f'    {{ sleep {self.timeout}; echo timed-out >"$gpuagent_timed_out"; {stop}; }} &',
            "    gpuagent_watchdog=$!",
            '    wait "$gpuagent_run"',
            "    gpuagent_code=$?",
            '    pkill -P "$gpuagent_watchdog" 2>/dev/null; kill "$gpuagent_watchdog" 2>/dev/null',
            '    if [ -s "$gpuagent_timed_out" ]; then',
            '        : >"$gpuagent_timed_out"',
            f'        echo "gpuagent: the attempt ran past its timeout ({format_duration(self.timeout)}): stopped" >&2',
            f"        return {TIMED_OUT}",
            "    fi",
            '    return "$gpuagent_code"',
            "}",
            "",
        ]

    def _exit_trap(self, *commands: str) -> list[str]:
        """The EXIT trap that runs `commands`, and removes the watchdog's note (made here, first)."""
        note = ["gpuagent_timed_out=$(mktemp)"] if self._in_script_timeout() else []
        commands += ('rm -f "$gpuagent_timed_out"',) if note else ()
        return [*note, f"trap '{'; '.join(commands)}' EXIT"] if commands else []

    def _pyxis_lines(self) -> list[str]:
        srun = ["srun", f"--container-image={_shell_word(pyxis_image(self.image))}", *self.pyxis_options, *map(_shell_word, self.command)]
        stop = f'kill -TERM "$gpuagent_run"; sleep {self.stop_grace}; kill -KILL "$gpuagent_run" 2>/dev/null'
        return [*self._exit_trap(), *self._attempt(" ".join(srun), stop)]

    def _docker_lines(self) -> list[str]:
        image = _shell_word(self.image)
        # as gpuagent runs its containers: an init process (which passes SIGTERM on), no new privileges
        run = ["docker", "run", "--rm", '--name "$gpuagent_container"', "--init", "--security-opt no-new-privileges"]
        if self.gpus:
            run.append('--gpus "device=$SLURM_JOB_GPUS"')
        if self.env_file:
            run.append(f"--env-file {_shell_word(self.env_file)}")
        run += [f"-e {key}" for key, _ in self.environment]
        run += [
            *self.docker_options,
            f"--user {_shell_word(self.user)}" if self.user else '--user "$gpuagent_user"',
            image,
            *map(_shell_word, self.command),
        ]
        stop = f'docker stop --time {self.stop_grace} "$gpuagent_container" >/dev/null 2>&1'
        lines = [
            "# docker runs the container outside the job's cgroup: the script stops and removes it itself.",
            'gpuagent_container="gpuagent-$SLURM_JOB_ID"',
            f"trap '{stop}; exit 143' TERM INT",
            *self._exit_trap('docker rm --force "$gpuagent_container" >/dev/null 2>&1'),
        ]
        if not self.user:
            lines += [
                "# the image's own user, unless it is root: then nobody, as gpuagent does",
                f"gpuagent_user=$(docker image inspect --format '{{{{.Config.User}}}}' {image} 2>/dev/null)",
                f'case "${{gpuagent_user%%:*}}" in "" | root | 0) gpuagent_user={NOBODY} ;; esac',
            ]
        return [*lines, *self._attempt(" ".join(run), stop)]

    def _attempts(self) -> list[str]:
        cleanup = ['    docker rm --force "$gpuagent_container" >/dev/null 2>&1'] if self.runtime == "docker" else []
        if not self.retries:
            return ["gpuagent_attempt"]
        return [
            f"# the job's retries: again after a failure, not after a timeout ({TIMED_OUT}) or a stop",
            f"for gpuagent_try in $(seq 1 {self.retries + 1}); do",
            '    if [ "$gpuagent_try" -gt 1 ]; then',
            f'        echo "gpuagent: attempt $(( gpuagent_try - 1 )) failed (exit $gpuagent_status): again in {format_duration(self.retry_delay)}" >&2',
            f"        sleep {self.retry_delay}",
            "    fi",
            "    gpuagent_attempt",
            "    gpuagent_status=$?",
            *cleanup,
            f"    case $gpuagent_status in 0 | {TIMED_OUT} | 143) break ;; esac",
            "done",
            'exit "$gpuagent_status"',
        ]


# How the job maps to Slurm: its name, its schedule, and each row of jobs/settings.py by field.
SLURM: dict[str, Mapping[SlurmScript]] = {
    "name": Mapping(EXACT, "`--job-name`"),
    "schedule": Mapping(APPROXIMATE, "`--scrontab`: a scrontab entry, `#SCRON` lines and a 5-field cron line, in slurmctld's time zone"),
    "image": Mapping(EXACT, "`srun --container-image` (Pyxis: a registry is followed by `#`), or `docker run IMAGE`", SlurmScript.set_image),
    "command": Mapping(EXACT, "the container's command", SlurmScript.set_command),
    "persistent": Mapping(
        APPROXIMATE, "scrontab runs a fire missed while slurmctld was down once it is back; it cannot skip one", SlurmScript.set_persistent
    ),
    "random_delay": Mapping(APPROXIMATE, "a random `sleep` before the container starts, holding the allocation", SlurmScript.set_random_delay),
    "after": Mapping(
        NOT_AT_ALL,
        "nothing: a script cannot wait for another job's success",
        instead="drop --after, and submit this job's script with `sbatch --dependency=afterok:JOBID` after the other's",
    ),
    "enabled": Mapping(APPROXIMATE, "nothing: a disabled job is exported as it would run, with a note", SlurmScript.set_enabled),
    "gpus": Mapping(EXACT, "`--gres=gpu:N`; with docker, `--gpus device=$SLURM_JOB_GPUS`", SlurmScript.set_gpus),
    "gpu_ids": Mapping(APPROXIMATE, "Slurm picks the GPUs", SlurmScript.set_gpu_ids),
    "min_free_vram": Mapping(
        APPROXIMATE, f"a check with nvidia-smi of the GPUs Slurm gave, before the container starts: exit {NO_FIT}", SlurmScript.set_min_free_vram
    ),
    "memory": Mapping(EXACT, "`--mem` (in MiB); with docker, `--memory` too", SlurmScript.set_memory),
    "cpus": Mapping(APPROXIMATE, "`--cpus-per-task`, whole CPUs; with docker, `--cpus` too", SlurmScript.set_cpus),
    "shm_size": Mapping(APPROXIMATE, "with docker, `--shm-size`; Pyxis shares the node's /dev/shm", SlurmScript.set_shm_size),
    "vram_policy": Mapping(APPROXIMATE, "in the check: wait polls, skip exits 0, fail exits at once", SlurmScript.set_vram_policy),
    "vram_wait": Mapping(APPROXIMATE, "how long the check polls (inside `--time`)", SlurmScript.set_vram_wait),
    "max_gpu_util": Mapping(APPROXIMATE, "in the same check", SlurmScript.set_max_gpu_util),
    "exclusive": Mapping(APPROXIMATE, "a GPU Slurm gives is the job's alone among Slurm's jobs", SlurmScript.set_exclusive),
    "priority": Mapping(APPROXIMATE, "Slurm's own priority (age, fair share, QOS): add `--nice` or `--qos` by hand", SlurmScript.set_priority),
    "preempt": Mapping(APPROXIMATE, "Slurm's PreemptType and QOS, set by the cluster's admins", SlurmScript.set_preempt),
    "volumes": Mapping(EXACT, "`--container-mounts` (Pyxis), or `docker run -v`", SlurmScript.set_volumes),
    "env": Mapping(EXACT, "`export` lines in the script, which the container gets", SlurmScript.set_env),
    "env_file": Mapping(
        EXACT, "read at each run on the node: `docker run --env-file`, or exported by the script for Pyxis", SlurmScript.set_env_file
    ),
    "workdir": Mapping(EXACT, "`--container-workdir` (Pyxis), or `docker run -w`", SlurmScript.set_workdir),
    "user": Mapping(
        APPROXIMATE, "with docker, `--user` (by default the image's user, nobody for root); Pyxis runs as the submitting user", SlurmScript.set_user
    ),
    "timeout": Mapping(
        APPROXIMATE, "`--time` (whole minutes, enforced within about a minute), for all attempts; `timeout` per attempt", SlurmScript.set_timeout
    ),
    "stop_grace": Mapping(APPROXIMATE, "with docker, `docker stop --time`; Slurm's KillWait bounds it", SlurmScript.set_stop_grace),
    "retries": Mapping(EXACT, "a loop in the script: again after a failure, not after a timeout", SlurmScript.set_retries),
    "retry_delay": Mapping(EXACT, "`sleep` between attempts", SlurmScript.set_retry_delay),
}


def _shell_word(text: str) -> str:
    """`text` as one word for bash, on one line whatever it holds: shlex.quote's quoting,
    or, when it holds a control character (a newline, a carriage return), bash's $'...'
    with each such character written as escaped UTF-8 bytes, so that no value of a job
    (a command's multi-line `sh -c` script) starts a line of the script of its own."""
    if text.isprintable():
        return shlex.quote(text)
    return "$'" + "".join(map(_escaped, text)) + "'"


def _escaped(char: str) -> str:
    if char in "\\'":
        return "\\" + char
    return char if char.isprintable() else "".join(f"\\x{byte:02x}" for byte in char.encode())


def _directive(prefix: str, option: str, value: str) -> str:
    """One `#SBATCH` (or `#SCRON`) line: refused when the value holds a control character,
    which would end the line and start another of the script's or crontab's own, or what
    Slurm reads on such a line as other than itself (a space ends the value, `#` starts a
    comment, quotes and `\\` are taken away): the value would not be what the job says."""
    printable(value, option, f"the {prefix} value")
    if any(char.isspace() or char in _DIRECTIVE_SPECIAL for char in value):
        raise InvalidInput(
            f"{option}: {value!r} holds a space or one of {_DIRECTIVE_SPECIAL}, which Slurm does not read as itself on an {prefix} line",
            "give a path without them",
        )
    return f"{prefix} {option}={value}"


_DIRECTIVE_SPECIAL = "#\"'\\"


def pyxis_image(image: str) -> str:
    """A docker reference as Pyxis (enroot) writes it: the registry, if any, ends with '#'."""
    first, slash, rest = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return f"{first}#{rest}"
    return image


def _slurm_time(seconds: int) -> str:
    """--time in whole minutes (Slurm keeps no seconds), as [D-]HH:MM:00."""
    minutes = math.ceil(seconds / 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{days}-" if days else "") + f"{hours:02d}:{minutes:02d}:00"


def _export_env_file(path: str) -> list[str]:
    """Lines that export the env file's KEY=VALUE lines at each run, as docker's --env-file
    reads them (no shell quoting; '#' comments and blank lines skipped): Pyxis passes the
    job's environment into the container."""
    return [
        'while IFS= read -r gpuagent_line || [ -n "$gpuagent_line" ]; do',
        '    case "${gpuagent_line#"${gpuagent_line%%[! ]*}"}" in "" | "#"*) continue ;; esac',
        "    # shellcheck disable=SC2163 # the line is KEY=VALUE: exported as it is",
        '    export "$gpuagent_line"',
        f"done < {_shell_word(path)}",
        "",
    ]
