"""Accessibility for the whole page: a WCAG AA theme, CSS for narrow screens and toasts, keyboard helpers."""

import gradio as gr

# Gradio's Default theme with the colours that failed WCAG AA (4.5:1 for text) replaced; ratios are against the
# white page. Subdued text (info lines, slider ends, the footer) was zinc-400 #bbbbc2 (1.9:1), now zinc-600
# #52525b (7.7:1); primary buttons and the accent (selected tab, ticks, slider fill) were orange-500 #f97316
# (2.8:1), now orange-700 #c2410c (5.2:1); Stop was red-500 #ef4444 (3.8:1), now red-700 #b91c1c (6.5:1).
THEME = gr.themes.Default().set(
    body_text_color_subdued="*neutral_600",
    input_placeholder_color="*neutral_500",  # #71717a, 4.8:1 on the white input
    color_accent="*primary_700",
    button_primary_background_fill="*primary_700",
    button_primary_background_fill_hover="*primary_800",
    button_primary_background_fill_dark="*primary_700",
    button_primary_background_fill_hover_dark="*primary_800",
    button_cancel_background_fill="#b91c1c",
    button_cancel_background_fill_hover="#991b1b",
)

CSS = """
/* Tables of texts side by side: no column wider than a third of the page, so one long output or reference
   cannot push the other columns off screen (Gradio otherwise sizes a column to its longest cell). */
.side-by-side .table-wrap { --df-max-col-width: 420px !important; }

/* The Sampling tab's tokens: Gradio paints each band at half opacity, which on the dark page turns dark under
   black text; on a white card they read the same in both modes (black on the lightest band blend: 8:1). */
.sampling-tokens .container { background: #ffffff; border-radius: 6px; padding: 6px; }
.sampling-tokens :is(.legend-item, .token, .text) { color: #000000 !important; }

/* The accent has no dark-mode variant: on the dark page the selected tab's text takes the lighter orange-400. */
.dark [role="tablist"] [role="tab"][aria-selected="true"] { color: var(--primary-400); }

/* A clearly visible focus ring on every control for keyboard users (Gradio's own is a pale border, 1.9:1, or none
   on sliders and radio buttons): blue-600 on the light page (5.2:1 on white), blue-400 on the dark one (5.7:1 on its
   grey blocks, 7.6:1 on the page). !important: Gradio sets outline: none on several inputs. */
.gradio-container { --lab-focus-ring: #2563eb; }
.dark .gradio-container, .gradio-container.dark { --lab-focus-ring: #60a5fa; }
.gradio-container :is(button, a, input, textarea, select, [tabindex="0"]):focus-visible {
    outline: 3px solid var(--lab-focus-ring) !important;
    outline-offset: 2px;
}
/* Inside the control where an ancestor hides what overflows it: the tab bar, a block's edge (a slider's ↺ reset
   button sits at it), the bordered box of a text field or dropdown, a file drop zone, a table's cells and tool
   buttons, a chart's (!important: plotly's own rule is more specific). */
.gradio-container :is([role="tab"], .reset-button, textarea, input:not([type="range"], [type="radio"],
    [type="checkbox"]), .upload-container, .table-container [tabindex="0"], .table-container button,
    .js-plotly-plot a, .js-plotly-plot button):focus-visible { outline-offset: -3px !important; }

/* Skip link (added by JS below): off screen until focused. */
.lab-skip-link {
    position: absolute;
    left: -10000px;
    top: 8px;
    z-index: 10000;
    padding: 8px 16px;
    background: #ffffff;
    color: #1d4ed8;
    border: 2px solid #1d4ed8;
    border-radius: 4px;
    font-weight: 600;
}
.lab-skip-link:focus { left: 8px; }

/* Room for what dropdowns and sliders show. A dropdown or slider (or the form group Gradio wraps it in) in a row
   wraps to a new line rather than shrink below what a task name or a slider's number box, track and min/max labels
   need. Below 1280 px a column holding a dropdown takes the full width: side by side (measured at 800-1279 px) it
   left an example's or question's dropdown under 530 px, less than the longest label needs. Gradio
   scopes rules inside @media to its container itself, so those carry no .gradio-container. */
.gradio-container :is(.form, .block):has(input[role="combobox"]) { min-width: min(280px, 100%) !important; }
.gradio-container :is(.form, .block):has(input[type="range"]) { min-width: min(240px, 100%) !important; }
@media (max-width: 1279px) {
    .row > .column:has(input[role="combobox"]) { min-width: 100% !important; }
}

/* Dropdown text ends before the arrow instead of running underneath it. */
.gradio-container input[role="combobox"] { padding-right: 28px; }

/* A slider's min and max labels keep their width; the track shrinks instead (at 800 px "256" showed as "25"). */
.gradio-container [data-testid="min-value"],
.gradio-container [data-testid="max-value"] { flex-shrink: 0; }

/* RAG chunks: wrapped in their column, the question's words marked (black on yellow: 15:1 in light and dark mode). */
.gradio-container .rag-chunk { white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0 12px; }
.gradio-container .rag-chunk mark { background: #fde68a; color: #111827; padding: 0 1px; }

/* Tables: a header breaks only between words (Gradio's break-word split "variant" into "varia nt" and let columns
   shrink to one letter); a number or other single word in a cell stays whole, so columns are at least as wide as
   their longest word, and a table wider than its box scrolls sideways inside it, with a scrollbar that shows. */
.gradio-container .table-wrap :is(th .header, td .text) { word-break: normal; overflow-wrap: normal; }
.gradio-container .table-wrap td .text { overflow-wrap: break-word; }
.gradio-container .virtual-table-viewport { overflow-x: auto; scrollbar-width: auto; }

/* Charts have transparent backgrounds (evals/report.py: legible); on the dark page their text takes the page's text
   colour (plotly writes #444 inline, 2.1:1 there; !important outranks an inline style). */
.dark .js-plotly-plot .main-svg :is(text, .legendtext) { fill: var(--body-text-color) !important; }

/* Error and warning toasts at the bottom right: at the top right they covered the Model spec field. */
.toast-wrap { top: auto !important; bottom: var(--size-4) !important; }
"""

