"""The attacks of issue 15 on ModelCompetition.sol, replayed on the embedded chain.

Each test plays the attack as the review did, through the ABI alone, and asserts it no longer
pays: finalize beyond a block (finding 1), one dishonest evaluator inflating an entry (2), a copied
entry (3), a withheld reveal (4) and a huge CID (7). docs/security.md names each test.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from learnledger.competition.api import NO_SCORE, EntryRecord, Phase, Reveal
from learnledger.competition.commitment import commitment, new_salt
from learnledger.competition.results import median, tally, winner
from learnledger.competition.sandbox import CompetitionSandbox, embedded_competition
from learnledger.ledger.api import ContractRevert

START = 4_000_000_000  # ahead of the wall clock: one second per block, exactly
WINDOW = 100
CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
HALF_A_BLOCK = 15_000_000
INT64_MAX = 2**63 - 1


def digest(n: int) -> bytes:
    return bytes([n % 251 + 1]) * 32


def refusal(call, *args) -> ContractRevert:  # type: ignore[no-untyped-def]
    with pytest.raises(ContractRevert) as caught:
        call(*args)
    return caught.value


def to_phase(comp: CompetitionSandbox, phase: Phase) -> None:
    deadlines = comp.client(comp.outsiders[0]).deadlines()
    comp.chain.advance_to(deadlines[int(phase) - 1] + 1)


def commit_all(comp: CompetitionSandbox, scores: dict[str, list[int]]) -> dict[str, bytes]:
    salts = {}
    for evaluator, row in scores.items():
        salts[evaluator] = new_salt()
        comp.client(evaluator).commit(commitment(row, salts[evaluator], evaluator))
    return salts


@pytest.fixture
def comp() -> CompetitionSandbox:
    """3 entrants, 3 evaluators of whom the first is also the last entrant (entry 2), one outsider."""
    return embedded_competition(3, 3, both=1, entry_window=WINDOW, commit_window=WINDOW,
                                reveal_window=WINDOW, start_time=START)


def enter_all(comp: CompetitionSandbox) -> None:
    for n, entrant in enumerate(comp.entrants):
        comp.client(entrant).enter(digest(n), CID, digest(100 + n), CID)


# ------------------------------------------------------------------------------------ finding 1


@pytest.mark.slow
@pytest.mark.parametrize("order", ["falling with the evaluator index", "random"])
def test_finalize_at_the_largest_roster_fits_in_half_a_block_whatever_the_score_order(order: str) -> None:
    """Finding 1: at 64 entrants x 64 evaluators finalize cost 60.5M gas when the scores fell with
    the evaluator index (34.2M at random), over a 30M block. It now checks the given medians in one
    pass: at most 15M gas, the same for every order."""
    comp = embedded_competition(64, 64, entry_window=10_000, commit_window=10_000, reveal_window=10_000,
                                start_time=START)
    enter_all(comp)
    to_phase(comp, Phase.Commit)
    draw = random.Random(7)
    rows = {}
    for i, evaluator in enumerate(comp.evaluators):
        if order == "random":
            rows[evaluator] = [draw.randint(0, 1_000_000) for _ in comp.entrants]
        else:
            rows[evaluator] = [1_000_000 - 10_000 * i - j for j in range(len(comp.entrants))]
    salts = commit_all(comp, rows)
    to_phase(comp, Phase.Reveal)
    for evaluator, row in rows.items():
        comp.client(evaluator).reveal(tuple(row), salts[evaluator])
    to_phase(comp, Phase.Closed)
    finalizer = comp.client(comp.outsiders[0])
    finalizer.finalize()
    print(f"finalize at 64 x 64, scores {order}: {finalizer.last_gas_used:,} gas")
    assert finalizer.phase() is Phase.Finalized
    assert finalizer.last_gas_used <= HALF_A_BLOCK
    expected = tally(finalizer.entries(), finalizer.reveals())
    assert finalizer.result_of(5) == (expected[5].median, 64)


# ------------------------------------------------------------------------------------ finding 2


def test_one_dishonest_evaluator_of_three_cannot_lift_an_entry(comp: CompetitionSandbox) -> None:
    """Finding 2: entry 2's entrant is also an evaluator, so the old rule left its entry two counted
    scores, whose mean a colluding evaluator lifted with int64.max (or 2,000,000 for an accuracy)
    to win. Now a score outside the metric's range is refused at reveal, the entrant's own score
    counts, and the lower median of three stays within the honest scores."""
    enter_all(comp)
    to_phase(comp, Phase.Commit)
    both, dishonest, honest = comp.evaluators
    rows = {both: [810_000, 300_000, 600_000], dishonest: [0, 300_000, 1_000_000],
            honest: [800_000, 300_000, 610_000]}
    salts = commit_all(comp, rows)
    to_phase(comp, Phase.Reveal)
    for evaluator, row in rows.items():
        comp.client(evaluator).reveal(tuple(row), salts[evaluator])
    to_phase(comp, Phase.Closed)
    reader = comp.client(comp.outsiders[0])
    reader.finalize()
    # Entry 2: scores 600k (own), 1,000,000 (dishonest), 610k (honest) -> 610k, inside [600k, 610k].
    # Entry 0: 810k, 0 (dishonest), 800k -> 800k, inside the honest [800k, 810k]: entry 0 wins.
    assert reader.result_of(2) == (610_000, 3) and reader.result_of(0) == (800_000, 3)
    assert reader.winner() == 0


def test_a_score_outside_the_metric_range_is_refused_at_reveal() -> None:
    """Finding 2: the review's int64.max and 2,000,000 (an accuracy of 2) cannot be revealed."""
    comp = embedded_competition(2, 1, entry_window=WINDOW, commit_window=WINDOW, reveal_window=WINDOW,
                                start_time=START)
    enter_all(comp)
    to_phase(comp, Phase.Commit)
    (evaluator,) = comp.evaluators
    row = [INT64_MAX, 2_000_000]
    salt = commit_all(comp, {evaluator: row})[evaluator]
    to_phase(comp, Phase.Reveal)
    refused = refusal(comp.client(evaluator).reveal, tuple(row), salt)
    assert (refused.name, refused.args_) == ("RevealScoreOutOfRange", (evaluator, 0, INT64_MAX, 0, 1_000_000))
    assert comp.client(evaluator).score_range() == (0, 1_000_000)


