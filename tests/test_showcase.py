"""Stored example runs: a missing one is normal and silent, a damaged one is skipped and logged by name."""

import logging

from evals import showcase


def test_a_missing_example_is_none_and_silent(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(showcase, "FOLDER", tmp_path)
    with caplog.at_level(logging.WARNING, logger="lab"):
        assert showcase.load_stored("icl") is None
    assert not caplog.records


def test_a_damaged_example_is_logged_with_its_name_and_the_error(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(showcase, "FOLDER", tmp_path)
    (tmp_path / "icl.json").write_text('{"run": {"task": "dialogue-summary"')  # cut off mid-write
    (tmp_path / "rag.json").write_text('{"run": {"task": "x"}, "label": {}}')  # a field missing
    with caplog.at_level(logging.WARNING, logger="lab"):
        assert showcase.load_stored("icl") is None and showcase.load("rag") is None
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "icl.json" in messages[0] and "JSONDecodeError" in messages[0]
    assert "rag.json" in messages[1] and "KeyError" in messages[1] and "'split'" in messages[1]
