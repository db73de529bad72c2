"""The page in a real Chromium: run the in-context learning tab on one example and wait for scored columns."""

import os
import shutil
from pathlib import Path

import pytest

from modules.ui.tabs import titles

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
        # this run's scores, not the stored example's the columns open with
        expect(scores.nth(index)).to_contain_text("for the batch of all columns", timeout=240_000)
        expect(scores.nth(index)).to_contain_text("ROUGE-1")
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
    page.get_by_role("tab", name="Compression").click()
    page.get_by_role("button", name="Generate in every column").click()
    for name in ("fp32", "int8"):  # each column: its variant, its token count and speed, its text
        expect(page.get_by_text(re.compile(rf"^{name} · \d+ tokens · [\d.]+ tok/s"))).to_be_visible(timeout=240_000)
    expect(page.get_by_text("(not selected)")).to_have_count(4)  # bf16, w8a8, 4-bit, GGUF: not ticked by default


# Each tab and one element only that tab shows (hidden tabs are display:none, so a visible one is the tab's own).
TAB_CONTENT = {
    "In-context learning": ("heading", "Few-shot"),
    "Reasoning": ("heading", "Self-consistency"),
    "RAG": ("heading", "Hybrid (RRF)"),
    "Fine-tuning": ("button", "Train and compare"),
    "Compression": ("button", "Measure variants"),
    "Sampling": ("button", "Generate and show each step"),
    "Attention": ("button", "Show attention"),
    "Scaling": ("button", "Calculate"),
    "Alignment": ("button", "Train the policies and compare"),
    "Compare": ("button", "Compare"),
    "Stored runs": ("button", "Export report"),
}


def tabs_without_content() -> list[str]:
    """Tabs in the registry this file does not know how to recognise (tests/test_app.py keeps it empty)."""
    return [title for title in titles() if title not in TAB_CONTENT]


@pytest.mark.parametrize("width", [1400, 1920])
def test_every_tab_is_reachable_and_shown_once(served_app, page, width):
    """Click every tab in turn: the bar keeps every label, once each and fully on screen, and shows the tab."""
    from playwright.sync_api import expect

    page.set_viewport_size({"width": width, "height": 1000})
    page.goto(served_app)
    bar = page.get_by_role("tablist")
    expect(bar.get_by_role("tab")).to_have_count(len(titles()), timeout=60_000)
    for clicked in titles():
        role, name = TAB_CONTENT[clicked]
        bar.get_by_role("tab", name=clicked, exact=True).click()
        expect(page.get_by_role(role, name=name, exact=True)).to_be_visible(timeout=30_000)
        expect(bar.get_by_role("tab")).to_have_text(titles())  # every tab, in order, nothing twice
        expect(bar.get_by_role("tab", name=clicked, exact=True)).to_have_attribute("aria-selected", "true")
        for label in titles():
            tab = bar.get_by_role("tab", name=label, exact=True)
            expect(tab).to_have_count(1)
            expect(tab).to_be_in_viewport(ratio=1)  # wholly inside the viewport and not clipped by the bar


