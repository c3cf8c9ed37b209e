"""``generate``: balanced, reproducible batches of simulated events, on several processes.

Events are made in fixed batches of ``BATCH`` with a seed per batch derived from the user's seed, so
the output does not depend on the number of workers. Within a batch, everything is vectorised.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator

import numpy as np

from learnledger.data.api import EventSample
from learnledger.data.lartpc import detector, render
from learnledger.data.lartpc import species as S
from learnledger.data.lartpc.config import SimConfig
from learnledger.data.lartpc.kinematics import sample_interaction
from learnledger.data.lartpc.particles import Particles
from learnledger.data.lartpc.transport import transport

BATCH = 50
DEEXCITATION_GAMMA_MEV = (0.5, 6.0)
"""Photons from nuclear de-excitation and neutron capture on argon (6.1 MeV total cascade)."""


def balanced_labels(n_events: int, seed: int) -> np.ndarray:
    """Labels 0, 1, 2 in equal numbers (the remainder to the first classes), shuffled by ``seed``."""
    labels = np.arange(n_events) % 3
    return np.random.default_rng([seed, 0x1AB]).permutation(labels)


def simulate_batch(labels: np.ndarray, seed: int, batch_index: int, config: SimConfig) -> EventSample:
    """Events of the given labels, from the seed of this batch."""
    rng = np.random.default_rng([seed, batch_index])
    n = len(labels)
    interactions = [
        sample_interaction(int(label), rng, config) for label in labels
    ]
    primaries = Particles.concat([_primaries(i, it) for i, it in enumerate(interactions)]
                                 + [_deexcitation(n, rng, config)])
    span = config.image_size * (config.canvas_scale if config.framing == "activity" else 1.0)
    reach = 1.2 * span * max(config.pixel_wire_cm, config.pixel_time_cm)
    nucleon_mev = config.fsi_nucleon_mev if config.inelastic_conserves_energy else None
    deposits = transport(primaries, rng, reach, config.deposit_step_cm, config.landau_width,
                         klein_nishina=config.photon_interactions == "klein-nishina",
                         inelastic_nucleon_mev=nucleon_mev,
                         pion_cross_sections=config.pion_cross_sections)

    vertex_drift = rng.uniform(0.05, 0.95, n) * config.max_drift_cm
    drift = np.maximum(vertex_drift[deposits.event] + deposits.position[:, 0], 0.0)
    charge = detector.collected_electrons(deposits.energy, deposits.dedx, drift, config)
    position = detector.diffuse(deposits.position, drift, config, rng)
    wires = detector.wire_coordinates(position, config)
    canvas = config if config.framing == "vertex" else config.replace(
        image_size=int(round(config.image_size * config.canvas_scale)))
    vertex_pixel = (np.asarray(config.vertex_pixel)[None, :]
                    + rng.normal(0.0, config.vertex_jitter, (n, 2))) * canvas.image_size
    images = _draw(deposits.event, wires, position[:, 0], charge, vertex_pixel, n, canvas, rng)
    if config.framing == "activity":
        images = render.frame_on_activity(images, config.image_size)
    return EventSample(
        images=images,
        labels=np.asarray(labels, np.int64),
        energy=np.array([it.energy_gev for it in interactions], np.float32),
        lepton_energy=np.array([it.lepton_energy_gev for it in interactions], np.float32),
        interaction=np.array([it.mode for it in interactions], np.int64),
    )


READOUT_CHUNK = 10
"""Events drawn at a time on the detector's own pixels (a 600 x 600 canvas per view for DUNE)."""


