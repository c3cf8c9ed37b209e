"""SIGKILL at each moment an agent can die in, and the experiment still completes and audits clean.

Three ``learnledger agent`` processes play four rounds on anvil, each talking to the chain through its
own relay (``tests/rpc_relay.py``), which can hold its transactions in flight. One agent dies in each
round, at a moment the test proves rather than guesses:

1. **While it trains its proposal**: it has printed that it trains round 1, its relay holds nothing
   (no transaction sent) and the store has no new object (its weights were never put).
2. **While its vote is in flight**: its relay holds its signed vote for round 2, unanswered. The
   vote is lost with it; restarted, it votes again.
3. **Between rounds**: it has voted in round 3 and is frozen before round 4 opens; it is killed once
   round 4 is open. Restarted, it does its part in round 4 and nothing twice in round 3.
4. **While its last vote is in flight, which then lands**: its relay holds its vote for round 4 and
   forwards it after the kill, as a slow network would. Restarted, it sees the vote on the chain and
   does not vote again (nor trip over its own nonce).

Training is made to last seconds (40 epochs), so the first kill lands inside it with room to spare;
the test checks that it did rather than assuming so.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import rlp

from learnledger.audit.run import audit
from learnledger.ledger.api import RoundState
from learnledger.ledger.chain import connect
from learnledger.ledger.devnet import Devnet
from learnledger.store.local import LocalStore
from learnledger.store.server import serve_in_thread
from tests.conftest import needs_anvil, tiny_experiment
from tests.processes import PATIENCE_S, AgentProcesses, DeployedExperiment, deploy_experiment, wait_for
from tests.rpc_relay import HeldTransaction, RpcRelay

pytestmark = [pytest.mark.anvil, pytest.mark.slow, needs_anvil]

ROUNDS = 4
EPOCHS = 40
"""About two seconds of training per proposal on this CPU: a wide window to kill a trainer in."""


def called(deployed: DeployedExperiment, held: HeldTransaction) -> tuple[str, dict[str, object]]:
    """The contract function and arguments a held transaction calls: EIP-1559 (type 2: 0x02, then
    [chainId, nonce, tip, feeCap, gas, to, value, data, ...]) or legacy ([nonce, gasPrice, gas, to,
    value, data, ...])."""
    raw = bytes.fromhex(held.raw.removeprefix("0x"))
    data = rlp.decode(raw[1:])[7] if raw[0] == 2 else rlp.decode(raw)[5]
    function, arguments = deployed.observer.contract.decode_function_input(data)
    return function.fn_name, arguments


def rounds_logged(agents: AgentProcesses, group: str) -> list[int]:
    """The rounds for which ``group``'s agents, across all their starts, logged their part."""
    path = agents.round_log(group)
    lines = path.read_text().splitlines() if path.exists() else []
    entries = [json.loads(line) for line in lines]
    return [entry["round"] for entry in entries if not entry.get("final")]  # the final line scores the end


