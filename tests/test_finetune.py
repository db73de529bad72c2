"""Fine-tuning mechanics on the tiny random Llama: masking, untouched base, adapters, checkpoints, resume, Stop."""

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from evals.tasks import Example, load_task
from modules.models import GenerationParams, adapters, get_model
from modules.training import checkpoint, data, finetune, trainer
from tests.conftest import weights_hash

TASK = load_task("dialogue-summary")
ROOT = Path(__file__).resolve().parents[1]
MAX_LENGTH = 48  # the tiny model's context is 64 tokens


def rows_for(model, count=6):
    return [data.tokenize(model, TASK, pair, MAX_LENGTH) for pair in data.pairs_from_task(TASK)[:count]]


def run_training(net, model, rows, folder, steps=2, lr=1e-2, **options):
    pad_id = model.tokenizer.pad_token_id
    return trainer.train(net, rows, steps=steps, batch_size=4, micro_batch=2, lr=lr, seed=0, pad_id=pad_id,
                         folder=folder, checkpoint_every=10, **options)  # fmt: skip


def test_loss_is_masked_to_the_reference_tokens(tiny_model):
    pair = Example("x", "#Person1#: Hi.\n#Person2#: Hello.", "They greet.")
    row = data.tokenize(tiny_model, TASK, pair, MAX_LENGTH)
    target = tiny_model.tokenizer("They greet.", add_special_tokens=False)["input_ids"] + [
        tiny_model.tokenizer.eos_token_id
    ]
    answer = [label for label in row.labels if label != data.IGNORE]
    assert answer == target and row.input_ids[-len(target) :] == target and len(row.input_ids) <= MAX_LENGTH
    assert row.labels[: len(row.labels) - len(target)] == [data.IGNORE] * (len(row.labels) - len(target))
    batch = data.collate([row, data.Row(row.input_ids[:10], [data.IGNORE] * 10)], pad_id=0)
    assert batch["labels"][1].tolist() == [data.IGNORE] * len(row.input_ids)
    assert batch["attention_mask"][1].sum() == 10
    # the model's loss equals cross-entropy over the answer tokens only
    with torch.no_grad():
        single = {k: v[:1] for k, v in batch.items()}
        loss = tiny_model.hf(**single).loss
        logits = tiny_model.hf(input_ids=single["input_ids"]).logits[0, :-1]
        labels = single["labels"][0, 1:]
        keep = labels != data.IGNORE
        manual = torch.nn.functional.cross_entropy(logits[keep], labels[keep])
    assert torch.allclose(loss, manual, atol=1e-5)


def test_long_rows_keep_the_assistant_header_and_part_of_the_reference(tiny_model):
    pair = Example("x", "word " * 200, "summary " * 40)
    row = data.tokenize(tiny_model, TASK, pair, MAX_LENGTH)
    header = tiny_model.tokenizer(tiny_model.render(TASK.prompt.messages([], pair)), add_special_tokens=False)
    answer_start = row.labels.index(next(label for label in row.labels if label != data.IGNORE))
    assert len(row.input_ids) == MAX_LENGTH and answer_start >= MAX_LENGTH // 2
    assert row.input_ids[answer_start - data.KEEP_PROMPT_END : answer_start] == header["input_ids"][-16:]


