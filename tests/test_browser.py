"""The page in a real Chromium: run the in-context learning tab on one example and wait for scored columns."""

import os
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling out, which this offline machine refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture()
def page():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install -y chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        yield page
        browser.close()


def test_icl_tab_in_a_real_browser(served_app, page, tmp_path):
    from playwright.sync_api import expect

    page.goto(served_app)
    expect(page.get_by_text("In-context learning").first).to_be_visible(timeout=60_000)
    expect(page.locator("#model-info")).to_contain_text("smollm2-135m")
    page.get_by_role("button", name="Run", exact=True).click()
    scores = page.locator(".icl-scores")
    for index in range(3):  # the first model load (GGUF conversion) may be part of this wait
        expect(scores.nth(index)).to_contain_text("ROUGE-1", timeout=240_000)
        expect(scores.nth(index)).to_contain_text("new tokens")
    outputs = [page.get_by_label(f"{name} output").input_value() for name in ("Zero-shot", "One-shot", "Few-shot")]
    assert all(len(text.split()) >= 3 for text in outputs) and len(set(outputs)) == 3
    expect(page.get_by_text("Scores per column")).to_be_visible()
    expect(page.locator("#model-info")).to_contain_text("SmolLM2-135M-Instruct (fp32, dequantized from Q4_1 GGUF)")
    shot = tmp_path / "icl-tab.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    if os.environ.get("LAB_SCREENSHOT_DIR"):  # how the README's screenshot is made
        shutil.copy(shot, Path(os.environ["LAB_SCREENSHOT_DIR"]) / "icl-tab.png")


def test_fine_tuning_and_quantization_tabs_in_a_real_browser(served_app, page):
    import re

    from playwright.sync_api import expect

    page.goto(served_app)
    page.get_by_role("tab", name="Fine-tuning").click()
    expect(page.get_by_role("button", name="Train and compare")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("published figures, NOT measured here")).to_be_visible()
    page.get_by_role("tab", name="Quantization").click()
    page.get_by_role("button", name="Generate in every column").click()
    for name in ("fp32", "int8"):  # each column: its variant, its token count and speed, its text
        expect(page.get_by_text(re.compile(rf"^{name} · \d+ tokens · [\d.]+ tok/s"))).to_be_visible(timeout=240_000)
    expect(page.get_by_text("(not selected)")).to_have_count(3)  # bf16, 4-bit and GGUF are not ticked by default


# Each tab and one element only that tab shows (hidden tabs are display:none, so a visible one is the tab's own).
TAB_CONTENT = {
    "In-context learning": ("heading", "Few-shot"),
    "Reasoning": ("heading", "Self-consistency"),
    "RAG": ("heading", "Hybrid (RRF)"),
    "Fine-tuning": ("button", "Train and compare"),
    "Quantization": ("button", "Measure variants"),
    "Stored runs": ("button", "Show aggregate"),
}


@pytest.mark.parametrize("width", [1400, 1920])
def test_every_tab_is_reachable_and_shown_once(served_app, page, width):
    """Click every tab in turn: the bar keeps all six labels, once each and fully on screen, and shows the tab."""
    from playwright.sync_api import expect

    page.set_viewport_size({"width": width, "height": 1000})
    page.goto(served_app)
    bar = page.get_by_role("tablist")
    expect(bar.get_by_role("tab")).to_have_count(len(TAB_CONTENT), timeout=60_000)
    for clicked, (role, name) in TAB_CONTENT.items():
        bar.get_by_role("tab", name=clicked, exact=True).click()
        expect(page.get_by_role(role, name=name, exact=True)).to_be_visible(timeout=30_000)
        expect(bar.get_by_role("tab")).to_have_text(list(TAB_CONTENT))  # all six, in order, nothing twice
        expect(bar.get_by_role("tab", name=clicked, exact=True)).to_have_attribute("aria-selected", "true")
        for label in TAB_CONTENT:
            tab = bar.get_by_role("tab", name=label, exact=True)
            expect(tab).to_have_count(1)
            expect(tab).to_be_in_viewport(ratio=1)  # wholly inside the viewport and not clipped by the bar
