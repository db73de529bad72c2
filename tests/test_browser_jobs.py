"""While a job runs, the page shows what is true (issue #23), in a real Chromium on the tiny model: the stored
example is gone once a run starts, a finished system's row shows before the run ends, the status moves, Stop says
"Stopping…" at once, Train is disabled while it trains, and a page closed mid-job frees the model queue.

A system whose answers are "slow" is held at a gate (in this process: the served app runs here) until Stop or the
test releases it, so each test waits on work it controls, never on a clock or on how fast this machine is."""

import threading

import pytest

from modules.techniques import prompting
from tests.test_browser import _show_tab, _tab_labels, page  # noqa: F401 (page: the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HELD_TOKENS = 5  # a prompting system with max_new_tokens=5 is held at the gate
FAST, HELD = "zero-shot:max_new_tokens=4", f"few-shot:k=1:max_new_tokens={HELD_TOKENS}"


@pytest.fixture()
def window(page):  # noqa: F811 (test_browser.py's Chromium page; a parameter named page would shadow the import)
    return page


@pytest.fixture()
def gate(monkeypatch):
    """Prompting calls for which `held(config)` is true wait until gate.set() (at most 120 s), or until Stop where
    gate.sees_stop (else Stop is seen once the test releases the gate: a step that takes a while to end)."""
    gate, original = threading.Event(), prompting.run
    gate.held = lambda config: config.max_new_tokens == HELD_TOKENS
    gate.entered, gate.sees_stop = threading.Event(), True

    def held_run(model, task, examples, config, stop=None, on_text=None):
        if gate.held(config):
            gate.entered.set()
            for _ in range(2400):  # 120 s at most: a test that forgot to release fails instead of hanging
                if gate.wait(0.05) or (gate.sees_stop and stop is not None and stop.is_set()):
                    break
        return original(model, task, examples, config, stop, on_text)

    monkeypatch.setattr(prompting, "run", held_run)
    yield gate
    gate.set()


def open_tab(page, served_app, tiny_llama_dir, tab: str):  # noqa: F811 (a Chromium page)
    """The page with the tiny model in the bar and `tab` shown; returns the tab's panel."""
    from playwright.sync_api import expect

    page.goto(served_app)
    _tab_labels(page)
    page.get_by_label("Model spec").fill(str(tiny_llama_dir))
    page.get_by_role("button", name="Load model").click()
    expect(page.locator("#model-info")).to_contain_text("tiny-llama", timeout=60_000)
    _show_tab(page, tab)
    return page.locator('[role="tabpanel"]:visible')


def set_number(panel, label: str, value: int) -> None:
    box = panel.get_by_label(label).last  # the number box beside the slider
    box.fill(str(value))
    box.press("Enter")


def expect_moving(status) -> None:
    """The status text changes within 15 s: the page shows time passing, not a frozen line."""
    from playwright.sync_api import expect

    before = status.inner_text()
    expect(status).not_to_have_text(before, timeout=15_000)


def press_stop(panel, status, gate=None, index: int = 0) -> None:
    """Stop, and "Stopping…" on the button and in the status within 2 s, while the step in hand is still held (a
    tiny model's job could end before the page is looked at); then the held step is let go."""
    from playwright.sync_api import expect

    if gate is not None:
        gate.sees_stop = False
    panel.get_by_role("button", name="Stop", exact=True).nth(index).click()
    expect(panel.get_by_role("button", name="Stopping…")).to_be_visible(timeout=2_000)
    expect(status).to_contain_text("Stopping…", timeout=2_000)
    if gate is not None:
        gate.set()


def test_compare_clears_the_stored_example_shows_a_finished_system_and_stops(served_app, window, tiny_llama_dir, gate):
    from playwright.sync_api import expect

    panel = open_tab(window, served_app, tiny_llama_dir, "Compare")
    status = panel.locator(".prose.compare-status")
    expect(status).to_contain_text("Stored example run")
    stored_system = panel.get_by_text("@ smollm2-135m+quant:int8-all-but-down_proj").filter(visible=True)
    expect(stored_system.first).to_be_visible()
    expect(panel.get_by_label("Price per GPU-hour (optional; cost per 1,000 examples)")).to_have_value("")
    panel.get_by_label("Systems, one per line").fill(f"{FAST}\n{HELD}")
    set_number(panel, "Examples (test split)", 2)
    panel.get_by_role("button", name="Compare", exact=True).click()
    expect(status).not_to_contain_text("Stored example run", timeout=10_000)
    expect(stored_system).to_have_count(0)  # the old tables are gone, not left under the new status
    assert gate.entered.wait(60)  # the first system finished; the second is held
    expect(panel.get_by_role("gridcell", name="zero-shot (max_new_tokens=4)").first).to_be_visible(timeout=15_000)
    expect(status).to_contain_text("so far")
    expect_moving(status)
    press_stop(panel, status, gate)
    expect(status).to_contain_text("(stopped)", timeout=30_000)
    expect(panel.get_by_role("button", name="Stop", exact=True)).to_be_visible()  # back to Stop once it ended


