"""What people read: per-example tables rounded, RAG chunks escaped with the question's words marked, charts legible."""

import re
import types

import pandas as pd

from evals import report
from evals.tasks import Example
from modules.ui import rag, reasoning, tables


def test_rounded_rounds_floats_and_drops_empty_columns():
    per_example = pd.DataFrame({"example_id": ["a", "b"], "answer": [None, None], "note": ["", ""],
                                "rougeL": [0.15999999999999998, 0.5], "tokens": [3, 4],
                                "output": ["x", ""]})  # fmt: skip
    shown = tables.rounded(per_example)
    assert list(shown.columns) == ["example_id", "rougeL", "tokens", "output"]
    assert shown.rougeL.tolist() == [0.16, 0.5] and shown.tokens.tolist() == [3, 4]
    assert "answer" in per_example  # a copy: the run's own table is untouched
    assert tables.rounded(None) is None and tables.rounded(pd.DataFrame()).empty


def test_a_chunk_is_escaped_text_with_the_question_words_marked():
    terms = rag.question_terms("How many days of annual leave does a full-time employee get?")
    assert {"days", "annual", "leave", "full", "time"} <= terms and not {"of", "a"} & terms  # stopwords as BM25's
    text = "Annual leave: <script>alert(1)</script> **27 days**\n\n# Not_a heading [link](http://x) $$x$$ & more"
    shown = rag.chunk_html(text, terms)
    assert shown.startswith('<div class="rag-chunk">') and shown.endswith("</div>") and "\n" not in shown
    assert "<mark>Annual</mark> <mark>leave</mark>" in shown and "<mark>days</mark>" in shown
    body = shown.removeprefix('<div class="rag-chunk">').removesuffix("</div>")
    plain = re.sub(r"&#\d+;|</?mark>|<br>", "", body)  # what is left besides entities and our own tags
    assert not re.search(r"[<>*#\[\]_$()&:/]", plain), plain  # no markup of the document's own survives
    assert "&#60;script&#62;" in body and body.count("<br>") == 2


def test_sources_table_keeps_its_header_lines():
    sources = [{"rank": 1, "source": "leave.md", "chunk_id": 0, "doc_id": "hb-01", "score": 2.0, "text": "27 days"}]
    output = types.SimpleNamespace(trace={"sources": sources})
    example = Example(id="q", input="How many days?", reference="27", meta={"doc_ids": ["hb-01"]})
    listed = rag.sources_table(output, example)
    assert listed.splitlines()[0] == "**[1]** `leave.md` · chunk `0` · score 2.000 ⭐ gold"
    assert '<div class="rag-chunk">27 <mark>days</mark>&#8230;</div>' in listed


def test_the_pal_program_wraps():
    assert reasoning.program_box("x = 1").wrap_lines


def test_a_chart_names_systems_in_a_legend_on_a_transparent_background():
    quality = pd.DataFrame({"system": ["zero-shot", "few-shot (k=3)"] * 4, "score": [s for s in "abcd" for _ in "12"],
                            "mean": [0.2, 0.3] * 4, "ci_low": [0.1, 0.2] * 4, "ci_high": [0.3, 0.4] * 4})  # fmt: skip
    fig = report.chart(quality, "title")
    assert fig.layout.paper_bgcolor == fig.layout.plot_bgcolor == "rgba(0,0,0,0)"
    assert [t.name for t in fig.data if t.showlegend] == ["zero-shot", "few-shot (k=3)"]  # each system named once
    assert len(fig.data) == 8 and fig.layout.xaxis.showticklabels is False and fig.layout.legend.orientation == "h"
    assert fig.layout.xaxis4.anchor  # four scores: two rows of at most three panels
