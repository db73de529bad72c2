"""The Compression tab's pruning half as a visitor uses it, in a real Chromium on the tiny model: the weight histogram,
the int8 recipe and why, pruned and int8 variants measured side by side with the Pareto chart; a bad sparsity is a
clear message."""

import pytest

from tests.test_browser import page  # noqa: F401 (the fixture)
from tests.test_browser_alignment import set_exact
from tests.test_browser_inside import expect_drawn_inside
from tests.test_browser_jobs import open_tab

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_histogram_recipe_and_pruned_variants_side_by_side(served_app, page, tiny_llama_dir):  # noqa: F811
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1400, "height": 900})
    panel = open_tab(page, served_app, tiny_llama_dir, "Compression")

    panel.get_by_role("button", name="Weight-magnitude histogram").click()
    expect(panel.locator("#compression-histogram-note")).to_contain_text("share below 0.01", timeout=60_000)
    histogram = panel.locator("#compression-histogram .js-plotly-plot")
    histogram.scroll_into_view_if_needed()
    expect(histogram).to_contain_text("50% global magnitude cut")
    expect_drawn_inside(page, histogram, 1400)

    panel.get_by_role("button", name="Show the int8 recipe").click()
    expect(panel.locator("#compression-recipe-note")).to_contain_text("The automatic int8 recipe", timeout=60_000)
    recipe = panel.locator("#compression-recipe")
    expect(recipe.get_by_role("gridcell", name="down_proj", exact=True).first).to_be_attached()

    sparsity = panel.get_by_label("Sparsity % (comma-separated, 1-99)")
    sparsity.fill("100")
    panel.get_by_role("button", name="Compress and compare").click()
    expect(page.get_by_text("whole percent from 1 to 99").first).to_be_visible(timeout=30_000)

    sparsity.fill("50")
    set_exact(panel, "Examples to score", 1)
    panel.get_by_role("button", name="Compress and compare").click()
    status = panel.locator("#compression-status")
    expect(status).to_contain_text("(complete)", timeout=240_000)
    table = panel.locator("#compression-table")
    for variant in ("w8a8-auto", "prune:mlp-neurons-50"):
        cell = table.get_by_role("gridcell", name=variant, exact=True).first
        cell.scroll_into_view_if_needed()
        expect(cell).to_be_in_viewport()
    expect(table.locator('th[role="columnheader"][title="pareto (size, speed, quality)"]').first).to_be_attached()
    chart = panel.locator("#compression-chart .js-plotly-plot")
    chart.scroll_into_view_if_needed()
    expect(chart).to_contain_text("weight memory (MB)")
    expect_drawn_inside(page, chart, 1400)
    expect(panel.get_by_role("button", name="Download compression CSV")).to_be_visible()


def test_a_student_is_distilled_with_a_live_curve_and_compared(served_app, page, tiny_llama_dir):  # noqa: F811
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1400, "height": 900})
    panel = open_tab(page, served_app, tiny_llama_dir, "Compression")
    panel.get_by_label("Student name (saved as an asset)").fill("browser-student")
    set_exact(panel, "Distillation steps (4 pairs each)", 2)
    set_exact(panel, "Test examples to compare", 1)
    set_exact(panel, "Teacher's shots (few-shot teacher; 0: zero-shot)", 1)
    panel.get_by_label("its answers (sequence-level)").check()  # the teacher writes the answers the student learns
    panel.get_by_role("button", name="Distil and compare").click()
    status = panel.locator("#distillation-status")
    expect(status).to_contain_text("Distilled", timeout=240_000)
    expect(status).to_contain_text("+prune:layers-50+adapter:browser-student")
    expect(status).to_contain_text("learned the teacher's answers")
    curve = panel.locator("#distillation-curve .js-plotly-plot")
    curve.scroll_into_view_if_needed()
    expect(curve).to_contain_text("Training loss")
    expect_drawn_inside(page, curve, 1400)
    table = panel.locator("#distillation-table")
    for name in ("teacher (1-shot)", "student before", "student after"):
        cell = table.get_by_role("gridcell", name=name, exact=True).first
        cell.scroll_into_view_if_needed()
        expect(cell).to_be_in_viewport()
    expect(panel.get_by_role("button", name="Download distillation CSV")).to_be_visible()
