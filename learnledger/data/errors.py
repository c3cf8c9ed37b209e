"""The one error every data loader raises for bad or missing input."""

from __future__ import annotations


class DataError(ValueError):
    """Input data is missing, malformed or asked for in a way that cannot work.

    The message names the file or value at fault and says what to do; nothing is half-loaded.
    """
