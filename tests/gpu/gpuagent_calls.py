"""The gpuagent side of the real-GPU check (device_check.py runs it, one call a process,
with the gpuagent under test on PYTHONPATH): the code a run uses, called as a run calls
it, each answer printed as one JSON object.

  nvml                      what NVML says beyond gpuagent's view: MIG mode, both memory
                            figures, versions (read with pynvml directly)
  admission [--holder PID]  gpuagent's admission decision (runs/admission.py) on a fresh
                            read of the GPUs, for needs that fit and needs that do not
  metrics-path JOB RUN      where a run's metrics file lies on the host (host/runfiles.py)
  reported JOB RUN          that file read as a run's end reads it
  classify EXIT FILE        how a run whose command exited EXIT and printed FILE's lines
                            ends (runs/outcome.py, fed line by line as runs/attempt.py does)

Each call imports only the modules it uses: a module that breaks fails its own step alone.
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

GiB = 1 << 30


def nvml() -> dict:
    import pynvml

    def ask(query, *args):
        try:
            answer = query(*args)
        except pynvml.NVMLError as err:
            return {"error": str(err)}
        return answer.decode() if isinstance(answer, bytes) else answer

    def memory(handle, version=None):
        info = ask(pynvml.nvmlDeviceGetMemoryInfo, handle, *(() if version is None else (version,)))
        return info if isinstance(info, dict) else {key: getattr(info, key) for key in ("total", "reserved", "used", "free") if hasattr(info, key)}

    pynvml.nvmlInit()
    try:
        devices = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            mig = ask(pynvml.nvmlDeviceGetMigMode, handle)
            devices.append(
                {
                    "index": index,
                    "uuid": ask(pynvml.nvmlDeviceGetUUID, handle),
                    "name": ask(pynvml.nvmlDeviceGetName, handle),
                    "mig_mode": {"current": mig[0], "pending": mig[1]} if isinstance(mig, list | tuple) else mig,
                    "memory_v1": memory(handle),
                    "memory_v2": memory(handle, pynvml.nvmlMemory_v2),
                    "compute_mode": ask(pynvml.nvmlDeviceGetComputeMode, handle),
                    "persistence_mode": ask(pynvml.nvmlDeviceGetPersistenceMode, handle),
                    "pci_bus_id": ask(lambda h: pynvml.nvmlDeviceGetPciInfo(h).busId, handle),
                    "power_limit_mw": ask(pynvml.nvmlDeviceGetPowerManagementLimit, handle),
                }
            )
        return {
            "driver_version": ask(pynvml.nvmlSystemGetDriverVersion),
            "nvml_version": ask(pynvml.nvmlSystemGetNVMLVersion),
            "cuda_driver_version": ask(pynvml.nvmlSystemGetCudaDriverVersion_v2),
            "devices": devices,
        }
    finally:
        pynvml.nvmlShutdown()


def admission(holder: int | None) -> dict:
    """The decision for a need that fits, one too big for any GPU, one asking for more GPUs
    than there are; with a holder process running, an --exclusive need, refused because of
    it, and admitted when the holder counts as gpuagent's own container (any other process
    on the GPU counts as gpuagent's in both: the holder alone makes the difference)."""
    from gpuagent.host.nvml import nvml_kept_open, read_gpus
    from gpuagent.runs.admission import Needs, decide

    began = time.perf_counter()
    gpus = read_gpus()
    read_seconds = time.perf_counter() - began
    with nvml_kept_open():  # as a run samples its GPUs: NVML stays initialised
        began = time.perf_counter()
        for _ in range(10):
            read_gpus()
        sample_seconds = (time.perf_counter() - began) / 10
    largest = max((gpu.total_bytes or 0 for gpu in gpus), default=0)
    cases = {
        "fits": (Needs(count=1, min_free_vram=GiB), frozenset(), True),
        "too_big": (Needs(count=1, min_free_vram=largest + GiB), frozenset(), False),
        "too_many": (Needs(count=len(gpus) + 1), frozenset(), False),
    }
    if holder is not None:
        others = frozenset(process.pid for gpu in gpus for process in gpu.processes) - {holder}
        cases["exclusive_beside_holder"] = (Needs(count=1, exclusive=True), others, False)
        cases["exclusive_holder_is_own"] = (Needs(count=1, exclusive=True), others | {holder}, True)
    decided = {}
    for name, (needs, own, expected) in cases.items():
        began = time.perf_counter()
        answer = decide(gpus, needs, own)
        decided[name] = {
            "needs": dataclasses.asdict(needs),
            "own_pids": sorted(own),
            "admitted": answer.admitted,
            "expected": expected,
            "gpu_uuids": list(answer.gpu_uuids),
            "reason": answer.reason,
            "decide_seconds": time.perf_counter() - began,
        }
    return {"gpus": len(gpus), "read_gpus_seconds": read_seconds, "read_gpus_kept_open_seconds": sample_seconds, "cases": decided}


def run_files(job: str, run_id: str):
    from gpuagent.core.paths import resolve_paths
    from gpuagent.host.runfiles import RunFiles

    return RunFiles(resolve_paths(), job, run_id, None)


def metrics_path(job: str, run_id: str) -> dict:
    from gpuagent.runs.runmetrics import METRICS_FILE, OUT_DIR

    out = next(host for host, mount in run_files(job, run_id).volumes.items() if mount["bind"] == OUT_DIR)
    return {"path": str(Path(out) / METRICS_FILE)}


def reported(job: str, run_id: str) -> dict:
    found = run_files(job, run_id).reported()
    return {"metrics": found.metrics, "problem": found.problem}


def classified(exit_code: int, output: Path) -> dict:
    from gpuagent.runs.outcome import classify, says_cuda_oom

    lines = output.read_text(errors="replace").splitlines()
    matching = [line for line in lines if says_cuda_oom(line)]
    status, reason = classify(exit_code, False, False, False, bool(matching))
    return {"status": str(status), "reason": reason, "lines": len(lines), "matching_lines": matching[:5]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("nvml")
    commands.add_parser("admission").add_argument("--holder", type=int)
    for name in ("metrics-path", "reported"):
        command = commands.add_parser(name)
        command.add_argument("job")
        command.add_argument("run_id")
    command = commands.add_parser("classify")
    command.add_argument("exit_code", type=int)
    command.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    if args.command == "nvml":
        answer = nvml()
    elif args.command == "admission":
        answer = admission(args.holder)
    elif args.command == "metrics-path":
        answer = metrics_path(args.job, args.run_id)
    elif args.command == "reported":
        answer = reported(args.job, args.run_id)
    else:
        answer = classified(args.exit_code, args.output)
    print(json.dumps(answer, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
