"""A whole experiment on the embedded chain in one call: for tests, examples and benchmarks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from learnledger.ledger.chain import EmbeddedChain
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.deploy import deploy
from learnledger.ledger.params import Deployment, ExperimentParams

PLACEHOLDER_SPEC_DIGEST = hashlib.sha256(b"learnledger placeholder model spec").digest()
PLACEHOLDER_INITIAL_DIGEST = hashlib.sha256(b"learnledger placeholder initial weights").digest()


@dataclass
class Sandbox:
    """A deployed experiment: the chain, where it lives, and one client per account.

    ``ledgers`` maps every funded account (members first, then ``outsiders``) to its client.
    """

    chain: EmbeddedChain
    deployment: Deployment
    ledgers: dict[str, ContractLedger]
    members: list[str]
    outsiders: list[str]

    def ledger(self, account: str) -> ContractLedger:
        return self.ledgers[account]


def embedded_experiment(
    members: int,
    *,
    outsiders: int = 1,
    threshold_bps: int = 5000,
    proposal_window: int = 3600,
    vote_window: int = 3600,
    max_rounds: int = 0,
    reveal_window: int = 0,
    start_time: int | None = None,
) -> Sandbox:
    """Deploy an experiment of ``members`` funded accounts (group names g0, g1, ...) on a fresh
    embedded chain, plus ``outsiders`` funded accounts that are not members.

    ``start_time`` ahead of the wall clock makes block times exact (one second per block).
    """
    chain = EmbeddedChain(accounts=members + outsiders, start_time=start_time)
    roster = [address for address, _ in chain.accounts[:members]]
    params = ExperimentParams(
        members=tuple(roster),
        group_names=tuple(f"g{i}" for i in range(members)),
        spec_digest=PLACEHOLDER_SPEC_DIGEST,
        spec_cid="placeholder-spec",
        initial_digest=PLACEHOLDER_INITIAL_DIGEST,
        initial_cid="placeholder-initial",
        threshold_bps=threshold_bps,
        proposal_window=proposal_window,
        vote_window=vote_window,
        max_rounds=max_rounds,
        reveal_window=reveal_window,
    )
    deployment = deploy(chain.w3, chain.accounts[0][1], params)
    ledgers = {address: ContractLedger(chain.w3, deployment, key) for address, key in chain.accounts}
    return Sandbox(chain, deployment, ledgers, roster, [a for a, _ in chain.accounts[members:]])


def deploy_successor(
    sandbox: Sandbox,
    members: list[str],
    *,
    predecessor: str | None = None,
    initial_digest: bytes | None = None,
) -> Sandbox:
    """Deploy, on ``sandbox``'s chain, an experiment that succeeds it: the same terms, roster
    ``members`` (funded accounts of the chain), the predecessor's shared model as initial weights.

    ``predecessor`` and ``initial_digest`` override what a faithful successor names (tests of the
    refusals pass wrong ones).
    """
    chain = sandbox.chain
    reader = sandbox.ledger(sandbox.outsiders[0] if sandbox.outsiders else sandbox.members[0])
    terms = sandbox.deployment.params
    params = replace(
        terms,
        members=tuple(members),
        group_names=tuple(f"g{next(i for i, (a, _) in enumerate(chain.accounts) if a == m)}" for m in members),
        initial_digest=initial_digest if initial_digest is not None else reader.current_model().digest,
        predecessor=predecessor if predecessor is not None else sandbox.deployment.address,
    )
    deployment = deploy(chain.w3, chain.accounts[0][1], params)
    ledgers = {address: ContractLedger(chain.w3, deployment, key) for address, key in chain.accounts}
    return Sandbox(chain, deployment, ledgers, list(members), [a for a, _ in chain.accounts if a not in members])
