"""``statusOf``: the one-call view agents read before each step agrees with the separate views."""

from __future__ import annotations

import hashlib

from learnledger.ledger.api import LedgerStatus, RoundState
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.sandbox import embedded_experiment


def _separately(ledger: ContractLedger) -> LedgerStatus:
    round = ledger.current_round()
    state = ledger.round_state(round)
    proposer = None if state is RoundState.UNOPENED else ledger.proposer_of(round)
    return LedgerStatus(round, state, proposer, ledger.has_voted(round, ledger.account), ledger.is_finished())


def test_status_matches_the_separate_views_through_a_whole_experiment() -> None:
    sandbox = embedded_experiment(3, max_rounds=2)
    handles = [sandbox.ledger(member) for member in sandbox.members]
    seen = []
    for round in (1, 2):
        proposer = handles[0].proposer_of(round)
        for handle in handles:
            assert handle.status() == _separately(handle)
        sandbox.ledger(proposer).propose(round, hashlib.sha256(b"w%d" % round).digest(), f"cid-{round}")
        voters = [h for h in handles if h.account != proposer]
        voters[0].vote(round, True, 1, 1)
        for handle in handles:
            status = handle.status()
            assert status == _separately(handle)
            seen.append((status.state, status.voted))
        voters[1].vote(round, False, 1, 1)  # the last vote finalizes and opens the next round

    final = handles[0].status()
    assert final == _separately(handles[0])
    assert final.finished and final.state is RoundState.UNOPENED and final.proposer is None
    # Both voters and the proposer were seen mid-vote: voted flags differ by member.
    assert (RoundState.VOTING, True) in seen and (RoundState.VOTING, False) in seen
