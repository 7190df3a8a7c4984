"""A job as a Kubernetes batch/v1 CronJob (and the Secret of its env file), from what the
rows of jobs/settings.py put into a CronJobManifest, each through its method in the table
KUBERNETES below.

One CronJob per job: `concurrencyPolicy: Forbid`, because a systemd timer never starts a
run while one is going; each fire a Job whose pods never restart in place (`restartPolicy:
Never`), retried by `backoffLimit`. What no scheduler can place on (free GPU memory, GPU
utilisation) is checked in the pod before the job's command (export/gpucheck.py); the
pod's command is then `sh -c`, and a give-up ends the Job at once (podFailurePolicy).
"""

import base64
import re
import stat
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gpuagent.core.errors import InvalidInput
from gpuagent.core.quantities import format_duration
from gpuagent.core.values import NOBODY_ID
from gpuagent.export.engines import APPROXIMATE, EXACT, NOT_AT_ALL, Builder, Mapping
from gpuagent.export.gpucheck import NO_FIT, check_script

API_VERSION = "batch/v1"
DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")  # what a Kubernetes name is made of
MAX_CRONJOB_NAME = 52  # the CronJob controller appends 11 characters to name each Job
GPU_RESOURCE = "nvidia.com/gpu"  # the NVIDIA device plugin's extended resource
GPU_MEMORY_LABEL = "nvidia.com/gpu.memory"  # GPU Feature Discovery: each GPU's total MiB
SHM_VOLUME = "dshm"
# A hostPath's type, from what its path is on the exporting host (host/files.py's
# file_type): the kubelet refuses to start a pod whose path is not of its type, so a
# single file must not be `Directory`. Anything else (nothing there, a socket) gets ""
# (no check), which starts the pod whatever the node has: see docs/cluster.md.
HOST_PATH_TYPES = {stat.S_IFREG: "File", stat.S_IFDIR: "Directory"}
MISSED_FIRE_SECONDS = 120  # --no-persistent: a fire the controller could not start within this is skipped


