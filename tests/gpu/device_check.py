"""The real-GPU check's driver (device-check.sh runs it; tests/gpu/README.md says how and
where): each step against the machine's real NVIDIA driver and CUDA, timed and bounded,
its findings written into one JSON report. A step that fails, or cannot run here, is
recorded with the reason and the next one runs all the same; the report is rewritten
after every step, so a check cut short still leaves what it saw.

The steps:
  environment     the Python, the machine, nvidia-smi, and what PyTorch sees
  install         gpuagent and its dependencies from the carried wheels (pip --no-index)
  gpus            `gpuagent gpus --json` and `gpuagent gpus`, against the real NVML, and
                  NVML's own answers beside them (MIG mode, both memory figures)
  admission       gpuagent's admission decision on the real GPUs: a need that fits,
                  one too big, one asking for more GPUs than there are
  holder          a plain process holding GPU memory through PyTorch, as `gpus` shows it
  train_evaluate  the example train.py and evaluate.py on CUDA, twice each: checkpoints,
                  the metrics files read as a run's end reads them, the promotion
  cuda_oom        real CUDA out-of-memory errors, classified as a run classifies them

Only the standard library here: this file runs on whatever Python the machine has, and
calls gpuagent (tests/gpu/gpuagent_calls.py) and PyTorch (tests/gpu/torch_work.py) each
in a process of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EXAMPLE = REPO / "images" / "example"
GiB = 1 << 30
HOLD_BYTES = 2 * GiB
TRAIN_STEPS = 100
REQUIRES_PYTHON = (3, 11)  # pyproject.toml's requires-python
# Each step's own limit, in seconds; all of them together are held to --budget besides.
LIMITS = {
    "environment": 60,
    "install": 90,
    "gpus": 60,
    "admission": 45,
    "holder": 90,
    "train_evaluate": 150,
    "cuda_oom": 90,
}
STEPS = tuple(LIMITS)
SPARE = 5  # seconds kept back at the end, for writing the report


class Skipped(Exception):
    """The step cannot run on this machine (no CUDA, no torch): not a failure of gpuagent."""


class Failed(Exception):
    """The step could not go on; what it saw so far stays in its details."""


class Output:
    def __init__(self, returncode: int | None, stdout: str, stderr: str, seconds: float, timed_out: bool) -> None:
        self.returncode, self.stdout, self.stderr, self.seconds, self.timed_out = returncode, stdout, stderr, seconds, timed_out

    def tail(self, lines: int = 15) -> str:
        return "\n".join((self.stdout + self.stderr).splitlines()[-lines:])

    def json(self, what: str) -> dict:
        """stdout as JSON (the whole of it, or its last line), or Failed saying what came instead."""
        if self.timed_out:
            raise Failed(f"{what} ran past its time ({self.seconds:.0f} s) and was killed: {self.tail(5)}")
        if self.returncode != 0:
            raise Failed(f"{what} exited {self.returncode}: {self.tail(8)}")
        try:
            return json.loads(self.stdout)
        except ValueError:
            pass
        try:
            return json.loads(self.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError) as err:
            raise Failed(f"{what} printed no JSON ({err}): {self.tail(5)}") from err


def run(argv: list[str], env: dict[str, str], timeout: float, cwd: Path | None = None) -> Output:
    """`argv` in a session of its own, killed with everything it started after `timeout`."""
    began = time.monotonic()
    process = subprocess.Popen(
        [str(arg) for arg in argv],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=max(timeout, 1))
        timed_out = False
    except subprocess.TimeoutExpired:
        kill_group(process)
        stdout, stderr = process.communicate()
        timed_out = True
    except BaseException:  # SIGTERM (below): nothing of a step outlives the check
        kill_group(process)
        raise
    return Output(process.returncode, stdout, stderr, time.monotonic() - began, timed_out)


def kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


class Step:
    """One step's record in the report: checks, details, timing."""

    def __init__(self, name: str, deadline: float) -> None:
        self.name, self.deadline = name, deadline
        self.checks: list[dict] = []
        self.details: dict = {}

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def check(self, what: str, ok: bool, seen: object = None) -> bool:
        self.checks.append({"check": what, "ok": bool(ok), "seen": seen})
        return bool(ok)

    def run(self, argv: list[str], env: dict[str, str], cwd: Path | None = None, limit: float | None = None) -> Output:
        """`argv`, within what is left of the step (and `limit` seconds, if given)."""
        if self.left() < 1:
            raise Failed(f"no time left in the step for {' '.join(Path(str(arg)).name for arg in argv[1:3])}")
        return run(argv, env, self.left() if limit is None else min(limit, self.left()), cwd)


