"""The ``learnledger store`` family: add and fetch weights by CID, serve the store, tidy it.

Every command works on the embedded store (``--store DIR``, default ``$LEARNLEDGER_STORE`` or
``~/.local/share/learnledger/store``); ``add`` and ``cat`` also reach an IPFS node (``--ipfs URL``:
kubo, or another machine's ``learnledger store serve``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from learnledger.cli import checks
from learnledger.cli.console import UNREACHABLE, USAGE, console, fail, print_json, usage
from learnledger.cli.signals import stop_on_signals

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
        usage(f"--cid-version must be 0 or 1; received: {cid_version}")
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
    checks.writable_file("--out", out)
    source = _open(ipfs, store, 1)
    data = _guard(lambda: source.get(cid))
    if out is not None:
        try:
            out.write_bytes(data)
        except OSError as error:
            usage(f"cannot write {str(out)!r}: {error.strerror}; choose another --out")
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
    """Serve the embedded store over the Kubo RPC subset (add, cat, pin/add, version).

    It keeps this terminal until Ctrl-C or SIGTERM: run the other steps in other terminals.
    """
    from learnledger.store.server import StoreServer

    checks.port("--port", port)
    if cid_version not in (0, 1):
        usage(f"--cid-version must be 0 or 1; received: {cid_version}")
    checks.folder_to_make("--root", root)
    local = _open(None, root, cid_version)
    try:
        server = StoreServer(local, host, port, verify_reads=verify_reads)
    except OSError as error:
        usage(f"cannot listen on {host}:{port}: {error.strerror}; choose another --port or --host")
    console.print(f"serving {local.root} as a Kubo RPC node at {server.url} (Ctrl-C stops)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]warning:[/] listening on {host}: anyone who can reach it may add "
                      "and read content")
    with stop_on_signals():
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            console.print("stopped")
        finally:
            server.server_close()


@store_app.command("pins")
def pins(
    store: Optional[Path] = STORE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the CIDs as a JSON list on stdout."),
) -> None:
    """List the pinned CIDs of the embedded store."""
    pinned = _open(None, store, 1, must_exist=True).pins()
    if as_json:
        print_json(pinned)
    else:
        for cid in pinned:
            console.print(cid, soft_wrap=True)


@store_app.command("gc")
def gc(store: Optional[Path] = STORE_OPTION) -> None:
    """Remove every unpinned object from the embedded store."""
    removed = _open(None, store, 1, must_exist=True).gc()
    for cid in removed:
        console.print(f"removed {cid}", soft_wrap=True)
    console.print(f"{len(removed)} unpinned object{'s' if len(removed) != 1 else ''} removed")


@store_app.command("rm")
def rm(
    cid: str = typer.Argument(..., help="CID to remove."),
    force: bool = typer.Option(False, "--force", help="Remove it even if pinned."),
    store: Optional[Path] = STORE_OPTION,
) -> None:
    """Remove one object from the embedded store (a pinned one only with --force, or after `store unpin`)."""
    from learnledger.store.local import ContentPinned

    local = _open(None, store, 1, must_exist=True)
    try:
        _guard(lambda: local.remove(cid, force=force))
    except ContentPinned:
        fail(f"{cid} is pinned, so it is kept: run `learnledger store unpin {cid}` first, or `learnledger "
             f"store rm {cid} --force`")
    console.print(f"removed {cid}", soft_wrap=True)


@store_app.command("pin")
def pin(
    cid: str = typer.Argument(..., help="CID to keep."),
    store: Optional[Path] = STORE_OPTION,
) -> None:
    """Keep a stored object from `store gc`."""
    local = _open(None, store, 1, must_exist=True)
    _guard(lambda: local.pin(cid))
    console.print(f"pinned {cid}", soft_wrap=True)


@store_app.command("unpin")
def unpin(
    cid: str = typer.Argument(..., help="CID to let go."),
    store: Optional[Path] = STORE_OPTION,
) -> None:
    """Let `store gc` (or `store rm`) remove a stored object; it stays until then."""
    local = _open(None, store, 1, must_exist=True)
    if not _guard(lambda: local.has(cid)):
        fail(f"{cid} is not in the store at {local.root}")
    local.unpin(cid)
    console.print(f"unpinned {cid}", soft_wrap=True)


def _open(ipfs: Optional[str], store: Optional[Path], cid_version: int, must_exist: bool = False):
    """The store to use; ``must_exist``: a command that only reads or tidies refuses a missing folder."""
    from learnledger.store.api import StoreError
    from learnledger.store.choose import open_store

    if must_exist and ipfs is None:
        checks.existing_folder("--store", store)
    try:
        return open_store(ipfs, store, cid_version)
    except (StoreError, ValueError) as error:
        usage(str(error))


def _guard(action):
    """Run a store action: an unreachable node exits 2, any other store error (a CID not there, bytes
    that do not match) exits 1, a malformed CID is a usage error (2)."""
    from learnledger.store.api import StoreError, StoreUnreachable
    from learnledger.store.cid import InvalidCid
    from learnledger.store.local import ContentPinned

    try:
        return action()
    except StoreUnreachable as error:
        fail(str(error), UNREACHABLE)
    except InvalidCid as error:
        fail(str(error), USAGE)
    except ContentPinned:
        raise
    except StoreError as error:
        fail(str(error))


def _read_input(file: Path) -> bytes:
    if str(file) == "-":
        return sys.stdin.buffer.read()
    try:
        return file.read_bytes()
    except FileNotFoundError:
        usage(f"no file {str(file)!r}: check the path")
    except IsADirectoryError:
        usage(f"{str(file)!r} is a directory: add the files in it one by one")
    except OSError as error:
        usage(f"cannot read {str(file)!r}: {error.strerror}")
