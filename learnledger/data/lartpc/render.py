"""Charge on the wires to images: binning, shaping, the induction response, noise, zero suppression."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from learnledger.data.lartpc.config import SimConfig

BIPOLAR_PEAK = 0.6
"""Peak of the induction response to a point charge, relative to the collection (unipolar) peak."""


def bin_charge(event: np.ndarray, wire_cm: np.ndarray, drift_rel_cm: np.ndarray, charge: np.ndarray,
               vertex_pixel: np.ndarray, n_events: int, config: SimConfig) -> np.ndarray:
    """Sum charge into (n_events, 3, size, size) float32 pixels (wire, time) around each vertex."""
    size = config.image_size
    time_px = drift_rel_cm / config.pixel_time_cm + vertex_pixel[event, 1]
    ti = np.floor(time_px).astype(np.int64)
    images = np.zeros(n_events * 3 * size * size, np.float64)
    for plane in range(3):
        wi = np.floor(wire_cm[:, plane] / config.pixel_wire_cm + vertex_pixel[event, 0]).astype(np.int64)
        inside = (wi >= 0) & (wi < size) & (ti >= 0) & (ti < size)
        flat = ((event[inside] * 3 + plane) * size + wi[inside]) * size + ti[inside]
        images += np.bincount(flat, weights=charge[inside], minlength=len(images))
    return images.reshape(n_events, 3, size, size).astype(np.float32)


def readout(charge: np.ndarray, config: SimConfig, rng: np.random.Generator) -> np.ndarray:
    """Electrons per pixel -> uint8 image values (0 = no charge), like the DUNE CVN images."""
    signal = charge
    if config.resolution_pixels > 0:
        signal = ndimage.gaussian_filter(signal, sigma=(0, 0, config.resolution_pixels,
                                                        config.resolution_pixels), truncate=3.0)
    if config.induction_response == "bipolar":
        signal = signal.copy()
        signal[:, :2] = np.abs(ndimage.convolve1d(signal[:, :2], _bipolar_kernel(), axis=3))
    counts = signal * (config.counts_per_kilo_electron / 1000.0)
    if config.noise_electrons > 0:
        add_noise(counts, config.noise_electrons * config.counts_per_kilo_electron / 1000.0,
                  config.threshold_counts, rng)
    counts[counts < config.threshold_counts] = 0
    return np.clip(np.rint(counts), 0, 255).astype(np.uint8)


def read_out_sparse(event: np.ndarray, wire_cm: np.ndarray, drift_rel_cm: np.ndarray, charge: np.ndarray,
                    vertex_pixel: np.ndarray, n_events: int, config: SimConfig, pool: int,
                    rng: np.random.Generator) -> np.ndarray:
    """``pool_pixels(readout(bin_charge(...)), pool)`` computed on the lit pixels only.

    For a readout without blur or bipolar response (the DUNE preset), every step acts pixel by pixel,
    so only the ~1% of pixels holding charge, and the few that noise lifts over the threshold, need
    any work. The random draws are those of the dense path, in the same order, so the images are
    identical (tested); the dense path would handle 4 x 10^6 readout pixels per 10 events.
    """
    if config.resolution_pixels > 0 or config.induction_response != "unipolar":
        raise ValueError("read_out_sparse needs resolution_pixels=0 and a unipolar induction response")
    size = config.image_size
    time_px = drift_rel_cm / config.pixel_time_cm + vertex_pixel[event, 1]
    ti = np.floor(time_px).astype(np.int64)
    flats, weights = [], []
    for plane in range(3):
        wi = np.floor(wire_cm[:, plane] / config.pixel_wire_cm + vertex_pixel[event, 0]).astype(np.int64)
        inside = (wi >= 0) & (wi < size) & (ti >= 0) & (ti < size)
        flats.append(((event[inside] * 3 + plane) * size + wi[inside]) * size + ti[inside])
        weights.append(charge[inside])
    lit, slot = np.unique(np.concatenate(flats), return_inverse=True)
    counts = np.bincount(slot, weights=np.concatenate(weights)).astype(np.float32)
    counts = counts * (config.counts_per_kilo_electron / 1000.0)
    total = n_events * 3 * size * size
    if config.noise_electrons > 0:
        lit, counts = _add_noise_sparse(lit, counts, total,
                                        config.noise_electrons * config.counts_per_kilo_electron / 1000.0,
                                        config.threshold_counts, rng)
    counts[counts < config.threshold_counts] = 0
    values = np.clip(np.rint(counts), 0, 255).astype(np.uint8)
    keep = values > 0
    lit, values = lit[keep], values[keep]
    out = size // pool
    t = lit % size
    w = (lit // size) % size
    view = lit // (size * size)  # event * 3 + plane
    inside = (w < out * pool) & (t < out * pool)
    pooled_flat = (view[inside] * out + w[inside] // pool) * out + t[inside] // pool
    summed = np.bincount(pooled_flat, weights=values[inside].astype(np.float64), minlength=n_events * 3 * out * out)
    pooled = np.minimum((summed.astype(np.int64) + pool // 2) // pool, 255).astype(np.uint8)
    return pooled.reshape(n_events, 3, out, out)


def _add_noise_sparse(lit: np.ndarray, counts: np.ndarray, total: int, sigma: float, threshold: float,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``add_noise`` on a sparse image (sorted flat indices ``lit`` of ``total`` pixels, their counts)."""
    candidates = counts > max(threshold - 6.0 * sigma, 0.0)
    counts = counts.copy()
    counts[candidates] += rng.standard_normal(int(candidates.sum()), dtype=np.float32) * np.float32(sigma)
    quiet = total - int(candidates.sum())
    if quiet == 0 or threshold <= 0:
        return lit, counts
    tail = 0.5 * math.erfc(threshold / (sigma * math.sqrt(2.0)))
    n_crossing = int(rng.binomial(quiet, tail))
    if not n_crossing:
        return lit, counts
    where = rng.integers(0, total, n_crossing)
    position = np.searchsorted(lit, where).clip(max=len(lit) - 1) if len(lit) else np.zeros(n_crossing, np.int64)
    hit = (lit[position] == where) if len(lit) else np.zeros(n_crossing, bool)
    blocked = np.zeros(n_crossing, bool)
    blocked[hit] = candidates[position[hit]]
    where = where[~blocked]
    noise = (threshold + rng.exponential(sigma * sigma / threshold, len(where))).astype(np.float32)
    # as ``counts.flat[where] = noise``: the last value written to a pixel stays
    merged = np.concatenate([lit, where])
    merged_values = np.concatenate([counts, noise])
    reverse_unique, first = np.unique(merged[::-1], return_index=True)
    return reverse_unique, merged_values[::-1][first]


