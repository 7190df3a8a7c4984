"""What a container's output costs through gpuagent: `gpuagent run` of a job whose
container writes a lot against `docker run --rm IMAGE sh -c ...` writing the same, both
to /dev/null, interleaved; and the line splitting alone, in-process, against the
splitting gpuagent had before (`pending += chunk`, re-split each chunk: quadratic).

    python bench/output_lines.py [--runs 5] [--image gpuagent-test/busybox:latest] [--skip-300mb]

Needs a running dockerd and the image (tests/setup-host.sh builds it). Prints medians.
Not a test: it asserts nothing.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gpuagent.host.output import split_lines  # noqa: E402
from tests.support.agent import AgentHome  # noqa: E402

MB = 1_000_000
WORKLOADS = {
    "20 MB, no newline": f"head -c {20 * MB} /dev/zero | tr '\\0' x",
    "300 MB, no newline": f"head -c {300 * MB} /dev/zero | tr '\\0' x",
    "1,000,000 short lines": "seq 1000000",
}
CHUNK = 32 * 1024  # about what docker's attach stream hands over at a time


def split_lines_before(chunks: Iterable[bytes]) -> Iterator[str]:
    """The splitting this replaced, kept here as the baseline."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", errors="replace")
    if pending:
        yield pending.decode("utf-8", errors="replace")


def in_process() -> None:
    data = {
        "20 MB, no newline": b"x" * (20 * MB),
        "1,000,000 short lines": b"".join(b"%d\n" % i for i in range(1, 1_000_001)),
    }
    for name, payload in data.items():
        chunks = [payload[i : i + CHUNK] for i in range(0, len(payload), CHUNK)]
        for label, split in (("before", split_lines_before), ("now", split_lines)):
            started = time.perf_counter()
            for _ in split(chunks):
                pass
            print(f"split alone, {name:22s} {label:6s}: {(time.perf_counter() - started) * 1e3:9.1f} ms")


def timed_process(command: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one process, its output thrown away."""
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def through_docker(directory: Path, image: str, runs: int, workloads: dict[str, str]) -> None:
    home = AgentHome(directory / "agent")
    for index, (name, script) in enumerate(workloads.items()):
        job = f"out{index}"
        home.write_job(job, image, ["sh", "-c", script])
        agent = home.command("run", job)
        plain = ["docker", "run", "--rm", image, "sh", "-c", script]
        ours, theirs = [], []
        for _ in range(runs):  # interleaved, so a busy moment costs both alike
            ours.append(timed_process(agent, home.env))
            theirs.append(timed_process(plain, os.environ.copy()))
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(f"{name:22s} gpuagent run {statistics.median(ours):7.2f} s   docker run {statistics.median(theirs):7.2f} s   ratio {ratio:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--image", default="gpuagent-test/busybox:latest")
    parser.add_argument("--skip-300mb", action="store_true", help="for a gpuagent whose splitting is quadratic (it does not finish)")
    args = parser.parse_args()
    workloads = {name: script for name, script in WORKLOADS.items() if not (args.skip_300mb and name.startswith("300"))}
    in_process()
    with tempfile.TemporaryDirectory() as scratch:
        through_docker(Path(scratch), args.image, args.runs, workloads)


if __name__ == "__main__":
    main()
