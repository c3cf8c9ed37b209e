"""Choosing the Keras backend (TensorFlow, JAX or PyTorch) before Keras is first imported.

Keras reads ``KERAS_BACKEND`` once, at its first import, so the choice must be made before any
model code runs. The weights are the same safetensors bytes whatever the backend, so groups on
different backends can share one experiment: the backend is a site's choice, not the experiment's.
That is why the environment wins: ``KERAS_BACKEND``, if set, over the experiment file's
``keras_backend``, over the default, TensorFlow.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import os
import sys
from typing import Any

log = logging.getLogger(__name__)

KERAS_BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT_BACKEND = "tensorflow"


class BackendError(RuntimeError):
    """The asked-for backend is unknown, not installed, or too late to choose."""


def select_backend(requested: str | None = None) -> str:
    """Make Keras use ``requested`` (unless ``KERAS_BACKEND`` says otherwise); return the choice.

    Args:
        requested: the experiment file's ``keras_backend``, or None for the default.

    Raises:
        BackendError: an unknown or uninstalled backend, or Keras already running on another one.
    """
    from_env = os.environ.get("KERAS_BACKEND")
    chosen = from_env or requested or DEFAULT_BACKEND
    where = "KERAS_BACKEND" if from_env else "keras_backend" if requested else "the default"
    if chosen not in KERAS_BACKENDS:
        raise BackendError(
            f"unknown Keras backend {where}={chosen!r}; choose one of {', '.join(KERAS_BACKENDS)}"
        )
    if from_env and requested and requested != from_env:
        log.info("KERAS_BACKEND=%s overrides the experiment's keras_backend=%s", from_env, requested)
    if "keras" in sys.modules:
        running = sys.modules["keras"].backend.backend()
        if running != chosen:
            raise BackendError(
                f"Keras already runs on {running!r} in this process, so it cannot switch to "
                f"{chosen!r} ({where}); set KERAS_BACKEND={chosen} before starting the command"
            )
        return chosen
    if importlib.util.find_spec(chosen) is None:
        raise BackendError(
            f"the Keras backend {chosen!r} ({where}) is not installed; install it "
            f"(pip install {'tensorflow-cpu' if chosen == 'tensorflow' else chosen}) "
            f"or choose another with KERAS_BACKEND"
        )
    os.environ["KERAS_BACKEND"] = chosen
    if chosen == "tensorflow":
        hide_jax_from_tensorflow()
    # TensorFlow's C++ start-up chatter (oneDNN, CPU features) buries the progress display.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return chosen


class _JaxHiddenFromTensorFlowAndKeras(importlib.abc.MetaPathFinder):
    """Refuses ``import jax`` when TensorFlow or Keras is the importer, in a process on TensorFlow.

    Both import JAX whenever it is installed, for things never used on TensorFlow (TensorFlow
    Lite's model conversions; Keras's Orbax checkpoint callback), and fall back when it is not.
    Where JAX sits beside TensorFlow (the test tools install both) every process on TensorFlow
    carried it: about 100 MiB resident and a third of a second of start-up, in each of a load run's
    workers. Any other importer, this project's code included, gets JAX as usual."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "jax" or name.startswith("jax."):
            frame = sys._getframe(1)
            while frame is not None and frame.f_globals.get("__name__", "").startswith("importlib"):
                frame = frame.f_back  # through the import machinery, to the module that imports
            importer = "" if frame is None else str(frame.f_globals.get("__name__", ""))
            if importer.startswith(("tensorflow.", "keras.", "tf_keras.")):
                raise ModuleNotFoundError(f"JAX is not imported for {importer} on TensorFlow", name=name)
        return None


def hide_jax_from_tensorflow() -> None:
    """Install ``_JaxHiddenFromTensorFlowAndKeras`` once, before TensorFlow is imported."""
    if "tensorflow" in sys.modules or any(isinstance(f, _JaxHiddenFromTensorFlowAndKeras) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _JaxHiddenFromTensorFlowAndKeras())
