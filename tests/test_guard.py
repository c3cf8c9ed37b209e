"""Wrong-chain safety: a deployment record used against another chain or another contract is refused
by name before anything is sent; the audit and the agent refuse the same way."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from learnledger.cli.main import app
from learnledger.ledger.api import LedgerError
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.devnet import Devnet
from learnledger.ledger.guard import WrongChainError, check_funded, code_matches
from learnledger.ledger.sandbox import embedded_experiment
from tests.conftest import needs_anvil


def test_code_matches_allows_only_filled_immutables() -> None:
    artifact = bytes([0x60, 0x00, 0x00, 0x56])
    assert code_matches(bytes([0x60, 0x07, 0x09, 0x56]), artifact)  # zeros filled: immutables
    assert not code_matches(bytes([0x61, 0x00, 0x00, 0x56]), artifact)  # a real opcode differs
    assert not code_matches(artifact + b"\x00", artifact)


def test_the_deployed_contract_matches_its_artifact_and_other_records_are_refused() -> None:
    exp = embedded_experiment(3)
    key = exp.chain.accounts[0][1]
    ContractLedger(exp.chain.w3, exp.deployment, key)  # the true record: accepted
    actual = exp.chain.w3.eth.chain_id
    wrong_chain = dataclasses.replace(exp.deployment, chain_id=actual + 1)
    with pytest.raises(WrongChainError, match=f"serves chain id {actual}, but .* on chain id {actual + 1}"):
        ContractLedger(exp.chain.w3, wrong_chain, key)
    no_code = dataclasses.replace(exp.deployment, address=exp.outsiders[0])
    with pytest.raises(WrongChainError, match=f"no contract at {exp.outsiders[0]} on chain {actual}"):
        ContractLedger(exp.chain.w3, no_code, key)


def test_an_unfunded_member_is_named_with_what_to_do() -> None:
    exp = embedded_experiment(2)
    with pytest.raises(LedgerError, match="0x0000000000000000000000000000000000000001 holds no ether .*--fund"):
        check_funded(exp.chain.w3, "0x0000000000000000000000000000000000000001", "group x")
    check_funded(exp.chain.w3, exp.members[0])


@needs_anvil
def test_audit_and_agent_refuse_a_record_of_another_chain(tmp_path: Path) -> None:
    """A record of the embedded chain (its chain id) pointed at anvil (chain 31337)."""
    exp = embedded_experiment(2)
    with Devnet(accounts=2) as node:
        record = dataclasses.replace(exp.deployment, rpc_url=node.rpc_url)
        path = tmp_path / "deployment.json"
        record.save(path)
        runner = CliRunner()
        audit = runner.invoke(app, ["audit", "--deployment", str(path)])
        assert audit.exception is not None and audit.exception.exit_code == 2  # type: ignore[attr-defined]
        assert f"serves chain id 31337, but {path} was made on chain id {record.chain_id}" in str(audit.exception)
        keyfile = tmp_path / "k"
        keyfile.write_text(node.accounts[0][1])
        keyfile.chmod(0o600)
        agent = runner.invoke(app, ["agent", "--deployment", str(path), "--group", "g0", "--keyfile", str(keyfile)])
        assert agent.exception is not None and agent.exception.exit_code == 2  # type: ignore[attr-defined]
        assert "serves chain id 31337, but the deployment record was made on chain id" in str(agent.exception)


def test_a_competition_record_of_another_chain_or_contract_is_refused_by_name() -> None:
    from learnledger.competition.client import CompetitionClient
    from learnledger.competition.sandbox import embedded_competition

    comp = embedded_competition(2, 2)
    w3, key = comp.chain.w3, comp.chain.accounts[0][1]
    CompetitionClient(w3, comp.deployment, key)  # the true record: accepted
    actual = w3.eth.chain_id
    with pytest.raises(WrongChainError, match=f"serves chain id {actual}, but .* on chain id {actual + 1}"):
        CompetitionClient(w3, dataclasses.replace(comp.deployment, chain_id=actual + 1), key)
    elsewhere = comp.chain.accounts[-1][0]  # an account, not a contract
    with pytest.raises(WrongChainError, match=f"no contract at {elsewhere} .*the competition's contract"):
        CompetitionClient(w3, dataclasses.replace(comp.deployment, address=elsewhere), key)


def test_a_node_still_behind_the_deployment_block_is_waited_for() -> None:
    """An agent started on a consortium peer that has not yet received the deployment block (a
    launch found this race): its client waits for the block instead of refusing the record."""
    import threading
    import time

    import rlp
    from eth_utils import keccak, to_checksum_address

    from learnledger.ledger.deploy import deploy

    exp = embedded_experiment(3)
    w3 = exp.chain.w3
    deployer, key = exp.chain.accounts[0]
    nonce = w3.eth.get_transaction_count(deployer)
    address = to_checksum_address(keccak(rlp.encode([bytes.fromhex(deployer[2:]), nonce]))[12:])
    ahead = dataclasses.replace(exp.deployment, address=address, block=w3.eth.block_number + 2)
    outcome: dict[str, object] = {}

    def start_client() -> None:
        try:
            outcome["ledger"] = ContractLedger(w3, ahead, key)
        except Exception as error:  # the assertion below names it
            outcome["error"] = error

    client = threading.Thread(target=start_client)
    client.start()
    time.sleep(0.6)  # the client is waiting now; the "block" arrives
    exp.chain.mine_blocks(1)
    assert deploy(w3, key, exp.deployment.params).address == address
    client.join(timeout=30)
    assert "ledger" in outcome, outcome.get("error")


def test_a_node_behind_the_deployment_block_and_stalled_is_refused_saying_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from learnledger.ledger import guard

    monkeypatch.setattr(guard, "SYNC_STALL_S", 0.5)
    exp = embedded_experiment(2)
    behind = dataclasses.replace(exp.deployment, address=exp.outsiders[0], block=exp.chain.w3.eth.block_number + 50)
    with pytest.raises(WrongChainError, match="its newest block is .* before block .* and it stopped moving"):
        ContractLedger(exp.chain.w3, behind, exp.chain.accounts[0][1])


@needs_anvil
def test_a_wrong_chain_names_the_node_without_the_password_in_its_url() -> None:
    from learnledger.ledger.chain import connect
    from learnledger.ledger.guard import check_chain

    with Devnet(accounts=1) as devnet:
        w3 = connect(devnet.rpc_url.replace("http://", "http://lab:s3cret@"))  # anvil ignores the credentials
        with pytest.raises(WrongChainError, match="wrong chain") as refused:
            check_chain(w3, 999_999_999, "the deployment record")
        assert f"127.0.0.1:{devnet.port}" in str(refused.value) and "s3cret" not in str(refused.value)
