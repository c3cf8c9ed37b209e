"""Dataset valuation from rounds, the HTML page's contents, and --evaluate on a real (tiny) Keras model."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from learnledger.audit.evaluate import EvaluationError, evaluate_final_model
from learnledger.audit.render import html_report, valuation_png
from learnledger.audit.run import audit
from learnledger.audit.valuation import score_gain, value_datasets
from learnledger.ledger.chain import EmbeddedChain
from learnledger.ledger.deploy import deploy
from learnledger.ledger.params import ExperimentParams
from learnledger.store.local import LocalStore


def row(round_: int, proposer: str, outcome: str, tests: dict[str, float | None]) -> dict:
    return {"round": round_, "proposer": proposer, "outcome": outcome, "cid": f"cid-{round_}",
            "votes": {g: {"approve": outcome == "accepted", "vote_score": s, "test_score": s} for g, s in tests.items()}}


def test_gains_compare_the_voters_that_scored_both_models() -> None:
    assert score_gain({"a": 0.8, "b": 0.7}, {"a": 0.6, "b": 0.6, "c": 0.1}) == pytest.approx(0.15)
    assert score_gain({"a": 0.8}, {"b": 0.6}) == pytest.approx(0.2)  # nobody scored both: the means
    assert score_gain({"a": 0.5}, {"a": 0.7}, higher_is_better=False) == pytest.approx(0.2)  # a loss fell
    assert score_gain({}, {"a": 0.7}) is None


def test_groups_are_ranked_by_the_gain_their_accepted_proposals_brought() -> None:
    rows = [
        row(1, "cern", "accepted", {"fnal": 0.50, "desy": 0.52}),   # first: no baseline, no gain
        row(2, "fnal", "rejected", {"cern": 0.40, "desy": 0.41}),
        row(3, "desy", "accepted", {"cern": 0.70, "fnal": 0.60}),   # fnal 0.50 -> 0.60: +0.10
        row(4, "fnal", "accepted", {"cern": 0.75, "desy": 0.80}),   # cern 0.70 -> 0.75: +0.05
        {"round": 5, "proposer": "cern", "outcome": "skipped", "cid": None, "votes": {}},
        row(6, "fnal", "accepted", {"cern": 0.76, "desy": None}),   # cern 0.75 -> 0.76: +0.01
    ]
    values = {v.group: v for v in value_datasets(rows, ["cern", "fnal", "desy", "kek"])}
    assert (values["fnal"].proposals, values["fnal"].accepted) == (3, 2)
    assert values["fnal"].acceptance_rate == pytest.approx(2 / 3)
    assert values["fnal"].mean_gain == pytest.approx(0.03) and values["fnal"].total_gain == pytest.approx(0.06)
    assert values["desy"].mean_gain == pytest.approx(0.10)
    assert values["cern"].mean_gain is None and values["cern"].acceptance_rate == 1.0  # skipped is no proposal
    assert values["kek"].proposals == 0 and values["kek"].acceptance_rate is None
    assert [v.group for v in sorted(values.values(), key=lambda v: v.rank)] == ["desy", "fnal", "cern", "kek"]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A deployed experiment whose spec and initial weights are a real tiny Keras model in a store."""
    from learnledger.agents.learner import initial_weights
    from learnledger.agents.models import ModelSpec

    store = LocalStore(tmp_path_factory.mktemp("store"))
    spec = ModelSpec(architecture="mlp", input_shape=(6, 6, 1), num_classes=3, seed=3)
    initial = initial_weights(spec)
    chain = EmbeddedChain(accounts=2)
    params = ExperimentParams(tuple(a for a, _ in chain.accounts), ("cern", "fnal"), spec.digest(),
                              store.put(spec.canonical_json()), hashlib.sha256(initial).digest(), store.put(initial))
    deployment = deploy(chain.w3, chain.accounts[0][1], params)
    return audit(chain.w3, deployment.address, deployment), store, spec


