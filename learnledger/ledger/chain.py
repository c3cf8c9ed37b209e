"""Connections to a chain: the embedded one (an EVM node in this process) or any JSON-RPC URL."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware

from learnledger.ledger.api import LedgerError
from learnledger.ledger.transport import KeepAliveProvider

T = TypeVar("T")

UNUSED_MIDDLEWARE = ("gas_price_strategy", "ens_name_to_address", "validation", "gas_estimate")
"""web3's default layers that serve nothing here, yet wrap every request: transactions are signed
here with their gas, fees and chain id set (so no gas price strategy, gas estimate or chain-id
validation, which asked the node for the chain id on every call), and no address is an ENS name.
Dropping them took a fifth of the embedded chain's client time."""

EMBEDDED_GAS_LIMIT = 60_000_000
"""Block gas limit of the embedded chain: room to deploy a 256-member roster (about 24M gas) with
margin. Mainnet-like chains allow 30-36M, also enough."""
EMBEDDED_CHAIN_ID = 131277322940537
"""A private chain id (eth-tester's, which the embedded chain used before)."""
EMBEDDED_BALANCE = 10**24
"""What each funded account holds at genesis: a million ether."""


def embedded_keys(count: int) -> list[str]:
    """The private keys 1, 2, ... ``count`` (32 bytes, hex): PUBLIC, well-known test keys, the ones
    eth-tester funds, so the embedded chain's accounts are the same in every run and every tool."""
    return ["0x" + i.to_bytes(32, "big").hex() for i in range(1, count + 1)]


def is_embedded(w3: Web3) -> bool:
    """Whether ``w3`` talks to the embedded chain (mined at once, no reorganisations)."""
    return bool(getattr(w3.provider, "embedded", False))


class EmbeddedChain:
    """An Ethereum chain inside this process (``node.EmbeddedNode``: revm), with funded accounts.

    Every transaction is mined in its own block at once. Time moves with the wall clock, or, when
    ``start_time`` is given, exactly one second per block (reproducible runs); either way
    ``time_travel`` jumps ahead.

    Args:
        accounts: how many funded accounts to create (public test keys 1, 2, ...). Default 10.
        start_time: the genesis timestamp (unix seconds). Default: now.
    """

    def __init__(self, accounts: int = 10, start_time: int | None = None) -> None:
        from eth_account import Account

        from learnledger.ledger.node import EmbeddedNode, EmbeddedProvider  # revm only when wanted

        if accounts < 1:
            raise LedgerError(f"an embedded chain needs at least 1 account, received: accounts={accounts}")
        keys = embedded_keys(accounts)
        self.accounts: list[tuple[str, str]] = [(Account.from_key(key).address, key) for key in keys]
        self.node = EmbeddedNode(dict(self.accounts), balance=EMBEDDED_BALANCE, chain_id=EMBEDDED_CHAIN_ID,
                                 gas_limit=EMBEDDED_GAS_LIMIT, start_time=start_time)
        self._reads: dict[Hashable, Any] = {}
        self._reads_state: tuple[int, int] | None = None
        provider = EmbeddedProvider(self.node)
        provider.remember = self.remember  # type: ignore[attr-defined]
        """Reads of one state answered once (``EmbeddedChain.remember``), for the ledger client."""
        self.w3 = lean(Web3(provider))

    def now(self) -> int:
        """The timestamp the next transaction will see."""
        return self.node.pending_time()

    def state_version(self) -> tuple[int, int]:
        """What every read of the next block depends on: the newest block and the next one's time.
        Equal versions mean equal state, so a read may be served from ``remember``."""
        return int(self.node.head["number"], 16), self.node.pending_time()

    def remember(self, key: Hashable, read: Callable[[], T]) -> T:
        """``read()``, or what it returned for ``key`` while the chain's state was the same.

        Every member's handle in this process asks the same questions of the same state (the shared
        model, a proposal, the round's state): one execution answers all of them until a block is
        mined or the clock moves on. Only results are kept; a read that raises is asked again."""
        version = self.state_version()
        if version != self._reads_state:
            self._reads, self._reads_state = {}, version
        if key not in self._reads:
            self._reads[key] = read()
        return self._reads[key]

    def advance_to(self, timestamp: int) -> None:
        """Make the next transaction see block time ``timestamp`` (later than the newest block's)."""
        latest = int(self.node.head["timestamp"], 16)
        if timestamp <= latest:
            raise LedgerError(
                f"cannot move the clock back or in place: timestamp={timestamp}, latest block at {latest}"
            )
        self.node.set_next_time(int(timestamp))

    def time_travel(self, seconds: int) -> None:
        """Move the clock ``seconds`` ahead: the next transaction sees ``now() + seconds``."""
        if seconds < 1:
            raise LedgerError(f"time only travels forward, received: seconds={seconds}")
        self.node.set_next_time(self.now() + int(seconds))

    def mine_blocks(self, count: int = 1) -> None:
        """Mine ``count`` empty blocks (one second apart when time runs one second per block)."""
        for _ in range(count):
            self.node.mine()

    def snapshot(self) -> int:
        """Keep the chain as it is; ``revert`` goes back to it (for tests that try and undo)."""
        return self.node.snapshot()

    def revert(self, snapshot: int) -> None:
        if not self.node.revert(snapshot):
            raise LedgerError(f"no snapshot {snapshot} to revert to (each is used once)")


