"""Send one account's transactions: simulate, sign locally, keep the nonce, pay EIP-1559 fees,
wait (replacing a transaction not mined in time), explain reverts.

A transaction is first simulated (``eth_estimateGas``), which both sizes its gas and, when the
contract would refuse, returns the revert data without spending anything: the refusal is raised
as ``ContractRevert`` with the custom error's name and arguments. A caller that has just read the
state deciding the outcome, and knows the function's worst-case gas, may skip the simulation
(``send(..., gas=LIMIT)``): one round trip and one execution fewer per transaction. A transaction
that reverts on chain (skipped simulation, or another member's transaction got in first) is
replayed as a call to name the error, so a refusal carries the contract's custom error either way.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from learnledger.ledger.api import AccountUnfunded, ContractRevert, LedgerError
from learnledger.ledger.chain import is_embedded, quantity, raw_request
from learnledger.ledger.errors import RevertDecoder

GAS_MARGIN = 150_000
"""Added to the estimate. The state can change between simulation and mining: a vote estimated
as an ordinary one may land as the last one, which also finalizes and opens the next round."""

log = logging.getLogger(__name__)

RECEIPT_TIMEOUT = 120.0
RECEIPT_FIRST_POLL_S = 0.001
RECEIPT_POLL_S = 0.2
"""A receipt is looked for at once, then after pauses doubling from ``RECEIPT_FIRST_POLL_S`` to
``RECEIPT_POLL_S``: a transaction mined in the next block is seen within a tenth of a 2 s block,
without a fixed poll on every wait. The first pause is short because an automining anvil often
answers the send a moment before its block is sealed: with a first pause of 10 ms, a send to anvil
took 3.9 ms on average instead of 2.0."""

REPLACE_AFTER_BLOCKS = 3
"""A transaction not mined this many blocks after it was sent is replaced: same nonce, fees raised by
``FEE_BUMP`` (or to a fresh estimate if higher); one the node dropped is sent again."""
REPLACE_AFTER_S = 5.0
"""...and at least this many seconds after it was sent: on a devnet that mines a block per
transaction, a hundred agents sending at once make three blocks in milliseconds, and a transaction
still queued behind them is not lost (a replacement then races its own original)."""
FEE_BUMP = 1.125
"""Nodes accept a replacement only if it pays at least 10% more (geth's txpool.pricebump)."""
SEND_ATTEMPTS = 4
FEE_HISTORY_BLOCKS = 5
TIP_PERCENTILE = 50
MIN_TIP_WEI = 10**9
"""1 gwei: the tip geth's transaction pool asks by default (--txpool.pricelimit)."""

EMBEDDED_CALL_GAS = 30_000_000
"""Gas limit of a transaction to a contract on the embedded chain, where it is simulated by one
eth_call instead of eth_estimateGas (a bisection of a dozen executions, which on py-evm, the
embedded chain's EVM before revm, was 40% of the chain's time in a run). A round action needs under 100k, a large competition's finalize a few
million, a 256-member deployment about 23 million; only the gas used is paid, so a cap at half the
embedded block limit costs nothing. Deployments too: their estimate, a bisection over the whole
constructor, was 0.3 s of every embedded run's set-up."""


def revert_data(error: BaseException) -> bytes | None:
    """The raw revert data inside a web3 error, if it carries any."""
    data = getattr(error, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    if isinstance(data, dict) and isinstance(data.get("data"), str):
        return bytes.fromhex(data["data"].removeprefix("0x"))
    response = getattr(error, "rpc_response", None)  # a raw request's error: the node's own words
    if isinstance(response, dict) and isinstance(response.get("error"), dict):
        found = response["error"].get("data")
        if isinstance(found, str) and found.startswith("0x"):
            return bytes.fromhex(found[2:])
    for arg in getattr(error, "args", ()):
        if isinstance(arg, bytes):
            return arg
        if isinstance(arg, dict) and isinstance(arg.get("data"), str):
            return bytes.fromhex(arg["data"].removeprefix("0x"))
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
        self.replacements = 0
        """Transactions replaced or re-sent because they were not mined in time (the fee test reads it)."""
        # Simulate in the block the transaction will land in, so its clock (deadlines) is the one
        # the transaction meets.
        self._simulation_block: str | None = (
            None if is_embedded(w3) else "pending"
        )
        """Gas of the last transaction mined (the gas benchmark reads it)."""

    def refusal(self, error: BaseException) -> ContractRevert | None:
        """The contract's refusal inside ``error``, or None if it is not one."""
        data = revert_data(error)
        return self.decoder.decode(data) if data is not None else None

    def read(self, to: str, data: bytes, block: str | int = "latest") -> bytes:
        """What a call of ``data`` to ``to`` returns at ``block``; a revert comes back as
        ContractRevert. A raw JSON-RPC request (``chain.raw_request``)."""
        request = {"from": self.address, "to": to, "data": "0x" + data.hex()}
        try:
            result = raw_request(self.w3, "eth_call", [request, hex(block) if isinstance(block, int) else block])
        except Exception as error:
            raise self._explain(error, "reading the contract") from None
        return bytes.fromhex(result[2:]) if isinstance(result, str) else bytes(result)

    def send(self, to: str | None, data: str, gas: int | None = None) -> dict[str, Any]:
        """Simulate, sign, send and wait for one transaction; return its receipt.

        With ``gas`` (a limit known to cover the function's worst case) there is no simulation: the
        caller has just read the state that decides the outcome. A refusal then shows on chain, and
        is named by replaying the transaction (``ContractRevert`` all the same)."""
        request: dict[str, Any] = {"from": self.address, "data": data}
        if to is not None:
            request["to"] = to
        if gas is not None:
            request["gas"] = int(gas)
            return self._mined(request)
        try:
            if self._simulation_block is None:  # the embedded chain
                # at "pending": the block (and clock) the transaction will be mined in
                self.w3.eth.call(dict(request, gas=EMBEDDED_CALL_GAS), "pending")  # type: ignore[arg-type]
                request["gas"] = EMBEDDED_CALL_GAS
            else:
                estimate = self.w3.eth.estimate_gas(request, self._simulation_block)  # type: ignore[arg-type]
                request["gas"] = estimate + GAS_MARGIN
        except Exception as error:
            raise self._explain(error, "simulating the transaction") from None
        return self._mined(request)

    def _mined(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send ``request`` (gas set) and return its receipt; a revert on chain raised by name."""
        receipt = self._send_signed(request)
        self.last_gas_used = int(receipt["gasUsed"])
        if receipt["status"] != 1:
            raise self._explain_failed(request, receipt)
        return receipt

    def _send_signed(self, request: dict[str, Any]) -> dict[str, Any]:
        """Sign and send ``request`` and wait for its receipt, replacing it (same nonce, higher fee)
        when it is not mined within ``REPLACE_AFTER_BLOCKS`` blocks, and re-sending it when the
        node dropped it (a full pool, a reorganisation that lost it)."""
        if self._chain_id is None:
            self._chain_id = self.w3.eth.chain_id
        recounted = False
        counted, fees = self._count_and_fees()
        for _ in range(SEND_ATTEMPTS):
            self._nonce = self._next_nonce(counted)
            counted = None
            try:
                tx_hash = self._sign_and_send(request, self._nonce, fees)
            except LedgerError as error:
                message = str(error).lower()
                if not recounted and ("nonce" in message or "already known" in message):
                    recounted = True
                    self._nonce = None  # someone else used this key: count again from the chain
                    continue
                if any(word in message for word in ("base fee", "underpriced", "fee cap", "feecap")):
                    fees = bump_fees(fees, self.fee_caps())  # the fees rose since we looked: offer more
                    continue
                if _is_unfunded(error):
                    raise self._unfunded() from None
                raise
            nonce = self._nonce
            self._nonce += 1
            try:
                return self._wait(request, nonce, fees, tx_hash)
            except LedgerError:
                raise
            except Exception as error:  # the node stopped answering while we waited
                raise LedgerError(
                    f"transaction {tx_hash.hex()} was sent but could not be followed to a receipt "
                    f"({type(error).__name__}: {error}); the next step reads the chain again") from None
        raise LedgerError(f"the node refused the transaction {SEND_ATTEMPTS} times, with fees up to {fees}; "
                          "is its minimum gas price far above the chain's fees (--txpool.pricelimit)?")

    def _count_and_fees(self) -> tuple[int | None, dict[str, int]]:
        """The node's count of this account's transactions (pending included) and the fees to offer,
        asked in one JSON-RPC batch: one round trip instead of two before every transaction. None for
        the count on the embedded chain, which needs no count from the node (see ``_next_nonce``)."""
        if self._simulation_block is None:
            return None, self.fee_caps()
        try:  # raw: web3's batch machinery cost twice the request itself
            count, history = (answer["result"] for answer in self.w3.provider.make_batch_request([
                ("eth_getTransactionCount", [self.address, "pending"]),
                ("eth_feeHistory", [hex(FEE_HISTORY_BLOCKS), "latest", [TIP_PERCENTILE]])]))
            return int(count, 16), self._caps_from(history)
        except Exception:  # a node (or provider) without batches: ask one by one, errors and all
            return None, self.fee_caps()

    def _next_nonce(self, counted: int | None = None) -> int:
        """The nonce to send at: the node's count of this account's transactions, pending included
        (``counted`` if just read), which after a reorganisation that lost one of ours is lower than
        our own count (and after another sender used the key, higher). The embedded chain mines at
        once: our count is exact."""
        if self._simulation_block is None and self._nonce is not None:
            return self._nonce
        on_chain = int(self.w3.eth.get_transaction_count(self.address, "pending")) if counted is None else counted
        if self._nonce is not None and on_chain < self._nonce:
            log.warning("%s: the chain counts %d transactions, this process sent %d: a reorganisation "
                        "lost some; sending at nonce %d", self.address, on_chain, self._nonce, on_chain)
        return on_chain

    def fee_caps(self) -> dict[str, int]:
        """What to offer: EIP-1559 caps from the node's fee history where blocks have a base fee
        (``maxFeePerGas`` = twice the next block's base fee plus the tip, so six full blocks in a
        row of rising fees still leave it minable), else a legacy ``gasPrice``."""
        if self._simulation_block is None:  # the embedded chain: legacy pricing, mined at once
            return {"gasPrice": int(self.w3.eth.gas_price)}
        return self._caps_from(self.w3.eth.fee_history(FEE_HISTORY_BLOCKS, "latest", [TIP_PERCENTILE]))

    def _caps_from(self, history: Any) -> dict[str, int]:
        """``fee_caps`` from a fee history, raw from the node or formatted by web3."""
        base_fees = history.get("baseFeePerGas") or []
        if not base_fees or base_fees[-1] is None:
            return {"gasPrice": int(self.w3.eth.gas_price)}
        rewards = sorted(quantity(r[0]) for r in history.get("reward") or [] if r)
        tip = max(MIN_TIP_WEI, rewards[len(rewards) // 2] if rewards else 0)
        return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * quantity(base_fees[-1]) + tip}

    def _sign_and_send(self, request: dict[str, Any], nonce: int, fees: dict[str, int]) -> bytes:
        transaction = dict(request, nonce=nonce, chainId=self._chain_id, **fees)
        signed = self._account.sign_transaction(transaction)
        try:
            return bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))
        except Exception as error:
            raise LedgerError(f"the node refused the transaction (nonce {nonce}): {error}") from None

    def _wait(self, request: dict[str, Any], nonce: int, fees: dict[str, int], tx_hash: bytes) -> dict[str, Any]:
        """The receipt of whichever of this nonce's transactions is mined; replace or re-send on the way."""
        sent = [tx_hash]
        if self._simulation_block is None:  # the embedded chain mined it while sending
            receipt = self._receipt(tx_hash)
            if receipt is not None:
                return receipt
            return dict(self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT))
        deadline = time.monotonic() + RECEIPT_TIMEOUT
        sent_at: int | None = None
        sent_time = time.monotonic()
        pause = RECEIPT_FIRST_POLL_S
        while time.monotonic() < deadline:
            for candidate in reversed(sent):
                receipt = self._receipt(candidate)
                if receipt is not None:
                    return receipt
            head = self.w3.eth.block_number
            sent_at = head if sent_at is None else sent_at
            if head - sent_at >= REPLACE_AFTER_BLOCKS and time.monotonic() - sent_time >= REPLACE_AFTER_S:
                nonce, fees = self._resend(request, nonce, fees, sent)
                sent_at, sent_time = head, time.monotonic()
            time.sleep(pause)
            pause = min(pause * 2, RECEIPT_POLL_S)
        raise LedgerError(
            f"transaction {sent[-1].hex()} (nonce {nonce}, {len(sent) - 1} replacement(s)) was sent but "
            f"no receipt came within {RECEIPT_TIMEOUT:.0f} s; is the chain making blocks?")

    def _receipt(self, tx_hash: bytes) -> dict[str, Any] | None:
        try:
            return dict(self.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return None

    def _resend(self, request: dict[str, Any], nonce: int, fees: dict[str, int],
                sent: list[bytes]) -> tuple[int, dict[str, int]]:
        """Not mined for a while: replace it at the same nonce with bumped fees, or re-send it at the
        account's next nonce when the chain lost an earlier one. Returns the nonce and fees used."""
        mined_nonce = self.w3.eth.get_transaction_count(self.address, "latest")
        if mined_nonce > nonce:  # our nonce got used, yet by none of ours that we can see: look again
            for candidate in sent:
                if self._receipt(candidate) is not None:
                    return nonce, fees
            raise LedgerError(
                f"nonce {nonce} of {self.address} was used by a transaction this process did not send "
                "(is the key used elsewhere at the same time?); the action will be retried from the chain")
        if mined_nonce < nonce:  # an earlier transaction was lost (a reorganisation, a dropped one)
            log.warning("nonce %d of %s is not mined and earlier nonces are missing: re-sending at nonce %d",
                        nonce, self.address, mined_nonce)
            nonce = mined_nonce
            self._nonce = nonce + 1
        dropped = self._pool_lookup(sent[-1]) is None
        bumped = bump_fees(fees, self.fee_caps())
        log.warning("transaction %s (nonce %d) not mined within %d blocks%s: %s with %s",
                    sent[-1].hex(), nonce, REPLACE_AFTER_BLOCKS, " and dropped by the node" if dropped else "",
                    "re-sending" if dropped else "replacing it", bumped)
        try:
            sent.append(self._sign_and_send(request, nonce, bumped))
            self.replacements += 1
        except LedgerError as error:  # e.g. "replacement underpriced": bump more at the next try
            log.warning("%s", error)
        return nonce, bumped

    def _pool_lookup(self, tx_hash: bytes) -> dict[str, Any] | None:
        try:
            return dict(self.w3.eth.get_transaction(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return None


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


def bump_fees(old: dict[str, int], fresh: dict[str, int]) -> dict[str, int]:
    """Fees for a replacement: at least ``FEE_BUMP`` above the old ones in every field (nodes refuse
    a replacement that is not at least 10% dearer), and no less than a fresh estimate."""
    return {name: max(int(value * FEE_BUMP) + 1, fresh.get(name, 0)) for name, value in old.items()}


def _is_unfunded(error: BaseException) -> bool:
    """Whether a node's refusal says the sender cannot pay (anvil, geth and the embedded node word it so)."""
    text = str(error).lower()
    return "insufficient funds" in text or "sender doesn't have enough funds" in text
