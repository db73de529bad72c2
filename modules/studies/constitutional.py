"""Constitutional AI's data step (Bai et al. 2022; the open replication "Constitutional AI with open LLMs"): for each
prompt the model answers, critiques its answer against a written principle and revises it. Each (revision,
original) pair is an AI-labelled preference for DPO or the reward model. Every critique and revision is kept."""

import random
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from evals.tasks import Example
from evals.tasks.uploaded import PROPERTIES
from modules import inputs
from modules.models import GenerationParams, Model
from modules.progress import Progress

DEFAULT_PRINCIPLES = Path(__file__).resolve().parents[2] / "evals" / "constitution.yaml"
MAX_PRINCIPLES = 20


@dataclass(frozen=True)
class Principle:
    name: str
    property: str  # helpful | honest | harmless: the label its pairs carry
    critique: str  # asked after the model's answer
    revision: str  # asked after its critique


@dataclass
class Revision:
    prompt_id: str
    prompt: str
    principle: str
    property: str
    original: str
    critique: str
    revised: str


def default_principles_text() -> str:
    return DEFAULT_PRINCIPLES.read_text(encoding="utf-8")


def parse_principles(text: str) -> list[Principle]:
    """The principles of a YAML text ({principles: [{name, property, critique, revision}, ...]}), checked, with
    a message that names the principle and the field when one is wrong."""
    text = inputs.text(text, "The principles", inputs.MAX_TEXT_CHARS)
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"The principles are not valid YAML: {str(error).splitlines()[0]}") from None
    items = spec.get("principles") if isinstance(spec, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError("The principles must be a YAML mapping with a non-empty list under 'principles'.")
    if len(items) > MAX_PRINCIPLES:
        raise ValueError(f"{len(items)} principles; at most {MAX_PRINCIPLES}.")
    principles = []
    for number, item in enumerate(items, start=1):
        fields = {key: item.get(key) if isinstance(item, dict) else None for key in Principle.__dataclass_fields__}
        missing = [key for key, value in fields.items() if not isinstance(value, str) or not value.strip()]
        if missing:
            raise ValueError(f"Principle {number}: '{missing[0]}' must be non-empty text.")
        if fields["property"].strip().lower() not in PROPERTIES:
            raise ValueError(f"Principle {number}: property must be one of {', '.join(PROPERTIES)}.")
        fields = {key: value.strip() for key, value in fields.items()}
        principles.append(Principle(**fields | {"property": fields["property"].lower()}))
    return principles


def revise(model: Model, prompts: list[Example], principles: list[Principle], params: GenerationParams,
           seed: int = 0, stop: threading.Event | None = None, report=None) -> list[Revision]:  # fmt: skip
    """Answer, critique, revise: three batched generate calls over `prompts`, each prompt with one principle drawn
    from `principles` (seeded). Chat turns: the request, the answer, the critique request, the critique, the
    revision request. Stopped: the revisions finished so far (none mid-way)."""
    rng = random.Random(seed)
    drawn = [rng.choice(principles) for _ in prompts]
    say = report or (lambda progress: None)
    conversations = [[{"role": "user", "content": p.input}] for p in prompts]
    steps = (("answering", None), ("critiquing", "critique"), ("revising", "revision"))
    replies: list[list[str]] = []
    for done, (stage, request) in enumerate(steps):
        if stop is not None and stop.is_set():
            return []
        say(Progress(f"The model is {stage} ({len(prompts)} prompts)", done, len(steps)))
        if request:
            for turns, reply, principle in zip(conversations, replies[-1], drawn):
                turns += [{"role": "assistant", "content": reply},
                          {"role": "user", "content": getattr(principle, request)}]  # fmt: skip
        generated = model.generate([_prompt(model, turns) for turns in conversations], params, stop=stop)
        replies.append([g.text.strip() for g in generated])
    if stop is not None and stop.is_set():  # the last call was cut short: its revisions are not whole
        return []
    say(Progress("Revised", len(steps), len(steps)))
    return [
        Revision(p.id, p.input, principle.name, principle.property, original, critique, revised)
        for p, principle, original, critique, revised in zip(prompts, drawn, *replies)
    ]


def _prompt(model: Model, turns: list[dict]):
    """Chat turns for a chat model; for a plain one the same conversation as text, ending on the reply cue."""
    if model.has_chat_template:
        return turns
    lines = [f"{'User' if t['role'] == 'user' else 'Assistant'}: {t['content']}" for t in turns]
    return "\n\n".join([*lines, "Assistant:"])


def preference_pairs(revisions: list[Revision]) -> tuple[list[Example], int]:
    """(pairs, how many were dropped): the revision is chosen over the original answer, labelled with the
    principle's property; a revision that is empty or the original again teaches nothing and is dropped."""
    pairs = [
        Example(f"cai-{r.prompt_id}", r.prompt, r.revised, split="train",
                meta={"chosen": r.revised, "rejected": r.original, "property": r.property, "principle": r.principle})
        for r in revisions
        if r.revised and r.revised != r.original
    ]  # fmt: skip
    return pairs, len(revisions) - len(pairs)


def as_records(revisions: list[Revision]) -> list[dict]:
    """Every revision as a plain dict, for the table and the JSON download."""
    return [asdict(r) for r in revisions]
