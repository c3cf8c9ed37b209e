"""An Ethereum node inside this process: revm executes, this module keeps the chain.

revm (the EVM of anvil, reth and Foundry, through the ``pyrevm`` bindings) runs every transaction
and call, and holds the state (balances, nonces, code, storage); this module keeps what a node keeps
around it: blocks, transactions, receipts, logs, the clock, and the fees it charges. The node answers JSON-RPC as anvil does (hex quantities, revert data in the
error), so web3 and the ledger client meet it exactly as they meet a node over HTTP, in
microseconds instead of a round trip. It replaced eth-tester on py-evm, a pure-Python EVM that
spent milliseconds on every call and most of the embedded chain's cost per round.

What differs from a node on a network, on purpose:

- every transaction is mined at once, in its own block (no pool, no waiting, no reorganisation);
- a block's hash is what revm answers for ``BLOCKHASH`` of its number (revm's in-memory database
  derives it from the number alone), so the contract and every reader agree on it;
- state is kept for the newest block only: a call at an older block is refused by name;
- ``evm_snapshot`` / ``evm_revert`` / ``evm_mine`` / ``evm_increaseTime`` as on anvil, for tests.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import Any

import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from pyrevm import BlockEnv
from web3.providers import BaseProvider
from web3.types import RPCEndpoint, RPCResponse

from learnledger.ledger.evm import Evm, Outcome, RefusedMessage, block_env

INITIAL_BASE_FEE = 10**9
"""1 gwei in the first block; EIP-1559 moves it with each block's gas."""
ELASTICITY, BASE_FEE_CHANGE_DENOMINATOR = 2, 8
"""EIP-1559's constants: a block aims at half its limit; the base fee moves at most 1/8 a block."""
CLIENT_VERSION = "learnledger-embedded/revm"


