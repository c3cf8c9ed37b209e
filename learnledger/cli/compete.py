"""``learnledger compete``: a model competition, from deployment to the leaderboard.

deploy (the rosters and windows), enter (an entrant's model), evaluate (an evaluator's next step:
score and commit, reveal, or finalize), finalize (anyone, once the reveal window has closed) and
results (the leaderboard, with every evaluator's revealed scores, from the chain alone).
The ledger modules (and web3) are imported inside the commands.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Optional

import typer

from learnledger.cli import checks
from learnledger.cli.console import console, fail, print_json, usage

compete_app = typer.Typer(help="Compete models on one task; the best is chosen on-chain without a judge.",
                          no_args_is_help=True)

COMPETITION = typer.Option(Path("competition.json"), "--competition", help="The competition record "
                           "written by `compete deploy`.")
KEY = typer.Option(None, "--key", help="This group's private key (hex).")
KEYFILE = typer.Option(None, "--keyfile", help="File holding this group's private key (hex; devnets only).")
KEYSTORE = typer.Option(None, "--keystore", help="This group's v3 keystore (`learnledger account new`).")
PASSWORD_FILE = typer.Option(None, "--password-file", help="With --keystore: file whose first line is "
                             "its password (default: prompt).")
IPFS = typer.Option(None, "--ipfs", help="Kubo RPC URL of the store (default: the embedded store).")
STORE = typer.Option(None, "--store", help="Embedded store folder (when no --ipfs).")


READER_KEY = "0x" + "11" * 32
"""A throwaway key for commands that only read (results): it never signs anything."""


def register(app: typer.Typer) -> None:
    """Add this family's commands to the main app."""
    app.add_typer(compete_app, name="compete")


def _addresses(option: str, text: str) -> list[str]:
    from eth_utils import is_address, to_checksum_address

    from learnledger.cli.chain import split_list

    items = split_list(text)
    if not items:
        usage(f"{option} is empty; give 1 to 64 comma-separated addresses")
    for item in items:
        if not is_address(item):
            usage(f"{option}: {item!r} is not an address (expected 0x and 40 hex digits)")
    return [to_checksum_address(item) for item in items]


def _names(option: str, text: Optional[str], count: int, prefix: str) -> list[str]:
    from learnledger.cli.chain import split_list

    names = split_list(text) if text is not None else [f"{prefix}-{i + 1}" for i in range(count)]
    if len(names) != count:
        usage(f"{option} gives {len(names)} names for {count} addresses; give one per address")
    return names


def _client(competition: Path, key: Optional[str], keyfile: Optional[Path], rpc: Optional[str] = None,
            keystore: Optional[Path] = None, password_file: Optional[Path] = None) -> Any:
    """A CompetitionClient for the record's chain, signing with the given key."""
    from learnledger.cli.account import resolve_key
    from learnledger.cli.chain import connect_or_exit
    from learnledger.competition.client import CompetitionClient, CompetitionDeployment
    from learnledger.ledger.api import LedgerError

    try:
        deployment = CompetitionDeployment.load(competition)
    except LedgerError as error:
        usage(str(error))
    url = rpc or deployment.rpc_url
    if not url:
        usage(f"{competition} names no RPC URL; give --rpc")
    secret = (resolve_key(key, keyfile, keystore, password_file, "this group's")
              if (key or keyfile or keystore) else READER_KEY)
    try:
        return CompetitionClient(connect_or_exit(url), deployment, secret)
    except LedgerError as error:
        fail(str(error))


