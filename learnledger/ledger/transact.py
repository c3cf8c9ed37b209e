"""Send one account's transactions: simulate, sign locally, keep the nonce, wait, explain reverts.

Every transaction is first simulated (``eth_estimateGas``), which both sizes its gas and, when the
contract would refuse, returns the revert data without spending anything: the refusal is raised
as ``ContractRevert`` with the custom error's name and arguments. A transaction that still reverts
on chain (another member's transaction got in first) is replayed as a call to name the error.
"""

from __future__ import annotations

import ast
from typing import Any

from eth_account import Account
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from learnledger.ledger.api import AccountUnfunded, ContractRevert, LedgerError
from learnledger.ledger.errors import RevertDecoder

GAS_MARGIN = 150_000
"""Added to the estimate. The state can change between simulation and mining: a vote estimated
as an ordinary one may land as the last one, which also finalizes and opens the next round."""

RECEIPT_TIMEOUT = 120.0

EMBEDDED_CALL_GAS = 30_000_000
"""Gas limit of a transaction to a contract on the embedded chain, where it is simulated by one
eth_call instead of eth-tester's eth_estimateGas (a bisection of a dozen executions, 40% of the
chain's time in a run). A round action needs under 100k, a large competition's finalize a few
million; only the gas used is paid, so a cap at half the embedded block limit costs nothing.
Deployments are still estimated."""


def revert_data(error: BaseException) -> bytes | None:
    """The raw revert data inside a web3 or eth-tester error, if it carries any."""
    data = getattr(error, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    if isinstance(data, dict) and isinstance(data.get("data"), str):
        return bytes.fromhex(data["data"].removeprefix("0x"))
    for arg in getattr(error, "args", ()):
        if isinstance(arg, bytes):
            return arg
        if isinstance(arg, dict) and isinstance(arg.get("data"), str):
            return bytes.fromhex(arg["data"].removeprefix("0x"))
        if isinstance(arg, str) and "execution reverted: b" in arg:
            # eth-tester renders the revert bytes as a Python literal in the message.
            literal = arg[arg.index("execution reverted: ") + len("execution reverted: ") :]
            try:
                value = ast.literal_eval(literal)
            except (ValueError, SyntaxError):
                return None
            return value if isinstance(value, bytes) else None
    return None


class Transactor:
    """One account's sender: signs with its key and counts its own nonce.

    Args:
        w3: the connection.
        key: the account's private key (hex).
        decoder: names the contract's custom errors in reverts.
    """

    def __init__(self, w3: Web3, key: str, decoder: RevertDecoder) -> None:
        try:
            self._account = Account.from_key(key)
        except Exception:
            raise LedgerError(
                "not a valid private key (expected 32 bytes as hex); check --key or --keyfile"
            ) from None
        self.w3 = w3
        self.decoder = decoder
        self.address: str = self._account.address
        self._nonce: int | None = None
        self._chain_id: int | None = None
        self.last_gas_used = 0
        # Simulate in the block the transaction will land in, so its clock (deadlines) is the one
        # the transaction meets. eth-tester refuses "pending" but already simulates there.
        self._simulation_block: str | None = (
            None if isinstance(w3.provider, EthereumTesterProvider) else "pending"
        )
        """Gas of the last transaction mined (the gas benchmark reads it)."""

    def refusal(self, error: BaseException) -> ContractRevert | None:
        """The contract's refusal inside ``error``, or None if it is not one."""
        data = revert_data(error)
        return self.decoder.decode(data) if data is not None else None

    def call(self, function: Any, block: str | int = "latest") -> Any:
        """Run a view at ``block``; a revert comes back as ContractRevert."""
        try:
            return function.call(block_identifier=block)
        except Exception as error:
            raise self._explain(error, "reading the contract") from None

    def send(self, to: str | None, data: str) -> dict[str, Any]:
        """Simulate, sign, send and wait for one transaction; return its receipt."""
        request: dict[str, Any] = {"from": self.address, "data": data}
        if to is not None:
            request["to"] = to
        try:
            if self._simulation_block is None and to is not None:  # the embedded chain
                # at "pending": the block (and clock) the transaction will be mined in
                self.w3.eth.call(dict(request, gas=EMBEDDED_CALL_GAS), "pending")  # type: ignore[arg-type]
                request["gas"] = EMBEDDED_CALL_GAS
            else:
                estimate = self.w3.eth.estimate_gas(request, self._simulation_block)  # type: ignore[arg-type]
                request["gas"] = estimate + GAS_MARGIN
        except Exception as error:
            raise self._explain(error, "simulating the transaction") from None
        receipt = self._send_signed(request)
        self.last_gas_used = int(receipt["gasUsed"])
        if receipt["status"] != 1:
            raise self._explain_failed(request, receipt)
        return receipt

    def _send_signed(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._chain_id is None:
            self._chain_id = self.w3.eth.chain_id
        for attempt in (1, 2):
            if self._nonce is None:
                self._nonce = self.w3.eth.get_transaction_count(self.address, "pending")
            transaction = dict(
                request, nonce=self._nonce, chainId=self._chain_id, gasPrice=self.w3.eth.gas_price
            )
            signed = self._account.sign_transaction(transaction)
            try:
                tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            except Exception as error:
                message = str(error).lower()
                if attempt == 1 and ("nonce" in message or "already known" in message):
                    self._nonce = None  # someone else used this key: count again from the chain
                    continue
                if _is_unfunded(error):
                    raise self._unfunded() from None
                raise LedgerError(f"the node refused the transaction: {error}") from None
            self._nonce += 1
            try:
                return dict(self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT))
            except Exception as error:
                raise LedgerError(
                    f"transaction {tx_hash.hex()} was sent but no receipt came within "
                    f"{RECEIPT_TIMEOUT:.0f} s ({error}); is the chain mining?"
                ) from None
        raise LedgerError("unreachable")  # pragma: no cover

    def _explain_failed(self, request: dict[str, Any], receipt: dict[str, Any]) -> LedgerError:
        """Replay a transaction that reverted on chain to learn which error it hit."""
        replay = {k: v for k, v in request.items() if k != "gas"}
        try:
            self.w3.eth.call(replay, receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except Exception as error:
            found = self.refusal(error)
            if found is not None:
                return found
        try:
            self.w3.eth.call(replay)  # type: ignore[arg-type]
        except Exception as error:
            found = self.refusal(error)
            if found is not None:
                return found
        tx_hash = receipt["transactionHash"]
        return LedgerError(
            f"transaction {tx_hash.hex() if isinstance(tx_hash, bytes) else tx_hash} reverted on chain "
            f"(gas used {receipt['gasUsed']} of {request['gas']}) and a replay names no error"
        )

    def _explain(self, error: BaseException, doing: str) -> LedgerError:
        found = self.refusal(error)
        if found is not None:
            return found
        if _is_unfunded(error):
            return self._unfunded()
        if isinstance(error, (ContractLogicError, Web3RPCError)):
            return LedgerError(f"the chain refused while {doing}: {error}")
        return LedgerError(f"failed while {doing}: {type(error).__name__}: {error}")

    def _unfunded(self) -> AccountUnfunded:
        return AccountUnfunded(
            f"account {self.address} has no ether to pay for gas on this chain: fund it, or use a key "
            "that holds some (on a devnet: a key `learnledger devnet` prints or writes with --keys-dir)"
        )


def _is_unfunded(error: BaseException) -> bool:
    """Whether a node's refusal says the sender cannot pay (anvil, geth and eth-tester word it so)."""
    text = str(error).lower()
    return "insufficient funds" in text or "sender doesn't have enough funds" in text
