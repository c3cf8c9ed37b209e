// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title The round protocol of one collaborative-learning experiment
/// @notice A fixed roster of research groups trains one shared model in rounds. Each round one
/// member, drawn at random, proposes new weights (their sha256 digest here, the bytes in IPFS under
/// `cid`); every other member scores them on its private data and votes; if enough approve, the
/// weights become the shared model. Nobody, after deployment, has powers the others lack.
/// @dev Shared names (the state enum, the audit struct, events, errors) live here, once; the
/// implementation inherits the documentation of each function. Rounds count from 1; round 0 stands for the
/// initial weights in `currentModel`.
interface ICollaborativeLearning {
    // ---------------------------------------------------------------------------------- types

    /// @notice Where a round stands. Derived in one view from stored fields and the clock, never
    /// stored. The order is part of the interface (learnledger.ledger.api.RoundState mirrors it).
    enum RoundState {
        Unopened, //        not opened yet, or beyond the experiment's last round
        Proposing, //       open, waiting for the proposer, proposal deadline not passed
        Voting, //          weights proposed, vote deadline not passed, votes missing
        ProposalExpired, // proposal deadline passed with no proposal: finalize skips the round
        VotingClosed, //    vote deadline passed with votes missing: finalize decides the round
        Accepted, //        finalized: the proposed weights are the shared model
        Rejected, //        finalized: too few approvals, the shared model is unchanged
        Skipped, //         finalized with no proposal, the shared model is unchanged
        Revealing //        sealed votes only: commits closed (vote deadline passed, or every eligible
        //                  member committed), reveals open until the reveal deadline
    }

    /// @notice Everything the audit needs about one round, in one call.
    /// @dev Times are unix seconds; a time or deadline that does not apply (yet) is 0. A deadline
    /// is the last second at which its action is still allowed.
    struct RoundInfo {
        RoundState state;
        address proposer;
        uint256 openedAt;
        uint256 proposalDeadline;
        uint256 proposedAt;
        uint256 voteDeadline;
        uint256 finalizedAt;
        uint256 approvals;
        uint256 rejections;
        bytes32 digest;
    }

    /// @notice Where the latest succession proposal stands. Derived in one view, never stored
    /// (learnledger.ledger.api.SuccessionState mirrors the order).
    enum SuccessionState {
        None, //          no succession proposed yet
        Voting, //        proposed, vote deadline not passed, votes missing
        VotingClosed, //  every vote in, or the deadline passed: `finalizeSuccession` decides it
        Accepted, //      decided: the successor is recorded, this experiment opens no more rounds
        Rejected, //      decided: too few approvals, nothing changed
        Lapsed //         approved, but the shared model changed after the proposal: nothing changed
    }

    // --------------------------------------------------------------------------------- errors

