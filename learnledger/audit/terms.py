"""The experiment's terms for an audit's report, gathered from every source the auditor has.

The chain alone holds the voting rules and digests, not the experiment's name, data or test-set
sizes. The report takes them, best first, from the experiment file the auditor names
(``--experiment``: name, model, data, test-set sizes, and the initial weights' scores where the
store is at hand), from a run's ``summary.json`` next to the deployment record, from the model spec
the chain names (in the store), and last from the contract's own terms. Every file from the store
is checked against its on-chain digest before it is believed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from learnledger.audit.evaluate import EvaluationError
from learnledger.audit.run import AuditReport
from learnledger.report.terms import ExperimentTerms
from learnledger.store.api import WeightStore


@dataclass
class ReportTerms:
    """The terms, and every group's test score of the final model where a run measured it."""

    terms: ExperimentTerms
    final_test_scores: dict[str, float] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


def gather_terms(
    report: AuditReport,
    deployment: Path | None = None,
    store: WeightStore | None = None,
    experiment: Path | None = None,
    on_step: Callable[[str], None] = lambda line: None,
) -> ReportTerms:
    """Everything known about the audited experiment's terms (see the module's docstring).

    Raises:
        EvaluationError: the experiment file cannot be read, or does not fit the chain's roster.
    """
    gathered = ReportTerms(ExperimentTerms())
    if experiment is not None:
        gathered.terms = _from_experiment_file(report, experiment, store, on_step)
        gathered.sources.append(str(experiment))
    summary = _run_summary(report, deployment)
    if summary is not None:
        gathered.terms = gathered.terms.merged(ExperimentTerms.from_dict(summary.get("terms") or {}))
        if summary.get("final_model_digest") == report.views.model_digest.hex():
            gathered.final_test_scores = {str(g): float(s) for g, s in
                                          dict(summary.get("final_test_scores") or {}).items()}
        gathered.sources.append("summary.json")
    if store is not None and report.params is not None and gathered.terms.model is None:
        spec = _stored_spec(report, store)
        if spec is not None:
            gathered.terms = gathered.terms.merged(ExperimentTerms.from_spec(spec))
            gathered.sources.append("the model spec in the store")
    if report.params is not None:
        gathered.terms = gathered.terms.merged(ExperimentTerms.from_params(report.params))
    return gathered


def _run_summary(report: AuditReport, deployment: Path | None) -> dict | None:  # type: ignore[type-arg]
    """A run folder's summary.json beside its deployment.json, if it is this contract's run."""
    if deployment is None or not (deployment.parent / "summary.json").is_file():
        return None
    try:
        summary = json.loads((deployment.parent / "summary.json").read_text())
        record = json.loads(deployment.read_text())
    except (OSError, ValueError):
        return None
    if str(record.get("address", "")).lower() != report.address.lower() or not isinstance(summary, dict):
        return None
    return summary


def _stored_spec(report: AuditReport, store: WeightStore) -> dict | None:  # type: ignore[type-arg]
    from learnledger.store.api import StoreError

    params = report.params
    assert params is not None
    try:
        data = store.get(params.spec_cid)
    except StoreError:
        return None
    if hashlib.sha256(data).digest() != params.spec_digest:
        return None
    try:
        spec = json.loads(data)
    except ValueError:
        return None
    return spec if isinstance(spec, dict) else None


def _from_experiment_file(report: AuditReport, path: Path, store: WeightStore | None,
                          on_step: Callable[[str], None]) -> ExperimentTerms:
    """Name, model, data and test-set sizes from the file; round-0 scores if the store holds the
    initial weights the chain names."""
    from learnledger.agents.experiment import Experiment, ExperimentError
    from learnledger.data.errors import DataError
    from learnledger.data.experiment_data import load_learner_data

    try:
        experiment = Experiment.load(path)
    except ExperimentError as error:
        raise EvaluationError(str(error)) from None
    if report.groups and list(experiment.groups) != report.groups:
        raise EvaluationError(f"{path} names the groups {', '.join(experiment.groups)}, but the chain's roster is "
                              f"{', '.join(report.groups)}; pass the experiment file this contract was deployed from")
    on_step(f"loading the data of {path} for the test-set sizes")
    try:
        shares = load_learner_data(experiment.data, [s.corruption for s in experiment.learners], experiment.seed)
    except (DataError, ValueError, OSError) as error:
        raise EvaluationError(f"cannot load the data of {path}: {error}") from None
    sizes = {spec.group: len(data.test.y) for spec, data in zip(experiment.learners, shares)}
    baseline: dict[str, float] = {}
    if store is not None and report.params is not None:
        on_step("scoring the initial weights (round 0) on every group's test set")
        baseline = _baseline(report, store, experiment, shares)
    return ExperimentTerms.from_experiment(experiment, sizes, baseline)


def _baseline(report: AuditReport, store: WeightStore, experiment: object, shares: list) -> dict[str, float]:  # type: ignore[type-arg]
    from learnledger.agents.learner import Learner
    from learnledger.store.api import StoreError

    params = report.params
    assert params is not None
    try:
        initial = store.get(params.initial_cid)
    except StoreError:
        return {}
    if hashlib.sha256(initial).digest() != params.initial_digest:
        raise EvaluationError(f"the initial weights {params.initial_cid} do not hash to the digest on-chain")
    spec = experiment.spec  # type: ignore[attr-defined]
    if spec.digest() != params.spec_digest:
        raise EvaluationError("the experiment file's model spec is not the one the chain names (its digest "
                              "differs); pass the experiment file this contract was deployed from")
    return {learner.group: Learner(learner.group, data, spec).score(initial).test
            for learner, data in zip(experiment.learners, shares)}  # type: ignore[attr-defined]
