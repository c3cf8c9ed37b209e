"""The audit's checks: each a small function of what was read, returning what does not hold.

Three witnesses must agree: the events (rebuilt into rounds), the contract's views (its stored
state), and the round rules themselves (the events replayed through ``ReferenceLedger``, the
pure-Python model of the contract, with the chain's proposers and clock fed in).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from eth_utils import to_checksum_address

from learnledger.audit.fetch import ContractViews
from learnledger.audit.findings import Finding
from learnledger.audit.rebuild import Rebuilt
from learnledger.ledger.api import ContractRevert, RoundRecord, RoundState, SuccessionState
from learnledger.ledger.params import ZERO_ADDRESS, Deployment, ExperimentParams
from learnledger.ledger.reference import ReferenceLedger, SuccessorViews

ZERO_DIGEST = bytes(32)


def _hex(value: bytes | None) -> str:
    return "none" if value is None else "0x" + value.hex()


def check_contract(views: ContractViews, address: str, deployment: Deployment | None,
                   deployed_at: str | None) -> list[Finding]:
    """There is a contract at ``address``, on the deployment's chain, created by its transaction."""
    findings = []
    if deployment is not None and deployment.chain_id != views.chain_id:
        findings.append(Finding("contract", 0, f"deployment.json names chain id {deployment.chain_id}, the "
                                               f"node serves chain id {views.chain_id}: wrong RPC URL?"))
    if not views.has_code:
        findings.append(Finding("contract", 0, f"no contract code at {address} (block {views.head}): wrong "
                                               "address, or a chain where it was never deployed"))
    elif views.error:
        findings.append(Finding("contract", 0, f"the code at {address} does not answer the experiment's views "
                                               f"({views.error}): it is not a CollaborativeLearning contract"))
    if deployment is not None and deployed_at != to_checksum_address(address):
        findings.append(Finding("contract", 0, f"the deployment transaction {deployment.tx_hash} created "
                                               f"{deployed_at or 'nothing on this chain'}, not {address}: the "
                                               "record and the address belong to different deployments"))
    return findings


def params_from_events(rebuilt: Rebuilt) -> ExperimentParams | None:
    """The experiment's terms as its creation events state them (None without ExperimentCreated)."""
    if rebuilt.terms is None or not rebuilt.members:
        return None
    terms = rebuilt.terms
    return ExperimentParams(
        members=tuple(m.address for m in rebuilt.members),
        group_names=tuple(m.group for m in rebuilt.members),
        spec_digest=terms["specDigest"], spec_cid=terms["specCid"],
        initial_digest=terms["initialDigest"], initial_cid=terms["initialCid"],
        threshold_bps=int(terms["thresholdBps"]), proposal_window=int(terms["proposalWindow"]),
        vote_window=int(terms["voteWindow"]), max_rounds=int(terms["maxRounds"]),
        reveal_window=int(terms.get("revealWindow", 0)),
    )


def check_terms(rebuilt: Rebuilt, views: ContractViews, recorded: ExperimentParams | None,
                from_block: int) -> list[Finding]:
    """The creation events, the contract's views and deployment.json state the same terms and roster."""
    events = params_from_events(rebuilt)
    if events is None:
        return [Finding("terms", 0, f"no ExperimentCreated/MemberRegistered events from block {from_block}: "
                                    "the address holds another contract, or the range starts after the "
                                    "deployment (lower --from-block)")]
    findings = []
    stored = {"thresholdBps": events.threshold_bps, "proposalWindow": events.proposal_window,
              "voteWindow": events.vote_window, "maxRounds": events.max_rounds,
              "revealWindow": events.reveal_window,
              "specDigest": events.spec_digest, "initialDigest": events.initial_digest}
    for name, value in stored.items():
        if views.terms.get(name) != value:
            findings.append(Finding("terms", 0, f"{name}: the creation event says {value!r}, the contract's "
                                                f"view {views.terms.get(name)!r}"))
    if events.members != views.members or events.group_names != views.group_names:
        findings.append(Finding("terms", 0, f"the roster in the events ({len(events.members)} members) differs "
                                            f"from the contract's members() ({len(views.members)})"))
    events = replace(events, predecessor=views.predecessor or ZERO_ADDRESS)  # a view, not in the events
    if recorded is not None and recorded != events:
        differing = [name for name in recorded.__dataclass_fields__
                     if getattr(recorded, name) != getattr(events, name)]
        findings.append(Finding("terms", 0, f"deployment.json differs from the chain in {', '.join(differing)}: "
                                            "the record belongs to another experiment"))
    return findings


