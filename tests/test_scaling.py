"""The scaling calculator against the papers' own numbers: Chinchilla's 20 tokens per parameter, the exponents of
the compute-optimal frontier, and bad budgets refused with a message."""

import pytest

from modules.inside import scaling


def test_chinchilla_is_twenty_tokens_per_parameter_at_its_own_compute():
    """Hoffmann et al. Table 1 / section 4: Chinchilla, 70B parameters on 1.4T tokens."""
    c = scaling.compute_of(70e9, 1.4e12)
    assert c == pytest.approx(5.88e23)  # 6ND; the paper's 5.76e23 counts FLOPs in more detail
    assert scaling.rule_of_thumb(c) == pytest.approx((70e9, 1.4e12))


def test_the_frontier_exponents_are_the_papers():
    """N_opt ∝ C^a, D_opt ∝ C^b: Hoffmann et al. Table 2 gives a = 0.46, b = 0.54 for Approach 3 (from unrounded
    constants; the rounded ones give 0.45); Besiroglu et al.'s refit gives a ≈ 0.51, b ≈ 0.49."""
    for fit, a in ((scaling.HOFFMANN, 0.46), (scaling.BESIROGLU, 0.51)):
        (n1, d1), (n2, d2) = fit.optimal(1e22), fit.optimal(1e24)
        assert (n2 / n1) ** 0.5 == pytest.approx(100 ** (a / 2), rel=0.03)  # over 2 decades of compute
        assert n1 * d1 * 6 == pytest.approx(1e22) and n2 * d2 * 6 == pytest.approx(1e24)


def test_the_refit_gives_about_twenty_tokens_per_parameter_and_the_original_several_times_more():
    c = scaling.compute_of(70e9, 1.4e12)
    n, d = scaling.BESIROGLU.optimal(c)
    assert 15 < d / n < 25
    n, d = scaling.HOFFMANN.optimal(c)
    assert 80 < d / n < 110  # 93: "several times" the 20 of the paper's other approaches


def test_the_loss_is_the_fit_formula():
    fit = scaling.HOFFMANN
    assert fit.loss(70e9, 1.4e12) == pytest.approx(1.69 + 406.4 / 70e9**0.34 + 410.7 / 1.4e12**0.28)
    assert fit.loss(1e40, 1e40) == pytest.approx(1.69, abs=1e-6)  # E: the irreducible loss


def test_the_plan_table_says_each_allocation_at_one_budget():
    table = scaling.plan(parameters=135e6, compute=1.62e21).set_index("allocation")
    assert len(table) == 4 and table["compute C (FLOPs)"].round(-15).nunique() == 1
    assert table.loc["20 tokens per parameter (rule of thumb)", "tokens per parameter"] == pytest.approx(20)
    assert table.loc["your N on this compute", "tokens D"] == pytest.approx(2e12)  # SmolLM2-135M's 2T tokens
    only_n = scaling.plan(parameters=135e6)
    assert only_n["compute C (FLOPs)"].iloc[0] == pytest.approx(120 * 135e6**2)


def test_the_embedded_model_is_over_trained_on_purpose():
    models = scaling.models_table().set_index("model")
    assert models.loc["SmolLM2-135M (the embedded model)", "tokens per parameter"] > 10_000
    assert models.loc["Chinchilla", "tokens per parameter"] == pytest.approx(20)


@pytest.mark.parametrize(("parameters", "compute", "message"), [
    (0, None, "Parameters N must be a positive number"),
    (-5, None, "Parameters N must be a positive number"),
    (None, 0, "Compute C must be a positive number"),
    (None, float("nan"), "Compute C must be a positive number"),
    (None, None, "Give the parameters N"),
    (1e41, None, "at most 1e40"),
])  # fmt: skip
def test_bad_budgets_get_messages(parameters, compute, message):
    with pytest.raises(ValueError, match=message):
        scaling.plan(parameters, compute)


def test_the_cli_prints_the_plan_and_its_sources_and_refuses_bad_numbers(tmp_path, capsys):
    from evals.__main__ import main

    assert main(["scaling", "--parameters", "135e6", "--compute", "1.62e21", "--out", str(tmp_path / "s.csv")]) == 0
    printed = capsys.readouterr().out
    assert "your N on this compute" in printed and "arXiv 2203.15556" in printed and "arXiv 2404.10102" in printed
    assert (tmp_path / "s.csv").read_text().startswith("allocation,parameters N,tokens D")
    assert main(["scaling", "--parameters", "-1"]) == 2
    assert "Parameters N must be a positive number" in capsys.readouterr().err
