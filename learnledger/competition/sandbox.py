"""A competition on the embedded chain in one call: for tests, examples and the gas benchmark."""

from __future__ import annotations

from dataclasses import dataclass

from learnledger.competition.client import (
    CompetitionClient,
    CompetitionDeployment,
    CompetitionParams,
    deploy_competition,
)
from learnledger.ledger.chain import EmbeddedChain


@dataclass
class CompetitionSandbox:
    """A deployed competition: the chain, where it lives, and one client per funded account.

    Accounts are laid out as ``entrants`` first, then evaluators-only, then ``outsiders``; the
    last ``both`` entrants are evaluators too.
    """

    chain: EmbeddedChain
    deployment: CompetitionDeployment
    clients: dict[str, CompetitionClient]
    entrants: list[str]
    evaluators: list[str]
    outsiders: list[str]
    keys: dict[str, str]

    def client(self, account: str) -> CompetitionClient:
        return self.clients[account]


def embedded_competition(
    entrants: int,
    evaluators: int,
    *,
    both: int = 0,
    outsiders: int = 1,
    entry_window: int = 3600,
    commit_window: int = 3600,
    reveal_window: int = 3600,
    start_time: int | None = None,
    task: str = "MNIST digits",
    metric: str = "accuracy",
) -> CompetitionSandbox:
    """Deploy a competition of ``entrants`` and ``evaluators`` funded accounts (``both`` of the
    evaluators being the last entrants) on a fresh embedded chain, plus ``outsiders``.

    ``start_time`` ahead of the wall clock makes block times exact (one second per block).
    """
    if not 0 <= both <= min(entrants, evaluators):
        raise ValueError(f"both must lie in 0..min(entrants, evaluators), received: both={both}")
    count = entrants + evaluators - both + outsiders
    chain = EmbeddedChain(accounts=count + 1, start_time=start_time)
    addresses = [address for address, _ in chain.accounts]
    entrant_list = addresses[:entrants]
    evaluator_list = addresses[entrants - both : entrants + evaluators - both]
    outsider_list = addresses[entrants + evaluators - both : count]
    params = CompetitionParams(
        task=task,
        metric=metric,
        entrants=tuple(entrant_list),
        entrant_names=tuple(f"entrant-{i}" for i in range(entrants)),
        evaluators=tuple(evaluator_list),
        evaluator_names=tuple(f"evaluator-{i}" for i in range(evaluators)),
        entry_window=entry_window,
        commit_window=commit_window,
        reveal_window=reveal_window,
    )
    deployment = deploy_competition(chain.w3, chain.accounts[count][1], params)
    keys = dict(chain.accounts[:count])
    clients = {address: CompetitionClient(chain.w3, deployment, key) for address, key in keys.items()}
    return CompetitionSandbox(chain, deployment, clients, entrant_list, evaluator_list, outsider_list, keys)