@pytest.mark.parametrize("method", ["full", "lora", "prompt-tuning", "ia3"])
def test_each_method_trains_and_leaves_the_base_untouched(tiny_model, tmp_path, method):
    before = weights_hash(tiny_model)
    net = finetune.prepare(tiny_model, finetune.Config(method=method, virtual_tokens=4, init_text="summary"))
    trainable, total = finetune.trainable_counts(net)
    shape = tiny_model.hf.config
    kv_width = shape.num_key_value_heads * shape.hidden_size // shape.num_attention_heads
    # LoRA's default targets q_proj (hidden -> hidden) and v_proj (hidden -> kv_width): r x in (A) + out x r (B)
    lora = shape.num_hidden_layers * finetune.Config().r * (2 * shape.hidden_size + shape.hidden_size + kv_width)
    # (IA)³: a vector on the outputs of k_proj and v_proj (kv_width each) and on the input of down_proj (MLP width)
    ia3 = shape.num_hidden_layers * (2 * kv_width + shape.intermediate_size)
    expected = {"full": tiny_model.num_parameters, "lora": lora, "prompt-tuning": 4 * shape.hidden_size,
                "ia3": ia3}[method]  # fmt: skip
    assert trainable == expected and total == tiny_model.num_parameters + (0 if method == "full" else expected)
    trainable_before = {n: p.detach().clone() for n, p in net.named_parameters() if p.requires_grad}
    result = run_training(net, tiny_model, rows_for(tiny_model), tmp_path, lr=5e-2)
    assert result.steps_done == 2 and len(result.losses) == 2
    # AdamW: two moments per trainable weight in its dtype (fp32 here: 8 bytes a weight) and one fp32 step per tensor
    moments = sum(2 * p.numel() * p.element_size() for p in trainable_before.values())
    assert result.optimizer_state_mb == (moments + 4 * len(trainable_before)) / 2**20
    changed = [n for n, p in net.named_parameters() if p.requires_grad and not torch.equal(p, trainable_before[n])]
    assert changed == list(trainable_before), "training left some trainable weights unchanged"
    assert weights_hash(tiny_model) == before
    assert checkpoint.latest(tmp_path).name == "checkpoint-2"


@pytest.mark.parametrize("method", ["lora-attention", "lora-mlp", "lora-all"])
def test_placed_lora_adapts_and_changes_only_its_projections(tiny_model, tmp_path, method):
    from modules.training import lora

    targets = set(lora.PLACES[method])
    net = finetune.prepare(tiny_model, finetune.Config(method=method, target_modules=("q_proj",), dropout=0.0))
    trainable = {n: p.detach().clone() for n, p in net.named_parameters() if p.requires_grad}
    assert {name.split(".")[-4] for name in trainable} == targets  # ...<projection>.lora_A.default.weight
    frozen = {n: p.detach().clone() for n, p in net.named_parameters() if not p.requires_grad}
    run_training(net, tiny_model, rows_for(tiny_model), tmp_path, lr=5e-2)
    # every adapter weight moved (lora_B starts at 0; after two steps both A and B have), no frozen weight did
    assert all(not torch.equal(p, trainable[n]) for n, p in net.named_parameters() if p.requires_grad)
    assert all(torch.equal(p, frozen[n]) for n, p in net.named_parameters() if not p.requires_grad)
    shape, r = tiny_model.hf.config, finetune.Config().r
    kv = shape.num_key_value_heads * shape.hidden_size // shape.num_attention_heads
    sizes = {"q_proj": (shape.hidden_size, shape.hidden_size), "k_proj": (shape.hidden_size, kv),
             "v_proj": (shape.hidden_size, kv), "o_proj": (shape.hidden_size, shape.hidden_size),
             "gate_proj": (shape.hidden_size, shape.intermediate_size),
             "up_proj": (shape.hidden_size, shape.intermediate_size),
             "down_proj": (shape.intermediate_size, shape.hidden_size)}  # fmt: skip
    expected = shape.num_hidden_layers * r * sum(sum(sizes[t]) for t in targets)  # A: r x in, B: out x r
    assert finetune.trainable_counts(net)[0] == expected


def test_ia3_adds_vectors_only_beside_keys_values_and_the_mlp_input(tiny_model):
    net = finetune.prepare(tiny_model, finetune.Config(method="ia3"))
    trained = [name for name, p in net.named_parameters() if p.requires_grad]
    assert trained and all("ia3_l" in name for name in trained)
    assert {name.split(".")[-3] for name in trained} == {"k_proj", "v_proj", "down_proj"}
    assert all(torch.equal(p, torch.ones_like(p)) for n, p in net.named_parameters() if p.requires_grad)  # identity


