"""What a person sees in Chromium (issue #23): RAG chunks and PAL programs wrapped with legible colours, a focus ring
on every kind of control, table headers whole, and a ?run=ID link showing that run."""

import types

import pytest

from tests.conftest import _free_port
from tests.test_browser import _show_tab, _tab_labels, page  # noqa: F401 (page is a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# WCAG contrast of two CSS colours, and the first opaque background at or behind an element.
COLOURS = """
const rgb = (color) => color.match(/[\\d.]+/g).map(Number);
const luminance = ([r, g, b]) => {
  const lin = (c) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
};
const contrast = (a, b) => {
  const [x, y] = [luminance(rgb(a)), luminance(rgb(b))];
  return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
};
const behind = (element) => {
  while (element && (rgb(getComputedStyle(element).backgroundColor)[3] ?? 1) === 0) element = element.parentElement;
  return element ? getComputedStyle(element).backgroundColor : 'rgb(255, 255, 255)';
};
"""
# Lines wider than their box (a RAG chunk, a PAL program line) and code or chart text under 4.5:1. One line each.
UNREADABLE = (
    "() => {"
    + COLOURS
    + """
  const problems = [];
  const overflows = (element, box) => element.scrollWidth > element.clientWidth + 1
    || element.getBoundingClientRect().right > box.getBoundingClientRect().right + 1;
  for (const chunk of document.querySelectorAll('.rag-chunk')) {
    if (overflows(chunk, chunk.closest('.block'))) problems.push(`RAG chunk wider than its box: ${chunk.scrollWidth}`);
  }
  for (const scroller of document.querySelectorAll('.pal-program .cm-scroller')) {
    if (scroller.scrollWidth > scroller.clientWidth + 1) problems.push('PAL program scrolls sideways');
    for (const line of scroller.querySelectorAll('.cm-line')) {
      if (overflows(line, scroller)) problems.push(`PAL line cut: ${line.textContent}`);
    }
  }
  for (const token of document.querySelectorAll('.pal-program .cm-line span')) {
    const ratio = contrast(getComputedStyle(token).color, behind(token));
    if (ratio < 4.5) problems.push(`code "${token.textContent}" ${ratio.toFixed(2)}:1`);
  }
  for (const text of document.querySelectorAll('.js-plotly-plot .main-svg text')) {
    if (!text.textContent.trim()) continue;
    const ratio = contrast(getComputedStyle(text).fill, behind(text.closest('.js-plotly-plot')));
    if (ratio < 4.5) problems.push(`chart text "${text.textContent}" ${ratio.toFixed(2)}:1`);
  }
  return problems;
}"""
)
# The keyboard focus ring of the focused element: its kind, and what is wrong with the ring (empty if nothing). An
# outline drawn outside sits on the background behind the control, one drawn inside on the control's own; an outside
# ring must not be cut by an ancestor that hides what overflows it.
FOCUS_RING = (
    "() => {"
    + COLOURS
    + """
  const element = document.activeElement;
  const kind = element.matches('.reset-button') ? 'reset button'
    : element.matches('input[type="range"]') ? 'slider'
    : element.matches('input[type="radio"]') ? 'radio'
    : element.matches('input[type="checkbox"]') ? 'checkbox'
    : element.matches('input[role="combobox"]') ? 'dropdown'
    : element.matches('textarea, input[type="text"], input:not([type])') ? 'textbox'
    : element.matches('button') ? 'button' : null;
  if (!kind) return {kind, problem: ''};
  const style = getComputedStyle(element);
  const width = parseFloat(style.outlineWidth) || 0, offset = parseFloat(style.outlineOffset) || 0;
  if (style.outlineStyle === 'none' || width < 2) return {kind, problem: `no ring (outline ${style.outline})`};
  const ratio = contrast(style.outlineColor, behind(offset >= 0 ? element.parentElement : element));
  if (ratio < 3) return {kind, problem: `ring ${style.outlineColor} at ${ratio.toFixed(2)}:1`};
  const box = element.getBoundingClientRect(), grow = Math.max(0, offset + width);
  for (let up = element.parentElement; up; up = up.parentElement) {
    const s = getComputedStyle(up);
    if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
    const r = up.getBoundingClientRect();
    if (box.left - grow < r.left - 0.5 || box.right + grow > r.right + 0.5 || box.top - grow < r.top - 0.5
        || box.bottom + grow > r.bottom + 0.5) return {kind, problem: `ring cut by .${up.className}`};
  }
  return {kind, problem: ''};
}"""
)
CONTROL_KINDS = {"button", "slider", "radio", "checkbox", "textbox", "dropdown", "reset button"}
# In the shown panel: a header word split over two lines (a line may end at a space or after a hyphen: ROUGE-L), a
# number split over two lines, a table whose columns run past its box without a way to scroll to them.
BROKEN_TABLES = """() => {
  const shown = (el) => el.getClientRects().length > 0;
  const panel = [...document.querySelectorAll('[role="tabpanel"]')].find(shown);
  const split = (element, pattern) => {
    const node = [...element.childNodes].find((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    if (!node) return [];
    const found = [];
    for (const match of node.textContent.matchAll(pattern)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
      if (tops.size > 1) found.push(match[0]);
    }
    return found;
  };
  const problems = [];
  for (const header of [...panel.querySelectorAll('th .header')].filter(shown)) {
    for (const word of split(header, /[^\\s-]+/g)) problems.push(`"${header.textContent.trim()}" splits "${word}"`);
  }
  for (const cell of [...panel.querySelectorAll('td .text')].filter(shown)) {
    for (const number of split(cell, /-?\\d[\\d.,eE+-]*/g)) problems.push(`number ${number} splits`);
  }
  for (const viewport of [...panel.querySelectorAll('.virtual-table-viewport')].filter(shown)) {
    const scrolls = ['auto', 'scroll'].includes(getComputedStyle(viewport).overflowX);
    if (viewport.scrollWidth > viewport.clientWidth + 1 && !scrolls) {
      problems.push(`${viewport.closest('.table-wrap').getAttribute('aria-label')}: columns hidden past its edge`);
    }
  }
  return problems;
}"""
PROGRAM = (
    "def solution():\n    # 30 stamps at 5 cents and 29 at 4 cents, in dollars\n"
    "    return 30 * 5 + 29 * 4 / 100 + 1234567 * 89 - 42 / 7 + 3.5 ** 2\n\nprint(solution(), 'cents', True, None)\n"
)


