"""Commands of the chain family: ``learnledger devnet`` (a local chain) and ``learnledger deploy``.

The ledger modules (and web3 with them) are imported inside the commands, so the rest of the
CLI starts without them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

import typer

from learnledger.cli import checks
from learnledger.cli.console import INTERRUPTED, UNREACHABLE, console, fail, print_json, usage
from learnledger.cli.signals import stop_on_signals

PUBLIC_KEYS_WARNING = (
    "[bold yellow]PUBLIC devnet keys[/]: derived from anvil's public test mnemonic; anyone can "
    "spend from them. Never use them on a real network."
)


def register(app: typer.Typer) -> None:
    """Add this family's commands to the main app."""
    app.command("devnet")(devnet)
    app.command("deploy")(deploy_command)


def devnet(
    port: int = typer.Option(8545, "--port", help="Port on 127.0.0.1 to serve JSON-RPC on (0: a free one)."),
    state: Optional[Path] = typer.Option(
        None, "--state", help="Load the chain from FILE if it exists; save it there while running "
        "and on exit. Default: none (the chain is lost on exit)."
    ),
    accounts: Optional[int] = typer.Option(None, "--accounts", help="How many funded dev accounts. "
                                           "Default: 10, or with --experiment one per group and a deployer."),
    block_time: Optional[float] = typer.Option(
        None, "--block-time", help="Seconds between blocks. Default: mine each transaction at once."
    ),
    keys_dir: Optional[Path] = typer.Option(
        None, "--keys-dir", help="Write each account's PUBLIC dev key to DIR/<name>.key, and "
        "DIR/members.txt (group and address per line), for --keyfile and --members-file."),
    experiment: Optional[Path] = typer.Option(
        None, "--experiment", help="With --keys-dir: name the keys after this experiment's groups "
        "(its \\[\\[learners]], in order), then deployer.key; without it they are account-<i>.key."),
) -> None:
    """Run a local devnet (anvil) until Ctrl-C or SIGTERM, and print its funded accounts.

    It keeps this terminal: run the other steps in other terminals.
    """
    from learnledger.ledger.api import LedgerError
    from learnledger.ledger.devnet import Devnet

    checks.port("--port", port)
    checks.at_least("--accounts", accounts, 1)
    checks.above_zero("--block-time", block_time)
    checks.file_to_make("--state", state)
    checks.folder_to_make("--keys-dir", keys_dir)
    if experiment is not None and keys_dir is None:
        usage("--experiment names the key files: give --keys-dir DIR too")
    names = _key_names(experiment)
    if accounts is None:
        accounts = max(10, len(names))
    if len(names) > accounts:
        usage(f"{experiment} has {len(names) - 1} groups: --accounts must be at least {len(names)} "
              "(one per group and one to deploy)")
    node = Devnet(port=port, state=state, accounts=accounts, block_time=block_time)
    with stop_on_signals():
        try:
            node.start()
        except LedgerError as error:
            fail(str(error), UNREACHABLE)
        except KeyboardInterrupt:
            node.stop()
            fail("stopped while starting", INTERRUPTED)
        try:
            _announce(node, state, keys_dir, names)
            node.wait()
        except KeyboardInterrupt:
            pass
        finally:
            node.stop()
    console.print("devnet stopped" + (f"; state saved to {state}" if state else ""))


def _key_names(experiment: Path | None) -> list[str]:
    """The key files' names: the experiment's groups in roster order, then the deployer."""
    if experiment is None:
        return []
    from learnledger.agents.experiment import Experiment, ExperimentError

    try:
        parsed = Experiment.load(experiment)
    except ExperimentError as error:
        usage(str(error))
    return [*parsed.groups, "deployer"]


def _announce(node, state: Path | None, keys_dir: Path | None, names: list[str]) -> None:  # type: ignore[no-untyped-def]
    console.print(f"devnet listening at [bold]{node.rpc_url}[/]" + (f", state in {state}" if state else ""))
    console.print(PUBLIC_KEYS_WARNING)
    for index, (address, key) in enumerate(node.accounts):
        console.print(f"  ({index}) {address}  {key}", soft_wrap=True)
    if keys_dir is not None:
        written = write_dev_keys(keys_dir, node.accounts, names)
        console.print(f"wrote the PUBLIC dev keys to {keys_dir}/ ({', '.join(written)}) and "
                      f"{keys_dir / 'members.txt'}", soft_wrap=True)
    console.print("Ctrl-C (or SIGTERM) stops it" + (" and saves the chain." if state else "."))