def pool_pixels(images: np.ndarray, pool: int) -> np.ndarray:
    """(n, 3, S, S) uint8 readout pixels -> (n, 3, S/pool, S/pool): blocks summed, divided by ``pool``,
    rounded, clipped at 255: the rule of the DUNE CVN loader (``learnledger.data.dune_cvn.crop_event``)."""
    n, views, size, _ = images.shape
    out = size // pool
    summed = images[:, :, :out * pool, :out * pool].astype(np.uint32).reshape(
        n, views, out, pool, out, pool).sum(axis=(3, 5))
    return np.minimum((summed + pool // 2) // pool, 255).astype(np.uint8)


def add_noise(counts: np.ndarray, sigma: float, threshold: float, rng: np.random.Generator) -> None:
    """Gaussian noise of ``sigma`` counts on every pixel, as seen after zero suppression (in place).

    Drawing a normal number for each of the ~10^7 pixels of a batch would dominate the run time,
    yet only pixels that can cross the threshold matter. Pixels within 6 sigma of it get their own
    draw, and so does every pixel holding charge; on the others (empty, or far below it) noise
    crosses the threshold with the Gaussian tail probability: that many of them, chosen at random,
    get a value from the tail (for a tail far out, nearly exponential with scale sigma^2 /
    threshold). When the threshold is within 6 sigma of zero, as on the DUNE readout pixels, the
    empty pixels are taken to be at zero exactly, which is what they are.
    """
    candidates = counts > max(threshold - 6.0 * sigma, 0.0)
    counts[candidates] += rng.standard_normal(int(candidates.sum()), dtype=np.float32) * np.float32(sigma)
    quiet = counts.size - int(candidates.sum())
    if quiet == 0 or threshold <= 0:
        return
    tail = 0.5 * math.erfc(threshold / (sigma * math.sqrt(2.0)))
    n_crossing = int(rng.binomial(quiet, tail))
    if n_crossing:
        where = rng.integers(0, counts.size, n_crossing)
        where = where[~candidates.flat[where]]
        counts.flat[where] = threshold + rng.exponential(sigma * sigma / threshold, len(where))


def _bipolar_kernel() -> np.ndarray:
    """An induction wire's response along time: a positive then a negative lobe (derivative shape)."""
    t = np.arange(-3, 4, dtype=np.float64)
    kernel = -t * np.exp(-0.5 * t**2)
    return (kernel / np.abs(kernel).max() * BIPOLAR_PEAK).astype(np.float32)


def frame_on_activity(images: np.ndarray, size: int) -> np.ndarray:
    """Crop (n, 3, S, S) canvases to ``size``: the window holding the most charge.

    The rule of the DUNE CVN loader (learnledger.data.dune_cvn), so that simulated and real events
    are framed alike: one time window for all three views (time is their common coordinate), one
    wire window per view, each placed where it holds the most charge.
    """
    n, _, canvas, _ = images.shape
    out = np.empty((n, 3, size, size), images.dtype)
    for i in range(n):
        charge = images[i].astype(np.int64)
        integral = np.zeros((3, canvas + 1, canvas + 1), np.int64)
        integral[:, 1:, 1:] = charge.cumsum(axis=1).cumsum(axis=2)
        held = (integral[:, size:, size:] - integral[:, :-size, size:]
                - integral[:, size:, :-size] + integral[:, :-size, :-size])
        time_start = int(np.argmax(held.max(axis=1).sum(axis=0)))
        for view in range(3):
            wire_start = int(np.argmax(held[view, :, time_start]))
            out[i, view] = images[i, view, wire_start:wire_start + size, time_start:time_start + size]
    return out
