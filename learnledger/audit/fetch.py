"""Everything the audit reads from the chain: events in chunked, retried block ranges, and the
contract's views, all pinned to one head block so that a chain still moving cannot tear the picture.

Reads go through raw JSON-RPC in batches where the node takes batches (HTTP): a thousand rounds
need thousands of views, receipts and block times, and one round trip each would dominate the audit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector
from web3 import HTTPProvider, Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, TransactionNotFound

from learnledger.ledger.api import RoundState
from learnledger.ledger.chain import data_bytes, quantity

LOG_CHUNK_BLOCKS = 5_000
"""Blocks per eth_getLogs query at first; halved when a node refuses the range as too large."""

ATTEMPTS = 4
"""Tries per request before the chain counts as unreachable."""

BATCH_SIZE = 500
"""JSON-RPC requests per batch (nodes cap batches; anvil and geth take 1,000)."""

AUDITED_EVENTS = (
    "ExperimentCreated", "MemberRegistered", "VotesSealed", "RoundOpened", "WeightsProposed", "VoteCommitted",
    "VoteRevealed", "VoteCast", "RoundFinalized", "SuccessionProposed", "SuccessionVoteCast", "SuccessionDecided",
)


class ChainUnreachable(Exception):
    """The node did not answer (or kept failing) after bounded retries: exit status 2."""


class CallFailed(Exception):
    """The node answered a request with an error (a view that reverts, a method it lacks)."""


@dataclass(frozen=True)
class ChainEvent:
    """One decoded log and where it sits on the chain."""

    name: str
    args: dict[str, Any]
    block: int
    tx_hash: str
    log_index: int


@dataclass
class EventRange:
    """The events of one contract from ``from_block`` to ``to_block``, in chain order."""

    events: list[ChainEvent]
    from_block: int
    to_block: int
    queries: int
    seconds: float


@dataclass
class ContractViews:
    """The contract's own account of itself at block ``head``."""

    head: int
    chain_id: int
    has_code: bool
    error: str | None = None
    """Why the views could not be read although there is code (not this contract's interface)."""
    current_round: int = 0
    finished: bool = False
    model_digest: bytes = b""
    model_round: int = 0
    members: tuple[str, ...] = ()
    group_names: tuple[str, ...] = ()
    terms: dict[str, Any] = field(default_factory=dict)
    round_info: dict[int, dict[str, Any]] = field(default_factory=dict)
    has_voted: dict[tuple[int, str], bool] = field(default_factory=dict)
    predecessor: str | None = None
    """The experiment this one succeeds (None for the first of a line)."""
    successor: str | None = None
    """The experiment that took this one over (None if none did)."""


class Rpc:
    """Raw JSON-RPC with retries, batched where the provider can batch.

    Args:
        w3: the connection.
        attempts: tries per request or batch before ChainUnreachable. Default ATTEMPTS.
        backoff: seconds before the first retry, doubled at each further one. Default 0.2.
    """

    def __init__(self, w3: Web3, attempts: int = ATTEMPTS, backoff: float = 0.2) -> None:
        self.w3 = w3
        self.attempts = attempts
        self.backoff = backoff
        self.batches = isinstance(w3.provider, HTTPProvider)

    def retried(self, what: str, action: Callable[[], Any]) -> Any:
        """``action()``, retried with backoff; ChainUnreachable naming ``what`` if it keeps failing."""
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                return action()
            except CallFailed:
                raise  # the node answered: asking again gives the same answer
            except Exception as error:  # connection refused, timeout, node error...
                if attempt == self.attempts:
                    raise ChainUnreachable(
                        f"{what} failed {self.attempts} times; last error: {type(error).__name__}: {error}. "
                        "Check that the node is running and the RPC URL is right"
                    ) from None
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def block(self, number: int) -> Any:
        """A block number as this provider takes it (hex over HTTP; the embedded chain wants ints)."""
        return hex(number) if self.batches else number

    def request(self, method: str, params: Sequence[Any]) -> Any:
        return self.many(method, [params])[0]

    def many(self, method: str, params_list: Sequence[Sequence[Any]]) -> list[Any]:
        """The results of ``method`` called with each params, in order (batched where possible)."""
        results: list[Any] = []
        if not self.batches:  # the embedded chain: web3's own methods, one by one (no batches in-process)
            call = _FORMATTED[method]
            return [self.retried(method, lambda p=params: call(self.w3, p)) for params in params_list]
        for start in range(0, len(params_list), BATCH_SIZE):
            chunk = [(method, list(p)) for p in params_list[start:start + BATCH_SIZE]]
            responses = self.retried(f"{method} (batch of {len(chunk)})",
                                     lambda c=chunk: self.w3.provider.make_batch_request(c))
            if isinstance(responses, dict):  # the node refused the whole batch
                raise ChainUnreachable(f"the node refused a batch of {method}: {responses.get('error')}")
            responses = sorted(responses, key=lambda r: int(r.get("id", 0)))
            results.extend(_result_of(method, response) for response in responses)
        return results


