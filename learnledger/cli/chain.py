"""Commands of the chain family: ``learnledger devnet`` (a local chain) and ``learnledger deploy``.

The ledger modules (and web3 with them) are imported inside the commands, so the rest of the
CLI starts without them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer

from learnledger.cli.console import console, fail

PUBLIC_KEYS_WARNING = (
    "[bold yellow]PUBLIC devnet keys[/]: derived from anvil's public test mnemonic; anyone can "
    "spend from them. Never use them on a real network."
)


def register(app: typer.Typer) -> None:
    """Add this family's commands to the main app."""
    app.command("devnet")(devnet)
    app.command("deploy")(deploy_command)


def devnet(
    port: int = typer.Option(8545, "--port", help="Port on 127.0.0.1 to serve JSON-RPC on."),
    state: Optional[Path] = typer.Option(
        None, "--state", help="Load the chain from FILE if it exists; save it there while running "
        "and on exit."
    ),
    accounts: int = typer.Option(10, "--accounts", help="How many funded dev accounts."),
    block_time: Optional[float] = typer.Option(
        None, "--block-time", help="Seconds between blocks (default: mine each transaction at once)."
    ),
) -> None:
    """Run a local devnet (anvil) until Ctrl-C, and print its funded accounts."""
    from learnledger.ledger.api import LedgerError
    from learnledger.ledger.devnet import Devnet

    if accounts < 1:
        fail(f"--accounts must be at least 1; received: {accounts}")
    node = Devnet(port=port, state=state, accounts=accounts, block_time=block_time)
    try:
        node.start()
    except LedgerError as error:
        fail(str(error))
    console.print(f"devnet listening at [bold]{node.rpc_url}[/]" + (f", state in {state}" if state else ""))
    console.print(PUBLIC_KEYS_WARNING)
    for index, (address, key) in enumerate(node.accounts):
        console.print(f"  ({index}) {address}  {key}", soft_wrap=True)
    console.print("Ctrl-C stops it.")
    try:
        node.wait()
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()
    console.print("devnet stopped" + (f"; state saved to {state}" if state else ""))


def deploy_command(
    rpc: str = typer.Option(..., "--rpc", help="JSON-RPC URL of the chain, e.g. http://127.0.0.1:8545."),
    members: str = typer.Option(..., "--members", help="Member addresses, comma-separated (1 to 256)."),
    names: Optional[str] = typer.Option(
        None, "--names", help="Group names, comma-separated, one per member (default: group-1, group-2, ...)."
    ),
    threshold_bps: int = typer.Option(5000, "--threshold-bps", help="Approvals needed, in basis "
                                      "points of the eligible voters (5000 = half)."),
    proposal_window: int = typer.Option(3600, "--proposal-window", help="Seconds to propose."),
    vote_window: int = typer.Option(3600, "--vote-window", help="Seconds to vote."),
    max_rounds: int = typer.Option(0, "--max-rounds", help="Rounds before the experiment ends (0 = unlimited)."),
    spec_digest: Optional[str] = typer.Option(None, "--spec-digest", help="sha256 (hex) of the model spec."),
    spec_cid: str = typer.Option("", "--spec-cid", help="CID of the model spec."),
    initial_digest: Optional[str] = typer.Option(
        None, "--initial-digest", help="sha256 (hex) of the initial weights."
    ),
    initial_cid: str = typer.Option("", "--initial-cid", help="CID of the initial weights."),
    key: Optional[str] = typer.Option(None, "--key", help="Deployer's private key (hex)."),
    keyfile: Optional[Path] = typer.Option(None, "--keyfile", help="File holding the deployer's private "
                                           "key (hex; devnets only)."),
    keystore: Optional[Path] = typer.Option(None, "--keystore", help="The deployer's v3 keystore "
                                            "(`learnledger account new`)."),
    password_file: Optional[Path] = typer.Option(None, "--password-file", help="With --keystore: file "
                                                 "whose first line is its password (default: prompt)."),
    out: Path = typer.Option(Path("deployment.json"), "--out", help="Where to write the deployment record."),
    as_json: bool = typer.Option(False, "--json", help="Print the deployment record as JSON."),
    experiment: Optional[Path] = typer.Option(
        None, "--experiment", help="Take names, threshold, windows, rounds, the model spec and the "
        "initial weights from this experiment file (spec and weights are put in the store)."),
    ipfs: Optional[str] = typer.Option(None, "--ipfs", help="With --experiment: Kubo RPC URL of the "
                                       "store to put the spec and initial weights in."),
    store: Optional[Path] = typer.Option(None, "--store", help="With --experiment: embedded store "
                                         "folder (when no --ipfs)."),
) -> None:
    """Deploy an experiment's contract; print its address and write deployment.json."""
    from learnledger.ledger.api import LedgerError
    from learnledger.ledger.chain import connect
    from learnledger.ledger.deploy import deploy
    from learnledger.ledger.params import ExperimentParams
    from learnledger.ledger.sandbox import PLACEHOLDER_INITIAL_DIGEST, PLACEHOLDER_SPEC_DIGEST

    roster = parse_addresses(members)
    groups = split_list(names) if names is not None else [f"group-{i + 1}" for i in range(len(roster))]
    if len(groups) != len(roster):
        fail(f"--names gives {len(groups)} names for {len(roster)} members; give one per member")
    from learnledger.cli.account import resolve_key

    secret = resolve_key(key, keyfile, keystore, password_file, "the deployer's")
    placeholders = []
    if experiment is not None:
        params = _params_from_experiment(experiment, roster, ipfs, store)
    else:
        placeholders = [flag for flag, value in (("--spec-digest", spec_digest),
                                                 ("--initial-digest", initial_digest)) if value is None]
        params = ExperimentParams(
            members=tuple(roster),
            group_names=tuple(groups),
            spec_digest=parse_digest("--spec-digest", spec_digest) if spec_digest else PLACEHOLDER_SPEC_DIGEST,
            spec_cid=spec_cid,
            initial_digest=(
                parse_digest("--initial-digest", initial_digest) if initial_digest else PLACEHOLDER_INITIAL_DIGEST
            ),
            initial_cid=initial_cid,
            threshold_bps=threshold_bps,
            proposal_window=proposal_window,
            vote_window=vote_window,
            max_rounds=max_rounds,
        )
    try:
        w3 = connect(rpc)
        deployment = deploy(w3, secret, params, rpc_url=rpc)
        deployment.save(out)
    except LedgerError as error:
        fail(str(error))
    except OSError as error:
        fail(f"deployed, but cannot write {str(out)!r}: {error.strerror}; choose another --out")
    if as_json:
        console.print_json(deployment.to_json())
        return
    console.print(f"deployed at [bold]{deployment.address}[/] (chain {deployment.chain_id}, "
                  f"block {deployment.block}); record written to {out}", soft_wrap=True)
    if placeholders:
        console.print(f"note: no {' / '.join(placeholders)} given: placeholder digests were used")


