"""The Alignment tab: a reward model trained on labelled comparisons and read on held-out pairs; RL with and without
its KL leash, DPO and constitutional AI trained side by side and read against the base and best-of-n; best-of-n on
its own; constitutional AI's answer / critique / revise loop with every revision shown."""

import dataclasses
import threading
from functools import partial

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from evals import report
from evals.runner import System
from evals.tasks import load_task
from modules import inputs, limits
from modules.models import GenerationParams, adapters
from modules.studies import alignment, constitutional, reward_model
from modules.techniques import best_of_n, prompting
from modules.ui import alignment_stored, charts, pickers, results, split_run, wiring
from modules.ui.errors import user_errors
from modules.ui.job import run_job
from modules.ui.model_bar import load_model
from modules.ui.stop_flag import StopFlag

TITLE = "Alignment"
COVERS = ("best_of_n",)
TASKS = [reward_model.TASK]
BUSY = "Busy: an alignment job is already training in this app. Wait for it to finish or press Stop."
PPO_NOTE = (
    "**Why RLOO, not PPO.** The course optimises with PPO, which learns a value head to tell a good answer from a "
    "lucky one. TRL removed PPO in 2026; RLOO (REINFORCE leave-one-out) keeps its two essentials here: the reward "
    "minus β × the answer's log-ratio to the untouched base (the KL leash), and a baseline: each answer is compared "
    "with the mean of the other k − 1 answers to the same prompt, so no value head is trained. It runs in the lab's "
    "own loop (Stop, checkpoints, LoRA on the shared base), because every TRL trainer refuses the converted "
    "embedded model."
)
REFUSAL_NOTE = (
    "Refusals are counted by a phrase detector (`evals/refusal.py`): it agrees with 234 of the 240 labelled answers "
    "to harmful and harmless requests in hhh-preferences (its phrases were written from them: expect less on "
    "other wording). Log-ratio to base: log π(answer) − log base(answer) summed over the answer's tokens, on the "
    "greedy answers shown (best-of-n: its bound log n − (n − 1)/n); 0 is the base itself."
)


def histogram(pairs) -> go.Figure:
    """Rewards of the chosen and of the rejected answers on the held-out pairs: apart is good."""
    fig = go.Figure()
    fig.add_histogram(x=pairs.chosen, name="chosen", opacity=0.7, nbinsx=20)
    fig.add_histogram(x=pairs.rejected, name="rejected", opacity=0.7, nbinsx=20)
    fig.update_layout(barmode="overlay", title=f"Held-out rewards (n={len(pairs)} pairs)", xaxis_title="reward",
                      yaxis_title="answers", height=320, margin={"t": 40, "b": 40})  # fmt: skip
    return report.legible(fig)