def test_soft_prompt_starts_from_the_init_text_embeddings(tiny_model):
    net = finetune.prepare(tiny_model, finetune.Config(method="prompt-tuning", virtual_tokens=5, init_text="hi"))
    ids = tiny_model.tokenizer("hi", add_special_tokens=False)["input_ids"]
    soft = net.prompt_encoder["default"].embedding.weight
    expected = tiny_model.hf.get_input_embeddings().weight[torch.tensor((ids * 5)[:5])]
    assert torch.equal(soft, expected)


@pytest.mark.parametrize("method", ["lora", "full", "prompt-tuning", "ia3", "lora-attention", "lora-mlp", "lora-all"])
def test_saved_adapter_round_trip_gives_identical_outputs(tiny_model, tmp_path, method):
    net = finetune.prepare(tiny_model, finetune.Config(method=method, virtual_tokens=4, init_text=""))
    run_training(net, tiny_model, rows_for(tiny_model), tmp_path, lr=5e-2)
    name = f"roundtrip-{method}"
    adapters.save(name, net, {"method": method, "base": tiny_model.spec, "steps": 2, "seed": 0})
    ids = torch.tensor([tiny_model.tokenizer("Summarize: hello there", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        trained = net(input_ids=ids).logits[:, -ids.shape[1] :]
        variant = get_model(f"{tiny_model.spec}+adapter:{name}")
        if variant.activate:
            variant.activate()
        loaded = variant.hf(input_ids=ids).logits[:, -ids.shape[1] :]
        base = tiny_model.hf(input_ids=ids).logits
    assert torch.allclose(trained, loaded, atol=1e-5) and not torch.allclose(loaded, base, atol=1e-3)
    assert variant.generate(["hello"], GenerationParams(max_new_tokens=1))[0].new_tokens >= 1


def test_lora_adapters_switch_on_one_host_without_touching_the_base(tiny_model, tmp_path):
    before = weights_hash(tiny_model)
    ids = torch.tensor([tiny_model.tokenizer("Summarize: good morning", add_special_tokens=False)["input_ids"]])
    expected = {}
    for seed in (1, 2):
        net = finetune.prepare(tiny_model, finetune.Config(method="lora", seed=seed, dropout=0.0))
        trainer.train(net, rows_for(tiny_model), steps=2, batch_size=4, micro_batch=4, lr=5e-2, seed=seed,
                      pad_id=0, folder=tmp_path / str(seed), checkpoint_every=10)  # fmt: skip
        adapters.save(f"switch-{seed}", net, {"method": "lora", "base": tiny_model.spec, "steps": 2, "seed": seed})
        with torch.no_grad():
            expected[seed] = net(input_ids=ids).logits
    one, two = (get_model(f"{tiny_model.spec}+adapter:switch-{seed}") for seed in (1, 2))
    assert one.hf is two.hf  # one peft host, two adapters
    for variant, seed in ((one, 1), (two, 2), (one, 1)):
        variant.activate()
        with torch.no_grad():
            assert torch.allclose(variant.hf(input_ids=ids).logits, expected[seed], atol=1e-5)
    assert weights_hash(tiny_model) == before
    listed = {a["name"]: a for a in adapters.list_assets()}
    assert listed["switch-1"]["spec"] == f"{tiny_model.spec}+adapter:switch-1"
    # on disk: the LoRA tensors alone (safetensors: 8-byte length, JSON header, raw data), plus peft's config files
    folder = adapters.asset_dir("switch-1")
    weights = folder / "adapter_model.safetensors"
    header = int.from_bytes(weights.read_bytes()[:8], "little")
    lora_bytes = sum(p.numel() * p.element_size() for p in net.parameters() if p.requires_grad)
    assert weights.stat().st_size == 8 + header + lora_bytes
    kept = [p for p in folder.iterdir() if p.name != "lab.json"]  # our notes are not part of the size
    assert listed["switch-1"]["size_mb"] == sum(p.stat().st_size for p in kept) / 2**20
    adapters.delete("switch-2")
    assert "switch-2" not in {a["name"] for a in adapters.list_assets()}
    with pytest.raises(ValueError, match="No saved adapter named"):
        adapters.read_meta("switch-2")
    with pytest.raises(ValueError, match="Adapter name"):
        adapters.asset_dir("../escape")


def test_one_base_serves_two_adapters_in_one_compare_run_and_says_what_each_adds(tiny_model, tmp_path):
    """The soft-prompt idea: two saved adapters (a LoRA and an IA3) on one base, side by side in one Compare run;
    the cost table says the memory each adds to the base (its own tensors, not its host's other adapters)."""
    from evals import comparison
    from evals.runner import compare, parse_systems

    own = {}
    for name, method in (("serve-lora", "lora"), ("serve-lora-2", "lora"), ("serve-ia3", "ia3")):
        net = finetune.prepare(tiny_model, finetune.Config(method=method))
        run_training(net, tiny_model, rows_for(tiny_model), tmp_path / name, lr=5e-2)
        adapters.save(name, net, {"method": method, "base": tiny_model.spec, "steps": 2, "seed": 0})
        own[name] = sum(p.numel() * p.element_size() for p in net.parameters() if p.requires_grad) / 2**20
    get_model(f"{tiny_model.spec}+adapter:serve-lora-2")  # a second adapter on the same LoRA host
    texts = ["zero-shot:max_new_tokens=2", *(f"zero-shot:max_new_tokens=2@{tiny_model.spec}+adapter:{name}"
                                             for name in ("serve-lora", "serve-ia3"))]  # fmt: skip
    systems = parse_systems(texts, tiny_model.spec)
    for system, name in zip(systems[1:], ("serve-lora", "serve-ia3")):
        system.name = name
    run = compare(load_task("dialogue-summary"), systems, limit=1)
    costs = comparison.cost_table(run.per_example, run.measurements).set_index("system")
    assert math.isnan(costs.loc[systems[0].name, "adds to its base (MB)"])
    for name in ("serve-lora", "serve-ia3"):
        assert costs.loc[name, "adds to its base (MB)"] == pytest.approx(own[name]), name


def test_resume_continues_the_step_count_and_matches_an_uninterrupted_run(tiny_model, tmp_path):
    rows = rows_for(tiny_model)
    straight = finetune.prepare(tiny_model, finetune.Config(method="full"))
    full_run = run_training(straight, tiny_model, rows, tmp_path / "straight", steps=4, lr=1e-3)
    stop = threading.Event()
    net = finetune.prepare(tiny_model, finetune.Config(method="full"))
    first = run_training(net, tiny_model, rows, tmp_path / "cut", steps=4, lr=1e-3, stop=stop,
                         on_step=lambda event: event.done == 2 and stop.set())  # fmt: skip
    assert first.stopped and first.steps_done == 2 and first.checkpoint.name == "checkpoint-2"
    fresh = finetune.prepare(tiny_model, finetune.Config(method="full"))
    second = run_training(fresh, tiny_model, rows, tmp_path / "cut", steps=4, lr=1e-3, resume=True)
    assert second.resumed_from == 2 and second.steps_done == 4 and len(second.losses) == 4
    assert second.losses == pytest.approx(full_run.losses, rel=1e-4)
    assert second.checkpoint.name == "checkpoint-4" and [p.name for p in (tmp_path / "cut").iterdir()] == [
        "checkpoint-4"
    ]


def test_stop_from_another_thread_ends_training_inside_the_step_in_progress(tiny_model, tmp_path):
    """Stop is pressed (by the caller's thread) while step 3's first layer runs: the next layer is not run, step 3
    is dropped, and the training ends with the 2 finished steps saved; bounded by work, not by a clock."""
    net = finetune.prepare(tiny_model, finetune.Config(method="full"))
    stop, inside, pressed, outcome, calls = threading.Event(), threading.Event(), threading.Event(), {}, []
    first_layer = next(module for name, module in net.named_modules() if name.endswith("layers.0"))

    def hold_in_step_three(module, args, output):
        calls.append(1)
        if len(calls) == 5:  # 2 micro-batches a step: the 5th forward is step 3's first
            inside.set()
            pressed.wait(60)

    first_layer.register_forward_hook(hold_in_step_three)
    worker = threading.Thread(
        target=lambda: outcome.update(
            result=run_training(net, tiny_model, rows_for(tiny_model), tmp_path, steps=10_000, stop=stop)
        )  # fmt: skip
    )
    worker.start()
    assert inside.wait(60)
    stop.set()
    pressed.set()
    worker.join(timeout=60)
    assert not worker.is_alive()
    result = outcome["result"]
    assert result.stopped and result.steps_done == 2 and len(result.losses) == 2 and len(calls) == 5
    assert checkpoint.latest(tmp_path).name == "checkpoint-2"


CHILD = """
import sys, torch
from pathlib import Path
from modules.training import checkpoint
net = torch.nn.Linear(1024, 4096)  # 16 MB of weights + 32 MB of Adam state per save
optimizer = torch.optim.AdamW(net.parameters())
net(torch.ones(1, 1024)).sum().backward()
optimizer.step()
print("ready", flush=True)
for step in range(1, 1000):
    checkpoint.save(Path(sys.argv[1]), step, net, optimizer, {"losses": [0.0] * step})
"""


@pytest.mark.parametrize("delay", [0.3, 0.7, 1.3])
def test_a_kill_during_save_never_leaves_a_complete_looking_checkpoint(tmp_path, delay):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                             env=os.environ | {"PYTHONPATH": str(ROOT)})  # fmt: skip
    assert child.stdout.readline().strip() == b"ready"
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    for folder in tmp_path.glob("checkpoint-*"):  # every visible checkpoint is whole and loads
        state = json.loads((folder / "state.json").read_text())
        assert state["step"] == int(folder.name.removeprefix("checkpoint-")) and len(state["losses"]) == state["step"]
        net = torch.nn.Linear(1024, 4096)
        optimizer = torch.optim.AdamW(net.parameters())
        checkpoint.load(folder, net, optimizer)
    steps = [int(folder.name.removeprefix("checkpoint-")) for folder in tmp_path.glob("checkpoint-*")]
    found = checkpoint.latest(tmp_path)  # the newest whole checkpoint, or None
    assert (found.name if found else None) == (f"checkpoint-{max(steps)}" if steps else None)
    # the next save removes whatever the kill left behind: temp folders, half-deleted and older checkpoints
    net = torch.nn.Linear(1024, 4096)
    checkpoint.save(tmp_path, 1000, net, torch.optim.AdamW(net.parameters()), {"losses": []})
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-1000"]


def test_bad_jsonl_lines_are_reported_and_good_ones_kept(tmp_path):
    path = tmp_path / "pairs.jsonl"
    lines = [
        json.dumps({"input": "a dialogue", "reference": "a summary"}),
        "{not json",
        json.dumps({"input": "no reference"}),
        json.dumps({"input": "x", "reference": "  "}),
        json.dumps(["a", "list"]),
        "",
        json.dumps({"input": "second", "reference": "fine", "extra": 1}),
    ]
    path.write_text("\n".join(lines))
    pairs, errors = data.read_jsonl(path)
    assert [p.input for p in pairs] == ["a dialogue", "second"]
    assert errors == [
        "line 2: not valid JSON (Expecting property name enclosed in double quotes)",
        "line 3: missing field 'reference'",
        "line 4: 'reference' must be non-empty text",
        "line 5: each line must be a JSON object",
    ]
    path.write_text("{bad\n")
    with pytest.raises(ValueError, match="no usable pairs. line 1: not valid JSON"):
        data.read_jsonl(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match="not UTF-8"):
        data.read_jsonl(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": "magic"}, "method must be one of"),
        ({"steps": 0}, "Steps must be 1-10000"),
        ({"target_modules": ("wq",)}, "LoRA target modules"),
        ({"max_length": 8}, "Max length must be 32-4096"),
    ],
)
def test_bad_settings_are_clear_errors(changes, message):
    with pytest.raises(ValueError, match=message):
        finetune.Config(**changes)


@pytest.mark.skipif(torch.cuda.is_available(), reason="on CUDA QLoRA is available")
def test_qlora_says_why_it_is_absent_on_cpu(tiny_model):
    assert "needs a CUDA GPU" in finetune.unavailable_reason("qlora")
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        finetune.prepare(tiny_model, finetune.Config(method="qlora"))


def test_a_soft_prompt_variant_generates_what_greedy_decoding_through_its_forward_gives(tiny_model, tmp_path):
    net = finetune.prepare(tiny_model, finetune.Config(method="prompt-tuning", virtual_tokens=4, init_text=""))
    run_training(net, tiny_model, rows_for(tiny_model), tmp_path, lr=5e-1)
    adapters.save("soft-greedy", net, {"method": "prompt-tuning", "base": tiny_model.spec, "steps": 2, "seed": 0})
    variant = get_model(f"{tiny_model.spec}+adapter:soft-greedy")
    prompts = ["Summarize: hi", "Summarize: a much longer dialogue about the weekly meeting"]
    params = GenerationParams(max_new_tokens=6, batch_size=2)
    batched = variant.generate(prompts, params)  # two lengths: left padding inside one batch
    for prompt, generation in zip(prompts, batched):
        ids = tiny_model.tokenizer(variant.render(prompt), return_tensors="pt", add_special_tokens=False)["input_ids"]
        start = ids.shape[1]
        with torch.no_grad():  # no KV cache: the whole sequence through peft's forward at every step
            for _ in range(6):
                next_id = variant.hf(input_ids=ids).logits[:, -1:].argmax(-1)
                ids = torch.cat([ids, next_id], dim=1)
        expected = tiny_model.tokenizer.decode(ids[0, start:], skip_special_tokens=True).strip()
        assert expected.startswith(generation.text), (generation.text, expected)


@pytest.mark.slow
def test_a_soft_prompt_on_the_embedded_model_generates_like_its_own_forward(embedded_model):
    """On SmolLM2, peft's own generate gave one sensible token and then garbage ('#1#s#s#s'); this pins the fix."""
    net = finetune.prepare(embedded_model, finetune.Config(method="prompt-tuning", init_text="Summarize briefly."))
    adapters.save("soft-embedded", net, {"method": "prompt-tuning", "base": embedded_model.spec, "steps": 0, "seed": 0})
    variant = get_model(f"{embedded_model.spec}+adapter:soft-embedded")
    prompt = [{"role": "user", "content": "Summarize: #Person1#: The bus is late again. #Person2#: Let's walk."}]
    (generation,) = variant.generate([prompt], GenerationParams(max_new_tokens=8))
    ids = embedded_model.tokenizer(variant.render(prompt), return_tensors="pt", add_special_tokens=False)["input_ids"]
    start = ids.shape[1]
    with torch.no_grad():
        for _ in range(8):
            ids = torch.cat([ids, variant.hf(input_ids=ids).logits[:, -1:].argmax(-1)], dim=1)
    expected = embedded_model.tokenizer.decode(ids[0, start:], skip_special_tokens=True).strip()
    assert expected.startswith(generation.text) and len(generation.text) > 5


def test_adapter_listing_survives_minimal_and_damaged_notes():
    from modules.studies.fine_tuning import adapter_table

    hand_made, broken = adapters.adapters_dir() / "hand-made", adapters.adapters_dir() / "broken-note"
    for folder in (hand_made, broken):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "adapter_model.safetensors").write_bytes(b"weights")
    (hand_made / "lab.json").write_text('{"method": "lora"}')
    (broken / "lab.json").write_text("{half written")
    names = set(adapter_table().name)
    assert "hand-made" in names and "broken-note" not in names
    adapters.delete("hand-made")
    adapters.delete("broken-note")


