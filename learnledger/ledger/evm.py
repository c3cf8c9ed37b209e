"""revm, through pyrevm, with each transaction closed the way a node closes it.

pyrevm (0.3.7) runs every message in one journal that it never finalizes: an account or slot read
by one transaction stays warm for the next, and a slot's "original value" (what EIP-2200 prices a
store against) stays what it was when first read, so the second vote of a round would be metered
about a third cheaper than on any chain. A node commits a transaction's changes to its database
and starts the next one cold. pyrevm offers that only through its checkpoints, so this module does
it in three steps: run the transaction inside a checkpoint; read what it changed (the journal's
accounts and dirty slots, from the journal's debug rendering, the one view of storage pyrevm
gives); revert the checkpoint (everything cold again) and write those values into the database
underneath. Reads happen inside a checkpoint too, since a read also warms what it touches.

Every write to the database is logged with the value it replaced, so ``undo_to`` can take the
state back to any earlier point (a node's ``evm_snapshot``/``evm_revert``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from eth_utils import keccak, to_checksum_address
from pyrevm import EVM, AccountInfo, BlockEnv, CfgEnv, Env

T = TypeVar("T")

SPEC = "PRAGUE"
"""The fork revm runs: the one the devnet runs (devnet.DEVNET_HARDFORK), so gas is priced alike."""
EMPTY_CODE_HASH = keccak(b"")
ANALYSIS_PADDING = 33
"""revm keeps deployed code analysed, with this many zero bytes after it."""

_FAILED = re.compile(r"^(Revert|Halt) \{ (?:reason: (?P<reason>.+), )?gas_used: (?P<gas>\d+)"
                     r"(?:, output: 0x(?P<output>[0-9a-fA-F]*))? \}$")
"""How pyrevm words a message that ran and failed: reverted (with its data) or halted."""
_ACCOUNT = re.compile(
    r"(0x[0-9a-fA-F]{40}): Account \{ info: AccountInfo \{ balance: (\d+), nonce: (\d+), "
    r"code_hash: 0x([0-9a-f]{64}), code: .*? \}, storage: \{(.*?)\}, status: AccountStatus\(([^)]*)\) \}")
_SLOT = re.compile(r"(\d+): StorageSlot \{ previous_or_original_value: (\d+), present_value: (\d+) \}")


class RefusedMessage(Exception):
    """revm refused a message before running it (too little gas for its intrinsic cost, ...)."""


@dataclass
class Outcome:
    """One message's run: whether it succeeded, its gas, its return (or revert) data, its logs
    (address, topics, data), the address it created, the reason it halted."""

    success: bool
    gas_used: int
    output: bytes
    logs: list[tuple[str, list[bytes], bytes]] = field(default_factory=list)
    created: str | None = None
    halt: str | None = None


@dataclass(frozen=True)
class _Change:
    """An account as a transaction left it: its fields, its new code if created, its dirty slots."""

    address: str
    balance: int
    nonce: int
    code_hash: bytes
    code: bytes | None
    slots: dict[int, int]


class Evm:
    """revm's state and execution; only ``node.EmbeddedNode`` uses it.

    Args:
        chain_id: what ``CHAINID`` answers.
        gas_limit: the most gas one message may take.
    """

    def __init__(self, chain_id: int, gas_limit: int) -> None:
        self._evm = EVM(env=Env(cfg=CfgEnv(chain_id=chain_id)), gas_limit=gas_limit, spec_id=SPEC)
        self._undo: list[_AccountRecord | _SlotRecord] = []
        """Every write to the database, with what it replaced (``undo_to``)."""

    # ------------------------------------------------------------------------- running

    def run(self, block: BlockEnv, sender: str, to: str | None, data: bytes, value: int, gas: int,
            *, keep: bool) -> Outcome:
        """Run one message in ``block``; with ``keep``, commit what it changed (a transaction),
        else leave the state as it was (a call). RefusedMessage if revm will not start it."""
        self._evm.set_block_env(block)
        checkpoint = self._evm.snapshot()
        try:
            outcome = self._execute(sender, to, data, value, gas)
            changes = self._changes() if keep and outcome.success else []
        finally:
            self._evm.revert(checkpoint)
        for change in changes:
            self._commit(change)
        return outcome

    def _execute(self, sender: str, to: str | None, data: bytes, value: int, gas: int) -> Outcome:
        evm = self._evm
        try:
            if to is None:
                created = to_checksum_address(evm.deploy(sender, data, value or None, gas))
                result = evm.result
                return Outcome(True, result.gas_used, self._code_of(created), _logs_of(result), created=created)
            output = evm.message_call(sender, to, data, value or None, gas)
            result = evm.result
            return Outcome(True, result.gas_used, bytes(output), _logs_of(result))
        except RuntimeError as error:
            failed = _FAILED.match(str(error))
            if failed is None:
                raise RefusedMessage(str(error)) from None
            return Outcome(False, int(failed["gas"]), bytes.fromhex(failed["output"] or ""), halt=failed["reason"])

    def _changes(self) -> list[_Change]:
        """What the message just run changed: every account it touched, with its dirty slots."""
        text = self._evm.journal_str
        changes = []
        for match in _ACCOUNT.finditer(text):
            address, balance, nonce, code_hash, storage, status = match.groups()
            if "Touched" not in status and "Created" not in status:
                continue
            new_code = self._code_of(address) if "Created" in status else None
            slots = {int(key): int(present) for key, original, present in _SLOT.findall(storage) if original != present}
            changes.append(_Change(to_checksum_address(address), int(balance), int(nonce), bytes.fromhex(code_hash),
                                   new_code, slots))
        if not changes and "state: {" not in text:
            raise RuntimeError("pyrevm's journal is not in the form this module reads; pin pyrevm==0.3.7")
        return changes

    def _commit(self, change: _Change) -> None:
        """Write one account's change into the database (cold), logging what it replaced."""
        old = self.read(lambda: self._evm.basic(change.address))
        if (int(old.balance), int(old.nonce), bytes(old.code_hash or EMPTY_CODE_HASH)) != (
                change.balance, change.nonce, change.code_hash) or change.code is not None:
            self._undo.append(_AccountRecord.of(change.address, old))
            self._write_account(change.address, AccountInfo(balance=change.balance, nonce=change.nonce,
                                                            code_hash=change.code_hash, code=change.code))
        for key, value in change.slots.items():
            before = self.read(lambda k=key: int(self._evm.storage(change.address, k)))
            self._undo.append(_SlotRecord(change.address, key, before))
            self._write_slot(change.address, key, value)

    def _write_account(self, address: str, info: AccountInfo) -> None:
        self._evm.insert_account_info(address, info)

    def _write_slot(self, address: str, key: int, value: int) -> None:
        # into the database only while the account is not in the journal: so inside a checkpoint,
        # which the write's own load of the account would otherwise leave warm
        checkpoint = self._evm.snapshot()
        self._evm.insert_account_storage(address, key, value)
        self._evm.revert(checkpoint)

    # ------------------------------------------------------------------------- the state

    def read(self, read: Callable[[], T]) -> T:
        """``read()`` inside a checkpoint, so that nothing it loads stays warm."""
        checkpoint = self._evm.snapshot()
        try:
            return read()
        finally:
            self._evm.revert(checkpoint)

    def account(self, address: str) -> tuple[int, int]:
        """(balance, nonce) of ``address``."""
        info = self.read(lambda: self._evm.basic(address))
        return int(info.balance), int(info.nonce)

    def set_account(self, address: str, balance: int, nonce: int) -> None:
        """Set an account's balance and nonce (its code stays)."""
        old = self.read(lambda: self._evm.basic(address))
        self._undo.append(_AccountRecord.of(address, old))
        self._write_account(address, AccountInfo(balance=balance, nonce=nonce,
                                                 code_hash=bytes(old.code_hash or EMPTY_CODE_HASH)))

    def code(self, address: str) -> bytes:
        return self.read(lambda: self._code_of(address))

    def _code_of(self, address: str) -> bytes:
        """An account's code as deployed (revm's copy may carry its analysis padding; the account's
        code hash tells which bytes are the code)."""
        code = bytes(self._evm.get_code(address) or b"")
        if len(code) > ANALYSIS_PADDING and keccak(code) != bytes(self._evm.basic(address).code_hash or b""):
            return code[:-ANALYSIS_PADDING]
        return code

    def storage(self, address: str, key: int) -> int:
        return self.read(lambda: int(self._evm.storage(address, key)))

    def block_hash(self, number: int) -> bytes:
        """What ``BLOCKHASH`` answers for ``number`` (revm's in-memory database derives it from the
        number: keccak256 of its decimal digits)."""
        return bytes(self._evm.block_hash(number))

    # ------------------------------------------------------------------------- undo

    def mark(self) -> int:
        """A point in the state's history that ``undo_to`` can return to."""
        return len(self._undo)

    def undo_to(self, mark: int) -> None:
        """Take back every write since ``mark``, newest first."""
        while len(self._undo) > mark:
            record = self._undo.pop()
            if isinstance(record, _AccountRecord):
                self._write_account(record.address, AccountInfo(balance=record.balance, nonce=record.nonce,
                                                                code_hash=record.code_hash))
            else:
                self._write_slot(record.address, record.key, record.value)