def write_dev_keys(folder: Path, accounts: list[tuple[str, str]], names: list[str]) -> list[str]:
    """One key file per account (the key on the first line, a PUBLIC label on the second) and members.txt.

    ``names`` names the first accounts (the groups, then ``deployer``); the rest are ``account-<i>``.
    members.txt lists ``group address`` for the groups only (all accounts but the deployer when named).
    """
    folder.mkdir(parents=True, exist_ok=True)
    written, members = [], []
    for index, (address, key) in enumerate(accounts):
        name = names[index] if index < len(names) else f"account-{index}"
        path = folder / f"{name}.key"
        path.write_text(f"{key}\n# {DEV_KEY_LABEL} ({address})\n")
        path.chmod(0o600)
        written.append(path.name)
        if name != "deployer" and (not names or index < len(names)):
            members.append(f"{name} {address}")
    (folder / "members.txt").write_text(
        f"# group address, one per line ({DEV_KEY_LABEL})\n" + "".join(f"{line}\n" for line in members))
    return written


DEV_KEY_LABEL = "PUBLIC anvil devnet key from the well-known test mnemonic: never use it on a real network"


def deploy_command(
    ctx: typer.Context,
    rpc: str = typer.Option(..., "--rpc", help="JSON-RPC URL of the chain, e.g. http://127.0.0.1:8545."),
    members: Optional[str] = typer.Option(
        None, "--members", help="Member addresses, comma-separated (1 to 256), in the order of the "
        "experiment's \\[\\[learners]]. Or give --members-file."),
    members_file: Optional[Path] = typer.Option(
        None, "--members-file", help="Lines of 'group address' (as `devnet --keys-dir` writes): the "
        "roster is put in the experiment's \\[\\[learners]] order by group name."),
    names: Optional[str] = typer.Option(
        None, "--names", help="Group names, comma-separated, one per member (default: group-1, group-2, "
        "...; with --experiment: its groups)."
    ),
    threshold_bps: int = typer.Option(5000, "--threshold-bps", help="Approvals needed, in basis "
                                      "points of the eligible voters (5000 = half)."),
    proposal_window: int = typer.Option(3600, "--proposal-window", help="Seconds to propose."),
    vote_window: int = typer.Option(3600, "--vote-window", help="Seconds to vote."),
    reveal_window: int = typer.Option(0, "--reveal-window", help="Seconds to reveal sealed votes after "
                                      "the vote window; 0 = open votes (no commit-reveal)."),
    max_rounds: int = typer.Option(0, "--max-rounds", help="Rounds before the experiment ends (0 = unlimited)."),
    spec_digest: Optional[str] = typer.Option(None, "--spec-digest", help="Without --experiment: sha256 "
                                              "(hex) of the model spec."),
    spec_cid: str = typer.Option("", "--spec-cid", help="Without --experiment: CID of the model spec."),
    initial_digest: Optional[str] = typer.Option(
        None, "--initial-digest", help="Without --experiment: sha256 (hex) of the initial weights."
    ),
    initial_cid: str = typer.Option("", "--initial-cid", help="Without --experiment: CID of the initial weights."),
    key: Optional[str] = typer.Option(None, "--key", help="Deployer's private key (hex)."),
    keyfile: Optional[Path] = typer.Option(None, "--keyfile", help="File holding the deployer's private "
                                           "key (hex; devnets only)."),
    keystore: Optional[Path] = typer.Option(None, "--keystore", help="The deployer's v3 keystore "
                                            "(`learnledger account new`)."),
    password_file: Optional[Path] = typer.Option(None, "--password-file", help="With --keystore: file "
                                                 "whose first line is its password (default: prompt)."),
    out: Path = typer.Option(Path("deployment.json"), "--out", help="Where to write the deployment record."),
    as_json: bool = typer.Option(False, "--json", help="Print the deployment record as JSON on stdout."),
    experiment: Optional[Path] = typer.Option(
        None, "--experiment", help="Take names, threshold, windows, rounds, the model spec and the "
        "initial weights from this experiment file (spec and weights are put in the store)."),
    ipfs: Optional[str] = typer.Option(None, "--ipfs", help="With --experiment: Kubo RPC URL of the "
                                       "store to put the spec and initial weights in."),
    store: Optional[Path] = typer.Option(None, "--store", help="With --experiment: embedded store "
                                         "folder (when no --ipfs)."),
    successor_of: Optional[str] = typer.Option(
        None, "--successor-of", help="Deploy a successor of the experiment at this address: its "
        "terms and model spec, its current shared model as initial weights, the roster given "
        "(names default to the predecessor's for members it had). --threshold-bps, the windows "
        "(--reveal-window too) and --max-rounds, when given, replace its terms. Then `learnledger succession propose`."),
) -> None:
    """Deploy an experiment's contract; print its address and write deployment.json.

    Give --experiment FILE (the agents need its model spec and initial weights in the store), or,
    for a contract that agents will not run, both --spec-digest and --initial-digest, or
    --successor-of ADDRESS to take an experiment's terms and model over.
    """
    from learnledger.ledger.api import LedgerError
    from learnledger.ledger.deploy import deploy
    from learnledger.ledger.params import ExperimentParams

    checks.within("--threshold-bps", threshold_bps, 1, 10_000)
    checks.uint32("--proposal-window", proposal_window, minimum=1)
    checks.uint32("--vote-window", vote_window, minimum=1)
    checks.uint32("--reveal-window", reveal_window)
    checks.uint32("--max-rounds", max_rounds)
    checks.writable_file("--out", out)
    checks.existing_file("--experiment", experiment)
    checks.existing_file("--members-file", members_file)
    if successor_of is not None:
        if experiment is not None or spec_digest is not None or initial_digest is not None:
            usage("--successor-of takes the model spec and the initial weights from the predecessor; "
                  "leave out --experiment, --spec-digest and --initial-digest")
        given = {name: value for name, value in (("threshold_bps", threshold_bps),
                                                 ("proposal_window", proposal_window),
                                                 ("vote_window", vote_window), ("max_rounds", max_rounds),
                                                 ("reveal_window", reveal_window))
                 if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") != "DEFAULT"}
        _deploy_successor(rpc, successor_of, members, members_file, names, given,
                          (key, keyfile, keystore, password_file), out, as_json)
        return
    if experiment is None and (spec_digest is None or initial_digest is None):
        usage("give --experiment FILE (its model spec and initial weights are put in the store, where "
              "agents fetch them), or both --spec-digest and --initial-digest of a spec and weights "
              "already stored: a contract without them names no model the agents can use")
    parsed = _load_experiment(experiment) if experiment is not None else None
    roster, file_groups = _read_roster(members, members_file, parsed.groups if parsed else None, "the roster")
    if parsed is not None and len(parsed.learners) != len(roster):
        usage(f"{experiment} has {len(parsed.learners)} learners ({', '.join(parsed.groups)}) but the "
              f"roster gives {len(roster)} addresses; give one address per learner, in the file's order")
    groups = _group_names(names, file_groups, [f"group-{i + 1}" for i in range(len(roster))])
    from learnledger.cli.account import resolve_key

    secret = resolve_key(key, keyfile, keystore, password_file, "the deployer's")
    if parsed is not None:
        params = _params_from_experiment(parsed, roster, ipfs, store)
    else:
        params = ExperimentParams(
            members=tuple(roster),
            group_names=tuple(groups),
            spec_digest=parse_digest("--spec-digest", spec_digest),  # type: ignore[arg-type]
            spec_cid=spec_cid,
            initial_digest=parse_digest("--initial-digest", initial_digest),  # type: ignore[arg-type]
            initial_cid=initial_cid,
            threshold_bps=threshold_bps,
            proposal_window=proposal_window,
            vote_window=vote_window,
            max_rounds=max_rounds,
            reveal_window=reveal_window,
        )
    w3 = connect_or_exit(rpc)
    try:
        deployment = deploy(w3, secret, params, rpc_url=rpc)
    except LedgerError as error:
        fail(f"deploy refused: {error}")
    _record_deployment(deployment, out, as_json,
                       f"deployed at [bold]{deployment.address}[/] (chain {deployment.chain_id}, "
                       f"block {deployment.block}); record written to {out}")


def _deploy_successor(rpc: str, predecessor_address: str, members: str | None, members_file: Path | None,
                      names: str | None, terms: dict[str, int], keys: tuple, out: Path,  # type: ignore[type-arg]
                      as_json: bool) -> None:
    """``deploy --successor-of``: the predecessor's terms and model, the roster given."""
    from dataclasses import replace

    from eth_utils import is_address

    from learnledger.ledger.api import LedgerError
    from learnledger.ledger.deploy import deploy
    from learnledger.ledger.line import deployment_at, successor_params

    if not is_address(predecessor_address):
        usage(f"--successor-of must be the predecessor's contract address (0x and 40 hex digits); "
              f"received: {predecessor_address!r}")
    roster, file_groups = _read_roster(members, members_file, None, "the successor's roster")
    if not roster:
        usage("the successor's roster is empty; give at least one member")
    w3 = connect_or_exit(rpc)
    try:
        predecessor = deployment_at(w3, predecessor_address, rpc)
    except LedgerError as error:
        usage(f"--successor-of {predecessor_address}: {error}")
    if _successor_named(w3, predecessor.address):
        usage(f"the experiment at {predecessor.address} already has a successor; deploy a successor of "
              "the last experiment of its line")
    known = dict(zip(predecessor.params.members, predecessor.params.group_names))
    groups = _group_names(names, file_groups,
                          [known.get(address, f"group-{i + 1}") for i, address in enumerate(roster)])
    from learnledger.cli.account import resolve_key

    secret = resolve_key(*keys, "the deployer's")
    try:
        params = replace(successor_params(w3, predecessor, tuple(roster), tuple(groups)), **terms)
        deployment = deploy(w3, secret, params, rpc_url=rpc)
    except LedgerError as error:
        fail(f"deploy refused: {error}")
    _record_deployment(deployment, out, as_json,
                       f"deployed successor at [bold]{deployment.address}[/] of {predecessor.address} "
                       f"(chain {deployment.chain_id}, block {deployment.block}), starting from its shared "
                       f"model 0x{params.initial_digest.hex()}; record written to {out}")
    if not as_json:
        console.print(f"next: a member of {predecessor.address} runs `learnledger succession propose "
                      f"--successor {deployment.address}`", soft_wrap=True)


def _read_roster(members: str | None, members_file: Path | None, order: tuple[str, ...] | None,
                 whose: str) -> tuple[list[str], list[str] | None]:
    """(addresses, group names from --members-file or None) from exactly one of --members and
    --members-file (the file's lines put in ``order`` of group names when given); exit 2 otherwise."""
    if (members is None) == (members_file is None):
        usage(f"give {whose} with exactly one of --members 0xA,0xB,... or --members-file FILE")
    if members_file is not None:
        return read_members_file(members_file, order)
    assert members is not None
    return parse_addresses(members), None


def _group_names(names: str | None, file_groups: list[str] | None, defaults: list[str]) -> list[str]:
    """One group name per member: --names, else the members file's, else ``defaults``; exit 2 before
    any transaction on a count that does not match or a name the contract cannot keep in its word."""
    from learnledger.ledger.params import GROUP_NAME_BYTES

    groups = split_list(names) if names is not None else file_groups or defaults
    if len(groups) != len(defaults):
        usage(f"--names gives {len(groups)} names for {len(defaults)} members; give one per member")
    for group in groups:
        size = len(group.encode("utf-8"))
        if size > GROUP_NAME_BYTES or "\0" in group:
            usage(f"group name {group!r} is {size} bytes of UTF-8; the contract keeps a name in one word: "
                  f"give at most {GROUP_NAME_BYTES} bytes, without NUL")
    return groups


def _record_deployment(deployment, out: Path, as_json: bool, headline: str) -> None:  # type: ignore[no-untyped-def]
    """Writes the deployment record (a deployment that cannot be recorded is still announced, with
    its address, so nothing is lost) and reports it: JSON, or the headline and the roster."""
    try:
        deployment.save(out)
    except OSError as error:
        fail(f"deployed at {deployment.address}, but cannot write {str(out)!r}: {error.strerror}; "
             "choose another --out")
    if as_json:
        print_json(json.loads(deployment.to_json()))
        return
    params = deployment.params
    console.print(headline, soft_wrap=True)
    console.print("roster: " + ", ".join(f"{group} {address}" for group, address
                                         in zip(params.group_names, params.members)), soft_wrap=True)


def _successor_named(w3, address: str) -> bool:  # type: ignore[no-untyped-def]
    from learnledger.ledger.artifact import load_artifact

    found = w3.eth.contract(address=address, abi=load_artifact().abi).functions.successor().call()
    return int(found, 16) != 0


def connect_or_exit(rpc: str, timeout: float | None = None):  # type: ignore[no-untyped-def]
    """A Web3 connection to ``rpc``, or exit 2 saying no node answers there."""
    from learnledger.ledger.api import LedgerError
    from learnledger.ledger.chain import connect

    try:
        return connect(rpc) if timeout is None else connect(rpc, timeout=timeout)
    except LedgerError as error:
        fail(str(error), UNREACHABLE)


def open_deployment(deployment: Path, rpc: str | None):  # type: ignore[no-untyped-def]
    """(record, Web3) of the experiment whose deployment.json is ``deployment``, on ``rpc`` or the URL
    the record names; exit 2 saying what is missing when the record or a URL is not there."""
    from learnledger.ledger.api import LedgerError
    from learnledger.ledger.params import Deployment

    checks.existing_file("--deployment", deployment)
    try:
        record = Deployment.load(deployment)
    except LedgerError as error:
        usage(str(error))
    url = rpc or record.rpc_url
    if not url:
        usage(f"{deployment} names no RPC URL; pass --rpc URL")
    return record, connect_or_exit(url)


def read_members_file(path: Path, groups: tuple[str, ...] | None) -> tuple[list[str], list[str]]:
    """(addresses, group names) from lines of ``group address``; in ``groups``' order when given."""
    from eth_utils import is_address, to_checksum_address

    try:
        lines = [line.split() for line in path.read_text().splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as error:
        usage(f"cannot read --members-file {str(path)!r}: {error}")
    by_group: dict[str, str] = {}
    for number, fields in enumerate(lines, start=1):
        if len(fields) != 2 or not is_address(fields[1]):
            usage(f"--members-file {str(path)!r}: line {number} is {' '.join(fields)!r}; each line must be "
                  "'group 0xADDRESS'")
        by_group[fields[0]] = to_checksum_address(fields[1])
    if not by_group:
        usage(f"--members-file {str(path)!r} lists no members")
    if groups is None:
        return list(by_group.values()), list(by_group)
    missing = [group for group in groups if group not in by_group]
    if missing:
        usage(f"--members-file {str(path)!r} has no address for {', '.join(missing)} (the experiment's "
              f"groups are {', '.join(groups)})")
    return [by_group[group] for group in groups], list(groups)


def _load_experiment(path: Path):  # type: ignore[no-untyped-def]
    from learnledger.agents.backend import BackendError, select_backend
    from learnledger.agents.experiment import Experiment, ExperimentError

    try:
        parsed = Experiment.load(path)
        select_backend(parsed.keras_backend)
    except (ExperimentError, BackendError) as error:
        usage(str(error))
    return parsed


def _params_from_experiment(parsed, roster: list[str], ipfs: Optional[str], store_dir: Optional[Path]):  # type: ignore[no-untyped-def]
    """The constructor arguments an experiment implies, its spec and initial weights stored."""
    from learnledger.agents.learner import initial_weights
    from learnledger.runs.embedded import experiment_params
    from learnledger.store.api import StoreError, StoreUnreachable
    from learnledger.store.choose import open_store

    try:
        target = open_store(ipfs, store_dir)
        spec_cid = target.put(parsed.spec.canonical_json())
        initial = initial_weights(parsed.spec)
        initial_cid = target.put(initial)
    except StoreUnreachable as error:
        fail(f"cannot store the model spec and initial weights: {error}", UNREACHABLE)
    except (StoreError, ValueError) as error:
        fail(f"cannot store the model spec and initial weights: {error}")
    return experiment_params(parsed, roster, spec_cid, initial, initial_cid)


def split_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_addresses(text: str, option: str = "--members") -> list[str]:
    """Checksummed addresses from a comma-separated list; fail naming the first bad one."""
    from eth_utils import is_address, to_checksum_address

    items = split_list(text)
    if not items:
        usage(f"{option} is empty; give 1 to 256 comma-separated addresses")
    for item in items:
        if not is_address(item):
            usage(f"{option}: {item!r} is not an address (expected 0x and 40 hex digits)")
    return [to_checksum_address(item) for item in items]


def parse_digest(option: str, text: str) -> bytes:
    cleaned = text.removeprefix("0x")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", cleaned):
        usage(f"{option} must be a sha256 digest: 64 hex digits; received: {text!r}")
    return bytes.fromhex(cleaned)