def test_the_final_model_is_scored_on_a_groups_npz(deployed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from learnledger.agents.learner import Learner
    from learnledger.data.private import load_private_data

    report, store, spec = deployed
    rng = np.random.default_rng(0)
    arrays = {f"{axis}_{part}": (rng.integers(0, 256, (12, 6, 6, 1), dtype=np.uint8) if axis == "x"
                                 else rng.integers(0, 3, 12)) for part in ("train", "vote", "test") for axis in "xy"}
    data = tmp_path / "mine.npz"
    np.savez(data, **arrays)
    metric, scores = evaluate_final_model(report, store, data)
    expected = Learner("check", load_private_data(data), spec).score(store.get(report.params.initial_cid))
    assert metric == "accuracy"
    assert scores == {"mine.npz": {"vote": expected.vote, "test": expected.test}}
    assert 0.0 <= scores["mine.npz"]["test"] <= 1.0


def test_evaluation_refuses_a_final_model_the_store_altered(deployed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report, store, _ = deployed

    class Altered:
        def get(self, cid: str) -> bytes:
            data = store.get(cid)
            return data[:-1] + bytes([data[-1] ^ 1]) if cid == report.params.initial_cid else data

    with pytest.raises(EvaluationError, match="does not hash to the digest on-chain"):
        evaluate_final_model(report, Altered(), tmp_path / "unused.npz")  # type: ignore[arg-type]
    with pytest.raises(EvaluationError, match="takes a group's .npz or an experiment .toml"):
        evaluate_final_model(report, store, tmp_path / "data.csv")


def test_the_html_page_is_self_contained_and_escapes_names(deployed) -> None:  # type: ignore[no-untyped-def]
    report, _, _ = deployed
    values = value_datasets([row(1, "<cern>", "accepted", {"fnal": 0.5})], ["<cern>", "fnal"])
    page = html_report(report, values, {"Proposals per group": valuation_png(values)},
                       {"mine.npz": {"vote": 0.5, "test": 0.25}})
    assert page.count("data:image/png;base64,") == 1
    assert "&lt;cern&gt;" in page and "<cern>" not in page
    assert "src='http" not in page and "href=" not in page  # nothing fetched from anywhere
    assert "All checks hold." in page and "0.2500" in page


def test_groups_whose_gains_lie_within_the_noise_share_a_rank() -> None:
    rows = [
        row(1, "cern", "accepted", {"fnal": 0.900, "desy": 0.900}),
        row(2, "fnal", "accepted", {"cern": 0.903, "desy": 0.903}),   # +0.003: noise on 333 digits
        row(3, "desy", "accepted", {"cern": 0.905, "fnal": 0.905}),   # +0.002
    ]
    sizes = {g: 333 for g in ("cern", "fnal", "desy")}
    values = value_datasets(rows, list(sizes), test_examples=sizes)
    assert {v.rank for v in values} == {1} and all(v.tied for v in values)
    assert set(values[0].indistinguishable) == {"cern", "fnal", "desy"} - {values[0].group}
    assert all(v.total_gain_error is not None and v.total_gain_error > 0.01 for v in values if v.group != "cern")
    # The same gains on a million examples each are told apart.
    sharp = value_datasets(rows, list(sizes), test_examples={g: 10**7 for g in sizes})
    assert [(v.group, v.rank, v.tied) for v in sharp] == [("fnal", 1, False), ("desy", 2, False), ("cern", 3, False)]
    # Without sizes nothing is known of the noise: every difference ranks, as before.
    assert [v.rank for v in value_datasets(rows, list(sizes))] == [1, 2, 3]


def test_a_rank_counts_only_the_groups_clearly_above() -> None:
    """Not a chain of blocks: c is clearly below a, yet within the noise of b, and says so."""
    from learnledger.audit.valuation import GroupValue, _ranked

    values = [GroupValue("a", 1, 1, 1.0, 0.08, 0.08, total_gain_error=0.01),
              GroupValue("b", 1, 1, 1.0, 0.06, 0.06, total_gain_error=0.01),
              GroupValue("c", 1, 1, 1.0, 0.05, 0.05, total_gain_error=0.01)]
    ranked = {v.group: v for v in _ranked(values)}
    assert (ranked["a"].rank, ranked["b"].rank, ranked["c"].rank) == (1, 1, 2)
    assert ranked["a"].indistinguishable == ("b",) and ranked["c"].indistinguishable == ("b",)
    assert ranked["b"].indistinguishable == ("a", "c")


def test_one_voters_extreme_score_does_not_move_the_valuation() -> None:
    """Issue 15, finding 6: one voter colluding with fnal reported a test score of 9.2e12 and moved
    fnal to the top. The gain is now the median over the voters (an impossible score left out):
    fnal's gain stays within the honest voters' gains and desy, which brought more, stays first."""
    rows = [
        row(1, "cern", "accepted", {"fnal": 0.50, "desy": 0.52, "kek": 0.51, "lbl": 0.50}),
        row(2, "desy", "accepted", {"cern": 0.70, "fnal": 0.60, "kek": 0.62, "lbl": 0.61}),
        row(3, "fnal", "accepted", {"cern": 0.71, "desy": 0.70, "kek": 0.63, "lbl": 0.99}),  # lbl: +0.38
    ]
    values = {v.group: v for v in value_datasets(rows, ["cern", "fnal", "desy", "kek", "lbl"])}
    assert 0.01 <= values["fnal"].total_gain <= 0.01 + 1e-9  # median of +0.01, +0.01, +0.38
    for extreme in (9.2e12, 0.99):
        rows[2]["votes"]["lbl"]["test_score"] = extreme
        ranked = sorted(value_datasets(rows, ["cern", "fnal", "desy", "kek", "lbl"]), key=lambda v: v.rank)
        assert ranked[0].group == "desy"
    assert score_gain({"a": 0.8, "b": 0.7, "c": 9.2e12}, {"a": 0.6, "b": 0.6, "c": 0.6}) == pytest.approx(0.2)
