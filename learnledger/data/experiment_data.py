"""From an experiment's data settings to one private LearnerData per learner.

The one entry point the agents call: ``load_learner_data(config, corruptions, seed)``. The seed
fixes everything (partition, each learner's split, each corruption, generated events), through
independent streams derived from it, so adding a learner never reshuffles the others' corruption.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from learnledger.data.api import EventSample, LearnerData, Split
from learnledger.data.config import DataConfig
from learnledger.data.corruption import Corruption, corrupt_learner
from learnledger.data.errors import DataError
from learnledger.data.mnist import MNIST_CLASSES, load_mnist
from learnledger.data.partition import partition_dirichlet, partition_iid, split_share

log = logging.getLogger(__name__)

DEFAULT_GENERATED_EVENTS = 3000

_PARTITION_STREAM, _SPLIT_STREAM, _CORRUPTION_STREAM, _GENERATION_STREAM = range(4)


def load_learner_data(config: DataConfig, corruptions: Sequence[Corruption],
                      seed: int) -> list[LearnerData]:
    """One LearnerData per learner, in roster order (``len(corruptions)`` learners)."""
    n_learners = len(corruptions)
    if n_learners < 1:
        raise DataError("no learners: give one corruption entry (Corruption() if honest) per learner.")
    split, class_names, provenance = load_dataset(config, seed)
    labels = split.y

    rng = _stream(seed, _PARTITION_STREAM)
    if config.split == "dirichlet":
        shares = partition_dirichlet(labels, n_learners, config.alpha, rng)
    else:
        shares = partition_iid(len(labels), n_learners, rng)

    learners = []
    for learner, (share, corruption) in enumerate(zip(shares, corruptions)):
        split_rng = _stream(seed, _SPLIT_STREAM, learner)
        if config.max_per_learner is not None and len(share) > config.max_per_learner:
            share = np.sort(split_rng.choice(share, config.max_per_learner, replace=False))
        parts = split_share(share, config.vote_fraction, config.test_fraction, split_rng)
        data = LearnerData(
            train=_take(split, parts.train), vote=_take(split, parts.vote),
            test=_take(split, parts.test), class_names=class_names,
            provenance={**provenance, "seed": seed, "learner": learner, "learners": n_learners,
                        "partition": config.split,
                        **({"alpha": config.alpha} if config.split == "dirichlet" else {}),
                        "sizes": {"train": len(parts.train), "vote": len(parts.vote),
                                  "test": len(parts.test)}},
        )
        learners.append(corrupt_learner(data, corruption, _stream(seed, _CORRUPTION_STREAM, learner)))
    log.info("data: %s split %s among %d learners (%s)", provenance.get("source"), config.split,
             n_learners, ", ".join(str(len(d.train)) for d in learners))
    return learners


def load_dataset(config: DataConfig, seed: int) -> tuple[Split, tuple[str, ...], dict[str, object]]:
    """The whole dataset the config names, as one Split with its class names and provenance."""
    if config.source == "mnist":
        digits = load_mnist(config.path)
        return Split(x=digits.images, y=digits.labels), MNIST_CLASSES, digits.provenance()
    sample, provenance = _load_events(config, seed)
    if not config.include_nutau:
        sample = _without_nutau(sample)
    if len(sample) == 0:
        raise DataError(f"{config.source} data at {config.path or 'the default'} holds no events.")
    return sample.to_split(), sample.class_names, {**provenance, "events": len(sample)}


def _load_events(config: DataConfig, seed: int) -> tuple[EventSample, dict[str, object]]:
    if config.source == "dune_cvn":
        from learnledger.data.dune_cvn import DEFAULT_ROOT, load_dune_cvn

        root = Path(config.path) if config.path else None
        sample = load_dune_cvn(root, include_nutau=config.include_nutau)
        return sample, {"dataset": "dune_cvn", "source": "dune_cvn", "path": str(root or DEFAULT_ROOT)}
    if config.source == "microboone":
        from learnledger.data.microboone import load_microboone

        if not config.path:
            raise DataError("source='microboone' needs path = a MicroBooNE open-samples .h5 file.")
        sample = load_microboone(Path(config.path))
        return sample, {"dataset": "microboone", "source": "microboone", "path": config.path}
    # lartpc: the simulator's own file, or events generated now from the seed.
    from learnledger.data import lartpc

    if config.path:
        return lartpc.read_h5(Path(config.path)), {"dataset": "lartpc", "source": "file",
                                                   "path": config.path}
    events = config.events or DEFAULT_GENERATED_EVENTS
    generation_seed = int(_stream(seed, _GENERATION_STREAM).integers(2**31))
    sample = lartpc.generate(events, seed=generation_seed)
    return sample, {"dataset": "lartpc", "source": "generated", "events_asked": events,
                    "generation_seed": generation_seed}


def _without_nutau(sample: EventSample) -> EventSample:
    keep = sample.labels < 3
    if keep.all():
        return EventSample(sample.images, sample.labels, sample.energy, sample.lepton_energy,
                           sample.interaction, sample.class_names[:3])
    return EventSample(images=sample.images[keep], labels=sample.labels[keep],
                       energy=sample.energy[keep], lepton_energy=sample.lepton_energy[keep],
                       interaction=sample.interaction[keep], class_names=sample.class_names[:3])


def _take(split: Split, indices: np.ndarray) -> Split:
    return Split(x=split.x[indices], y=split.y[indices])


def _stream(seed: int, *key: int) -> np.random.Generator:
    """An independent generator for one purpose (and learner) derived from the experiment seed."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))
