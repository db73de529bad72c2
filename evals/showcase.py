"""Stored example runs that the tabs open with: made by `make examples` (python -m evals examples) on the embedded
model, shipped in evals/examples/, labelled with model, machine, date and n, and replaced by the visitor's own run."""

import json
import logging
import os
import platform
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from evals.runner import Run, compare, git_commit, parse_systems
from evals.tasks import load_task
from modules.models import Model
from modules.progress import Progress

log = logging.getLogger("lab")
FOLDER = Path(__file__).parent / "examples"
# tab -> (task, systems as on the command line, examples): small, so `make examples` takes minutes on a CPU.
# 12 clears stats.SMALL_N (10 pairs), below which a paired comparison gets no verdict.
SHOWCASE = {
    "icl": ("dialogue-summary", "zero-shot,one-shot,few-shot:k=3", 12),
    "reasoning": ("arithmetic-word-problems", "direct,cot,few-shot-cot,self-consistency:n=3,pal", 12),
    "rag": ("company-handbook-qa", "no-retrieval,rag-bm25,rag-dense,rag-hybrid", 12),
    "sampling": ("dialogue-summary", "greedy,sample:temperature=0.3:n=3,sample:temperature=1.2:n=3,top-p:n=3", 12),
    "compare": (
        "dialogue-summary",
        "zero-shot,few-shot:k=3,few-shot:k=3@smollm2-135m+quant:int8-all-but-down_proj",
        12,
    ),
}


def machine() -> str:
    return f"{platform.machine()} CPU, {os.cpu_count()} cores" + (", CUDA" if _cuda() else ", no GPU")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def make(tab: str, model: Model, progress: Callable[[Progress], None] | None = None) -> Path:
    """Run the tab's showcase systems and write evals/examples/<tab>.json (not stored in lab.db)."""
    task_name, systems_text, limit = SHOWCASE[tab]
    systems = parse_systems(systems_text.split(","), model.spec)  # a system may name its own model (@spec)
    run = compare(load_task(task_name), systems, limit=limit, progress=progress)
    return save(tab, model, run)


def save(tab: str, model: Model, run: Run, table: pd.DataFrame | None = None) -> Path:
    """Write a tab's example: the run, an optional study table (quantization), and the label saying what it is."""
    label = label_for(model, int(run.per_example.example_id.nunique()), run.seed)
    stored = {"label": label, "run": run.to_dict(model.info())}
    if table is not None:
        stored["table"] = table.to_dict(orient="records")
    FOLDER.mkdir(exist_ok=True)
    path = FOLDER / f"{tab}.json"
    path.write_text(json.dumps(stored, indent=1, default=str))
    return path


def label_for(model: Model, n: int, seed: int) -> dict:
    """What a stored example says about itself: model, machine, date, n, seed, commit."""
    return {
        "model": model.label, "machine": machine(), "date": datetime.now(UTC).date().isoformat(), "n": n,
        "seed": seed, "git_commit": git_commit(), "made_by": "make examples",
    }  # fmt: skip


def load(tab: str) -> tuple[Run, dict] | None:
    """The stored example of a tab and its label, or None when there is none (or it cannot be read)."""
    stored = load_stored(tab)
    return (stored["run"], stored["label"]) if stored else None


def load_stored(tab: str) -> dict | None:
    """{"run": Run, "label": dict, "table": DataFrame or None} of a tab's example, or None."""
    path = FOLDER / f"{tab}.json"
    if not path.exists():
        return None  # no example for this tab: the ordinary case, nothing to say
    try:
        stored = json.loads(path.read_text())
        data = stored["run"]
        run = Run(None, data["task"], data["split"], data["seed"], data["systems"],
                  pd.DataFrame(data["per_example"]), pd.DataFrame(data["aggregate"]), data["status"],
                  data.get("measurements") or {})  # fmt: skip
        table = pd.DataFrame(stored["table"]) if "table" in stored else None
        label = stored["label"]
    except (OSError, ValueError, KeyError, TypeError) as error:  # the tab opens without it; whoever ships it is told
        log.warning("Stored example %s is damaged and not shown: %s: %s", path.name, type(error).__name__, error)
        return None
    return {"run": run, "label": label, "table": table}


def save_view(name: str, model: Model, n: int, seed: int, payload: dict) -> Path:
    """Write a tab's stored view that is not a run (the sampling explorer's steps): the payload and its label."""
    FOLDER.mkdir(exist_ok=True)
    path = FOLDER / f"{name}.json"
    path.write_text(json.dumps({"label": label_for(model, n, seed)} | payload, indent=1, default=str))
    return path


def load_view(name: str, read: Callable[[dict], object]):
    """read(stored dict) of a stored view, or None when there is none or it is damaged (logged by name)."""
    path = FOLDER / f"{name}.json"
    if not path.exists():
        return None
    try:
        return read(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as error:  # the tab opens without it
        log.warning("Stored example %s is damaged and not shown: %s: %s", path.name, type(error).__name__, error)
        return None


def describe(label: dict) -> str:
    return (
        f"📦 **Stored example run**, not run now: {label['model']} on {label['machine']}, {label['date']}, "
        f"n={label['n']}, seed {label['seed']} (made by `{label['made_by']}`). Run your own to replace it."
    )
