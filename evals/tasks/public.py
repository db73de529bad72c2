"""Loaders for public datasets on the Hugging Face hub, mapped to the lab's Example records."""

import re
from pathlib import Path

from modules.network import hub_reachable


class TaskError(ValueError):
    """A task cannot be loaded or used; the message is shown to users as-is."""


def _dialogsum(row: dict, index: int) -> dict:
    return {
        "id": str(row.get("id") or index),
        "input": row["dialogue"],
        "reference": row["summary"],
        "meta": {"topic": row.get("topic", "")},
    }


def _gsm8k(row: dict, index: int) -> dict:
    answer = row["answer"].split("####")[-1].strip().replace(",", "")
    return {"id": f"gsm8k-{index}", "input": row["question"], "reference": row["answer"], "answer": answer}


def _squad(row: dict, index: int) -> dict:
    answers = row["answers"]["text"]
    return {
        "id": str(row.get("id") or index),
        "input": f"Context: {row['context']}\nQuestion: {row['question']}",
        "reference": answers[0],
        "answer": answers[0],
        "meta": {"title": row.get("title", ""), "all_answers": list(answers)},
    }


MAPPERS = {"dialogsum": _dialogsum, "gsm8k": _gsm8k, "squad": _squad}


def load_hub_records(task_name: str, hub: dict, source: str | Path | None = None) -> list[dict]:
    """Records with a `split` key for both splits. `source`: a local folder of <split>.jsonl (tests, mirrors)."""
    import datasets  # heavy import, only when a public set is asked for

    mapper = MAPPERS[hub["mapper"]]
    records = []
    for split, hub_split in hub["splits"].items():
        if source is not None:
            path = Path(source) / f"{hub_split}.jsonl"
            if not path.is_file():
                raise TaskError(f"Task '{task_name}': local source has no {path.name}.")
            rows = datasets.load_dataset("json", data_files=str(path), split="train")
        else:
            if not hub_reachable():
                raise TaskError(
                    f"Task '{task_name}' needs the dataset '{hub['path']}' from the Hugging Face hub, "
                    "which is unreachable (offline). Use a shipped task: dialogue-summary, "
                    "arithmetic-word-problems or company-handbook-qa."
                )
            rows = datasets.load_dataset(hub["path"], hub.get("name"), split=hub_split)
        for index, row in enumerate(rows):
            record = mapper(row, index)
            record["id"] = re.sub(r"\s+", "_", record["id"])
            records.append(record | {"split": split})
    return records
