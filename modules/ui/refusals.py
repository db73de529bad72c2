"""Gradio's own refusals of an input (a word for a number, a value not among a radio's choices, a malformed file),
as one short sentence that names the field by its label and says what it takes: never Gradio's internal text
("Could not preprocess input component at index 6 ..."), a pydantic dump, or the value echoed back whole.

`explain_refusals(demo)` wraps `demo.preprocess_data`, the one step every endpoint's inputs pass through before a
handler runs. It also refuses what Gradio lets through to handlers but no handler expects: a list or an object for
a text, anything but true/false for a checkbox, anything but a number for a number, and a free-text dropdown
value (a task, example or adapter name) that is not short text."""

import copy
import logging

import gradio as gr

from modules.inputs import MAX_SHORT_CHARS, quoted

MAX_LABEL = 80
SHOWN_CHOICES = 8
log = logging.getLogger("lab")


def _label(block) -> str:
    label = str(getattr(block, "label", None) or block.get_block_name())
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _given(value) -> str:
    """The value as a reply may quote it: a scalar in at most 40 characters, a container by its kind."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if value is None or isinstance(value, (str, int, float)):
        return quoted(value)
    return f"a {type(value).__name__}"


def _choices(block) -> str:
    values = [value for _, value in getattr(block, "choices", None) or []]
    if not values:
        return "(none yet)"
    listed = ", ".join(str(quoted(v) if not isinstance(v, str) or len(v) > 40 else v) for v in values[:SHOWN_CHOICES])
    return listed if len(values) <= SHOWN_CHOICES else f"{listed}, … ({len(values)} in all)"


def _span(block) -> str:
    low, high = getattr(block, "minimum", None), getattr(block, "maximum", None)
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" of at least {low:g}"
    return f" of at most {high:g}" if high is not None else ""


def _number_shown(value) -> str:
    """1e+30 for a float; an integer too long to write (JSON allows 10**400) cut like any other value."""
    return f"{value:g}" if isinstance(value, float) else quoted(value)


def _number(block, value) -> str:
    low, high = getattr(block, "minimum", None), getattr(block, "maximum", None)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if low is not None and value < low:
            return f"{_number_shown(value)} is less than minimum value {low:g}; allowed:{_span(block)}."
        if high is not None and value > high:
            return f"{_number_shown(value)} is greater than maximum value {high:g}; allowed:{_span(block)}."
    return f"expected a number{_span(block)}, got {_given(value)}."


def _free_text(block) -> bool:
    return isinstance(block, gr.Dropdown) and bool(block.allow_custom_value)


def _multiple(block) -> bool:
    return isinstance(block, gr.CheckboxGroup) or (isinstance(block, gr.Dropdown) and bool(block.multiselect))


def what_is_wrong(block, value) -> str:
    """One sentence: the field's label, what is wrong with `value` for it, and what it takes."""
    if isinstance(block, (gr.Number, gr.Slider)):
        problem = _number(block, value)
    elif isinstance(block, gr.Checkbox):
        problem = f"expected true or false, got {_given(value)}."
    elif _free_text(block) and isinstance(value, str) and len(value) > MAX_SHORT_CHARS:
        problem = f"{len(value):,} characters; the limit is {MAX_SHORT_CHARS}."
    elif _free_text(block):
        problem = f"expected {'a list of names' if _multiple(block) else 'a name'} (text), got {_given(value)}."
    elif _multiple(block) and isinstance(value, list):
        allowed = {choice for _, choice in block.choices}
        wrong = next((v for v in value if not isinstance(v, (str, int, float)) or v not in allowed), value)
        problem = f"{_given(wrong)} is not in the list of choices: {_choices(block)}."
    elif _multiple(block):
        problem = f"expected a list of choices from: {_choices(block)}; got {_given(value)}."
    elif isinstance(block, (gr.Radio, gr.Dropdown)):
        problem = f"{_given(value)} is not in the list of choices: {_choices(block)}."
    elif isinstance(block, gr.Textbox):
        problem = f"expected text, got {_given(value)}."
    elif isinstance(block, gr.File):
        files = "files" if block.file_count != "single" else "a file"
        kinds = f" ({', '.join(block.file_types)})" if block.file_types else ""
        problem = (
            f"expected {files}{kinds} uploaded to this app (gradio_client: handle_file(path)), got {_given(value)}."
        )
    elif isinstance(block, gr.Dataframe):
        problem = f'expected a table ({{"headers": [...], "data": [[...], ...]}}), got {_given(value)}.'
    else:
        problem = f"{_given(value)} is not a value this {block.get_block_name()} takes."
    return f"{_label(block)}: {problem}"


def _let_through_unchecked(block, value) -> bool:
    """Whether Gradio would pass `value` to the handler although it is not of the field's type."""
    if value is None:
        return False
    if isinstance(block, (gr.Number, gr.Slider)):
        return not isinstance(value, (int, float))
    if isinstance(block, gr.Checkbox):
        return not isinstance(value, bool)
    if isinstance(block, gr.Textbox):
        return isinstance(value, (list, dict))
    if _free_text(block):
        names = value if _multiple(block) and isinstance(value, list) else [value]
        return not all(isinstance(v, (int, float)) or isinstance(v, str) and len(v) <= MAX_SHORT_CHARS for v in names)
    return False


def _fields(block_fn, inputs, state):
    """(index, the field as this session has it (its choices may have been updated), its value) of each input."""
    for index, block in enumerate(block_fn.inputs):
        if block.stateful or index >= len(inputs):
            continue
        value = inputs[index]
        if index in block_fn.component_prop_inputs and isinstance(value, dict):
            value = value.get("value")
        yield index, state[block._id] if state is not None and block._id in state else block, value


def explain_refusals(demo: gr.Blocks) -> None:
    """Every endpoint's refused input becomes a short gr.Error naming the first field (in order) that is wrong."""
    preprocess = demo.preprocess_data

    async def refused_field(block_fn, inputs, state, explicit_call):
        """The first field whose own value is refused, alone: by the check above, or by Gradio."""
        for index, block, value in _fields(block_fn, inputs, state):
            if _let_through_unchecked(block, value):
                return block, value
            one = copy.copy(block_fn)
            one.inputs = [block_fn.inputs[index]]
            one.component_prop_inputs = [0] if index in block_fn.component_prop_inputs else []
            try:
                await preprocess(one, [inputs[index]], state, explicit_call)
            except Exception:
                return block, value
        return None

    async def preprocess_data(block_fn, inputs, state, explicit_call=False):
        refused = None
        if len(inputs) < len(block_fn.inputs):
            raise gr.Error(
                f"This action takes {len(block_fn.inputs)} values; {len(inputs)} were sent.", print_exception=False
            )
        if not any(_let_through_unchecked(block, value) for _, block, value in _fields(block_fn, inputs, state)):
            try:
                return await preprocess(block_fn, inputs, state, explicit_call)
            except Exception as error:
                refused = error
        found = await refused_field(block_fn, inputs, state, explicit_call)
        if found is None:  # Gradio refused the values together but none alone: say so, without its text
            log.warning("inputs refused, no single field found: %r", refused)
            raise gr.Error(
                "The values sent do not fit this action's fields; see its API page for what each takes.",
                print_exception=False,
            )
        raise gr.Error(what_is_wrong(*found), print_exception=False)

    demo.preprocess_data = preprocess_data
