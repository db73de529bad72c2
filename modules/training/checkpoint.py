"""Training checkpoints written atomically: a folder named checkpoint-<step> exists only once it is complete.

Everything is written into a hidden temp folder beside it and renamed into place in one step, so a crash or
a kill during the save leaves only a temp folder, which loading ignores and the next save removes.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

PREFIX = "checkpoint-"


def trainable_state(net: nn.Module) -> dict[str, torch.Tensor]:
    """Only what training changed: the trainable parameters (all of them for a full fine-tune)."""
    # No clone: save_file copies while writing, so a full fine-tune's checkpoint costs no second 0.5 GB in memory.
    return {name: p.detach().contiguous() for name, p in net.named_parameters() if p.requires_grad}


def save(folder: Path, step: int, net: nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> Path:
    """Write checkpoint-<step> atomically and delete the older ones; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{PREFIX}{step}-", dir=folder))
    try:
        save_file(trainable_state(net), str(staging / "trainable.safetensors"))
        torch.save(optimizer.state_dict(), staging / "optimizer.pt")
        (staging / "state.json").write_text(json.dumps(state | {"step": step}))
        for path in staging.iterdir():  # on disk before the rename makes the folder visible
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
