"""Many agents per process: ``follow_many``'s turns, and a small crowd run on anvil.

The crowd test runs the load benchmark's code path (``scripts/bench_load.py``) at a small scale: 8
learners in 2 worker processes for 2 rounds on a real anvil devnet and store server. It checks
what the benchmark checks at 64: every round final, every transaction an agent counted is on the
chain and nothing more, every eligible vote present, and memory figures that make sense. It
asserts no timings: those belong to the benchmark.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from learnledger.agents.agent import Action
from learnledger.ledger.api import LedgerError, RoundRecord, RoundState
from learnledger.runs.crowd import crowd_experiment_toml, run_crowd, split_evenly
from learnledger.runs.member import follow_many
from tests.conftest import needs_anvil


class ScriptedAgent:
    """Stands in for an ``Agent`` in the scheduling tests: plays a fixed list of step outcomes."""

    def __init__(self, group: str, script: list[Action | Exception]) -> None:
        self.group = group
        self.script = list(script)
        self.steps: list[float] = []

    def step(self) -> Action:
        self.steps.append(time.monotonic())
        outcome = self.script.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_follow_many_steps_every_agent_to_its_end_and_reports_each_action() -> None:
    first = ScriptedAgent("a", [Action.WAITING, Action.VOTED, Action.FINISHED])
    second = ScriptedAgent("b", [Action.PROPOSED, Action.WAITING, Action.WAITING, Action.FINISHED])
    seen: list[tuple[str, Action]] = []

    follow_many([first, second], poll_s=0.01, on_action=lambda agent, action: seen.append((agent.group, action)))

    assert first.script == [] and second.script == []
    assert [a for g, a in seen if g == "a"] == [Action.WAITING, Action.VOTED, Action.FINISHED]
    assert [a for g, a in seen if g == "b"] == [Action.PROPOSED, Action.WAITING, Action.WAITING, Action.FINISHED]


def test_follow_many_retries_a_failing_agent_without_holding_up_the_others() -> None:
    failing = ScriptedAgent("down", [LedgerError("connection refused")] * 5 + [Action.FINISHED])
    healthy = ScriptedAgent("up", [Action.WAITING] * 5 + [Action.FINISHED])

    follow_many([failing, healthy], poll_s=0.01, retry_limit_s=10.0)

    assert failing.script == [] and healthy.script == []
    pauses = [later - earlier for earlier, later in zip(failing.steps, failing.steps[1:])]
    assert all(pause >= 0.01 * 2**n for n, pause in enumerate(pauses)), f"the pause doubles: {pauses}"
    assert healthy.steps[-1] < failing.steps[-1], "the healthy agent finished while the other was down"


def test_follow_many_returns_when_stopped() -> None:
    stop = threading.Event()
    waiting = ScriptedAgent("idle", [Action.WAITING] * 1000)
    stop_soon = threading.Timer(0.1, stop.set)
    stop_soon.start()
    follow_many([waiting], poll_s=0.01, stop=stop)
    assert 0 < len(waiting.steps) < 1000


class _Head:
    """A chain head that the test moves: what ``follow_many`` reads once per sweep."""

    def __init__(self) -> None:
        self.number = 1

    def head(self) -> int:
        return self.number


def test_follow_many_passes_over_waiting_agents_while_the_head_stays_put() -> None:
    """Two agents wait; while the head does not move neither is stepped again, however often it is
    due; one block later both look again, and then finish."""
    chain = _Head()
    agents = [ScriptedAgent(group, [Action.WAITING, Action.FINISHED]) for group in ("a", "b")]
    for agent in agents:
        agent.ledger = chain  # type: ignore[attr-defined]
    stop = threading.Event()
    runner = threading.Thread(target=follow_many, args=(agents,), kwargs={"poll_s": 0.01, "stop": stop})
    runner.start()
    try:
        time.sleep(0.3)  # thirty polls' worth
        assert [len(agent.steps) for agent in agents] == [1, 1], "no status read while the head stayed"
        chain.number = 2
        runner.join(timeout=5)
        assert not runner.is_alive() and [len(agent.steps) for agent in agents] == [2, 2]
    finally:
        stop.set()
        runner.join()


def test_split_evenly_keeps_order_and_sizes_within_one() -> None:
    groups = [f"g{i}" for i in range(10)]
    chunks = split_evenly(groups, 3)
    assert [len(chunk) for chunk in chunks] == [4, 3, 3]
    assert [g for chunk in chunks for g in chunk] == groups
    assert split_evenly(groups, 10) == [[g] for g in groups]
    with pytest.raises(ValueError, match="received: 11"):
        split_evenly(groups, 11)


@pytest.mark.anvil
@pytest.mark.slow
@needs_anvil
def test_a_crowd_of_eight_agents_in_two_processes_loses_no_transaction(tmp_path: Path) -> None:
    experiment = tmp_path / "crowd.toml"
    experiment.write_text(crowd_experiment_toml(learners=8, rounds=2, examples_per_learner=60))
    seen: list[RoundRecord] = []

    run = run_crowd(experiment, tmp_path / "run", workers=2, poll_s=0.2,
                    on_round=lambda record, seconds: seen.append(record), timeout_s=600)

    tally = run.tally
    assert [record.round for record in seen] == [1, 2], "progress reported each round once, in order"
    for record in seen:
        assert len(record.votes) == record.approvals + record.rejections == 7, \
            f"round {record.round} was reported final with only some of its votes: {record}"
    assert tally.failures() == []
    assert len(tally.records) == 2
    assert all(r.state in (RoundState.ACCEPTED, RoundState.REJECTED) for r in tally.records)
    assert tally.missing_votes == {}
    assert all(len(r.votes) == 7 for r in tally.records), "every member but the proposer voted"
    assert tally.lost() == {}
    assert tally.totals("sent") == tally.totals("recorded") == {"proposed": 2, "voted": 14, "finalized": 0}
    assert sum(tally.mined.values()) >= 16, "every counted transaction was mined from a member"
    assert sorted(g for w in run.workers for g in w.groups) == [f"lab{i:02d}" for i in range(8)]
    assert [w.agents for w in run.workers] == [4, 4]
    for worker in run.workers:
        assert worker.peak_rss_kib > 0 and worker.ready_rss_kib and worker.ready_rss_kib > 0
        assert worker.peak_per_agent_kib <= worker.peak_rss_kib
        assert worker.peak_rss_kib >= worker.ready_rss_kib >= (worker.base_rss_kib or 0)
    assert run.anvil_peak_rss_kib is None or run.anvil_peak_rss_kib > 0
    assert run.run_s > 0 and len(run.final_at_s) == 2 and run.rounds_per_minute > 0
    assert run.as_dict()["failures"] == []
