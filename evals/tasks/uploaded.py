"""A visitor's own tasks: a CSV or JSONL of input/reference rows, checked, then stored as task.yaml + data.jsonl.

Rows are named by their line in the file ("row 5" is line 5; a CSV's header is line 1), as an editor or a
spreadsheet numbers them. Every problem names its row; nothing is stored unless the whole file is good.
"""

import csv
import datetime
import io
import json
import math
import random
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from evals.tasks.task import Task, read_task, shipped_names
from modules import inputs
from modules.paths import check_room, make_private, user_home

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
SPEC, DATA = "task.yaml", "data.jsonl"
SUFFIXES = (".csv", ".jsonl")
MAX_BYTES = 20 * 2**20  # as large as the app lets any upload be (app.max_upload_bytes); checked before reading
MAX_ROWS = 20_000  # scoring more than this on one shared CPU would take days, so a bigger file is a mistake
MAX_ERRORS = 10  # problems listed in one message: enough to see the pattern, short enough to read
MAX_TASKS = 20  # per visitor: each may hold MAX_BYTES, and a shared Space has one disk for everyone
MAX_ID_CHARS = 100  # ids show in the example pickers and are typed back as a choice
REQUIRED = ("input", "reference")
# A preference file (DPO, the reward model) has chosen and rejected answers; its prompt column may be called
# 'prompt' and its reference is then the chosen answer. property / domain are optional labels of each pair.
PREFERENCE = ("chosen", "rejected")
ALIASES = {"input": "prompt", "reference": "chosen"}
PROPERTIES = ("helpful", "honest", "harmless")
DEFAULT_INSTRUCTION = "Answer the input."
# Number tasks get the reasoning techniques' prompts too (as the shipped arithmetic task has), so the reasoning
# tab can run on them; PAL shows no solved examples (k=0), having none for data it has never seen.
REASONING = {
    "direct": "Answer with the final number only, no words.",
    "cot_trigger": 'Let\'s think step by step, then give the final line as "#### <number>".',
    "pal_instruction": "Write a Python function solution() that computes the answer to the problem and returns it "
    "as a number. Use plain arithmetic; you may import math. Reply with the code only.",
}


def tasks_root() -> Path:
    return user_home() / "tasks"


def task_dir(name: str) -> Path:
    """The folder of the uploaded task `name` (the name is checked, so it never reaches outside)."""
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(
            f"Task name '{_short(str(name), 60)}' must be 1-40 letters, digits, '-' or '_', starting with a letter or "
            "digit."
        )
    return tasks_root() / name


def exists(name) -> bool:
    return isinstance(name, str) and bool(NAME.match(name)) and (tasks_root() / name / SPEC).is_file()


def list_tasks() -> list[str]:
    """The visitor's uploaded task names, sorted (one a shipped task now shadows is left out: it cannot load)."""
    root = tasks_root()
    shipped = set(shipped_names())
    folders = sorted(root.iterdir()) if root.is_dir() else []
    return [f.name for f in folders if NAME.match(f.name) and (f / SPEC).is_file() and f.name not in shipped]


def delete_task(name: str) -> None:
    """Remove an uploaded task; renamed away first, so a half-deleted task is never listed or loaded."""
    folder = task_dir(name)
    if not exists(name):
        raise ValueError(f"No uploaded task named '{name}'.")
    doomed = Path(tempfile.mkdtemp(prefix=f".old-{name}-", dir=folder.parent))
    folder.rename(doomed / name)
    shutil.rmtree(doomed, ignore_errors=True)


