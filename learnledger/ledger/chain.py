"""Connections to a chain: the embedded one (eth-tester in this process) or any JSON-RPC URL."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.middleware import ExtraDataToPOAMiddleware

from learnledger.ledger.api import LedgerError

UNUSED_MIDDLEWARE = ("gas_price_strategy", "ens_name_to_address", "validation", "gas_estimate")
"""web3's default layers that serve nothing here, yet wrap every request: transactions are signed
here with their gas, fees and chain id set (so no gas price strategy, gas estimate or chain-id
validation, which asked the node for the chain id on every call), and no address is an ENS name.
Dropping them took a fifth of the embedded chain's client time."""

EMBEDDED_GAS_LIMIT = 60_000_000
"""Block gas limit of the embedded chain: room to deploy a 256-member roster (about 24M gas) with
margin. Mainnet-like chains allow 30-36M, also enough."""


class EmbeddedChain:
    """An Ethereum chain inside this process (eth-tester on py-evm), with funded accounts.

    Every transaction is mined in its own block at once. Time moves with the wall clock, or, when
    ``start_time`` lies ahead of it, exactly one second per block (reproducible runs); either way
    ``time_travel`` jumps ahead.

    Args:
        accounts: how many funded accounts to create. Default 10.
        start_time: the genesis timestamp (unix seconds). Default: now.
    """

    def __init__(self, accounts: int = 10, start_time: int | None = None) -> None:
        from eth_tester import EthereumTester, PyEVMBackend

        if accounts < 1:
            raise LedgerError(f"an embedded chain needs at least 1 account, received: accounts={accounts}")
        overrides: dict[str, Any] = {"gas_limit": EMBEDDED_GAS_LIMIT}
        if start_time is not None:
            overrides["timestamp"] = int(start_time)
        backend = PyEVMBackend(
            genesis_parameters=PyEVMBackend.generate_genesis_params(overrides=overrides),
            genesis_state=PyEVMBackend.generate_genesis_state(num_accounts=accounts),
        )
        self.tester = EthereumTester(backend)
        self._backend = backend
        self._reads: dict[Hashable, Any] = {}
        self._reads_state: tuple[int, int, bytes] | None = None
        self.follows_wall_clock = start_time is None
        self.w3 = lean(Web3(_ClockedTesterProvider(self)))
        self.accounts: list[tuple[str, str]] = [
            (key.public_key.to_checksum_address(), "0x" + key.to_bytes().hex())
            for key in backend.account_keys
        ]

    def now(self) -> int:
        """The timestamp the next transaction will see."""
        return int(self.w3.eth.get_block("pending")["timestamp"])

    def catch_up_with_wall_clock(self) -> None:
        """Stamp the pending block with the wall clock if it lags (eth-tester fixes a pending
        block's time when the previous block is mined, so an idle chain would stop its clock)."""
        if not self.follows_wall_clock:
            return
        chain = self._backend.chain
        now = int(time.time())
        if chain.header.timestamp < now:
            chain.header = chain.header.copy(timestamp=now)

    def state_version(self) -> tuple[int, int, bytes]:
        """What every read of the next block depends on: its number, its time, and the hash of the
        block before it. Equal versions mean equal state, so a read may be served from ``remember``."""
        self.catch_up_with_wall_clock()
        header = self._backend.chain.header
        return int(header.block_number), int(header.timestamp), bytes(header.parent_hash)

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
        """Make the next transaction see block time ``timestamp`` (exact when time runs one second
        per block; must lie at least two seconds after the latest block)."""
        latest = int(self.w3.eth.get_block("latest")["timestamp"])
        if timestamp < latest + 2:
            raise LedgerError(
                f"cannot move the clock back or in place: timestamp={timestamp}, latest block at {latest}"
            )
        self.tester.time_travel(timestamp)  # mines an empty block one second before it

    def time_travel(self, seconds: int) -> None:
        """Move the clock ``seconds`` ahead: the next transaction sees ``now() + seconds``."""
        if seconds < 1:
            raise LedgerError(f"time only travels forward, received: seconds={seconds}")
        self.tester.time_travel(self.now() + int(seconds))


class _ClockedTesterProvider(EthereumTesterProvider):
    """eth-tester's provider, keeping the embedded chain's clock current before each request."""

    def __init__(self, chain: EmbeddedChain) -> None:
        super().__init__(chain.tester)
        self._chain = chain
        self.remember = chain.remember
        """Reads of one state answered once (``EmbeddedChain.remember``), for the ledger client."""

    def make_request(self, method: Any, params: Any) -> Any:
        self._chain.catch_up_with_wall_clock()
        return super().make_request(method, params)


def lean(w3: Web3) -> Web3:
    """``w3`` without the ``UNUSED_MIDDLEWARE`` layers."""
    present = {name for _, name in w3.middleware_onion.middleware}
    for name in UNUSED_MIDDLEWARE:
        if name in present:
            w3.middleware_onion.remove(name)
    return w3


def rpc_web3(rpc_url: str, timeout: float = 10.0) -> Web3:
    """A Web3 on ``rpc_url`` (not yet asked anything) that reads proof-of-authority blocks too.

    A Clique block carries its signers and seal in a longer extraData than the 32 bytes web3 allows
    by default; the POA middleware moves it aside, and changes nothing on other chains."""
    w3 = lean(Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout})))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


def connect(rpc_url: str, timeout: float = 10.0) -> Web3:
    """A Web3 on ``rpc_url`` that has answered once; LedgerError if nothing answers there."""
    if not rpc_url.startswith(("http://", "https://")):
        raise LedgerError(f"an RPC URL starts with http:// or https://, received: {rpc_url!r}")
    w3 = rpc_web3(rpc_url, timeout)
    deadline = time.monotonic() + timeout
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
            time.sleep(0.2)


def chain_clock(w3: Web3) -> float:
    """The chain's idea of now: the latest block's time, or the wall clock if that is later
    (a devnet mines only on demand, so its latest block may be old)."""
    return max(float(w3.eth.get_block("latest")["timestamp"]), time.time())
