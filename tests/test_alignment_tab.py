"""The Alignment tab through gradio_client on the tiny model: a reward model trains, saves and is read on held-out
pairs; the constitutional loop shows every revision and makes pairs. (WIP: issue #26.)"""

from gradio_client import Client

from tests.conftest import table_rows


def test_a_reward_model_trains_and_is_read_on_held_out_pairs(served_app, tiny_llama_dir):
    client = Client(served_app, verbose=False)
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    status, _, by_property, chart, pairs, download = client.predict(
        "tab-rm", "hhh-preferences", 2, 4, 8, 64, 6, api_name="/alignment_train_reward"
    )
    assert "**Done.**" in status and "Held-out pairwise accuracy" in status and "n=6" in status
    assert sum(row["n"] for row in table_rows(by_property)) == 6 and len(table_rows(pairs)) == 6
    assert download.endswith(".json") and "Held-out rewards" in str(chart)


def test_the_constitutional_loop_shows_each_revision(served_app, tiny_llama_dir):
    client = Client(served_app, verbose=False)
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    from modules.studies import constitutional

    status, revisions, download = client.predict(constitutional.default_principles_text(), 3, 8,
                                                 api_name="/alignment_constitutional")  # fmt: skip
    rows = table_rows(revisions)
    assert "**Done.**" in status and len(rows) == 3 and {"original", "critique", "revised"} <= set(rows[0])
    assert download.endswith(".json")


def test_best_of_n_runs_beside_zero_shot_and_both_are_read_by_the_reward_model(served_app, tiny_llama_dir):
    client = Client(served_app, verbose=False)
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    client.predict("tab-rm-bon", "hhh-preferences", 1, 4, 8, 64, 2, api_name="/alignment_train_reward")
    status, aggregate, *_ = client.predict("tab-rm-bon", 3, 3, 8, api_name="/alignment_best_of_n")
    rows = table_rows(aggregate)
    assert {row["system"] for row in rows} == {"zero-shot", "best-of-3"}
    assert {row["system"] for row in rows if row["score"].startswith("reward:tab-rm-bon:")} == {"zero-shot", "best-of-3"}
