"""``learnledger audit``: rebuild, check and draw an experiment's whole history from the chain alone.

Exit status: 0 every check holds; 1 a check failed (each is printed); 2 the chain or the store
could not be reached, or the audit could not start (no such file, no RPC URL, a bad option value).

A run folder of ``learnledger launch`` keeps its devnet's state (chain.json): when the chain its
deployment.json names no longer answers, the audit brings that state back up on a local devnet.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from learnledger.cli import checks
from learnledger.cli.console import FAILED as CHECK_FAILED
from learnledger.cli.console import UNREACHABLE, console, err_console, fail, print_json, usage

CHAIN_STATE = "chain.json"
"""A launch folder's saved devnet state, beside its deployment.json (``runs.launch.CHAIN_STATE``)."""
REVIVE_PROBE_S = 2.0
"""How long to wait for the recorded chain before reviving a saved one instead."""


def register(app: typer.Typer) -> None:
    """Add this family's commands to the main app."""
    app.command("audit")(audit_command)


def audit_command(
    deployment: Optional[Path] = typer.Option(
        None, "--deployment", help="deployment.json of the experiment (from `learnledger deploy` or a run)."),
    rpc: Optional[str] = typer.Option(None, "--rpc", help="JSON-RPC URL of the chain (default: the "
                                      "deployment's rpc_url)."),
    address: Optional[str] = typer.Option(None, "--address", help="The contract's address (without --deployment)."),
    ipfs: Optional[str] = typer.Option(None, "--ipfs", help="Kubo RPC URL of an IPFS node holding the weights."),
    store_dir: Optional[Path] = typer.Option(
        None, "--store", help="A local store directory holding the weights (default with --verify: the "
        "store/ folder next to --deployment, if there is one)."),
    verify: bool = typer.Option(False, "--verify", help="Fetch every proposed and accepted weights file and "
                                "check its CID, sha256 digest and format."),
    jsonl_out: Optional[Path] = typer.Option(None, "--jsonl", help="Write one JSON line per round here."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict (checks, findings, valuation, "
                                 "evaluation) as one JSON document on stdout instead of the tables."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Draw the history (the paper's Figure 2) here (PNG)."),
    html_out: Optional[Path] = typer.Option(None, "--html", help="Write a self-contained HTML report here."),
    evaluate: Optional[Path] = typer.Option(
        None, "--evaluate", help="Score the final shared model on this data: a group's .npz or an experiment "
        ".toml (needs the store)."),
    from_block: Optional[int] = typer.Option(None, "--from-block", help="First block to read events from "
                                             "(default: the deployment block, else 0)."),
    to_block: Optional[int] = typer.Option(None, "--to-block", help="Last block to read events from "
                                           "(default: the latest). Events after it are not read, so the "
                                           "audit fails if the experiment went on."),
    confirmations: Optional[int] = typer.Option(
        None, "--confirmations", help="Audit only what is at least N blocks deep: events and the "
        "contract's state as of N blocks below the head (what a reorganisation could still change is "
        "left out)."),
    rows_shown: int = typer.Option(40, "--rows", help="Rounds the table shows (the last ones; 0 = all)."),
    experiment: Optional[Path] = typer.Option(
        None, "--experiment", help="The experiment file the contract was deployed from: the report then "
        "names the experiment, its model and data, gives the scores' statistical errors (test-set sizes) "
        "and, with the store, the initial weights' scores (round 0)."),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Write the experiment's outputs here, as `learnledger run` does: rounds.jsonl, "
        "history.png, summary.json, plus report.html."),
    line: bool = typer.Option(
        False, "--line", help="Audit the whole line of experiments this one belongs to (by succession), "
        "first to last: each experiment, every hand-over, and the rounds numbered continuously "
        "(--plot draws them all, the roster changes marked)."),
) -> None:
    """Rebuild every round from the chain's events and check it against the contract and the rules.

    A launch folder's chain is brought back up from its chain.json when it no longer runs.
    """
    checks.at_least("--rows", rows_shown, 0)
    checks.at_least("--from-block", from_block, 0)
    checks.at_least("--to-block", to_block, 0)
    checks.at_least("--confirmations", confirmations, 0)
    checks.existing_file("--evaluate", evaluate)
    for option, target in (("--jsonl", jsonl_out), ("--plot", plot), ("--html", html_out)):
        checks.writable_file(option, target)
    if out is not None and out.exists() and not out.is_dir():
        usage(f"--out {out} is a file; name a folder for the outputs")
    if experiment is not None and not experiment.is_file():
        usage(f"--experiment {experiment}: no such experiment file; pass the .toml the contract was deployed from")
    if line:
        given = [name for name, value in (("--from-block", from_block), ("--to-block", to_block),
                                          ("--confirmations", confirmations), ("--evaluate", evaluate),
                                          ("--html", html_out), ("--out", out)) if value is not None]
        if given:
            usage(f"--line audits every experiment whole; leave out {', '.join(given)}")
        with ExitStack() as resources:
            _audit_line(resources, deployment, rpc, address, ipfs, store_dir, verify, jsonl_out, as_json, plot,
                        experiment)
        return
    with ExitStack() as resources:
        _audit(resources, deployment, rpc, address, ipfs, store_dir, verify, jsonl_out, as_json, plot,
               html_out, evaluate, from_block, to_block, confirmations, rows_shown, experiment, out)


def _audit_line(resources: ExitStack, deployment: Optional[Path], rpc: Optional[str], address: Optional[str],
                ipfs: Optional[str], store_dir: Optional[Path], verify: bool, json_out: Optional[Path],
                as_json: bool, plot: Optional[Path], experiment: Optional[Path]) -> None:
    """``audit --line``: every experiment of the line, each hand-over, the continuous history."""
    from learnledger.audit.fetch import ChainUnreachable
    from learnledger.audit.line import audit_line
    from learnledger.audit.render import draw_history
    from learnledger.audit.terms import gather_terms
    from learnledger.ledger.api import LedgerError
    from learnledger.report.rounds import write_jsonl
    from learnledger.store.api import StoreUnreachable

    store = open_weight_store(ipfs, store_dir, deployment) if (verify or ipfs or store_dir) else None
    record, w3, contract = connect_contract(deployment, rpc, address, resources)
    say = (lambda text: err_console.print(f"[dim]{escape(text)}[/]")) if as_json else (
        lambda text: console.print(f"[dim]{escape(text)}[/]"))
    try:
        report = audit_line(w3, contract, store=store if verify else None, on_step=say)
    except LedgerError as error:
        fail(f"cannot follow the line of {contract}: {error}", UNREACHABLE)
    except ChainUnreachable as error:
        fail(f"the chain could not be reached: {error}", UNREACHABLE)
    except StoreUnreachable as error:
        fail(f"the store could not be reached: {error}", UNREACHABLE)
    rows = report.rows
    if json_out is not None:
        write_jsonl(json_out, rows)
    if plot is not None:
        terms = gather_terms(report.reports[-1], None, store, experiment, on_step=say).terms
        draw_history(rows, report.groups, plot, title=f"{terms.name or 'experiment'}: a line of "
                     f"{len(report.reports)} deployments", terms=terms,
                     marks=[(change.after_round + 0.5, change.label) for change in report.changes])
    verdict = {
        "ok": report.ok,
        "experiments": [{"address": r.address, "first_round": offset + 1, "rounds": len(r.rows),
                         "findings": len(r.findings)} for r, offset in zip(report.reports, report.offsets)],
        "handovers": [{"after_round": c.after_round, "successor": c.successor, "joined": list(c.joined),
                       "left": list(c.left)} for c in report.changes],
        "rounds": len(rows),
        "findings": [{"check": f.check, "round": f.round, "message": f.message} for f in report.findings],
    }
    if as_json:
        print_json(verdict)
    else:
        for entry in verdict["experiments"]:
            console.print(f"{entry['address']}: rounds {entry['first_round']}..{entry['first_round'] + entry['rounds'] - 1}"
                          f" of the line, {entry['findings']} findings", soft_wrap=True)
        for change in report.changes:
            console.print(f"hand-over after round {change.after_round} to {change.successor}: {change.label}",
                          soft_wrap=True)
        for finding in report.findings:
            console.print(f"[red]finding[/] {escape(finding.check)}: {escape(finding.message)}", soft_wrap=True)
        console.print(f"the line: {len(report.reports)} experiments, {len(rows)} rounds; "
                      + ("every check holds" if report.ok else f"{len(report.findings)} findings"))
    if not report.ok:
        raise typer.Exit(CHECK_FAILED)


def _audit(resources: ExitStack, deployment: Optional[Path], rpc: Optional[str], address: Optional[str],
           ipfs: Optional[str], store_dir: Optional[Path], verify: bool, json_out: Optional[Path],
           as_json: bool, plot: Optional[Path], html_out: Optional[Path], evaluate: Optional[Path],
           from_block: Optional[int], to_block: Optional[int], confirmations: Optional[int],
           rows_shown: int, experiment: Optional[Path], out: Optional[Path]) -> None:
    from learnledger.audit.evaluate import EvaluationError, evaluate_final_model
    from learnledger.audit.outputs import write_outputs
    from learnledger.audit.terms import gather_terms
    from learnledger.audit.fetch import ChainUnreachable
    from learnledger.audit.render import (
        draw_history,
        html_report,
        rounds_table,
        valuation_png,
        valuation_table,
    )
    from learnledger.audit.run import AuditInputError, audit
    from learnledger.audit.valuation import value_datasets
    from learnledger.report.rounds import write_jsonl
    from learnledger.store.api import StoreUnreachable

    store = open_weight_store(ipfs, store_dir, deployment) if (verify or evaluate or ipfs or store_dir) else None
    if evaluate is not None and store is None:
        usage("--evaluate needs the weights: pass --store DIR or --ipfs URL")
    record, w3, contract = connect_contract(deployment, rpc, address, resources)
    try:
        report = audit(w3, contract, record, store=store if verify else None,
                       from_block=from_block, to_block=to_block, confirmations=confirmations)
    except AuditInputError as error:
        fail(str(error), UNREACHABLE)
    except ChainUnreachable as error:
        fail(f"the chain could not be reached: {error}", UNREACHABLE)
    except StoreUnreachable as error:
        fail(f"the store could not be reached: {error}", UNREACHABLE)

    say = (lambda line: err_console.print(f"[dim]{escape(line)}[/]")) if as_json else (
        lambda line: console.print(f"[dim]{escape(line)}[/]"))
    try:
        gathered = gather_terms(report, deployment, store, experiment, on_step=say)
    except EvaluationError as error:
        fail(str(error), UNREACHABLE)
    except StoreUnreachable as error:
        fail(f"the store could not be reached: {error}", UNREACHABLE)
    terms = gathered.terms

    values = value_datasets(report.rows, report.groups, higher_is_better=terms.metric != "loss",
                            test_examples=terms.test_examples if terms.has_errors else None)
    if not as_json:
        console.print(rounds_table(report, rows_shown, terms))
        if values:
            console.print(valuation_table(values))
    evaluation = None
    if evaluate is not None and store is not None:
        try:
            metric, evaluation = evaluate_final_model(report, store, evaluate)
        except EvaluationError as error:
            fail(str(error), CHECK_FAILED)
        except StoreUnreachable as error:
            fail(f"the store could not be reached: {error}", UNREACHABLE)
        for name, scores in evaluation.items():
            if not as_json:
                console.print(f"final model on {name}: {metric} vote {scores['vote']:.4f}, "
                              f"test {scores['test']:.4f}")

    if json_out is not None:
        write_jsonl(json_out, report.rows)
        if not as_json:
            console.print(f"wrote {len(report.rows)} rounds to {json_out}")
    title = terms.name or f"experiment {report.address[:10]}…"
    history_png: bytes | None = None
    wants_page = html_out is not None or out is not None
    if (plot is not None or wants_page) and report.rows:
        target = plot if plot is not None else (out or html_out.parent) / ".history.png.partial"  # type: ignore[union-attr]
        draw_history(report.rows, report.groups, target, title, terms, gathered.final_test_scores or None)
        history_png = target.read_bytes()
        if plot is None:
            target.unlink()
        elif not as_json:
            console.print(f"drew the history to {plot}")
    if wants_page:
        images = {}
        if history_png is not None:
            images["Figure 2: each voter's test and vote scores of every round's proposal, their mean, the "
                   "shared model's mean, and the vote grid"] = history_png
        if values:
            images["Proposals per group: accepted and not accepted"] = valuation_png(values)
        page = html_report(report, values, images, evaluation, terms, gathered.final_test_scores or None)
        if html_out is not None:
            html_out.write_text(page, encoding="utf-8")
            if not as_json:
                console.print(f"wrote the report to {html_out}")
        if out is not None:
            try:
                written = write_outputs(report, gathered, out, page, history_png)
            except NotADirectoryError as error:
                usage(str(error))
            if not as_json:
                console.print(f"wrote {', '.join(p.name for p in written)} to {out}")

    if as_json:
        print_json(_verdict(report, values, evaluation))
        if not report.ok:
            raise typer.Exit(CHECK_FAILED)
        return
    checked = "" if report.verified_files is None else f", {report.verified_files} stored files verified"
    if confirmations is not None:
        console.print(f"audited the chain as it stood at block {report.to_block}, {confirmations} blocks "
                      "below the head: newer blocks, which a reorganisation could still change, are left out")
    if report.ok:
        console.print(f"[green]all checks hold[/]: {len(report.rows)} rounds from blocks "
                      f"{report.from_block}..{report.to_block}{checked}")
        return
    for finding in report.findings:
        console.print(f"[red]FAILED[/] {escape(str(finding))}", soft_wrap=True)
    fail(f"{len(report.findings)} check(s) failed", CHECK_FAILED)


def _verdict(report: Any, values: list[Any], evaluation: dict[str, Any] | None) -> dict[str, Any]:
    """The audit's outcome as plain data (``--json``): what was read, whether every check holds, why not."""
    return {
        "ok": report.ok,
        "address": report.address,
        "from_block": report.from_block,
        "to_block": report.to_block,
        "rounds": len(report.rows),
        "groups": report.groups,
        "verified_files": report.verified_files,
        "findings": [str(finding) for finding in report.findings],
        "valuation": [dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
                      for value in values],
        "evaluation": evaluation,
    }


def connect_contract(deployment: Path | None, rpc: str | None, address: str | None,  # type: ignore[no-untyped-def]
                     resources: ExitStack | None = None):
    """(the deployment record or None, a Web3, the contract address); exit 2 if that cannot be.

    With ``resources``, a launch folder's saved chain is brought back up (and stopped with them)
    when the recorded one does not answer.
    """
    from learnledger.ledger.api import LedgerError
    from learnledger.ledger.chain import connect
    from learnledger.ledger.params import Deployment

    if (deployment is None) == (address is None):
        usage("name the experiment with --deployment deployment.json, or with --rpc URL --address 0x...")
    record = None
    if deployment is not None:
        try:
            record = Deployment.load(deployment)
        except LedgerError as error:
            usage(str(error))
        address = address or record.address
        rpc = rpc or record.rpc_url
    saved = deployment.parent / CHAIN_STATE if deployment is not None and resources is not None else None
    if rpc is None:
        if deployment is None:
            usage("--address needs --rpc URL: the JSON-RPC URL of a chain that holds the contract")
        if saved is None or not saved.exists():
            usage(f"{deployment} names no rpc_url (an embedded run's chain ended with its process); pass "
                  "--rpc URL of a chain that holds the contract")
    if saved is not None and saved.exists():
        if rpc:
            try:
                return record, connect(rpc, timeout=REVIVE_PROBE_S), address
            except LedgerError:
                pass
        return record, _revive(saved, rpc, resources), address
    try:
        w3 = connect(rpc, timeout=5.0)  # type: ignore[arg-type]
        if record is not None:  # refuse a record of another chain, or another contract, by name
            from learnledger.ledger.artifact import load_artifact
            from learnledger.ledger.guard import check_contract

            check_contract(w3, str(address), load_artifact().deployed_bytecode, record.chain_id,
                           record=str(deployment))
    except LedgerError as error:
        fail(str(error), UNREACHABLE)
    return record, w3, address


def _revive(saved: Path, recorded: str | None, resources: ExitStack):  # type: ignore[no-untyped-def]
    """A local devnet loaded from a copy of ``saved`` (the copy keeps the original untouched)."""
    from learnledger.ledger.api import LedgerError
    from learnledger.ledger.chain import connect
    from learnledger.ledger.devnet import Devnet

    scratch = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="learnledger-audit-")))
    copy = scratch / CHAIN_STATE
    shutil.copyfile(saved, copy)
    node = Devnet(state=copy, accounts=1)
    try:
        resources.enter_context(node)
    except LedgerError as error:
        fail(f"{recorded or 'the recorded chain'} does not answer, and its saved state {saved} could not be "
             f"brought back up: {error}", UNREACHABLE)
    err_console.print(f"note: {recorded or 'the recorded chain'} does not answer: brought its saved state "
                      f"{saved} back up on a local devnet at {node.rpc_url}", soft_wrap=True)
    return connect(node.rpc_url)


def open_weight_store(ipfs: str | None, store_dir: Path | None, deployment: Path | None):  # type: ignore[no-untyped-def]
    """The store holding the weights: the IPFS node, the directory, or the run's store beside the record."""
    from learnledger.store.kubo import KuboStore
    from learnledger.store.local import LocalStore

    if ipfs and store_dir:
        usage("pass either --ipfs URL or --store DIR, not both")
    if ipfs:
        try:
            return KuboStore(ipfs)
        except ValueError as error:
            usage(str(error))
    if store_dir is None and deployment is not None and (deployment.parent / "store").is_dir():
        store_dir = deployment.parent / "store"
    if store_dir is None:
        usage("--verify and --evaluate need the weights: pass --store DIR or --ipfs URL")
    if not store_dir.is_dir():
        usage(f"no store directory at {store_dir}; pass the folder a run or `learnledger store` wrote")
    return LocalStore(store_dir)
