"""The app: importable without a model, served, and driven through gradio_client."""

import subprocess
import sys

import pytest

from modules.paths import lab_home
from modules.store import Store
from tests.test_cli import ROOT


def test_import_loads_no_model():
    code = "import app; from modules.models import loaded_specs; assert loaded_specs() == [], loaded_specs()"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)  # bounded: an import
    assert done.returncode == 0, done.stderr


def test_runs_endpoints(client):
    store = Store(lab_home() / "lab.db")
    run_id = store.create_run(
        model_spec="s", model_label="tiny (fp32)", systems=[{"name": "zero-shot"}], task="dialogue-summary",
        split="test", limit=1, seed=0, versions={}, git_commit=None,
    )  # fmt: skip
    store.finish_run(run_id, "complete", [{"system": "zero-shot", "score": "rougeL", "mean": 0.3, "ci_low": 0.2,
                                           "ci_high": 0.4, "n": 1, "label": "ROUGE-L F (0-1)"}])  # fmt: skip
    listed = client.predict(api_name="/list_runs")
    assert run_id in [row[0] for row in listed["data"]]
    shown = client.predict(run_id, api_name="/run_aggregate")
    assert shown["data"][0][:3] == ["zero-shot", "rougeL", 0.3]
    with pytest.raises(Exception, match="No run with id 999999"):
        client.predict(999999, api_name="/run_aggregate")


def test_tabs_hold_only_tabs():
    """Gradio 6 numbers tabs by their position among all children of gr.Tabs: a gr.State there (a tab builder's
    Stop flag) made a click on one tab overwrite another in the bar. The browser test shows it; this finds it fast."""
    import gradio as gr

    import app
    from modules.ui.tabs import titles

    (tabs,) = [block for block in app.demo.blocks.values() if isinstance(block, gr.Tabs)]
    labels = [child.label for child in tabs.children if isinstance(child, gr.Tab)]
    assert labels == titles()
    assert all(isinstance(child, gr.Tab) for child in tabs.children), [type(c).__name__ for c in tabs.children]


def test_a_new_tab_reaches_the_page_and_every_test_that_lists_tabs(monkeypatch):
    """The registry is the one list of tabs: a tab added to it is built into the page, joins the technique coverage,
    and the browser tests (tab bar, keyboard, stored examples) miss it until they say what to look for on it."""
    import gradio as gr

    import app
    from modules.ui import tabs
    from tests import test_browser, test_first_minutes

    assert test_browser.tabs_without_content() == [] and test_first_minutes.tabs_without_example() == []

    def build(model_state, model_info):
        with gr.Tab("New tab"):
            gr.Markdown("new")

    monkeypatch.setattr(tabs, "TABS", [*tabs.TABS, tabs.Tab("New tab", ("new-technique",), build)])
    (bar,) = [block for block in app.build_demo().blocks.values() if isinstance(block, gr.Tabs)]
    assert [child.label for child in bar.children] == tabs.titles() and tabs.titles()[-1] == "New tab"
    assert "new-technique" in tabs.covered()
    assert test_browser.tabs_without_content() == ["New tab"]
    assert test_first_minutes.tabs_without_example() == ["New tab"]


def test_checked_numbers_say_what_is_allowed():
    from modules import inputs

    assert inputs.whole("3", "k", 1, 8) == 3 and inputs.whole(4.0, "k", 1, 8) == 4
    for bad in (float("nan"), float("inf"), 1e30, "abc", None, 2.5, 0):
        with pytest.raises(ValueError, match="k must be a whole number from 1 to 8"):
            inputs.whole(bad, "k", 1, 8)
    with pytest.raises(ValueError, match="is 1,000,000 characters; the limit is 20,000") as error:
        inputs.text("x" * 1_000_000, "The input")
    assert len(str(error.value)) < 100


def test_every_api_parameter_has_a_name():
    """Handlers take their controls by name (`settings` in wiring.on_model): a script calling /finetune_train or
    /icl_run names what it sets, and the API page says what each value is, not param_2."""
    import app

    endpoints = app.demo.get_api_info()["named_endpoints"]
    unnamed = {name: p["parameter_name"] for name, e in endpoints.items() for p in e["parameters"]
               if p["parameter_name"].startswith("param_")}  # fmt: skip
    assert unnamed == {}
    assert [p["parameter_name"] for p in endpoints["/finetune_train"]["parameters"]][:3] == ["name", "methods", "task"]