honest_score = st.integers(0, 1_000_000)
any_score = st.one_of(st.just(NO_SCORE), st.integers(0, 1_000_000), st.sampled_from([0, 1_000_000]))


@given(honest=st.lists(st.tuples(honest_score, honest_score), min_size=1, max_size=6), data=st.data())
def test_one_dishonest_score_of_three_never_leaves_the_honest_range(
    honest: list[tuple[int, int]], data: st.DataObject
) -> None:
    """Finding 2, for any table: with two honest evaluators and one dishonest one (which may also
    be the entrant, or abstain), every entry's result lies between its two honest scores."""
    entries = [EntryRecord(i, "0x" + "a" * 40, b"s" * 32, "s", bytes([i]) * 32, "w") for i in range(len(honest))]
    dishonest = [data.draw(any_score) for _ in honest]
    reveals = [Reveal("0x" + "b" * 40, tuple(h[0] for h in honest)),
               Reveal("0x" + "c" * 40, tuple(h[1] for h in honest)),
               Reveal("0x" + "a" * 40, tuple(dishonest))]
    for result, (first, second) in zip(tally(entries, reveals), honest):
        assert result.median is not None and min(first, second) <= result.median <= max(first, second)
    assert median([5, 1_000_000]) == 5  # two scores: the lower, so one of two cannot lift it


# ------------------------------------------------------------------------------------ finding 3


