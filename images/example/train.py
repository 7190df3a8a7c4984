"""gpuagent's example training job: a small PyTorch model that picks up where it left off.

Each run trains a multilayer perceptron for STEPS more steps on a regression task it
generates itself (a fixed random "teacher" network plus noise, from SEED, so nothing is
downloaded and every run sees the same data), then:

- saves a checkpoint, CHECKPOINT_DIR/step-<global step>.pt (model, optimiser, step),
  written to a temporary name and renamed, so a run killed half-way never leaves a
  broken one; keeps the newest KEEP;
- writes the run's metrics as JSON to LOG_DIR/metrics-step-<global step>.json and prints
  the same JSON as its last line (gpuagent puts it in the journal);
- reports its numbers to gpuagent when it names a metrics file (GPUAGENT_METRICS_FILE):
  train_loss, val_loss (on a held-out split: rows drawn from the same task that training
  never sees), steps (the global step) and seconds_per_step; gpuagent keeps them in the
  run's history, and tells the jobs that run after this one (evaluate.py).

The next run resumes from the newest checkpoint: the model and the optimiser's state are
restored, and batch i is drawn from a generator seeded by (SEED, i), so training in two
runs of N steps gives exactly the model of one run of 2N steps (on the same device).
It trains on CUDA when a GPU is visible (gpuagent gives the container the GPU it
admitted), else on the CPU.

Settings, from the environment: CHECKPOINT_DIR (/checkpoints), LOG_DIR (/logs),
STEPS (300), BATCH_SIZE (256), LEARNING_RATE (0.002), SEED (0), KEEP (3), DEVICE (cuda
when available, else cpu), THREADS (1: the CPU threads torch uses; for a model this small
more threads gain little, and on a busy host they slow every step down many times over).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import torch
from torch import nn

FEATURES = 32
HIDDEN = 256
SAMPLES = 8192
HELDOUT_SAMPLES = 2048
HELDOUT_STREAM = 2**40  # the held-out rows' generator: seeded SEED + this, never training's
CHECKPOINT_NAME = re.compile(r"^step-(\d+)\.pt$")


@dataclass(frozen=True)
class Settings:
    checkpoint_dir: Path
    log_dir: Path
    steps: int
    batch_size: int
    learning_rate: float
    seed: int
    keep: int
    device: str
    threads: int

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Settings:
        return cls(
            checkpoint_dir=Path(env.get("CHECKPOINT_DIR", "/checkpoints")),
            log_dir=Path(env.get("LOG_DIR", "/logs")),
            steps=int(env.get("STEPS", "300")),
            batch_size=int(env.get("BATCH_SIZE", "256")),
            learning_rate=float(env.get("LEARNING_RATE", "0.002")),
            seed=int(env.get("SEED", "0")),
            keep=max(1, int(env.get("KEEP", "3"))),
            device=env.get("DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu"),
            threads=max(1, int(env.get("THREADS", "1"))),
        )


@dataclass(frozen=True)
class Metrics:
    started_at: str
    device: str
    torch_version: str
    resumed_from: str | None
    start_step: int
    global_step: int
    steps: int
    batch_size: int
    train_loss: float  # mean over this run's steps
    eval_loss_before: float  # on the whole data set, before this run's steps
    eval_loss: float  # after them
    val_loss: float  # on the held-out split, after them
    weight_norm: float
    seconds: float
    seconds_per_step: float
    samples_per_second: float
    peak_gpu_memory_bytes: int | None
    checkpoint: str


def make_data(seed: int, *, heldout: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The task: y = teacher(x) + noise, with the teacher fixed by `seed`. The training
    rows, or (`heldout`) rows of the same teacher from a generator of their own."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(SAMPLES, FEATURES, generator=generator)
    w1 = torch.randn(FEATURES, 64, generator=generator) / FEATURES**0.5
    w2 = torch.randn(64, 1, generator=generator) / 8
    if heldout:
        generator = torch.Generator().manual_seed(seed + HELDOUT_STREAM)
        x = torch.randn(HELDOUT_SAMPLES, FEATURES, generator=generator)
    y = torch.tanh(x @ w1) @ w2 + 0.01 * torch.randn(len(x), 1, generator=generator)
    return x, y


def make_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(FEATURES, HIDDEN),
        nn.ReLU(),
        nn.Linear(HIDDEN, HIDDEN),
        nn.ReLU(),
        nn.Linear(HIDDEN, 1),
    )


def batch_indices(seed: int, step: int, batch_size: int) -> torch.Tensor:
    """Batch `step`'s rows: the same whatever run draws it."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return torch.randint(SAMPLES, (batch_size,), generator=generator)


def checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """The complete checkpoints in `directory`, oldest first."""
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := CHECKPOINT_NAME.match(p.name))]
    return sorted(found)


def replace_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write `path` aside with `write`, flush it to disk and rename it over `path`: a
    reader, or a run killed half-way, sees the old file or the whole new one."""
    partial = path.with_name(f".{path.name}.partial")
    write(partial)
    with open(partial, "rb") as f:
        os.fsync(f.fileno())
    os.replace(partial, path)


def report_to_gpuagent(metrics: dict[str, float], env: dict[str, str]) -> None:
    """Write `metrics` to the file gpuagent named in GPUAGENT_METRICS_FILE, if it did."""
    if path := env.get("GPUAGENT_METRICS_FILE"):
        replace_atomically(Path(path), lambda partial: partial.write_text(json.dumps(metrics, sort_keys=True) + "\n"))


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        loss = nn.functional.mse_loss(model(x), y).item()
    model.train()
    return loss


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train(settings: Settings) -> Metrics:
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    device = torch.device(settings.device)
    torch.set_num_threads(settings.threads)
    settings.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)

    x, y = (t.to(device) for t in make_data(settings.seed))
    val_x, val_y = (t.to(device) for t in make_data(settings.seed, heldout=True))
    model = make_model(settings.seed).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    start_step, resumed_from = 0, None
    if found := checkpoints(settings.checkpoint_dir):
        start_step, path = found[-1]
        state = torch.load(path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        resumed_from = path.name
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    print(f"training {settings.steps} steps on {device} from step {start_step} ({resumed_from or 'no checkpoint yet'})", flush=True)

    eval_before = evaluate(model, x, y)
    losses = torch.zeros((), device=device)
    synchronize(device)
    began = time.perf_counter()
    for step in range(start_step, start_step + settings.steps):
        rows = batch_indices(settings.seed, step, settings.batch_size).to(device)
        loss = nn.functional.mse_loss(model(x[rows]), y[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses += loss.detach()
    synchronize(device)
    seconds = time.perf_counter() - began

    global_step = start_step + settings.steps
    checkpoint = settings.checkpoint_dir / f"step-{global_step:09d}.pt"
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": global_step}
    replace_atomically(checkpoint, lambda partial: torch.save(state, partial))
    for _, old in checkpoints(settings.checkpoint_dir)[: -settings.keep]:
        old.unlink()

    with torch.no_grad():
        weight_norm = torch.sqrt(sum((p.double() ** 2).sum() for p in model.parameters())).item()
    steps = max(settings.steps, 1)
    return Metrics(
        started_at=started_at,
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        torch_version=torch.__version__,
        resumed_from=resumed_from,
        start_step=start_step,
        global_step=global_step,
        steps=settings.steps,
        batch_size=settings.batch_size,
        train_loss=(losses / steps).item(),
        eval_loss_before=eval_before,
        eval_loss=evaluate(model, x, y),
        val_loss=evaluate(model, val_x, val_y),
        weight_norm=weight_norm,
        seconds=seconds,
        seconds_per_step=seconds / steps,
        samples_per_second=settings.steps * settings.batch_size / seconds if seconds else 0.0,
        peak_gpu_memory_bytes=torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
        checkpoint=checkpoint.name,
    )


def main() -> int:
    env = dict(os.environ)
    settings = Settings.from_env(env)
    metrics = train(settings)
    line = json.dumps(asdict(metrics), sort_keys=True)
    (settings.log_dir / f"metrics-step-{metrics.global_step:09d}.json").write_text(line + "\n")
    report_to_gpuagent(
        {"train_loss": metrics.train_loss, "val_loss": metrics.val_loss, "steps": metrics.global_step, "seconds_per_step": metrics.seconds_per_step},
        env,
    )
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