def _draw(event: np.ndarray, wires: np.ndarray, drift_cm: np.ndarray, charge: np.ndarray,
          vertex_pixel: np.ndarray, n: int, canvas: SimConfig, rng: np.random.Generator) -> np.ndarray:
    """uint8 images of the batch: binned, read out, and (``readout_pool`` > 1) pooled like the CVN maps.

    With a pool the charge is drawn on the readout pixels, where the threshold and the 8-bit
    saturation act, a few events at a time to bound the memory, then pooled to image pixels.
    """
    pool = int(canvas.readout_pool)
    if pool == 1:
        return render.readout(render.bin_charge(event, wires, drift_cm, charge, vertex_pixel, n, canvas),
                              canvas, rng)
    fine = canvas.replace(image_size=canvas.image_size * pool, pixel_wire_cm=canvas.pixel_wire_cm / pool,
                          pixel_time_cm=canvas.pixel_time_cm / pool,
                          resolution_pixels=canvas.resolution_pixels * pool,
                          counts_per_kilo_electron=canvas.counts_per_kilo_electron * pool, readout_pool=1)
    images = np.empty((n, 3, canvas.image_size, canvas.image_size), np.uint8)
    order = np.argsort(event, kind="stable")
    bounds = np.searchsorted(event[order], np.arange(0, n + READOUT_CHUNK, READOUT_CHUNK).clip(max=n))
    for chunk, start in enumerate(range(0, n, READOUT_CHUNK)):
        stop = min(start + READOUT_CHUNK, n)
        rows = order[bounds[chunk]:bounds[chunk + 1]]
        args = (event[rows] - start, wires[rows], drift_cm[rows], charge[rows], vertex_pixel[start:stop] * pool,
                stop - start, fine)
        if fine.resolution_pixels == 0 and fine.induction_response == "unipolar":
            images[start:stop] = render.read_out_sparse(*args, pool=pool, rng=rng)
        else:
            images[start:stop] = render.pool_pixels(render.readout(render.bin_charge(*args), fine, rng), pool)
    return images


def _primaries(event: int, interaction) -> Particles:
    momenta = interaction.momenta_mev
    p = np.linalg.norm(momenta, axis=1)
    mass = S.MASS[interaction.kinds]
    kinetic = np.sqrt(p * p + mass * mass) - mass
    direction = momenta / np.maximum(p, 1e-9)[:, None]
    n = len(p)
    return Particles(np.full(n, event, np.int64), interaction.kinds.astype(np.int8), np.zeros((n, 3)),
                     direction, kinetic)


def _deexcitation(n_events: int, rng: np.random.Generator, config: SimConfig) -> Particles:
    counts = rng.poisson(config.blip_rate, n_events)
    total = int(counts.sum())
    direction = rng.standard_normal((total, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return Particles(np.repeat(np.arange(n_events), counts), np.full(total, S.PHOTON, np.int8),
                     np.zeros((total, 3)), direction, rng.uniform(*DEEXCITATION_GAMMA_MEV, total))


def iter_batches(n_events: int, seed: int, config: SimConfig | None = None, workers: int | None = None
                 ) -> Iterator[tuple[int, EventSample]]:
    """Yield (first event index, batch) in order; ``workers`` processes (default: all CPUs, max 2)."""
    if n_events < 1:
        raise ValueError(f"n_events must be at least 1; received: n_events={n_events}")
    config = config or SimConfig()
    labels = balanced_labels(n_events, seed)
    jobs = [(labels[start:start + BATCH], seed, index, config)
            for index, start in enumerate(range(0, n_events, BATCH))]
    workers = _worker_count(workers, len(jobs))
    if workers == 1:
        for index, job in enumerate(jobs):
            yield index * BATCH, simulate_batch(*job)
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for index, batch in enumerate(pool.imap(_run_job, jobs)):
            yield index * BATCH, batch


def _run_job(job: tuple) -> EventSample:
    return simulate_batch(*job)


def _worker_count(workers: int | None, n_jobs: int) -> int:
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"workers must be at least 1; received: workers={workers}")
    return max(1, min(workers, n_jobs))


def generate(n_events: int, seed: int, config: SimConfig | None = None, workers: int | None = None,
             on_progress: Callable[[int], None] = lambda done: None) -> EventSample:
    """Simulate ``n_events`` events, classes balanced, identical for identical (seed, config).

    ``on_progress(n)`` is called after each batch with the number of events it added (a progress
    bar is the caller's business: this layer draws nothing).
    """
    config = config or SimConfig()
    size = config.image_size
    images = np.zeros((n_events, 3, size, size), np.uint8)
    labels = np.zeros(n_events, np.int64)
    energy = np.zeros(n_events, np.float32)
    lepton = np.zeros(n_events, np.float32)
    mode = np.zeros(n_events, np.int64)
    for start, batch in iter_batches(n_events, seed, config, workers):
        stop = start + len(batch)
        images[start:stop] = batch.images
        labels[start:stop] = batch.labels
        energy[start:stop] = batch.energy
        lepton[start:stop] = batch.lepton_energy
        mode[start:stop] = batch.interaction
        on_progress(len(batch))
    return EventSample(images=images, labels=labels, energy=energy, lepton_energy=lepton, interaction=mode)
