"""The ``learnledger ipfs`` family: a lab's own private kubo node, started and stopped.

``up`` starts a kubo daemon with the consortium's private configuration (``KuboNode``) in the
background and prints its RPC URL (for ``--ipfs``) and its peer multiaddr (for the other labs'
``--peer``); ``down`` stops it. ``key`` writes a new private swarm key to share with the other labs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import List, Optional

import typer

from learnledger.cli import checks
from learnledger.cli.console import UNREACHABLE, console, fail, usage

ipfs_app = typer.Typer(help="Run this lab's private IPFS (kubo) node.", no_args_is_help=True)

REPO_OPTION = typer.Option(None, "--repo", help="The node's repo folder (IPFS_PATH; default: "
                           "$LEARNLEDGER_IPFS_REPO or ~/.local/share/learnledger/ipfs).")


def register(app: typer.Typer) -> None:
    """Add the ``ipfs`` family to the main app."""
    app.add_typer(ipfs_app, name="ipfs")


def default_repo() -> Path:
    named = os.environ.get("LEARNLEDGER_IPFS_REPO")
    if named:
        return Path(named)
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / "learnledger" / "ipfs"


@ipfs_app.command("up")
def up(
    repo: Optional[Path] = REPO_OPTION,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (swarm and RPC)."),
    api_port: int = typer.Option(5001, "--api-port", help="RPC port (0: any free port)."),
    swarm_port: int = typer.Option(4001, "--swarm-port", help="Swarm (libp2p) port (0: any free port)."),
    swarm_key: Optional[Path] = typer.Option(None, "--swarm-key", help="The consortium's private "
                                             "swarm key file (from 'learnledger ipfs key'): only "
                                             "nodes holding it can connect."),
    peers: Optional[List[str]] = typer.Option(None, "--peer", help="Another lab's node to connect "
                                              "to and keep connected (its multiaddr, as 'up' "
                                              "printed it); repeatable."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait for the daemon."),
) -> None:
    """Start a private kubo daemon in the background; print its RPC URL and peer multiaddr."""
    from learnledger.store.kubo_node import KuboNode, KuboNodeError

    checks.port("--api-port", api_port)
    checks.port("--swarm-port", swarm_port)
    checks.above_zero("--timeout", timeout)
    key = _read_key(swarm_key) if swarm_key is not None else None
    try:
        node = KuboNode(repo or default_repo(), host=host, api_port=api_port,
                        swarm_port=swarm_port, swarm_key=key)
    except KuboNodeError as error:
        fail(str(error), UNREACHABLE)
    try:
        node.start(timeout=timeout)
        for peer in peers or []:
            node.connect(peer)
    except KuboNodeError as error:
        if node.process is not None:
            node.stop()
        fail(str(error))
    console.print(f"rpc: {node.rpc_url}", soft_wrap=True)
    console.print(f"peer: {node.multiaddr}", soft_wrap=True)
    console.print(f"repo: {node.repo} (log: {node.log}); stop with "
                  f"'learnledger ipfs down --repo {node.repo}'", soft_wrap=True)


@ipfs_app.command("down")
def down(
    repo: Optional[Path] = REPO_OPTION,
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds to wait for it to stop."),
) -> None:
    """Stop the kubo daemon running on a repo (its pins and blocks stay in the repo)."""
    from learnledger.store.api import StoreError
    from learnledger.store.kubo import KuboStore
    from learnledger.store.kubo_node import KuboNode, KuboNodeError

    folder = repo or default_repo()
    try:
        url = KuboNode(folder).running_daemon_url()
    except KuboNodeError as error:
        fail(str(error), UNREACHABLE)
    if url is None:
        fail(f"no kubo daemon is running on {folder} (its RPC does not answer): nothing to stop",
             UNREACHABLE)
    try:
        KuboStore(url, retries=0, timeout=10).rpc("shutdown")
    except StoreError:
        pass  # it may close the connection as it goes down
    deadline = time.monotonic() + timeout
    while KuboNode(folder).running_daemon_url() is not None:
        if time.monotonic() > deadline:
            fail(f"the kubo daemon on {folder} ({url}) still answers after {timeout:.0f} s")
        time.sleep(0.2)
    console.print(f"stopped the kubo daemon on {folder} ({url})", soft_wrap=True)


@ipfs_app.command("key")
def key(out: Path = typer.Argument(..., help="Where to write the new swarm key (mode 600).")) -> None:
    """Write a new private swarm key, to give every lab of the consortium (and no one else)."""
    from learnledger.store.kubo_node import new_swarm_key

    if out.exists():
        usage(f"{out} exists: a swarm key is not overwritten (the labs holding it would be cut "
             "off); choose another file")
    try:
        out.write_text(new_swarm_key())
        out.chmod(0o600)
    except OSError as error:
        usage(f"cannot write {str(out)!r}: {error.strerror}")
    console.print(f"wrote a new swarm key to {out}", soft_wrap=True)


def _read_key(path: Path) -> str:
    from learnledger.store.kubo_node import SWARM_KEY_HEADER

    try:
        text = path.read_text()
    except OSError as error:
        fail(f"cannot read the swarm key {str(path)!r}: {error.strerror}", UNREACHABLE)
    lines = text.strip().splitlines()
    if not text.startswith(SWARM_KEY_HEADER) or len(lines) != 3 or len(lines[2]) != 64:
        fail(f"{path} is not a swarm key: expected '/key/swarm/psk/1.0.0/', '/base16/' and 64 hex "
             "digits on three lines (make one with 'learnledger ipfs key FILE')", UNREACHABLE)
    return text
