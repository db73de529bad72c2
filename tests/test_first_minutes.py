"""A first-time visitor in a real Chromium: stored example runs at once, Run disabled while it runs, results in
view when they arrive, and Stop that labels what it cut."""

import os
import re
from pathlib import Path

import pytest

from modules.ui import sampling
from modules.ui.tabs import titles
from tests.test_browser import page  # noqa: F401  (the Chromium page fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


RUN_TABLE = "Mean [95% interval] per system and score"
VARIANT_TABLE = "Per variant: size, speed, perplexity, quality, fp32 agreement"
RUN_KEYS = ("system", "score", "mean", "ci_low", "ci_high", "n")
SAMPLES_TABLE = f"Per setting: {sampling.INTERVALS}; diversity across the samples"
# tab -> (screenshot name, the table a visitor reads first, its key columns: all must be on screen at 1400 px)
EXAMPLE_TABS = {
    "In-context learning": ("icl", RUN_TABLE, RUN_KEYS),
    "Reasoning": ("reasoning", RUN_TABLE, RUN_KEYS),
    "RAG": ("rag", RUN_TABLE, RUN_KEYS),
    "Fine-tuning": ("finetune", "Cost per method (measured here)", ("asset", "method", "steps", "final loss")),
    "Compression": ("quantization", VARIANT_TABLE, ("variant", "weight MB", "tok/s batch 1", "perplexity", "rougeL")),
    "Sampling": ("sampling", SAMPLES_TABLE, ("setting", "n", "seeds", "rougeL", "distinct_2", "self_bleu")),
    "Attention": (
        "attention",
        "Share of the answer's attention per segment (rows sum to 1)",
        ("layer", "instruction", "example 1", "input"),
    ),  # fmt: skip
    "Alignment": (
        "alignment",
        "Side by side: mean [95% interval], n, and the paired difference from base (Holm-adjusted)",
        ("system", "score", "mean", "95% low", "95% high"),
    ),
    "Compare": (
        "compare",
        "Quality: mean [95% interval], paired difference from the baseline",
        ("system", "score", "mean [95% interval]", "vs baseline [95% interval]", "verdict"),
    ),
}


# Stored runs opens with the visitor's own stored runs; Scaling with a worked example computed when the page is built
# (arithmetic: no model, nothing stored).
NO_EXAMPLE = ("Stored runs", "Scaling")


def tabs_without_example() -> list[str]:
    """Tabs in the registry this file does not check for a stored example (tests/test_app.py keeps it empty)."""
    return [title for title in titles() if title not in EXAMPLE_TABS and title not in NO_EXAMPLE]


@pytest.mark.parametrize("tab", list(EXAMPLE_TABS))
def test_each_tab_opens_with_its_stored_example_run(served_app, page, tab):  # noqa: F811
    from playwright.sync_api import expect

    page.goto(served_app)
    page.get_by_role("tablist").get_by_role("tab", name=tab, exact=True).click()
    note = page.locator(".prose.stored-example").filter(visible=True).first  # Sampling: the explorer's, then the run's
    expect(note).to_contain_text("Stored example run", timeout=60_000)
    expect(note).to_contain_text(re.compile(r"n=\d+, seed 0"))
    expect(note).to_contain_text("SmolLM2-135M-Instruct")
    name, table_label, keys = EXAMPLE_TABS[tab]
    table = page.get_by_label(table_label).filter(visible=True).first
    expect(table).to_be_visible()
    for key in keys:  # the key columns are on screen, not scrolled or clipped off the right edge
        header = table.locator(f'th[role="columnheader"][title="{key}"]').filter(visible=True).first
        box = header.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1400, (tab, key, box)
    if os.environ.get("LAB_SCREENSHOT_DIR"):  # how docs/<tab>-example.png are made
        note.scroll_into_view_if_needed()
        page.screenshot(path=str(Path(os.environ["LAB_SCREENSHOT_DIR"]) / f"{name}-example.png"), full_page=True)


def test_run_is_disabled_while_it_runs_and_results_come_into_view(served_app, page):  # noqa: F811
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1400, "height": 800})
    page.goto(served_app)
    run = page.get_by_role("button", name="Run", exact=True).filter(visible=True)
    expect(run).to_be_enabled(timeout=60_000)
    run.click()
    expect(run).to_be_disabled(timeout=10_000)  # a second click cannot queue a duplicate job
    scores = page.locator(".icl-scores").first  # it opens with the stored example's scores: wait for this run's
    expect(scores).to_contain_text("for the batch of all columns", timeout=240_000)
    expect(run).to_be_enabled(timeout=30_000)
    expect(page.get_by_label("Zero-shot output")).to_be_in_viewport()


def test_stop_ends_the_columns_and_says_what_it_cut(served_app, page):  # noqa: F811
    from playwright.sync_api import expect

    page.goto(served_app)
    page.get_by_role("tablist").get_by_role("tab", name="Reasoning", exact=True).click()
    run = page.get_by_role("button", name="Run", exact=True).filter(visible=True)
    run.click()
    answers = page.locator(".reasoning-answer")
    expect(answers.nth(0)).to_contain_text("Answer:", timeout=240_000)  # the first column finished
    page.get_by_role("button", name="Stop", exact=True).filter(visible=True).first.click()
    expect(run).to_be_enabled(timeout=60_000)  # the job ended: five columns would take minutes
    texts = [answers.nth(i).inner_text() for i in range(5)]
    assert texts[4] == "" or "Stopped" in texts[4], texts  # PAL, the last column, never ran to a scored end


def test_rag_columns_stream_token_by_token(served_app, page):  # noqa: F811
    """While a column generates, its answer box already holds text and its score line says it is generating."""
    import time

    from playwright.sync_api import expect

    page.goto(served_app)
    page.get_by_role("tablist").get_by_role("tab", name="RAG", exact=True).click()
    page.get_by_role("button", name="Run", exact=True).filter(visible=True).click()
    answer, scores = page.get_by_label("No retrieval answer"), page.locator(".rag-scores").first
    seen_partial, deadline = False, time.time() + 240
    while time.time() < deadline and not seen_partial:
        seen_partial = bool(answer.input_value().strip()) and "generating" in scores.inner_text()
        time.sleep(0.2)
    assert seen_partial, "the answer never showed text before its column finished"
    expect(scores).to_contain_text("new tokens", timeout=240_000)
    page.get_by_role("button", name="Stop", exact=True).filter(visible=True).first.click()  # the other columns
    expect(page.get_by_role("button", name="Run", exact=True).filter(visible=True)).to_be_enabled(timeout=60_000)
