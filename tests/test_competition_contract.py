"""The rules of ModelCompetition.sol on the embedded chain: phases by the clock, every refusal,
commit-reveal, medians and the winner computed on-chain, and agreement with ``results``."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learnledger.competition.api import NO_SCORE, Phase, Reveal
from learnledger.competition.client import CompetitionParams, deploy_competition
from learnledger.competition.commitment import commitment, new_salt
from learnledger.competition.results import tally, winner
from learnledger.competition.sandbox import CompetitionSandbox, embedded_competition
from learnledger.ledger.api import ContractRevert
from learnledger.ledger.chain import EmbeddedChain

START = 4_000_000_000  # ahead of the wall clock: one second per block, exactly
WINDOW = 100
CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def digest(n: int) -> bytes:
    return bytes([n % 251 + 1]) * 32


def refusal(call, *args) -> ContractRevert:  # type: ignore[no-untyped-def]
    with pytest.raises(ContractRevert) as caught:
        call(*args)
    return caught.value


def phase_bit(*phases: Phase) -> bytes:
    return sum(1 << p for p in phases).to_bytes(32, "big")


@pytest.fixture
def comp() -> CompetitionSandbox:
    """3 entrants, 3 evaluators of whom the last is also the last entrant, one outsider."""
    return embedded_competition(3, 3, both=1, entry_window=WINDOW, commit_window=WINDOW,
                                reveal_window=WINDOW, start_time=START)


def enter_all(comp: CompetitionSandbox) -> None:
    for n, entrant in enumerate(comp.entrants):
        comp.client(entrant).enter(digest(n), CID, digest(100 + n), CID)


def to_phase(comp: CompetitionSandbox, phase: Phase) -> None:
    """Move the clock to the first second of ``phase``."""
    deadlines = comp.client(comp.outsiders[0]).deadlines()
    comp.chain.advance_to(deadlines[int(phase) - 1] + 1)


def commit_and_reveal(comp: CompetitionSandbox, scores: dict[str, list[int]]) -> None:
    salts = {}
    for evaluator, row in scores.items():
        salts[evaluator] = new_salt()
        comp.client(evaluator).commit(commitment(row, salts[evaluator], evaluator))
    to_phase(comp, Phase.Reveal)
    for evaluator, row in scores.items():
        comp.client(evaluator).reveal(tuple(row), salts[evaluator])


def test_deployment_fixes_rosters_and_deadlines(comp: CompetitionSandbox) -> None:
    reader = comp.client(comp.outsiders[0])
    assert reader.phase() is Phase.Entry
    functions = reader.contract.functions
    assert functions.entrants().call() == comp.entrants
    assert functions.evaluators().call() == comp.evaluators
    assert comp.evaluators[0] == comp.entrants[-1]  # one group is both
    deployed_at = comp.chain.w3.eth.get_block(comp.deployment.block)["timestamp"]
    assert reader.deadlines() == (deployed_at + WINDOW, deployed_at + 2 * WINDOW, deployed_at + 3 * WINDOW)
    assert reader.entries() == () and reader.winner() is None


@pytest.mark.parametrize(
    ("change", "error", "args"),
    [
        ({"entrants": (), "entrant_names": ()}, "CompetitionEntrantCountInvalid", (0, 64)),
        ({"evaluators": (), "evaluator_names": ()}, "CompetitionEvaluatorCountInvalid", (0, 64)),
        ({"entrant_names": ("a",)}, "CompetitionNamesMismatch", (2, 1)),
        ({"commit_window": 0}, "CompetitionWindowInvalid", (10, 0, 10)),
        ({"evaluators": ("A", "A")}, "CompetitionDuplicate", (True, 1, "A")),
        ({"entrants": ("0x" + "00" * 20, "A")}, "CompetitionZeroAddress", (False, 0)),
        ({"min_score": 5, "max_score": 5}, "CompetitionScoreRangeInvalid", (5, 5)),
        ({"min_score": -(2**63), "max_score": 0}, "CompetitionScoreRangeInvalid", (-(2**63), 0)),
    ],
)
def test_the_constructor_refuses_bad_terms(change: dict, error: str, args: tuple) -> None:  # type: ignore[type-arg]
    chain = EmbeddedChain(accounts=3, start_time=START)
    a, b, key = chain.accounts[0][0], chain.accounts[1][0], chain.accounts[2][1]
    swap = {"A": a}
    change = {k: tuple(swap.get(x, x) for x in v) if isinstance(v, tuple) else v for k, v in change.items()}
    fields = dict(task="t", metric="accuracy", entrants=(a, b), entrant_names=("a", "b"), evaluators=(a, b),
                  evaluator_names=("a", "b"), entry_window=10, commit_window=10, reveal_window=10)
    fields.update(change)
    refused = refusal(deploy_competition, chain.w3, key, CompetitionParams(**fields))
    assert refused.name == error
    assert refused.args_ == tuple(swap.get(x, x) if isinstance(x, str) else x for x in args)


def test_entries_are_numbered_in_order_with_their_cids(comp: CompetitionSandbox) -> None:
    first = comp.client(comp.entrants[1]).enter(digest(1), "spec-cid", digest(2), "weights-cid")
    second = comp.client(comp.entrants[0]).enter(digest(3), CID, digest(4), CID)
    assert (first, second) == (0, 1)
    entries = comp.client(comp.outsiders[0]).entries()
    assert [(e.index, e.entrant, e.spec_digest, e.spec_cid, e.weights_digest, e.weights_cid) for e in entries][0] == (
        0, comp.entrants[1], digest(1), "spec-cid", digest(2), "weights-cid")
    on_chain = comp.client(comp.outsiders[0]).contract.functions.entryAt(1).call()
    assert tuple(on_chain) == (comp.entrants[0], digest(3), digest(4))
    assert comp.client(comp.entrants[1]).status().entered


def test_entry_refusals(comp: CompetitionSandbox) -> None:
    entrant = comp.client(comp.entrants[0])
    assert refusal(comp.client(comp.outsiders[0]).enter, digest(1), CID, digest(2), CID).name == "EntrantUnknown"
    assert refusal(entrant.enter, bytes(32), CID, digest(2), CID).name == "EntryDigestEmpty"
    assert refusal(entrant.enter, digest(1), CID, digest(2), "").name == "EntryCidEmpty"
    entrant.enter(digest(1), CID, digest(2), CID)
    again = refusal(entrant.enter, digest(1), CID, digest(2), CID)
    assert (again.name, again.args_) == ("EntrantAlreadyEntered", (comp.entrants[0], 0))
    missing = refusal(comp.client(comp.outsiders[0])._view, "entryAt", 5)
    assert (missing.name, missing.args_) == ("EntryIndexOutOfRange", (5, 1))


def test_the_entry_deadline_is_inclusive(comp: CompetitionSandbox) -> None:
    entry_deadline = comp.client(comp.outsiders[0]).deadlines()[0]
    comp.chain.advance_to(entry_deadline)
    comp.client(comp.entrants[0]).enter(digest(1), CID, digest(2), CID)  # at the deadline: still open
    late = refusal(comp.client(comp.entrants[1]).enter, digest(1), CID, digest(2), CID)
    assert (late.name, late.args_) == ("CompetitionUnexpectedPhase", (Phase.Commit, phase_bit(Phase.Entry)))


def test_commit_refusals(comp: CompetitionSandbox) -> None:
    evaluator = comp.client(comp.evaluators[1])
    early = refusal(evaluator.commit, digest(9))
    assert (early.name, early.args_) == ("CompetitionUnexpectedPhase", (Phase.Entry, phase_bit(Phase.Commit)))
    to_phase(comp, Phase.Commit)
    assert refusal(comp.client(comp.entrants[0]).commit, digest(9)).name == "EvaluatorUnknown"
    assert refusal(evaluator.commit, bytes(32)).name == "CommitmentEmpty"
    evaluator.commit(digest(9))
    again = refusal(evaluator.commit, digest(8))
    assert (again.name, again.args_) == ("EvaluatorAlreadyCommitted", (comp.evaluators[1], digest(9)))
    assert evaluator.status().committed and not evaluator.status().revealed


def test_a_reveal_that_does_not_match_its_commit_is_refused(comp: CompetitionSandbox) -> None:
    enter_all(comp)
    to_phase(comp, Phase.Commit)
    who = comp.evaluators[1]
    evaluator = comp.client(who)
    salt = new_salt()
    committed = commitment([900_000, 800_000, 700_000], salt, who)
    evaluator.commit(committed)
    assert refusal(evaluator.reveal, (900_000, 800_000, 700_000), salt).name == "CompetitionUnexpectedPhase"
    to_phase(comp, Phase.Reveal)
    changed = refusal(evaluator.reveal, (900_000, 800_000, 700_001), salt)
    assert changed.name == "RevealMismatch"
    assert changed.args_ == (who, committed, commitment([900_000, 800_000, 700_001], salt, who))
    # Another evaluator cannot reveal a copy of the same scores under the first one's commitment.
    other = comp.evaluators[2]
    comp_other = comp.client(other)
    assert refusal(comp_other.reveal, (900_000, 800_000, 700_000), salt).name == "EvaluatorNotCommitted"
    assert refusal(evaluator.reveal, (900_000, 800_000), salt).name == "RevealScoreCountMismatch"
    assert refusal(evaluator.reveal, (900_000, 800_000, 700_000), new_salt()).name == "RevealMismatch"
    evaluator.reveal((900_000, 800_000, 700_000), salt)
    assert refusal(evaluator.reveal, (900_000, 800_000, 700_000), salt).name == "EvaluatorAlreadyRevealed"
    assert comp.client(comp.outsiders[0]).reveals() == (Reveal(who, (900_000, 800_000, 700_000)),)


def test_finalize_checks_lower_medians_counts_own_scores_and_discards_the_silent(comp: CompetitionSandbox) -> None:
    enter_all(comp)
    to_phase(comp, Phase.Commit)
    both, second, third = comp.evaluators  # `both` is also entrant 2
    # `third` commits but never reveals; `both` scores its own entry (2) high: it counts, one of two.
    comp.client(third).commit(digest(7))
    commit_and_reveal(comp, {both: [500_000, 700_000, 999_999], second: [600_000, NO_SCORE, 100_000]})
    reader = comp.client(comp.outsiders[0])
    assert refusal(reader.finalize).args_ == (Phase.Reveal, phase_bit(Phase.Closed))
    to_phase(comp, Phase.Closed)
    wrong = refusal(reader._send, "finalize", [550_000, 700_000, 100_000])  # the old mean of two
    assert (wrong.name, wrong.args_) == ("ResultMedianWrong", (0, 550_000, 1, 0, 2))
    short = refusal(reader._send, "finalize", [500_000])
    assert (short.name, short.args_) == ("ResultCountMismatch", (1, 3))
    reader.finalize()
    assert reader.phase() is Phase.Finalized
    assert [reader.result_of(i) for i in range(3)] == [(500_000, 2), (700_000, 1), (100_000, 2)]
    assert reader.winner() == 1
    audit = reader.audit()
    assert audit.discarded == {third: "NotRevealed"}
    assert audit.results == {0: (500_000, 2), 1: (700_000, 1), 2: (100_000, 2)}
    assert audit.winner == 1 and set(audit.commits) == {both, second, third}
    assert refusal(reader.finalize).args_ == (Phase.Finalized, phase_bit(Phase.Closed))


def test_ties_go_to_the_earlier_entry(comp: CompetitionSandbox) -> None:
    enter_all(comp)
    to_phase(comp, Phase.Commit)
    both, second, third = comp.evaluators
    # All three tie at 800_000; entry 2 has one score, entry 1 two: the earliest, entry 0, wins.
    commit_and_reveal(comp, {second: [800_000, 800_000, 800_000], third: [800_000, 800_000, NO_SCORE]})
    to_phase(comp, Phase.Closed)
    reader = comp.client(comp.outsiders[0])
    reader.finalize()
    assert reader.winner() == 0
    assert reader.audit().discarded == {both: "NotCommitted"}


def test_nobody_scoring_means_no_winner(comp: CompetitionSandbox) -> None:
    comp.client(comp.entrants[0]).enter(digest(1), CID, digest(2), CID)
    to_phase(comp, Phase.Closed)
    reader = comp.client(comp.outsiders[0])
    reader.finalize()
    assert reader.winner() is None and reader.result_of(0) == (0, 0)
    assert set(reader.audit().discarded.values()) == {"NotCommitted"}


scores = st.one_of(st.just(NO_SCORE), st.integers(0, 1_000_000), st.sampled_from([0, 500_000, 1_000_000]))


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_contract_and_the_python_mirror_agree(data: st.DataObject) -> None:
    """Random scores (with abstentions, own entries and withheld reveals): same medians, same winner."""
    comp = embedded_competition(3, 4, both=2, entry_window=WINDOW, commit_window=WINDOW,
                                reveal_window=WINDOW, start_time=START)
    enter_all(comp)
    to_phase(comp, Phase.Commit)
    table = {e: data.draw(st.lists(scores, min_size=3, max_size=3)) for e in comp.evaluators}
    revealing = {e: row for e, row in table.items() if data.draw(st.booleans())}
    withholding = [e for e in comp.evaluators if e not in revealing and data.draw(st.booleans())]
    for evaluator in withholding:
        comp.client(evaluator).commit(digest(9))
    if revealing:
        commit_and_reveal(comp, revealing)
    to_phase(comp, Phase.Closed)
    reader = comp.client(comp.outsiders[0])
    reader.finalize()
    mirror = tally(reader.entries(), reader.reveals(), reader.audit().withholders)
    assert [reader.result_of(r.entry.index) for r in mirror] == [(r.median or 0, r.score_count) for r in mirror]
    best = winner(mirror)
    assert reader.winner() == (best.entry.index if best else None)