class DeviceCheck:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.report_path = Path(args.report)
        self.ends = time.monotonic() + args.budget
        self.scratch = Path(tempfile.mkdtemp(prefix="gpuagent-device-check-"))
        # absolute, not resolved: the steps run elsewhere, and a virtualenv's python is a link
        self.python = os.path.abspath(shutil.which(args.python) or args.python)
        self.site: Path | None = None  # where the wheels were installed
        # Which gpuagent the steps run: the installed wheel, or (rehearsal, a failed
        # install, a wheel older than the checkout) the checkout's, which the report is for.
        self.run_checkout = True
        self.torch: dict = {}
        self.report: dict = {
            "check": "gpuagent on a real GPU (tests/gpu/device-check.sh)",
            "mode": "rehearsal" if args.rehearse else "device",
            "started_at": now(),
            "finished_at": None,
            "budget_seconds": args.budget,
            "host": platform.node(),
            "summary": {},
            "steps": {name: {"status": "not run", "reason": "the check ended before this step"} for name in STEPS},
        }

    # the environments of the processes the steps start

    def torch_env(self) -> dict[str, str]:
        """The machine's own Python and packages, as a training job has them."""
        return {**os.environ, "PYTHONUNBUFFERED": "1"}

    def agent_env(self) -> dict[str, str]:
        """gpuagent under test, first on the path, and every directory it writes in scratch."""
        path = [str(HERE)]
        if self.run_checkout:
            path.append(str(REPO))
        if self.site is not None:
            path.append(str(self.site))
        if self.args.rehearse and os.environ.get("PYTHONPATH"):
            path.append(os.environ["PYTHONPATH"])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "COLUMNS": "160"}
        for variable in ("CONFIG", "UNIT", "STATE", "RUNTIME", "TEXTFILE", "RUN_FILES"):
            directory = self.scratch / "gpuagent" / variable.lower()
            directory.mkdir(parents=True, exist_ok=True)
            env[f"GPUAGENT_{variable}_DIR"] = str(directory)
        return env

    # In scratch, not the checkout: `python -m` and `-c` put the working directory first
    # on sys.path, where the checkout's gpuagent would hide the installed one.
    def gpuagent(self, step: Step, *args: str) -> Output:
        return step.run([self.python, "-m", "gpuagent", *args], self.agent_env(), cwd=self.scratch)

    def call(self, step: Step, *args: str) -> dict:
        """One call of gpuagent_calls.py, its JSON answer."""
        answer = step.run([self.python, HERE / "gpuagent_calls.py", *args], self.agent_env(), cwd=self.scratch)
        return answer.json(f"gpuagent_calls.py {args[0]}")

    def need_cuda(self) -> None:
        if not self.torch.get("cuda"):
            raise Skipped(self.torch.get("reason") or "PyTorch could not be asked about CUDA (see the environment step)")

    # the run of the steps

    def run_all(self) -> None:
        try:
            for name in STEPS:
                self.run_step(name, getattr(self, f"step_{name}"))
                if name == "install":
                    self.figure("gpuagent_ran_from", self.gpuagent_origin())
        finally:
            self.figure("steps", {name: step["status"] for name, step in self.report["steps"].items()})
            self.report["finished_at"] = now()
            self.write()
            shutil.rmtree(self.scratch, ignore_errors=True)

    def run_step(self, name: str, body) -> None:
        began = time.monotonic()
        left = self.ends - began - SPARE
        step = Step(name, began + min(LIMITS[name], left))
        record: dict = {"status": "ok", "reason": None}
        try:
            if left < 3:
                raise Skipped(f"the check's budget of {self.args.budget} s was spent before this step")
            body(step)
            failing = [check["check"] for check in step.checks if not check["ok"]]
            if failing:
                record.update(status="failed", reason="not as expected: " + "; ".join(failing))
        except Skipped as err:
            record.update(status="skipped", reason=str(err))
        except Failed as err:
            record.update(status="failed", reason=str(err))
        except Exception as err:  # noqa: BLE001 - a broken step is recorded; the next one runs
            record.update(status="failed", reason=f"{type(err).__name__}: {err}", traceback=traceback.format_exc()[-2000:])
        except BaseException:  # SIGTERM: the check ends here, saying where
            record.update(
                status="failed",
                reason="the check was stopped (SIGTERM) during this step",
                seconds=round(time.monotonic() - began, 2),
                details=step.details,
            )
            self.report["steps"][name] = record
            raise
        record.update(
            seconds=round(time.monotonic() - began, 2), limit_seconds=round(step.deadline - began, 1), checks=step.checks, details=step.details
        )
        self.report["steps"][name] = record
        print(
            f"device-check: {name}: {record['status']} in {record['seconds']} s{'' if not record['reason'] else ': ' + record['reason'][:300]}",
            flush=True,
        )
        self.write()

    def gpuagent_origin(self) -> str:
        if self.site is None:
            return "the checkout, on this Python's own packages (" + ("rehearsal" if self.args.rehearse else "the install failed") + ")"
        if self.run_checkout:
            stale = self.report["steps"]["install"]["details"].get("wheel_differs_from_checkout", [])
            return f"the checkout, on the installed dependencies: the wheel differs from it in {len(stale)} file(s) (rebuild it)"
        return "the installed wheel"

    def write(self) -> None:
        self.report_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.report_path.with_name(f".{self.report_path.name}.partial")
        partial.write_text(json.dumps(self.report, indent=2, default=str) + "\n")
        os.replace(partial, self.report_path)

    def figure(self, name: str, value: object) -> None:
        """A number for the README's "Real GPU" paragraph."""
        self.report["summary"][name] = value

    # the steps

    def step_environment(self, step: Step) -> None:
        version = run([self.python, "-c", "import platform, sys; print(platform.python_version(), sys.executable)"], self.torch_env(), 20)
        step.details.update(
            python=version.stdout.strip() or version.tail(3),
            machine=platform.machine(),
            system=platform.platform(),
            cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
        )
        smi = shutil.which("nvidia-smi")
        if smi and not self.args.rehearse:
            query = "--query-gpu=index,uuid,name,memory.total,memory.used,memory.free,driver_version,mig.mode.current"
            listing = step.run([smi, query, "--format=csv,noheader,nounits"], self.torch_env(), limit=15)
            step.details["nvidia_smi"] = listing.stdout.strip().splitlines() if listing.returncode == 0 else listing.tail(5)
            apps = step.run([smi, "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"], self.torch_env(), limit=15)
            step.details["nvidia_smi_compute_apps"] = apps.stdout.strip().splitlines() if apps.returncode == 0 else apps.tail(5)
        else:
            step.details["nvidia_smi"] = "not asked (rehearsal)" if smi else "not on PATH"
        self.torch = step.run([self.python, HERE / "torch_work.py", "probe"], self.torch_env()).json("torch_work.py probe")
        step.details["torch"] = self.torch
        step.details["gpuagent_source"] = source_digest(REPO / "gpuagent")
        commit = run(["git", "-C", REPO, "rev-parse", "HEAD"], self.torch_env(), 10) if shutil.which("git") else None
        step.details["commit"] = commit.stdout.strip() if commit is not None and commit.returncode == 0 else None
        self.figure("gpuagent_source", step.details["gpuagent_source"])
        self.figure("python", step.details["python"].split(" ")[0])
        self.figure("torch", self.torch.get("torch"))
        self.figure("cuda_devices", [device["name"] for device in self.torch.get("devices", [])])

    def step_install(self, step: Step) -> None:
        if self.args.rehearse:
            raise Skipped("rehearsal: the checkout's gpuagent runs on this Python's own packages; no wheels are installed")
        wheels = Path(self.args.wheels)
        found = sorted(wheels.glob("*.whl")) if wheels.is_dir() else []
        if not found:
            raise Failed(f"no wheels in {wheels}: run tests/gpu/build-wheels.sh where pip reaches PyPI, and carry that folder (tests/gpu/README.md)")
        step.details["wheels"] = {"folder": str(wheels), "count": len(found), "bytes": sum(path.stat().st_size for path in found)}
        python = json.loads(run([self.python, "-c", PYTHON_TAGS], self.torch_env(), 20).stdout or "{}")
        step.details["python"] = python
        if tuple(python.get("version", (0, 0))) < REQUIRES_PYTHON:
            raise Failed(
                f"{self.python} is Python {'.'.join(map(str, python.get('version', ())))}: gpuagent needs {'.'.join(map(str, REQUIRES_PYTHON))} or newer (pyproject.toml)"
            )
        built_for = sorted({tag for path in found for tag in wheel_tags(path.name)[0].split(".") if tag.startswith("cp")})
        platforms = sorted({tag for path in found for tag in wheel_tags(path.name)[2].split(".") if tag != "any"})
        step.details["wheels"].update(cpython=built_for, platforms=platforms)
        mine = f"cp{python['version'][0]}{python['version'][1]}"
        if built_for and mine not in built_for:
            raise Failed(
                f"the wheels in {wheels} were built for {', '.join(built_for)}, and this is {mine} ({self.python}):"
                f" run `tests/gpu/build-wheels.sh --python {python['version'][0]}.{python['version'][1]}` and carry the folder again"
            )
        if platforms and not any(tag.endswith(python["machine"]) for tag in platforms):
            raise Failed(f"the wheels in {wheels} are for {', '.join(platforms)}, and this machine is {python['machine']}")
        self.site = self.scratch / "site"
        pip = [self.python, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", wheels, "--target", self.site]
        installed = step.run([*pip, "--no-compile", "--disable-pip-version-check", "gpuagent"], self.torch_env())
        step.details["pip_seconds"] = round(installed.seconds, 2)
        if installed.returncode != 0:
            self.site = None
            raise Failed(f"pip could not install gpuagent from {wheels} for {mine}: {installed.tail(8)}")
        imports = "import gpuagent, typer, rich, pynvml, tomli_w, prometheus_client, yaml, apprise; print(gpuagent.__file__)"
        probe = step.run([self.python, "-c", imports], {**self.agent_env(), "PYTHONPATH": str(self.site)}, cwd=self.scratch)
        step.check(
            "gpuagent and every dependency import from the installed wheels", probe.returncode == 0 and str(self.site) in probe.stdout, probe.tail(3)
        )
        stale = stale_sources(found, REPO / "gpuagent")
        step.details["wheel_differs_from_checkout"] = stale[:20]
        self.run_checkout = bool(stale)

    def step_gpus(self, step: Step) -> None:
        timings = []
        for _ in range(3):
            listed = self.gpuagent(step, "gpus", "--json")
            timings.append(round(listed.seconds, 3))
        answer = listed.json("gpuagent gpus --json")
        step.details["gpus_json"] = answer
        step.details["gpus_json_seconds"] = timings
        gpus = answer.get("gpus", [])
        step.check("NVML answered (no nvml_error)", answer.get("nvml_error") is None, answer.get("nvml_error"))
        step.check("at least one GPU", len(gpus) >= 1, len(gpus))
        step.check("every GPU read without error", all(gpu.get("error") is None for gpu in gpus), [gpu.get("error") for gpu in gpus])
        step.check(
            "every GPU has a UUID GPU-... and a name", all(str(gpu.get("uuid")).startswith(("GPU-", "MIG-")) and gpu.get("name") for gpu in gpus)
        )
        step.check(
            "memory total = used + free, and total > 0",
            all(gpu.get("memory_total_bytes") and gpu["memory_total_bytes"] == gpu["memory_used_bytes"] + gpu["memory_free_bytes"] for gpu in gpus),
            [(gpu.get("memory_total_bytes"), gpu.get("memory_used_bytes"), gpu.get("memory_free_bytes")) for gpu in gpus],
        )
        shown = self.gpuagent(step, "gpus")
        step.details["gpus_text"] = (shown.stdout + shown.stderr).splitlines()[:40]
        step.check("`gpuagent gpus` exits 0", shown.returncode == 0, shown.returncode)
        nvml = self.call(step, "nvml")
        step.details["nvml"] = nvml
        for device in nvml.get("devices", []):
            mig = device.get("mig_mode")
            if isinstance(mig, dict) and mig.get("current"):
                step.details.setdefault("findings", []).append(
                    f"GPU {device['index']} has MIG enabled: gpuagent reads the whole GPU, not its MIG instances"
                )
        self.figure("driver", answer.get("driver_version"))
        self.figure("gpus", [(gpu.get("name"), gpu.get("memory_total_bytes")) for gpu in gpus])
        self.figure("mig_mode", [device.get("mig_mode") for device in nvml.get("devices", [])])
        self.figure("gpus_json_seconds", timings)

    def step_admission(self, step: Step) -> None:
        decided = self.call(step, "admission")
        step.details.update(decided)
        for name, case in decided["cases"].items():
            step.check(f"{name}: {'admitted' if case['expected'] else 'refused'}", case["admitted"] == case["expected"], case["reason"])
        self.figure(
            "read_gpus_seconds", {"with_init": round(decided["read_gpus_seconds"], 4), "kept_open": round(decided["read_gpus_kept_open_seconds"], 5)}
        )
        self.figure("admission", {name: case["reason"] for name, case in decided["cases"].items()})

    def step_holder(self, step: Step) -> None:
        self.need_cuda()
        errors = self.scratch / "holder.stderr"  # a file, not a pipe nobody reads until the end
        with errors.open("w") as stderr:
            holder = subprocess.Popen(
                [self.python, str(HERE / "torch_work.py"), "hold", str(HOLD_BYTES)],
                env=self.torch_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                start_new_session=True,
            )
        try:
            held = read_line(holder, min(60, step.left()))
            if held is None:
                kill_group(holder)
                holder.wait()
                raise Failed(f"the holder did not report its allocation: {errors.read_text()[-1500:]}")
            held = json.loads(held)
            step.details["holder"] = held
            seen = None
            for _ in range(10):  # NVML's process list can trail the allocation by a moment
                answer = self.gpuagent(step, "gpus", "--json").json("gpuagent gpus --json")
                processes = [process for gpu in answer["gpus"] for process in gpu["processes"]]
                seen = next((process for process in processes if process["pid"] == held["pid"]), None)
                if seen is not None:
                    break
                time.sleep(0.5)
            step.details["processes_seen"] = processes
            step.check(
                "gpus lists the holder by its PID",
                seen is not None,
                {"holder": held["pid"], "nspid": held["nspid"], "listed": [p["pid"] for p in processes]},
            )
            if seen is not None:
                step.check(
                    "gpus gives the holder's memory, at least what it allocated", (seen["used_bytes"] or 0) >= held["bytes"], seen["used_bytes"]
                )
                step.check(
                    "a process outside docker has no container and no job (shown as another's)",
                    seen["container_id"] is None and seen["job"] is None,
                    seen,
                )
                self.figure("holder", {"allocated": held["bytes"], "nvml_used_bytes": seen["used_bytes"], "pid_matches": True})
            else:
                self.figure(
                    "holder", {"allocated": held["bytes"], "pid_matches": False, "listed": [p["pid"] for p in processes], "nspid": held["nspid"]}
                )
            shown = self.gpuagent(step, "gpus")
            step.details["gpus_text"] = (shown.stdout + shown.stderr).splitlines()[:40]
            decided = self.call(step, "admission", "--holder", str(held["pid"]))
            step.details["admission"] = decided
            for name in ("exclusive_beside_holder", "exclusive_holder_is_own"):
                case = decided["cases"][name]
                step.check(f"{name}: {'admitted' if case['expected'] else 'refused'}", case["admitted"] == case["expected"], case["reason"])
        finally:
            stop(holder)

    def step_train_evaluate(self, step: Step) -> None:
        if self.args.train_device == "cuda":
            self.need_cuda()
        work = self.scratch / "example"
        env = {**self.torch_env(), "CHECKPOINT_DIR": str(work / "checkpoints"), "LOG_DIR": str(work / "logs"), "STEPS": str(TRAIN_STEPS)}
        if self.args.train_device == "cpu":
            env["DEVICE"] = "cpu"
        runs = []
        for number, script in enumerate(("train.py", "evaluate.py", "train.py", "evaluate.py"), 1):
            job = script[: -len(".py")]
            run_id = f"check{number}"
            metrics_file = self.call(step, "metrics-path", job, run_id)["path"]
            output = step.run([self.python, EXAMPLE / script], {**env, "GPUAGENT_METRICS_FILE": metrics_file}, cwd=work.parent)
            printed = output.json(f"{script} (run {number})")
            reported = self.call(step, "reported", job, run_id)
            runs.append({"script": script, "seconds": round(output.seconds, 2), "printed": printed, "reported": reported})
            step.details["runs"] = runs
            step.check(f"run {number}, {script}: its metrics file reads without a problem", reported["problem"] is None, reported["problem"])
        first, judged, second, rejudged = runs
        on = first["printed"]["device"]
        if self.args.train_device == "cpu":
            step.check("train.py trained on the CPU, as --train-device asked", on == "cpu", on)
        else:
            step.check("train.py trained on the GPU", on != "cpu", on)
        step.check("train.py wrote its checkpoint", (work / "checkpoints" / first["printed"]["checkpoint"]).is_file(), first["printed"]["checkpoint"])
        step.check(
            "train.py reported train_loss, val_loss, steps, seconds_per_step",
            set(first["reported"]["metrics"] or {}) == {"train_loss", "val_loss", "steps", "seconds_per_step"},
            first["reported"]["metrics"],
        )
        step.check("evaluate.py promoted the first checkpoint (no best yet)", judged["reported"]["metrics"].get("promoted") == 1, judged["printed"])
        step.check("best.pt written", (work / "checkpoints" / "best.pt").is_file())
        step.check(
            "the second train.py resumed from the first one's checkpoint",
            (second["printed"]["start_step"], second["printed"]["resumed_from"]) == (TRAIN_STEPS, first["printed"]["checkpoint"]),
            (second["printed"]["start_step"], second["printed"]["resumed_from"]),
        )
        decision = rejudged["reported"]["metrics"] or {}
        step.check("the second evaluate.py decided (promoted 0 or 1)", decision.get("promoted") in (0, 1), rejudged["printed"])
        lower = decision.get("eval_loss", 0) < (judged["reported"]["metrics"] or {}).get("eval_loss", 0)
        step.check(
            "it promotes exactly when the new checkpoint's held-out loss is lower than the best's", decision.get("promoted") == int(lower), decision
        )
        self.figure(
            "train",
            {
                "device": on,
                "steps": TRAIN_STEPS,
                "seconds_per_step": first["printed"]["seconds_per_step"],
                "peak_gpu_memory_bytes": first["printed"]["peak_gpu_memory_bytes"],
                "run_seconds": [run["seconds"] for run in runs],
                "second_evaluation_promoted": decision.get("promoted"),
            },
        )

    def step_cuda_oom(self, step: Step) -> None:
        self.need_cuda()
        for kind in ("oom-total", "oom-fill"):
            output = step.run([self.python, HERE / "torch_work.py", kind], self.torch_env())
            if output.timed_out:
                raise Failed(f"torch_work.py {kind} ran past its time: {output.tail(5)}")
            printed = self.scratch / f"{kind}.log"
            printed.write_text(output.stdout + output.stderr)
            verdict = self.call(step, "classify", str(output.returncode), str(printed))
            step.details[kind] = {"exit_code": output.returncode, "seconds": round(output.seconds, 2), "output_tail": output.tail(6), **verdict}
            step.check(f"{kind}: the script failed", output.returncode not in (0, None), output.returncode)
            step.check(f"{kind}: classified cuda-oom, as a run would be", verdict["status"] == "cuda-oom", verdict["status"])
            self.figure(f"cuda_oom_{kind.split('-')[1]}", {"status": verdict["status"], "line": (verdict["matching_lines"] or [None])[0]})


# Run by the Python under test: its version, and the platform its wheels must carry.
PYTHON_TAGS = "import json, platform, sys; print(json.dumps({'version': list(sys.version_info[:2]), 'machine': platform.machine()}))"


def wheel_tags(filename: str) -> tuple[str, str, str]:
    """A wheel file's (python, abi, platform) tags: name-version[-build]-python-abi-platform.whl."""
    parts = filename[: -len(".whl")].split("-")
    return parts[-3], parts[-2], parts[-1]


def source_digest(package: Path) -> str:
    """A short hash of the checkout's gpuagent sources: which code a report speaks for."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def stale_sources(wheels: list[Path], package: Path) -> list[str]:
    """The files of the gpuagent wheel that differ from the checkout's `package` (or are
    missing from either side)."""
    wheel = next((path for path in wheels if path.name.startswith("gpuagent-")), None)
    if wheel is None:
        return ["no gpuagent wheel"]
    with zipfile.ZipFile(wheel) as archive:
        packed = {
            name: hashlib.sha256(archive.read(name)).hexdigest()
            for name in archive.namelist()
            if name.startswith("gpuagent/") and name.endswith(".py")
        }
    here = {
        f"gpuagent/{path.relative_to(package).as_posix()}": hashlib.sha256(path.read_bytes()).hexdigest()
        for path in package.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    return sorted(name for name in packed.keys() | here.keys() if packed.get(name) != here.get(name))


def read_line(process: subprocess.Popen, timeout: float) -> str | None:
    """The first line `process` prints within `timeout` seconds, or None."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines and lines[0].strip() else None