def add_task(name: str, source: Path, *, split_column: str | None = None, test_share: float = 0.3, seed: int = 0,
             description: str = "", instruction: str = DEFAULT_INSTRUCTION) -> Task:  # fmt: skip
    """Check `source` (.csv or .jsonl: input, reference; optional answer, id, split) and store it as the task
    `name`; splits come from the split column when there is one, else a seeded shuffle puts test_share in test."""
    target = _new_task_dir(name)
    test_share = inputs.real(test_share, "The test share", 0.01, 0.99)
    seed = inputs.whole(seed, "The seed", 0, 2**31 - 1)
    source = Path(source)
    columns, rows, errors = read_rows(source)
    sources = _sources(columns, source.name)
    split_key = _check_columns(list(columns) + list(sources), split_column, source.name)
    if len(rows) + len(errors) < 2:
        raise ValueError(f"{source.name} has {len(rows) + len(errors)} row(s); a task needs at least 2 (train, test).")
    records = check_rows(rows, "id" in columns, split_key, errors, sources)
    if errors:
        raise ValueError(_listing(source.name, errors))
    if split_key is None:
        assign_splits(records, test_share, seed)
    _check_splits(records, source.name, split_key)
    spec = make_spec(name, source.name, records, description, instruction)
    _write(target, spec, records)
    return read_task(name, target / SPEC)


def _new_task_dir(name: str) -> Path:
    folder = task_dir(name)
    if name.lower() in {shipped.lower() for shipped in shipped_names()}:
        raise ValueError(f"'{name}' is the name of a shipped task: choose another name.")
    if folder.exists():
        raise ValueError(f"You already have a task named '{name}': delete it first or choose another name.")
    if len(list_tasks()) >= MAX_TASKS:
        raise ValueError(f"You have {MAX_TASKS} uploaded tasks, the most one visitor may keep: delete one first.")
    return folder