def _receipt(w3: Web3, tx_hash: str) -> Any:
    try:
        return w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        return None


def _call(w3: Web3, transaction: dict[str, Any], block: Any) -> bytes:
    try:
        return bytes(w3.eth.call(transaction, block))  # type: ignore[arg-type]
    except (ContractLogicError, BadFunctionCallOutput) as error:
        raise CallFailed(f"eth_call reverted: {error}") from None


_FORMATTED: dict[str, Callable[[Web3, Sequence[Any]], Any]] = {
    "eth_call": lambda w3, p: _call(w3, p[0], p[1]),
    "eth_getBlockByNumber": lambda w3, p: w3.eth.get_block(p[0]),
    "eth_getTransactionReceipt": lambda w3, p: _receipt(w3, p[0]),
    "eth_getCode": lambda w3, p: w3.eth.get_code(p[0], p[1]),
    "eth_chainId": lambda w3, p: w3.eth.chain_id,
    "eth_getLogs": lambda w3, p: w3.eth.get_logs(p[0]),
}
"""web3's methods for the requests the audit makes, where raw batches are not available."""


def _result_of(method: str, response: Any) -> Any:
    if "error" in response:
        raise CallFailed(f"the node answered {method} with an error: {response['error']}")
    return response.get("result")


def head_block(rpc: Rpc) -> int:
    return int(rpc.retried("eth_blockNumber", lambda: rpc.w3.eth.block_number))


