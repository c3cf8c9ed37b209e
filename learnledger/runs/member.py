"""``learnledger agent``: one research group's learner as its own process, against any chain.

Everything the agent needs besides its key and its data comes from the chain and the store: the
deployment record names the contract; the contract's creation record names the model spec and the
initial weights by digest; the store serves them by CID, and both are checked before use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from learnledger.agents.agent import Action, Agent, PinPolicy, RoundLog
from learnledger.agents.ballots import SEALED_VOTES_FOLDER, BallotBox
from learnledger.ledger.api import AccountUnfunded, LedgerError
from learnledger.store.api import StoreError, WeightStore
from learnledger.runs.heap import frozen_heap
from learnledger.runs.outputs import append_line
from learnledger.store.choose import open_store

log = logging.getLogger(__name__)

RETRY_LIMIT_S = 30.0
"""Longest pause between attempts while the chain or the store is unreachable."""

BLOCK_CHECK_S = 0.1
"""Seconds between looks at the chain's head (one eth_blockNumber) while an agent waits: the state an
agent acts on changes only with a new block, so it steps as soon as one arrives, and otherwise only
every ``poll_s`` (deadlines pass with the clock even when no block comes, as on an idle devnet)."""


SAME_HEAD_SKIP_S = 5.0
"""How long ``follow_many`` may pass over a waiting agent while the chain's head stays where it was
when the agent last looked: its state cannot have changed but by the clock, and deadlines are minutes
long. One eth_blockNumber per sweep then replaces a status read per waiting agent (64 agents polling
every 0.5 s were 128 status reads a second on the load benchmark)."""


class MemberSetupError(Exception):
    """The agent cannot start: a bad key, a group not on the roster, a spec that does not verify..."""


@dataclass(frozen=True)
class MemberConfig:
    """What one agent process is told on its command line."""

    deployment: Path
    group: str
    key: str
    rpc_url: str | None = None
    ipfs_url: str | None = None
    store_dir: Path | None = None
    experiment: Path | None = None
    data: Path | None = None
    log_file: Path | None = None
    poll_s: float = 0.5
    pins: PinPolicy | None = None
    """What the agent keeps pinned on its store (a lab's own IPFS node); None: only its proposals."""
    ballots: Path | None = None
    """Where the agent keeps its sealed votes until it reveals them (experiments with a reveal
    window); None: ``sealed-votes/<group>`` beside the deployment record."""

    def ballot_folder(self) -> Path:
        return self.ballots or self.deployment.parent / SEALED_VOTES_FOLDER / self.group


def build_member(config: MemberConfig):  # -> tuple[Agent, Learner]
    """Connect to the chain and the store, verify the experiment, load the data, build the agent."""
    from learnledger.ledger.chain import connect
    from learnledger.ledger.client import ContractLedger
    from learnledger.ledger.guard import check_funded
    from learnledger.ledger.line import successor_ledger
    from learnledger.ledger.params import Deployment

    deployment = Deployment.load(config.deployment)
    rpc_url = config.rpc_url or deployment.rpc_url
    if not rpc_url:
        raise MemberSetupError(f"{config.deployment} names no RPC URL; pass --rpc URL")
    ledger = ContractLedger(connect(rpc_url), deployment, config.key)
    params = deployment.params
    index = _roster_index(params.group_names, config.group)
    if params.members[index].lower() != ledger.account.lower():
        raise MemberSetupError(
            f"the key given signs as {ledger.account}, but group {config.group!r} is "
            f"{params.members[index]} on the roster; use that group's key"
        )
    check_funded(ledger.w3, ledger.account, f"group {config.group}")
    on_chain_spec = ledger.contract.functions.specDigest().call()
    if bytes(on_chain_spec) != params.spec_digest:
        raise MemberSetupError(
            f"the contract at {deployment.address} records spec digest {bytes(on_chain_spec).hex()}, "
            f"not {params.spec_digest.hex()} as {config.deployment} says: wrong deployment file or chain"
        )
    store = open_store(config.ipfs_url, config.store_dir)
    spec = _fetch_spec(store, params.spec_cid, params.spec_digest)
    if config.pins is not None:
        try:
            store.pin(params.spec_cid)
        except StoreError as error:
            raise MemberSetupError(f"cannot pin the model spec {params.spec_cid} on this lab's node: "
                                   f"{error}") from None
    data = _load_data(config, params.group_names, index)

    from learnledger.agents.learner import Learner

    learner = Learner(config.group, data, spec)
    agent = Agent(learner, ledger, store, params.initial_cid,
                  on_round_log=_round_logger(config.log_file), pins=config.pins,
                  ballots=BallotBox(config.ballot_folder(), ledger.account),
                  open_successor=lambda address: successor_ledger(ledger.w3, address, config.key, rpc_url))
    return agent, learner


def follow(
    agent: Agent,
    poll_s: float = 0.5,
    stop: threading.Event | None = None,
    on_action: Callable[[Action], None] = lambda action: None,
    retry_limit_s: float = RETRY_LIMIT_S,
    react_to_blocks: bool = True,
) -> None:
    """Step ``agent`` until the experiment finishes (or ``stop`` is set), polling while it waits.

    With ``react_to_blocks`` (the default) a waiting agent also steps as soon as its chain has a new
    block (``BLOCK_CHECK_S``), so on a chain with block times it acts in the block after the one it
    waited for, without polling its whole state many times per block.

    A chain or store that stops answering is retried with growing pauses, never fatal: the agent
    holds nothing that a later attempt cannot rebuild. The pauses double from ``poll_s`` up to
    ``retry_limit_s`` (default ``RETRY_LIMIT_S``): a smaller limit catches up sooner after an
    outage, at the price of more attempts during it.
    """
    follow_many([agent], poll_s, stop, lambda _, action: on_action(action), retry_limit_s,
                block_check_s=BLOCK_CHECK_S if react_to_blocks else None)


@dataclass
class _Turn:
    """One agent's place in ``follow_many``'s rotation: when to step it next, and its retry pause."""

    agent: Agent
    pause: float
    due: float = 0.0
    head: int | None = None
    """The chain's block number when this agent last stepped (with block reaction on)."""
    waited: tuple[int, float] | None = None
    """The head and the time when this agent last stepped and had to wait; None after it acted."""


def follow_many(
    agents: Sequence[Agent],
    poll_s: float = 0.5,
    stop: threading.Event | None = None,
    on_action: Callable[[Agent, Action], None] = lambda agent, action: None,
    retry_limit_s: float = RETRY_LIMIT_S,
    block_check_s: float | None = None,
) -> None:
    """Step several agents in one process, in turn, until every one has finished (or ``stop`` is set).

    Each agent is stepped as ``follow`` steps one (``follow`` is this with a single agent): one
    that acted is stepped again at the next turn, one that waits is looked at again after
    ``poll_s``, and one whose chain or store failed is retried after its own doubling pause (up to
    ``retry_limit_s``), so one agent's trouble never delays the others' turns. The process sleeps
    only while no agent is due. With ``block_check_s``, a waiting agent whose ledger tells its chain's
    head (``head()``) is due again as soon as the head moves, looked at every ``block_check_s``.

    The agents share one chain (one experiment's members in one process): the head is read once per
    sweep, and a waiting agent due again while the head has not moved is passed over (for up to
    ``SAME_HEAD_SKIP_S``), since nothing it acts on can have changed. The agents due in a sweep step
    at the same time, each in its own thread: one agent's wait for its transaction's block overlaps
    the others' scoring and sending, so at real block times a worker's votes land in one block
    instead of one block each.
    """
    stop = stop or threading.Event()
    turns = [_Turn(agent, poll_s) for agent in agents]
    pool = ThreadPoolExecutor(max_workers=len(turns), thread_name_prefix="agent") if len(turns) > 1 else None
    try:
        with frozen_heap():  # the learners and the framework: not walked by every full collection
            while turns and not stop.is_set():
                acted = _sweep(turns, pool, poll_s, on_action, retry_limit_s, block_check_s)
                if stop.is_set():
                    return
                if turns and not acted:
                    _idle(turns, stop, block_check_s)
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _sweep(turns: list[_Turn], pool: ThreadPoolExecutor | None, poll_s: float,
           on_action: Callable[[Agent, Action], None], retry_limit_s: float,
           block_check_s: float | None) -> bool:
    """Step every due agent once (at the same time with ``pool``); whether any acted."""
    now = time.monotonic()
    due = [turn for turn in turns if now >= turn.due]
    if not due:
        return False
    head = _head(due[0].agent)
    stepping = []
    for turn in due:
        if (turn.waited is not None and head is not None and turn.waited[0] == head
                and now - turn.waited[1] < SAME_HEAD_SKIP_S):
            turn.due = now + poll_s
            continue
        if block_check_s is not None:
            turn.head = head
        stepping.append(turn)
    if pool is None or len(stepping) < 2:
        outcomes = [_step(turn) for turn in stepping]
    else:
        outcomes = list(pool.map(_step, stepping))
    acted = False
    for turn, outcome in zip(stepping, outcomes):
        if isinstance(outcome, AccountUnfunded):
            raise outcome  # no retry can pay for gas: the operator must fund the account
        if isinstance(outcome, (LedgerError, StoreError, OSError)):
            # Includes a refused transaction (the ledger moved on since we looked): look again.
            log.warning("%s: %s; retrying in %.1f s", turn.agent.group, outcome, turn.pause)
            turn.due = time.monotonic() + turn.pause
            turn.pause = min(turn.pause * 2, retry_limit_s)
            turn.waited = None  # a retry is due whatever the head
            continue
        if isinstance(outcome, BaseException):
            raise outcome
        action = outcome
        turn.pause = poll_s
        on_action(turn.agent, action)
        if action is Action.FINISHED:
            turns.remove(turn)
        elif action is Action.WAITING:
            turn.due = time.monotonic() + poll_s
            turn.waited = None if head is None else (head, now)
        else:
            turn.waited = None
            acted = True
    return acted


def _step(turn: _Turn) -> Action | BaseException:
    """One step of ``turn``'s agent: its action, or the exception it raised (handled by the sweep)."""
    try:
        return turn.agent.step()
    except Exception as error:
        return error


def _idle(turns: list[_Turn], stop: threading.Event, block_check_s: float | None) -> None:
    """Nobody acted: sleep until the next agent is due (or, with ``block_check_s``, a block comes)."""
    wake = min(turn.due for turn in turns)
    if block_check_s is None:
        stop.wait(max(0.0, wake - time.monotonic()))
        return
    while not stop.is_set() and time.monotonic() < wake:
        stop.wait(max(0.0, min(block_check_s, wake - time.monotonic())))
        moved = [turn for turn in turns if turn.head is not None and _head(turn.agent) not in (None, turn.head)]
        for turn in moved:
            turn.due = 0.0
        if moved:
            break


def _head(agent: Agent) -> int | None:
    """The block number of ``agent``'s chain, or None when its ledger has none or does not answer."""
    head = getattr(getattr(agent, "ledger", None), "head", None)
    if head is None:
        return None
    try:
        return int(head())
    except (LedgerError, OSError, ValueError):
        return None
    except Exception:  # a connection error from below the ledger: the step will report it
        return None


def final_report(agent: Agent, learner) -> dict[str, object]:
    """This group's scores of the final shared model (logged when the experiment ends)."""
    shared, weights = agent.shared_model()
    scores = learner.score(weights)
    return {"final": True, "group": agent.group, "model_round": shared.round,
            "model_digest": shared.digest.hex(), "vote_score": scores.vote, "test_score": scores.test}


def _roster_index(groups: tuple[str, ...], group: str) -> int:
    if group not in groups:
        raise MemberSetupError(f"group {group!r} is not on the roster; the groups are: {', '.join(groups)}")
    return groups.index(group)


def _fetch_spec(store: WeightStore, cid: str, digest: bytes):  # -> ModelSpec
    from learnledger.agents.models import ModelSpec

    try:
        document = store.get(cid)
    except StoreError as error:
        raise MemberSetupError(f"cannot fetch the model spec {cid} from the store: {error}") from None
    if hashlib.sha256(document).digest() != digest:
        raise MemberSetupError(f"the model spec served for {cid} does not match the digest on-chain")
    return ModelSpec.from_json(document)


def _load_data(config: MemberConfig, groups: tuple[str, ...], index: int):  # -> LearnerData
    if (config.experiment is None) == (config.data is None):
        raise MemberSetupError("give exactly one of --experiment FILE (this group's share of a shared "
                               "experiment's data) or --data FILE.npz (this group's own data)")
    if config.data is not None:
        from learnledger.data.private import load_private_data

        return load_private_data(config.data)
    from learnledger.agents.experiment import Experiment
    from learnledger.data.experiment_data import load_learner_data

    experiment = Experiment.load(config.experiment)
    if experiment.groups != groups:
        raise MemberSetupError(f"{config.experiment} lists groups {experiment.groups}, but the contract's "
                               f"roster is {groups}: wrong experiment file")
    shares = load_learner_data(experiment.data, [spec.corruption for spec in experiment.learners],
                               experiment.seed)
    return shares[index]


def _round_logger(path: Path | None) -> Callable[[RoundLog], None]:
    def write(entry: RoundLog) -> None:
        row = {"time": time.time(), **entry.as_dict()}
        log.info("round log: %s", json.dumps(row, sort_keys=True))
        if path is not None:
            append_line(path, row)

    return write
