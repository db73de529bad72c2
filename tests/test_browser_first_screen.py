"""The first screen at 1,400 x 900: the first tab opens with the stored example's result in words, in view without
scrolling, and its single-example columns filled from that run."""

import pytest

from evals import showcase
from modules.ui.headline import headline
from modules.ui.icl_columns import HEADLINE_SCORE
from tests.test_browser import page  # noqa: F401  (the Chromium page fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_first_screen_says_the_stored_result_and_fills_the_columns(served_app, page):  # noqa: F811
    from playwright.sync_api import expect

    run, _ = showcase.load("icl")
    sentence = headline(run.per_example, run.systems[0]["name"], HEADLINE_SCORE)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(served_app)
    line = page.locator(".icl-headline").filter(visible=True).first
    expect(line).to_contain_text(sentence, timeout=60_000)
    expect(line).to_contain_text("Stored example run")
    expect(line).to_be_in_viewport(ratio=1)  # whole, on the first screen
    assert page.evaluate("window.scrollY") == 0
    for index, name in enumerate(("Zero-shot", "One-shot", "Few-shot")):
        assert len(page.get_by_label(f"{name} output").input_value().split()) >= 3, name
        expect(page.locator(".icl-scores").nth(index)).to_contain_text("Stored example run")
        expect(page.locator(".icl-scores").nth(index)).to_contain_text("ROUGE-L F")
    page.get_by_label("Example (test split)").click()  # another example: its own stored columns, not the first's
    page.get_by_role("option").nth(1).click()
    second = run.per_example[run.per_example.system == run.systems[1]["name"]].iloc[1]
    expect(page.get_by_label("One-shot output")).to_have_value(second.output)
