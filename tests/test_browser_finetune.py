"""The fine-tuning tab's PEFT families as a visitor uses them, in a real Chromium on the tiny model: tick LoRA on
attention only and IA3, type a multi-task mixture, keep both forgetting probes, train; then every method's single-
and multi-task row, the pooled forgetting table and the gain-vs-forgetting chart are on screen, each once."""

import re

import pytest

from tests.test_browser import page  # noqa: F401 (the fixture)
from tests.test_browser_inside import expect_drawn_inside
from tests.test_browser_jobs import open_tab, set_number

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROWS = ["lora-attention", "ia3", "lora-attention (multi-task)", "ia3 (multi-task)"]


def test_two_peft_families_single_and_multi_task_with_pooled_forgetting(served_app, page, tiny_llama_dir):  # noqa: F811
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1400, "height": 900})
    panel = open_tab(page, served_app, tiny_llama_dir, "Fine-tuning")
    panel.get_by_label("Run name").fill("browser-peft")
    panel.get_by_label("LoRA", exact=True).uncheck()
    panel.get_by_label("LoRA: attention only").check()
    panel.get_by_label("IA3 (rescaling vectors)").check()
    probes = panel.locator(".token").filter(has_text="company-handbook-qa")  # the picker's chosen tasks, as chips
    expect(probes).to_have_count(1)
    expect(panel.locator(".token").filter(has_text="arithmetic-word-problems")).to_have_count(1)
    panel.get_by_label("Multi-task mixture").fill("dialogue-summary: 1, arithmetic-word-problems: 1")
    set_number(panel, "Steps (each method)", 2)
    set_number(panel, "Max tokens per row", 64)  # the tiny model's context
    set_number(panel, "Test examples to score", 1)
    set_number(panel, "Probe examples per task", 2)
    panel.get_by_role("button", name="Train and compare").click()
    status = panel.locator(".prose.stored-example")
    expect(status).to_contain_text("Done.", timeout=300_000)
    expect(status).to_contain_text("company-handbook-qa n=2 + arithmetic-word-problems n=2")

    costs = panel.locator("#finetune-costs")
    for method in ROWS:
        cell = costs.get_by_role("gridcell", name=method, exact=True)
        expect(cell).to_have_count(1)  # once: not duplicated
        cell.scroll_into_view_if_needed()
        expect(cell).to_be_in_viewport()
    forgetting = panel.locator("#finetune-forgetting")
    forgetting.scroll_into_view_if_needed()
    expect(forgetting).to_be_visible()
    expect(forgetting).to_contain_text("Forgetting: ROUGE-L base → after")
    pooled = forgetting.get_by_role("gridcell", name="all probes", exact=True)
    expect(pooled).to_have_count(len(ROWS))  # one pooled row per trained variant
    chart = panel.locator(".js-plotly-plot").filter(has_text="Gain on dialogue-summary")
    expect(chart).to_contain_text("company-handbook-qa + arithmetic-word-problems (n=4)")
    expect_drawn_inside(page, chart, 1400)
    for method in ROWS:
        label = re.compile(f"^{re.escape(method)}$")
        expect(chart.locator("text").filter(has_text=label)).to_have_count(1)  # a labelled point per method