@dataclass(frozen=True)
class _AccountRecord:
    """An account's fields before a write (its code by hash: the database keeps every code)."""

    address: str
    balance: int
    nonce: int
    code_hash: bytes

    @classmethod
    def of(cls, address: str, info: AccountInfo) -> _AccountRecord:
        return cls(address, int(info.balance), int(info.nonce), bytes(info.code_hash or EMPTY_CODE_HASH))


@dataclass(frozen=True)
class _SlotRecord:
    """A storage slot's value before a write."""

    address: str
    key: int
    value: int


def _logs_of(result: object) -> list[tuple[str, list[bytes], bytes]]:
    logs = []
    for entry in result.logs:  # type: ignore[attr-defined]
        topics, data = entry.data
        logs.append((to_checksum_address(entry.address), [bytes(t) for t in topics], bytes(data)))
    return logs


def block_env(number: int, timestamp: int, base_fee: int, gas_limit: int, prevrandao: bytes) -> BlockEnv:
    """The block a message runs in. (pyrevm runs every message with a base fee of 0 whatever this
    says: ``BASEFEE`` reads 0; the node charges the fee itself.)"""
    return BlockEnv(number=number, timestamp=timestamp, basefee=base_fee, gas_limit=gas_limit,
                    coinbase="0x" + "00" * 20, prevrandao=prevrandao)