def test_an_agent_killed_in_training_in_a_vote_in_flight_and_between_rounds_catches_up(tmp_path: Path) -> None:
    experiment_file = tiny_experiment(tmp_path, rounds=ROUNDS, epochs=EPOCHS)
    store = LocalStore(tmp_path / "store")
    server, _ = serve_in_thread(store, "127.0.0.1", 0)
    devnet = Devnet(accounts=4).start()
    relays: dict[str, RpcRelay] = {}
    agents: AgentProcesses | None = None
    try:
        deployed = deploy_experiment(tmp_path, experiment_file, devnet, store)
        observer = deployed.observer
        relays = {group: RpcRelay(devnet.rpc_url) for group in deployed.address_of}
        agents = AgentProcesses(tmp_path, deployed.deployment_file, experiment_file, server.url, deployed.keys,
                                rpc_urls={group: relay.url for group, relay in relays.items()})

        # 1. Round 1's proposer dies while it trains.
        trainer = deployed.proposer_of(1)
        relays[trainer].arm()
        stored_before = set(store.cids())
        for group in deployed.address_of:
            agents.start(group)
        wait_for(lambda: agents.printed(trainer, "trains its proposal for round 1"), f"{trainer} to start training")
        agents.kill(trainer)
        assert relays[trainer].held == [], "killed before it sent any transaction"
        assert set(store.cids()) == stored_before, "killed before it put its weights in the store"
        assert observer.proposal(1) is None
        relays[trainer].drop()  # disarm
        agents.start(trainer)
        wait_for(lambda: observer.round_state(1).is_final, "round 1 to be decided after the trainer's restart")
        assert deployed.group_of(observer.proposal(1).proposer) == trainer

        # 2. A voter of round 2 dies with its vote in flight; the vote is lost with it.
        wait_for(lambda: observer.status().round == 2, "round 2 to open")
        in_flight = deployed.voters_of(2)[0]
        relays[in_flight].arm()
        wait_for(lambda: relays[in_flight].held != [], f"{in_flight}'s vote in round 2 to be sent")
        function, arguments = called(deployed, relays[in_flight].held[0])
        assert (function, arguments["round"]) == ("vote", 2), "what it holds is its vote in round 2"
        agents.kill(in_flight)
        relays[in_flight].drop()
        assert not deployed.has_voted(2, in_flight), "the vote died with its sender"
        agents.start(in_flight)
        wait_for(lambda: observer.round_state(2).is_final, "round 2 to be decided after the voter's restart")
        assert deployed.has_voted(2, in_flight), "the restarted voter voted again"

        # 3. A voter of round 3 dies between rounds: after its vote, before round 4 opens.
        wait_for(lambda: observer.status().round == 3, "round 3 to open")
        idle, other = deployed.voters_of(3)
        agents.signal(other, signal.SIGSTOP)  # round 3 cannot close while `other` owes its vote
        wait_for(lambda: deployed.has_voted(3, idle), f"{idle}'s vote in round 3")
        # Its vote is on the chain before its own log says so: freeze it once both are done.
        wait_for(lambda: 3 in rounds_logged(agents, idle), f"{idle} to log its part in round 3")
        agents.signal(idle, signal.SIGSTOP)
        assert observer.round_state(3) is RoundState.VOTING, "frozen after its vote, before round 4"
        agents.signal(other, signal.SIGCONT)
        wait_for(lambda: observer.status().round == 4, "round 4 to open")
        agents.kill(idle)
        assert sorted(rounds_logged(agents, idle)) == [1, 2, 3]
        agents.start(idle)

        # 4. A voter of round 4 dies with its vote in flight; the vote lands after its death.
        late = next(group for group in deployed.voters_of(4) if group != idle)
        relays[late].arm()
        wait_for(lambda: relays[late].held != [] or deployed.has_voted(4, late), f"{late}'s vote in round 4 to be sent")
        assert relays[late].held, f"{late} voted in round 4 before its relay was armed"
        agents.kill(late)
        relays[late].forward()
        wait_for(lambda: deployed.has_voted(4, late), f"{late}'s forwarded vote to land")
        agents.start(late)

        wait_for(observer.is_finished, "the experiment to finish")
        for group in deployed.address_of:
            assert agents.processes[group].wait(PATIENCE_S) == 0, agents.output(group)

        history = observer.history()
        assert [r.round for r in history] == list(range(1, ROUNDS + 1))
        assert all(r.state in (RoundState.ACCEPTED, RoundState.REJECTED) for r in history), history
        assert all(len(r.votes) == 2 for r in history), "every voter voted exactly once a round"
        assert sorted(rounds_logged(agents, idle)) == [1, 2, 3, 4], "the restarted idle agent acted in round 4 only"
        assert not agents.printed(late, "scores round 4's proposal"), "the restarted voter saw its vote landed"
        report = audit(connect(devnet.rpc_url), deployed.deployment.address, deployed.deployment, store=store)
        assert report.ok, report.findings
    finally:
        if agents is not None:
            agents.stop_all()
        for relay in relays.values():
            relay.close()
        devnet.stop()
        server.shutdown()
        server.server_close()
