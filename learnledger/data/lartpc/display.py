"""An event display: the three wire planes side by side, labelled with the truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from learnledger.data.lartpc.detector import PLANES


def draw_event(image: np.ndarray, truth: dict[str, object], out: str | Path, title: str | None = None) -> Path:
    """Save a PNG of one event's (3, H, W) planes (wire across, time up); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected one event of shape (3, H, W); received shape {image.shape}")
    out = Path(out)
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.8), constrained_layout=True)
    vmax = max(float(np.percentile(image[image > 0], 99)) if np.any(image) else 1.0, 1.0)
    for plane, ax in enumerate(axes):
        shown = np.ma.masked_equal(image[plane].T.astype(float), 0)
        artist = ax.imshow(shown, origin="lower", cmap="viridis", vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_facecolor("#10101a")
        ax.set_title(f"plane {PLANES[plane]}" + (" (collection)" if plane == 2 else " (induction)"))
        ax.set_xlabel("wire")
        ax.set_ylabel("time")
    fig.colorbar(artist, ax=axes, shrink=0.8, label="charge (ADC-like counts)")
    heading = title or (
        f"{truth.get('label')}  {truth.get('interaction')}   "
        f"E_nu = {float(truth.get('energy', 0)):.2f} GeV   E_lepton = {float(truth.get('lepton_energy', 0)):.2f} GeV"
    )
    fig.suptitle(heading)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out
