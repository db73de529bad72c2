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

/* The accent has no dark-mode variant: on the dark page the selected tab's text takes the lighter orange-400. */
.dark [role="tablist"] [role="tab"][aria-selected="true"] { color: var(--primary-400); }

/* A clearly visible focus ring on every button, tab and link for keyboard users. */
.gradio-container button:focus-visible,
.gradio-container a:focus-visible {
    outline: 3px solid var(--secondary-600);
    outline-offset: 2px;
}
/* Inside: the tab bar hides what overflows it. */
.gradio-container [role="tablist"] [role="tab"]:focus-visible { outline-offset: -3px; }

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
  let queued = false;
  new MutationObserver(() => {
    if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; rove(); }); }
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
