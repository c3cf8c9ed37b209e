"""``--evaluate DATA``: score the final shared model, as the chain names it, on local data.

The model spec and the final weights come from the store by the CIDs the chain records, and each
must hash to the digest the chain records before it is used: the scores printed are those of the
model the members agreed on, not of some file that happens to sit in a run folder.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from learnledger.audit.run import AuditReport
from learnledger.store.api import WeightStore


class EvaluationError(ValueError):
    """The final model or the data could not be had; the message says which and what to do."""


def _fetch(store: WeightStore, cid: str, digest: bytes, what: str) -> bytes:
    from learnledger.store.api import StoreUnreachable, StoreError

    try:
        data = store.get(cid)
    except StoreUnreachable:
        raise
    except StoreError as error:
        raise EvaluationError(f"cannot fetch the {what} ({cid}): {error}") from None
    if hashlib.sha256(data).digest() != digest:
        raise EvaluationError(f"the {what} {cid} does not hash to the digest on-chain 0x{digest.hex()}")
    return data


def final_model_files(report: AuditReport, store: WeightStore) -> tuple[bytes, bytes]:
    """(model spec JSON, final weights) of the audited experiment, both checked against the chain."""
    params = report.params
    if params is None:
        raise EvaluationError("the chain holds no ExperimentCreated event in the range read; nothing to evaluate")
    spec = _fetch(store, params.spec_cid, params.spec_digest, "model spec")
    round_ = report.views.model_round
    if round_ == 0:
        cid = params.initial_cid
    else:
        trail = report.rebuilt.rounds.get(round_)
        if trail is None or trail.proposal is None:
            raise EvaluationError(f"the shared model comes from round {round_}, whose proposal was not read")
        cid = trail.proposal.cid
    weights = _fetch(store, cid, report.views.model_digest, f"final weights (round {round_})")
    return spec, weights


def load_evaluation_data(path: Path) -> dict[str, object]:
    """Name -> LearnerData: one entry for a group's .npz, one per learner for an experiment TOML."""
    from learnledger.data.errors import DataError

    try:
        if path.suffix == ".npz":
            from learnledger.data.private import load_private_data

            return {path.name: load_private_data(path)}
        if path.suffix == ".toml":
            from learnledger.agents.experiment import Experiment
            from learnledger.data.experiment_data import load_learner_data

            experiment = Experiment.load(path)
            shares = load_learner_data(experiment.data, [s.corruption for s in experiment.learners],
                                       experiment.seed)
            return {spec.group: data for spec, data in zip(experiment.learners, shares)}
    except (DataError, ValueError) as error:
        raise EvaluationError(f"cannot load the data {path}: {error}") from None
    raise EvaluationError(f"--evaluate takes a group's .npz or an experiment .toml, received: {path}")


def evaluate_final_model(report: AuditReport, store: WeightStore, path: Path) -> tuple[str, dict[str, dict[str, float]]]:
    """The metric's name and, per dataset, the final model's score on its vote and test splits."""
    from learnledger.agents.learner import Learner
    from learnledger.agents.models import ModelSpec, SpecError

    spec_json, weights = final_model_files(report, store)
    try:
        spec = ModelSpec.from_json(spec_json)
    except SpecError as error:
        raise EvaluationError(f"the model spec on the chain is not one this version reads: {error}") from None
    scores = {}
    for name, data in load_evaluation_data(path).items():
        try:
            learner = Learner(name, data, spec)  # type: ignore[arg-type]
        except ValueError as error:
            raise EvaluationError(f"the data {name} does not fit the model: {error}") from None
        result = learner.score(weights)
        scores[name] = {"vote": result.vote, "test": result.test}
    return spec.metric, scores