@compete_app.command("deploy")
def deploy_command(
    rpc: str = typer.Option(..., "--rpc", help="JSON-RPC URL of the chain, e.g. http://127.0.0.1:8545."),
    entrants: str = typer.Option(..., "--entrants", help="Entrant addresses, comma-separated (1 to 64)."),
    evaluators: str = typer.Option(..., "--evaluators", help="Evaluator addresses, comma-separated (1 to "
                                   "64); an address may also be an entrant."),
    entrant_names: Optional[str] = typer.Option(None, "--entrant-names", help="Group names of the entrants."),
    evaluator_names: Optional[str] = typer.Option(None, "--evaluator-names", help="Group names of the evaluators."),
    task: str = typer.Option("", "--task", help="What is competed on, in words (or a CID)."),
    metric: str = typer.Option("accuracy", "--metric", help="What evaluators report: accuracy or loss."),
    entry_window: int = typer.Option(3600, "--entry-window", help="Seconds from deployment to enter."),
    commit_window: int = typer.Option(3600, "--commit-window", help="Seconds after that to commit scores."),
    reveal_window: int = typer.Option(3600, "--reveal-window", help="Seconds after that to reveal them."),
    key: Optional[str] = KEY,
    keyfile: Optional[Path] = KEYFILE,
    keystore: Optional[Path] = KEYSTORE,
    password_file: Optional[Path] = PASSWORD_FILE,
    out: Path = typer.Option(Path("competition.json"), "--out", help="Where to write the competition record."),
) -> None:
    """Deploy a competition's contract and write competition.json."""
    from learnledger.agents.models import METRICS
    from learnledger.cli.account import resolve_key
    from learnledger.cli.chain import connect_or_exit
    from learnledger.competition.client import CompetitionParams, deploy_competition
    from learnledger.ledger.api import LedgerError

    if metric not in METRICS:
        usage(f"--metric must be one of {', '.join(METRICS)}; received: {metric!r}")
    for option, seconds in (("--entry-window", entry_window), ("--commit-window", commit_window),
                            ("--reveal-window", reveal_window)):
        checks.uint32(option, seconds, minimum=1)
    checks.writable_file("--out", out)
    entrant_list = _addresses("--entrants", entrants)
    evaluator_list = _addresses("--evaluators", evaluators)
    params = CompetitionParams(
        task=task, metric=metric,
        entrants=tuple(entrant_list),
        entrant_names=tuple(_names("--entrant-names", entrant_names, len(entrant_list), "entrant")),
        evaluators=tuple(evaluator_list),
        evaluator_names=tuple(_names("--evaluator-names", evaluator_names, len(evaluator_list), "evaluator")),
        entry_window=entry_window, commit_window=commit_window, reveal_window=reveal_window,
    )
    secret = resolve_key(key, keyfile, keystore, password_file, "the deployer's")
    w3 = connect_or_exit(rpc)
    try:
        deployment = deploy_competition(w3, secret, params, rpc_url=rpc)
    except LedgerError as error:
        fail(f"deploy refused: {error}")
    try:
        deployment.save(out)
    except OSError as error:
        fail(f"deployed at {deployment.address}, but cannot write {str(out)!r}: {error.strerror}; "
             "choose another --out")
    console.print(f"competition deployed at [bold]{deployment.address}[/] (block {deployment.block}); "
                  f"record written to {out}", soft_wrap=True)


@compete_app.command("enter")
def enter_command(
    spec: Path = typer.Option(..., "--spec", help="The model spec (JSON, as `ModelSpec.to_dict()`)."),
    weights: Path = typer.Option(..., "--weights", help="The trained weights (safetensors)."),
    competition: Path = COMPETITION,
    key: Optional[str] = KEY,
    keyfile: Optional[Path] = KEYFILE,
    keystore: Optional[Path] = KEYSTORE,
    password_file: Optional[Path] = PASSWORD_FILE,
    ipfs: Optional[str] = IPFS,
    store: Optional[Path] = STORE,
) -> None:
    """Enter a trained model: check that the weights load into the spec's model, store both, put
    their digests and CIDs on-chain (an entry cannot be taken back)."""
    from learnledger.agents.models import ModelSpec, SpecError
    from learnledger.competition.evaluator import check_entry, submit_entry
    from learnledger.ledger.api import LedgerError
    from learnledger.store.choose import open_store
    from learnledger.store.api import StoreError
    from learnledger.store.tensors import WeightsError

    try:
        parsed = ModelSpec.from_json(spec.read_bytes())
        weight_bytes = weights.read_bytes()
    except OSError as error:
        usage(f"cannot read {error.filename!r}: {error.strerror}")
    except SpecError as error:
        usage(f"--spec {str(spec)!r}: {error}")
    try:
        check_entry(parsed, weight_bytes)
    except WeightsError as error:
        usage(f"--weights {str(weights)!r} cannot be entered: {error}. Nothing was entered; "
              "save the trained model's weights as safetensors for this --spec and try again")
    client = _client(competition, key, keyfile, keystore=keystore, password_file=password_file)
    try:
        index = submit_entry(client, open_store(ipfs, store), parsed, weight_bytes)
    except (LedgerError, StoreError) as error:
        fail(str(error))
    digest = hashlib.sha256(weight_bytes).hexdigest()
    console.print(f"entered as entry {index}: {parsed.architecture}, weights sha256 {digest[:16]}...")