def test_full_fine_tuning_keeps_fp32_master_weights_so_small_updates_survive(bf16_base, tmp_path):
    """A bf16 base (as on CUDA): the full fine-tune trains fp32 copies of the weights. One AdamW step at the full
    method's learning rate (2e-5) changes almost every weight; the same step on bf16 weights rounds most away."""
    import copy

    base = bf16_base
    config = finetune.Config(method="full", steps=1, batch_size=4, micro_batch=4, learning_rate=2e-5)
    rows = rows_for(base)[:4]

    def changed_share(net) -> float:
        before = [p.detach().clone() for p in net.parameters()]
        trainer.train(net, rows, steps=1, batch_size=4, micro_batch=4, lr=2e-5, seed=0, pad_id=0,
                      folder=tmp_path / str(id(net)), checkpoint_every=10)  # fmt: skip
        moved = sum((p.detach() != b).sum().item() for p, b in zip(net.parameters(), before))
        return moved / sum(b.numel() for b in before)

    master = finetune.prepare(base, config)
    assert {p.dtype for p in master.parameters()} == {torch.float32}
    bf16_only = copy.deepcopy(base.hf).requires_grad_(True)  # what training did before
    fp32_share, bf16_share = changed_share(master), changed_share(bf16_only)
    assert fp32_share > 0.9 and bf16_share < 0.5, (fp32_share, bf16_share)