def fetch_events(
    rpc: Rpc,
    address: str,
    abi: list[dict[str, Any]],
    from_block: int,
    to_block: int,
    chunk_blocks: int = LOG_CHUNK_BLOCKS,
    get_logs: Callable[[dict[str, Any]], list[Any]] | None = None,
) -> EventRange:
    """Every audited event of ``address`` in [from_block, to_block], decoded, in chain order.

    Ranges go ``chunk_blocks`` at a time; a range the node refuses as too large is halved, any other
    failure retried with backoff. ``get_logs`` replaces ``eth_getLogs`` (tests break it on purpose).
    """
    started = time.perf_counter()
    get_logs = get_logs or (lambda query: rpc.request("eth_getLogs", [query]))
    decoders = {topic: _EventDecoder(entry) for topic, entry in _event_abis(abi).items()
                if entry["name"] in AUDITED_EVENTS}
    topics = [sorted(decoders)]
    events: list[ChainEvent] = []
    queries = 0
    start = from_block
    while start <= to_block:
        end = min(start + chunk_blocks - 1, to_block)
        query = {"address": Web3.to_checksum_address(address), "fromBlock": rpc.block(start),
                 "toBlock": rpc.block(end), "topics": topics}
        try:
            raw = rpc.retried(f"eth_getLogs for blocks {start}..{end}", lambda q=query: get_logs(q))
        except (ChainUnreachable, CallFailed) as error:
            if chunk_blocks > 1 and _range_too_large(str(error)):
                chunk_blocks = max(1, chunk_blocks // 2)
                continue
            raise ChainUnreachable(str(error)) from None
        queries += 1
        for log in raw:
            decoder = decoders.get("0x" + data_bytes(log["topics"][0]).hex())
            if decoder is not None:
                events.append(decoder.decode(log))
        start = end + 1
    events.sort(key=lambda e: (e.block, e.log_index))
    return EventRange(events, from_block, to_block, queries, time.perf_counter() - started)


class _EventDecoder:
    """Decodes one event's logs straight from topics and data (web3's generic decoder costs about
    a millisecond a log, which a thousand-round audit would feel)."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.name = str(entry["name"])
        self.indexed = [(i["name"], i["type"]) for i in entry["inputs"] if i["indexed"]]
        self.plain = [(i["name"], i["type"]) for i in entry["inputs"] if not i["indexed"]]
        self.plain_types = [t for _, t in self.plain]

    def decode(self, log: Any) -> ChainEvent:
        args: dict[str, Any] = {}
        for (name, type_), topic in zip(self.indexed, log["topics"][1:]):
            args[name] = _topic_value(type_, data_bytes(topic))
        values = abi_decode(self.plain_types, data_bytes(log["data"]))
        args.update((name, value) for (name, _), value in zip(self.plain, values))
        return ChainEvent(self.name, args, quantity(log["blockNumber"]), "0x" + data_bytes(log["transactionHash"]).hex(),
                          quantity(log["logIndex"]))


def _topic_value(type_: str, topic: bytes) -> Any:
    if type_ == "address":
        return Web3.to_checksum_address(topic[-20:])
    if type_.startswith("uint"):
        return int.from_bytes(topic, "big")
    if type_ == "bool":
        return topic[-1] == 1
    return topic  # bytes32, or the hash of an indexed dynamic value


def _range_too_large(message: str) -> bool:
    message = message.lower()
    return any(word in message for word in ("range", "too many", "limit", "exceed", "too large"))


def _event_abis(abi: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_topic = {}
    for entry in abi:
        if entry.get("type") == "event":
            types = ",".join(i["type"] for i in entry["inputs"])
            by_topic["0x" + Web3.keccak(text=f"{entry['name']}({types})").hex()] = entry
    return by_topic


def block_times(rpc: Rpc, blocks: Sequence[int]) -> dict[int, int]:
    """Timestamp of each block (the reference replay runs the rules on the chain's clock)."""
    unique = sorted(set(blocks))
    found = rpc.many("eth_getBlockByNumber", [[rpc.block(b), False] for b in unique])
    missing = [b for b, block in zip(unique, found) if block is None]
    if missing:
        raise ChainUnreachable(f"the node has no block {missing[0]} although it logged events there")
    return {b: quantity(block["timestamp"]) for b, block in zip(unique, found)}


def gas_used(rpc: Rpc, tx_hashes: Sequence[str]) -> dict[str, int]:
    """Gas each transaction used, from its receipt."""
    unique = sorted(set(tx_hashes))
    receipts = rpc.many("eth_getTransactionReceipt", [[h] for h in unique])
    return {h: quantity(r["gasUsed"]) for h, r in zip(unique, receipts) if r is not None}


def deployed_address(rpc: Rpc, tx_hash: str) -> str | None:
    """The contract address the deployment transaction created (None: no such transaction)."""
    receipt = rpc.request("eth_getTransactionReceipt", [tx_hash])
    if receipt is None or not receipt.get("contractAddress"):
        return None
    return Web3.to_checksum_address(receipt["contractAddress"])


class ViewReader:
    """Batched ``eth_call`` of the contract's views at one block, decoded with its ABI."""

    def __init__(self, rpc: Rpc, address: str, abi: list[dict[str, Any]], block: int) -> None:
        self.rpc = rpc
        self.address = Web3.to_checksum_address(address)
        self._selectors = {}
        self._input_types = {}
        for entry in abi:
            if entry.get("type") == "function":
                types = [_abi_type(i) for i in entry["inputs"]]
                self._input_types[entry["name"]] = types
                self._selectors[entry["name"]] = function_signature_to_4byte_selector(
                    f"{entry['name']}({','.join(types)})")
        self.block = rpc.block(block)
        self._outputs = {e["name"]: e["outputs"] for e in abi if e.get("type") == "function"}

    def calls(self, requests: Sequence[tuple[str, Sequence[Any]]]) -> list[tuple[Any, ...]]:
        """The decoded outputs of each (view name, arguments), in one batch."""
        calls = [[{"to": self.address, "data": self._encode(name, args)}, self.block] for name, args in requests]
        return [abi_decode([_abi_type(o) for o in self._outputs[name]], data_bytes(raw))
                for (name, _), raw in zip(requests, self.rpc.many("eth_call", calls))]

    def _encode(self, name: str, args: Sequence[Any]) -> str:
        """Call data by hand: web3's encode_abi costs milliseconds a call, and audits make thousands."""
        return "0x" + (self._selectors[name] + abi_encode(self._input_types[name], list(args))).hex()

    def many(self, name: str, args_list: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        return self.calls([(name, args) for args in args_list])


def _abi_type(output: dict[str, Any]) -> str:
    if output["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in output["components"])
        return f"({inner})" + output["type"][len("tuple"):]
    return str(output["type"])


ROUND_INFO_FIELDS = ("state", "proposer", "openedAt", "proposalDeadline", "proposedAt", "voteDeadline",
                     "finalizedAt", "approvals", "rejections", "digest")


def read_views(
    rpc: Rpc,
    address: str,
    abi: list[dict[str, Any]],
    head: int,
    rounds: Sequence[int],
    votes: Sequence[tuple[int, str]],
) -> ContractViews:
    """The contract's views at ``head``: its terms, roster, head state, and ``rounds``' RoundInfo."""
    chain_id = quantity(rpc.request("eth_chainId", []))
    code = rpc.request("eth_getCode", [Web3.to_checksum_address(address), rpc.block(head)])
    views = ContractViews(head=head, chain_id=chain_id, has_code=len(data_bytes(code or b"")) > 0)
    if not views.has_code:
        return views
    try:
        _read_contract_views(views, ViewReader(rpc, address, abi, head), rounds, votes)
    except CallFailed as error:
        views.error = str(error)
    return views


def _read_contract_views(views: ContractViews, reader: ViewReader, rounds: Sequence[int],
                         votes: Sequence[tuple[int, str]]) -> None:
    terms = ("thresholdBps", "proposalWindow", "voteWindow", "maxRounds", "specDigest", "initialDigest",
             "revealWindow")
    head = reader.calls([(name, []) for name in ("currentRound", "isFinished", "currentModel", "members",
                                                 "predecessor", "successor", *terms)])
    (current,), (finished,), (digest, model_round), (members,), (predecessor,), (successor,), *values = head
    views.predecessor = None if int(predecessor, 16) == 0 else Web3.to_checksum_address(predecessor)
    views.successor = None if int(successor, 16) == 0 else Web3.to_checksum_address(successor)
    views.current_round, views.finished = int(current), bool(finished)
    views.model_digest, views.model_round = bytes(digest), int(model_round)
    views.members = tuple(Web3.to_checksum_address(m) for m in members)
    views.terms = {name: bytes(v) if isinstance(v, bytes) else int(v) for name, (v,) in zip(terms, values)}
    views.group_names = tuple(str(g[0]) for g in reader.many("groupName", [[m] for m in views.members]))
    rounds = sorted(set(rounds) | set(range(1, views.current_round + 1)))
    for number, (info,) in zip(rounds, reader.many("roundInfo", [[r] for r in rounds])):
        row = dict(zip(ROUND_INFO_FIELDS, info))
        row["state"] = RoundState(row["state"])
        row["proposer"] = Web3.to_checksum_address(row["proposer"])
        row["digest"] = bytes(row["digest"])
        views.round_info[number] = row
    voted = reader.many("hasVoted", [[r, Web3.to_checksum_address(v)] for r, v in votes])
    views.has_voted = {(r, v): bool(flag[0]) for (r, v), flag in zip(votes, voted)}
