"""Round actions sent without a simulation: the fixed gas limits cover every worst case, and a
refusal still names the contract's custom error, whether caught before sending or after a revert
on chain, down to the agent's log.

The chain is the embedded one (the contract on revm, every transaction signed and mined)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from learnledger.ledger.api import ContractRevert, RoundState
from learnledger.ledger.client import GAS_LIMITS, ContractLedger
from learnledger.ledger.sandbox import Sandbox, embedded_experiment

START = 4_000_000_000  # ahead of the wall clock: one second per block, exactly
CID_MAX = "b" * 128  # the longest CID the contract takes
CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"


def digest(n: int) -> bytes:
    return bytes([n % 251 + 1]) * 32


@contextmanager
def requests_seen(exp: Sandbox) -> Iterator[list[str]]:
    """The JSON-RPC methods the clients send to the embedded chain while inside."""
    from web3.middleware import Web3Middleware

    seen: list[str] = []

    class Recorder(Web3Middleware):
        def request_processor(self, method: Any, params: Any) -> Any:
            seen.append(str(method))
            return method, params

    onion = exp.chain.w3.middleware_onion
    onion.inject(Recorder, name="recorder", layer=0)
    try:
        yield seen
    finally:
        onion.remove("recorder")


def sent_after_status(exp: Sandbox, handle: ContractLedger, act: Callable[[], None]) -> tuple[int, list[str]]:
    """Read the status, then act; the gas the action used and the requests the action made."""
    handle.status()
    with requests_seen(exp) as seen:
        act()
    return handle.last_gas_used, seen


def test_every_worst_case_fits_its_fixed_gas_limit_and_is_sent_without_simulation() -> None:
    """Round 247 opens a fresh 247-round word of every member's ballot bits: the dearest votes.
    The proposal carries the longest CID allowed; the last vote finalizes and opens round 248."""
    exp = embedded_experiment(3, outsiders=0, proposal_window=1, vote_window=100, start_time=START)
    anyone = exp.ledger(exp.members[0])
    w3, contract = exp.chain.w3, anyone.contract
    for round_ in range(1, 247):  # skip rounds quickly: an empty block, then a plain finalize
        exp.chain.mine_blocks(1)
        w3.eth.send_transaction({"from": exp.members[0], "to": contract.address, "gas": 300_000,
                                 "data": contract.encode_abi("finalize", [round_])})
    assert anyone.current_round() == 247
    drawn = exp.ledger(anyone.proposer_of(247))
    voters = [exp.ledger(m) for m in exp.members if m != drawn.account]
    used: dict[str, list[int]] = {"propose": [], "vote": [], "finalize": []}
    for handle, act, kind in [
        (drawn, lambda: drawn.propose(247, digest(247), CID_MAX), "propose"),
        (voters[0], lambda: voters[0].vote(247, True, 1, 1), "vote"),  # first in a fresh word
        (voters[1], lambda: voters[1].vote(247, True, 1, 1), "vote"),  # ... and the last vote
    ]:
        gas, seen = sent_after_status(exp, handle, act)
        assert "eth_call" not in seen and "eth_estimateGas" not in seen, seen
        assert "eth_sendRawTransaction" in seen
        used[kind].append(gas)
    assert anyone.round_state(247) is RoundState.ACCEPTED and anyone.current_round() == 248
    # a round decided by its deadline with a vote missing, and a round with no proposal: finalize
    drawn = exp.ledger(anyone.proposer_of(248))
    drawn.propose(248, digest(248), CID)
    exp.chain.time_travel(101)
    used["finalize"].append(sent_after_status(exp, drawn, lambda: drawn.finalize(248))[0])
    exp.chain.time_travel(5)
    used["finalize"].append(sent_after_status(exp, drawn, lambda: drawn.finalize(249))[0])
    assert [anyone.round_state(r) for r in (248, 249)] == [RoundState.REJECTED, RoundState.SKIPPED]
    for kind, gases in used.items():
        # each limit leaves at least a fifth of itself to spare over the dearest case measured
        assert max(gases) <= 0.8 * GAS_LIMITS[kind], (kind, gases, GAS_LIMITS[kind])
    assert max(used["vote"]) > 80_000, "the last vote in a fresh word is the dearest case"


def test_an_action_without_a_fresh_status_is_simulated_and_refused_before_sending() -> None:
    exp = embedded_experiment(3, outsiders=0, start_time=START)
    reader = exp.ledger(exp.members[0])
    voter = exp.ledger(next(m for m in exp.members if m != reader.proposer_of(1)))
    nonce = exp.chain.w3.eth.get_transaction_count(voter.account)
    with requests_seen(exp) as seen, pytest.raises(ContractRevert) as refused:
        voter.vote(1, True, 1, 1)  # round 1 awaits its proposal
    assert refused.value.name == "RoundUnexpectedState"
    assert refused.value.args_[:2] == (1, RoundState.PROPOSING)
    assert "eth_sendRawTransaction" not in seen
    assert exp.chain.w3.eth.get_transaction_count(voter.account) == nonce, "nothing was sent"


def test_a_refusal_on_chain_after_a_fresh_status_is_named_by_replaying_it() -> None:
    """The status allowed the vote, then the same key voted elsewhere (another process holding it):
    the vote goes out unsimulated, reverts on chain, and the replay names the contract's error."""
    exp = embedded_experiment(3, outsiders=0, start_time=START)
    reader = exp.ledger(exp.members[0])
    drawn = exp.ledger(reader.proposer_of(1))
    drawn.propose(1, digest(1), CID)
    key = dict(exp.chain.accounts)[next(m for m in exp.members if m != drawn.account)]
    voter = ContractLedger(exp.chain.w3, exp.deployment, key)
    elsewhere = ContractLedger(exp.chain.w3, exp.deployment, key)
    assert voter.status().state is RoundState.VOTING
    elsewhere.vote(1, True, 1, 1)
    nonce = exp.chain.w3.eth.get_transaction_count(voter.account)
    with pytest.raises(ContractRevert) as refused:
        voter.vote(1, False, 2, 2)
    assert refused.value.name == "VoterAlreadyVoted"
    assert exp.chain.w3.eth.get_transaction_count(voter.account) == nonce + 1, "it was sent, and reverted"
    assert exp.chain.w3.eth.get_block("latest")["transactions"], "the reverted vote is in the chain"


