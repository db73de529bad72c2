"""One training loop for every method and objective: AdamW, seeded data order, Stop checked before every layer,
atomic checkpoints, resume. The objective says how rows become batches and what the loss is."""

import contextlib
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from modules.measure import MemoryWatch
from modules.models.interrupt import LayerChecks, Stopped
from modules.progress import Progress
from modules.training import checkpoint, supervised
from modules.training.data import batch_order

# A checkpoint up to this size is written on Stop (LoRA r=8 on SmolLM2-135M: ~5 MB, well under a second); a bigger
# one is not: a full fine-tune's is ~1.6 GB (weights + AdamW's two moments), 10-30 s to write and sync on a CPU box.
QUICK_SAVE_MB = 64


@dataclass
class TrainResult:
    steps_done: int
    losses: list[float]  # mean token loss of each step
    seconds_per_step: float  # mean over the steps run in this call (not the resumed ones)
    peak_memory_mb: float  # CUDA: max allocated; CPU: process RSS high-water during training minus before
    optimizer_state_mb: float
    stopped: bool
    checkpoint: Path | None  # the newest complete checkpoint: where Resume continues from
    resumed_from: int = 0
    step_seconds: list[float] = field(default_factory=list)


def optimizer_state_mb(optimizer: torch.optim.Optimizer) -> float:
    tensors = [v for state in optimizer.state.values() for v in state.values() if torch.is_tensor(v)]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def checkpoint_mb(net: nn.Module) -> float:
    """A checkpoint's size before it exists: the trainable weights and AdamW's two moments for each."""
    return 3 * sum(p.numel() * p.element_size() for p in net.parameters() if p.requires_grad) / 2**20


def train(
    net: nn.Module,
    rows: list,
    *,
    steps: int,
    batch_size: int,
    micro_batch: int,
    lr: float,
    seed: int,
    pad_id: int,
    folder: Path,
    checkpoint_every: int,
    resume: bool = False,
    on_step: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    objective: types.ModuleType = supervised,
) -> TrainResult:
    """Train `net` for `steps` optimizer steps, with a checkpoint every `checkpoint_every` steps and at the end.

    `rows` are the objective's (objective.rows; registry.OBJECTIVES), and its loss is what is minimised.
    on_step(Progress(done=step, total=steps, payload={"loss", "seconds"})) after each step. resume=True continues
    from the newest complete checkpoint in `folder` (same data order: the batches of step s depend only on the seed).

    Stop (the event set) ends training within seconds: the layer in progress of the forward or backward pass is
    the last one run, and the partial step is dropped. What Resume then continues from: the last finished step when
    its checkpoint is small (<= QUICK_SAVE_MB: LoRA, prompt tuning; it is written on Stop), else the last periodic
    checkpoint (a full fine-tune: Stop does not wait for a 1.6 GB write, so up to checkpoint_every - 1 finished
    steps are trained again). A Stop during a large periodic save abandons that save and keeps the one before.
    TrainResult.checkpoint names it.
    """
    device = next(net.parameters()).device
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.0)
    order = batch_order(len(rows), batch_size, steps, seed)
    losses, first = [], 0
    found = checkpoint.latest(folder) if resume else None
    if found is not None:
        state = checkpoint.load(found, net, optimizer)
        losses, first = state["losses"], state["step"]
    torch.manual_seed(seed + first)  # dropout differs per step but is reproducible on resume
    net.train()
    watch, durations, stopped, saved = MemoryWatch(device), [], False, found
    quick = checkpoint_mb(net) <= QUICK_SAVE_MB
    try:
        for step in range(first, steps):
            started = time.perf_counter()
            loss = _one_step(net, optimizer, [rows[i] for i in order[step]], micro_batch, pad_id, device, stop,
                             objective)  # fmt: skip
            if loss is None:
                stopped = True
                break
            losses.append(loss)
            durations.append(time.perf_counter() - started)
            if on_step:
                on_step(Progress(f"step {step + 1}/{steps}", step + 1, steps, {"loss": loss, "seconds": durations[-1]}))
            if (step + 1) % checkpoint_every == 0 or step + 1 == steps:
                # A large save is abandoned on Stop (between its files); a small one is over before Stop could wait.
                written = checkpoint.save(folder, step + 1, net, optimizer, {"losses": losses},
                                          stop=None if quick else stop)  # fmt: skip
                if written is None:
                    stopped = True
                    break
                saved = written
        done = first + len(durations)
        if stopped and quick and done > first and (saved is None or saved.name != f"{checkpoint.PREFIX}{done}"):
            saved = checkpoint.save(folder, done, net, optimizer, {"losses": losses})
    finally:
        net.eval()
        peak = watch.stop()
    return TrainResult(
        steps_done=first + len(durations),
        losses=losses,
        seconds_per_step=sum(durations) / len(durations) if durations else 0.0,
        peak_memory_mb=peak,
        optimizer_state_mb=optimizer_state_mb(optimizer),
        stopped=stopped,
        checkpoint=saved,
        resumed_from=first,
        step_seconds=durations,
    )


def _one_step(net, optimizer, rows, micro_batch, pad_id, device, stop, objective) -> float | None:
    """One optimizer step over `rows` with gradient accumulation; None (nothing applied) when Stop is set.

    Each micro-batch's mean loss is weighted by its share of the step's weight (objective.weight: answer tokens for
    the supervised objective), so the step's gradient equals that of one big batch. Stop is checked before every
    layer of the forward and the backward pass (a micro-batch of a full fine-tune is seconds on a CPU):
    interrupt.LayerChecks.
    """
    optimizer.zero_grad(set_to_none=True)
    weights = [objective.weight(row) for row in rows]
    total = 0.0
    checks = LayerChecks(net, stop, backward=True) if stop is not None else contextlib.nullcontext()
    try:
        with checks:
            for start in range(0, len(rows), micro_batch):
                if stop is not None and stop.is_set():
                    raise Stopped
                chunk = rows[start : start + micro_batch]
                batch = {k: v.to(device) for k, v in objective.batch(chunk, pad_id).items()}
                share = sum(weights[start : start + micro_batch]) / sum(weights)
                # On CUDA the forward runs in bf16 over fp32 master weights (mixed precision); a CPU computes in fp32.
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
                    loss = objective.loss(net, batch) * share
                loss.backward()
                total += loss.item()
        if stop is not None and stop.is_set():
            raise Stopped
    except Stopped:
        optimizer.zero_grad(set_to_none=True)  # the partial step's gradients are dropped
        return None
    optimizer.step()
    return total
