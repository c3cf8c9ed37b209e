"""``learnledger launch --consortium``: an experiment on a geth Clique consortium, one node per lab.

As ``launch`` does on anvil, but the way a consortium runs: each group gets its own node (a Clique
signer), its own fresh key in an encrypted v3 keystore (password file beside it, mode 0600), and
funds in the genesis; each agent process talks only to its own group's node. Blocks come every
``period`` seconds, so every action waits for its block; the agents react to each new block.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from learnledger.agents.experiment import Experiment
from learnledger.runs.launch import (LaunchError, LaunchResult, _LabStores, _StoreServer, _stop, _watch,
                                     finish_launch, save_final_model)
from learnledger.runs.outputs import RunFolder

if TYPE_CHECKING:  # web3 is imported only once the consortium runs
    from learnledger.ledger.client import ContractLedger

AGENT_POLL_S = 2.0
"""The agents' fallback look at the chain; they step on every new block besides (member.BLOCK_CHECK_S)."""


def make_keystores(folder: Path, names: list[str]) -> dict[str, tuple[str, Path, Path]]:
    """A fresh account per name: (address, keystore, password file), all mode 0600 in ``folder``."""
    from learnledger.ledger.keys import new_keystore, write_private

    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for name in names:
        password = folder / f"{name}.password"
        if not password.exists():
            write_private(password, secrets.token_hex(16) + "\n")
        keystore = folder / f"{name}.json"
        if keystore.exists():
            from learnledger.ledger.keys import keystore_address

            address = keystore_address(keystore)
        else:
            address = new_keystore(keystore, password.read_text().splitlines()[0])
        made[name] = (address, keystore, password)
    return made


def launch_on_consortium(
    experiment: Experiment,
    out: Path,
    period: int = 2,
    timeout_s: float | None = None,
    on_round: Callable[[dict[str, object]], None] = lambda row: None,
    on_setup: Callable[[str], None] = lambda line: None,
    before_stop: Callable[[ContractLedger], None] = lambda observer: None,
    ipfs_per_lab: bool = False,
) -> LaunchResult:
    """Run ``experiment`` on a fresh consortium of one geth Clique node per group.

    ``before_stop`` is given an observer's ledger after the last round, while the chain still runs
    (the block benchmark reads the rounds' blocks there). With ``ipfs_per_lab`` each group also gets
    its own private kubo node, as in ``launch_experiment``: the whole consortium of DESIGN.md."""
    from learnledger.agents.learner import initial_weights
    from learnledger.ledger.chain import connect
    from learnledger.ledger.client import ContractLedger
    from learnledger.ledger.consortium import Consortium
    from learnledger.ledger.deploy import deploy
    from learnledger.ledger.keys import read_password_file, unlock_keystore
    from learnledger.runs.embedded import experiment_params
    from learnledger.store.local import LocalStore

    if experiment.path is None:
        raise LaunchError("launch needs the experiment as a file, so that agent processes can read it")
    started = time.perf_counter()
    folder = RunFolder.create(out)
    groups = list(experiment.groups)

    on_setup("making each group's keystore")
    keys = make_keystores(folder.path / "keys", [*groups, "deployer"])
    members = [keys[group][0] for group in groups]
    on_setup(f"starting {len(groups)} geth Clique nodes, a block every {period} s")
    consortium = Consortium(folder.path / "consortium", nodes=len(groups), period=period,
                            fund=[*members, keys["deployer"][0]], names=groups)
    stores = _LabStores(folder, groups) if ipfs_per_lab else _StoreServer(LocalStore(folder.store_dir))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        consortium.start()
        urls = consortium.rpc_urls
        with stores as ipfs_urls:
            store = stores.setup_store()
            on_setup("deploying the contract")
            deployer_key = unlock_keystore(keys["deployer"][1], read_password_file(keys["deployer"][2]))
            spec_cid = store.put(experiment.spec.canonical_json())
            initial = initial_weights(experiment.spec)
            params = experiment_params(experiment, members, spec_cid, initial, store.put(initial))
            w3 = connect(urls[0])
            deployment = deploy(w3, deployer_key, params, rpc_url=urls[0])
            deployment.save(folder.path / "deployment.json")
            observer = ContractLedger(w3, deployment, deployer_key)
            by_address = {address.lower(): group for group, address in zip(groups, members)}
            on_setup(f"starting {len(groups)} agent processes, each on its own group's node")
            processes = [_start_agent(folder, group, keys[group][1], keys[group][2], urls[k],
                                      experiment.path, ipfs_urls[group])
                         for k, group in enumerate(groups)]
            try:
                rows = _watch(observer, by_address, processes, folder, timeout_s, on_round)
            finally:
                _stop(processes)
            save_final_model(observer, store, folder)
            before_stop(observer)
    finally:
        consortium.stop()

    return finish_launch(experiment, folder, rows,
                         f"geth Clique consortium ({len(groups)} nodes, {period} s blocks)", started)


def _start_agent(folder: RunFolder, group: str, keystore: Path, password: Path, rpc_url: str,
                 experiment: Path, ipfs_url: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "learnledger.cli.main", "agent",
        "--deployment", str(folder.path / "deployment.json"),
        "--group", group, "--keystore", str(keystore), "--password-file", str(password),
        "--rpc", rpc_url, "--ipfs", ipfs_url, "--experiment", str(experiment),
        "--log", str(folder.path / "agents" / f"{group}.jsonl"),
        "--poll", str(AGENT_POLL_S), "--quiet",
    ]
    output = (folder.path / "agents" / f"{group}.log").open("w")
    return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=os.environ.copy())
