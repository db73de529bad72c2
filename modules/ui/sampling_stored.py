"""The Sampling tab's stored example (evals/examples/sampling_explorer.json, made by `make examples`): one answer's
steps and n samples per setting on the embedded model, labelled, shown until the visitor's own run replaces them."""

from dataclasses import dataclass

import pandas as pd

from evals import samples as study
from evals import showcase
from modules.models import GenerationParams
from modules.models.interface import Step
from modules.ui.sampling_steps import step_view, tokens_view

NAME = "sampling_explorer"


@dataclass
class Stored:
    """What the tab opens with; all None / "" when there is no stored example."""

    steps: list | None = None
    params: GenerationParams | None = None
    tokens: list | None = None
    line: str = ""
    table: pd.DataFrame | None = None
    chart: object = None
    note: str = ""
    summary: pd.DataFrame | None = None
    samples: pd.DataFrame | None = None


def load() -> Stored:
    return showcase.load_view(NAME, _read) or Stored()


def _read(stored: dict) -> Stored:
    params = GenerationParams(**(stored["params"] | {"stop_strings": tuple(stored["params"]["stop_strings"])}))
    steps = [Step(**step) for step in stored["steps"]]
    line, table, chart = step_view(steps, 0, params)
    note = showcase.describe(stored["label"]) + f" Example `{stored['example_id']}`."
    done = stored["results"]
    return Stored(steps, params, tokens_view(steps), line, table, chart, note, study.table(done), study.samples(done))