# Accessibility (WCAG 2 AA): axe-core on every tab, the contrast of the colours the issue measured, the keyboard
# path to Run and through the tab bar, nothing clipped at 800 px, and error toasts clear of the field at fault.
AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# (rule, selector) pairs axe reports on markup Gradio itself writes, which no theme or CSS can change. Each one:
# Gradio's empty-value placeholder (an empty gr.Plot or gr.Code) is a bare <div aria-label="Empty value"> with no
# role, hard-coded in its Empty component (an aria-label on a div without a role is prohibited).
AXE_GRADIO_INTERNAL = [("aria-prohibited-attr", 'div.empty[aria-label="Empty value"]')]
RUN_AXE = """async ([tags, ignored]) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  const isIgnored = (rule, node) => ignored.some(([id, selector]) => {
    if (id !== rule) return false;
    const element = document.querySelector(node.target[0]);
    return element !== null && element.matches(selector);
  });
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => {
    const nodes = v.nodes.filter((node) => !isIgnored(v.id, node));
    return {id: v.id, impact: v.impact, count: nodes.length, targets: nodes.slice(0, 4).map((n) => n.target.join(' '))};
  }).filter((v) => v.count > 0);
}"""
# WCAG contrast of an element's text against the first opaque background behind it (the ratio the issue measured).
CONTRAST = """(element) => {
  const rgb = (color) => color.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const lin = (c) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  let behind = element;
  while (behind && (rgb(getComputedStyle(behind).backgroundColor)[3] ?? 1) === 0) behind = behind.parentElement;
  const fg = luminance(rgb(getComputedStyle(element).color));
  const bg = luminance(rgb(behind ? getComputedStyle(behind).backgroundColor : 'rgb(255, 255, 255)'));
  return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
}"""
# Text that does not fit where it is shown, in the shown tab panel and the tab bar: a single-line input (dropdown,
# number, a slider's number box) whose value, or a slider's min/max, is wider than its text area or runs under the
# dropdown arrow; a slider's min/max label or a tab label wider than its own box or cut by an overflow-hiding
# ancestor. Returns one line per problem.
CLIPPED = """() => {
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const panel = [...document.querySelectorAll('[role="tabpanel"]')].find(shown);
  const context = document.createElement('canvas').getContext('2d');
  const px = (el, property) => parseFloat(getComputedStyle(el)[property]) || 0;
  const textWidth = (text, el) => {
    const style = getComputedStyle(el);
    context.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    return context.measureText(text).width;
  };
  const name = (el) => el.getAttribute('aria-label')
    || el.closest('.block')?.querySelector('[data-testid="block-info"]')?.textContent.trim() || el.tagName;
  const problems = [];
  for (const input of panel.querySelectorAll('input:not([type]), input[type="text"], input[type="number"]')) {
    if (!shown(input)) continue;
    const room = input.clientWidth - px(input, 'paddingLeft') - px(input, 'paddingRight');
    const range = input.type === 'number' && input.closest('.block')?.querySelector('input[type="range"]');
    const texts = [input.value, ...(range ? [range.min, range.max] : [])].filter(Boolean);
    for (const text of texts) {
      const width = textWidth(text, input);
      if (width > room + 1) problems.push(`${name(input)}: "${text}" is ${width | 0} px in a ${room | 0} px field`);
    }
    if (input.scrollWidth > input.clientWidth + 1) problems.push(`${name(input)}: value scrolls`);
    const icon = input.parentElement.querySelector('.icon-wrap');
    const textEnd = input.getBoundingClientRect().right - px(input, 'borderRightWidth') - px(input, 'paddingRight');
    if (icon && shown(icon) && textEnd > icon.getBoundingClientRect().left + 1) {
      problems.push(`${name(input)}: text runs under the dropdown arrow`);
    }
  }
  const labels = [...panel.querySelectorAll('[data-testid="min-value"], [data-testid="max-value"]'),
    ...document.querySelectorAll('[role="tablist"] [role="tab"]')];
  for (const label of labels.filter(shown)) {
    const range = document.createRange();
    range.selectNodeContents(label);
    const text = range.getBoundingClientRect();
    const own = label.getBoundingClientRect();
    const what = `${label.closest('.block') ? name(label.closest('.block').querySelector('input')) : 'tab'}`;
    if (label.scrollWidth > label.clientWidth + 1 || text.width > own.width + 1) {
      problems.push(`${what}: label "${label.textContent.trim()}" is wider than its box`);
    }
    for (let up = label.parentElement; up; up = up.parentElement) {
      if (getComputedStyle(up).overflowX === 'visible') continue;
      const box = up.getBoundingClientRect();
      const left = box.left + px(up, 'borderLeftWidth'), right = box.right - px(up, 'borderRightWidth');
      if (text.left < left - 1 || text.right > right + 1) {
        problems.push(`${what}: label "${label.textContent.trim()}" is cut by its container`);
        break;
      }
    }
  }
  if (document.documentElement.scrollWidth > window.innerWidth) problems.push('the page scrolls sideways');
  return problems;
}"""


def _tab_labels(page) -> list[str]:
    """The tab bar's labels once the app has rendered: the registry's, in its order."""
    from playwright.sync_api import expect

    tabs = page.get_by_role("tablist").get_by_role("tab")
    expect(tabs).to_have_count(len(titles()), timeout=60_000)
    labels = [text.strip() for text in tabs.all_inner_texts()]
    assert labels == titles(), labels
    return labels


def _show_tab(page, label: str) -> None:
    from playwright.sync_api import expect

    tab = page.get_by_role("tablist").get_by_role("tab", name=label, exact=True)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    expect(page.locator('[role="tabpanel"]:visible')).to_have_count(1)


