"""Turn a revert's raw data into the contract's custom error, by name and arguments.

The ABI lists every custom error; its 4-byte selector starts the revert data. The decoded
``ContractRevert`` carries the same name and arguments the reference model raises, plus a hint that
says, in words, what happened and what to do.
"""

from __future__ import annotations

from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector

from learnledger.ledger.abi import canonical_type, normalised
from learnledger.ledger.api import ContractRevert, RoundState, SuccessionState


def expected_states(bitmap: bytes | int) -> tuple[RoundState, ...]:
    """The states a ``RoundUnexpectedState`` error allowed (bit i set = RoundState(i))."""
    bits = int.from_bytes(bitmap, "big") if isinstance(bitmap, bytes) else bitmap
    return tuple(state for state in RoundState if bits >> state & 1)


def state_bitmap(*states: RoundState) -> bytes:
    """The inverse of ``expected_states``: a bytes32 with one bit per allowed state."""
    return sum(1 << state for state in states).to_bytes(32, "big")


def hint_for(name: str, args: tuple[Any, ...]) -> str:
    """A sentence for a person: why the contract refused and what to do next."""
    if name == "RoundUnexpectedState":
        round_, current, allowed = args
        wanted = " or ".join(s.name for s in expected_states(allowed))
        return (
            f"round {round_} is {RoundState(current).name}, the action needs {wanted}; "
            "read current_round() and round_state() and act on the round now open"
        )
    if name == "SuccessionUnexpectedState":
        current, allowed = args
        bits = int.from_bytes(allowed, "big")
        wanted = " or ".join(s.name for s in SuccessionState if bits >> s & 1)
        return (f"the latest succession is {SuccessionState(current).name}, the action needs {wanted}; "
                "see `learnledger succession status`")
    hints = {
        "ProposalUnauthorized": "only the round's drawn proposer may propose; see proposer_of(round)",
        "ProposalDigestEmpty": "pass the sha256 digest of the weights' bytes",
        "ProposalCidEmpty": "store the weights first and pass their CID",
        "ProposalCidTooLong": "a CID is at most 128 bytes (a real one is 46 to 59 characters)",
        "VoteScoreOutOfRange": "a score is the metric times 1e6, from 0 to 1e8, or NO_SCORE for none",
        "VoterNotMember": "only members on the roster vote; check the account and the deployment",
        "VoterIsProposer": "the proposer does not vote on its own weights",
        "VoterAlreadyVoted": "each member votes once per round; wait for the next round",
        "VoteSealedOnly": "this experiment seals its votes: commit_vote in the vote window, then reveal_vote",
        "VoteOpenOnly": "this experiment's votes are open (its reveal window is 0): use vote",
        "VoteCommitmentEmpty": "a commitment is the keccak256 of the vote, never zero",
        "RevealWithoutCommitment": "reveal only a vote you committed in this round, and only once",
        "RevealMismatch": "reveal exactly the vote, scores and salt you committed (see the agent's salt file)",
        "MemberUnknown": "that account is not on the roster",
        "MemberIndexOutOfRange": "roster indices run from 0 to memberCount() - 1",
        "ExperimentMemberCountInvalid": "an experiment has 1 to 256 members",
        "ExperimentGroupNamesMismatch": "give exactly one group name per member",
        "ExperimentMemberZeroAddress": "remove the zero address from the members",
        "ExperimentMemberDuplicate": "list each member once",
        "ExperimentThresholdInvalid": "the threshold is in basis points, 1 to 10000 (5000 = half)",
        "ExperimentWindowInvalid": "both windows are in seconds and must be at least 1",
        "ExperimentDigestEmpty": "pass the sha256 digests of the model spec and the initial weights",
        "SuccessionCallerNotMember": "only members on the roster propose or vote on a successor",
        "SuccessionVoterIsProposer": "the member who proposed the successor does not vote on it",
        "SuccessionVoterAlreadyVoted": "each member votes once per succession proposal",
        "SuccessionRoundInProgress": "the round in progress must be finalized first; the next one "
                                     "waits for the succession",
        "SuccessorNotExperiment": "the successor address holds no experiment contract; deploy one "
                                  "with `learnledger deploy --successor-of`",
        "SuccessorPredecessorMismatch": "deploy the successor with --successor-of this experiment's address",
        "SuccessorInitialDigestMismatch": "the successor must start from this experiment's current "
                                          "shared model; deploy it again with --successor-of",
        "SuccessorRosterEmpty": "the successor needs at least one member",
    }
    return hints.get(name, "")


class RevertDecoder:
    """Decodes revert data against one contract's ABI (custom errors, Error(string), Panic)."""

    def __init__(self, abi: list[dict[str, Any]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str], list[dict[str, Any]]]] = {
            bytes([0x08, 0xC3, 0x79, 0xA0]): ("Error", ["string"], [{"type": "string"}]),
            bytes([0x4E, 0x48, 0x7B, 0x71]): ("Panic", ["uint256"], [{"type": "uint256"}]),
        }
        for entry in abi:
            if entry.get("type") == "error":
                types = [canonical_type(i) for i in entry["inputs"]]
                signature = f"{entry['name']}({','.join(types)})"
                self._errors[function_signature_to_4byte_selector(signature)] = (entry["name"], types, entry["inputs"])

    def decode(self, data: bytes) -> ContractRevert | None:
        """The revert named by ``data``, or None if no known error matches it."""
        if len(data) < 4 or data[:4] not in self._errors:
            return None
        name, types, inputs = self._errors[data[:4]]
        try:
            values = abi_decode(types, data[4:])
        except Exception:
            return None
        args = tuple(normalised(i, v) for i, v in zip(inputs, values))
        return ContractRevert(name, args, hint_for(name, args))
