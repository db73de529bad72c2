"""The Attention tab's stored example (evals/examples/attention.json + attention.npz, made by `make examples`): the
default few-shot prompt on the embedded model, every layer's map averaged over its heads (a head's own map needs a
run: all heads would be 30 MB), its segment shares and summary, labelled as stored."""

import functools

import numpy as np
import pandas as pd

from evals import showcase
from evals.tasks import load_task
from modules.inside import attention
from modules.models import get_model

NAME = "attention"
DEFAULT_TASK = "company-handbook-qa"  # its 2-shot prompt and answer fit the picture uncut (a dialogue's do not)
DEFAULT_K = 2  # the tab's defaults too: what it opens with is what its Run would do


def make(task_name: str, k: int) -> None:
    model = get_model()
    task = load_task(task_name)
    query = task.split("test")[0]
    picture = attention.few_shot(model, task, query, k)
    averaged = picture.weights.astype(np.float32).mean(axis=1, keepdims=True).astype(np.float16)
    np.savez_compressed(showcase.FOLDER / f"{NAME}.npz", weights=averaged)
    payload = {"example_id": query.id, "k": k, "tokens": picture.tokens, "names": picture.names,
               "table": picture.table.reset_index(names="layer").to_dict(orient="records"),
               "summary": picture.summary, "answer": picture.answer, "cut": picture.cut,
               "cut_segments": picture.cut_segments}  # fmt: skip
    print(f"Wrote {showcase.save_view(NAME, model, 1, 0, payload)}")


@functools.cache  # read once per process: every session's opening view and redraws share it (3 MB of weights)
def load() -> tuple[attention.Picture, dict, str] | None:
    """(picture with heads averaged, label, example id), or None when there is none or it is damaged."""
    return showcase.load_view(NAME, _read)


def _read(stored: dict):
    with np.load(showcase.FOLDER / f"{NAME}.npz") as data:
        weights = data["weights"]
    table = pd.DataFrame(stored["table"]).set_index("layer")
    picture = attention.Picture(stored["tokens"], stored["names"], weights, table, stored["summary"],
                                stored["answer"], stored["cut"], stored["cut_segments"])  # fmt: skip
    if weights.shape[2] != len(picture.tokens):
        raise ValueError(f"attention.npz has {weights.shape[2]} tokens, attention.json {len(picture.tokens)}")
    return picture, stored["label"], stored["example_id"]


if __name__ == "__main__":  # python -m modules.ui.attention_stored (make examples)
    make(DEFAULT_TASK, DEFAULT_K)