def make_train_handler(busy: threading.Lock, outputs: list):
    status, loss_plot, by_property, chart, pairs_table, download = outputs

    def handler(spec, flag: StopFlag, name, task, steps, batch_size, r, max_length, eval_limit,
                progress=gr.Progress()):  # fmt: skip
        with user_errors():
            settings = reward_model.Settings(
                name=inputs.text(name, "The reward model's name", inputs.MAX_SHORT_CHARS), task=task,
                steps=inputs.whole(steps, "Steps", 1, 2000), batch_size=inputs.whole(batch_size, "Batch size", 1, 32),
                r=inputs.whole(r, "LoRA r", 1, 64), max_length=inputs.whole(max_length, "Max tokens", 64, 1024),
                eval_limit=inputs.whole(eval_limit, "Held-out pairs", 1, 500),
            )  # fmt: skip
            adapters.asset_dir(settings.name)  # a bad name is refused before any work
        if not busy.acquire(blocking=False):
            raise gr.Error(BUSY)
        try:
            base = load_model(spec, progress)
            losses = []

            def work(report_, stop):
                return reward_model.train_and_read(base, settings, report_, stop)

            def on_update(value):
                if value.payload and "loss" in value.payload:
                    losses.append(value.payload["loss"])
                    return {loss_plot: charts.losses({"reward model": losses})}
                return None

            def on_result(result):
                if result.asset is None:
                    return {status: f"⏹ Stopped after {len(result.losses)} steps; nothing was saved."}
                a = result.accuracy
                line = (f"**Done.** Reward model `{result.asset}` on {base.label}: {len(result.losses)} steps x "
                        f"{settings.batch_size} pairs, r={settings.r}, seed {settings.seed}, "
                        f"{100 * result.trainable / result.total:.3f}% trainable, "
                        f"{result.seconds_per_step:.1f} s/step. "
                        f"Held-out pairwise accuracy **{a['mean']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}]** "
                        f"(n={a['n']}, {settings.task} test split, Wilson 95%).")  # fmt: skip
                _, path = results.write_downloads(f"reward-{result.asset}", None, {
                    "settings": vars(settings), "accuracy": a, "losses": result.losses,
                    "pairs": result.pairs.to_dict(orient="records")})  # fmt: skip
                return {status: line, loss_plot: charts.losses({"reward model": result.losses}),
                        by_property: reward_model.accuracy_by(result.pairs).round(3), chart: histogram(result.pairs),
                        pairs_table: result.pairs.round(3), download: path}  # fmt: skip

            first = {status: "Starting: tokenizing the pairs, a fresh head on the base…"}
            yield from run_job(flag, work, on_update, on_result, first, status=status, every=1.0)
        finally:
            busy.release()

    return handler


def revise(outputs: list, spec, flag: StopFlag, principles_text, count, max_new_tokens, progress=gr.Progress()):
    """The constitutional loop on held-out prompts of every domain; every critique and revision shown."""
    status, table, download = outputs
    with user_errors():
        principles = constitutional.parse_principles(principles_text)
        count = inputs.whole(count, "Prompts", 1, 60)
        params = GenerationParams(max_new_tokens=inputs.whole(max_new_tokens, "Max new tokens", 8, 256))
        model = load_model(spec, progress)
    task = load_task(reward_model.TASK)
    by_domain = {}
    for example in task.split("test"):
        by_domain.setdefault(example.meta["domain"], []).append(example)
    prompts = [group[i] for i in range(count) for group in by_domain.values() if i < len(group)][:count]

    def work(report_, stop):
        return constitutional.revise(model, prompts, principles, params, stop=stop, report=report_)

    def on_result(revisions):
        pairs, dropped = constitutional.preference_pairs(revisions)
        records = [{"prompt": p.input, "chosen": p.meta["chosen"], "rejected": p.meta["rejected"],
                    "property": p.meta["property"]} for p in pairs]  # fmt: skip
        _, path = results.write_downloads("constitutional-pairs", None, {"revisions": constitutional.as_records(
            revisions), "pairs": records})  # fmt: skip
        line = (f"**Done.** {len(revisions)} prompts on {model.label}, greedy, {params.max_new_tokens} new tokens: "
                f"{len(pairs)} (revision, original) pairs, {dropped} dropped (revision empty or unchanged). A small "
                "model critiques poorly: read the revisions before training on them.")  # fmt: skip
        return {status: line, table: pd.DataFrame(constitutional.as_records(revisions)), download: path}

    yield from run_job(flag, work, lambda value: None, on_result, {status: "Answering…"}, status=status)


def run_best_of_n(outputs: list, spec, flag: StopFlag, reward_name, n, limit, max_new_tokens,
                  progress=gr.Progress()):  # fmt: skip
    """Zero-shot vs best-of-n on the preference task's held-out prompts, both read by the reward model (stored)."""
    with user_errors():
        if not reward_name:
            raise ValueError("Pick a saved reward model (train one above first).")
        task = load_task(reward_model.TASK)
        n = inputs.whole(n, "n", 2, 10)
        limit = inputs.whole(limit, "Examples", 1, len(task.split("test")))
        room = inputs.whole(max_new_tokens, "Max new tokens", 8, 256)
        model = load_model(spec, progress)
        hook = reward_model.use_as_score(reward_name)
        systems = [
            System("zero-shot", model, "prompting", prompting.Config(k=0, max_new_tokens=room)),
            System(f"best-of-{n}", model, "best_of_n", best_of_n.Config(reward=reward_name, n=n, max_new_tokens=room)),
        ]  # fmt: skip
    yield from split_run.stream_run(outputs, task, systems, limit, 0, model, flag, progress, hooks=(hook,))


