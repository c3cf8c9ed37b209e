"""A local devnet: anvil (from node_modules) on 127.0.0.1, its public dev accounts, clean stops.

It may also listen on another address, or run under a command prefix such as
``ip netns exec HUB`` (a devnet in its own network namespace, as on another host).

The accounts are anvil's well-known ones, derived from the public test mnemonic: anyone can
spend from them on any chain, so they serve only on a devnet.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from learnledger.ledger.api import LedgerError
from learnledger.ledger.artifact import REPO_ROOT
from learnledger.ledger.chain import connect

ANVIL = REPO_ROOT / "node_modules" / ".bin" / "anvil"
"""npm's launcher (a node script that starts the platform's binary and forwards signals)."""
DEVNET_MNEMONIC = "test test test test test test test test test test test junk"
"""anvil's (and Hardhat's) public test mnemonic. PUBLIC: never hold real value with it."""

DEVNET_HARDFORK = "prague"
"""The fork anvil runs: the one the embedded chain (node.py, revm) also runs, so both chains price
gas alike. The artifacts target an older EVM (compile.EVM_VERSION), which newer forks run unchanged."""

STARTUP_TIMEOUT = 30.0
STATE_INTERVAL = 5
"""Seconds between state dumps while running, so a killed devnet loses at most this much."""


def devnet_accounts(count: int) -> list[tuple[str, str]]:
    """(address, private key) of the first ``count`` public devnet accounts."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    accounts = []
    for i in range(count):
        account = Account.from_mnemonic(DEVNET_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
        accounts.append((account.address, "0x" + bytes(account.key).hex()))
    return accounts


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PORT_RELEASE_TIMEOUT = 5.0
"""Seconds to wait for a port that a devnet just stopped on to be released (restarts on one port)."""


def _wait_for_free_port(port: int, timeout: float, host: str = "127.0.0.1") -> bool:
    deadline = time.monotonic() + timeout
    while not port_is_free(port, host):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        # like a server, ignore connections of a previous run lingering in TIME_WAIT
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def anvil_path() -> Path:
    """The pinned anvil binary, or LedgerError saying how to install it.

    The platform's native binary that npm installed beside the launcher is preferred: the node
    launcher exits as soon as it has forwarded a stop signal, before anvil has saved its state, so
    waiting for it would not wait for the save, and killing it would leave anvil running.
    """
    if not ANVIL.exists():
        raise LedgerError(f"anvil is not installed at {ANVIL}: run `npm ci` (or scripts/setup.sh)")
    native = sorted(ANVIL.resolve().parent.parent.glob("anvil-*/bin/anvil"))
    return native[0] if native else ANVIL


def _default_stop_signals() -> None:
    """In the child before exec: SIGINT and SIGTERM at their defaults, whatever this process inherited
    (a background job ignores SIGINT), so that anvil installs its own save-and-exit handlers."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class Devnet:
    """anvil on 127.0.0.1 (or ``host``), started on entering and stopped on leaving (or ``start``/``stop``).

    Args:
        port: the port to listen on. Default: a free one (free here; any port is free in a fresh
            network namespace that ``wrapper`` enters).
        state: a file to load the chain from if it exists, and to save it to while running and on
            stop. Default: none (the chain is lost on stop).
        accounts: how many funded public dev accounts. Default 10.
        block_time: seconds between blocks; None mines each transaction at once. Default None.
        host: the IPv4 address to listen on, and that ``rpc_url`` names. Default 127.0.0.1.
        wrapper: a command prefix anvil runs under, e.g. ``["ip", "netns", "exec", "hub"]``. It must
            exec anvil in its own process (as ``ip netns exec`` does), so that stop's SIGINT reaches
            anvil. ``host`` must then be reachable from this process. Default: none.
    """

    def __init__(
        self,
        port: int | None = None,
        state: Path | None = None,
        accounts: int = 10,
        block_time: float | None = None,
        host: str = "127.0.0.1",
        wrapper: Sequence[str] = (),
    ) -> None:
        self.port = port or free_port()
        self.host = host
        self.wrapper = list(wrapper)
        self.state = Path(state) if state else None
        self.account_count = accounts
        self.block_time = block_time
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()
        self.accounts: list[tuple[str, str]] = []

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        command = [
            *self.wrapper,
            str(anvil_path()),
            "--host", self.host,
            "--port", str(self.port),
            "--accounts", str(self.account_count),
            "--hardfork", DEVNET_HARDFORK,
        ]  # fmt: skip
        if self.block_time is not None:
            command += ["--block-time", str(self.block_time)]
        if self.state is not None:
            command += ["--state", str(self.state), "--state-interval", str(STATE_INTERVAL)]
        return command

    def start(self) -> Devnet:
        if self._process is not None:
            return self
        # The probe binds in this process's network namespace: meaningless for a wrapped anvil,
        # which may run in another; there anvil's own "in use" error (below) says it.
        if not self.wrapper and not _wait_for_free_port(self.port, PORT_RELEASE_TIMEOUT, self.host):
            raise LedgerError(
                f"port {self.port} on {self.host} is in use (another devnet?); pass another --port"
            )
        self._process = subprocess.Popen(
            self.command(), stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_default_stop_signals,
        )
        try:
            connect(self.rpc_url, timeout=STARTUP_TIMEOUT)
        except LedgerError:
            output = self._output()
            self.stop()
            raise LedgerError(
                f"anvil did not start on {self.rpc_url}; its output:\n{output}"
                + ("\n(is the port in use? pass another --port)" if "in use" in output else "")
            ) from None
        self.accounts = devnet_accounts(self.account_count)
        return self

    def _output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-4000:]

    @property
    def pid(self) -> int | None:
        """The process id of the started anvil, or None when not started."""
        return self._process.pid if self._process is not None else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Stop anvil; with ``state`` it saves the chain first (anvil dumps on SIGINT)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def wait(self) -> int:
        """Block until anvil exits (e.g. Ctrl-C on the terminal); return its exit status."""
        assert self._process is not None, "start the devnet first"
        return self._process.wait()

    def __enter__(self) -> Devnet:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __del__(self) -> None:
        # a devnet forgotten without stop() must not outlive its owner
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        if hasattr(self, "_log"):
            self._log.close()  # kept open across stop() so that start() can run again
