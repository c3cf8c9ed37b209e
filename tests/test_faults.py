"""Faults on a real devnet: agents killed with SIGKILL and restarted, the chain itself restarted.

One experiment of three ``learnledger agent`` processes on anvil and a store server on loopback goes
through four faults, each set up by polling the chain (never by a sleep that races):

1. Round 1's proposer is frozen (SIGSTOP) before its proposal reaches the chain, then SIGKILLed and
   started again: it proposes after its restart.
2. A voter of round 2 is frozen as the round opens, SIGKILLed once the round waits only for
   its vote, and started again: it casts that vote after its restart.
3. Round 3's voters are frozen as it opens; once the proposal is on the chain, the store loses its
   content; thawed, both voters vote no with ``NO_SCORE`` and nothing crashes.
4. anvil is stopped (it saves its state) when round 4 opens, kept down until an agent has found it
   down, and started again from its ``--state`` file on the same port: the running agents reconnect
   and finish the experiment.

Then every agent exits cleanly, every round is final, and the audit (chain and store) finds nothing.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from learnledger.agents.experiment import Experiment
from learnledger.audit.run import audit
from learnledger.ledger.api import NO_SCORE, RoundState
from learnledger.ledger.chain import connect
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.devnet import Devnet, port_is_free
from learnledger.store.local import LocalStore
from learnledger.store.server import serve_in_thread
from tests.conftest import needs_anvil, tiny_experiment
from tests.processes import PATIENCE_S, AgentProcesses, deploy_experiment, wait_for

pytestmark = [
    pytest.mark.anvil,
    pytest.mark.slow,
    needs_anvil,
]

GROUPS = ("cern", "fnal", "desy")


def _sockets(port: int) -> str:
    """The sockets on ``port`` as ``ss`` lists them, to explain a port that stays taken."""
    if shutil.which("ss") is None:
        return "(ss is not installed here to list them)"
    listing = subprocess.run(["ss", "-tanp"], capture_output=True, text=True).stdout.splitlines()
    return "\n".join(line for line in listing if f":{port} " in line)


def test_killed_agents_a_lost_proposal_and_a_restarted_chain_still_finish_an_audited_experiment(tmp_path: Path) -> None:
    experiment_file = tiny_experiment(tmp_path, rounds=4)
    experiment = Experiment.load(experiment_file)
    assert experiment.groups == GROUPS
    store = LocalStore(tmp_path / "store")
    server, _ = serve_in_thread(store, "127.0.0.1", 0)
    state = tmp_path / "chain.json"
    devnet = Devnet(state=state, accounts=len(GROUPS) + 1).start()
    agents: AgentProcesses | None = None
    try:
        deployed = deploy_experiment(tmp_path, experiment_file, devnet, store)
        deployment, observer, address_of = deployed.deployment, deployed.observer, deployed.address_of
        agents = AgentProcesses(tmp_path, deployed.deployment_file, experiment_file, server.url, deployed.keys)
        for group in GROUPS:
            agents.start(group)

        # Fault 1: round 1's proposer dies before its proposal reaches the chain.
        proposer = deployed.proposer_of(1)
        agents.signal(proposer, signal.SIGSTOP)
        assert observer.proposal(1) is None, "frozen in time: it has not proposed yet"
        for group in GROUPS:
            if group != proposer:
                wait_for(lambda: agents.ready(group), f"agent {group} to start")
        assert observer.status().state is RoundState.PROPOSING
        agents.kill(proposer)
        agents.start(proposer)
        wait_for(lambda: observer.round_state(1).is_final, "round 1 to be finalized after the restart")
        assert observer.proposal(1).proposer.lower() == address_of[proposer].lower()

        # Fault 2: a voter of round 2 dies while the round waits only for its vote.
        wait_for(lambda: observer.status().round == 2, "round 2 to open")
        voters = deployed.voters_of(2)
        victim, other = voters
        agents.signal(victim, signal.SIGSTOP)
        assert not observer.has_voted(2, address_of[victim]), "frozen in time: it has not voted yet"
        wait_for(lambda: observer.has_voted(2, address_of[other]), f"{other}'s vote in round 2")
        assert observer.round_state(2) is RoundState.VOTING
        assert not observer.has_voted(2, address_of[victim])
        agents.kill(victim)
        agents.start(victim)
        wait_for(lambda: observer.round_state(2).is_final, "round 2 to be finalized after the restart")
        assert observer.has_voted(2, address_of[victim]), "the restarted voter cast its vote"

        # Fault 3: the store loses round 3's proposal before either voter could fetch it.
        wait_for(lambda: observer.status().round >= 3, "round 3 to open")
        voters = deployed.voters_of(3)
        for group in voters:
            agents.signal(group, signal.SIGSTOP)
        assert not any(observer.has_voted(3, address_of[g]) for g in voters)
        wait_for(lambda: observer.proposal(3) is not None, "round 3's proposal")
        lost = observer.proposal(3)
        content = store.get(lost.cid)
        store.remove(lost.cid, force=True)
        for group in voters:
            agents.signal(group, signal.SIGCONT)
        wait_for(lambda: observer.round_state(3).is_final, "round 3 to be decided without its weights")
        round_3 = observer.history()[2]
        assert round_3.state is RoundState.REJECTED
        assert [(v.approve, v.vote_score) for v in round_3.votes] == [(False, NO_SCORE)] * 2
        assert store.put(content) == lost.cid, "the content is restored, so the audit can check it"

        # Fault 4: the chain stops (saving its state) and comes back from its --state file.
        wait_for(lambda: observer.status().round >= 4, "round 4 to open")
        assert not observer.is_finished(), "round 4 is still to be played when the chain stops"
        devnet.stop()
        port = devnet.port
        # The chain stays down until an agent has found it down, so their reconnection is exercised.
        wait_for(lambda: any("Connection refused" in agents.output(g) for g in GROUPS),
                 "an agent to find the chain down")
        wait_for(lambda: port_is_free(port), lambda: f"port {port} to be released; its sockets:\n{_sockets(port)}",
                 timeout=30)
        devnet = Devnet(port=port, state=state, accounts=len(GROUPS) + 1).start()
        observer = ContractLedger(connect(devnet.rpc_url), deployment, devnet.accounts[-1][1])
        assert observer.current_round() >= 4, "the restarted chain kept the deployment and its rounds"
        assert [r.state.is_final for r in observer.history()[:3]] == [True] * 3

        wait_for(observer.is_finished, "the experiment to finish on the restarted chain")
        for group in GROUPS:
            assert agents.processes[group].wait(PATIENCE_S) == 0, agents.output(group)

        history = observer.history()
        assert [r.round for r in history] == [1, 2, 3, 4]
        assert all(r.state in (RoundState.ACCEPTED, RoundState.REJECTED) for r in history), history
        assert all(len(r.votes) == len(GROUPS) - 1 for r in history), "every voter voted once a round"
        report = audit(connect(devnet.rpc_url), deployment.address, deployment, store=store)
        assert report.ok, report.findings
        assert report.verified_files and report.verified_files >= 4
    finally:
        if agents is not None:
            agents.stop_all()
        devnet.stop()
        server.shutdown()
        server.server_close()