SIDE_INPUTS = ("reward", "name", "beta", "rl_steps", "samples", "dpo_steps", "cai_prompts", "per_domain",
               "summary_limit", "principles")  # fmt: skip


def side_settings(values: dict) -> alignment.Settings:
    """The side by side's settings from the tab's controls, each checked with a message that names it."""
    steps = limits.max_train_steps()
    return alignment.Settings(
        reward=values["reward"] or "", name=inputs.text(values["name"], "The name", inputs.MAX_SHORT_CHARS),
        beta=inputs.real(values["beta"], "The KL coefficient", 0.001, 10.0),
        rl_steps=inputs.whole(values["rl_steps"], "RL steps", 1, steps),
        samples=inputs.whole(values["samples"], "Answers per prompt", 2, 8),
        dpo_steps=inputs.whole(values["dpo_steps"], "DPO steps", 1, steps),
        cai_prompts=inputs.whole(values["cai_prompts"], "Prompts to revise", 1, 60),
        per_domain=inputs.whole(values["per_domain"], "Held-out prompts per domain", 1, 12),
        summary_limit=inputs.whole(values["summary_limit"], "Summaries", 1, 60),
        principles=values["principles"] or "",
    )  # fmt: skip


def make_side_handler(busy: threading.Lock, outputs: list, resume: bool = False):
    status, curves_plot, cost_table, *_, download = outputs

    def handler(spec, flag: StopFlag, progress=gr.Progress(), **values):
        with user_errors():
            settings = dataclasses.replace(side_settings(values), resume=resume)
            constitutional.parse_principles(settings.principles or constitutional.default_principles_text())
        if not busy.acquire(blocking=False):
            raise gr.Error(BUSY)
        try:
            with user_errors():
                base = load_model(spec, progress)
            curves, costs = {}, []

            def work(report_, stop):
                return alignment.run(base, settings, report_, stop)

            def on_update(event):
                payload = event.payload or {}
                if "policy" in payload:
                    curves.setdefault(payload["policy"], []).append(payload)
                    line = f"Training **{payload['policy']}**: step {event.done}/{event.total}" + "".join(
                        f", {key} {payload[key]:.3f}" for key in ("reward", "kl", "loss") if key in payload
                    )
                    return {status: line, curves_plot: charts.policy_curves(curves)}
                if "row" in payload:
                    costs.append(payload["row"])
                    return {cost_table: alignment_stored.cost_table(costs)}
                progress(event.fraction, desc=event.stage)
                return None

            def on_result(outcome):
                _, path = results.write_downloads(f"alignment-{settings.name}", None,
                                                  alignment.as_record(settings, outcome))  # fmt: skip
                return dict(zip(outputs, (alignment_stored.status_line(outcome, settings, base.label),
                                          *alignment_stored.view(outcome), path)))  # fmt: skip

            first = {output: None for output in outputs} | {
                status: "Starting: RL with the leash first, then without, DPO, the constitutional loop; then every "
                "column is read."}  # fmt: skip
            yield from run_job(flag, work, on_update, on_result, first, status=status, every=1.0)
        finally:
            busy.release()

    return handler


