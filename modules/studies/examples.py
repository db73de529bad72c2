"""The study tabs' stored examples (`make examples`): the quantization table on the embedded model, written to
evals/examples/quantization.json beside the technique tabs' examples."""

import sys
import threading

from evals import showcase
from modules.models import get_model
from modules.studies import quantization

QUANTIZATION = (["fp32", "bf16", "int8"], "dialogue-summary", 5)  # variants, task, test examples


def make_quantization() -> None:
    names, task, limit = QUANTIZATION
    base = get_model()

    def report(message: str) -> None:
        print(message, file=sys.stderr)

    table, run = quantization.compare_variants(base, names, task, limit, report, threading.Event())
    print(f"Wrote {showcase.save('quantization', base, run, table)}")


if __name__ == "__main__":
    make_quantization()