@pytest.mark.skipif(torch.cuda.is_available(), reason="on CUDA the 4-bit base exists")
def test_a_qlora_adapter_without_cuda_is_refused_with_the_reason(tiny_model):
    """A QLoRA adapter runs on its 4-bit base only; on a CPU it says so instead of scoring it on the fp32 base."""
    adapters.save("qlora-here", nn.Linear(1, 1), {"method": "full", "base": tiny_model.spec})  # any asset folder
    adapters.update_meta("qlora-here", method="qlora")
    with pytest.raises(ValueError, match="4-bit NF4 base cannot be built here: it needs a CUDA GPU"):
        get_model(f"{tiny_model.spec}+adapter:qlora-here")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="QLoRA needs CUDA")
def test_qlora_trains_and_reloads_on_its_four_bit_base(tiny_model, tmp_path):
    pytest.importorskip("bitsandbytes")
    net = finetune.prepare(tiny_model, finetune.Config(method="qlora"))
    run_training(net, tiny_model, rows_for(tiny_model), tmp_path, lr=5e-2)
    adapters.save("qlora-gpu", net, {"method": "qlora", "base": tiny_model.spec, "steps": 2, "seed": 0})
    variant = get_model(f"{tiny_model.spec}+adapter:qlora-gpu")
    four_bit = [name for name, module in variant.hf.named_modules() if "4bit" in type(module).__name__]
    assert four_bit and "4-bit NF4 base" in variant.label
    ids = torch.tensor([tiny_model.tokenizer("Summarize: hello", add_special_tokens=False)["input_ids"]]).cuda()
    with torch.no_grad():
        assert torch.allclose(net(input_ids=ids).logits.float(), variant.hf(input_ids=ids).logits.float(), atol=1e-2)
    assert variant.generate(["hello"], GenerationParams(max_new_tokens=2))[0].new_tokens >= 1


def test_the_multi_task_mixture_honours_its_shares_over_a_long_run():
    pools = {"a": list(range(10)), "b": list(range(100, 103)), "c": list(range(200, 250))}
    drawn = data.mixture(pools, {"a": 2, "b": 1, "c": 1}, 20_000, seed=3)
    counts = {name: sum(item in pool for item in drawn) for name, pool in pools.items()}
    assert counts["a"] / 20_000 == pytest.approx(0.5, abs=0.02)
    assert counts["b"] / 20_000 == pytest.approx(0.25, abs=0.02) and counts["c"] / 20_000 == pytest.approx(
        0.25, abs=0.02
    )
    first = drawn[: 2 * 50]  # within a pool, every item comes once before any comes again
    c_items = [item for item in first if item >= 200]
    assert len(set(c_items)) == len(c_items)
    again = data.mixture(pools, {"a": 2, "b": 1, "c": 1}, 20_000, seed=3)
    assert again == drawn and data.mixture(pools, {"a": 2, "b": 1, "c": 1}, 20_000, seed=4) != drawn  # seeded
    with pytest.raises(ValueError, match="one positive share per task"):
        data.mixture(pools, {"a": 1, "b": 0, "c": 1}, 10, seed=0)