    /// @dev The roster is empty or longer than `maxCount` members.
    error ExperimentMemberCountInvalid(uint256 count, uint256 maxCount);
    /// @dev Each member needs exactly one group name.
    error ExperimentGroupNamesMismatch(uint256 memberCount, uint256 groupNameCount);
    /// @dev The member at `index` is the zero address.
    error ExperimentMemberZeroAddress(uint256 index);
    /// @dev The member at `index` appears earlier in the roster too.
    error ExperimentMemberDuplicate(uint256 index, address member);
    /// @dev The approval threshold must lie in 1..10000 basis points.
    error ExperimentThresholdInvalid(uint256 thresholdBps);
    /// @dev Both windows must be at least one second.
    error ExperimentWindowInvalid(uint256 proposalWindow, uint256 voteWindow);
    /// @dev The model spec and the initial weights must be named by a nonzero digest.
    error ExperimentDigestEmpty(bytes32 specDigest, bytes32 initialDigest);
    /// @dev `round` is in state `current`; the action needs one of `expectedStates`
    /// (bit i set = RoundState(i) allowed).
    error RoundUnexpectedState(uint256 round, RoundState current, bytes32 expectedStates);
    /// @dev Only the round's drawn `proposer` may propose; `caller` is not it.
    error ProposalUnauthorized(uint256 round, address caller, address proposer);
    /// @dev Weights are named by their sha256 digest, which is never zero.
    error ProposalDigestEmpty(uint256 round);
    /// @dev Without a CID the other members cannot fetch the weights.
    error ProposalCidEmpty(uint256 round);
    /// @dev A CID is at most `maxLength` bytes (a real one is 46 to 59): every reader must load it.
    error ProposalCidTooLong(uint256 round, uint256 length, uint256 maxLength);
    /// @dev A score is a metric times 1e6 in [0, `maxScore`], or type(int64).min for none.
    error VoteScoreOutOfRange(uint256 round, int64 score, int64 maxScore);
    /// @dev Only members vote.
    error VoterNotMember(uint256 round, address caller);
    /// @dev The proposer does not vote on its own weights.
    error VoterIsProposer(uint256 round, address voter);
    /// @dev Each member votes once per round.
    error VoterAlreadyVoted(uint256 round, address voter);
    /// @dev This experiment seals its votes (its reveal window is not 0): commit with `commitVote`,
    /// then reveal with `revealVote`.
    error VoteSealedOnly(uint256 round);
    /// @dev This experiment's votes are open (its reveal window is 0): vote with `vote`.
    error VoteOpenOnly(uint256 round);
    /// @dev A commitment is a keccak256 hash, never zero (zero stands for "no commitment").
    error VoteCommitmentEmpty(uint256 round);
    /// @dev `voter` has no unrevealed commitment in `round`: it never committed, or it revealed already.
    error RevealWithoutCommitment(uint256 round, address voter);
    /// @dev The revealed vote, scores and salt hash to `revealed`, not to the `committed` hash.
    error RevealMismatch(uint256 round, address voter, bytes32 committed, bytes32 revealed);
    /// @dev The latest succession is in state `current`; the action needs one of `expectedStates`
    /// (bit i set = SuccessionState(i) allowed).
    error SuccessionUnexpectedState(SuccessionState current, bytes32 expectedStates);
    /// @dev Only members propose a successor or vote on one; `caller` is not on the roster.
    error SuccessionCallerNotMember(address caller);
    /// @dev The member who proposed the successor does not vote on it.
    error SuccessionVoterIsProposer(address voter);
    /// @dev Each member votes once per succession proposal.
    error SuccessionVoterAlreadyVoted(address voter);
    /// @dev A succession is decided between rounds: `round` must be finalized first.
    error SuccessionRoundInProgress(uint256 round);
    /// @dev `successor` holds no contract answering the experiment's views.
    error SuccessorNotExperiment(address successor);
    /// @dev `successor`'s `predecessor()` is `named`, not this experiment.
    error SuccessorPredecessorMismatch(address successor, address named);
    /// @dev `successor` starts from `initialDigest`, not from this experiment's shared model `modelDigest`.
    error SuccessorInitialDigestMismatch(address successor, bytes32 initialDigest, bytes32 modelDigest);
    /// @dev `successor` has nobody on its roster.
    error SuccessorRosterEmpty(address successor);
    /// @dev `account` is not on the roster.
    error MemberUnknown(address account);
    /// @dev Roster indices run from 0 to `count - 1`.
    error MemberIndexOutOfRange(uint256 index, uint256 count);

    // --------------------------------------------------------------------------------- events

    /// @notice The experiment's fixed terms, emitted once at deployment.
    event ExperimentCreated(
        bytes32 specDigest,
        string specCid,
        bytes32 initialDigest,
        string initialCid,
        uint256 thresholdBps,
        uint256 proposalWindow,
        uint256 voteWindow,
        uint256 maxRounds
    );
    /// @notice A member of the fixed roster, emitted once per member at deployment.
    event MemberRegistered(uint256 indexed index, address indexed member, string groupName);
    /// @notice `round` is open and `proposer` may propose until `proposalDeadline` (inclusive).
    event RoundOpened(uint256 indexed round, address indexed proposer, uint256 proposalDeadline);
    /// @notice `proposer` proposed weights with sha256 `digest`, fetchable from IPFS as `cid`.
    event WeightsProposed(uint256 indexed round, address indexed proposer, bytes32 digest, string cid);
    /// @notice `voter` voted on the round's weights, with its scores (metric * 1e6) on its private
    /// vote set and test set.
    event VoteCast(uint256 indexed round, address indexed voter, bool approve, int64 voteScore, int64 testScore);
    /// @notice The experiment seals its votes: each voter commits in the vote window and reveals
    /// in the `revealWindow` seconds after it. Emitted once at deployment, only in that mode.
    event VotesSealed(uint256 revealWindow);
    /// @notice `voter` sealed its vote in `round` as `commitment` (see `commitmentFor`); the vote
    /// counts only once revealed, as a `VoteCast`.
    event VoteCommitted(uint256 indexed round, address indexed voter, bytes32 commitment);
    /// @notice `voter` opened its commitment in `round` with `salt`: the `VoteCast` that follows
    /// carries the vote, so an auditor can recompute the commitment from the two.
    event VoteRevealed(uint256 indexed round, address indexed voter, bytes32 salt);
    /// @notice `round` ended as `outcome` (Accepted, Rejected or Skipped); `modelDigest` is the
    /// shared model after it.
    event RoundFinalized(
        uint256 indexed round, RoundState outcome, uint256 approvals, uint256 rejections, bytes32 modelDigest
    );

