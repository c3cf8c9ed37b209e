"""The evaluator agent: fetch and verify every entry, score it on private test data, commit, reveal.

An evaluator is one research group holding a test set that no entrant trained on. In the Commit
phase it fetches each entry's spec and weights from the store, checks both against the digests the
entrant put on-chain, builds the model from the spec, loads the weights and scores them; then it
commits to the scores with a fresh salt. In the Reveal phase it reveals them. Once the reveal
window has closed, any evaluator finalizes. Each step reads the phase first, so ``step`` may be
called again and again (after a restart too: the salt and scores are kept in a memo file, written
before the commitment is sent, so a crash between the two never loses the means to reveal).

What an entry scores:

- its own entry: like any other (the median is robust to one self-interested score among three,
  and an honest score there keeps a dishonest rival from deciding the entry's median alone);
- bytes the store cannot give: ``NO_SCORE`` (abstain: the evaluator could not judge);
- bytes that do not match their digest, a spec that does not parse, weights that do not fit the
  spec, a model that does not take the test images: the metric's worst value (the entry is broken);
- otherwise the metric on the test set: accuracy * 1e6, or for a loss, -loss * 1e6 (higher is
  better on-chain).

Nothing here imports web3: the agent talks to the chain through ``api.Competition``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from learnledger.agents.models import METRICS, PROBABILITY_FLOOR, ModelSpec, SpecError, build_model
from learnledger.agents.weights import load_weights_bytes
from learnledger.competition.api import NO_SCORE, Competition, EntryRecord, Phase
from learnledger.competition.commitment import commitment, new_salt
from learnledger.data.api import Split
from learnledger.ledger.api import to_score
from learnledger.store.api import StoreError, WeightStore
from learnledger.store.tensors import WeightsError, decode_tensors, non_finite_tensors

log = logging.getLogger(__name__)

EVAL_BATCH = 512


class EvaluatorError(Exception):
    """The evaluator cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class EntryScore:
    """One entry's score from this evaluator, and why it is what it is."""

    index: int
    score: int
    reason: str
    """"scored", or what was wrong (for the log and the CLI)."""
    metric: float | None = None


@dataclass(frozen=True)
class Memo:
    """What the evaluator must remember between commit and reveal: its scores and its salt."""

    scores: tuple[int, ...]
    salt: bytes

    def to_json(self) -> str:
        return json.dumps({"scores": list(self.scores), "salt": "0x" + self.salt.hex()}, indent=1) + "\n"

    @classmethod
    def load(cls, path: Path) -> Memo:
        try:
            data = json.loads(Path(path).read_text())
            return cls(tuple(int(s) for s in data["scores"]), bytes.fromhex(data["salt"].removeprefix("0x")))
        except FileNotFoundError:
            raise EvaluatorError(
                f"no evaluation memo at {path}: the scores and salt committed to are lost, so this "
                "evaluator cannot reveal (its scores will be discarded)"
            ) from None
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise EvaluatorError(f"the evaluation memo {path} is damaged ({error})") from None