def test_quantization_shows_each_measured_variant_before_scoring_ends(served_app, window, tiny_llama_dir, gate):
    from playwright.sync_api import expect

    gate.held = lambda config: config.k == 0  # the scoring of the measured variants is held
    panel = open_tab(window, served_app, tiny_llama_dir, "Compression")
    status = panel.locator(".prose.stored-example")
    expect(status).to_contain_text("Stored example run")
    set_number(panel, "Test examples", 1)
    panel.get_by_role("button", name="Measure variants").click()
    expect(status).not_to_contain_text("Stored example run", timeout=10_000)
    assert gate.entered.wait(120)
    expect(panel.get_by_role("gridcell", name="fp32", exact=True).first).to_be_visible(timeout=15_000)
    expect(status).to_contain_text("Scoring")
    expect_moving(status)
    gate.set()
    expect(status).to_contain_text("(complete)", timeout=60_000)


def test_icl_run_on_task_clears_the_stored_example_and_says_how_far_it_is(served_app, window, tiny_llama_dir, gate):
    from playwright.sync_api import expect

    gate.held = lambda config: config.k == 1  # one-shot is held: zero-shot's rows show first
    panel = open_tab(window, served_app, tiny_llama_dir, "In-context learning")
    status = panel.locator(".prose.stored-example")
    expect(status).to_contain_text("Stored example run")
    panel.get_by_label("Max new tokens").last.fill("4")
    panel.get_by_label("Max new tokens").last.press("Enter")
    set_number(panel, "Examples (limit)", 2)
    panel.get_by_role("button", name="Run on task", exact=True).click()
    assert gate.entered.wait(60)
    expect(status).not_to_contain_text("Stored example run")
    expect(panel.get_by_role("gridcell", name="zero-shot", exact=True).first).to_be_visible(timeout=15_000)
    expect(status).to_contain_text("2/6 done")
    expect_moving(status)
    press_stop(panel, status, gate, index=1)  # the "Run on task" section's Stop
    expect(status).to_contain_text("(stopped)", timeout=30_000)


def test_train_is_disabled_while_training_and_stop_says_so_at_once(served_app, window, tiny_llama_dir, monkeypatch):
    from playwright.sync_api import expect

    from modules.studies import fine_tuning

    released, original = threading.Event(), fine_tuning.train_methods

    def slow_to_stop(base, settings, report, stop):  # once stopped, it ends when the test has looked
        trained = original(base, settings, report, stop)
        released.wait(60 if stop.is_set() else 0)
        return trained

    monkeypatch.setattr(fine_tuning, "train_methods", slow_to_stop)

    panel = open_tab(window, served_app, tiny_llama_dir, "Fine-tuning")
    status = panel.locator(".prose.stored-example")
    set_number(panel, "Steps (each method)", 2000)  # far more than the test waits for: it ends by Stop
    set_number(panel, "Probe examples per task", 0)
    set_number(panel, "Max tokens per row", 64)  # the tiny model's context
    train = panel.get_by_role("button", name="Train and compare")
    train.click()
    expect(train).to_be_disabled(timeout=5_000)
    expect(status).to_contain_text("Training", timeout=60_000)
    expect(status).to_contain_text("s of training left")
    expect_moving(status)
    expect(train).to_be_disabled()
    expect(panel.get_by_role("button", name="Resume from last checkpoint")).to_be_disabled()  # the same job
    # The tiny model trains several steps a second: with a new loss plot per step the page spent all its time
    # drawing and this click waited minutes (first seen after other tests had warmed the model up).
    panel.locator("button.stop").filter(has_text="Stop").first.click(timeout=10_000)
    expect(panel.locator("button.stop").filter(has_text="Stopping…").first).to_be_visible(timeout=5_000)
    released.set()
    expect(status).to_contain_text("Stopped during lora", timeout=120_000)
    expect(train).to_be_enabled()
    expect(panel.get_by_role("button", name="Resume from last checkpoint")).to_be_enabled()


def test_a_page_closed_mid_job_frees_the_model_queue(served_app, window, tiny_llama_dir, gate):
    """The visitor closes the tab while their job is held: the next visitor's job runs soon after, not after the
    held one's 120 s."""
    from gradio_client import Client

    panel = open_tab(window, served_app, tiny_llama_dir, "Compare")
    panel.get_by_label("Systems, one per line").fill(HELD)
    set_number(panel, "Examples (test split)", 1)
    panel.get_by_role("button", name="Compare", exact=True).click()
    assert gate.entered.wait(60)
    window.close()
    client = Client(served_app, verbose=False)
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    job = client.submit(FAST, "dialogue-summary", "", 1, None, "", api_name="/compare_run")
    status, *_ = job.result(timeout=30)  # the held job would keep the queue for 120 s
    assert "(complete)" in status


def test_a_cancelled_api_job_frees_the_model_queue(served_app, tiny_llama_dir, gate):
    """The same for an API client that cancels its job (gradio_client's job.cancel())."""
    from gradio_client import Client

    leaving, next_one = Client(served_app, verbose=False), Client(served_app, verbose=False)
    for client in (leaving, next_one):
        client.predict(str(tiny_llama_dir), api_name="/load_model")
    held = leaving.submit(HELD, "dialogue-summary", "", 1, None, "", api_name="/compare_run")
    assert gate.entered.wait(60)
    held.cancel()
    job = next_one.submit(FAST, "dialogue-summary", "", 1, None, "", api_name="/compare_run")
    status, *_ = job.result(timeout=30)  # the held job would keep the queue for 120 s
    assert "(complete)" in status