def _params_from_experiment(path: Path, roster: list[str], ipfs: Optional[str], store_dir: Optional[Path]):
    """The constructor arguments an experiment file implies, its spec and initial weights stored."""
    from learnledger.agents.backend import BackendError, select_backend
    from learnledger.agents.experiment import Experiment, ExperimentError
    from learnledger.runs.embedded import experiment_params
    from learnledger.store.choose import open_store
    from learnledger.store.api import StoreError

    try:
        parsed = Experiment.load(path)
        select_backend(parsed.keras_backend)
    except (ExperimentError, BackendError) as error:
        fail(str(error), 2)
    if len(parsed.learners) != len(roster):
        fail(f"{path} has {len(parsed.learners)} learners but --members gives {len(roster)} addresses; "
             "give one address per learner, in the file's order")
    from learnledger.agents.learner import initial_weights

    try:
        target = open_store(ipfs, store_dir)
        spec_cid = target.put(parsed.spec.canonical_json())
        initial = initial_weights(parsed.spec)
        initial_cid = target.put(initial)
    except StoreError as error:
        fail(f"cannot store the model spec and initial weights: {error}")
    return experiment_params(parsed, roster, spec_cid, initial, initial_cid)


def split_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_addresses(text: str, option: str = "--members") -> list[str]:
    """Checksummed addresses from a comma-separated list; fail naming the first bad one."""
    from eth_utils import is_address, to_checksum_address

    items = split_list(text)
    if not items:
        fail(f"{option} is empty; give 1 to 256 comma-separated addresses")
    for item in items:
        if not is_address(item):
            fail(f"{option}: {item!r} is not an address (expected 0x and 40 hex digits)")
    return [to_checksum_address(item) for item in items]


def parse_digest(option: str, text: str) -> bytes:
    cleaned = text.removeprefix("0x")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", cleaned):
        fail(f"{option} must be a sha256 digest: 64 hex digits; received: {text!r}")
    return bytes.fromhex(cleaned)


def read_key(key: str | None, keyfile: Path | None, whose: str = "the deployer's") -> str:
    """A private key from --key or the first line of --keyfile (exactly one)."""
    if (key is None) == (keyfile is None):
        fail(f"give {whose} key with exactly one of --key HEX or --keyfile FILE")
    if keyfile is not None:
        try:
            text = keyfile.read_text().strip()
        except OSError as error:
            fail(f"cannot read --keyfile {str(keyfile)!r}: {error.strerror}")
        if text.startswith("{"):
            fail(f"--keyfile {str(keyfile)!r} looks like an encrypted keystore; give a file with the hex key")
        key = text.splitlines()[0].strip() if text else ""
    assert key is not None
    if not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", key):
        fail("the private key must be 64 hex digits (optionally 0x-prefixed)")
    return key

