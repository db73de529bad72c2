"""Training checkpoints written atomically: a folder named checkpoint-<step> exists only once it is complete.

Everything is written into a hidden temp folder beside it and renamed into place in one step, so a crash or
a kill during the save leaves only a temp folder, which loading ignores and the next save removes. A save given
the Stop event is abandoned the same way when Stop is pressed while it writes.
"""

import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from modules.paths import check_room, make_private

PREFIX = "checkpoint-"


def trainable_state(net: nn.Module) -> dict[str, torch.Tensor]:
    """Only what training changed: the trainable parameters (all of them for a full fine-tune)."""
    # No clone: save_file copies while writing, so a full fine-tune's checkpoint costs no second 0.5 GB in memory.
    return {name: p.detach().contiguous() for name, p in net.named_parameters() if p.requires_grad}


def save(
    folder: Path,
    step: int,
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict,
    stop: threading.Event | None = None,
) -> Path | None:
    """Write checkpoint-<step> atomically and delete the older ones; returns its path.

    stop: checked between the files and their syncs; once set, the save is abandoned and None returned (the older
    checkpoints stay). A full fine-tune's checkpoint is ~1.6 GB for SmolLM2-135M: Stop must not wait for all of it.
    """
    trainable = sum(p.numel() * p.element_size() for p in net.parameters() if p.requires_grad)
    replaced = sum(f.stat().st_size for f in folder.glob(f"{PREFIX}*/*") if f.is_file())  # deleted after this one
    check_room(3 * trainable - replaced, "A training checkpoint")  # weights + AdamW's two moments
    make_private(folder)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{PREFIX}{step}-", dir=folder))
    writes = (
        lambda: save_file(trainable_state(net), str(staging / "trainable.safetensors")),
        lambda: torch.save(optimizer.state_dict(), staging / "optimizer.pt"),
        lambda: (staging / "state.json").write_text(json.dumps(state | {"step": step})),
    )
    try:
        for write in writes:
            if stop is not None and stop.is_set():
                return None
            write()
        for path in staging.iterdir():  # on disk before the rename makes the folder visible
            if stop is not None and stop.is_set():
                return None
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        target = folder / f"{PREFIX}{step}"
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for old in folder.iterdir():
        if old.name.startswith(PREFIX) and old.name != target.name:
            # Hidden by one rename first: a kill while deleting must not leave a visible, half-deleted checkpoint.
            hidden = old.rename(folder / f".old-{old.name}")
            shutil.rmtree(hidden, ignore_errors=True)
        elif old.name.startswith((".tmp-", ".old-")):
            shutil.rmtree(old, ignore_errors=True)  # left by a killed save
    return target


def latest(folder: Path) -> Path | None:
    """The newest complete checkpoint, or None (temp folders of interrupted saves are never returned)."""
    found = [p for p in folder.glob(f"{PREFIX}*") if p.is_dir() and p.name.removeprefix(PREFIX).isdigit()]
    return max(found, key=lambda p: int(p.name.removeprefix(PREFIX)), default=None)


def load(path: Path, net: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """Restore trainable weights and optimizer state in place; returns the saved state (step, losses, ...)."""
    weights = load_file(str(path / "trainable.safetensors"))
    named = dict(net.named_parameters())
    missing = set(weights) - set(named)
    if missing:
        raise ValueError(f"Checkpoint {path.name} does not match this model (e.g. {sorted(missing)[0]}).")
    with torch.no_grad():
        for name, tensor in weights.items():
            named[name].copy_(tensor)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    return json.loads((path / "state.json").read_text())
