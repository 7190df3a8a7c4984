"""The PyTorch side of the real-GPU check (device_check.py runs it with the machine's own
Python and PyTorch, never gpuagent's packages): what a training job does to a GPU.

  probe          torch's version and the CUDA devices it sees, as JSON
  hold BYTES     allocate BYTES of GPU memory, print a JSON line (pid, bytes), hold it
                 until stdin closes
  oom-total      ask for more memory than the GPU has, in one allocation: the error
                 goes out uncaught, as a training script's would
  oom-fill       fill the GPU in chunks until an allocation fails, uncaught likewise
"""

import json
import os
import sys

GiB = 1 << 30


def probe() -> dict:
    try:
        import torch
    except ImportError as err:
        return {"torch": None, "cuda": False, "reason": f"torch is not importable by {sys.executable}: {err}"}
    found = {"torch": torch.__version__, "torch_cuda": torch.version.cuda, "cuda": torch.cuda.is_available()}
    if not found["cuda"]:
        found["reason"] = f"torch {torch.__version__} sees no CUDA device (torch.cuda.is_available() is False)"
        return found
    found["devices"] = [
        {"name": torch.cuda.get_device_name(index), "total_memory": torch.cuda.get_device_properties(index).total_memory}
        for index in range(torch.cuda.device_count())
    ]
    return found


def namespace_pids() -> str:
    """This process's PID in each PID namespace it is in, outermost first (NSpid): NVML
    names processes by the PID the driver's namespace sees."""
    with open("/proc/self/status") as status:
        return next((line.split(":", 1)[1].strip() for line in status if line.startswith("NSpid:")), "")


def hold(size: int) -> None:
    import torch

    block = torch.empty(size, dtype=torch.uint8, device="cuda")
    block.fill_(1)  # touched, not only reserved
    torch.cuda.synchronize()
    held = {"pid": os.getpid(), "nspid": namespace_pids(), "bytes": block.numel(), "torch_reserved": torch.cuda.memory_reserved()}
    print(json.dumps(held), flush=True)
    sys.stdin.read()  # until the check closes it


def oom_total() -> None:
    import torch

    total = torch.cuda.get_device_properties(0).total_memory
    print(f"asking for {(total + GiB) / GiB:.1f} GiB on a GPU of {total / GiB:.1f} GiB", flush=True)
    torch.empty(total + GiB, dtype=torch.uint8, device="cuda")


def oom_fill() -> None:
    import torch

    total = torch.cuda.get_device_properties(0).total_memory
    chunk = max(GiB, total // 64)
    print(f"filling a GPU of {total / GiB:.1f} GiB in chunks of {chunk / GiB:.1f} GiB", flush=True)
    held = []
    for _ in range(total // chunk + 2):
        held.append(torch.empty(chunk, dtype=torch.uint8, device="cuda"))
    print(f"allocated {len(held) * chunk / GiB:.1f} GiB and no error: more than the GPU holds", flush=True)


def main(argv: list[str]) -> int:
    if argv == ["probe"]:
        print(json.dumps(probe()))
    elif len(argv) == 2 and argv[0] == "hold" and argv[1].isdigit():
        hold(int(argv[1]))
    elif argv == ["oom-total"]:
        oom_total()
    elif argv == ["oom-fill"]:
        oom_fill()
    else:
        print(f"usage: {sys.argv[0]} probe | hold BYTES | oom-total | oom-fill", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
