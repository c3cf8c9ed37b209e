"""The contract and the reference model agree on every state, outcome and refusal.

Hypothesis draws an experiment (1-4 members, threshold, windows, last round, open or sealed votes)
and a sequence of actions (propose, vote, commit, reveal (matching its commitment or not), finalize
by members, the proposer, or an outsider; time travel; succession: propose a faithful or a stale
successor, vote on it, finalize it). Each
action runs on the contract (embedded chain) and then on the reference, at the same block time; both
must succeed, or both refuse with the same custom error and data. After each step their views
agree, and at the end the contract's event history equals the reference's.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learnledger.ledger.api import ContractRevert, Ledger
from learnledger.ledger.reference import ReferenceLedger, SuccessorViews
from learnledger.ledger.sandbox import Sandbox, deploy_successor, embedded_experiment

START = 4_000_000_000

actor = st.one_of(st.just("proposer"), st.integers(0, 4))  # 4 = beyond the roster: an outsider
round_offset = st.sampled_from([0, 0, 0, -1, 1])
action = st.one_of(
    st.tuples(st.just("propose"), actor, round_offset, st.sampled_from(["ok", "ok", "ok", "zero", "nocid"])),
    st.tuples(
        st.just("vote"), actor, round_offset, st.booleans(), st.integers(-(2**63), 2**63 - 1)
    ),
    st.tuples(st.just("commit"), actor, round_offset, st.booleans(), st.integers(-1, 2 * 10**8)),
    st.tuples(st.just("reveal"), actor, round_offset, st.sampled_from(["same", "same", "same", "other"])),
    st.tuples(st.just("finalize"), actor, round_offset),
    st.tuples(st.just("travel"), st.sampled_from([1, 2, 3, 6])),
    st.tuples(st.just("succession"), actor, st.sampled_from(["propose", "stale", "yes", "no", "finalize"])),
)
experiment = st.fixed_dictionaries(
    {
        "members": st.integers(1, 4),
        "threshold_bps": st.sampled_from([1, 5000, 6667, 10_000]),
        "proposal_window": st.sampled_from([2, 5]),
        "vote_window": st.sampled_from([2, 5]),
        "max_rounds": st.sampled_from([0, 0, 2]),
        "reveal_window": st.sampled_from([0, 3, 3]),
    }
)


class Twins:
    """One experiment on both ledgers, driven in lockstep at the same clock."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        chain = sandbox.chain
        deployed_at = int(chain.w3.eth.get_block(sandbox.deployment.block)["timestamp"])
        self.now = deployed_at  # round 1 opened at deployment: start the reference there
        reader = sandbox.ledger(sandbox.outsiders[0])
        self.successors: dict[str, SuccessorViews] = {}
        self.reference = ReferenceLedger(
            sandbox.deployment.params, clock=lambda: self.now, proposer_source=reader.proposer_of,
            address=sandbox.deployment.address, successor_views=self.successors.get,
        )
        self.accounts = sandbox.members + sandbox.outsiders
        self.reader = reader
        self.sealed: dict[tuple[str, int], tuple[bool, int, int, bytes]] = {}
        """What each account committed in each round, to reveal it (or something else)."""

    def pair(self, who: Any) -> tuple[Ledger, Ledger]:
        if who == "proposer":
            round_ = self.reader.current_round()
            try:
                account = self.reader.proposer_of(round_)
            except ContractRevert:  # the experiment ended: no round is open
                account = self.accounts[0]
        elif isinstance(who, str):  # "voter0", "voter1": the members other than the round's proposer
            proposer = self.reader.proposer_of(self.reader.current_round())
            account = [m for m in self.sandbox.members if m != proposer][int(who.removeprefix("voter"))]
        else:
            account = self.accounts[min(who, len(self.accounts) - 1)]
        return self.sandbox.ledger(account), self.reference.as_member(account)

    def step(self, act: tuple[Any, ...]) -> None:
        kind = act[0]
        self.now = self.sandbox.chain.now()
        if kind == "travel":
            self.sandbox.chain.time_travel(act[1])
            self.now = self.sandbox.chain.now()
            return
        contract, reference = self.pair(act[1])
        if kind == "succession":
            self.succession_step(act[2], contract, reference)
            self.now = self.sandbox.chain.now()
            return
        round_ = max(0, self.reader.current_round() + act[2])
        if kind == "propose":
            digest = bytes(32) if act[3] == "zero" else bytes([round_ % 250 + 1]) * 32
            cid = "" if act[3] == "nocid" else f"cid-{round_}"
            self.both(lambda ledger: ledger.propose(round_, digest, cid), contract, reference)
        elif kind == "vote":
            approve, score = act[3], act[4]
            self.both(lambda ledger: ledger.vote(round_, approve, score, -score // 2), contract, reference)
        elif kind == "commit":
            vote = (act[3], act[4], act[4] // 3, bytes([round_ % 250, act[4] % 256]) * 16)
            self.sealed.setdefault((contract.account, round_), vote)  # the first is the one that counts
            self.both(lambda ledger: ledger.commit_vote(round_, *vote), contract, reference)
        elif kind == "reveal":
            vote = self.sealed.get((contract.account, round_), (True, 1, 1, bytes(32)))
            if act[3] == "other":
                vote = (not vote[0], *vote[1:])
            self.both(lambda ledger: ledger.reveal_vote(round_, *vote), contract, reference)
        else:
            self.both(lambda ledger: ledger.finalize(round_), contract, reference)
        self.now = self.sandbox.chain.now()

    def succession_step(self, op: str, contract: Any, reference: Any) -> None:
        if op in ("propose", "stale"):  # a successor from the model now, or from other weights
            model = self.reader.current_model().digest
            successor = deploy_successor(self.sandbox, self.sandbox.members,
                                         initial_digest=model if op == "propose" else b"\x07" * 32)
            address = successor.deployment.address
            self.successors[address] = SuccessorViews(self.sandbox.deployment.address,
                                                      successor.deployment.params.initial_digest, 1)
            self.now = self.sandbox.chain.now()
            self.both(lambda ledger: ledger.propose_successor(address), contract, reference)
        elif op in ("yes", "no"):
            self.both(lambda ledger: ledger.vote_succession(op == "yes"), contract, reference)
        else:
            self.both(lambda ledger: ledger.finalize_succession(), contract, reference)

    @staticmethod
    def both(action: Any, contract: Ledger, reference: Ledger) -> None:
        outcomes = []
        for ledger in (contract, reference):  # the contract first: it draws the next proposer
            try:
                action(ledger)
                outcomes.append(None)
            except ContractRevert as refusal:
                outcomes.append((refusal.name, refusal.args_))
        assert outcomes[0] == outcomes[1], f"contract {outcomes[0]} != reference {outcomes[1]}"

    def assert_same_views(self) -> None:
        ref = self.reference
        current = self.reader.current_round()
        assert current == ref.current_round()
        assert self.reader.is_finished() == ref.is_finished()
        assert self.reader.current_model() == ref.current_model()
        assert self.reader.succession() == ref.succession()
        assert self.reader.successor() == ref.successor()
        for round_ in {max(1, current - 1), current, current + 1}:
            assert self.reader.round_state(round_) == ref.state(round_), f"round {round_}"
            assert self.reader.contract.functions.deadlineOf(round_).call(
                block_identifier="pending"
            ) == ref.deadline_of(round_)
            for account in self.sandbox.members:
                assert self.reader.has_voted(round_, account) == ref.has_voted(round_, account)
                assert self.reader.commitment_of(round_, account) == ref.commitment_of(round_, account)


@pytest.mark.slow
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(terms=experiment, actions=st.lists(action, min_size=4, max_size=14))
def test_contract_and_reference_agree_step_by_step(terms: dict[str, int], actions: list[Any]) -> None:
    sandbox = embedded_experiment(
        terms["members"],
        outsiders=1,
        threshold_bps=terms["threshold_bps"],
        proposal_window=terms["proposal_window"],
        vote_window=terms["vote_window"],
        max_rounds=terms["max_rounds"],
        reveal_window=terms["reveal_window"],
        start_time=START,
    )
    twins = Twins(sandbox)
    for act in actions:
        twins.step(act)
        twins.assert_same_views()
    assert twins.reader.history() == twins.reference.history()


def test_a_scripted_round_agrees_including_the_history() -> None:
    """A deterministic companion to the random runs: propose, split votes, finalize on time."""
    sandbox = embedded_experiment(3, outsiders=1, proposal_window=5, vote_window=5, start_time=START)
    twins = Twins(sandbox)
    script = [
        ("vote", 0, 0, True, 1),  # before any proposal: refused by both
        ("propose", "proposer", 0, "ok"),
        ("vote", "proposer", 0, True, 5),  # the proposer: refused by both
        ("vote", 3, 0, True, 5),  # the outsider: refused by both
        ("travel", 6),
        ("vote", 0, 0, True, 5),  # too late: refused by both
        ("finalize", 3, 0),
        ("travel", 6),
        ("finalize", 1, 0),  # round 2 skipped
    ]
    for act in script:
        twins.step(act)
        twins.assert_same_views()
    history = twins.reader.history()
    assert history == twins.reference.history()
    assert [r.state.name for r in history] == ["REJECTED", "SKIPPED", "PROPOSING"]


def test_a_scripted_sealed_round_agrees_including_the_history() -> None:
    """Sealed votes, step by step: each refusal of a commit or reveal, and the decision on reveals."""
    sandbox = embedded_experiment(4, outsiders=1, proposal_window=5, vote_window=5, reveal_window=5,
                                  start_time=START)
    twins = Twins(sandbox)
    script = [
        ("propose", "proposer", 0, "ok"),
        ("vote", "voter0", 0, True, 5),  # open vote in a sealed experiment: VoteSealedOnly
        ("commit", "voter0", 0, True, 900_000),
        ("commit", "voter0", 0, False, 1),  # a second commitment: VoterAlreadyVoted
        ("commit", "proposer", 0, True, 1),  # VoterIsProposer
        ("reveal", "voter0", 0, "same"),  # still Voting: refused
        ("commit", "voter1", 0, False, 800_000),
        ("travel", 6),  # voter2 never commits: the vote deadline passes, reveals open
        ("commit", "voter2", 0, True, 1),  # too late to commit
        ("reveal", "voter0", 0, "other"),  # RevealMismatch
        ("reveal", "voter0", 0, "same"),
        ("reveal", "voter0", 0, "same"),  # RevealWithoutCommitment: revealed already
        ("travel", 6),
        ("reveal", "voter1", 0, "same"),  # after the reveal window: refused
        ("finalize", 4, 0),  # 1 approval of 3 eligible: rejected
    ]
    for act in script:
        twins.step(act)
        twins.assert_same_views()
    history = twins.reader.history()
    assert history == twins.reference.history()
    assert [r.state.name for r in history] == ["REJECTED", "PROPOSING"]
    assert [(v.approve, v.vote_score) for v in history[0].votes] == [(True, 900_000)]
