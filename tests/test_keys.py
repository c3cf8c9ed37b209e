"""Keys at rest: v3 keystores made, opened and refused; `account new`; deploy and agent flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from learnledger.cli.main import app
from learnledger.ledger.chain import connect
from learnledger.ledger.devnet import Devnet, devnet_accounts
from learnledger.ledger.keys import (
    KeystoreError,
    keystore_address,
    new_keystore,
    read_password_file,
    unlock_keystore,
)
from learnledger.ledger.params import Deployment
from tests.conftest import needs_anvil

runner = CliRunner()


def private_file(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_a_keystore_opens_with_its_password_and_names_itself_when_it_does_not(tmp_path: Path) -> None:
    from eth_account import Account

    path = tmp_path / "lab.json"
    address = new_keystore(path, "correct horse")
    assert path.stat().st_mode & 0o777 == 0o600
    data = json.loads(path.read_text())
    assert data["version"] == 3 and data["crypto"]["kdf"] == "scrypt"
    key = unlock_keystore(path, "correct horse")
    assert Account.from_key(key).address == address == keystore_address(path)
    assert key.removeprefix("0x") not in path.read_text()
    with pytest.raises(KeystoreError, match=f"does not open the keystore {path} \\(account {address}\\)"):
        unlock_keystore(path, "wrong")
    with pytest.raises(KeystoreError, match="never overwritten"):
        new_keystore(path, "other")
    assert unlock_keystore(path, "correct horse") == key  # the refused overwrite left it as it was


def test_bad_keystores_and_password_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="no keystore at"):
        unlock_keystore(tmp_path / "absent.json", "x")
    hexfile = private_file(tmp_path / "hex.key", "ab" * 32)
    with pytest.raises(KeystoreError, match="not a keystore.*--keyfile"):
        unlock_keystore(hexfile, "x")
    shared = tmp_path / "password"
    shared.write_text("secret\n")
    shared.chmod(0o644)
    with pytest.raises(KeystoreError, match="readable by other users: run `chmod 600"):
        read_password_file(shared)
    shared.chmod(0o600)
    assert read_password_file(shared) == "secret"
    with pytest.raises(KeystoreError, match="empty"):
        read_password_file(private_file(tmp_path / "empty", ""))


def test_account_new_prints_the_address_and_never_the_key(tmp_path: Path) -> None:
    password = private_file(tmp_path / "pw", "s3cret\n")
    keystore = tmp_path / "cern.json"
    result = runner.invoke(app, ["account", "new", "--keystore", str(keystore), "--password-file", str(password)])
    assert result.exit_code == 0, result.output
    address = keystore_address(keystore)
    assert address in result.output
    assert unlock_keystore(keystore, "s3cret").removeprefix("0x") not in result.output
    again = runner.invoke(app, ["account", "new", "--keystore", str(keystore), "--password-file", str(password)])
    assert again.exception.exit_code == 2 and "never overwritten" in str(again.exception)
    prompted = runner.invoke(app, ["account", "new", "--keystore", str(tmp_path / "b.json")], input="pw\npw\n")
    assert prompted.exit_code == 0 and unlock_keystore(tmp_path / "b.json", "pw")


@needs_anvil
def test_deploy_signs_from_a_keystore_and_refuses_a_wrong_password(tmp_path: Path) -> None:
    from eth_account import Account

    key = devnet_accounts(1)[0][1]
    keystore = tmp_path / "deployer.json"
    keystore.write_text(json.dumps(Account.encrypt(key, "pw")))
    keystore.chmod(0o600)
    good, bad = private_file(tmp_path / "good", "pw\n"), private_file(tmp_path / "bad", "nope\n")
    with Devnet(accounts=2) as node:
        members = ",".join(address for address, _ in node.accounts)
        common = ["deploy", "--rpc", node.rpc_url, "--members", members, "--keystore", str(keystore),
                  "--spec-digest", "11" * 32, "--initial-digest", "22" * 32]
        refused = runner.invoke(app, [*common, "--password-file", str(bad), "--out", str(tmp_path / "x.json")])
        assert refused.exception.exit_code == 2
        assert f"does not open the keystore {keystore}" in str(refused.exception)
        assert not (tmp_path / "x.json").exists()
        done = runner.invoke(app, [*common, "--password-file", str(good), "--out", str(tmp_path / "d.json")])
        assert done.exit_code == 0, done.output
        deployment = Deployment.load(tmp_path / "d.json")
        tx = connect(node.rpc_url).eth.get_transaction(deployment.tx_hash)
        assert tx["from"] == node.accounts[0][0]
        assert key.removeprefix("0x") not in done.output
        plain = private_file(tmp_path / "plain.key", key + "\n")
        plain.chmod(0o644)
        warned = runner.invoke(app, ["deploy", "--rpc", node.rpc_url, "--members", members, "--keyfile", str(plain),
                                     "--spec-digest", "11" * 32, "--initial-digest", "22" * 32,
                                     "--out", str(tmp_path / "p.json")])
        assert warned.exit_code == 0
        assert "plain, unencrypted key" in warned.output and "readable by other users" in warned.output
        assert key.removeprefix("0x") not in warned.output