@dataclass
class CronJobManifest(Builder):
    cron_job: dict[str, Any] = field(default_factory=dict)  # CronJob spec, less the job template
    job: dict[str, Any] = field(default_factory=dict)  # Job spec, less the pod template
    pod: dict[str, Any] = field(default_factory=dict)  # Pod spec, less containers, volumes, security
    container: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)  # requests = limits
    volumes: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)  # (volume, its mount)
    env_secret: str | None = None  # the Secret the container's envFrom reads
    # what each volume's host path is on the exporting host: stat's S_IFMT (S_IFREG,
    # S_IFDIR...) of it, links followed as the kubelet does; absent: nothing there
    host_paths: dict[str, int] = field(default_factory=dict)
    security: dict[str, int] = field(default_factory=dict)
    timeout: int | None = None
    holds_gpus = "the pod"
    priority_words = "set a `priorityClassName` the cluster defines by hand"
    free_vram_words = (
        f"only nodes whose GPUs have that much in all (GPU Feature Discovery's {GPU_MEMORY_LABEL} label), "
        "and a check with nvidia-smi in the pod before the command, which becomes `sh -c` (the image's ENTRYPOINT does not run)"
    )

    def _volume(self, name: str, source: dict[str, Any], mount_path: str, read_only: bool = False) -> None:
        self.volumes.append(({"name": name, **source}, {"name": name, "mountPath": mount_path, **({"readOnly": True} if read_only else {})}))

    # ------------------------------------------------- one method per row of the settings

    def set_image(self, image: str) -> None:
        self.container["image"] = image

    def set_command(self, command: tuple[str, ...]) -> None:
        self.container["args"] = list(command)

    def set_enabled(self, flag: bool) -> None:
        if not flag:
            self.cron_job["suspend"] = True

    def set_persistent(self, flag: bool) -> None:
        if not flag:
            self.cron_job["startingDeadlineSeconds"] = MISSED_FIRE_SECONDS

    def set_gpus(self, count: int) -> None:
        if count:
            self.resources[GPU_RESOURCE] = str(count)

    def set_min_free_vram(self, size: int | None) -> None:
        super().set_min_free_vram(size)
        if size is not None:
            requirement = {"key": GPU_MEMORY_LABEL, "operator": "Gt", "values": [str(self.check.min_free_mib - 1)]}
            terms = [{"matchExpressions": [requirement]}]
            self.pod["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}

    def set_memory(self, size: int | None) -> None:
        if size is not None:
            self.resources["memory"] = quantity(size)

    def set_cpus(self, cores: float | None) -> None:
        if cores is None:
            return
        self.resources["cpu"] = cpu_quantity(cores)
        if cores * 1000 != int(cores * 1000):
            self.notes.approximately(f"Kubernetes counts CPUs in thousandths: {cpu_quantity(cores)} for {cores:g}")

    def set_shm_size(self, size: int | None) -> None:
        if size is not None:
            self._volume(SHM_VOLUME, {"emptyDir": {"medium": "Memory", "sizeLimit": quantity(size)}}, "/dev/shm")
            self.notes.approximately("/dev/shm is a memory emptyDir of that size, which counts toward the memory limit")

    def set_volumes(self, volumes) -> None:
        for number, volume in enumerate(volumes, start=1):
            kind = self.host_paths.get(volume.host)
            host_path = {"path": volume.host, "type": HOST_PATH_TYPES.get(kind, "")}
            self._volume(f"volume-{number}", {"hostPath": host_path}, volume.container, volume.read_only)
            if kind not in HOST_PATH_TYPES:
                self.notes.approximately(
                    f"{volume.host} is not a file or directory on this host: its hostPath checks nothing "
                    "(the node's file or directory is mounted; where there is none, an empty directory is made)"
                )
        if volumes:
            self.notes.approximately("hostPath volumes: the files and directories must be at these paths on every node the pod may run on")

    def set_env(self, pairs: tuple[tuple[str, str], ...]) -> None:
        if pairs:
            self.container["env"] = [{"name": key, "value": value} for key, value in pairs]

    def set_env_file(self, path: str | None) -> None:
        if path is not None:
            self.env_secret = env_secret_name(self.name)
            self.notes.approximately(
                f"a pod cannot read a file of the host: envFrom the Secret {self.env_secret}, made from the file once "
                f"(export --with-secret, or `kubectl create secret generic {self.env_secret} --from-env-file={path}`), not at each run"
            )

    def set_workdir(self, directory: str | None) -> None:
        if directory:
            self.container["workingDir"] = directory

    def set_user(self, user: str | None) -> None:
        if user is None:
            self.security = {"runAsUser": NOBODY_ID, "runAsGroup": NOBODY_ID}
            self.notes.approximately(
                f"gpuagent runs the image's own user unless it is root; a manifest cannot look, so the pod runs as nobody ({NOBODY_ID}): give --user to choose"
            )
            return
        uid, _, gid = user.partition(":")
        if not uid.isdigit() or not (gid.isdigit() or not gid):
            self.notes.refuse(f"Kubernetes takes numeric user and group ids, not {user!r}", "give the job --user UID[:GID], e.g. --user 1000:1000")
        self.security = {"runAsUser": int(uid), **({"runAsGroup": int(gid)} if gid else {})}

    def set_timeout(self, seconds: int | None) -> None:
        self.timeout = seconds

    def set_stop_grace(self, seconds: int) -> None:
        self.pod["terminationGracePeriodSeconds"] = seconds

    def set_retries(self, count: int) -> None:
        self.job["backoffLimit"] = count
        if count and self.timeout is not None:
            self.notes.approximately("Kubernetes retries a pod that ran past its deadline too; gpuagent does not retry a timeout")

    def set_retry_delay(self, seconds: int) -> None:
        if self.job["backoffLimit"]:
            self.notes.approximately(
                f"Kubernetes waits 10s, then twice as long each time (at most 6m), before a retry: not {format_duration(seconds)}"
            )

    # ------------------------------------------------------------------------ rendering

    def documents(self) -> list[dict[str, Any]]:
        container = {"name": "job", **self.container}
        if self.check.needed or self.random_delay:
            container["command"] = ["sh", "-c", self._before_command() + 'exec "$@"', "gpuagent"]
        if self.env_secret:
            container["envFrom"] = [{"secretRef": {"name": self.env_secret}}]
        if self.resources:
            container["resources"] = {"requests": dict(self.resources), "limits": dict(self.resources)}
            if GPU_RESOURCE in self.resources:
                del container["resources"]["requests"][GPU_RESOURCE]  # extended resources: limits alone
        if self.volumes:
            container["volumeMounts"] = [mount for _, mount in self.volumes]
        pod = {"restartPolicy": "Never", **self.pod, "securityContext": dict(self.security), "containers": [container]}
        if self.timeout is not None:
            # per attempt, as --timeout: from the pod's start, so with room for the check and the sleep
            pod["activeDeadlineSeconds"] = self.timeout + self.most_before_command
        if self.volumes:
            pod["volumes"] = [volume for volume, _ in self.volumes]
        job = {**self.job, "template": {"metadata": {"labels": _labels()}, "spec": pod}}
        if self.check.needed:
            job["podFailurePolicy"] = {
                "rules": [{"action": "FailJob", "onExitCodes": {"containerName": "job", "operator": "In", "values": [NO_FIT]}}]
            }
        spec = {"concurrencyPolicy": "Forbid", **self.cron_job, "jobTemplate": {"spec": job}}
        return [{"apiVersion": API_VERSION, "kind": "CronJob", "metadata": {"name": self.name, "labels": _labels()}, "spec": spec}]

    def _before_command(self) -> str:
        text = check_script(self.check, '""') if self.check.needed else ""
        if self.random_delay:
            text += f"sleep $(( $(od -An -N2 -tu2 /dev/urandom) % {self.random_delay + 1} ))\n"
        return text


# How the job maps to Kubernetes: its name, its schedule, and each row of jobs/settings.py by field.
KUBERNETES: dict[str, Mapping[CronJobManifest]] = {
    "name": Mapping(APPROXIMATE, f"`metadata.name`, at most {MAX_CRONJOB_NAME} characters, `_` as `-`"),
    "schedule": Mapping(EXACT, "`schedule` (5 fields), `timeZone`"),
    "image": Mapping(EXACT, "the container's `image`", CronJobManifest.set_image),
    "command": Mapping(EXACT, "the container's `args` (after the image's ENTRYPOINT)", CronJobManifest.set_command),
    "persistent": Mapping(
        EXACT,
        "`startingDeadlineSeconds` unset: the latest missed fire runs (none after over 100 were missed); `--no-persistent`: 120",
        CronJobManifest.set_persistent,
    ),
    "random_delay": Mapping(APPROXIMATE, "a random `sleep` in the pod before the command, holding its GPUs", CronJobManifest.set_random_delay),
    "after": Mapping(
        NOT_AT_ALL,
        "nothing: a CronJob cannot follow another",
        instead="drop --after, and chain the two in a workflow engine (Argo Workflows, Kubeflow Pipelines)",
    ),
    "enabled": Mapping(EXACT, "`suspend: true` when it is false", CronJobManifest.set_enabled),
    "gpus": Mapping(EXACT, '`resources.limits["nvidia.com/gpu"]`', CronJobManifest.set_gpus),
    "gpu_ids": Mapping(APPROXIMATE, "the device plugin picks the GPUs", CronJobManifest.set_gpu_ids),
    "min_free_vram": Mapping(
        APPROXIMATE,
        f"node affinity on the TOTAL memory label `nvidia.com/gpu.memory` (GPU Feature Discovery), and a check with nvidia-smi in the pod: exit {NO_FIT} ends the Job",
        CronJobManifest.set_min_free_vram,
    ),
    "memory": Mapping(EXACT, "memory requests = limits", CronJobManifest.set_memory),
    "cpus": Mapping(EXACT, "cpu requests = limits (in thousandths)", CronJobManifest.set_cpus),
    "shm_size": Mapping(APPROXIMATE, "a memory `emptyDir` of that size at /dev/shm, counted in the memory limit", CronJobManifest.set_shm_size),
    "vram_policy": Mapping(APPROXIMATE, "in the check: wait polls, skip exits 0, fail exits at once", CronJobManifest.set_vram_policy),
    "vram_wait": Mapping(APPROXIMATE, "how long the check polls (inside the deadline)", CronJobManifest.set_vram_wait),
    "max_gpu_util": Mapping(APPROXIMATE, "in the same check", CronJobManifest.set_max_gpu_util),
    "exclusive": Mapping(
        APPROXIMATE, "a GPU the device plugin gives is the pod's alone (unless the cluster time-slices GPUs)", CronJobManifest.set_exclusive
    ),
    "priority": Mapping(APPROXIMATE, "the cluster's own order: a `priorityClassName` the cluster defines, set by hand", CronJobManifest.set_priority),
    "preempt": Mapping(APPROXIMATE, "the `preemptionPolicy` of a PriorityClass the cluster defines", CronJobManifest.set_preempt),
    "volumes": Mapping(
        APPROXIMATE,
        "`hostPath` volumes (type File or Directory, as the path is where it is exported), `readOnly` mounts: the data must be on every node",
        CronJobManifest.set_volumes,
    ),
    "env": Mapping(EXACT, "the container's `env`", CronJobManifest.set_env),
    "env_file": Mapping(APPROXIMATE, "`envFrom` a Secret JOB-env, made from the file once (`export --with-secret`)", CronJobManifest.set_env_file),
    "workdir": Mapping(EXACT, "`workingDir`", CronJobManifest.set_workdir),
    "user": Mapping(APPROXIMATE, "`securityContext.runAsUser`/`runAsGroup`: numeric ids only; by default nobody (65534)", CronJobManifest.set_user),
    "timeout": Mapping(EXACT, "the pod's `activeDeadlineSeconds`, per attempt", CronJobManifest.set_timeout),
    "stop_grace": Mapping(EXACT, "`terminationGracePeriodSeconds`", CronJobManifest.set_stop_grace),
    "retries": Mapping(APPROXIMATE, "`backoffLimit`, `restartPolicy: Never`; a pod over its deadline is retried too", CronJobManifest.set_retries),
    "retry_delay": Mapping(APPROXIMATE, "Kubernetes' back-off: 10s, doubling up to 6m", CronJobManifest.set_retry_delay),
}


def kubernetes_name(name: str) -> str:
    """The CronJob's name: the job's, with '_' as '-' (Kubernetes names are DNS names)."""
    converted = name.replace("_", "-")
    if not DNS_LABEL.fullmatch(converted):
        raise InvalidInput(f"the name {name!r} is not a Kubernetes name: it must end with a letter or digit", "export a job whose name ends with one")
    if len(converted) > MAX_CRONJOB_NAME:
        raise InvalidInput(
            f"the name {name!r} is {len(converted)} characters: a CronJob's name is at most {MAX_CRONJOB_NAME} (its controller appends 11 for each Job)",
            f"export a job whose name is at most {MAX_CRONJOB_NAME} characters",
        )
    return converted


def env_secret_name(name: str) -> str:
    return f"{name}-env"


def env_secret(name: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The Secret holding a job's env file, as `kubectl create secret generic --from-env-file` makes it."""
    data = {key: base64.b64encode(value.encode()).decode() for key, value in pairs}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "labels": _labels()}, "type": "Opaque", "data": data}


def quantity(size: int) -> str:
    """Bytes as a Kubernetes quantity: the largest binary suffix that keeps it whole."""
    for suffix, unit in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def cpu_quantity(cores: float) -> str:
    """Cores as a CPU quantity: '8', '500m' (Kubernetes keeps millicores)."""
    millicores = int((Decimal(str(cores)) * 1000).to_integral_value())
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def _labels() -> dict[str, str]:
    return {"app.kubernetes.io/managed-by": "gpuagent"}