def check_numbering(rebuilt: Rebuilt) -> list[Finding]:
    """Rounds run 1, 2, 3, ... with no gap, each opened once; events fit the rounds they name."""
    findings = list(rebuilt.anomalies)
    numbers = sorted(rebuilt.rounds)
    expected = list(range(1, len(numbers) + 1))
    if numbers != expected:
        gaps = sorted(set(range(1, (numbers[-1] if numbers else 0) + 1)) - set(numbers))
        findings.append(Finding("numbering", 0, f"rounds are not contiguous from 1: missing {gaps[:10]}"
                                                f"{' ...' if len(gaps) > 10 else ''}"))
    members = {m.address for m in rebuilt.members}
    for number in numbers:
        trail = rebuilt.rounds[number]
        if members and trail.proposer not in members:
            findings.append(Finding("numbering", number, f"proposer {trail.proposer} is not a member"))
        if trail.proposal is not None and trail.proposal.proposer != trail.proposer:
            findings.append(Finding("proposer", number, f"proposed by {trail.proposal.proposer}, but the "
                                                         f"round was opened for {trail.proposer}"))
    return findings


def check_votes(rebuilt: Rebuilt, views: ContractViews) -> list[Finding]:
    """Only members vote, once, never the proposer, only on a proposal; tallies match the votes."""
    findings = []
    members = {m.address for m in rebuilt.members}
    for number, trail in sorted(rebuilt.rounds.items()):
        seen: set[str] = set()
        for vote, place in trail.votes:
            def say(message: str) -> None:
                findings.append(Finding("votes", number, f"{message} (transaction {place.tx_hash})"))

            if vote.voter not in members:
                say(f"non-member {vote.voter} voted")
            if vote.voter == trail.proposer:
                say(f"the proposer {vote.voter} voted on its own weights")
            if vote.voter in seen:
                say(f"{vote.voter} voted twice")
            if trail.proposal is None:
                say(f"{vote.voter} voted with no proposal on the table")
            if views.has_voted and not views.has_voted.get((number, vote.voter), False):
                say(f"the contract's hasVoted says {vote.voter} did not vote")
            seen.add(vote.voter)
        if trail.outcome is not None:
            approvals = sum(v.approve for v, _ in trail.votes)
            rejections = len(trail.votes) - approvals
            if (approvals, rejections) != (trail.approvals, trail.rejections):
                findings.append(Finding("votes", number, f"finalized with {trail.approvals} approvals and "
                                                         f"{trail.rejections} rejections, but the vote events "
                                                         f"count {approvals} and {rejections}"))
    return findings


def check_views(rebuilt: Rebuilt, views: ContractViews) -> list[Finding]:
    """Each round's stored state (roundInfo) matches its events: proposer, state, tallies, digest."""
    findings = []
    for number, info in sorted(views.round_info.items()):
        trail = rebuilt.rounds.get(number)
        if trail is None:
            if info["state"] is not RoundState.UNOPENED:
                findings.append(Finding("views", number, f"the contract holds this round ({info['state'].name}) "
                                                         "but no event of it was read: the event range was cut "
                                                         "short or logs were lost"))
            continue

        def differs(what: str, events: object, stored: object) -> None:
            findings.append(Finding("views", number, f"{what}: the events say {events}, the contract {stored}"))

        if info["proposer"] != trail.proposer:
            differs("proposer", trail.proposer, info["proposer"])
        state = info["state"]
        if trail.outcome is not None and state is not trail.outcome:
            differs("outcome", trail.outcome.name, state.name)
        if trail.outcome is None and state.is_final:
            differs("outcome", "not finalized", f"{state.name} (the event range was cut short or logs are missing)")
        approvals = sum(v.approve for v, _ in trail.votes)  # as the vote events count them
        rejections = len(trail.votes) - approvals
        if (info["approvals"], info["rejections"]) != (approvals, rejections):
            differs("approvals/rejections", (approvals, rejections), (info["approvals"], info["rejections"]))
        digest = trail.proposal.digest if trail.proposal else ZERO_DIGEST
        if info["digest"] != digest:
            differs("proposed digest", _hex(digest), _hex(info["digest"]))
    return findings


def check_head(rebuilt: Rebuilt, views: ContractViews, records: list[RoundRecord],
               params: ExperimentParams | None) -> list[Finding]:
    """The last round read is the contract's current one; the shared model is the last accepted one."""
    findings = []
    if not records:
        if views.current_round > 1 or views.model_round:
            findings.append(Finding("head", 0, f"no round events read, but the contract is at round "
                                               f"{views.current_round}: the event range was cut short"))
        return findings
    last = records[-1]
    last_final = rebuilt.rounds[last.round].outcome is not None  # as the events tell it
    expected_round = last.round + 1 if last_final else last.round
    if views.current_round != expected_round:
        said = last.state.name if last_final else "not finalized"
        findings.append(Finding("head", 0, f"the events end at round {last.round} ({said}), but the "
                                           f"contract's currentRound is {views.current_round}: the event range "
                                           "was cut short or logs are missing"))
    max_rounds = params.max_rounds if params else 0
    finished = (max_rounds != 0 and last_final and last.round >= max_rounds) or rebuilt.handed_over is not None
    if views.finished != finished:
        findings.append(Finding("head", 0, f"isFinished is {views.finished}, the events imply {finished}"))
    accepted = [r.round for r in records if r.state is RoundState.ACCEPTED]
    if views.model_digest != last.model_digest or views.model_round != (accepted[-1] if accepted else 0):
        findings.append(Finding("head", 0, f"the contract's current model is {_hex(views.model_digest)} from round "
                                           f"{views.model_round}; the events give {_hex(last.model_digest)} from "
                                           f"round {accepted[-1] if accepted else 0}"))
    return findings