def lean(w3: Web3) -> Web3:
    """``w3`` without the ``UNUSED_MIDDLEWARE`` layers."""
    present = {name for _, name in w3.middleware_onion.middleware}
    for name in UNUSED_MIDDLEWARE:
        if name in present:
            w3.middleware_onion.remove(name)
    return w3


def raw_request(w3: Web3, method: str, params: list[Any]) -> Any:
    """``method``'s result as the node sends it (hex text, no formatting), straight from ``w3``'s
    provider: for the hot reads (views, logs), where web3's formatting costs more than the embedded
    node's answer, and which no middleware needs to see. An error answer raises Web3RPCError with
    the node's response (its revert data included)."""
    response = w3.provider.make_request(method, params)  # type: ignore[arg-type]
    if "error" in response:
        raise Web3RPCError(f"{method}: {response['error']}", rpc_response=response)
    return response.get("result")


def quantity(value: int | str) -> int:
    """A JSON-RPC quantity as a node sends it (hex text), or as a provider formatted it (an int)."""
    return int(value, 16) if isinstance(value, str) else int(value)


def data_bytes(value: str | bytes) -> bytes:
    """JSON-RPC data as a node sends it (0x-prefixed hex text), or as a provider formatted it."""
    return bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)


def rpc_web3(rpc_url: str, timeout: float = 10.0) -> Web3:
    """A Web3 on ``rpc_url`` (not yet asked anything) that reads proof-of-authority blocks too, over
    one kept-alive connection per thread (``transport.KeepAliveProvider``).

    A Clique block carries its signers and seal in a longer extraData than the 32 bytes web3 allows
    by default; the POA middleware moves it aside, and changes nothing on other chains."""
    w3 = lean(Web3(KeepAliveProvider(rpc_url, timeout)))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


CONNECT_FIRST_POLL_S = 0.01
CONNECT_POLL_S = 0.2
"""A node not answering yet is asked again after pauses doubling from 10 ms to 0.2 s: a devnet
started a moment ago answers within some 30 ms, and a fixed 0.2 s wait was most of its start."""


def connect(rpc_url: str, timeout: float = 10.0) -> Web3:
    """A Web3 on ``rpc_url`` that has answered once; LedgerError if nothing answers there."""
    if not rpc_url.startswith(("http://", "https://")):
        raise LedgerError(f"an RPC URL starts with http:// or https://, received: {rpc_url!r}")
    w3 = rpc_web3(rpc_url, timeout)
    deadline = time.monotonic() + timeout
    pause = CONNECT_FIRST_POLL_S
    while True:
        try:
            w3.eth.chain_id
            return w3
        except Exception as error:  # connection refused, timeout, bad gateway...
            if time.monotonic() >= deadline:
                raise LedgerError(
                    f"no Ethereum node answers at {rpc_url} ({type(error).__name__}: {error}); "
                    "start one (`learnledger devnet`) or check the URL"
                ) from None
            time.sleep(pause)
            pause = min(2 * pause, CONNECT_POLL_S)


def chain_clock(w3: Web3) -> float:
    """The chain's idea of now: the latest block's time, or the wall clock if that is later
    (a devnet mines only on demand, so its latest block may be old)."""
    return max(float(w3.eth.get_block("latest")["timestamp"]), time.time())
