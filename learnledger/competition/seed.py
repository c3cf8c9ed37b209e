"""Selecting the best model, then using all the datasets: the winning entry seeds a collaborative
experiment, its spec and trained weights becoming the new deployment's model spec and round-0 model."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from learnledger.agents.models import ModelSpec
from learnledger.competition.api import EntryRecord
from learnledger.ledger.api import DEFAULT_THRESHOLD_BPS
from learnledger.ledger.params import ExperimentParams
from learnledger.store.api import WeightStore


class SeedError(ValueError):
    """The winning entry cannot seed an experiment; the message says why."""


def seeded_experiment_params(
    entry: EntryRecord,
    store: WeightStore,
    members: Sequence[str],
    group_names: Sequence[str],
    *,
    threshold_bps: int = DEFAULT_THRESHOLD_BPS,
    proposal_window: int = 3600,
    vote_window: int = 3600,
    max_rounds: int = 0,
) -> ExperimentParams:
    """The constructor arguments of a CollaborativeLearning deployment that starts from ``entry``.

    The spec and weights are fetched and checked against the entry's on-chain digests first (and
    the spec parsed), so a deployment never starts from bytes nobody can fetch or use.
    """
    for what, cid, digest in (("spec", entry.spec_cid, entry.spec_digest),
                              ("weights", entry.weights_cid, entry.weights_digest)):
        data = store.get(cid)
        if hashlib.sha256(data).digest() != digest:
            raise SeedError(f"entry {entry.index}'s {what} at {cid} does not match its on-chain digest")
        if what == "spec":
            ModelSpec.from_json(data)
    return ExperimentParams(
        members=tuple(members),
        group_names=tuple(group_names),
        spec_digest=entry.spec_digest,
        spec_cid=entry.spec_cid,
        initial_digest=entry.weights_digest,
        initial_cid=entry.weights_cid,
        threshold_bps=threshold_bps,
        proposal_window=proposal_window,
        vote_window=vote_window,
        max_rounds=max_rounds,
    )