@compete_app.command("evaluate")
def evaluate_command(
    test: Path = typer.Option(..., "--test", help="Private test set: .npz with arrays x (uint8 images, "
                              "N x H x W x C) and y (integer labels)."),
    memo: Path = typer.Option(Path("evaluation.json"), "--memo", help="Where the scores and salt are kept "
                              "between commit and reveal (keep it until the reveal is done)."),
    competition: Path = COMPETITION,
    key: Optional[str] = KEY,
    keyfile: Optional[Path] = KEYFILE,
    keystore: Optional[Path] = KEYSTORE,
    password_file: Optional[Path] = PASSWORD_FILE,
    ipfs: Optional[str] = IPFS,
    store: Optional[Path] = STORE,
) -> None:
    """Do this evaluator's next step: score every entry and commit, or reveal, or finalize."""
    import numpy as np

    from learnledger.competition.evaluator import Evaluator, EvaluatorError
    from learnledger.data.api import Split
    from learnledger.ledger.api import LedgerError
    from learnledger.store.choose import open_store
    from learnledger.store.api import StoreError

    try:
        with np.load(test) as arrays:
            split = Split(np.asarray(arrays["x"]), np.asarray(arrays["y"]))
    except (OSError, KeyError, ValueError) as error:
        usage(f"--test {str(test)!r} is not an .npz with arrays x and y ({error})")
    if split.x.ndim == 3:
        split = Split(split.x[..., None], split.y)
    client = _client(competition, key, keyfile, keystore=keystore, password_file=password_file)
    try:
        evaluator = Evaluator(client, open_store(ipfs, store), split, memo_path=memo)
        done = evaluator.step()
    except (EvaluatorError, LedgerError, StoreError) as error:
        fail(str(error))
    for scored in evaluator.last_scores:
        console.print(f"  entry {scored.index}: {scored.score} ({scored.reason})")
    if done is None:
        status = client.status()
        left = client.seconds_until_deadline()
        console.print(f"nothing to do now: phase {status.phase.name}"
                      + (f", {left:.0f} s left in it" if left is not None and left > 0 else "")
                      + ("; already revealed" if status.revealed else ""))
    else:
        console.print(done)


@compete_app.command("finalize")
def finalize_command(
    competition: Path = COMPETITION,
    key: Optional[str] = KEY,
    keyfile: Optional[Path] = KEYFILE,
    keystore: Optional[Path] = KEYSTORE,
    password_file: Optional[Path] = PASSWORD_FILE,
) -> None:
    """Compute the medians and the winner on-chain (anyone, after the reveal window)."""
    from learnledger.ledger.api import LedgerError

    client = _client(competition, key, keyfile, keystore=keystore, password_file=password_file)
    try:
        client.finalize()
    except LedgerError as error:
        fail(f"finalize refused: {explain_refusal(error, client)}")
    winner = client.winner()
    console.print("finalized: " + (f"entry {winner} wins" if winner is not None else "no entry was scored"))