def build(model_state: gr.State, model_info: gr.Markdown) -> None:
    busy = threading.Lock()
    with gr.Tab(TITLE):
        flag = gr.State(StopFlag())
        gr.Markdown(
            "Models should be **helpful, honest and harmless**. RLHF trains a **reward model** on labelled "
            "comparisons (a prompt, a better and a worse answer) and then optimises the model against it; "
            "**best-of-n** uses it without training; **constitutional AI** lets the model label its own answers by "
            "critiquing and revising them against written principles."
        )
        with gr.Accordion("Reward model: train on comparisons, read on held-out pairs", open=True):
            with gr.Row():
                name = gr.Textbox("rm", label="Name (saved as an asset)", max_lines=1)
                task = gr.Dropdown(TASKS, value=TASKS[0], label="Preference task", allow_custom_value=True)
                steps = gr.Slider(1, 500, value=30, step=1, label="Steps")
                batch_size = gr.Slider(1, 16, value=8, step=1, label="Pairs per step")
            with gr.Row():
                r = gr.Slider(1, 64, value=8, step=1, label="LoRA r")
                max_length = gr.Slider(64, 512, value=256, step=16, label="Max tokens per answer row")
                eval_limit = gr.Slider(1, 200, value=60, step=1, label="Held-out pairs to read")
            with gr.Row():
                train_button = gr.Button("Train reward model", variant="primary")
                stop_button = gr.Button("Stop", variant="stop")
            status = gr.Markdown(elem_id="alignment-reward-status")
            loss_plot = gr.Plot(label="Reward-model loss")
            by_property = gr.Dataframe(label="Held-out accuracy per HHH property (Wilson 95%)", interactive=False)
            chart = gr.Plot(label="Rewards of chosen vs rejected answers (held out)")
            pairs_table = gr.Dataframe(label="Every held-out pair", interactive=False, max_height=360)
            download = gr.DownloadButton("Download JSON", value=None)
        stored = alignment_stored.load()
        with gr.Accordion("RL with a KL leash, DPO and constitutional AI, side by side", open=True):
            gr.Markdown(alignment_stored.QUICK_LOOK + "\n\n" + PPO_NOTE)
            with gr.Row():
                side_reward = gr.Dropdown(reward_model.saved(), label="Reward model (train one above)",
                                          allow_custom_value=True)  # fmt: skip
                side_name = gr.Textbox("aligned", label="Name (assets <name>-rl, -rl-kl0, -dpo, -constitutional)",
                                       max_lines=1)  # fmt: skip
                beta = gr.Slider(0.01, 2.0, value=0.5, step=0.01, label="KL coefficient β (the other RL run: 0)")
                rl_steps = gr.Slider(1, 200, value=8, step=1, label="RL steps (2 prompts each)")
                samples = gr.Slider(2, 8, value=4, step=1, label="Answers per prompt (RLOO's k)")
            with gr.Row():
                dpo_steps = gr.Slider(1, 200, value=8, step=1, label="DPO steps (4 pairs each)")
                cai_prompts = gr.Slider(1, 60, value=8, step=1, label="Prompts the model revises (constitutional)")
                per_domain = gr.Slider(1, 12, value=4, step=1, label="Held-out prompts per domain (5 domains)")
                summary_limit = gr.Slider(1, 60, value=8, step=1, label="Summaries (dialogue-summary test)")
            with gr.Row():
                side_button = gr.Button("Train the policies and compare", variant="primary")
                resume_side = gr.Button("Resume")
                stop_side = gr.Button("Stop", variant="stop")
            side_status = gr.Markdown(stored.note, elem_id="alignment-status",
                                      elem_classes="stored-example" if stored.note else None)  # fmt: skip
            curves_plot = gr.Plot(
                stored.view[0],
                elem_id="alignment-curves",
                label="Training curves: reward, KL to base, answer length, loss",
            )
            cost_table = gr.Dataframe(stored.view[1], label="Cost per policy (measured here)", interactive=False)
            side_table = gr.Dataframe(stored.view[2], label=alignment_stored.SIDE_TABLE, interactive=False,
                                      elem_id="alignment-side", max_height=420)  # fmt: skip
            side_chart = gr.Plot(stored.view[3], label="Side by side: means with 95% intervals")
            answers = gr.Dataframe(stored.view[4], label="Answers side by side (held-out prompts)", interactive=False,
                                   wrap=True, max_chars=300, max_height=420)  # fmt: skip
            side_revisions = gr.Dataframe(stored.view[5], label="The constitutional loop: every critique and revision",
                                          interactive=False, wrap=True, max_chars=300, max_height=320)  # fmt: skip
            side_download = gr.DownloadButton("Download JSON (settings, curves, runs, revisions)", value=None)
            gr.Markdown(REFUSAL_NOTE + "\n\n" + alignment.COURSE_LAB3)
        with gr.Accordion("Best-of-n against the reward model (no training)", open=False):
            with gr.Row():
                reward_name = gr.Dropdown(reward_model.saved(), label="Reward model", allow_custom_value=True)
                n = gr.Slider(2, 10, value=4, step=1, label="n samples per prompt")
                bon_tokens = gr.Slider(8, 256, value=96, step=8, label="Max new tokens")
            limit, bon_button, stop_bon, bon_outputs = split_run.build_outputs(60, 12)
        with gr.Accordion("Constitutional AI: answer, critique, revise", open=False):
            # A Textbox, not gr.Code: Gradio checks a Textbox's type (a wrong one is refused naming the field).
            principles = gr.Textbox(constitutional.default_principles_text(), lines=12, max_lines=30,
                                    label="Principles (YAML: name, property, critique, revision)")  # fmt: skip
            with gr.Row():
                count = gr.Slider(1, 60, value=6, step=1, label="Held-out prompts (every domain in turn)")
                max_new_tokens = gr.Slider(8, 256, value=96, step=8, label="Max new tokens")
                revise_button = gr.Button("Answer, critique, revise", variant="primary")
                stop_revise = gr.Button("Stop", variant="stop")
            revise_status = gr.Markdown()
            revisions = gr.Dataframe(label="Every answer, critique and revision", interactive=False, wrap=True,
                                     max_chars=400)  # fmt: skip
            pairs_file = gr.DownloadButton("Download the pairs (JSON)", value=None)

    pickers.refresh_on_focus(task, TASKS)
    trained = [status, loss_plot, by_property, chart, pairs_table, download]
    train_event = wiring.on_model(train_button, make_train_handler(busy, trained),
                                  [model_state, flag, name, task, steps, batch_size, r, max_length, eval_limit],
                                  trained, "alignment_train_reward", flag,
                                  concurrency=("alignment", 2))  # fmt: skip
    revised = [revise_status, revisions, pairs_file]
    revise_event = wiring.on_model(revise_button, partial(revise, revised),
                                   [model_state, flag, principles, count, max_new_tokens], revised,
                                   "alignment_constitutional", flag)  # fmt: skip
    for picker in (reward_name, side_reward):
        picker.focus(lambda: gr.Dropdown(choices=reward_model.saved()), outputs=picker, queue=False,
                     api_visibility="private")  # fmt: skip
    side = [side_status, curves_plot, cost_table, side_table, side_chart, answers, side_revisions, side_download]
    controls = dict(zip(SIDE_INPUTS, (side_reward, side_name, beta, rl_steps, samples, dpo_steps, cai_prompts,
                                      per_domain, summary_limit, principles)))  # fmt: skip
    side_event = wiring.on_model(side_button, make_side_handler(busy, side), [model_state, flag], side,
                                 "alignment_side_by_side", flag, concurrency=("alignment", 2),
                                 settings=controls)  # fmt: skip
    resume_event = wiring.on_model(resume_side, make_side_handler(busy, side, resume=True), [model_state, flag], side,
                                   "alignment_side_by_side_resume", flag, concurrency=("alignment", 2),
                                   settings=controls)  # fmt: skip
    bon_event = wiring.on_model(bon_button, partial(run_best_of_n, bon_outputs),
                                [model_state, flag, reward_name, n, limit, bon_tokens], bon_outputs,
                                "alignment_best_of_n", flag)  # fmt: skip
    split_run.reveal_tables(bon_event, bon_outputs)
    wiring.wire_common((train_event, side_event, resume_event, revise_event, bon_event), flag,
                       (stop_button, stop_side, stop_revise, stop_bon),
                       model_state, model_info, "alignment_stop")  # fmt: skip
