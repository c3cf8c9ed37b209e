"""The only code that talks to a chain (web3): compile, deploy, the typed contract client, the
event history, the devnet, and the pure-Python reference model of the round rules.

The names most callers need, imported lazily so ``import learnledger.ledger.api`` stays light:

- ``ExperimentParams``, ``Deployment`` (params.py): what an experiment is deployed with and where.
- ``EmbeddedChain``, ``connect`` (chain.py): an EVM node in this process (revm), or any JSON-RPC URL.
- ``deploy`` (deploy.py), ``ContractLedger`` (client.py): deploy, then act as one member.
- ``ReferenceLedger`` (reference.py): the same rules with no chain.
- ``Devnet`` (devnet.py): anvil on 127.0.0.1.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "ExperimentParams": "learnledger.ledger.params",
    "Deployment": "learnledger.ledger.params",
    "EmbeddedChain": "learnledger.ledger.chain",
    "connect": "learnledger.ledger.chain",
    "deploy": "learnledger.ledger.deploy",
    "ContractLedger": "learnledger.ledger.client",
    "ReferenceLedger": "learnledger.ledger.reference",
    "Devnet": "learnledger.ledger.devnet",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'learnledger.ledger' has no attribute {name!r}")
