"""The tabs in page order: the one list app.py builds from and the tests read (tab bar, keyboard, coverage)."""

from collections.abc import Callable
from dataclasses import dataclass

from modules.ui import alignment, attention, compare, finetune, icl, quantize, rag, reasoning, runs, sampling, scaling


@dataclass(frozen=True)
class Tab:
    title: str  # the label in the tab bar; the builder's gr.Tab uses the same constant
    covers: tuple[str, ...]  # the techniques it shows: every registered technique must be in some tab's
    build: Callable  # build(model_state, model_info) -> what app.py wires after the tabs (or None)


TABS = [
    Tab(icl.TITLE, icl.COVERS, icl.build),
    Tab(reasoning.TITLE, reasoning.COVERS, reasoning.build),
    Tab(rag.TITLE, rag.COVERS, rag.build),
    Tab(finetune.TITLE, finetune.COVERS, finetune.build),
    Tab(quantize.TITLE, quantize.COVERS, quantize.build),
    Tab(sampling.TITLE, sampling.COVERS, sampling.build),
    Tab(attention.TITLE, attention.COVERS, attention.build),
    Tab(scaling.TITLE, scaling.COVERS, scaling.build),
    Tab(alignment.TITLE, alignment.COVERS, alignment.build),
    Tab(compare.TITLE, (), compare.build),
    Tab(runs.TITLE, (), runs.build),
]


def titles() -> list[str]:
    """The tab bar's labels, in order."""
    return [tab.title for tab in TABS]


def covered() -> set[str]:
    """Every technique some tab shows."""
    return {technique for tab in TABS for technique in tab.covers}
