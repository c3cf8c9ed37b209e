"""The statistical errors a report prints, and the terms it states, from known cases."""

from __future__ import annotations

import math

import pytest

from learnledger.agents.experiment import Experiment
from learnledger.report.headline import final_result
from learnledger.report.stats import binomial_error, difference_error, mean_error, plus_minus
from learnledger.report.terms import ExperimentTerms


def test_the_binomial_error_of_333_test_digits_is_about_a_hundredth() -> None:
    # sqrt(p(1-p)/n) with p smoothed to (k+1)/(n+2): 318 of 333 right.
    assert binomial_error(318 / 333, 333) == pytest.approx(math.sqrt((319 / 335) * (16 / 335) / 335))
    assert 0.011 < binomial_error(0.955, 333) < 0.013
    assert binomial_error(1.0, 200) > 0  # a perfect score is not a certain one
    with pytest.raises(ValueError, match="n=0"):
        binomial_error(0.5, 0)


def test_a_mean_over_disjoint_test_sets_adds_errors_in_quadrature() -> None:
    sizes = {"a": 100, "b": 400}
    expected = math.hypot(binomial_error(0.9, 100), binomial_error(0.8, 400)) / 2
    assert mean_error({"a": 0.9, "b": 0.8}, sizes) == pytest.approx(expected)
    assert mean_error({"a": 0.9, "c": 0.8}, sizes) is None  # c's test-set size unknown
    assert difference_error({"a": 0.9}, {"a": 0.8}, sizes) == pytest.approx(
        math.hypot(binomial_error(0.9, 100), binomial_error(0.8, 100)))
    assert plus_minus(0.95512, 0.0114) == "0.955 \u00b1 0.011" and plus_minus(0.5, None) == "0.500"


def test_the_headline_prefers_a_runs_own_final_scores_to_the_chains_votes() -> None:
    rows = [{"round": 1, "outcome": "accepted", "votes": {"b": {"test_score": 0.8}}},
            {"round": 2, "outcome": "rejected", "votes": {"a": {"test_score": 0.1}}}]
    terms = ExperimentTerms(metric="accuracy", test_examples={"a": 100, "b": 100})
    chain = final_result(rows, terms)
    assert chain is not None and chain.value == pytest.approx(0.8) and chain.round == 1
    assert chain.error == pytest.approx(binomial_error(0.8, 100)) and "round 1" in chain.source
    run = final_result(rows, terms, {"a": 0.9, "b": 0.7})
    assert run is not None and run.value == pytest.approx(0.8) and "every group" in run.source
    assert final_result([], ExperimentTerms()) is None


def test_terms_read_from_an_experiment_file_name_model_data_and_rules() -> None:
    terms = ExperimentTerms.from_experiment(Experiment.default(), {"cern": 200}, {"cern": 0.1})
    facts = dict(terms.facts())
    assert terms.name == "mnist" and terms.metric == "accuracy" and terms.has_errors
    assert facts["model"].startswith("mnist_cnn on 28x28x1 images, 10 classes; 2 epochs per proposal")
    assert facts["data"].startswith("mnist, iid split among 5 groups")
    assert "50%" in facts["threshold"] and facts["windows"] == "1 h to propose, 1 h to vote"
    assert ExperimentTerms.from_dict(terms.as_dict()) == terms
    merged = ExperimentTerms(name="x").merged(terms)
    assert merged.name == "x" and merged.model == terms.model
    assert ExperimentTerms().score_label("test") == "test score"