def read_rows(source: Path) -> tuple[list[str], list[tuple[int, dict]], list[tuple[int, str]]]:
    """(columns, (row number, cells) per row, (row number, problem) per unreadable row) of a .csv or .jsonl file.
    Column names are matched without case or surrounding spaces ('Input ' is 'input')."""
    if source.suffix.lower() not in SUFFIXES:
        raise ValueError(f"{source.name} must be a .csv or .jsonl file.")
    if not source.is_file():
        raise ValueError(f"{source.name}: no such file.")
    size = source.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"{source.name} is {size:,} bytes; the limit is {MAX_BYTES:,} ({MAX_BYTES / 2**20:g} MB).")
    check_room(size, f"Storing {source.name}")  # the stored task is about the file's size
    data = source.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (Excel's "CSV UTF-8") is dropped
    except UnicodeDecodeError as error:
        row = data[: error.start].count(b"\n") + 1
        raise ValueError(f"{source.name}: row {row}: not UTF-8 text; save the file as UTF-8.") from None
    reader = _csv_rows if source.suffix.lower() == ".csv" else _jsonl_rows
    return reader(text, source.name)


def _csv_rows(text: str, file_name: str):
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [column.strip().lower() for column in reader.fieldnames or []]
    except csv.Error as error:
        raise ValueError(f"{file_name}: row 1: not a CSV header ({error}).") from None
    if not header:
        raise ValueError(f"{file_name} is empty: the first line must name the columns (input, reference).")
    twice = sorted({column for column in header if column and header.count(column) > 1})
    if twice:
        raise ValueError(f"{file_name}: the header names column '{_short(twice[0])}' twice.")
    reader.fieldnames = header
    rows, errors = [], []
    try:
        for cells in reader:
            if None in cells:  # DictReader puts cells beyond the header under None
                errors.append((reader.line_num, "more cells than the header has columns (an unquoted comma?)"))
            else:
                rows.append((reader.line_num, cells))
            _check_count(len(rows) + len(errors), reader.line_num)
    except csv.Error as error:
        errors.append((reader.line_num, f"not valid CSV ({error})"))
    return header, rows, errors


def _jsonl_rows(text: str, file_name: str):
    columns, rows, errors = {}, [], []
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines(): JSON text may hold U+2028
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            errors.append((number, f"not valid JSON ({error.msg})"))
            continue
        if not isinstance(record, dict):
            errors.append((number, 'each line must be a JSON object: {"input": ..., "reference": ...}'))
            continue
        cells = {str(key).strip().lower(): value for key, value in record.items()}
        columns.update(dict.fromkeys(cells))
        rows.append((number, cells))
        _check_count(len(rows) + len(errors), number)
    return list(columns), rows, errors


def _check_count(count: int, row: int) -> None:
    if count > MAX_ROWS:
        raise ValueError(f"row {row}: the file has more than {MAX_ROWS:,} rows, the most a task may have.")


def _sources(columns: list[str], file_name: str) -> dict[str, str]:
    """{field: the column it is read from} for the fields a preference file may name otherwise (ALIASES), plus
    chosen and rejected when the file has both; one without the other is refused."""
    present = [column for column in PREFERENCE if column in columns]
    if len(present) == 1:
        other = next(column for column in PREFERENCE if column not in columns)
        raise ValueError(f"{file_name} has a '{present[0]}' column but no '{other}' column: a preference needs both.")
    sources = {column: column for column in present}
    for field_name, alias in ALIASES.items():
        if field_name not in columns and alias in columns and (alias != "chosen" or present):
            sources[field_name] = alias
    return sources


def _check_columns(columns: list[str], split_column, file_name: str) -> str | None:
    """Refuse a file without the required columns; returns the column that holds each row's split: the one
    named, else 'split' when there is one, else None (a seeded split)."""
    for column in REQUIRED:
        if column not in columns:
            raise ValueError(_missing(column, columns, file_name))
    named = inputs.text(split_column, "The split column", inputs.MAX_SHORT_CHARS).lower()
    if not named:
        return "split" if "split" in columns else None
    if named not in columns:
        raise ValueError(_missing(named, columns, file_name))
    return named


def _missing(column: str, columns: list[str], file_name: str) -> str:
    found = ", ".join(f"'{_short(c)}'" for c in columns[:20]) + (" …" if len(columns) > 20 else "")
    other_separator = any(";" in c or "\t" in c for c in columns)  # a spreadsheet's export in another locale
    hint = " Is it separated by ';' or tabs? Save it with commas." if other_separator else ""
    return f"{file_name} has no '{_short(column)}' column. Columns found: {found or 'none'}.{hint}"


def check_rows(rows: list[tuple[int, dict]], has_id: bool, split_key: str | None, errors: list,
               sources: dict[str, str] | None = None) -> list[dict]:  # fmt: skip
    """One record per row (id, split, input, reference, answer?, meta: a preference); each problem goes to `errors`
    with its row. sources: _sources(), where fields come from other columns."""
    records, first_use = [], {}
    for index, (number, cells) in enumerate(rows, start=1):
        problems = []
        cells = cells | {field_name: cells.get(column) for field_name, column in (sources or {}).items()}
        record = _record(index, cells, has_id, split_key, problems)
        if sources and "chosen" in sources:
            _preference(record, cells, problems)
        if record["id"] and record["id"] in first_use:
            problems.append(f"id '{_short(record['id'])}' is already used by row {first_use[record['id']]}")
        first_use.setdefault(record["id"], number)
        errors += [(number, problem) for problem in problems]
        records.append(record)
    return records


def _record(index: int, cells: dict, has_id: bool, split_key: str | None, problems: list[str]) -> dict:
    record = {"id": f"row-{index}", "split": "test"}
    for column in REQUIRED:
        record[column] = _cell(cells, column, problems)
        if record[column] == "":
            problems.append(f"'{column}' is empty")
    if has_id:
        cell = _cell(cells, "id", problems)
        record["id"] = re.sub(r"\s+", "_", cell or "")  # ids show in one-line pickers
        if cell == "":
            problems.append("'id' is empty")
        elif len(record["id"]) > MAX_ID_CHARS:
            problems.append(f"'id' has {len(record['id']):,} characters; the limit is {MAX_ID_CHARS}")
    if answer := _cell(cells, "answer", problems):
        record["answer"] = answer
        if not _is_number(answer):
            problems.append(f"answer '{_short(answer)}' is not a number")
    if split_key is not None:
        split = _cell(cells, split_key, problems)
        record["split"] = (split or "").lower()
        if split is not None and record["split"] not in ("train", "test"):
            problems.append(f"{split_key} '{_short(record['split'])}' must be 'train' or 'test'")
    return record


def _preference(record: dict, cells: dict, problems: list[str]) -> None:
    """The pair's chosen and rejected answers (both non-empty and different) and its optional labels, in meta."""
    meta = {column: _cell(cells, column, problems) for column in (*PREFERENCE, "property", "domain")}
    for column in PREFERENCE:
        if meta[column] == "":
            problems.append(f"'{column}' is empty")
    if meta["chosen"] and meta["chosen"] == meta["rejected"]:
        problems.append("'chosen' and 'rejected' are the same text: a preference needs two different answers")
    if meta["property"] and meta["property"].lower() not in PROPERTIES:
        problems.append(f"property '{_short(meta['property'])}' must be one of {', '.join(PROPERTIES)} (or empty)")
    record["meta"] = {key: value.lower() if key == "property" else value for key, value in meta.items() if value}


def _cell(cells: dict, column: str, problems: list[str]) -> str | None:
    """A cell as stripped text ('' when empty or absent; JSON numbers become text); None after noting a problem
    (a list or an object, text over the limit)."""
    value = cells.get(column)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        problems.append(f"'{column}' must be text or a number")
        return None
    text = str(value).strip()
    if len(text) > inputs.MAX_TEXT_CHARS:
        problems.append(f"'{column}' has {len(text):,} characters; the limit is {inputs.MAX_TEXT_CHARS:,}")
        return None
    return text


def _is_number(text: str) -> bool:
    """'12', '-3.5', '1,200', '$40' (what the numeric-accuracy metric reads as a number)."""
    try:
        return math.isfinite(float(text.replace(",", "").replace("$", "", 1)))
    except ValueError:
        return False


def _short(value: str, width: int = 30) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def _listing(file_name: str, errors: list[tuple[int, str]]) -> str:
    errors = sorted(errors)
    lines = [f"row {row}: {problem}" for row, problem in errors[:MAX_ERRORS]]
    more = f"\n… and {len(errors) - MAX_ERRORS:,} more" if len(errors) > MAX_ERRORS else ""
    return f"{file_name}: {len(errors):,} problem(s); nothing was stored.\n" + "\n".join(lines) + more


def assign_splits(records: list[dict], test_share: float, seed: int) -> None:
    """A seeded shuffle of the row order puts round(test_share * n) rows in test, at least one in each split."""
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    tests = min(max(round(test_share * len(records)), 1), len(records) - 1)
    for position, index in enumerate(order):
        records[index]["split"] = "test" if position < tests else "train"


def _check_splits(records: list[dict], file_name: str, split_key: str | None) -> None:
    for split in ("train", "test"):
        if not any(r["split"] == split for r in records):
            raise ValueError(f"{file_name}: no row has {split_key} '{split}'; a task needs train and test rows.")


def make_spec(name: str, file_name: str, records: list[dict], description: str, instruction: str) -> dict:
    """task.yaml, in the shipped tasks' schema."""
    number = all("answer" in r for r in records)
    day = datetime.date.today().isoformat()
    spec = {
        "name": name,
        "description": inputs.text(description, "The description", inputs.MAX_SHORT_CHARS)
        or f"Your own data from {_short(file_name, 80)}.",
        "origin": f"uploaded by a user: {_short(file_name, 80)}, {len(records):,} rows, {day}",
        "license": "the uploader's",
        "data": DATA,
        "answer_type": "number" if number else "none",
        "metrics": ["numeric_accuracy", "rouge", "bleu"] if number else ["rouge", "bleu"],
        "prompt": {
            "instruction": inputs.text(instruction, "The instruction", 1000) or DEFAULT_INSTRUCTION,
            "query": "{input}",
            "answer": "{reference}",
            "answer_prefix": "Answer:",
        },
    }
    if number:
        spec["reasoning"] = dict(REASONING)
    return spec


def _write(target: Path, spec: dict, records: list[dict]) -> None:
    """Write into a temporary folder beside the target, then rename it into place: a task is whole or absent."""
    make_private(target.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        (staging / DATA).write_text(lines, encoding="utf-8")
        (staging / SPEC).write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
        try:
            staging.rename(target)
        except OSError:  # another upload took the name in the meantime
            raise ValueError(f"You already have a task named '{target.name}': choose another name.") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