def stop(process: subprocess.Popen) -> None:
    """Close its stdin (the holder's signal to end), then kill it if it lingers."""
    try:
        process.stdin.close()
        process.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        kill_group(process)
        process.wait()


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="gpuagent on a real GPU: the driver of tests/gpu/device-check.sh")
    parser.add_argument("--report", required=True, help="the JSON report to write")
    parser.add_argument("--wheels", default=str(REPO / ".cache" / "device-wheels"), help="the folder tests/gpu/build-wheels.sh filled")
    parser.add_argument("--python", default=sys.executable, help="the Python that has PyTorch, and runs gpuagent")
    parser.add_argument("--budget", type=int, default=300, help="seconds for all the steps together")
    parser.add_argument("--rehearse", action="store_true", help="no wheels: the checkout's gpuagent on this Python's packages")
    parser.add_argument("--train-device", choices=("cuda", "cpu"), default="cuda", help="cpu: rehearse train.py and evaluate.py without a GPU")
    check = DeviceCheck(parser.parse_args(argv))
    # A SIGTERM (device-check.sh's outer limit) ends the check through its finally
    # clauses: the processes of the step in flight are killed and the report is written.
    # Those processes have sessions of their own, so no one else would end them.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    check.run_all()
    failed = [name for name, step in check.report["steps"].items() if step["status"] == "failed"]
    print(json.dumps(check.report["summary"], indent=1, default=str))
    print(f"device-check: report in {check.report_path}; {len(failed)} step(s) failed{': ' + ', '.join(failed) if failed else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