@compete_app.command("results")
def results_command(
    competition: Path = COMPETITION,
    rpc: Optional[str] = typer.Option(None, "--rpc", help="JSON-RPC URL (default: the record's)."),
    as_json: bool = typer.Option(False, "--json", help="Print the leaderboard as JSON on stdout."),
) -> None:
    """The leaderboard: each entry's median, rank and every evaluator's revealed score."""
    from learnledger.ledger.api import LedgerError

    client = _client(competition, None, None, rpc)
    try:
        board = leaderboard(client.audit())
    except LedgerError as error:
        fail(str(error))
    if as_json:
        print_json(board)
        return
    render_leaderboard(board)


def explain_refusal(error: Exception, client: Any) -> str:
    """A competition refusal in words: a phase error names the phases and the time left."""
    from learnledger.competition.api import Phase
    from learnledger.ledger.api import ContractRevert

    if not (isinstance(error, ContractRevert) and error.name == "CompetitionUnexpectedPhase"):
        return str(error)
    current, allowed = error.args_
    bits = int.from_bytes(allowed, "big") if isinstance(allowed, (bytes, bytearray)) else int(allowed)
    wanted = " or ".join(phase.name for phase in Phase if bits >> phase & 1)
    text = f"the competition is in its {Phase(current).name} phase; this needs {wanted}"
    try:
        left = client.seconds_until_deadline()
    except Exception:  # the explanation must not fail on a second read
        left = None
    if left is not None and left > 0:
        text += f"; the {Phase(current).name} phase ends in {left:.0f} s"
    return text + " (see `learnledger compete results` for where it stands)"


def leaderboard(audit: Any) -> dict[str, Any]:
    """The audit as plain data: per entry its standing and each evaluator's score (fetch, not draw)."""
    from learnledger.competition.api import NO_SCORE
    from learnledger.competition.results import can_win, ranking, tally

    params = audit.params
    entrant_names = dict(zip(params.entrants, params.entrant_names))
    evaluator_names = dict(zip(params.evaluators, params.evaluator_names))
    revealed = {r.evaluator: r.scores for r in audit.reveals}
    mirror = {r.entry.index: r for r in tally(audit.entries, audit.reveals, audit.withholders)}
    order = [r.entry.index for r in ranking(list(mirror.values()))]
    rows = []
    for rank, index in enumerate(order, start=1):
        entry = audit.entries[index]
        on_chain = audit.results.get(index)
        cells = {}
        for evaluator in params.evaluators:
            name = evaluator_names[evaluator]
            if evaluator not in revealed:
                cells[name] = audit.discarded.get(evaluator, "not revealed")
            elif revealed[evaluator][index] == NO_SCORE:
                cells[name] = "abstained"
            else:
                cells[name] = revealed[evaluator][index]
        rows.append({
            "rank": rank if can_win(mirror[index]) else None,
            "entry": index,
            "entrant": entrant_names.get(entry.entrant, entry.entrant),
            "median": on_chain[0] if on_chain else mirror[index].median,
            "scores_counted": on_chain[1] if on_chain else mirror[index].score_count,
            "final": on_chain is not None,
            "withheld": mirror[index].withheld,
            "weights_digest": "0x" + entry.weights_digest.hex(),
            "weights_cid": entry.weights_cid,
            "scores": cells,
        })
    return {"task": params.task, "metric": params.metric, "phase": audit.phase.name,
            "winner": audit.winner, "discarded": {evaluator_names.get(k, k): v for k, v in audit.discarded.items()},
            "entries": rows}


def render_leaderboard(board: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"{board['task'] or 'competition'} ({board['metric']} x 1e6), phase {board['phase']}")
    evaluators = list(board["entries"][0]["scores"]) if board["entries"] else []
    for column in ("rank", "entry", "entrant", "median", "n", *evaluators):
        table.add_column(column, justify="right" if column not in ("entrant",) else "left")
    for row in board["entries"]:
        winner = row["entry"] == board["winner"]
        table.add_row(
            str(row["rank"] or "-"), str(row["entry"]), row["entrant"] + (" (winner)" if winner else ""),
            "-" if row["median"] is None else str(row["median"]), str(row["scores_counted"]),
            *(str(row["scores"][e]) for e in evaluators),
        )
    console.print(table)
    if board["phase"] != "Finalized":
        console.print("not final: the medians are what the revealed scores give so far")
