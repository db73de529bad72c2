"""The RAG tab through gradio_client: four columns with their sources, uploads into collections, clean errors."""

import pytest
from gradio_client import handle_file

# task, question id, own question, own reference, k, delimit, collection ("" = the task's documents), embedder
GOOD = ["company-handbook-qa", "hb-q17", "", "", 3, True, "", "all-minilm-l6-v2"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({1: None}, "The question is empty"),
        ({2: "x" * 2001}, "limit is 2,000"),
        ({4: 0}, "less than minimum"),
        ({7: "sentence-transformers/all-mpnet-base-v2"}, "Without a network only"),
        ({7: "x" * 201}, "embedding model must be"),
    ],
)
def test_bad_input_is_a_clean_error(client, changes, message):
    args = list(GOOD)
    for index, value in changes.items():
        args[index] = value
    with pytest.raises(Exception, match=message):
        client.predict(*args, api_name="/rag_run")


@pytest.mark.slow
def test_four_columns_with_sources_on_the_embedded_models(client):
    cells = client.predict(*GOOD, api_name="/rag_run")
    answers, summaries, sources = cells[0::3], cells[1::3], cells[2::3]
    assert all(len(a.split()) >= 2 for a in answers)
    assert "No retrieval" in sources[0] and all("`hb-" in s and "score" in s for s in sources[1:])
    assert all("ROUGE-L" in s and "new tokens" in s for s in summaries)
    import re

    for summary, listed in zip(summaries[1:], sources[1:]):  # the verdict and MRR agree with the ⭐ gold marks
        found = re.findall(r"^\*\*\[(\d+)\]\*\* .*?( ⭐ gold)?$", listed, re.M)
        assert [int(rank) for rank, _ in found] == [1, 2, 3], listed  # k=3 sources, in rank order
        ranks = [int(rank) for rank, gold in found if gold]
        verdict = f"yes · MRR {1 / ranks[0]:.2f}" if ranks else "no · MRR 0.00"
        assert f"gold document retrieved: {verdict}" in summary, (summary, listed)


def upload(client, collection, paths):
    return client.predict(collection, [handle_file(str(p)) for p in paths], api_name="/rag_upload")


def test_upload_stores_good_files_and_names_each_rejected_one(client, tmp_path):
    (tmp_path / "canteen.md").write_text("The canteen serves pancakes every Thursday morning.")
    (tmp_path / "fake.pdf").write_text("just text pretending to be a PDF")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "tool.exe").write_bytes(b"MZ\x90\x00")
    report, knowledge = upload(client, "tab-docs", sorted(tmp_path.iterdir()))
    assert "stored `canteen.md`" in report and "1 documents" in report
    assert "rejected `fake.pdf`: named .pdf but the content is not a PDF" in report
    assert "rejected `empty.txt`: the file is empty" in report and "rejected `tool.exe`: type not allowed" in report
    assert knowledge["value"] == "tab-docs" and ["Uploaded: tab-docs", "tab-docs"] in knowledge["choices"]
    with pytest.raises(Exception, match="Type a question about collection 'tab-docs'"):
        client.predict(*GOOD[:6], "tab-docs", GOOD[7], api_name="/rag_run")
    with pytest.raises(Exception, match="Collection name"):
        upload(client, "../escape", [tmp_path / "canteen.md"])
    with pytest.raises(Exception, match="No files chosen"):
        client.predict("tab-docs", [], api_name="/rag_upload")
    report, knowledge = client.predict("tab-docs", api_name="/rag_delete_collection")
    assert "Deleted collection `tab-docs`" in report and knowledge["value"] == ""
    assert ["Uploaded: tab-docs", "tab-docs"] not in knowledge["choices"]


@pytest.mark.slow
def test_a_question_about_uploaded_documents_cites_them(client, tmp_path):
    (tmp_path / "canteen.md").write_text("The canteen serves pancakes every Thursday morning.")
    (tmp_path / "garage.txt").write_text("The garage closes at 9 pm; bikes go in the basement.")
    upload(client, "tab-ask", [tmp_path / "canteen.md", tmp_path / "garage.txt"])
    args = ["company-handbook-qa", None, "When does the canteen serve pancakes?", "", 1, True, "tab-ask", GOOD[7]]
    cells = client.predict(*args, api_name="/rag_run")
    assert all("`canteen.md`" in sources for sources in cells[5::3])
    assert "Thursday" in " ".join(cells[3::3])