# Runs once the page has loaded (launch(js=...)). Tab bars follow the WAI-ARIA tabs pattern: one Tab stop (the
# selected tab), arrow keys / Home / End move to and select another tab. A skip link, the first Tab stop, jumps to
# the shown tab's main (primary) button.
JS = """
() => {
  const tabsOf = (list) => [...list.querySelectorAll('[role="tab"]')].filter(
    (tab) => !tab.disabled && tab.getClientRects().length);
  const rove = () => {
    for (const list of document.querySelectorAll('[role="tablist"]')) {
      for (const tab of list.querySelectorAll('[role="tab"]')) {
        const index = tab.getAttribute('aria-selected') === 'true' ? '0' : '-1';
        if (tab.getAttribute('tabindex') !== index) tab.setAttribute('tabindex', index);
      }
    }
  };
  // Code colours: Gradio's code theme (Nord) draws numbers and operators at 2.0:1 and keywords at 4.0:1 on white, and
  // its token classes are generated names CSS cannot target. Each token too faint against the editor's background
  // is mixed toward black (light page) or white (dark page), keeping its hue, until it reaches 4.5:1 (WCAG AA).
  const rgb = (color) => color.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const lin = (c) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const contrast = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)];
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  };
  const background = (element) => {
    while (element && (rgb(getComputedStyle(element).backgroundColor)[3] ?? 1) === 0) element = element.parentElement;
    return rgb(element ? getComputedStyle(element).backgroundColor : 'rgb(255, 255, 255)').slice(0, 3);
  };
  const legible = () => {
    for (const editor of document.querySelectorAll('.cm-editor')) {
      const spans = editor.querySelectorAll('.cm-line span:not([data-legible])');
      if (!spans.length) continue;
      const behind = background(editor);
      const toward = luminance(behind) > 0.18 ? 0 : 255;
      for (const span of spans) {
        let color = rgb(getComputedStyle(span).color).slice(0, 3);
        for (let step = 0; step < 20 && contrast(color, behind) < 4.6; step++) {
          color = color.map((c) => c + (toward - c) * 0.15);
        }
        span.style.color = `rgb(${color.map(Math.round).join(', ')})`;
        span.dataset.legible = '';
      }
    }
  };
  let queued = false;
  new MutationObserver(() => {
    if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; rove(); legible(); }); }
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['aria-selected']});
  rove();
  document.addEventListener('keydown', (event) => {
    const tab = event.target.closest && event.target.closest('[role="tab"]');
    const list = tab && tab.closest('[role="tablist"]');
    if (!list || event.altKey || event.ctrlKey || event.metaKey) return;
    const tabs = tabsOf(list);
    const at = tabs.indexOf(tab);
    const to = {ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1}[event.key];
    if (to === undefined || at < 0) return;
    event.preventDefault();
    const next = tabs[(to + tabs.length) % tabs.length];
    next.focus();
    next.click();
  });
  if (!document.querySelector('.lab-skip-link')) {
    const link = document.createElement('a');
    link.className = 'lab-skip-link';
    link.href = '#';
    link.textContent = "Skip to this tab's main button";
    link.addEventListener('click', (event) => {
      event.preventDefault();
      const shown = (el) => el.getClientRects().length > 0;
      const panel = [...document.querySelectorAll('[role="tabpanel"]')].find(shown);
      const scope = panel || document;
      const target = [...scope.querySelectorAll('button.primary')].find(shown)
        || [...scope.querySelectorAll('button, input, textarea, [tabindex="0"]')].find(shown);
      if (target) { target.focus(); target.scrollIntoView({block: 'center'}); }
    });
    document.body.prepend(link);
  }
}
"""
