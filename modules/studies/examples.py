"""The study tabs' stored examples (`make examples`): the quantization table and a "quick look" fine-tune on the
embedded model, written to evals/examples/ beside the technique tabs' examples."""

import sys
import threading

import pandas as pd

from evals import showcase
from modules.models import get_model
from modules.progress import Progress
from modules.studies import fine_tuning, quantization

QUANTIZATION = (["fp32", "bf16", "int8"], "dialogue-summary", 5)  # variants, task, test examples


def make_quantization() -> None:
    names, task, limit = QUANTIZATION
    base = get_model()

    def report(event: Progress) -> None:
        print(event.stage, file=sys.stderr)

    table, run = quantization.compare_variants(base, names, task, limit, report, threading.Event())
    print(f"Wrote {showcase.save('quantization', base, run, table)}")


def make_finetune() -> None:
    """The quick-look preset (10 LoRA steps, 5 test examples): its cost rows (with losses) and its quality run."""
    base, stop = get_model(), threading.Event()
    job = fine_tuning.JobSettings.from_preset("example", "quick look")
    costs = fine_tuning.train_methods(base, job, lambda event: None, stop)
    quality, _ = fine_tuning.evaluate(base, job, costs, lambda event: None, stop)
    print(f"Wrote {showcase.save('finetune', base, quality, pd.DataFrame(costs))}")


MAKERS = {"quantization": make_quantization, "finetune": make_finetune}

if __name__ == "__main__":  # python -m modules.studies.examples [quantization] [finetune]
    for name in sys.argv[1:] or MAKERS:
        MAKERS[name]()