def test_a_copied_entry_is_refused(comp: CompetitionSandbox) -> None:
    """Finding 3: a copier re-submitted another entrant's weights digest and CID, and the copy then
    won the tie. A weights digest already entered is now refused, naming the original entry."""
    original = comp.client(comp.entrants[0])
    original.enter(digest(1), CID, digest(101), CID)
    copier = comp.client(comp.entrants[1])
    copied = refusal(copier.enter, digest(1), CID, digest(101), CID)
    assert (copied.name, copied.args_) == ("EntryDuplicate", (digest(101), 0))
    copier.enter(digest(1), CID, digest(102), CID)  # its own weights are welcome


# ------------------------------------------------------------------------------------ finding 4


def test_an_entrant_that_withholds_its_reveal_cannot_win(comp: CompetitionSandbox) -> None:
    """Finding 4: evaluator `both` (also entry 2's entrant) reads the others' reveals and sees that
    its own honest scores would make entry 0 win; withholding them lowers entry 0's median below
    entry 2's. That flipped the winner; now an entrant that withholds is disqualified."""
    enter_all(comp)
    to_phase(comp, Phase.Commit)
    both, second, third = comp.evaluators
    rows = {both: [700_000, 100_000, 650_000], second: [750_000, 100_000, 660_000],
            third: [500_000, 100_000, 680_000]}
    salts = commit_all(comp, rows)
    to_phase(comp, Phase.Reveal)
    for evaluator in (second, third):
        comp.client(evaluator).reveal(tuple(rows[evaluator]), salts[evaluator])
    # `both` computes both outcomes from the reveals so far, and withholds.
    entries = comp.client(both).entries()
    revealed = comp.client(both).reveals()
    with_mine = winner(tally(entries, [*revealed, Reveal(both, tuple(rows[both]))]))
    without = winner(tally(entries, revealed))
    assert with_mine is not None and with_mine.entry.index == 0
    assert without is not None and without.entry.index == 2  # what withholding would have bought
    to_phase(comp, Phase.Closed)
    reader = comp.client(comp.outsiders[0])
    reader.finalize()
    assert reader.winner() == 0
    assert reader.contract.functions.resultOf(2).call() == (660_000, 2, True)
    assert reader.audit().discarded == {both: "NotRevealed"}


# ------------------------------------------------------------------------------------ finding 7


def test_a_huge_cid_is_refused(comp: CompetitionSandbox) -> None:
    """Finding 7: a 1 MB "CID" was accepted; now either CID over 128 bytes is refused."""
    entrant = comp.client(comp.entrants[0])
    refused = refusal(entrant.enter, digest(1), CID, digest(2), "b" * 100_000)
    assert (refused.name, refused.args_) == ("EntryCidTooLong", (len(CID), 100_000, 128))
    assert refusal(entrant.enter, digest(1), "b" * 129, digest(2), CID).name == "EntryCidTooLong"
    entrant.enter(digest(1), "b" * 128, digest(2), CID)


# ------------------------------------------------------------------------------------ finding 9


@pytest.mark.parametrize("damage", ["truncated", "text", "wrong model"])
def test_weights_that_do_not_load_into_the_spec_model_are_not_entered(tmp_path, damage: str) -> None:  # type: ignore[no-untyped-def]
    """Finding 9: `compete enter` recorded a truncated safetensors file or a text file on-chain, and
    an entry cannot be taken back. submit_entry now loads the weights into the spec's model first."""
    from learnledger.agents.learner import initial_weights
    from learnledger.agents.models import ModelSpec
    from learnledger.competition.evaluator import submit_entry
    from learnledger.store.local import LocalStore
    from learnledger.store.tensors import WeightsError

    comp = embedded_competition(1, 1, start_time=START)
    spec = ModelSpec("mlp", (28, 28, 1), 10, seed=1)
    weights = initial_weights(spec)
    bad = {"truncated": weights[:-100], "text": b"not weights",
           "wrong model": initial_weights(ModelSpec("mnist_cnn", (28, 28, 1), 10, seed=1))}[damage]
    entrant = comp.client(comp.entrants[0])
    with pytest.raises(WeightsError):
        submit_entry(entrant, LocalStore(tmp_path / "store"), spec, bad)
    assert entrant.status().entry_count == 0
    assert submit_entry(entrant, LocalStore(tmp_path / "store"), spec, weights) == 0