class _RacingLearner:
    """A learner whose scoring lets ``race`` run first: what another process holding the same key
    (or this agent itself, acting twice in one step) might do between the status read and the vote."""

    def __init__(self, group: str, race: Callable[[], None]) -> None:
        self.group = group
        self._race = race

    def train(self, start: bytes, round: int) -> bytes:
        return start

    def score(self, weights: bytes) -> Any:
        from learnledger.agents.agent import Scores

        self._race()
        self._race = lambda: None
        return Scores(vote=0.5, test=0.5)

    def approves(self, candidate: Any, current: Any) -> bool:
        return True


@pytest.mark.parametrize("where", ["before sending", "on chain"])
def test_a_refused_vote_shows_the_contract_error_in_the_agents_log(
        where: str, caplog: pytest.LogCaptureFixture, tmp_path: Any) -> None:
    from learnledger.agents.agent import Agent
    from learnledger.runs.member import follow_many
    from learnledger.store.local import LocalStore

    exp = embedded_experiment(3, outsiders=0, start_time=START, max_rounds=1)
    store = LocalStore(tmp_path / "store")
    initial_cid = store.put(b"weights")
    reader = exp.ledger(exp.members[0])
    drawn = exp.ledger(reader.proposer_of(1))
    drawn.propose(1, digest(1), store.put(b"proposal"))
    member = next(m for m in exp.members if m != drawn.account)
    key = dict(exp.chain.accounts)[member]
    handle = ContractLedger(exp.chain.w3, exp.deployment, key)
    # on chain: the same key votes through another handle, leaving this handle's fresh status as it
    # was; before sending: this handle votes itself, using up the status it read
    racer = handle if where == "before sending" else ContractLedger(exp.chain.w3, exp.deployment, key)
    agent = Agent(_RacingLearner("racer", lambda: racer.vote(1, True, 1, 1)), handle, store, initial_cid)
    agent.shared_model = lambda: (handle.current_model(), b"weights")  # type: ignore[method-assign]
    nonce = exp.chain.w3.eth.get_transaction_count(member)
    stop_after_first_refusal = _StopOnWarning()
    logging.getLogger("learnledger.runs.member").addHandler(stop_after_first_refusal)
    try:
        with caplog.at_level(logging.WARNING, logger="learnledger.runs.member"):
            follow_many([agent], poll_s=0.01, stop=stop_after_first_refusal.stop, retry_limit_s=0.01)
    finally:
        logging.getLogger("learnledger.runs.member").removeHandler(stop_after_first_refusal)
    refusal = [r.getMessage() for r in caplog.records if "VoterAlreadyVoted" in r.getMessage()]
    assert refusal and refusal[0].startswith("racer: the contract refused: VoterAlreadyVoted"), caplog.text
    sent = exp.chain.w3.eth.get_transaction_count(member) - nonce
    assert sent == (1 if where == "before sending" else 2), "the refused vote was sent only when on chain"


class _StopOnWarning(logging.Handler):
    """Sets ``stop`` at the first warning, so the follow loop ends after logging one refusal."""

    def __init__(self) -> None:
        import threading

        super().__init__(logging.WARNING)
        self.stop = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.stop.set()
