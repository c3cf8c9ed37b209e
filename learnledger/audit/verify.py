"""``--verify``: fetch every file the chain names from the store and check it is what was recorded.

For each proposal (and the initial weights and the model spec) the bytes must hash to the CID in the
event, their sha256 must be the digest on-chain, and weights must decode as safetensors. An accepted
proposal whose weights hold NaN or infinity is reported too: the members should have refused it.

A store that cannot be reached is not a finding but ``StoreUnreachable`` (exit status 2): the audit
could not look, which is not the same as having looked and found something wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from learnledger.audit.findings import Finding
from learnledger.audit.rebuild import Rebuilt
from learnledger.ledger.api import RoundState
from learnledger.ledger.params import ExperimentParams
from learnledger.store.api import ContentCorrupted, ContentNotFound, StoreError, StoreUnreachable, WeightStore
from learnledger.store.cid import InvalidCid, verify_cid
from learnledger.store.tensors import WeightsError, decode_tensors, non_finite_tensors


@dataclass(frozen=True)
class StoredFile:
    """A file the chain names: its CID, its sha256 digest, what it is and the round (0: setup)."""

    cid: str
    digest: bytes
    what: str
    round: int
    weights: bool
    accepted: bool = False


def files_named(rebuilt: Rebuilt, params: ExperimentParams | None) -> list[StoredFile]:
    """Every file the chain names, in order: spec, initial weights, then each round's proposal."""
    files = []
    if params is not None:
        files.append(StoredFile(params.spec_cid, params.spec_digest, "model spec", 0, weights=False))
        files.append(StoredFile(params.initial_cid, params.initial_digest, "initial weights", 0, weights=True))
    for number, trail in sorted(rebuilt.rounds.items()):
        if trail.proposal is not None:
            files.append(StoredFile(trail.proposal.cid, trail.proposal.digest, "proposed weights", number,
                                    weights=True, accepted=trail.outcome is RoundState.ACCEPTED))
    return files


def verify_files(store: WeightStore, files: list[StoredFile]) -> tuple[list[Finding], int]:
    """Check each file; return the findings and the bytes read. StoreUnreachable propagates."""
    findings: list[Finding] = []
    read = 0
    for file in files:
        def say(message: str) -> None:
            findings.append(Finding("store", file.round, f"{file.what} {file.cid}: {message}"))

        try:
            data = store.get(file.cid)
        except StoreUnreachable:
            raise
        except InvalidCid as error:
            say(f"the chain names no valid CID ({error})")
            continue
        except ContentNotFound:
            say("not in the store (never stored, or removed)")
            continue
        except ContentCorrupted as error:
            say(f"the stored bytes were altered: {error}")
            continue
        except StoreError as error:
            say(f"could not be read: {error}")
            continue
        read += len(data)
        try:
            verify_cid(data, file.cid)  # again: a store may not verify what it serves
        except (ContentCorrupted, InvalidCid) as error:
            say(f"the bytes served do not match the CID: {error}")
            continue
        actual = hashlib.sha256(data).digest()
        if actual != file.digest:
            say(f"sha256 of the bytes is 0x{actual.hex()}, the chain records 0x{file.digest.hex()}")
            continue
        if file.weights:
            try:
                tensors = decode_tensors(data)
            except WeightsError as error:
                say(f"not valid safetensors weights: {error}")
                continue
            bad = non_finite_tensors(tensors)
            if bad and file.accepted:
                say(f"accepted, yet tensors {', '.join(bad[:5])} hold NaN or infinity")
    return findings, read
