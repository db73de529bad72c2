"""The "inside the model" tabs as a visitor uses them, in a real Chromium at 1,400 and 800 px: click a token and see
the distribution it was drawn from, pick a layer and head and see its map, change the budget and see the chart;
every chart drawn, readable and inside the window."""

import pytest

from tests.test_browser import _show_tab, _tab_labels, page  # noqa: F401 (page: the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WIDTHS = [1400, 800]


def open_panel(page, served_app, tab: str, width: int):  # noqa: F811 (a Chromium page)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(served_app)
    _tab_labels(page)
    _show_tab(page, tab)
    return page.locator('[role="tabpanel"]:visible')


def expect_drawn_inside(page, plot, width: int) -> None:  # noqa: F811
    """A plotly chart is drawn (its svg has marks), in view once scrolled to, and not wider than the window."""
    from playwright.sync_api import expect

    svg = plot.locator("svg.main-svg").first
    expect(svg).to_be_visible(timeout=30_000)
    svg.scroll_into_view_if_needed()
    expect(svg).to_be_in_viewport()
    box = svg.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, box
    assert plot.locator("g.trace, g.hm, path.point, g.point").count() > 0  # bars, heatmap cells or points
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing makes the page scroll sideways


@pytest.mark.parametrize("width", WIDTHS)
def test_clicking_a_token_shows_the_distribution_it_was_drawn_from(served_app, page, width):  # noqa: F811
    """The tab opens with the stored answer; clicking its third token shows step 3's top-20 chart and table."""
    from playwright.sync_api import expect

    panel = open_panel(page, served_app, "Sampling", width)
    tokens = panel.locator(".sampling-tokens")
    expect(tokens).to_contain_text("p ≥ 0.9")  # the legend says what the colours mean
    step_line = panel.get_by_text("was chosen; the model gave it")
    expect(step_line).to_contain_text("Step 1 of")
    third = tokens.locator("span.token").nth(2)
    third.scroll_into_view_if_needed()
    third.click()
    expect(step_line).to_contain_text("Step 3 of", timeout=15_000)
    chart = panel.locator(".js-plotly-plot").first
    expect(chart).to_contain_text("Step 3: the 20 most likely next tokens", timeout=15_000)
    expect_drawn_inside(page, chart, width)
    table = panel.get_by_label("Top 20 next tokens: before and after the settings")
    expect(table.locator('th[title="removed by"]').first).to_be_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_scaling_chart_redraws_for_a_new_budget(served_app, page, width):  # noqa: F811
    from playwright.sync_api import expect

    panel = open_panel(page, served_app, "Scaling", width)
    chart = panel.locator(".js-plotly-plot").first
    expect(chart).to_contain_text("SmolLM2-135M", timeout=30_000)
    expect_drawn_inside(page, chart, width)
    panel.get_by_label("Parameters N (e.g. 135e6; empty: not given)").fill("1e9")
    panel.get_by_label("Compute C in FLOPs (e.g. 1e21; empty: not given)").fill("")
    panel.get_by_role("button", name="Calculate").click()
    expect(panel.get_by_label("Allocations at this budget").first).to_contain_text("20B", timeout=15_000)
    panel.get_by_label("Parameters N (e.g. 135e6; empty: not given)").fill("-5")
    panel.get_by_role("button", name="Calculate").click()
    expect(page.get_by_text("Parameters N must be a positive number").first).to_be_visible(timeout=15_000)


@pytest.mark.parametrize("width", WIDTHS)
def test_picking_a_layer_redraws_the_attention_map(served_app, page, width):  # noqa: F811
    """The tab opens with the stored map (last layer, heads averaged); typing another layer draws that one from the
    kept weights, without the model."""
    from playwright.sync_api import expect

    panel = open_panel(page, served_app, "Attention", width)
    chart = panel.locator(".js-plotly-plot").first
    expect(chart).to_contain_text("Attention, layer 30, average over heads", timeout=30_000)
    expect_drawn_inside(page, chart, width)
    expect(panel.get_by_text("the answer's attention went")).to_be_visible()
    layer = panel.get_by_label("Layer").last  # the number box beside the slider
    layer.fill("5")
    layer.press("Enter")
    expect(chart).to_contain_text("Attention, layer 5, average over heads", timeout=15_000)
    expect_drawn_inside(page, chart, width)


def test_after_a_run_a_visitor_picks_a_head(served_app, page, tiny_llama_dir):  # noqa: F811
    """On the tiny model: Show attention, then pick head 2 in the list; its map is drawn from the kept weights."""
    from playwright.sync_api import expect

    from tests.test_browser_jobs import open_tab

    page.set_viewport_size({"width": 1400, "height": 900})
    panel = open_tab(page, served_app, tiny_llama_dir, "Attention")
    panel.get_by_role("button", name="Show attention").click()
    expect(panel.locator(".prose.attention-note")).to_contain_text("tiny-llama", timeout=60_000)
    chart = panel.locator(".js-plotly-plot").first
    expect(chart).to_contain_text("average over heads")
    panel.get_by_label("Head").click()
    page.get_by_role("option", name="head 2", exact=True).click()
    expect(chart).to_contain_text("head 2", timeout=15_000)
    expect_drawn_inside(page, chart, 1400)