    /// @notice Member `proposer` proposed `successor` (succession `number`), a deployment that names
    /// this experiment as predecessor and starts from the shared model `modelDigest`; members vote
    /// until `voteDeadline` (inclusive). Until it is decided no new round opens.
    event SuccessionProposed(
        uint256 indexed number, address indexed successor, address indexed proposer, bytes32 modelDigest, uint256 voteDeadline
    );
    /// @notice `voter` voted on succession `number`.
    event SuccessionVoteCast(uint256 indexed number, address indexed voter, bool approve);
    /// @notice Succession `number` ended as `outcome` (Accepted, Rejected or Lapsed). `lastRound` is
    /// the last round this experiment finalized and `modelDigest` its shared model then: on
    /// Accepted, the model handed over and the round the successor's rounds continue from.
    event SuccessionDecided(
        uint256 indexed number,
        address indexed successor,
        SuccessionState outcome,
        uint256 approvals,
        uint256 rejections,
        uint256 lastRound,
        bytes32 modelDigest
    );

    // ------------------------------------------------------------------------------- actions

    /// @notice Propose the weights for `round`: only its proposer, only while it is Proposing.
    /// @dev In a one-member experiment nobody is eligible to vote, so every vote is in at once:
    /// the proposal is accepted (0 approvals meet a threshold of 0 votes) in this same call.
    function propose(uint256 round, bytes32 digest, string calldata cid) external;

    /// @notice Vote on the weights proposed in `round`: members other than the proposer, once
    /// each, while it is Voting. The last eligible vote finalizes the round in the same call. The
    /// first vote cast in a block after the proposal's draws the next round's proposer. An
    /// experiment with sealed votes refuses it (`VoteSealedOnly`): there, `commitVote` then `revealVote`.
    /// @param voteScore the metric on the voter's vote set, times 1e6, in [0, 1e8] or
    /// type(int64).min for none
    /// @param testScore the metric on the voter's test set, times 1e6, same range
    function vote(uint256 round, bool approve, int64 voteScore, int64 testScore) external;

    /// @notice Seal a vote on the weights proposed in `round`: members other than the proposer,
    /// once each, while it is Voting, in an experiment with sealed votes. Nobody can read the vote
    /// from the commitment, so nobody can copy it or vote knowing the tally. When every eligible
    /// member has committed, the round moves on to Revealing at once. The first commit cast in a
    /// block after the proposal's draws the next round's proposer (as the first vote does).
    /// @param commitment `commitmentFor(approve, voteScore, testScore, salt, msg.sender, round)`
    function commitVote(uint256 round, bytes32 commitment) external;

    /// @notice Reveal the vote committed in `round`, while it is Revealing: it counts as if cast
    /// now with `vote` (a `VoteCast` event). A commitment never revealed counts as no vote (a
    /// missing vote, a no). The last reveal of the round's commitments finalizes it.
    /// @param salt the 32 random bytes the commitment was made with
    function revealVote(uint256 round, bool approve, int64 voteScore, int64 testScore, bytes32 salt) external;

    /// @notice Finalize a decided round: anyone, once it is ProposalExpired (the round is skipped)
    /// or VotingClosed. Opens the next round unless it was the last.
    /// @dev The acceptance rule, here and for the last vote: a round is accepted when
    /// approvals * 10000 >= thresholdBps * (memberCount - 1), the eligible voters being the members
    /// other than the proposer. At the default 5000 bps a round is accepted when at least half of
    /// the members other than the proposer approve, so a tie (2 yes, 2 no) is accepted (as in
    /// Colearn). A missing vote counts as a no.
    function finalize(uint256 round) external;

    /// @notice Propose `successor` to take this experiment over: members only, when no succession
    /// is pending and none was accepted. The successor must name this contract as `predecessor()`,
    /// start from this experiment's shared model (`initialDigest()` equal to `currentModel()`'s
    /// digest) and have a non-empty roster; all three are read from it here.
    /// @dev While the succession is pending, the round in progress runs to its end as usual (no
    /// vote is lost) but the next round does not open: the experiment waits between rounds until
    /// the succession is decided.
    function proposeSuccessor(address successor) external;

