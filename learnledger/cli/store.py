"""The ``learnledger store`` family: add and fetch weights by CID, serve the store, tidy it.

Every command works on the embedded store (``--store DIR``, default ``$LEARNLEDGER_STORE`` or
``~/.local/share/learnledger/store``); ``add`` and ``cat`` also reach an IPFS node (``--ipfs URL``:
kubo, or another machine's ``learnledger store serve``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from learnledger.cli.console import console, fail

store_app = typer.Typer(help="Add, fetch and serve weights by content identifier (CID).",
                        no_args_is_help=True)

STORE_OPTION = typer.Option(None, "--store", help="Embedded store directory "
                            "(default: $LEARNLEDGER_STORE or ~/.local/share/learnledger/store).")
IPFS_OPTION = typer.Option(None, "--ipfs", help="Use the IPFS node at this Kubo RPC URL "
                           "(e.g. http://127.0.0.1:5001) instead of the embedded store.")


def register(app: typer.Typer) -> None:
    """Add the ``store`` family to the main app."""
    app.add_typer(store_app, name="store")


@store_app.command("add")
def add(
    file: Path = typer.Argument(..., help="File to add ('-' reads standard input)."),
    cid_version: int = typer.Option(1, "--cid-version", help="1: CIDv1, raw leaves (default); "
                                    "0: CIDv0, as 'ipfs add' without options."),
    pin: bool = typer.Option(True, "--pin/--no-pin", help="Keep it from garbage collection."),
    ipfs: Optional[str] = IPFS_OPTION,
    store: Optional[Path] = STORE_OPTION,
) -> None:
    """Add a file and print its CID (the same CID 'ipfs add' gives)."""
    if cid_version not in (0, 1):
        fail(f"--cid-version must be 0 or 1; received: {cid_version}")
    data = _read_input(file)
    target = _open(ipfs, store, cid_version)
    cid = _guard(lambda: target.put(data, pin=pin))
    console.print(cid, soft_wrap=True)


@store_app.command("cat")
def cat(
    cid: str = typer.Argument(..., help="CID of the content."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to this file instead "
                                       "of standard output."),
    ipfs: Optional[str] = IPFS_OPTION,
    store: Optional[Path] = STORE_OPTION,
) -> None:
    """Write the content named CID, verified against it, to standard output (binary-safe)."""
    source = _open(ipfs, store, 1)
    data = _guard(lambda: source.get(cid))
    if out is not None:
        try:
            out.write_bytes(data)
        except OSError as error:
            fail(f"cannot write {str(out)!r}: {error.strerror}; choose another --out")
        return
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@store_app.command("serve")
def serve(
    port: int = typer.Option(5001, "--port", help="TCP port (kubo's RPC default is 5001)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on. There is no "
                             "authentication: listen beyond loopback only on a trusted network."),
    root: Optional[Path] = typer.Option(None, "--root", "--store", help="Store directory "
                                        "(default: $LEARNLEDGER_STORE or "
                                        "~/.local/share/learnledger/store)."),
    cid_version: int = typer.Option(1, "--cid-version", help="CID version for adds that do "
                                    "not name one (kubo clients usually do)."),
    verify_reads: bool = typer.Option(False, "--verify-reads", help="Hash every object before "
                                      "serving it (default: serve as stored, like kubo; "
                                      "clients verify)."),
) -> None:
    """Serve the embedded store over the Kubo RPC subset (add, cat, pin/add, version)."""
    from learnledger.store.server import StoreServer

    if not 0 <= port <= 65535:
        fail(f"--port must be between 0 and 65535; received: {port}")
    local = _open(None, root, cid_version)
    try:
        server = StoreServer(local, host, port, verify_reads=verify_reads)
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror}; choose another --port or --host")
    console.print(f"serving {local.root} as a Kubo RPC node at {server.url} (Ctrl-C stops)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]warning:[/] listening on {host}: anyone who can reach it may add "
                      "and read content")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        server.server_close()


@store_app.command("pins")
def pins(
    store: Optional[Path] = STORE_OPTION,
    format: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """List the pinned CIDs of the embedded store."""
    if format not in ("text", "json"):
        fail(f"--format must be text or json; received: {format!r}")
    pinned = _open(None, store, 1).pins()
    if format == "json":
        console.print(json.dumps(pinned), soft_wrap=True)
    else:
        for cid in pinned:
            console.print(cid, soft_wrap=True)


@store_app.command("gc")
def gc(store: Optional[Path] = STORE_OPTION) -> None:
    """Remove every unpinned object from the embedded store."""
    removed = _open(None, store, 1).gc()
    for cid in removed:
        console.print(f"removed {cid}", soft_wrap=True)
    console.print(f"{len(removed)} unpinned object{'s' if len(removed) != 1 else ''} removed")


@store_app.command("rm")
def rm(
    cid: str = typer.Argument(..., help="CID to remove."),
    force: bool = typer.Option(False, "--force", help="Remove it even if pinned."),
    store: Optional[Path] = STORE_OPTION,
) -> None:
    """Remove one object from the embedded store."""
    local = _open(None, store, 1)
    _guard(lambda: local.remove(cid, force=force))
    console.print(f"removed {cid}", soft_wrap=True)


def _open(ipfs: Optional[str], store: Optional[Path], cid_version: int):
    from learnledger.store.api import StoreError
    from learnledger.store.choose import open_store

    try:
        return open_store(ipfs, store, cid_version)
    except (StoreError, ValueError) as error:
        fail(str(error))


def _guard(action):
    """Run a store action; a store error becomes a clear message and exit status 1."""
    from learnledger.store.api import StoreError

    try:
        return action()
    except StoreError as error:
        fail(str(error))


def _read_input(file: Path) -> bytes:
    if str(file) == "-":
        return sys.stdin.buffer.read()
    try:
        return file.read_bytes()
    except FileNotFoundError:
        fail(f"no file {str(file)!r}: check the path")
    except IsADirectoryError:
        fail(f"{str(file)!r} is a directory: add the files in it one by one")
    except OSError as error:
        fail(f"cannot read {str(file)!r}: {error.strerror}")
