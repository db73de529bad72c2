"""Values of the wrong type sent to every endpoint (generated from the API description): each is refused with one
short sentence that names the field and what it takes; never Gradio's internal text, a pydantic dump or the value
echoed back. A 1 MB value leaves little in the server log."""

import logging

import pytest

from tests.test_abuse import endpoints, message_of

BIG = "x" * 1_000_000
# Wrong values per component. The field under test gets one of them, the fields before it their defaults and the
# fields after it POISON (refused too), so no call gets past the checks of its inputs and none does real work.
WRONG = {
    "Number": [{"n": 1}, "y" * 5_000],
    "Slider": [{"n": 1}, [1, 2]],
    "Textbox": [[1, 2], {"t": "y" * 500}],
    "Dropdown": [BIG, {"d": 1}],
    "Radio": [BIG, [1]],
    "Checkbox": [BIG, {"c": 1}],
    "Checkboxgroup": [BIG, [BIG]],
    "File": [7, {"path": "y" * 500}],  # a number; a file without Gradio's meta (gradio_client leaves it as it is)
}
POISON = {"poison": 1}
GRADIO_INTERNALS = ("Could not preprocess", "validation error", "input_value=", "For further information visit",
                    "(type: <class", "Original error", "Cannot move")  # fmt: skip
MAX_REPLY = 400  # modules.ui.errors.MAX_MESSAGE
MAX_ECHO = 100  # characters of a sent value a reply may repeat
SERVER_LOGGERS = ("lab", "gradio", "uvicorn", "starlette", "fastapi", "asyncio", "root", "py")


def arguments(parameters: list[dict], index: int, value) -> list:
    """Defaults before the field under test, `value` in it, POISON after it."""
    defaults = [p["parameter_default"] if p["parameter_has_default"] else None for p in parameters[:index]]
    return [*defaults, value, *[POISON] * (len(parameters) - index - 1)]


def wrong_calls(client):
    """(endpoint, label of the field under test, arguments) for every parameter of every endpoint."""
    for name, endpoint in endpoints(client).items():
        for index, parameter in enumerate(endpoint["parameters"]):
            for wrong in WRONG.get(parameter["component"], [POISON]):
                yield name, parameter["label"], arguments(endpoint["parameters"], index, wrong)


def problems_of(reply: str | None, label: str) -> list[str]:
    """What is wrong with the reply to a wrong value sent to the field `label` (None: the call was accepted)."""
    if reply is None:
        return ["accepted"]
    found = [f"{len(reply)} characters"] if len(reply) >= MAX_REPLY else []
    found += [f"says {marker!r}" for marker in GRADIO_INTERNALS if marker in reply]
    found += ["echoes the value"] if any(c * (MAX_ECHO + 1) in reply for c in "xy") else []
    return found + ([] if label in reply else ["does not name the field"])


def send(client, name: str, arguments: list) -> str | None:
    """The app's refusal of the call, None if it answered."""
    try:
        client.submit(*arguments, api_name=name).result(timeout=60)
    except Exception as error:
        return message_of(error)
    return None


@pytest.fixture()
def tiny_session(client, tiny_llama_dir):
    """A session on the tiny model: a call that wrongly gets through costs seconds, not a model load."""
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    return client


def test_every_field_refuses_a_wrong_type_in_one_short_sentence_that_names_it(tiny_session):
    found, calls = [], 0
    for name, label, arguments in wrong_calls(tiny_session):
        calls += 1
        reply = send(tiny_session, name, arguments)
        found += [
            f"{name} · {label[:40]}: {problem} · {(reply or '')[:160]!r}" for problem in problems_of(reply, label)
        ]
    assert 150 <= calls <= 400, calls
    assert not found, f"{len(found)} problems in {calls} calls:\n" + "\n".join(found[:25])


@pytest.mark.parametrize(
    ("endpoint", "values", "message"),
    [
        ("/quant_measure", [["int8"], "x" * 100, "dialogue-summary", 5], "int8 / 4-bit components: 'xxx"),
        ("/quant_measure", [["int9"], "mlp", "dialogue-summary", 5], "Compare with fp32: 'int9' is not in the list"),
        ("/icl_run_task", ["dialogue-summary", {"n": 1}, 3], "Examples \\(limit\\): expected a number from 1 to"),
        ("/icl_run_task", ["dialogue-summary", 1e30, 3], "Examples \\(limit\\): 1e\\+30 is greater than maximum value"),
        ("/rag_run_task", ["company-handbook-qa", 10, 3, "yes"], "injection defence\\): expected true or false"),
        ("/task_upload", [7], "CSV or JSONL file: expected a file \\(.csv, .jsonl\\) uploaded to this app"),
        ("/compare_run", ["zero-shot", BIG], "Task: 1,000,000 characters; the limit is 300"),
    ],
)  # fmt: skip
def test_a_refusal_says_which_field_and_what_it_takes(client, endpoint, values, message):
    parameters = endpoints(client)[endpoint]["parameters"]
    with pytest.raises(Exception, match=message) as error:
        client.predict(*values, *[POISON] * (len(parameters) - len(values)), api_name=endpoint)
    assert len(message_of(error.value)) < MAX_REPLY


def server_log_bytes(caplog) -> int:
    """What the server's loggers wrote (not the client's own: httpx, httpcore, gradio_client)."""
    server = [r for r in caplog.records if r.name.split(".")[0] in SERVER_LOGGERS]
    return sum(len(caplog.handler.format(record).encode()) for record in server)


def test_a_1_mb_value_leaves_under_2000_bytes_in_the_log(tiny_session, caplog, capfd):
    """Through the served app (stderr included: Gradio prints the traceback of an error it does not expect) and
    through an unexpected error whose message holds the whole value, as an OSError for a too-long file name does."""
    from modules.ui.errors import guarded

    caplog.set_level(logging.DEBUG)
    logged = {}
    for name, endpoint in endpoints(tiny_session).items():
        for index, parameter in enumerate(endpoint["parameters"]):
            if parameter["component"] in ("Dropdown", "Radio", "Checkbox", "Checkboxgroup", "Textbox"):
                caplog.clear()
                capfd.readouterr()
                send(tiny_session, name, arguments(endpoint["parameters"], index, BIG))
                logged[f"{name} {index}"] = server_log_bytes(caplog) + len(capfd.readouterr().err.encode())
    assert len(logged) >= 20 and max(logged.values()) < 2_000, sorted(logged.items(), key=lambda item: -item[1])[:5]

    def task_file(name):
        raise OSError(36, "File name too long", f"/lab/tasks/{name}.yaml")

    caplog.clear()
    with pytest.raises(Exception, match="Something went wrong \\(OSError\\)"):
        guarded(task_file)(BIG)
    logging.getLogger("lab").warning("embedder %r failed to load: %s", BIG, ValueError(BIG))
    assert "OSError: [Errno 36] File name too long" in caplog.text and "embedder 'xxx" in caplog.text
    assert len(caplog.text.encode()) < 2 * 2_000 and all(len(r.getMessage()) < 2_000 for r in caplog.records)