@pytest.fixture(scope="module")
def readable_app():
    """The tabs' own RAG sources box and PAL program box, filled, and a scores chart, in columns as narrow as the
    tabs' at 800 px, styled as the app is (a model run would take minutes to fill them)."""
    import gradio as gr
    import pandas as pd

    from evals import report
    from evals.tasks import Example
    from modules.ui import rag, reasoning, style

    text = "Annual leave: every full-time employee gets 27 days of annual leave per calendar year, carried over. " * 3
    sources = [{"rank": 1, "source": "leave.md", "chunk_id": 0, "doc_id": "hb-01", "score": 2.0, "text": text}]
    question = Example(id="q", input="How many days of annual leave?", reference="27", meta={})
    listed = rag.sources_table(types.SimpleNamespace(trace={"sources": sources}), question)
    quality = pd.DataFrame({"system": ["zero-shot (max_new_tokens=96)", "few-shot (k=3, max_new_tokens=96)"] * 2,
                            "score": ["rouge1", "rouge1", "rougeL", "rougeL"], "mean": [0.2, 0.3, 0.25, 0.35],
                            "ci_low": [0.1, 0.2, 0.15, 0.25], "ci_high": [0.3, 0.4, 0.35, 0.45]})  # fmt: skip
    with gr.Blocks() as demo:
        with gr.Row():
            for _ in rag.COLUMNS:
                with gr.Column(min_width=240):
                    rag.sources_box(listed)
        with gr.Row():
            for _ in reasoning.COLUMNS:
                with gr.Column(min_width=220):
                    reasoning.program_box(PROGRAM)
        gr.Plot(report.chart(quality, "dialogue-summary (test, n=32): mean and 95% interval"), label="Scores")
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=_free_port(), quiet=True,
                theme=style.THEME, css=style.CSS, js=style.JS)  # fmt: skip
    yield demo.local_url
    demo.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_chunks_and_programs_wrap_in_legible_colours(readable_app, page, scheme):  # noqa: F811
    """At 800 px: no RAG chunk or PAL program line wider than its box; every code token and chart label at 4.5:1."""
    from playwright.sync_api import expect

    page.emulate_media(color_scheme=scheme)
    page.set_viewport_size({"width": 800, "height": 1000})
    page.goto(readable_app)
    expect(page.locator(".rag-chunk mark").first).to_be_visible(timeout=60_000)
    expect(page.locator(".pal-program .cm-line span").first).to_be_visible()
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    tokens = page.locator(".pal-program .cm-line span")
    expect(page.locator(".pal-program .cm-line span[data-legible]")).to_have_count(tokens.count())  # the page's js ran
    assert page.evaluate(UNREADABLE) == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_kind_of_control_shows_a_focus_ring(served_app, page, scheme):  # noqa: F811
    """Tab through the first tab and RAG: each kind of control, when focused by keyboard, shows a ring at 3:1 against
    what is behind it, not cut off."""
    page.emulate_media(color_scheme=scheme)
    page.set_viewport_size({"width": 800, "height": 1000})
    page.goto(served_app)
    labels = _tab_labels(page)
    seen, problems = set(), []
    for label in (labels[0], "RAG"):
        _show_tab(page, label)
        page.get_by_role("tablist").get_by_role("tab", name=label, exact=True).focus()
        for _ in range(30):
            page.keyboard.press("Tab")
            kind = page.evaluate(FOCUS_RING)["kind"]
            if kind and kind not in seen:
                page.wait_for_timeout(250)  # Gradio's buttons fade their outline in
                seen.add(kind)
                if problem := page.evaluate(FOCUS_RING)["problem"]:
                    problems.append(f"[{label}] {kind}: {problem}")
    assert seen == CONTROL_KINDS, f"never focused: {CONTROL_KINDS - seen}"
    assert not problems, problems


def test_table_headers_and_numbers_stay_whole_at_800_px(served_app, page):  # noqa: F811
    """On every tab at 800 px: no header word or number split over two lines; a table wider than its box scrolls."""
    page.set_viewport_size({"width": 800, "height": 1000})
    page.goto(served_app)
    found = {}
    for label in _tab_labels(page):
        _show_tab(page, label)
        page.wait_for_timeout(300)  # the tables measure their columns once shown
        if problems := page.evaluate(BROKEN_TABLES):
            found[label] = problems
    assert not found, found


def test_a_run_link_shows_that_run_in_view(served_app, page, tiny_model):  # noqa: F811
    from playwright.sync_api import expect

    from evals.runner import compare, parse_systems
    from evals.tasks import load_task
    from modules.store import default_store

    systems = parse_systems(["zero-shot:max_new_tokens=4"], tiny_model.spec)
    run = compare(load_task("dialogue-summary"), systems, limit=2, store=default_store())
    page.set_viewport_size({"width": 800, "height": 800})
    page.goto(f"{served_app}?run={run.id}")
    status = page.locator(".run-status").get_by_text(f"Run {run.id} (complete)")
    expect(status).to_be_in_viewport(ratio=0.9, timeout=60_000)
