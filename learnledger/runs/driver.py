"""Drive several agents that share one process until the experiment's last round is finalized.

Each agent is stepped in turn; a sweep in which nobody could act means everyone waits on a deadline
(a proposer that never proposed, a voter that never voted), so the driver moves the clock of the
embedded chain to that deadline rather than sleeping through it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from learnledger.agents.agent import Action, Agent
from learnledger.ledger.api import Ledger, RoundRecord
from learnledger.runs.heap import frozen_heap


class ExperimentStuck(RuntimeError):
    """No agent can act and no deadline is running: the rules cannot make progress."""


def drive(
    agents: Sequence[Agent],
    observer: Ledger,
    advance_clock: Callable[[int], None],
    on_round: Callable[[RoundRecord], None] = lambda record: None,
    max_rounds: int | None = None,
) -> list[RoundRecord]:
    """Step ``agents`` until the experiment finishes (or ``max_rounds`` rounds are finalized).

    Args:
        agents: every learner of the experiment, each with its own ledger handle.
        observer: any handle on the same ledger, used to read progress and the history.
        advance_clock: moves the chain's clock forward by that many seconds.
        on_round: called with each round's record as soon as the round is finalized.
        max_rounds: stop after this many finalized rounds (None: until the contract says finished).

    Returns:
        The records of every finalized round, oldest first.
    """
    with frozen_heap():  # the learners and the framework: not walked by every full collection
        return _drive(agents, observer, advance_clock, on_round, max_rounds)


def _drive(
    agents: Sequence[Agent],
    observer: Ledger,
    advance_clock: Callable[[int], None],
    on_round: Callable[[RoundRecord], None],
    max_rounds: int | None,
) -> list[RoundRecord]:
    finalized: list[RoundRecord] = []
    status = observer.status()
    while not status.finished and (max_rounds is None or len(finalized) < max_rounds):
        round_before = status.round
        acted = False
        for agent in agents:
            acted |= agent.step() not in (Action.WAITING, Action.FINISHED)
        status = observer.status()
        if status.round != round_before or status.finished:
            for record in observer.history()[len(finalized):]:
                if record.state.is_final:
                    finalized.append(record)
                    on_round(record)
            continue
        if not acted:
            wait = observer.seconds_until_deadline(round_before)
            if wait is None:
                raise ExperimentStuck(
                    f"round {round_before} is {status.state.name} and no agent "
                    "can act; this is a bug in the rules or the agents, please report it"
                )
            advance_clock(int(wait) + 1)
    return finalized
