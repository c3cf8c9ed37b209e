"""The ``[data]`` table of an experiment file and each learner's corruption: their meaning.

The agents' experiment parser hands the tables over as dicts; these classes check them and say
exactly which key or value is wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from learnledger.data.corruption import Corruption
from learnledger.data.errors import DataError
from learnledger.data.partition import SCHEMES, check_fractions

SOURCES: tuple[str, ...] = ("mnist", "lartpc", "dune_cvn", "microboone")

__all__ = ["SOURCES", "Corruption", "DataConfig"]


@dataclass(frozen=True)
class DataConfig:
    """Which dataset the learners share and how it is dealt out.

    Attributes:
        source: ``mnist`` | ``lartpc`` (simulated) | ``dune_cvn`` | ``microboone``. Default mnist.
        path: mnist.npz, simulated .h5, DUNE CVN directory or MicroBooNE .h5; None = the default
            (bundled MNIST digits, generated LArTPC events, the repository's DUNE CVN copy).
        events: lartpc without a path: generate this many events (seeded). Default 3000.
        split: ``iid`` or ``dirichlet`` (non-IID by label). Default iid.
        alpha: Dirichlet concentration; smaller is more skewed. Default 0.5.
        vote_fraction, test_fraction: of each learner's share. Defaults 0.2 and 0.2.
        include_nutau: neutrino sources keep nutau CC as a fourth class. Default False.
        max_per_learner: cap each learner's share (quick runs). Default None: no cap.
    """

    source: str = "mnist"
    path: str | None = None
    events: int | None = None
    split: str = "iid"
    alpha: float = 0.5
    vote_fraction: float = 0.2
    test_fraction: float = 0.2
    include_nutau: bool = False
    max_per_learner: int | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise DataError(f"unknown data source={self.source!r}; choose one of {', '.join(SOURCES)}.")
        if self.split not in SCHEMES:
            raise DataError(f"unknown split={self.split!r}; choose one of {', '.join(SCHEMES)}.")
        if not (self.alpha > 0):
            raise DataError(f"alpha must be positive; got alpha={self.alpha!r}.")
        check_fractions(self.vote_fraction, self.test_fraction)
        for name in ("events", "max_per_learner"):
            value = getattr(self, name)
            if value is not None and value < 3:
                raise DataError(f"{name} must be at least 3 (train, vote, test); got {name}={value!r}.")

    @classmethod
    def from_dict(cls, table: Mapping[str, object] | None) -> DataConfig:
        """Build from the experiment file's ``[data]`` table; unknown keys and bad types refused."""
        table = dict(table or {})
        fields = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(table) - set(fields))
        if unknown:
            raise DataError(
                f"unknown key(s) in [data]: {', '.join(unknown)}; the keys are {', '.join(fields)}."
            )
        expected: dict[str, tuple[type, ...]] = {
            "source": (str,), "path": (str,), "events": (int,), "split": (str,),
            "alpha": (int, float), "vote_fraction": (int, float), "test_fraction": (int, float),
            "include_nutau": (bool,), "max_per_learner": (int,),
        }
        for key, value in table.items():
            numeric_bool = isinstance(value, bool) and bool not in expected[key]
            if value is not None and (numeric_bool or not isinstance(value, expected[key])):
                kinds = " or ".join(t.__name__ for t in expected[key])
                raise DataError(f"[data] {key} must be {kinds}; got {key}={value!r}.")
        return cls(**table)  # type: ignore[arg-type]
