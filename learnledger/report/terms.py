"""The experiment's terms as a report states them: its name, what was learned from what, and the rules.

A figure of scores means little without them: which metric, measured on how many examples (its
statistical error follows from that), with which model and data, under which voting threshold, and
where the scores started (round 0, the initial weights). The terms come from wherever they are
known: the experiment file, a run's ``summary.json``, the contract's constructor arguments and the
model spec the chain points to; ``merged`` fills what one source lacks from another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from learnledger.report.stats import PROPORTION_METRICS, mean_error

if TYPE_CHECKING:
    from learnledger.agents.experiment import Experiment
    from learnledger.ledger.params import ExperimentParams


@dataclass(frozen=True)
class ExperimentTerms:
    """What a reader needs to know to read an experiment's figures; every field may be unknown.

    Attributes:
        name: the experiment's name (from its file), shown as the report's title.
        metric: the score voters measure ("accuracy" or "loss"); None where the spec was not read.
        threshold_bps: approvals needed, in basis points of the voters.
        proposal_window, vote_window: seconds for the proposer, then for the voters.
        rounds: the contract's maximum number of rounds.
        model: the shared model and its training, in one line.
        data: the data and how it was shared, in one line.
        test_examples: group -> size of its private test set (gives the scores' errors).
        baseline_test_scores: group -> test score of the initial weights (round 0).
    """

    name: str | None = None
    metric: str | None = None
    threshold_bps: int | None = None
    proposal_window: int | None = None
    vote_window: int | None = None
    rounds: int | None = None
    model: str | None = None
    data: str | None = None
    test_examples: dict[str, int] = field(default_factory=dict)
    baseline_test_scores: dict[str, float] = field(default_factory=dict)

    @property
    def has_errors(self) -> bool:
        """Whether the scores have a binomial error: a proportion metric on test sets of known size."""
        return self.metric in PROPORTION_METRICS and bool(self.test_examples)

    def score_label(self, kind: str) -> str:
        """An axis or column name: ``test accuracy`` (``test score`` while the metric is unknown)."""
        return f"{kind} {self.metric or 'score'}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentTerms:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["test_examples"] = {str(g): int(n) for g, n in dict(values.get("test_examples") or {}).items()}
        values["baseline_test_scores"] = {str(g): float(s) for g, s in
                                          dict(values.get("baseline_test_scores") or {}).items()}
        return cls(**values)

    def merged(self, other: ExperimentTerms) -> ExperimentTerms:
        """These terms, with what they leave unknown taken from ``other``."""
        blank = ExperimentTerms()
        return replace(self, **{f.name: getattr(other, f.name) for f in fields(self)
                                if getattr(self, f.name) == getattr(blank, f.name)})

    @classmethod
    def from_experiment(cls, experiment: Experiment, test_examples: Mapping[str, int] | None = None,
                        baseline_test_scores: Mapping[str, float] | None = None) -> ExperimentTerms:
        """The terms an experiment file states, with its test-set sizes and round-0 scores if known."""
        data = experiment.data
        where = f" ({data.path})" if data.path else ""
        line = (f"{data.source}{where}, {data.split} split"
                + (f" (alpha {data.alpha:g})" if data.split == "dirichlet" else "")
                + f" among {len(experiment.learners)} groups; of each share {data.vote_fraction:.0%} vote set, "
                  f"{data.test_fraction:.0%} test set, the rest training")
        if data.max_per_learner:
            line += f" (at most {data.max_per_learner} examples per group)"
        spoiled = [f"{s.group}: {s.corruption.kind}" for s in experiment.learners if s.corruption.kind != "none"]
        if spoiled:
            line += "; spoiled on purpose: " + ", ".join(spoiled)
        return cls(
            name=experiment.name, metric=experiment.spec.metric, threshold_bps=experiment.threshold_bps,
            proposal_window=experiment.proposal_window, vote_window=experiment.vote_window,
            rounds=experiment.rounds, model=model_line(asdict(experiment.spec)), data=line,
            test_examples=dict(test_examples or {}), baseline_test_scores=dict(baseline_test_scores or {}),
        )

    @classmethod
    def from_params(cls, params: ExperimentParams) -> ExperimentTerms:
        """The terms the contract was deployed with (no name, model or data: the chain holds digests)."""
        return cls(threshold_bps=params.threshold_bps, proposal_window=params.proposal_window,
                   vote_window=params.vote_window, rounds=params.max_rounds or None)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> ExperimentTerms:
        """The model line and metric of a model spec (the JSON the chain's spec CID names)."""
        return cls(metric=str(spec.get("metric", "accuracy")), model=model_line(spec))

    def facts(self) -> list[tuple[str, str]]:
        """(label, text) for every known term, in reading order."""
        facts: list[tuple[str, str]] = []
        if self.data:
            facts.append(("data", self.data))
        if self.test_examples:
            sizes = sorted(set(self.test_examples.values()))
            facts.append(("test examples per group", ", ".join(f"{g} {n}" for g, n in self.test_examples.items())
                          if len(sizes) > 1 else f"{sizes[0]} (each of {len(self.test_examples)} groups)"))
        if self.model:
            facts.append(("model", self.model))
        facts.append(("metric", self.metric or "not known here (the model spec is in the store: pass "
                                               "--store or --ipfs, or --experiment)"))
        if self.threshold_bps is not None:
            facts.append(("threshold", f"a proposal is accepted when at least {self.threshold_bps / 100:g}% "
                                       "of the voters approve"))
        if self.proposal_window is not None and self.vote_window is not None:
            facts.append(("windows", f"{_duration(self.proposal_window)} to propose, "
                                     f"{_duration(self.vote_window)} to vote"))
        if self.rounds:
            facts.append(("rounds", f"at most {self.rounds}"))
        return facts

    def subtitle(self) -> str:
        """One line under a figure's title: model, data, threshold, rounds."""
        parts = [p for p in (self.model, self.data.split(";")[0] if self.data else None) if p]
        if self.threshold_bps is not None:
            parts.append(f"threshold {self.threshold_bps / 100:g}%")
        return "; ".join(parts)


def model_line(spec: Mapping[str, Any]) -> str:
    """``mnist_cnn on 28x28x1 images, 10 classes; 2 epochs per proposal, batch 32, adam (lr 0.001)``."""
    shape = "x".join(str(d) for d in spec.get("input_shape", ()))
    epochs = int(spec.get("epochs", 1))
    return (f"{spec.get('architecture', '?')} on {shape} images, {spec.get('num_classes', '?')} classes; "
            f"{epochs} epoch{'s' if epochs != 1 else ''} per proposal, batch {spec.get('batch_size', '?')}, "
            f"{spec.get('optimizer', '?')} (lr {spec.get('learning_rate', '?')})")


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def terms_summary(terms: ExperimentTerms, final_test_scores: Mapping[str, float]) -> dict[str, Any]:
    """What summary.json adds to the final scores: their error and the terms they were measured under."""
    error = mean_error(final_test_scores, terms.test_examples) if terms.has_errors and final_test_scores else None
    return {"final_mean_test_error": error, "terms": terms.as_dict()}
