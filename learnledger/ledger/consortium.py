"""A consortium chain on one machine: N geth Clique signers, one node per lab, peered on loopback.

What a consortium of labs would run, made small: each lab's node seals blocks in turn (Clique proof
of authority, a block every ``period`` seconds), with a private chain id, no discovery and no
bootnodes; the nodes know each other only as static peers. The member accounts are funded in the
genesis. Each node keeps its own data directory, its signer key in an encrypted v3 keystore, and its
password in a file only its owner may read.

geth v1.13.15 is the last geth that seals Clique (v1.14 removed it); ``scripts/engines.sh`` builds
it into ``.engines/bin``. Clique stops at London: the contract is built for an EVM without PUSH0
(``compile.EVM_VERSION``).

The layout on disk (``directory``)::

    consortium.json          what ``up`` made: chain id, period, each node's ports, signer, enode
    genesis.json             the Clique genesis (signers in extradata, funded accounts in alloc)
    node-K/                  node K's data directory (chain, keystore/, nodekey, config.toml)
    node-K/password          its signer key's password (mode 0600)
    node-K/geth.log          its output
    node-K/geth.pid          its process id while it runs detached (``up``; ``down`` stops it)
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from learnledger.ledger.api import LedgerError
from learnledger.ledger.artifact import REPO_ROOT
from learnledger.ledger.devnet import free_port
from learnledger.ledger.keys import write_private

GETH_VERSION = "1.13.15"
ENGINES_GETH = REPO_ROOT / ".engines" / "bin" / "geth"
DEFAULT_CHAIN_ID = 31_337_13
"""A private chain id (no public network uses it): a transaction signed here replays nowhere else."""
DEFAULT_PERIOD = 2
DEFAULT_BALANCE_WEI = 10**24
"""One million ether per funded account: gas for a lifetime of rounds, worth nothing elsewhere."""
GAS_LIMIT = 30_000_000
SIGNER_SCRYPT_N = 2**12
"""scrypt cost of a signer's keystore: geth's "light" setting. A sealing node must open its key
unattended, so its password file sits beside the keystore and a costlier KDF would protect nothing
more; it would only make each start slower (the standard 2**18 takes seconds and 256 MiB). Members'
own keys (`learnledger account new`) use the standard cost."""
RECOMMIT_S = 1
"""How often a signer rebuilds the block it is sealing with the transactions that arrived since
(geth's default is 2 s, its floor 1 s)."""
STARTUP_TIMEOUT = 60.0
START_ATTEMPTS = 3
STALL_PERIODS = 8
"""Periods to wait for the first blocks before looking for a start-up fork to undo."""
STOP_TIMEOUT = 20.0
STATE_FILE = "consortium.json"
GENESIS_FILE = "genesis.json"
MAX_NODES = 32


class ConsortiumError(LedgerError):
    """The consortium cannot be made, started, or does not behave as a consortium must."""


def geth_path() -> Path:
    """The pinned geth: ``.engines/bin/geth``, else a ``geth`` of the pinned version on PATH."""
    candidates = [ENGINES_GETH]
    on_path = shutil.which("geth")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.exists() and _geth_version(candidate) == GETH_VERSION:
            return candidate
    raise ConsortiumError(
        f"geth {GETH_VERSION} is not built: run scripts/engines.sh (it builds it into "
        f"{ENGINES_GETH.parent} with Go), or put geth {GETH_VERSION} on PATH"
    )


def _geth_version(path: Path) -> str | None:
    try:
        out = subprocess.run([str(path), "version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        if line.startswith("Version: "):
            return line.removeprefix("Version: ").split("-")[0]
    return None


def geth_unavailable() -> str | None:
    """Why a consortium cannot run here (for a test's skip reason), or None if it can."""
    try:
        geth_path()
    except ConsortiumError as missing:
        return str(missing)
    return None


@dataclass
class NodeRecord:
    """One lab's node, as ``up`` made it."""

    index: int
    name: str
    signer: str
    http_port: int
    p2p_port: int
    enode_key: str
    """The node's public p2p key (hex, 64 bytes): its identity in the static peer list."""
    host: str = "127.0.0.1"
    """The address the node listens on (a namespace's own address when it runs in one)."""

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def enode(self) -> str:
        return f"enode://{self.enode_key}@{self.host}:{self.p2p_port}"


@dataclass
class ConsortiumRecord:
    """What ``consortium.json`` holds."""

    chain_id: int
    period: int
    nodes: list[NodeRecord]
    funded: list[str] = field(default_factory=list)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> ConsortiumRecord:
        try:
            raw = json.loads(path.read_text())
            return cls(raw["chain_id"], raw["period"], [NodeRecord(**n) for n in raw["nodes"]],
                       list(raw.get("funded", [])))
        except FileNotFoundError:
            raise ConsortiumError(f"no consortium at {path.parent}: run `learnledger consortium up` first") from None
        except (ValueError, KeyError, TypeError) as error:
            raise ConsortiumError(f"{path} is not a consortium record ({error}); remove the folder and "
                                  "run `learnledger consortium up` again") from None


@dataclass(frozen=True)
class NodeStatus:
    """One node as it answers now."""

    name: str
    rpc_url: str
    running: bool
    block: int | None = None
    peers: int | None = None
    signer: str | None = None
    is_signer: bool | None = None
    problem: str | None = None


def clique_genesis(chain_id: int, period: int, signers: Sequence[str], funded: Sequence[str],
                   balance_wei: int = DEFAULT_BALANCE_WEI) -> dict[str, Any]:
    """A Clique genesis: every fork up to London at block 0, ``signers`` in the extradata
    (32 zero bytes of vanity, the signer addresses sorted, 65 zero bytes of seal)."""
    if not signers:
        raise ConsortiumError("a Clique genesis needs at least one signer")
    ordered = sorted({s.lower() for s in signers})
    extradata = "0x" + "00" * 32 + "".join(s.removeprefix("0x") for s in ordered) + "00" * 65
    forks = ["homestead", "eip150", "eip155", "eip158", "byzantium", "constantinople", "petersburg",
             "istanbul", "muirGlacier", "berlin", "london", "arrowGlacier", "grayGlacier"]
    config: dict[str, Any] = {"chainId": chain_id, **{f"{fork}Block": 0 for fork in forks},
                              "clique": {"period": period, "epoch": 30_000}}
    alloc = {a.lower().removeprefix("0x"): {"balance": hex(balance_wei)}
             for a in [*ordered, *funded]}
    return {"config": config, "difficulty": "0x1", "gasLimit": hex(GAS_LIMIT), "extradata": extradata,
            "alloc": alloc, "nonce": "0x0", "timestamp": "0x0"}


class Consortium:
    """N geth Clique signers on 127.0.0.1 (or in network namespaces), one per lab.

    ``create`` writes the genesis and the keys once; ``start`` runs every node (attached to this
    process, or detached so that it outlives it: ``learnledger consortium up``); ``stop`` stops them,
    whoever started them; the chain stays in ``directory`` for the next start.

    Args:
        directory: where the consortium lives (see the module's docstring).
        nodes: how many nodes (labs), each a signer. Default 3.
        period: seconds between blocks. Default 2.
        chain_id: the private chain id. Default ``DEFAULT_CHAIN_ID``.
        fund: addresses (the members' accounts) funded in the genesis besides the signers.
        names: the nodes' names (e.g. the labs). Default node-1 ... node-N.
        hosts: per node, the address it listens on. Default 127.0.0.1 for all.
        wrappers: per node, a command prefix it runs under (``ip netns exec NS``). Default none.
    """

    def __init__(
        self,
        directory: Path,
        nodes: int = 3,
        period: int = DEFAULT_PERIOD,
        chain_id: int = DEFAULT_CHAIN_ID,
        fund: Sequence[str] = (),
        names: Sequence[str] | None = None,
        hosts: Sequence[str] | None = None,
        wrappers: Sequence[Sequence[str]] | None = None,
    ) -> None:
        if not 1 <= nodes <= MAX_NODES:
            raise ConsortiumError(f"a consortium has 1 to {MAX_NODES} nodes, received: nodes={nodes}")
        if period < 1:
            raise ConsortiumError(f"the block period is at least 1 second, received: period={period}")
        self.directory = Path(directory)
        self.size = nodes
        self.period = period
        self.chain_id = chain_id
        self.fund = [str(a) for a in fund]
        self.names = list(names) if names else [f"node-{k}" for k in range(1, nodes + 1)]
        if len(self.names) != nodes:
            raise ConsortiumError(f"{len(self.names)} names for {nodes} nodes")
        self.hosts = list(hosts) if hosts else ["127.0.0.1"] * nodes
        self.wrappers = [list(w) for w in wrappers] if wrappers else [[] for _ in range(nodes)]
        self._processes: dict[int, subprocess.Popen[bytes]] = {}
        self.record: ConsortiumRecord | None = None

    # ------------------------------------------------------------------------------ making

    @property
    def state_path(self) -> Path:
        return self.directory / STATE_FILE

    def node_dir(self, index: int) -> Path:
        return self.directory / f"node-{index}"

    def exists(self) -> bool:
        return self.state_path.exists()

    def create(self) -> ConsortiumRecord:
        """Write keys, genesis and each node's config, and initialise each chain; once (loads after)."""
        if self.exists():
            self.record = ConsortiumRecord.load(self.state_path)
            return self.record
        from eth_account import Account
        from eth_keys import keys

        geth = geth_path()
        self.directory.mkdir(parents=True, exist_ok=True)
        nodes: list[NodeRecord] = []
        used_ports: set[int] = set()
        for index in range(1, self.size + 1):
            folder = self.node_dir(index)
            (folder / "keystore").mkdir(parents=True, exist_ok=True)
            password = secrets.token_hex(16)
            write_private(folder / "password", password, replace=True)
            signer = Account.create()
            keystore = Account.encrypt(signer.key, password, kdf="scrypt", iterations=SIGNER_SCRYPT_N)
            write_private(folder / "keystore" / f"signer-{signer.address}.json", json.dumps(keystore),
                          replace=True)
            node_key = keys.PrivateKey(secrets.token_bytes(32))
            write_private(folder / "nodekey", node_key.to_hex().removeprefix("0x"), replace=True)
            nodes.append(NodeRecord(index, self.names[index - 1], signer.address,
                                    _fresh_port(used_ports), _fresh_port(used_ports),
                                    node_key.public_key.to_hex().removeprefix("0x"), self.hosts[index - 1]))
        genesis = clique_genesis(self.chain_id, self.period, [n.signer for n in nodes], self.fund)
        (self.directory / GENESIS_FILE).write_text(json.dumps(genesis, indent=1) + "\n")
        for node in nodes:
            folder = self.node_dir(node.index)
            peers = [other.enode for other in nodes if other.index != node.index]
            (folder / "config.toml").write_text(
                "[Node.P2P]\n"
                f"StaticNodes = {json.dumps(peers)}\n"
                "BootstrapNodes = []\nBootstrapNodesV5 = []\nNoDiscovery = true\n"
            )
            done = subprocess.run([str(geth), "--datadir", str(folder), "init", str(self.directory / GENESIS_FILE)],
                                  capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise ConsortiumError(f"`geth init` failed for {node.name}: {done.stderr.strip()[-2000:]}")
        self.record = ConsortiumRecord(self.chain_id, self.period, nodes, self.fund)
        self.record.save(self.state_path)
        return self.record

    def load(self) -> ConsortiumRecord:
        self.record = ConsortiumRecord.load(self.state_path)
        return self.record

    # ------------------------------------------------------------------------------ running

    def command(self, node: NodeRecord) -> list[str]:
        """The geth command line of ``node``: what is open is what is written here."""
        folder = self.node_dir(node.index)
        record = self.record or self.load()
        return [
            *self.wrappers[node.index - 1],
            str(geth_path()),
            "--datadir", str(folder),
            "--config", str(folder / "config.toml"),
            "--networkid", str(record.chain_id),
            "--nodekey", str(folder / "nodekey"),
            "--port", str(node.p2p_port),
            "--nat", f"extip:{node.host}",
            "--nodiscover", "--maxpeers", str(max(len(record.nodes) + 2, 8)),
            "--netrestrict", _netrestrict(record),
            "--http", "--http.addr", node.host, "--http.port", str(node.http_port),
            "--http.api", "eth,net,web3,clique,txpool",
            "--authrpc.port", "0", "--ipcpath", str(self.ipc_path(node.index)),
            "--syncmode", "full", "--gcmode", "archive",
            "--cache", "64",
            "--miner.etherbase", node.signer,  # sealing starts over IPC once peered (start_sealing)
            "--unlock", node.signer, "--password", str(folder / "password"),
            "--allow-insecure-unlock",
            "--miner.gasprice", "1", "--txpool.pricelimit", "1",
            # a sealing block takes in new transactions only at each recommit: at geth's floor (1 s),
            # a vote that arrives in the first half of a 2 s period still makes the next block
            "--miner.recommit", f"{RECOMMIT_S}s",
            "--verbosity", "3",
        ]  # fmt: skip

    def start(self, detach: bool = False, timeout: float = STARTUP_TIMEOUT) -> Consortium:
        """Run every node (creating the consortium first if needed), wait until they all answer and
        are peered with each other, then let them seal, and wait until the chain grows.
        ``detach``: let them outlive this process.

        Sealing starts only once every node is peered: a signer that sealed alone at start-up would
        make its own block at the next height, each of the others theirs, and Clique forbids each of
        them to sign the block after its own: the chain would stall at that height."""
        record = self.create()
        for node in record.nodes:
            if self._pid_alive(node):
                continue
            self._start_node(node, detach)
        try:
            self.wait_ready(timeout)
        except BaseException:
            if not detach:
                self.stop()
            raise
        return self

    def ipc_path(self, index: int) -> Path:
        """Node ``index``'s IPC socket: its admin door (sealing on and off), open only to this user.
        Inside the data directory unless that path is too long for a Unix socket."""
        inside = self.node_dir(index).resolve() / "geth.ipc"
        if len(str(inside)) < 100:
            return inside
        digest = hashlib.sha256(str(inside).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"learnledger-geth-{digest}.ipc"

    def node_web3(self, index: int, timeout: float = 10.0) -> Any:
        """A Web3 on node ``index`` over its IPC socket: it works from any network namespace of this
        machine (a test reads a node cut off from the others), and only for this user."""
        from web3 import IPCProvider, Web3
        from web3.middleware import ExtraDataToPOAMiddleware

        w3 = Web3(IPCProvider(str(self.ipc_path(index)), timeout=timeout))
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        return w3

    def _ipc(self, index: int, method: str, *params: Any) -> Any:
        return _rpc(self.node_web3(index), method, *params)

    def start_sealing(self, index: int) -> None:
        self._ipc(index, "miner_start")

    def stop_sealing(self, index: int) -> None:
        self._ipc(index, "miner_stop")

    def _start_node(self, node: NodeRecord, detach: bool) -> None:
        folder = self.node_dir(node.index)
        log = open(folder / "geth.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            process = subprocess.Popen(self.command(node), stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=detach)
        finally:
            log.close()
        (folder / "geth.pid").write_text(str(process.pid))
        if not detach:  # a detached node is found again by its pid file, and outlives this object
            self._processes[node.index] = process

    def start_node(self, index: int, timeout: float = STARTUP_TIMEOUT) -> None:
        """Start node ``index`` again (after ``stop_node``), and let it seal once it has peers."""
        record = self.record or self.load()
        self._start_node(record.nodes[index - 1], detach=False)
        self.wait_ready(timeout, only=[index])

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT, only: Sequence[int] | None = None) -> None:
        """Until every node (or those in ``only``) answers and has every other node as a peer; then
        sealing is switched on, and it waits until each such node's head has moved."""
        record = self.record or self.load()
        nodes = [n for n in record.nodes if only is None or n.index in only]
        deadline = time.monotonic() + timeout
        for node in nodes:
            while not self._answers(node.index):
                if time.monotonic() < deadline and self._pid_alive(node):
                    time.sleep(0.3)
                    continue
                raise ConsortiumError(
                    f"{node.name} did not answer on {self.ipc_path(node.index)} within {timeout:.0f} s; "
                    f"its log ({self.node_dir(node.index) / 'geth.log'}) ends:\n{self.log_tail(node.index)}"
                ) from None
        want_peers = len(record.nodes) - 1
        names = {n.name for n in nodes}
        self._wait(lambda s: (s.peers or 0) >= want_peers, names, deadline, timeout, "peered")
        heads = {s.name: s.block or 0 for s in self.status() if s.name in names}
        for node in nodes:
            self._wait_unlocked(node, deadline, timeout)
        for attempt in range(1, START_ATTEMPTS + 1):
            for node in nodes:  # all at once: the in-turn signer's first block then reaches the others
                self.start_sealing(node.index)  # before their out-of-turn delay lets them seal their own
            first_try = min(deadline, time.monotonic() + STALL_PERIODS * record.period)
            try:
                self._wait(lambda s: (s.block or 0) > heads.get(s.name, 0), names,
                           deadline if attempt == START_ATTEMPTS else first_try, timeout, "sealing")
                return
            except ConsortiumError:
                if attempt == START_ATTEMPTS or not self._forked_at_start(nodes):
                    raise
                self._rewind_to_genesis(nodes)

    def _forked_at_start(self, nodes: Sequence[NodeRecord]) -> bool:
        """Whether the nodes sit at block 1 or less on different blocks: signers that sealed their own
        first block before seeing another's, which Clique never resolves (each may not sign the block
        after its own)."""
        heads = [self.node_web3(n.index).eth.get_block("latest") for n in nodes]
        return max(int(h["number"]) for h in heads) <= 1 and len({bytes(h["hash"]) for h in heads}) > 1

    def _rewind_to_genesis(self, nodes: Sequence[NodeRecord]) -> None:
        """Stop sealing and drop the competing first blocks everywhere; sealing then starts again."""
        for node in nodes:
            self.stop_sealing(node.index)
        for node in nodes:
            self._ipc(node.index, "debug_setHead", "0x0")

    def _answers(self, index: int) -> bool:
        try:
            self.node_web3(index, timeout=3).eth.block_number
            return True
        except Exception:  # no socket yet, or not answering yet
            return False

    def _wait_unlocked(self, node: NodeRecord, deadline: float, timeout: float) -> None:
        """Until geth has opened ``node``'s signer key: a sealer started before would fail its first
        block ("authentication needed") and, on an idle chain, never try again."""
        while True:
            try:  # eth_sign answers only once the key is open ("authentication needed" before)
                self._ipc(node.index, "eth_sign", node.signer, "0x00")
                return
            except ConsortiumError as error:
                if "authentication" not in str(error) and "unlock" not in str(error):
                    raise
            if time.monotonic() >= deadline:
                raise ConsortiumError(
                    f"{node.name} did not open its signer key {node.signer} within {timeout:.0f} s: is the "
                    f"password in {self.node_dir(node.index) / 'password'} the keystore's? Its log ends:\n"
                    f"{self.log_tail(node.index)}")
            time.sleep(0.3)

    def _wait(self, ready: Any, names: set[str], deadline: float, timeout: float, what: str) -> None:
        while True:
            lagging = [s for s in self.status() if s.name in names and not ready(s)]
            if not lagging:
                return
            if time.monotonic() >= deadline:
                described = "; ".join(f"{s.name}: peers {s.peers}, block {s.block}" for s in lagging)
                raise ConsortiumError(f"the consortium's nodes were not {what} within {timeout:.0f} s "
                                      f"({described}); see the nodes' geth.log in {self.directory}")
            time.sleep(0.5)

    def log_tail(self, index: int, chars: int = 3000) -> str:
        path = self.node_dir(index) / "geth.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"

    @property
    def rpc_urls(self) -> list[str]:
        return [n.rpc_url for n in (self.record or self.load()).nodes]

    def status(self) -> list[NodeStatus]:
        """Each node: does it run, its block, its peers, its signer and whether Clique counts it."""
        from web3 import Web3

        statuses = []
        for node in (self.record or self.load()).nodes:
            running = self._pid_alive(node)
            w3 = self.node_web3(node.index, timeout=3)
            try:
                block = w3.eth.block_number
                peers = int(w3.net.peer_count)
                signer = Web3.to_checksum_address(_rpc(w3, "eth_coinbase"))
                signers = {s.lower() for s in _rpc(w3, "clique_getSigners")}
            except Exception as error:
                statuses.append(NodeStatus(node.name, node.rpc_url, running,
                                           problem=f"no answer ({type(error).__name__})"))
                continue
            is_signer = signer.lower() in signers
            problem = None if is_signer else (
                f"its etherbase {signer} is not a Clique signer (signers: {', '.join(sorted(signers))}); "
                "it follows the chain but seals nothing: recreate the consortium, or have the signers "
                "vote it in with clique_propose")
            statuses.append(NodeStatus(node.name, node.rpc_url, running, block, peers, signer, is_signer, problem))
        return statuses

    def _pid_alive(self, node: NodeRecord) -> bool:
        process = self._processes.get(node.index)
        if process is not None:
            return process.poll() is None
        pid = self._recorded_pid(node)
        return pid is not None

    def _recorded_pid(self, node: NodeRecord) -> int | None:
        """The pid in node's geth.pid if that process still runs geth on this node's datadir."""
        path = self.node_dir(node.index) / "geth.pid"
        try:
            pid = int(path.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        # the pid may belong to `ip netns exec`, which execs geth in place: same pid, geth's cmdline
        return pid if str(self.node_dir(node.index)).encode() in cmdline else None

    def stop_node(self, index: int) -> None:
        """Stop node ``index`` (SIGTERM, then SIGKILL after ``STOP_TIMEOUT``)."""
        record = self.record or self.load()
        node = record.nodes[index - 1]
        process = self._processes.pop(index, None)
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        else:
            pid = self._recorded_pid(node)
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + STOP_TIMEOUT
                while self._recorded_pid(node) is not None and time.monotonic() < deadline:
                    time.sleep(0.2)
                if self._recorded_pid(node) is not None:
                    os.kill(pid, signal.SIGKILL)
        (self.node_dir(index) / "geth.pid").unlink(missing_ok=True)

    def stop(self) -> None:
        """Stop every node, whoever started it; the chain stays on disk."""
        if not self.exists():
            return
        for node in (self.record or self.load()).nodes:
            self.stop_node(node.index)

    def __enter__(self) -> Consortium:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def __del__(self) -> None:
        for process in getattr(self, "_processes", {}).values():
            if process.poll() is None:
                process.kill()


def _rpc(w3: Any, method: str, *params: Any) -> Any:
    """One raw JSON-RPC call (for the methods web3 has no helper for); errors raised."""
    answer = w3.provider.make_request(method, list(params))
    if "error" in answer:
        raise ConsortiumError(f"{method} failed: {answer['error']}")
    return answer["result"]


def _fresh_port(used: set[int]) -> int:
    while True:
        port = free_port()
        if port not in used:
            used.add(port)
            return port


def _netrestrict(record: ConsortiumRecord) -> str:
    """Only the consortium's own addresses may be dialled or accepted: loopback, or the hosts' /24s."""
    nets = {"127.0.0.0/8"}
    for node in record.nodes:
        if not node.host.startswith("127."):
            nets.add(".".join(node.host.split(".")[:3]) + ".0/24")
    return ",".join(sorted(nets))
