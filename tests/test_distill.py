"""Distillation on the tiny model: the KL term is zero when the student is the teacher, the student made by dropping
layers runs and is smaller, a few steps move the student toward the teacher, a few-shot teacher scores the student's
answer tokens after its own shots, bad settings get clear messages."""

import copy

import pytest
import torch

from evals.tasks import Example, load_task
from modules.training import distill, trainer

TASK = load_task("dialogue-summary")
PAIRS = [Example(f"d{i}", f"the cat {w}", f"a {w} sat") for i, w in enumerate(["dog", "mat", "cat", "the"])]


def batch(model, objective):
    rows = objective.rows(model, TASK, PAIRS, 48)
    return objective.batch(rows, model.tokenizer.pad_token_id)


def test_the_kl_term_is_zero_when_the_student_is_the_teacher(tiny_model):
    objective = distill.Distill(teacher=tiny_model.hf, temperature=2.0, alpha=1.0)
    with torch.no_grad():
        loss = objective.loss(tiny_model.hf, batch(tiny_model, objective))
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_a_student_with_fewer_layers_runs_is_smaller_and_leaves_the_base(tiny_model):
    before = [p.clone() for p in tiny_model.hf.parameters()]
    layers = len(tiny_model.hf.model.layers)
    student = distill.smaller(tiny_model.hf, 1)
    assert len(student.model.layers) == 1 and student.config.num_hidden_layers == 1
    ids = tiny_model.tokenizer("the cat sat", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert student(input_ids=ids).logits.shape == tiny_model.hf(input_ids=ids).logits.shape
        student.generate(input_ids=ids, max_new_tokens=3, do_sample=False)  # the cache still lines up
    assert sum(p.numel() for p in student.parameters()) < sum(p.numel() for p in tiny_model.hf.parameters())
    assert len(tiny_model.hf.model.layers) == layers
    assert all(torch.equal(a, b) for a, b in zip(before, tiny_model.hf.parameters()))


def test_a_few_steps_bring_the_student_toward_the_teacher(tiny_model, tmp_path):
    objective = distill.Distill(teacher=tiny_model.hf, temperature=2.0, alpha=1.0)
    student = copy.deepcopy(tiny_model.hf).requires_grad_(True)  # the shared base may be frozen by an earlier job
    with torch.no_grad():
        for parameter in student.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)  # a student that starts elsewhere
    inputs = batch(tiny_model, objective)
    with torch.no_grad():
        start = objective.loss(student, inputs).item()
    rows = objective.rows(tiny_model, TASK, PAIRS, 48)
    trainer.train(student, rows, steps=20, batch_size=4, micro_batch=4, lr=1e-2, seed=0,
                  pad_id=tiny_model.tokenizer.pad_token_id, folder=tmp_path, checkpoint_every=100,
                  objective=objective)  # fmt: skip
    with torch.no_grad():
        assert objective.loss(student, inputs).item() < start / 2


def test_a_few_shot_teacher_reads_its_shots_and_scores_the_students_answer_tokens(tiny_model):
    objective = distill.Distill(teacher=tiny_model.hf, temperature=2.0, alpha=1.0, teacher_shots=2)
    rows = objective.rows(tiny_model, TASK, PAIRS, 48)
    for pair, (student, teacher) in zip(PAIRS, rows):
        answer = [label for label in student.labels if label != -100]
        assert [label for label in teacher.labels if label != -100] == answer  # the very same answer tokens
        assert teacher.input_ids[-len(answer) :] == answer and len(teacher.input_ids) > len(student.input_ids)
        turn = tiny_model.tokenizer.convert_tokens_to_ids("<|im_start|>")
        assert teacher.input_ids.count(turn) == student.input_ids.count(turn) + 4  # 2 shots: a user and an answer each
        assert pair.input in tiny_model.tokenizer.decode(teacher.input_ids[-len(answer) - 12 :])  # the question last
    inputs = objective.batch(rows, tiny_model.tokenizer.pad_token_id)
    assert inputs["teacher_input_ids"].shape[1] > inputs["input_ids"].shape[1]
    assert objective.weight(rows[0]) == sum(label != -100 for label in rows[0][0].labels)
    with torch.no_grad():
        loss = objective.loss(tiny_model.hf, inputs)  # the same network: only the teacher's prompt differs
    assert torch.isfinite(loss) and loss.item() > 1e-4


def test_bad_settings_are_clear_errors(tiny_model):
    with pytest.raises(ValueError, match="temperature must be above 0"):
        distill.Distill(teacher=tiny_model.hf, temperature=0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        distill.Distill(teacher=tiny_model.hf, alpha=1.5)
    with pytest.raises(ValueError, match="shots must be from 0 to 8"):
        distill.Distill(teacher=tiny_model.hf, teacher_shots=9)
    with pytest.raises(ValueError, match="Keep 1-"):
        distill.smaller(tiny_model.hf, 0)
    other = copy.copy(tiny_model)
    other.tokenizer = copy.deepcopy(tiny_model.tokenizer)
    other.tokenizer.add_tokens(["zebra"])
    with pytest.raises(ValueError, match="different tokenizers"):
        distill.check_tokenizers(other, tiny_model)
