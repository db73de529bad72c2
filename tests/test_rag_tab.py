"""The RAG tab through gradio_client: four columns with their sources on the embedded models, clean errors."""

import pytest

# task, question id, own question, own reference, k, delimit
GOOD = ["company-handbook-qa", "hb-q17", "", "", 3, True]


@pytest.mark.parametrize(
    ("changes", "message"),
    [({1: None}, "The question is empty"), ({2: "x" * 2001}, "limit is 2000"), ({4: 0}, "less than minimum")],
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
    assert all("gold document retrieved" in s for s in summaries[1:])