class RpcError(Exception):
    """A JSON-RPC error, worded as anvil and geth word it (the transaction sender matches words)."""

    def __init__(self, message: str, code: int = -32000, data: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def response(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


@dataclass
class _Transaction:
    """A signed transaction, decoded."""

    hash: bytes
    sender: str
    nonce: int
    gas: int
    to: str | None
    value: int
    data: bytes
    chain_id: int | None
    type: int
    gas_price: int | None = None
    max_fee: int | None = None
    max_tip: int | None = None

    def price(self, base_fee: int) -> int:
        """What one unit of gas costs this transaction in a block with ``base_fee``."""
        if self.max_fee is None:
            return int(self.gas_price or 0)
        return min(self.max_fee, base_fee + int(self.max_tip or 0))

    def fee_cap(self) -> int:
        return int(self.max_fee if self.max_fee is not None else self.gas_price or 0)


def decode_transaction(raw: bytes) -> _Transaction:
    """A raw signed transaction (legacy, EIP-2930 or EIP-1559), its sender recovered."""
    if not raw:
        raise RpcError("empty transaction")
    try:
        sender = Account.recover_transaction(raw)
        kind = raw[0] if raw[0] < 0x7F else 0
        fields = rlp.decode(raw[1:] if kind else raw)
    except Exception as error:
        raise RpcError(f"invalid transaction: {error}") from None

    def number(item: bytes) -> int:
        return int.from_bytes(item, "big")

    def address(item: bytes) -> str | None:
        return to_checksum_address(item) if item else None

    tx_hash = keccak(raw)
    if kind == 0:
        nonce, gas_price, gas, to, value, data, v, _, _ = fields
        v = number(v)
        chain_id = (v - 35) // 2 if v >= 35 else None
        return _Transaction(tx_hash, sender, number(nonce), number(gas), address(to), number(value), bytes(data),
                            chain_id, 0, gas_price=number(gas_price))
    if kind == 1:
        chain_id, nonce, gas_price, gas, to, value, data = fields[:7]
        return _Transaction(tx_hash, sender, number(nonce), number(gas), address(to), number(value), bytes(data),
                            number(chain_id), 1, gas_price=number(gas_price))
    if kind == 2:
        chain_id, nonce, tip, max_fee, gas, to, value, data = fields[:8]
        return _Transaction(tx_hash, sender, number(nonce), number(gas), address(to), number(value), bytes(data),
                            number(chain_id), 2, max_fee=number(max_fee), max_tip=number(tip))
    raise RpcError(f"transaction type {kind} is not supported by the embedded node (legacy, 1 and 2 are)")


def logs_bloom(logs: list[tuple[str, list[bytes], bytes]]) -> bytes:
    """The 2048-bit bloom filter of a receipt's or block's logs (yellow paper, section 4.3.1)."""
    bloom = 0
    for address, topics, _ in logs:
        for item in (bytes.fromhex(address[2:]), *topics):
            digest = keccak(item)
            for i in (0, 2, 4):
                bloom |= 1 << ((int.from_bytes(digest[i:i + 2], "big")) & 2047)
    return bloom.to_bytes(256, "big")


def _data(value: bytes) -> str:
    return "0x" + value.hex()


class EmbeddedNode:
    """A chain in this process. Funded ``accounts`` (address -> private key) can also send
    unsigned transactions (``eth_sendTransaction``), as a devnet's unlocked accounts do.

    Args:
        accounts: funded accounts, address to private key (hex).
        balance: what each holds at genesis, in wei.
        chain_id: the chain's id (a private one).
        gas_limit: every block's gas limit.
        start_time: the genesis timestamp; None follows the wall clock (see ``pending_time``).
    """

    def __init__(self, accounts: dict[str, str], *, balance: int, chain_id: int, gas_limit: int,
                 start_time: int | None = None) -> None:
        self.chain_id = chain_id
        self.gas_limit = gas_limit
        self.follows_wall_clock = start_time is None
        self.keys = {to_checksum_address(a): k for a, k in accounts.items()}
        self._lock = threading.RLock()
        self._evm = Evm(chain_id, gas_limit)
        for address in self.keys:
            self._evm.set_account(address, balance, 0)
        self._blocks: list[dict[str, Any]] = []
        self._transactions: dict[bytes, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._logs: list[dict[str, Any]] = []
        self._next_time: int | None = None
        self._snapshots: dict[int, tuple[int, int, int, int | None]] = {}
        self._snapshot_ids = itertools.count(1)
        genesis_time = int(time.time()) if start_time is None else int(start_time)
        self._seal([], [], gas_used=0, timestamp=genesis_time, base_fee=INITIAL_BASE_FEE)

    # ----------------------------------------------------------------------------- the chain

    @property
    def head(self) -> dict[str, Any]:
        return self._blocks[-1]

    def pending_time(self) -> int:
        """The timestamp the next block gets: a time set for it (``set_next_time``), else the wall
        clock, but always at least a second after the newest block (so a chain mining faster than
        a block a second runs ahead of the wall clock, as eth-tester's did); with a fixed
        ``start_time``, exactly one second after it (reproducible runs)."""
        after = int(self.head["timestamp"], 16) + 1
        if self._next_time is not None:
            return max(self._next_time, after)
        return max(int(time.time()), after) if self.follows_wall_clock else after

    def set_next_time(self, timestamp: int) -> None:
        """Give the next block ``timestamp`` (later blocks continue from it)."""
        latest = int(self.head["timestamp"], 16)
        if timestamp <= latest:
            raise RpcError(f"the next block's time must come after the newest block's ({latest}), "
                           f"received {timestamp}")
        self._next_time = int(timestamp)

    def base_fee_next(self) -> int:
        """EIP-1559: the next block's base fee from the newest block's gas against its target."""
        head = self.head
        base, used, target = int(head["baseFeePerGas"], 16), int(head["gasUsed"], 16), self.gas_limit // ELASTICITY
        if used == target:
            return base
        if used > target:
            return base + max(1, base * (used - target) // target // BASE_FEE_CHANGE_DENOMINATOR)
        return max(0, base - base * (target - used) // target // BASE_FEE_CHANGE_DENOMINATOR)

    def block_hash(self, number: int) -> bytes:
        return self._evm.block_hash(number)

    def _block_env(self, number: int, timestamp: int, base_fee: int) -> BlockEnv:
        return block_env(number, timestamp, base_fee, self.gas_limit, _prevrandao(self.block_hash(number)))

    def _seal(self, transactions: list[dict[str, Any]], receipts: list[dict[str, Any]], *, gas_used: int,
              timestamp: int, base_fee: int) -> dict[str, Any]:
        """Append a block holding ``transactions`` (already executed) and index what it holds."""
        number = len(self._blocks)
        block_hash = _data(self.block_hash(number))
        parent = self._blocks[-1]["hash"] if self._blocks else "0x" + "00" * 32
        raw_logs: list[tuple[str, list[bytes], bytes]] = []
        for index, (tx, receipt) in enumerate(zip(transactions, receipts)):
            tx.update(blockHash=block_hash, blockNumber=hex(number), transactionIndex=hex(index))
            receipt.update(blockHash=block_hash, blockNumber=hex(number), transactionIndex=hex(index))
            for entry in receipt["logs"]:
                entry.update(blockHash=block_hash, blockNumber=hex(number), transactionIndex=hex(index),
                             logIndex=hex(len(raw_logs)))
                raw_logs.append((entry["address"], [bytes.fromhex(t[2:]) for t in entry["topics"]], b""))
                self._logs.append(entry)
            self._transactions[bytes.fromhex(tx["hash"][2:])] = (tx, receipt)
        block = {
            "number": hex(number), "hash": block_hash, "parentHash": parent, "timestamp": hex(timestamp),
            "gasLimit": hex(self.gas_limit), "gasUsed": hex(gas_used), "baseFeePerGas": hex(base_fee),
            "miner": "0x" + "00" * 20, "difficulty": "0x0", "totalDifficulty": "0x0", "nonce": "0x" + "00" * 8,
            "mixHash": _data(_prevrandao(self.block_hash(number))), "extraData": "0x",
            "logsBloom": _data(logs_bloom(raw_logs)), "sha3Uncles": _data(keccak(rlp.encode([]))),
            "stateRoot": "0x" + "00" * 32, "transactionsRoot": "0x" + "00" * 32,
            "receiptsRoot": "0x" + "00" * 32, "uncles": [], "size": "0x0",
            "transactions": [tx["hash"] for tx in transactions],
        }
        self._blocks.append(block)
        self._next_time = None
        return block

    def mine(self, timestamp: int | None = None) -> None:
        """Mine an empty block (at ``timestamp`` if given)."""
        with self._lock:
            if timestamp is not None:
                self.set_next_time(timestamp)
            self._seal([], [], gas_used=0, timestamp=self.pending_time(), base_fee=self.base_fee_next())

    # ----------------------------------------------------------------------------- executing

    def _run(self, block: BlockEnv, sender: str, to: str | None, data: bytes, value: int, gas: int,
             *, keep: bool) -> Outcome:
        try:
            return self._evm.run(block, sender, to, data, value, gas, keep=keep)
        except RefusedMessage as error:  # refused before running: intrinsic gas, funds
            raise RpcError(_worded(str(error))) from None

    def call(self, request: dict[str, Any], block: Any) -> Outcome:
        """Run ``request`` against the state of ``block`` without keeping anything."""
        with self._lock:
            sender = to_checksum_address(request.get("from") or "0x" + "00" * 20)
            return self._run(self._env_at(block), sender, _address(request.get("to")), _bytes(request),
                             _int(request.get("value")), _int(request.get("gas")) or self.gas_limit, keep=False)

    def estimate_gas(self, request: dict[str, Any], block: Any) -> int:
        """The least gas with which ``request`` succeeds (geth's bisection; a call costs microseconds)."""
        cap = _int(request.get("gas")) or self.gas_limit
        first = self.call(dict(request, gas=hex(cap)), block)
        if not first.success:
            raise _reverted(first)
        low, high = first.gas_used - 1, cap
        while low + 1 < high:
            middle = (low + high) // 2
            if self.call(dict(request, gas=hex(middle)), block).success:
                high = middle
            else:
                low = middle
        return high

    def _env_at(self, block: Any) -> BlockEnv:
        """The block environment a call at ``block`` sees: the pending block's, or the newest's."""
        if block in (None, "pending"):
            return self._block_env(len(self._blocks), self.pending_time(), self.base_fee_next())
        head = self.head
        if block in ("latest", "safe", "finalized") or _int(block) == int(head["number"], 16):
            return self._block_env(int(head["number"], 16), int(head["timestamp"], 16),
                                   int(head["baseFeePerGas"], 16))
        raise RpcError(f"the embedded node keeps the state of its newest block only ({int(head['number'], 16)}); "
                       f"a call at block {block} cannot be answered")

    def send(self, raw: bytes) -> bytes:
        """Check, execute and mine one signed transaction in a block of its own; its hash."""
        tx = decode_transaction(raw)
        with self._lock:
            if tx.hash in self._transactions:
                raise RpcError("already known")
            if tx.chain_id is not None and tx.chain_id != self.chain_id:
                raise RpcError(f"invalid chain id: the chain is {self.chain_id}, the transaction names {tx.chain_id}")
            balance, expected = self._evm.account(tx.sender)
            if tx.nonce != expected:
                word = "low" if tx.nonce < expected else "high"
                raise RpcError(f"nonce too {word}: next nonce {expected}, tx nonce {tx.nonce}")
            if tx.gas > self.gas_limit:
                raise RpcError(f"exceeds block gas limit: {tx.gas} > {self.gas_limit}")
            base_fee, timestamp = self.base_fee_next(), self.pending_time()
            if tx.fee_cap() < base_fee:
                raise RpcError(f"max fee per gas less than block base fee: maxFeePerGas {tx.fee_cap()}, "
                               f"baseFee {base_fee}")
            if balance < tx.gas * tx.fee_cap() + tx.value:
                raise RpcError(f"insufficient funds for gas * price + value: balance {balance}, "
                               f"tx cost {tx.gas * tx.fee_cap() + tx.value}")
            outcome = self._run(self._block_env(len(self._blocks), timestamp, base_fee), tx.sender, tx.to, tx.data,
                                tx.value, tx.gas, keep=True)
            price = tx.price(base_fee)
            balance_after, _ = self._evm.account(tx.sender)  # a value sent is gone; the fee is ours to take
            self._evm.set_account(tx.sender, balance_after - outcome.gas_used * price, tx.nonce + 1)
            transaction, receipt = _records(tx, outcome, price)
            self._seal([transaction], [receipt], gas_used=outcome.gas_used, timestamp=timestamp, base_fee=base_fee)
            return tx.hash

    def send_unsigned(self, request: dict[str, Any]) -> bytes:
        """``eth_sendTransaction`` from one of the node's own accounts: fill in, sign, send."""
        sender = to_checksum_address(request["from"])
        if sender not in self.keys:
            raise RpcError(f"unknown account {sender}: the embedded node signs only for its own accounts")
        with self._lock:
            tx: dict[str, Any] = {
                "nonce": _int(request.get("nonce")) if request.get("nonce") is not None else self.nonce(sender),
                "gas": _int(request.get("gas")) or self.estimate_gas(request, "pending"),
                "value": _int(request.get("value")), "data": _data(_bytes(request)), "chainId": self.chain_id,
            }
            if request.get("to") is not None:
                tx["to"] = to_checksum_address(request["to"])
            if request.get("maxFeePerGas") is not None:
                tx["maxFeePerGas"] = _int(request["maxFeePerGas"])
                tx["maxPriorityFeePerGas"] = _int(request.get("maxPriorityFeePerGas"))
            else:
                tx["gasPrice"] = _int(request.get("gasPrice")) or self.gas_price()
            signed = Account.sign_transaction(tx, self.keys[sender])
            return self.send(bytes(signed.raw_transaction))

    def gas_price(self) -> int:
        """A legacy price sure to be mined in the next block: its base fee and a 1 gwei tip."""
        return self.base_fee_next() + 10**9

    # ------------------------------------------------------------------------- snapshots

    def snapshot(self) -> int:
        """Keep the whole chain as it is now; ``revert`` returns to it (anvil's evm_snapshot)."""
        with self._lock:
            ident = next(self._snapshot_ids)
            self._snapshots[ident] = (self._evm.mark(), len(self._blocks), len(self._logs), self._next_time)
            return ident

    def revert(self, ident: int) -> bool:
        """Return to snapshot ``ident`` (and forget it and every later one); False if unknown."""
        with self._lock:
            if ident not in self._snapshots:
                return False
            mark, blocks, logs, next_time = self._snapshots[ident]
            for later in [i for i in self._snapshots if i >= ident]:
                del self._snapshots[later]
            self._evm.undo_to(mark)
            for block in self._blocks[blocks:]:
                for tx_hash in block["transactions"]:
                    del self._transactions[bytes.fromhex(tx_hash[2:])]
            del self._blocks[blocks:], self._logs[logs:]
            self._next_time = next_time
            return True

    # ---------------------------------------------------------------------------- reading

    def block(self, ident: Any, full: bool = False) -> dict[str, Any] | None:
        if ident == "pending":
            with self._lock:
                pending = dict(self.head, number=hex(len(self._blocks)), hash=None, parentHash=self.head["hash"],
                               timestamp=hex(self.pending_time()), baseFeePerGas=hex(self.base_fee_next()),
                               gasUsed="0x0", transactions=[], nonce=None, miner=None)
                return pending
        if isinstance(ident, str) and len(ident) == 66:  # a block hash
            found = [b for b in self._blocks if b["hash"] == ident.lower()]
            block = found[0] if found else None
        else:
            number = self._number(ident)
            block = self._blocks[number] if number < len(self._blocks) else None
        if block is not None and full:
            block = dict(block, transactions=[self._transactions[bytes.fromhex(h[2:])][0] for h in block["transactions"]])
        return block

    def _number(self, ident: Any) -> int:
        if ident in (None, "latest", "safe", "finalized"):
            return len(self._blocks) - 1
        if ident == "earliest":
            return 0
        if ident == "pending":
            return len(self._blocks)
        return _int(ident)

    def logs(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """``eth_getLogs``: the logs in a block range (or one block by hash) matching the address
        and topic filters, in chain order."""
        if query.get("blockHash"):
            block = self.block(query["blockHash"])
            if block is None:
                raise RpcError(f"unknown block {query['blockHash']}")
            first = last = int(block["number"], 16)
        else:
            first, last = self._number(query.get("fromBlock")), self._number(query.get("toBlock"))
            last = min(last, len(self._blocks) - 1)
        addresses = query.get("address")
        wanted = None if not addresses else {a.lower() for a in ([addresses] if isinstance(addresses, str) else addresses)}
        topics = [None if t is None else {x.lower() for x in ([t] if isinstance(t, str) else t)}
                  for t in (query.get("topics") or [])]
        found = []
        for entry in self._logs_from(first):
            number = int(entry["blockNumber"], 16)
            if number > last:
                break
            if wanted is not None and entry["address"].lower() not in wanted:
                continue
            if len(topics) > len(entry["topics"]) or any(
                    t is not None and entry["topics"][i] not in t for i, t in enumerate(topics)):
                continue
            found.append(entry)
        return found

    def _logs_from(self, block: int) -> list[dict[str, Any]]:
        """The logs of ``block`` and later (a bisection over the logs, which are in block order)."""
        low, high = 0, len(self._logs)
        while low < high:
            middle = (low + high) // 2
            if int(self._logs[middle]["blockNumber"], 16) < block:
                low = middle + 1
            else:
                high = middle
        return self._logs[low:]

    def nonce(self, address: str) -> int:
        with self._lock:
            return self._evm.account(to_checksum_address(address))[1]

    def balance(self, address: str) -> int:
        with self._lock:
            return self._evm.account(to_checksum_address(address))[0]

    def code(self, address: str) -> bytes:
        with self._lock:
            return self._evm.code(to_checksum_address(address))

    def storage(self, address: str, key: int) -> bytes:
        with self._lock:
            return self._evm.storage(to_checksum_address(address), key).to_bytes(32, "big")

    def transaction(self, tx_hash: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        return self._transactions.get(bytes.fromhex(tx_hash.removeprefix("0x")))

    def fee_history(self, count: int, newest: Any, percentiles: list[float]) -> dict[str, Any]:
        last = self._number(newest)
        first = max(0, last - count + 1)
        blocks = self._blocks[first:last + 1]
        rewards = []
        for block in blocks:
            tips = [int(self._transactions[bytes.fromhex(h[2:])][1]["effectiveGasPrice"], 16) - int(block["baseFeePerGas"], 16)
                    for h in block["transactions"]]
            rewards.append([hex(max(tips) if tips else 0) for _ in percentiles])
        return {"oldestBlock": hex(first), "baseFeePerGas": [b["baseFeePerGas"] for b in blocks] + [hex(self.base_fee_next())],
                "gasUsedRatio": [int(b["gasUsed"], 16) / self.gas_limit for b in blocks], "reward": rewards}


def _prevrandao(block_hash: bytes) -> bytes:
    """A block's random mix: fixed by its hash, so runs repeat (the contract draws from
    ``blockhash``, not from this)."""
    return keccak(b"prevrandao" + block_hash)


def _records(tx: _Transaction, outcome: Outcome, price: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The transaction and receipt objects a node returns (block fields filled in when sealed)."""
    tx_hash = _data(tx.hash)
    transaction: dict[str, Any] = {
        "hash": tx_hash, "from": tx.sender, "to": tx.to, "nonce": hex(tx.nonce), "gas": hex(tx.gas),
        "value": hex(tx.value), "input": _data(tx.data), "type": hex(tx.type), "gasPrice": hex(price),
        "v": "0x0", "r": "0x0", "s": "0x0",
    }
    if tx.chain_id is not None:
        transaction["chainId"] = hex(tx.chain_id)
    if tx.max_fee is not None:
        transaction.update(maxFeePerGas=hex(tx.max_fee), maxPriorityFeePerGas=hex(int(tx.max_tip or 0)),
                           accessList=[])
    logs = [{"address": address, "topics": [_data(t) for t in topics], "data": _data(data),
             "transactionHash": tx_hash, "removed": False} for address, topics, data in outcome.logs]
    receipt = {
        "transactionHash": tx_hash, "from": tx.sender, "to": tx.to, "type": hex(tx.type),
        "status": "0x1" if outcome.success else "0x0", "gasUsed": hex(outcome.gas_used),
        "cumulativeGasUsed": hex(outcome.gas_used), "effectiveGasPrice": hex(price),
        "contractAddress": outcome.created if outcome.success else None, "logs": logs,
        "logsBloom": _data(logs_bloom(outcome.logs)),
    }
    return transaction, receipt


def _reverted(outcome: Outcome) -> RpcError:
    """A failed call as anvil reports it: code 3 and the revert data, or the halt's reason."""
    if outcome.halt is not None and outcome.halt != "None":
        return RpcError(f"EVM error {outcome.halt}")
    return RpcError("execution reverted", code=3, data=_data(outcome.output))


def _worded(message: str) -> str:
    """revm's refusals in the words geth and anvil use (the transaction sender matches them)."""
    if "LackOfFund" in message:
        return f"insufficient funds for gas * price + value ({message})"
    if "CallGasCostMoreThanGasLimit" in message or "Initial gas spend" in message:
        return f"intrinsic gas too low ({message})"
    return message


def _int(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    return int(value, 16) if str(value).startswith("0x") else int(value)


def _address(value: Any) -> str | None:
    return None if value is None else to_checksum_address(value)


def _bytes(request: dict[str, Any]) -> bytes:
    data = request.get("data") or request.get("input") or "0x"
    return bytes.fromhex(data[2:]) if isinstance(data, str) else bytes(data)


class EmbeddedProvider(BaseProvider):
    """web3's way in to an ``EmbeddedNode``: JSON-RPC requests answered in this process."""

    embedded = True
    """Marks the embedded chain for the ledger client (no reorganisations, a nonce counted here)."""

    def __init__(self, node: EmbeddedNode) -> None:
        super().__init__()
        self.node = node
        self._methods = _methods(node)

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        handler = self._methods.get(str(method))
        if handler is None:
            return {"jsonrpc": "2.0", "id": 0, "error": {"code": -32601, "message": f"method {method} not found"}}
        try:
            return {"jsonrpc": "2.0", "id": 0, "result": handler(*(params or []))}
        except RpcError as error:
            return {"jsonrpc": "2.0", "id": 0, "error": error.response()}  # type: ignore[typeddict-item]

    def is_connected(self, show_traceback: bool = False) -> bool:
        return True


def _methods(node: EmbeddedNode) -> dict[str, Any]:
    """The JSON-RPC methods the node answers, by name."""

    def call(request: dict[str, Any], block: Any = "latest", *_: Any) -> str:
        outcome = node.call(request, block)
        if not outcome.success:
            raise _reverted(outcome)
        return _data(outcome.output)

    def receipt(tx_hash: str) -> dict[str, Any] | None:
        found = node.transaction(tx_hash)
        return None if found is None else found[1]

    def transaction(tx_hash: str) -> dict[str, Any] | None:
        found = node.transaction(tx_hash)
        return None if found is None else found[0]

    def mine(*params: Any) -> str:
        node.mine(_int(params[0]) if params and params[0] is not None else None)
        return "0x0"

    def increase_time(seconds: Any) -> str:
        node.set_next_time(node.pending_time() + _int(seconds))
        return hex(_int(seconds))

    return {
        "web3_clientVersion": lambda: CLIENT_VERSION,
        "net_version": lambda: str(node.chain_id),
        "net_listening": lambda: False,
        "eth_chainId": lambda: hex(node.chain_id),
        "eth_syncing": lambda: False,
        "eth_accounts": lambda: list(node.keys),
        "eth_blockNumber": lambda: node.head["number"],
        "eth_gasPrice": lambda: hex(node.gas_price()),
        "eth_maxPriorityFeePerGas": lambda: hex(10**9),
        "eth_feeHistory": lambda count, newest, percentiles=(): node.fee_history(_int(count), newest, list(percentiles or [])),
        "eth_getBalance": lambda address, block="latest": hex(node.balance(address)),
        "eth_getTransactionCount": lambda address, block="latest": hex(node.nonce(address)),
        "eth_getCode": lambda address, block="latest": _data(node.code(address)),
        "eth_getStorageAt": lambda address, key, block="latest": _data(node.storage(address, _int(key))),
        "eth_getBlockByNumber": lambda ident, full=False: node.block(ident, full),
        "eth_getBlockByHash": lambda ident, full=False: node.block(ident, full),
        "eth_getTransactionByHash": transaction,
        "eth_getTransactionReceipt": receipt,
        "eth_sendRawTransaction": lambda raw: _data(node.send(bytes.fromhex(raw.removeprefix("0x")))),
        "eth_sendTransaction": lambda request: _data(node.send_unsigned(request)),
        "eth_call": call,
        "eth_estimateGas": lambda request, block="pending", *_: hex(node.estimate_gas(request, block)),
        "eth_getLogs": lambda query: node.logs(query),
        "evm_mine": mine,
        "evm_increaseTime": increase_time,
        "evm_setNextBlockTimestamp": lambda timestamp: node.set_next_time(_int(timestamp)),
        "evm_snapshot": lambda: hex(node.snapshot()),
        "evm_revert": lambda ident: node.revert(_int(ident)),
    }