    /// @notice Vote on the pending succession: members other than its proposer, once each, while
    /// it is Voting. Once every eligible vote is in (or the deadline passed) it is VotingClosed and
    /// `finalizeSuccession` hands over (a separate step, so that no vote has to wait for a round).
    function voteSuccession(bool approve) external;

    /// @notice Decide the pending succession (the hand-over): anyone, once it is VotingClosed and no
    /// round is in progress. Accepted when approvals * 10000 >= thresholdBps * (memberCount - 1), the round
    /// rule (the proposer does not vote; a missing vote counts as a no), and the successor still
    /// starts from the shared model (else Lapsed: a round accepted meanwhile changed it). Accepted:
    /// the successor is recorded and no round opens again here. Rejected or Lapsed: the next round
    /// opens (unless the experiment is finished) and another succession may be proposed.
    function finalizeSuccession() external;

    // --------------------------------------------------------------------------------- views

    /// @notice The commitment of a sealed vote: keccak256(abi.encode(approve, voteScore,
    /// testScore, salt, voter, round)), each argument a full 32-byte ABI word (bool, int64,
    /// int64, bytes32, address, uint256). Binding the voter and the round means nobody can replay
    /// another member's commitment as their own, nor one from an earlier round.
    function commitmentFor(bool approve, int64 voteScore, int64 testScore, bytes32 salt, address voter, uint256 round)
        external
        pure
        returns (bytes32);

    /// @notice What `voter` committed in `round` and has not revealed yet; 0 if nothing.
    function commitmentOf(uint256 round, address voter) external view returns (bytes32);

    /// @notice Seconds for reveals after the vote window; 0 = votes are open (no commit-reveal).
    function revealWindow() external view returns (uint256);

    /// @notice The round now open; once the last round is finalized, the one after it.
    function currentRound() external view returns (uint256);

    /// @notice The member drawn to propose in `round`; reverts while `round` is Unopened.
    function proposerOf(uint256 round) external view returns (address);

    /// @notice Where `round` stands now.
    function roundState(uint256 round) external view returns (RoundState);

    /// @notice Everything about `round` the audit needs, in one call.
    function roundInfo(uint256 round) external view returns (RoundInfo memory);

    /// @notice The last second of `round`'s running (or expired) phase: the proposal deadline
    /// before a proposal, the vote deadline after (with sealed votes: the commit deadline while
    /// Voting, the reveal deadline after); 0 for rounds Unopened or finalized.
    function deadlineOf(uint256 round) external view returns (uint256);

    /// @notice The shared model: the digest of its weights and the round that set it (0 = initial).
    function currentModel() external view returns (bytes32 digest, uint256 round);

    /// @notice True once the last round (if `maxRounds` is not 0) is finalized, or a successor
    /// took the experiment over.
    function isFinished() external view returns (bool);

    /// @notice What an agent reads before each step, in one call instead of five: the current
    /// round, its state, its proposer (zero once finished), whether `account` voted (with sealed
    /// votes: committed) in it, and
    /// whether the experiment is finished.
    function statusOf(address account)
        external
        view
        returns (uint256 round, RoundState state, address proposer, bool voted, bool finished);

    function isMember(address account) external view returns (bool);

    function memberCount() external view returns (uint256);

    /// @notice The member at roster position `index` (0-based, deployment order).
    function memberAt(uint256 index) external view returns (address);

    /// @notice The whole roster in deployment order.
    function members() external view returns (address[] memory);

    /// @notice The research group's name of `member`.
    function groupName(address member) external view returns (string memory);

    /// @notice Whether `voter` voted in `round` (with sealed votes: committed, revealed or not).
    function hasVoted(uint256 round, address voter) external view returns (bool);

    function thresholdBps() external view returns (uint256);

    function proposalWindow() external view returns (uint256);

    function voteWindow() external view returns (uint256);

    /// @notice The number of rounds after which the experiment ends; 0 = unlimited.
    function maxRounds() external view returns (uint256);

    function specDigest() external view returns (bytes32);

    function initialDigest() external view returns (bytes32);

    /// @notice The experiment this one succeeds (its initial weights are that one's final model);
    /// the zero address for the first of a line.
    function predecessor() external view returns (address);

    /// @notice The experiment that took this one over by an accepted succession; zero until then.
    function successor() external view returns (address);

    /// @notice Where the latest succession proposal stands (None before the first). Its
    /// successor, proposer, deadline and votes are in its events.
    function successionState() external view returns (SuccessionState);
}
