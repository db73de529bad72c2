"""The study tabs' stored examples (`make examples`): the quantization table and a "quick look" fine-tune on the
embedded model, written to evals/examples/ beside the technique tabs' examples."""

import sys
import threading
from dataclasses import asdict

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


def make_sampling_explorer() -> None:
    """The Sampling tab's opening view: one answer's steps (T=0.7, top-k 40, top-p 0.9) and 5 samples per setting
    on the first test example of dialogue-summary."""
    from evals import samples as sampling
    from evals.tasks import load_task
    from modules.models import GenerationParams
    from modules.techniques import prompting

    base, task = get_model(), load_task("dialogue-summary")
    example = task.split("test")[0]
    params = GenerationParams(max_new_tokens=48, do_sample=True, temperature=0.7, top_k=40, top_p=0.9,
                              stop_strings=(prompting.next_example_marker(task),))  # fmt: skip
    (steps,) = base.top_logprobs([prompting.build_prompt(base, task, [], example)], params, k=20)
    labels = ["greedy", "T=0.3", "T=1.2", "top-k=5 (T=1)", "top-p=0.8 (T=1)"]
    done = [sampling.sample_one(task, example, system) for system in sampling.systems(base, labels, 5, 0, 48)]
    payload = {"example_id": example.id, "params": params.to_dict(), "steps": [asdict(step) for step in steps],
               "results": done}  # fmt: skip
    print(f"Wrote {showcase.save_view('sampling_explorer', base, 1, params.seed, payload)}")


def make_alignment() -> None:
    """The Alignment tab's quick look: a reward model with the tab's defaults, then the side by side with its
    defaults; timed, since the tab says how long its default takes."""
    import time

    from modules.studies import alignment, reward_model

    base, stop, started = get_model(), threading.Event(), time.perf_counter()

    def report(event: Progress) -> None:
        print(f"{time.perf_counter() - started:7.1f} s  {event.stage} {event.done}/{event.total}", file=sys.stderr)

    trained = reward_model.train_and_read(base, reward_model.Settings(name="example-rm"), report, stop)
    reward_seconds = time.perf_counter() - started
    settings = alignment.Settings(reward="example-rm", name="example")
    outcome = alignment.run(base, settings, report, stop)
    seconds = {"reward_model": reward_seconds, "side_by_side": time.perf_counter() - started - reward_seconds}
    payload = alignment.as_record(settings, outcome) | {"seconds": seconds, "reward_accuracy": trained.accuracy}
    n = int(outcome.preferences.per_example.example_id.nunique())
    print(f"Wrote {showcase.save_view('alignment', base, n, settings.seed, payload)}; {seconds}")


MAKERS = {"quantization": make_quantization, "finetune": make_finetune, "sampling": make_sampling_explorer,
          "alignment": make_alignment}  # fmt: skip

if __name__ == "__main__":  # python -m modules.studies.examples [quantization] [finetune]
    for name in sys.argv[1:] or MAKERS:
        MAKERS[name]()
