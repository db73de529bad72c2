"""The Alignment tab as a visitor uses it, in a real Chromium on the tiny model: train a reward model, pick it,
train the four policies and compare; then the curves, the cost rows and the side-by-side table are on screen."""

import pytest

from tests.test_browser import page  # noqa: F401 (the fixture)
from tests.test_browser_inside import expect_drawn_inside
from tests.test_browser_jobs import open_tab

pytestmark = [pytest.mark.browser, pytest.mark.slow]
COLUMNS = ["base", "best-of-4", "RL (KL > 0)", "RL (KL = 0)", "DPO"]


def set_exact(panel, label: str, value: int) -> None:
    box = panel.get_by_label(f"number input for {label}", exact=True)  # the number box beside the slider
    box.fill(str(value))
    box.press("Enter")


def test_a_reward_model_then_the_policies_side_by_side(served_app, page, tiny_llama_dir):  # noqa: F811
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1400, "height": 900})
    panel = open_tab(page, served_app, tiny_llama_dir, "Alignment")
    panel.get_by_label("Name (saved as an asset)").fill("browser-rm")
    set_exact(panel, "Steps", 1)
    set_exact(panel, "Pairs per step", 4)
    set_exact(panel, "Max tokens per answer row", 64)
    set_exact(panel, "Held-out pairs to read", 2)
    panel.get_by_role("button", name="Train reward model").click()
    expect(panel.locator("#alignment-reward-status")).to_contain_text("Done.", timeout=120_000)

    picker = panel.get_by_label("Reward model (train one above)")
    picker.fill("browser-rm")
    picker.press("Enter")
    panel.get_by_label("Name (assets <name>-rl, -rl-kl0, -dpo, -constitutional)").fill("browser")
    settings = {"RL steps (2 prompts each)": 2, "Answers per prompt (RLOO's k)": 2, "DPO steps (4 pairs each)": 1,
                "Prompts the model revises (constitutional)": 2, "Held-out prompts per domain (5 domains)": 1,
                "Summaries (dialogue-summary test)": 2}  # fmt: skip
    for label, value in settings.items():
        set_exact(panel, label, value)
    panel.get_by_role("button", name="Train the policies and compare").click()
    status = panel.locator("#alignment-status")
    expect(status).to_contain_text("Done.", timeout=300_000)
    expect(status).to_contain_text("policies saved as browser-rl, browser-rl-kl0, browser-dpo")

    curves = panel.locator("#alignment-curves .js-plotly-plot")
    curves.scroll_into_view_if_needed()
    expect(curves).to_contain_text("KL to base (nats)")
    expect_drawn_inside(page, curves, 1400)
    side = panel.locator("#alignment-side")
    for column in COLUMNS[1:]:
        cells = side.get_by_role("gridcell", name=column, exact=True)
        expect(cells.first).to_be_attached()
        cells.first.scroll_into_view_if_needed()
        expect(cells.first).to_be_in_viewport()
    expect(side.get_by_role("gridcell", name="refusal: harmful requests", exact=True).first).to_be_attached()
