"""A member's key at rest: the standard Ethereum v3 keystore (as geth and eth-account write it).

A keystore holds the private key encrypted under a password (scrypt, then AES-128-CTR, with a MAC
that tells a wrong password from a right one). The key is decrypted in memory only, for the process
that signs; it never goes to a log or a command line. Files holding secrets (keystores, password
files, plain hex keys) are written readable by their owner alone, and a secret file that others can
read is refused (a password file) or warned about (a plain hex key, which is only for devnets).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from learnledger.ledger.api import LedgerError


class KeystoreError(LedgerError):
    """A key cannot be read: the file is missing or malformed, or the password does not open it."""


def readable_by_others(path: Path) -> bool:
    """Whether group or others may read ``path`` (POSIX mode bits)."""
    return bool(Path(path).stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))


def write_private(path: Path, text: str, replace: bool = False) -> None:
    """Write ``text`` to a file only its owner can read (created so, never briefly wider): a new file,
    or with ``replace`` one that may exist (a set-up run again after it failed half-way)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)


def new_keystore(path: Path, password: str) -> str:
    """Make a fresh account, write its v3 keystore to ``path`` (mode 0600, never overwriting), and
    return its address."""
    from eth_account import Account

    if not password:
        raise KeystoreError("an empty password protects nothing: choose one")
    path = Path(path)
    if path.exists():
        raise KeystoreError(f"{path} exists already: a keystore is never overwritten (choose another path)")
    account = Account.create()
    try:
        write_private(path, json.dumps(Account.encrypt(account.key, password)))
    except OSError as error:
        raise KeystoreError(f"cannot write the keystore {path}: {error.strerror}") from None
    return str(account.address)


def keystore_address(path: Path) -> str:
    """The address a keystore names (readable without the password)."""
    from eth_utils import to_checksum_address

    return str(to_checksum_address("0x" + _read_keystore(path)["address"].removeprefix("0x")))


def _read_keystore(path: Path) -> dict[str, object]:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise KeystoreError(f"no keystore at {path}: make one with `learnledger account new --keystore {path}`") from None
    except OSError as error:
        raise KeystoreError(f"cannot read the keystore {path}: {error.strerror}") from None
    except ValueError:
        raise KeystoreError(f"{path} is not a keystore (not JSON); a plain hex key goes to --keyfile") from None
    if not isinstance(data, dict) or "crypto" not in data and "Crypto" not in data or "address" not in data:
        raise KeystoreError(f"{path} is not a v3 keystore (no crypto or address field)")
    return data


def unlock_keystore(path: Path, password: str) -> str:
    """The private key (0x hex) in the keystore at ``path``; KeystoreError naming the file and its
    address when the password does not open it."""
    from eth_account import Account

    data = _read_keystore(path)
    try:
        key = Account.decrypt(data, password)
    except ValueError:
        raise KeystoreError(
            f"the password does not open the keystore {path} (account {keystore_address(path)}): "
            "check --password-file (its first line is the password, without the newline)"
        ) from None
    return "0x" + bytes(key).hex()


def read_password_file(path: Path) -> str:
    """The first line of ``path``; refused when others can read it (the password is the key)."""
    path = Path(path)
    try:
        if readable_by_others(path):
            raise KeystoreError(f"the password file {path} is readable by other users: "
                            f"run `chmod 600 {path}` and try again")
        text = path.read_text()
    except FileNotFoundError:
        raise KeystoreError(f"no password file at {path}") from None
    except OSError as error:
        raise KeystoreError(f"cannot read the password file {path}: {error.strerror}") from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise KeystoreError(f"the password file {path} is empty: its first line is the password")
    return lines[0]
