"""A lab's own kubo (IPFS) daemon, configured to talk only to the consortium's other nodes.

A consortium runs one IPFS node per lab; weights move between labs by bitswap. A model the
consortium has not published must not leak to the public IPFS network, so the node is private
from its first start:

- no bootstrap peers, no MDNS, no DHT or other routing (``Routing.Type = none``), no AutoConf,
  AutoNAT, AutoTLS, HTTP retrieval, relays, hole punching or UPnP: it dials only the peers it is
  told to; the telemetry plugin (which would report usage over HTTPS) is disabled, in the config
  and by ``IPFS_TELEMETRY=off``, and ``scripts/engines.sh`` builds kubo without its endpoint;
- its swarm, RPC and gateway listen on one address (loopback, or a lab's own address in a network
  namespace) and ``Swarm.AddrFilters`` denies every other network, so even a peer that announces a
  public address is never dialled there;
- optionally a private swarm key (``swarm.key``, with ``LIBP2P_FORCE_PNET=1``): only nodes holding
  the same key can open a connection at all; QUIC and the other transports that cannot carry a
  private network are switched off, leaving TCP.

The daemon's repo (``IPFS_PATH``) is a folder of its own. Ports default to 0 (any free one); the
node's actual RPC URL and peer multiaddr are read back from the running daemon.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from learnledger.store.api import StoreError
from learnledger.store.kubo import KuboStore

KUBO_VERSION = "0.43.0"
"""The kubo release ``scripts/engines.sh`` builds and these settings are written for."""

ENGINES_BIN = Path(__file__).resolve().parents[2] / ".engines" / "bin"
SWARM_KEY_HEADER = "/key/swarm/psk/1.0.0/\n/base16/\n"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


class KuboNodeError(StoreError):
    """The kubo daemon could not be set up, started, stopped or connected; the message says why."""


def find_ipfs() -> Path | None:
    """The kubo binary: ``$LEARNLEDGER_IPFS``, else ``.engines/bin/ipfs``, else ``ipfs`` on PATH."""
    named = os.environ.get("LEARNLEDGER_IPFS")
    if named:
        return Path(named) if Path(named).is_file() else None
    built = ENGINES_BIN / "ipfs"
    if built.is_file():
        return built
    found = shutil.which("ipfs")
    return Path(found) if found else None


def new_swarm_key() -> str:
    """A fresh private-network key in the format kubo reads from ``swarm.key``."""
    return f"{SWARM_KEY_HEADER}{secrets.token_hex(32)}\n"


def denied_networks(allowed: Sequence[str]) -> list[str]:
    """``Swarm.AddrFilters`` entries that deny every address outside the ``allowed`` IPv4 networks.

    The complement of the allowed networks in IPv4, plus all of IPv6, as multiaddr CIDRs.
    """
    remaining = [ipaddress.IPv4Network("0.0.0.0/0")]
    for text in allowed:
        network = ipaddress.IPv4Network(text, strict=False)
        next_remaining: list[ipaddress.IPv4Network] = []
        for block in remaining:
            if network.subnet_of(block):
                next_remaining.extend(block.address_exclude(network))
            elif not block.subnet_of(network):
                next_remaining.append(block)
        remaining = next_remaining
    return [f"/ip4/{block.network_address}/ipcidr/{block.prefixlen}" for block in sorted(remaining)] + \
        ["/ip6/::/ipcidr/0"]


class KuboNode:
    """One kubo daemon with a private configuration and its own repo.

    Args:
        repo: the node's ``IPFS_PATH``; initialised on first ``start`` if empty.
        host: the address it listens on (swarm, RPC, gateway); default 127.0.0.1.
        api_port, swarm_port: TCP ports (0: any free port, read back once started).
        swarm_key: text of a private-network key (``new_swarm_key()``); None for none. Written
            to ``repo/swarm.key`` and enforced with ``LIBP2P_FORCE_PNET=1``.
        peer_networks: IPv4 networks its peers may be dialled on (default: 127.0.0.0/8 and, for
            another host address, that address's /16); everything else is filtered.
        binary: the kubo executable (default: ``find_ipfs()``).
        log: file the daemon prints to (default ``repo/daemon.log``).
    """

    def __init__(self, repo: Path, host: str = "127.0.0.1", api_port: int = 0, swarm_port: int = 0,
                 swarm_key: str | None = None, peer_networks: Sequence[str] | None = None,
                 binary: Path | None = None, log: Path | None = None,
                 command_prefix: Sequence[str] = ()) -> None:
        self.repo = Path(repo).resolve()
        self.host = host
        self.api_port = api_port
        self.swarm_port = swarm_port
        self.swarm_key = swarm_key
        if peer_networks is None:
            peer_networks = ["127.0.0.0/8"] + ([] if host.startswith("127.") else [f"{host}/16"])
        self.peer_networks = list(peer_networks)
        found = binary or find_ipfs()
        if found is None:
            raise KuboNodeError(
                "kubo (ipfs) is not installed: run scripts/engines.sh (needs Go) to build the pinned "
                f"kubo v{KUBO_VERSION} into {ENGINES_BIN}, or put ipfs on PATH, or set LEARNLEDGER_IPFS")
        self.binary = Path(found)
        self.log = log or self.repo / "daemon.log"
        self.command_prefix = list(command_prefix)
        self.process: subprocess.Popen[bytes] | None = None
        self._rpc_url: str | None = None
        self._log_start = 0

    def __repr__(self) -> str:
        return f"KuboNode({str(self.repo)!r}, rpc={self._rpc_url!r})"

    @staticmethod
    def version_of_binary(binary: Path | None = None) -> str:
        """The kubo release of ``binary`` (default ``find_ipfs()``), e.g. ``0.43.0``."""
        found = binary or find_ipfs()
        if found is None:
            raise KuboNodeError("kubo (ipfs) is not installed: run scripts/engines.sh")
        done = subprocess.run([str(found), "version", "--number"], capture_output=True, text=True,
                              timeout=60)
        return done.stdout.strip()

    # ------------------------------------------------------------------ set-up

    @property
    def initialised(self) -> bool:
        return (self.repo / "config").is_file()

    def init(self) -> None:
        """Create the repo with the private configuration (a no-op on an existing one, but the
        configuration is written again, so a repo made elsewhere is made private too)."""
        self.repo.mkdir(parents=True, exist_ok=True)
        if not self.initialised:
            self._ipfs("init", "--profile=test", "--empty-repo")
        self.configure()

    def configure(self) -> None:
        """Write the private configuration into the repo's config file (the daemon must be down)."""
        path = self.repo / "config"
        config = json.loads(path.read_text())
        address = f"/ip4/{self.host}/tcp/"
        config["Addresses"].update({
            "API": [f"{address}{self.api_port}"],
            "Gateway": [f"{address}0"],
            "Swarm": [f"{address}{self.swarm_port}"],
            "Announce": [], "AppendAnnounce": [], "NoAnnounce": [],
        })
        config["Bootstrap"] = []
        config.setdefault("Discovery", {}).setdefault("MDNS", {})["Enabled"] = False
        config.setdefault("Routing", {})["Type"] = "none"
        config["Routing"]["DelegatedRouters"] = []
        config.setdefault("AutoConf", {})["Enabled"] = False
        config.setdefault("AutoTLS", {})["Enabled"] = False
        config.setdefault("AutoNAT", {})["ServiceMode"] = "disabled"
        config.setdefault("Provide", {})["Enabled"] = False
        config.setdefault("Ipns", {})["DelegatedPublishers"] = []
        config["DNS"] = {"Resolvers": {}}
        config.setdefault("HTTPRetrieval", {})["Enabled"] = False
        # kubo 0.43 reports usage over HTTPS after 15 minutes unless told not to: never.
        plugins = config.setdefault("Plugins", {}).setdefault("Plugins", {}) or {}
        config["Plugins"]["Plugins"] = plugins
        plugins["telemetry"] = {"Disabled": True, "Config": {"Mode": "off"}}
        swarm = config.setdefault("Swarm", {})
        swarm["AddrFilters"] = denied_networks(self.peer_networks)
        swarm["DisableNatPortMap"] = True
        swarm["EnableHolePunching"] = False
        swarm["RelayClient"] = {"Enabled": False}
        swarm["RelayService"] = {"Enabled": False}
        swarm["Transports"] = {"Network": {"TCP": True, "QUIC": False, "WebTransport": False,
                                           "WebRTCDirect": False, "Websocket": False, "Relay": False}}
        path.write_text(json.dumps(config, indent=2))
        key_file = self.repo / "swarm.key"
        if self.swarm_key is not None:
            key_file.write_text(self.swarm_key)
            key_file.chmod(0o600)
        elif key_file.exists():
            key_file.unlink()

    # ------------------------------------------------------------------ running

    def start(self, timeout: float = START_TIMEOUT_S) -> KuboNode:
        """Initialise if needed, start the daemon, and wait until its RPC answers.

        Raises:
            KuboNodeError: the repo is locked by another daemon, the daemon exited, or it did not
                answer within ``timeout`` (the message quotes the daemon's last words).
        """
        if self.process is not None and self.process.poll() is None:
            return self
        locked_by = self.running_daemon_url()
        if locked_by is not None:
            raise KuboNodeError(
                f"the repo {self.repo} is in use by another kubo daemon (its RPC answers at "
                f"{locked_by}): stop it first ('learnledger ipfs down --repo {self.repo}') or use "
                "another --repo; nothing was changed")
        self.init()
        (self.repo / "api").unlink(missing_ok=True)
        output = self.log.open("ab")
        self._log_start = output.tell()  # this start's words only, below
        self.process = subprocess.Popen(
            [*self.command_prefix, str(self.binary), "daemon", "--migrate=false"],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self._env(),
            start_new_session=True)
        output.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                said = self._last_words()
                self.process = None
                if "lock" in said.lower():  # kubo: "someone else has the lock"
                    raise KuboNodeError(
                        f"the repo {self.repo} is locked by another kubo daemon: stop it first "
                        f"('learnledger ipfs down --repo {self.repo}') or use another --repo. kubo said: {said}")
                raise KuboNodeError(f"kubo's daemon for {self.repo} exited at start; it said: {said}")
            url = self._api_file_url()
            if url is not None and _answers(url):
                self._rpc_url = url
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise KuboNodeError(f"kubo's daemon for {self.repo} did not answer within {timeout:.0f} s; "
                                    f"it said: {self._last_words()}")
            time.sleep(0.1)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop the daemon this object started (SIGINT, as Ctrl-C; SIGKILL after ``timeout``)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def kill(self) -> None:
        """Kill the daemon at once (SIGKILL), as a lab that drops off the network without warning."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(STOP_TIMEOUT_S)

    def __enter__(self) -> KuboNode:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ what it is

    @property
    def rpc_url(self) -> str:
        """The daemon's Kubo RPC URL, ``http://HOST:PORT``."""
        if self._rpc_url is None:
            raise KuboNodeError(f"the kubo node at {self.repo} is not running: start it first")
        return self._rpc_url

    def store(self, **options: object) -> KuboStore:
        """A ``KuboStore`` on this node (options as ``KuboStore``'s)."""
        return KuboStore(self.rpc_url, **options)  # type: ignore[arg-type]

    def identity(self) -> dict[str, object]:
        """The node's ``id`` report: ID (the peer id) and Addresses (multiaddrs with /p2p/ID)."""
        return self.store().rpc("id")

    @property
    def peer_id(self) -> str:
        return str(self.identity()["ID"])

    @property
    def multiaddr(self) -> str:
        """The address other nodes dial this one at: ``/ip4/HOST/tcp/PORT/p2p/PEERID``."""
        addresses = [str(a) for a in self.identity().get("Addresses") or []]
        mine = [a for a in addresses if a.startswith(f"/ip4/{self.host}/tcp/")]
        if not mine:
            raise KuboNodeError(f"the kubo node at {self.rpc_url} reports no TCP address on {self.host}: "
                                f"{addresses}")
        return mine[0]

    def connect(self, multiaddr: str, keep: bool = True) -> None:
        """Connect to another node now and, with ``keep``, reconnect whenever the link drops
        (kubo's peering list), so a lab that restarts is found again without routing.

        Raises:
            KuboNodeError: the peer could not be reached, or refused us (a different swarm key).
        """
        store = self.store(retries=0, timeout=60)
        if keep:
            store.rpc("swarm/peering/add", {"arg": multiaddr})
        try:
            store.rpc("swarm/connect", {"arg": multiaddr})
        except StoreError as error:
            raise KuboNodeError(
                f"the kubo node at {self.rpc_url} could not connect to {multiaddr}: {error}. Is that "
                "node running and reachable, and do both nodes hold the same swarm.key (or neither)?"
            ) from None

    def peers(self) -> list[str]:
        """Multiaddrs (with /p2p/ID) of the nodes this one is connected to now."""
        answer = self.store().rpc("swarm/peers")
        return [f"{peer['Addr']}/p2p/{peer['Peer']}" for peer in answer.get("Peers") or []]

    def running_daemon_url(self) -> str | None:
        """The RPC URL of a daemon already running on this repo (this object's or another), if any."""
        url = self._api_file_url()
        return url if url is not None and _answers(url) else None

    # ------------------------------------------------------------------ plumbing

    def _env(self) -> dict[str, str]:
        env = dict(os.environ, IPFS_PATH=str(self.repo), IPFS_TELEMETRY="off", DO_NOT_TRACK="1")
        env.pop("LIBP2P_FORCE_PNET", None)
        if self.swarm_key is not None:
            env["LIBP2P_FORCE_PNET"] = "1"
        return env

    def _ipfs(self, *args: str) -> str:
        done = subprocess.run([*self.command_prefix, str(self.binary), *args], env=self._env(),
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise KuboNodeError(f"`ipfs {' '.join(args)}` failed for {self.repo}: "
                                f"{(done.stderr or done.stdout).strip()}")
        return done.stdout

    def _api_file_url(self) -> str | None:
        try:
            text = (self.repo / "api").read_text().strip()
        except OSError:
            return None
        parts = text.split("/")
        if len(parts) >= 5 and parts[1] == "ip4" and parts[3] == "tcp":
            return f"http://{parts[2]}:{parts[4]}"
        return None

    def _last_words(self) -> str:
        try:
            with self.log.open("rb") as file:
                file.seek(self._log_start)
                text = file.read().decode(errors="replace").strip()
        except OSError:
            return "(no output)"
        return " | ".join(text.splitlines()[-6:]) or "(no output)"


def _answers(url: str) -> bool:
    try:
        KuboStore(url, timeout=5, retries=0).version()
        return True
    except StoreError:  # StoreUnreachable among them
        return False
