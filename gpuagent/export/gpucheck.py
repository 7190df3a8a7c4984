"""The GPU admission of an exported job, as a shell check that runs before its command.

No cluster scheduler can place a job on free GPU memory or on a GPU's utilisation: Slurm
and Kubernetes hand out whole GPUs, whoever else is using them (NVIDIA/k8s-device-plugin
#59). So the exported job checks the GPUs it was given with nvidia-smi, as gpuagent checks
them with NVML, and follows the job's --vram-policy: wait (poll until --vram-wait is
spent), skip (exit 0, saying so) or fail. A run that gives up exits NO_FIT, a code of its
own, so the scheduler's record tells it from a failure of the job's command. The text is
POSIX sh: it runs in the batch script of Slurm and in the container of a Kubernetes pod,
where bash may be missing.
"""

from dataclasses import dataclass

NO_FIT = 75  # EX_TEMPFAIL: the GPUs lack the free memory or are too busy; another fire may fit
POLL_SECONDS = 15
QUERY = "nvidia-smi --query-gpu=index,memory.free,utilization.gpu --format=csv,noheader,nounits"


@dataclass
class GpuCheck:
    """What the job's rows ask of its GPUs (filled in by each engine's builder)."""

    min_free_mib: int | None = None
    max_util: int | None = None
    policy: str = "wait"  # "wait", "skip" or "fail"
    wait_seconds: int = 0

    @property
    def needed(self) -> bool:
        return self.min_free_mib is not None or self.max_util is not None

    @property
    def most_seconds(self) -> int:
        """The longest the check can take: what a time limit must leave room for."""
        return self.wait_seconds + POLL_SECONDS if self.needed and self.policy == "wait" else 0

    def words(self) -> str:
        wants = []
        if self.min_free_mib is not None:
            wants.append(f"at least {self.min_free_mib} MiB free")
        if self.max_util is not None:
            wants.append(f"at most {self.max_util}% busy")
        return " and ".join(wants)


def check_script(check: GpuCheck, gpus: str) -> str:
    """Shell lines that return only once the GPUs fit, or exit. `gpus` is a shell word for
    the comma-separated indexes to check ("" for every GPU nvidia-smi shows)."""
    refused = []
    if check.min_free_mib is not None:
        refused.append(f"$2 !~ /^[0-9]+$/ || $2 < {check.min_free_mib}")
    if check.max_util is not None:
        refused.append(f"$3 !~ /^[0-9]+$/ || $3 > {check.max_util}")
    condition = " || ".join(f"({part})" for part in refused)
    give_up = {
        "skip": 'echo "gpuagent: skipped: the GPUs do not have {words}" >&2\n    exit 0',
        "fail": 'echo "gpuagent: the GPUs do not have {words}" >&2\n    exit {code}',
        "wait": (
            'if [ "$(date +%s)" -ge "$gpuagent_deadline" ]; then\n'
            '        echo "gpuagent: the GPUs did not have {words} within {wait}s" >&2\n'
            "        exit {code}\n"
            "    fi\n"
            "    sleep {poll}"
        ),
    }[check.policy].format(words=check.words(), code=NO_FIT, wait=check.wait_seconds, poll=POLL_SECONDS)
    return (
        "# The GPU admission gpuagent does with NVML, with nvidia-smi: no scheduler places a job on free memory.\n"
        "gpuagent_gpus_fit() {\n"
        f"    {QUERY} 2>/dev/null | awk -F', *' -v want={gpus} '\n"
        '        BEGIN { n = split(want, ids, ","); for (i = 1; i <= n; i++) wanted[ids[i]] = 1 }\n'
        f'        want == "" || ($1 in wanted) {{ seen++; if ({condition}) refused++ }}\n'
        "        END { exit !(seen > 0 && !refused) }'\n"
        "}\n"
        + ("gpuagent_deadline=$(( $(date +%s) + " + str(check.wait_seconds) + " ))\n" if check.policy == "wait" else "")
        + "until gpuagent_gpus_fit; do\n"
        f"    {give_up}\n"
        "done\n"
    )
