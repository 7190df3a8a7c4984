"""gpuagent's example evaluation job: keeps the best of train.py's checkpoints as best.pt.

It runs after each successful training run (`gpuagent add ... --after example`) and:

- evaluates the newest checkpoint, CHECKPOINT_DIR/step-<global step>.pt, on the held-out
  split of train.py's task (rows of the same teacher that training never sees);
- measures the current best, CHECKPOINT_DIR/best.pt, on the same rows (measured again,
  not taken from a record: the two are judged alike, whatever SEED or the code did
  before);
- promotes the newest one when its loss is lower, or when there is no best yet: copies
  it to best.pt (aside, then renamed: a killed run never leaves a broken best) and
  records what it is in best.json (checkpoint, step, loss, when);
- reports eval_loss, best_loss (the best's, after this run), promoted (1 or 0) and step
  (the checkpoint's) to gpuagent when it names a metrics file (GPUAGENT_METRICS_FILE),
  and prints them as JSON as its last line.

Keeping the best as it is is an answer, not a failure: it exits 0 either way, and 1 only
when it cannot judge (no checkpoint at all, one that does not load). When a training run
started it, it first prints that run's numbers and those of the training run before.

Settings, from the environment, as train.py's: CHECKPOINT_DIR (/checkpoints), SEED (0:
give it the trainer's), DEVICE (cuda when available, else cpu), THREADS (1).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import torch

# train.py lies beside this script (/opt/example): the task, the model, its checkpoints.
from train import Settings, checkpoints, evaluate, make_data, make_model, replace_atomically, report_to_gpuagent

BEST = "best.pt"
BEST_RECORD = "best.json"
TRAINER_NUMBERS = ("train_loss", "val_loss", "steps", "seconds_per_step")


class CannotJudge(Exception):
    """Nothing to evaluate, or a checkpoint that cannot be evaluated."""


@dataclass(frozen=True)
class Verdict:
    checkpoint: str
    step: int
    eval_loss: float
    best_loss: float  # the best's, after this run: eval_loss when promoted
    promoted: bool


def held_out_loss(path: Path, settings: Settings) -> float:
    """The loss of the model in checkpoint `path` on the held-out split."""
    device = torch.device(settings.device)
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        model = make_model(settings.seed).to(device)
        model.load_state_dict(state["model"])
    except (OSError, RuntimeError, KeyError, ValueError, pickle.UnpicklingError) as err:
        raise CannotJudge(f"checkpoint {path} does not load: {err}") from err
    x, y = (t.to(device) for t in make_data(settings.seed, heldout=True))
    return evaluate(model, x, y)


def promote(newest: Path, step: int, loss: float, directory: Path) -> None:
    """Make `newest` the best: best.pt first, then its record."""
    replace_atomically(directory / BEST, lambda partial: shutil.copyfile(newest, partial))
    record = {"checkpoint": newest.name, "step": step, "eval_loss": loss, "promoted_at": datetime.now(UTC).isoformat(timespec="seconds")}
    replace_atomically(directory / BEST_RECORD, lambda partial: partial.write_text(json.dumps(record, sort_keys=True) + "\n"))


def judge(settings: Settings) -> Verdict:
    """Evaluate the newest checkpoint and promote it if it beats the best."""
    torch.set_num_threads(settings.threads)
    found = checkpoints(settings.checkpoint_dir)
    if not found:
        raise CannotJudge(f"no checkpoint in {settings.checkpoint_dir}: run the training job first")
    step, newest = found[-1]
    loss = held_out_loss(newest, settings)
    best = settings.checkpoint_dir / BEST
    best_loss = held_out_loss(best, settings) if best.exists() else None
    promoted = best_loss is None or loss < best_loss
    if best_loss is None:
        print(f"{newest.name}: held-out loss {loss:.6g}; there is no best yet: promoted", flush=True)
    else:
        outcome = "promoted" if promoted else "the best stays"
        print(f"{newest.name}: held-out loss {loss:.6g}, the best's {best_loss:.6g}: {outcome}", flush=True)
    if promoted:
        promote(newest, step, loss, settings.checkpoint_dir)
    return Verdict(newest.name, step, loss, loss if promoted else best_loss, promoted)


def trainer_numbers(env: dict[str, str]) -> list[str]:
    """Lines on the training run that started this one, and the one before it."""
    runs = [
        ("this training run", env.get("GPUAGENT_UPSTREAM_RUN_ID"), env.get("GPUAGENT_UPSTREAM_METRICS")),
        ("the one before", env.get("GPUAGENT_PREVIOUS_UPSTREAM_RUN_ID"), env.get("GPUAGENT_PREVIOUS_UPSTREAM_METRICS")),
    ]
    lines = []
    for label, run_id, path in runs:
        if not run_id or not path:
            continue
        try:
            numbers = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            lines.append(f"{label} ({run_id}): its numbers could not be read ({err})")
            continue
        shown = ", ".join(f"{name} {numbers[name]:.6g}" for name in TRAINER_NUMBERS if name in numbers)
        lines.append(f"{label} ({run_id}): {shown or 'reported no numbers'}")
    return lines


def main() -> int:
    env = dict(os.environ)
    for line in trainer_numbers(env):
        print(line, flush=True)
    try:
        verdict = judge(Settings.from_env(env))
    except CannotJudge as err:
        print(f"evaluate.py: {err}", file=sys.stderr, flush=True)
        return 1
    report_to_gpuagent(
        {"eval_loss": verdict.eval_loss, "best_loss": verdict.best_loss, "promoted": int(verdict.promoted), "step": verdict.step},
        env,
    )
    print(json.dumps(asdict(verdict), sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