def score_model(spec: ModelSpec, weights: bytes, test: Split, metric: str) -> float:
    """``metric`` ("accuracy" or "loss") of the model ``spec`` describes, with ``weights``, on ``test``.

    Raises ValueError (or a subclass) if the weights do not fit the spec or the images the model.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric: metric={metric!r}; choose one of {', '.join(METRICS)}")
    if test.x.ndim != 4 or tuple(test.x.shape[1:]) != spec.input_shape:
        raise ValueError(f"the model takes images of {spec.input_shape}, the test set has {test.x.shape[1:]}")
    if len(test) and (test.y.min() < 0 or test.y.max() >= spec.num_classes):
        raise ValueError(f"the model has {spec.num_classes} classes, the test labels reach {int(test.y.max())}")
    model = build_model(spec)
    load_weights_bytes(model, weights)
    probabilities = np.concatenate([
        np.asarray(model.predict_on_batch(test.x[start : start + EVAL_BATCH]))
        for start in range(0, len(test), EVAL_BATCH)
    ])
    worst = METRICS[metric].worst
    if not np.isfinite(probabilities).all():
        return worst
    if metric == "accuracy":
        value = float(np.mean(np.argmax(probabilities, axis=1) == test.y))
    else:
        picked = probabilities[np.arange(len(test)), test.y.astype(np.int64)]
        value = float(-np.mean(np.log(np.clip(picked, PROBABILITY_FLOOR, 1.0))))
    return value if math.isfinite(value) else worst


def on_chain(metric: str, value: float) -> int:
    """The int64 score sent for ``value`` of ``metric``: higher is better on-chain."""
    return to_score(value if METRICS[metric].higher_is_better else -value)


class Evaluator:
    """One evaluator group's agent.

    Args:
        competition: this group's handle on the competition (its account signs).
        store: where the entries' specs and weights are fetched from.
        test: the private test set (uint8 images, integer labels).
        memo_path: where to keep the scores and salt between commit and reveal. Default: in memory
            only (an in-process run); give a file for an agent that may restart.
    """

    def __init__(self, competition: Competition, store: WeightStore, test: Split,
                 memo_path: Path | None = None) -> None:
        if len(test) == 0:
            raise EvaluatorError("the test set is empty; an evaluator needs test examples to score entries")
        self.competition = competition
        self.store = store
        self.test = test
        self.memo_path = memo_path
        self._memo: Memo | None = None
        self.last_scores: list[EntryScore] = []

    @property
    def metric(self) -> str:
        return self.competition.metric

    def _worst(self) -> int:
        return on_chain(self.metric, METRICS[self.metric].worst)

    def _fetch(self, cid: str, digest: bytes, what: str) -> bytes | str:
        """The bytes, or the reason they cannot be used (a string)."""
        try:
            data = self.store.get(cid)
        except StoreError as error:
            return f"unavailable: {what} {cid}: {error}"
        if hashlib.sha256(data).digest() != digest:
            return f"{what} bytes do not match the digest on-chain"
        return data

    def score_entry(self, entry: EntryRecord) -> EntryScore:
        """This evaluator's score for ``entry`` (see the module's rules)."""
        fetched = {}
        for what, cid, digest in (("spec", entry.spec_cid, entry.spec_digest),
                                  ("weights", entry.weights_cid, entry.weights_digest)):
            data = self._fetch(cid, digest, what)
            if isinstance(data, str):
                abstain = data.startswith("unavailable")
                return EntryScore(entry.index, NO_SCORE if abstain else self._worst(), data)
            fetched[what] = data
        try:
            spec = ModelSpec.from_json(fetched["spec"])
            value = score_model(spec, fetched["weights"], self.test, self.metric)
        except (SpecError, ValueError) as error:
            return EntryScore(entry.index, self._worst(), f"unusable: {error}")
        return EntryScore(entry.index, on_chain(self.metric, value), "scored", value)

    def score_entries(self) -> list[EntryScore]:
        """A score for every entry, in entry order."""
        return [self.score_entry(entry) for entry in self.competition.entries()]

    def step(self) -> str | None:
        """Do what the phase calls for, if anything; return what was done, in words."""
        status = self.competition.status()
        if status.phase is Phase.Commit and not status.committed:
            self.last_scores = self.score_entries()
            for scored in self.last_scores:
                log.info("entry %d: %d (%s)", scored.index, scored.score, scored.reason)
            memo = Memo(tuple(s.score for s in self.last_scores), new_salt())
            self._remember(memo)
            self.competition.commit(commitment(memo.scores, memo.salt, self.competition.account))
            return f"committed to scores for {len(memo.scores)} entries"
        if status.phase is Phase.Reveal and status.committed and not status.revealed:
            memo = self._recall()
            self.competition.reveal(memo.scores, memo.salt)
            return f"revealed scores for {len(memo.scores)} entries"
        if status.phase is Phase.Closed:
            self.competition.finalize()
            return "finalized the competition"
        return None

    def _remember(self, memo: Memo) -> None:
        self._memo = memo
        if self.memo_path is not None:
            Path(self.memo_path).write_text(memo.to_json())

    def _recall(self) -> Memo:
        if self._memo is None:
            if self.memo_path is None:
                raise EvaluatorError("this evaluator committed, but its scores and salt were kept in memory "
                                     "only and are gone; give memo_path to survive a restart")
            self._memo = Memo.load(self.memo_path)
        return self._memo


def check_entry(spec: ModelSpec, weights: bytes) -> None:
    """Refuse weights that every evaluator would score as broken, before the entry (which cannot be
    taken back) is made: they must load into the model ``spec`` builds and hold finite numbers.

    Raises:
        WeightsError: malformed or truncated safetensors, tensors that do not fit the model (every
            difference listed), or NaN/infinite tensors (named).
    """
    load_weights_bytes(build_model(spec), weights)
    diverged = non_finite_tensors(decode_tensors(weights))
    if diverged:
        raise WeightsError(f"the weights hold NaN or infinite values in {', '.join(diverged)}")


def submit_entry(competition: Competition, store: WeightStore, spec: ModelSpec, weights: bytes) -> int:
    """An entrant's step: check that the weights load into the spec's model (``check_entry``), store
    the spec and weights, enter their digests and CIDs; the entry index."""
    check_entry(spec, weights)
    spec_bytes = spec.canonical_json()
    return competition.enter(hashlib.sha256(spec_bytes).digest(), store.put(spec_bytes),
                             hashlib.sha256(weights).digest(), store.put(weights))
