"""Connections to a chain: the embedded one (eth-tester in this process) or any JSON-RPC URL."""

from __future__ import annotations

import time
from typing import Any

from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.middleware import ExtraDataToPOAMiddleware

from learnledger.ledger.api import LedgerError

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
        self.follows_wall_clock = start_time is None
        self.w3 = Web3(_ClockedTesterProvider(self))
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

    def make_request(self, method: Any, params: Any) -> Any:
        self._chain.catch_up_with_wall_clock()
        return super().make_request(method, params)


def rpc_web3(rpc_url: str, timeout: float = 10.0) -> Web3:
    """A Web3 on ``rpc_url`` (not yet asked anything) that reads proof-of-authority blocks too.

    A Clique block carries its signers and seal in a longer extraData than the 32 bytes web3 allows
    by default; the POA middleware moves it aside, and changes nothing on other chains."""
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
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
