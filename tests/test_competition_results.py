"""The pure parts: the commitment matches the contract's encoding, medians round as Solidity does,
the tie rule, and the evaluator's verification of each entry (on a real embedded competition)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from learnledger.agents.learner import initial_weights
from learnledger.agents.models import ModelSpec
from learnledger.competition.api import NO_SCORE, EntryRecord, Phase, Reveal
from learnledger.competition.commitment import commitment, new_salt
from learnledger.competition.evaluator import Evaluator, EvaluatorError, Memo, on_chain, submit_entry
from learnledger.competition.results import median, tally, winner
from learnledger.competition.sandbox import embedded_competition
from learnledger.data.api import Split
from learnledger.store.local import LocalStore

A, B, C = ("0x" + c * 40 for c in "abc")


def entry(index: int, entrant: str) -> EntryRecord:
    return EntryRecord(index, entrant, b"s" * 32, "spec", b"w" * 32, "weights")


def test_the_median_of_an_even_count_is_the_lower_middle_score() -> None:
    assert median([3, 1, 2]) == 2
    assert median([1, 2]) == 1 and median([-1, -2]) == -2 and median([-3, 4]) == -3
    assert median([4, 1, 3, 2]) == 2 and median([]) == 0


@given(st.lists(st.integers(-(2**63) + 1, 2**63 - 1), min_size=1, max_size=9))
def test_the_median_lies_between_the_extremes(scores: list[int]) -> None:
    assert min(scores) <= median(scores) <= max(scores)


def test_own_scores_count_abstentions_do_not_and_ties_go_to_the_earlier_entry() -> None:
    entries = [entry(0, A), entry(1, B), entry(2, C)]
    reveals = [Reveal(A, (1_000_000, 500, 500)), Reveal(B, (NO_SCORE, 900, 500)), Reveal(C, (700, 700, 1))]
    results = tally(entries, reveals)
    assert [(r.median, r.score_count) for r in results] == [(700, 2), (700, 3), (500, 3)]
    assert winner(results).entry.index == 0  # type: ignore[union-attr]  # tie at 700: the earlier
    tied = tally(entries[:2], [Reveal(C, (5, 5)), Reveal(A, (NO_SCORE, 5))])
    assert winner(tied).entry.index == 0  # type: ignore[union-attr]  # more scores do not break ties
    assert winner(tally(entries[:1], [])) is None


def test_an_entrant_that_withheld_its_reveal_cannot_win() -> None:
    entries = [entry(0, A), entry(1, B)]
    results = tally(entries, [Reveal(C, (900, 500))], withholders=[A])
    assert results[0].withheld and not results[1].withheld
    assert winner(results).entry.index == 1  # type: ignore[union-attr]


def test_a_reveal_of_the_wrong_length_is_named() -> None:
    with pytest.raises(ValueError, match="revealed 1 scores for 2 entries"):
        tally([entry(0, A), entry(1, B)], [Reveal(C, (1,))])


def test_the_commitment_binds_scores_salt_and_evaluator() -> None:
    salt = new_salt()
    base = commitment([1, NO_SCORE], salt, A)
    assert len(base) == 32 and base == commitment([1, NO_SCORE], salt, A.upper().replace("0X", "0x"))
    assert base != commitment([2, NO_SCORE], salt, A)
    assert base != commitment([1, NO_SCORE], new_salt(), A)
    assert base != commitment([1, NO_SCORE], salt, B)


@pytest.mark.parametrize(
    "args,message",
    [(([2**63], bytes(32), A), "scores\\[0\\]=9223372036854775808"), (([1], b"short", A), "32 bytes"),
     (([1], bytes(32), "0x12"), "evaluator='0x12'"), (([True], bytes(32), A), "scores\\[0\\]=True")],
)
def test_bad_commitment_input_is_named(args: tuple, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=message):
        commitment(*args)


def test_scores_on_chain_are_higher_is_better() -> None:
    assert on_chain("accuracy", 0.75) == 750_000 and on_chain("loss", 0.25) == -250_000


def test_the_evaluator_verifies_every_entry_and_survives_a_restart(tmp_path: Path) -> None:
    """Entries: a good one, one whose weights were swapped after entering, one whose bytes are
    missing, and the evaluator's own. Then a restarted evaluator reveals from its memo."""
    store = LocalStore(tmp_path / "store")
    comp = embedded_competition(4, 1, both=1, entry_window=100, commit_window=100, reveal_window=100,
                                start_time=4_000_000_000)
    spec = ModelSpec("mlp", (28, 28, 1), 10, seed=5)
    weights = initial_weights(spec)
    submit_entry(comp.client(comp.entrants[0]), store, spec, weights)
    spec_cid = store.put(spec.canonical_json())
    other = initial_weights(ModelSpec("mlp", (28, 28, 1), 10, seed=6))
    claimed = initial_weights(ModelSpec("mlp", (28, 28, 1), 10, seed=7))
    comp.client(comp.entrants[1]).enter(spec.digest(), spec_cid, hashlib.sha256(claimed).digest(), store.put(other))
    comp.client(comp.entrants[2]).enter(spec.digest(), spec_cid, b"\x01" * 32, "bafkreinotstoredanywhere")
    own = comp.entrants[3]
    submit_entry(comp.client(own), store, spec, other)
    rng = np.random.default_rng(0)
    test = Split(rng.integers(0, 255, (40, 28, 28, 1), dtype=np.uint8), rng.integers(0, 10, 40))
    memo = tmp_path / "memo.json"
    evaluator = Evaluator(comp.client(own), store, test, memo_path=memo)
    assert evaluator.step() is None  # still the Entry phase
    deadlines = comp.client(comp.outsiders[0]).deadlines()
    comp.chain.advance_to(deadlines[0] + 1)
    assert evaluator.step() == "committed to scores for 4 entries"
    reasons = [s.reason for s in evaluator.last_scores]
    assert reasons[0] == "scored" and reasons[1] == "weights bytes do not match the digest on-chain"
    assert reasons[2].startswith("unavailable: spec") or reasons[2].startswith("unavailable: weights")
    assert reasons[3] == "scored"  # its own entry, scored like any other
    scores = [s.score for s in evaluator.last_scores]
    assert scores[1] == 0 and scores[2] == NO_SCORE and 0 <= scores[0] <= 1_000_000 and 0 <= scores[3] <= 1_000_000
    assert Memo.load(memo).scores == tuple(scores)

    comp.chain.advance_to(deadlines[1] + 1)
    restarted = Evaluator(comp.client(own), store, test, memo_path=memo)
    assert restarted.step() == "revealed scores for 4 entries"
    assert comp.client(comp.outsiders[0]).reveals() == (Reveal(own, tuple(scores)),)
    comp.chain.advance_to(deadlines[2] + 1)
    assert restarted.step() == "finalized the competition"
    assert restarted.competition.status().phase is Phase.Finalized


def test_a_lost_memo_is_explained(tmp_path: Path) -> None:
    with pytest.raises(EvaluatorError, match="cannot reveal"):
        Memo.load(tmp_path / "gone.json")