@pytest.mark.parametrize("scheme", ["light", "dark"])  # Gradio follows the browser's colour scheme
def test_every_tab_passes_axe_wcag_aa(served_app, page, scheme):
    """axe-core's WCAG 2 A/AA rules on every tab: no serious or critical violation (Gradio-internal ones listed)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` installs it (npm ci, pinned in package-lock.json).")
    page.emulate_media(color_scheme=scheme)
    page.goto(served_app)
    labels = _tab_labels(page)
    page.add_script_tag(path=str(AXE))
    found = {}
    for label in labels:
        _show_tab(page, label)
        page.wait_for_timeout(300)  # the panel's first render and the tab underline's 0.2 s animation
        violations = page.evaluate(RUN_AXE, [AXE_TAGS, AXE_GRADIO_INTERNAL])
        if violations:
            found[label] = [f"{v['id']} ({v['impact']}, {v['count']}x): {', '.join(v['targets'])}" for v in violations]
    assert not found, "axe-core WCAG AA violations:\n" + "\n".join(
        f"[{tab}] {line}" for tab, lines in found.items() for line in lines
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_measured_colours_meet_wcag_aa_contrast(served_app, page, scheme):
    """What the issue measured (info text 1.91:1, Run 2.80:1, selected tab 2.80:1), Stop and a slider's max label:
    each at least 4.5:1 (axe leaves the selected tab "incomplete": its underline is a pseudo-element)."""
    page.emulate_media(color_scheme=scheme)
    page.goto(served_app)
    _tab_labels(page)
    panel = page.locator('[role="tabpanel"]:visible')
    elements = {
        "info text": page.locator(".info-text").first,
        "Run button": panel.get_by_role("button", name="Run", exact=True),
        "Stop button": panel.get_by_role("button", name="Stop", exact=True).first,
        "selected tab": page.get_by_role("tablist").locator('[role="tab"][aria-selected="true"]'),
        "slider min/max": panel.locator('[data-testid="max-value"]').first,
    }
    page.wait_for_timeout(300)  # the selected tab's colour transition
    ratios = {name: round(element.evaluate(CONTRAST), 2) for name, element in elements.items()}
    print(scheme, ratios)
    assert all(ratio >= 4.5 for ratio in ratios.values()), ratios


def test_keyboard_reaches_run_and_moves_between_tabs(served_app, page):
    """Tab from page load reaches the In-context learning Run button in fewer than 30 presses; a skip link (the
    first stop) jumps there; in the tab bar only the selected tab is a Tab stop, and arrows/Home/End switch tabs."""
    from playwright.sync_api import expect

    page.goto(served_app)
    labels = _tab_labels(page)
    run = page.locator('[role="tabpanel"]:visible').get_by_role("button", name="Run", exact=True)
    expect(page.get_by_role("tablist").locator('[role="tab"][tabindex="0"]')).to_have_count(1)  # js has run
    presses, reached = 0, False
    while presses < 29 and not reached:
        page.keyboard.press("Tab")
        presses += 1
        reached = run.evaluate("(button) => button === document.activeElement")
    assert reached, "29 Tab presses from page load did not reach the Run button"

    page.reload()
    _tab_labels(page)
    skip = page.locator(".lab-skip-link")
    expect(skip).to_be_attached()  # added by the page's js, which runs once the app has rendered
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport(ratio=1)  # visible while focused
    page.keyboard.press("Enter")
    expect(run).to_be_focused()

    bar = page.get_by_role("tablist")
    bar.get_by_role("tab", name=labels[0], exact=True).focus()
    last = len(labels) - 1
    for key, expected in [("ArrowRight", 1), ("ArrowRight", 2), ("ArrowLeft", 1), ("End", last), ("ArrowRight", 0),
                          ("ArrowLeft", last), ("Home", 0)]:  # fmt: skip
        page.keyboard.press(key)
        tab = bar.get_by_role("tab", name=labels[expected], exact=True)
        expect(tab).to_be_focused()
        expect(tab).to_have_attribute("aria-selected", "true")
        expect(tab).to_have_attribute("tabindex", "0")


def test_nothing_is_clipped_at_800_px(served_app, page):
    """At 800 px, on every tab with its accordions open: dropdown values, slider numbers and min/max labels and the
    tab labels fit where they are shown, and the page does not scroll sideways."""
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 800, "height": 1000})
    page.goto(served_app)
    labels = _tab_labels(page)
    clipped = {}
    for label in labels:
        _show_tab(page, label)
        for tab in labels:  # the whole bar on screen (before the accordions open and the page scrolls)
            expect(page.get_by_role("tablist").get_by_role("tab", name=tab, exact=True)).to_be_in_viewport(ratio=1)
        panel = page.locator('[role="tabpanel"]:visible')
        for _ in range(5):  # open every accordion, nested ones included
            closed = panel.locator("button.label-wrap:not(.open):visible")
            if not closed.count():
                break
            closed.first.click()
        expect(panel.locator("button.label-wrap:not(.open):visible")).to_have_count(0)
        page.wait_for_timeout(300)
        if problems := page.evaluate(CLIPPED):
            clipped[label] = problems
    assert not clipped, "clipped at 800 px:\n" + "\n".join(f"[{tab}] {p}" for tab, ps in clipped.items() for p in ps)


def test_error_toast_does_not_cover_the_field_at_fault(served_app, page):
    """A model spec that cannot load: the error shows, and not on top of the Model spec field (top right)."""
    from playwright.sync_api import expect

    page.goto(served_app)
    _tab_labels(page)
    field = page.get_by_label("Model spec")
    field.fill("/no/such/model-folder")
    page.get_by_role("button", name="Load model").click()
    toast = page.get_by_test_id("toast-body").filter(has_text="Cannot load model")
    expect(toast).to_be_visible(timeout=30_000)
    page.wait_for_timeout(500)  # the toast's slide-in
    a, b = toast.bounding_box(), field.bounding_box()
    overlap = a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
    overlap = overlap and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]
    assert not overlap, (a, b)


def test_an_exported_report_opens_from_disk_without_network(page, tiny_model, tmp_path):
    """The report is one file: opened from disk with every network request refused, its chart draws and its tables
    are there."""
    from playwright.sync_api import expect

    from evals import report
    from evals.runner import compare, parse_systems
    from evals.tasks import load_task
    from modules.store import default_store

    systems = parse_systems(["zero-shot:max_new_tokens=4", "few-shot:k=1:max_new_tokens=4"], tiny_model.spec)
    run = compare(load_task("dialogue-summary"), systems, limit=3, store=default_store())
    path = report.write(default_store(), run.id, tmp_path / "report.html")
    requests = []
    page.context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else
                       (requests.append(route.request.url), route.abort()))  # fmt: skip
    page.context.set_offline(True)
    page.goto(path.as_uri())
    expect(page.get_by_role("heading", name="Quality: mean [95% interval]", exact=False)).to_be_visible()
    expect(page.locator(".plotly-graph-div .main-svg").first).to_be_visible(timeout=30_000)  # drawn, not a blank box
    expect(page.get_by_role("cell", name="few-shot (k=1, max_new_tokens=4)").first).to_be_visible()
    assert requests == [], requests


def test_a_run_link_opens_that_run(served_app, page, tiny_model):
    from playwright.sync_api import expect

    from evals.runner import compare, parse_systems
    from evals.tasks import load_task
    from modules.store import default_store

    systems = parse_systems(["zero-shot:max_new_tokens=4"], tiny_model.spec)
    run = compare(load_task("dialogue-summary"), systems, limit=2, store=default_store())
    page.goto(f"{served_app}?run={run.id}")
    expect(page.get_by_role("tab", name="Stored runs", exact=True)).to_have_attribute("aria-selected", "true",
                                                                                     timeout=60_000)  # fmt: skip
    expect(page.get_by_text(f"Run {run.id} (complete)")).to_be_in_viewport()


def test_a_comparison_in_the_compare_tab(served_app, page, tiny_llama_dir):
    """As a person does it: load a model in the bar, open Compare, type two systems, pick fewer examples, press
    Compare, and see the paired table, the costs and the report link."""
    from playwright.sync_api import expect

    page.goto(served_app)
    _tab_labels(page)
    page.get_by_label("Model spec").fill(str(tiny_llama_dir))
    page.get_by_role("button", name="Load model").click()
    expect(page.locator("#model-info")).to_contain_text("tiny-llama", timeout=60_000)
    _show_tab(page, "Compare")
    panel = page.locator('[role="tabpanel"]:visible')
    panel.get_by_label("Systems, one per line").fill("zero-shot:max_new_tokens=4\nfew-shot:k=1:max_new_tokens=4")
    slider = panel.get_by_label("Examples (test split)").last  # the number box beside the slider
    slider.fill("2")
    slider.press("Enter")
    panel.get_by_role("button", name="Compare", exact=True).click()
    expect(panel.locator(".prose.compare-status")).to_contain_text("(complete)", timeout=120_000)

    def shown(text: str):
        return panel.get_by_text(text).filter(visible=True).first

    expect(shown("few-shot (k=1, max_new_tokens=4)")).to_be_in_viewport(timeout=10_000)
    expect(shown("vs baseline [95% interval]")).to_be_visible()
    expect(shown("wall s / example")).to_be_visible()
    expect(shown("report-run-")).to_be_visible()