def check_replay(rebuilt: Rebuilt, params: ExperimentParams | None, times: dict[int, int],
                 address: str = ZERO_ADDRESS) -> list[Finding]:
    """Replay every event through the reference rules, on the chain's clock and with its proposers.

    The rules must allow each recorded action and reach the same outcome and shared model
    after every round. The replay stops at the first action the rules refuse (later rounds would
    only repeat that divergence).
    """
    if params is None or rebuilt.created is None:
        return []
    now = [times.get(rebuilt.created.block, 0)]
    fallback = params.members[0]

    def proposer_of(number: int) -> str:
        trail = rebuilt.rounds.get(number)
        return trail.proposer if trail else fallback

    proposed = {to_checksum_address(e.args["successor"]): bytes(e.args["modelDigest"])
                for e in rebuilt.successions if e.name == "SuccessionProposed"}

    def successor_views(successor: str) -> SuccessorViews | None:
        """As the contract read them at the proposal (the line audit checks the successor itself)."""
        digest = proposed.get(to_checksum_address(successor))
        return None if digest is None else SuccessorViews(address, digest, 1)

    reference = ReferenceLedger(params, clock=lambda: now[0], proposer_source=proposer_of, address=address,
                                successor_views=successor_views)
    findings: list[Finding] = []
    salts: dict[tuple[int, str], bytes] = {}
    for event in rebuilt.events:
        if event.name in ("ExperimentCreated", "MemberRegistered", "VotesSealed"):
            continue
        now[0] = times.get(event.block, now[0])
        number = int(event.args.get("round", 0))
        try:
            if event.name.startswith("Succession"):
                _replay_succession(reference, event.name, event.args, findings)
                continue
            _replay_one(reference, event.name, event.args, number, findings, salts)
        except ContractRevert as refusal:
            findings.append(Finding("rules", number, f"{event.name} in transaction {event.tx_hash} breaks the "
                                                     f"round rules: {refusal}; replay stopped here"))
            break
    return findings


def _replay_succession(reference: ReferenceLedger, name: str, args: dict, findings: list[Finding]) -> None:
    say: Callable[[str], None] = lambda message: findings.append(Finding("succession", 0, message))
    if name == "SuccessionProposed":
        reference.propose_successor(to_checksum_address(args["proposer"]), to_checksum_address(args["successor"]))
    elif name == "SuccessionVoteCast":
        reference.vote_succession(to_checksum_address(args["voter"]), bool(args["approve"]))
    elif name == "SuccessionDecided":
        if reference.succession_state().is_pending:
            reference.finalize_succession()
        outcome, state = SuccessionState(int(args["outcome"])), reference.succession_state()
        if state is not outcome:
            say(f"succession {int(args['number'])} decided as {outcome.name}; by the rules it is {state.name}")


def _replay_one(reference: ReferenceLedger, name: str, args: dict, number: int,
                findings: list[Finding], salts: dict[tuple[int, str], bytes]) -> None:
    """One event through the rules; ``salts`` holds each sealed vote's salt from its VoteRevealed
    until the VoteCast after it, whose reveal the rules then check against the commitment."""
    say: Callable[[str], None] = lambda message: findings.append(Finding("rules", number, message))
    if name == "RoundOpened":
        state = reference.state(number)
        if reference.current_round() != number or state is RoundState.UNOPENED:
            say(f"opened, but by the rules round {reference.current_round()} is the open one")
    elif name == "WeightsProposed":
        reference.propose(to_checksum_address(args["proposer"]), number, bytes(args["digest"]), str(args["cid"]))
    elif name == "VoteCommitted":
        reference.commit_vote(to_checksum_address(args["voter"]), number, bytes(args["commitment"]))
    elif name == "VoteRevealed":
        salts[(number, to_checksum_address(args["voter"]))] = bytes(args["salt"])
    elif name == "VoteCast":
        voter = to_checksum_address(args["voter"])
        vote = (bool(args["approve"]), int(args["voteScore"]), int(args["testScore"]))
        if reference.params.reveal_window == 0:
            reference.vote(voter, number, *vote)
        else:  # without its VoteRevealed, a zero salt: the rules refuse it as a RevealMismatch
            reference.reveal_vote(voter, number, *vote, salts.pop((number, voter), bytes(32)))
    elif name == "RoundFinalized":
        if not reference.state(number).is_final:
            reference.finalize(number)
        state, model = reference.state(number), reference.current_model().digest
        outcome = RoundState(int(args["outcome"]))
        if state is not outcome:
            say(f"finalized as {outcome.name}; by the rules it is {state.name}")
        if model != bytes(args["modelDigest"]):
            say(f"shared model after the round is {_hex(bytes(args['modelDigest']))}; by the rules "
                f"{_hex(model)}")
