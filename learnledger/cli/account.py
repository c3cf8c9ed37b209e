"""``learnledger account new`` and how every command gets its signing key.

A command signs with exactly one of: ``--keystore FILE`` (a v3 keystore; the password from
``--password-file`` or a prompt), ``--keyfile FILE`` (a plain hex key: devnets only, with a
warning), or ``--key HEX`` (the same, on the command line). Keys are never printed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer

from learnledger.cli.console import console, err_console, fail, usage

app = typer.Typer(help="Accounts: encrypted v3 keystores for the members' keys.", no_args_is_help=True)

PLAIN_KEY_WARNING = ("[bold yellow]warning:[/] {what} is a plain, unencrypted key: fine on a devnet, "
                     "not on a chain that matters; make a keystore with `learnledger account new`")


def register(main: typer.Typer) -> None:
    """Add this family's commands to the main app."""
    main.add_typer(app, name="account")


@app.command("new")
def new(
    keystore: Path = typer.Option(..., "--keystore", help="Where to write the new keystore (never "
                                  "overwritten)."),
    password_file: Optional[Path] = typer.Option(None, "--password-file", help="File whose first line "
                                                 "is the password (mode 0600); default: prompt."),
) -> None:
    """Make a new account in an encrypted v3 keystore and print its address (never the key)."""
    from learnledger.ledger.keys import KeystoreError, new_keystore, read_password_file

    try:
        if password_file is not None:
            password = read_password_file(password_file)
        else:
            password = typer.prompt("Password for the new keystore", hide_input=True,
                                    confirmation_prompt=True)
        address = new_keystore(keystore, password)
    except KeystoreError as error:
        fail(str(error), 2)
    console.print(f"new account [bold]{address}[/], keystore written to {keystore} (mode 0600); "
                  "back up the keystore and remember the password: neither can be recovered", soft_wrap=True)


def resolve_key(key: Optional[str], keyfile: Optional[Path], keystore: Optional[Path],
                password_file: Optional[Path], whose: str) -> str:
    """The private key (hex) from exactly one of ``--key``, ``--keyfile`` and ``--keystore``.

    A keystore's password comes from ``password_file`` or, without one, from a prompt. A plain hex key
    works with a warning; a plain key file that others can read is warned about too.
    """
    from learnledger.ledger.keys import KeystoreError, readable_by_others, unlock_keystore, read_password_file

    given = [flag for flag, value in (("--key", key), ("--keyfile", keyfile), ("--keystore", keystore))
             if value is not None]
    if len(given) != 1:
        fail(f"give {whose} key with exactly one of --keystore FILE (with --password-file), "
             f"--keyfile FILE or --key HEX; received: {', '.join(given) or 'none'}", 2)
    if password_file is not None and keystore is None:
        fail("--password-file goes with --keystore", 2)
    if keystore is not None:
        try:
            password = (read_password_file(password_file) if password_file is not None
                        else typer.prompt(f"Password of {keystore}", hide_input=True, err=True))
            return unlock_keystore(keystore, password)
        except KeystoreError as error:
            fail(str(error), 2)
    secret = read_key(key, keyfile, whose)
    what = f"--keyfile {keyfile}" if keyfile is not None else "--key"
    err_console.print(PLAIN_KEY_WARNING.format(what=what), soft_wrap=True)
    if keyfile is not None and readable_by_others(keyfile):
        err_console.print(f"[bold yellow]warning:[/] {keyfile} is readable by other users: "
                          f"`chmod 600 {keyfile}`", soft_wrap=True)
    return secret


def read_key(key: str | None, keyfile: Path | None, whose: str = "the deployer's") -> str:
    """A private key from --key or the first line of --keyfile (exactly one)."""
    if (key is None) == (keyfile is None):
        usage(f"give {whose} key with exactly one of --key HEX or --keyfile FILE")
    if keyfile is not None:
        try:
            text = keyfile.read_text().strip()
        except OSError as error:
            usage(f"cannot read --keyfile {str(keyfile)!r}: {error.strerror}")
        if text.startswith("{"):
            usage(f"--keyfile {str(keyfile)!r} looks like an encrypted keystore; give a file with the hex key")
        key = text.splitlines()[0].strip() if text else ""
    assert key is not None
    if not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", key):
        usage("the private key must be 64 hex digits (optionally 0x-prefixed)")
    return key
