// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title A model competition: different models on one task, the best chosen without a judge
/// @notice Research groups (entrants) bring trained models for the same task; other groups
/// (evaluators) hold private test data and score every entry. Scores are committed first, as
/// `keccak256(abi.encode(scores, salt, evaluator))`, and revealed after every commitment is in, so
/// no evaluator can copy another's. Scores lie in the metric's range, fixed at deployment. Each
/// entry's result is the lower median of its revealed scores: one dishonest evaluator among three
/// cannot move it outside the honest scores. The best median wins. Nobody, after deployment, has
/// powers the others lack; anyone may finalize once the reveal window has closed.
/// @dev Shared names (the phase enum, structs, events, errors) live here once. Scores are int64,
/// higher is better (accuracy * 1e6; a loss is sent negated), within `scoreRange()`. Entries count from 0 in the order
/// they were submitted; evaluators reveal one score per entry in that order.
interface IModelCompetition {
    // ---------------------------------------------------------------------------------- types

    /// @notice Where the competition stands. Derived from the clock and one stored flag, never
    /// stored. The order is part of the interface (learnledger.competition.api.Phase mirrors it).
    enum Phase {
        Entry, //     entrants submit models, until the entry deadline (inclusive)
        Commit, //    evaluators commit to their scores, until the commit deadline
        Reveal, //    evaluators reveal their scores and salt, until the reveal deadline
        Closed, //    the reveal window has passed: anyone may finalize
        Finalized //  results and winner are recorded
    }

    /// @notice Why an evaluator's scores do not count (emitted at finalize).
    enum DiscardReason {
        NotCommitted, // it never committed
        NotRevealed //   it committed but did not reveal in the reveal window
    }

    /// @notice One submitted model: its spec and trained weights, each named by sha256 (the bytes
    /// are in IPFS under the CIDs of the `EntrySubmitted` event).
    struct Entry {
        address entrant;
        bytes32 specDigest;
        bytes32 weightsDigest;
    }

    /// @notice One entry's result, final once the competition is Finalized.
    /// @dev `scoreCount` 0 means nobody scored it: it has no median and cannot win. `withheld`:
    /// its entrant, also an evaluator, committed but did not reveal, so the entry cannot win.
    struct Result {
        int64 median;
        uint256 scoreCount;
        bool withheld;
    }

    // --------------------------------------------------------------------------------- errors

    /// @dev The entrant roster is empty or longer than `maxCount`.
    error CompetitionEntrantCountInvalid(uint256 count, uint256 maxCount);
    /// @dev The evaluator roster is empty or longer than `maxCount`.
    error CompetitionEvaluatorCountInvalid(uint256 count, uint256 maxCount);
    /// @dev Each address on a roster needs exactly one group name.
    error CompetitionNamesMismatch(uint256 addressCount, uint256 nameCount);
    /// @dev The address at `index` of a roster (entrants if `evaluators` is false) is zero.
    error CompetitionZeroAddress(bool evaluators, uint256 index);
    /// @dev The address at `index` appears earlier in the same roster.
    error CompetitionDuplicate(bool evaluators, uint256 index, address account);
    /// @dev Every window must be at least one second.
    error CompetitionWindowInvalid(uint256 entryWindow, uint256 commitWindow, uint256 revealWindow);
    /// @dev The score range needs minScore < maxScore, and minScore above type(int64).min (the
    /// abstention).
    error CompetitionScoreRangeInvalid(int64 minScore, int64 maxScore);
    /// @dev The competition is in phase `current`; the action needs one of `expectedPhases`
    /// (bit i set = Phase(i) allowed).
    error CompetitionUnexpectedPhase(Phase current, bytes32 expectedPhases);
    /// @dev Only entrants on the roster submit models.
    error EntrantUnknown(address caller);
    /// @dev Each entrant submits one model.
    error EntrantAlreadyEntered(address entrant, uint256 entryIndex);
    /// @dev An entry names its spec and weights by nonzero sha256 digests.
    error EntryDigestEmpty(bytes32 specDigest, bytes32 weightsDigest);
    /// @dev Without CIDs the evaluators cannot fetch the spec and the weights.
    error EntryCidEmpty();
    /// @dev A CID is at most `maxLength` bytes (a real one is 46 to 59).
    error EntryCidTooLong(uint256 specCidLength, uint256 weightsCidLength, uint256 maxLength);
    /// @dev These weights were already entered, as entry `entryIndex`: a copy is refused.
    error EntryDuplicate(bytes32 weightsDigest, uint256 entryIndex);
    /// @dev Entries are numbered 0 to `count - 1`.
    error EntryIndexOutOfRange(uint256 index, uint256 count);
    /// @dev Only evaluators on the roster commit and reveal.
    error EvaluatorUnknown(address caller);
    /// @dev A commitment is a keccak256 hash, never zero.
    error CommitmentEmpty(address evaluator);
    /// @dev Each evaluator commits once.
    error EvaluatorAlreadyCommitted(address evaluator, bytes32 commitment);
    /// @dev There is nothing to reveal without a commitment.
    error EvaluatorNotCommitted(address evaluator);
    /// @dev Each evaluator reveals once.
    error EvaluatorAlreadyRevealed(address evaluator);
    /// @dev A reveal carries one score per entry, `entryCount` in all.
    error RevealScoreCountMismatch(address evaluator, uint256 scoreCount, uint256 entryCount);
    /// @dev keccak256(abi.encode(scores, salt, evaluator)) of the reveal is `computed`, not the
    /// `committed` hash: the reveal is refused and the evaluator's scores cannot count.
    error RevealMismatch(address evaluator, bytes32 committed, bytes32 computed);
    /// @dev The score for entry `entryIndex` is neither type(int64).min (abstain) nor within the
    /// metric's range [minScore, maxScore]: the reveal is refused.
    error RevealScoreOutOfRange(address evaluator, uint256 entryIndex, int64 score, int64 minScore, int64 maxScore);
    /// @dev finalize takes one median per entry, `entryCount` in all.
    error ResultCountMismatch(uint256 medianCount, uint256 entryCount);
    /// @dev `median` is not the lower median of entry `entryIndex`'s `count` counted scores:
    /// `below` of them are smaller and `equal` equal to it (with no score, the median is 0).
    error ResultMedianWrong(uint256 entryIndex, int64 median, uint256 below, uint256 equal, uint256 count);

    // --------------------------------------------------------------------------------- events

    /// @notice The competition's fixed terms, emitted once at deployment. Deadlines are unix
    /// seconds, inclusive; scores lie in [minScore, maxScore].
    event CompetitionCreated(
        string task,
        string metric,
        uint256 entryDeadline,
        uint256 commitDeadline,
        uint256 revealDeadline,
        int64 minScore,
        int64 maxScore
    );
    /// @notice An entrant on the fixed roster, emitted once per entrant at deployment.
    event EntrantRegistered(uint256 indexed index, address indexed entrant, string groupName);
    /// @notice An evaluator on the fixed roster, emitted once per evaluator at deployment.
    event EvaluatorRegistered(uint256 indexed index, address indexed evaluator, string groupName);
    /// @notice `entrant` submitted entry `entryIndex`: the spec and the weights, by sha256 and CID.
    event EntrySubmitted(
        uint256 indexed entryIndex,
        address indexed entrant,
        bytes32 specDigest,
        string specCid,
        bytes32 weightsDigest,
        string weightsCid
    );
    /// @notice `evaluator` committed to its scores.
    event ScoresCommitted(address indexed evaluator, bytes32 commitment);
    /// @notice `evaluator` revealed `scores` (one per entry, in entry order) matching its commitment.
    /// A score of type(int64).min is an abstention; an evaluator's score for its own entry counts
    /// like any other.
    event ScoresRevealed(address indexed evaluator, int64[] scores, bytes32 salt);
    /// @notice `evaluator`'s scores do not count, for `reason`.
    event EvaluatorDiscarded(address indexed evaluator, DiscardReason reason);
    /// @notice Entry `entryIndex`'s result: the lower median of its `scoreCount` counted scores.
    event EntryScored(uint256 indexed entryIndex, int64 median, uint256 scoreCount);
    /// @notice Entry `entryIndex` cannot win: its `entrant`, also an evaluator, withheld its reveal.
    event EntryDisqualified(uint256 indexed entryIndex, address indexed entrant);
    /// @notice The competition ended; `hasWinner` is false when no entry was scored at all.
    event CompetitionFinalized(
        bool hasWinner, uint256 winnerIndex, address indexed winner, int64 median, bytes32 weightsDigest
    );

    // ------------------------------------------------------------------------------- actions

    /// @notice Submit a model: entrants only, once each, in the Entry phase.
    function enter(bytes32 specDigest, string calldata specCid, bytes32 weightsDigest, string calldata weightsCid)
        external
        returns (uint256 entryIndex);

    /// @notice Commit to scores: evaluators only, once each, in the Commit phase.
    /// @param commitment keccak256(abi.encode(int64[] scores, bytes32 salt, address evaluator))
    function commit(bytes32 commitment) external;

    /// @notice Reveal the committed scores: the committing evaluator, once, in the Reveal phase.
    /// A reveal whose hash differs from the commitment is refused (`RevealMismatch`).
    function reveal(int64[] calldata scores, bytes32 salt) external;

    /// @notice Record every entry's result and name the winner: anyone, once, in the Closed phase.
    /// The caller gives each entry's lower median (the counted score at position (k - 1) / 2 of k
    /// in ascending order; 0 for an entry nobody scored), computed off-chain from the
    /// `ScoresRevealed` events; the contract checks each in one pass and refuses a wrong one
    /// (`ResultMedianWrong`), so the result is the same whoever finalizes. Counted: every revealed
    /// score but an abstention. Winner: the highest median among entries with a counted score whose
    /// entrant did not withhold its own reveal; ties go to the earlier entry.
    function finalize(int64[] calldata medians) external;

    // --------------------------------------------------------------------------------- views

    /// @notice Where the competition stands now.
    function phase() external view returns (Phase);

    /// @notice What an agent reads before each step, in one call.
    function statusOf(address account)
        external
        view
        returns (Phase current, bool entered, bool committed, bool revealed, uint256 entryTotal);

    function entryCount() external view returns (uint256);

    function entryAt(uint256 index) external view returns (Entry memory);

    /// @notice Entry `index`'s result; all zero until Finalized.
    function resultOf(uint256 index) external view returns (Result memory);

    /// @notice The winning entry, once Finalized; `hasWinner` false if none was scored.
    function winner() external view returns (bool hasWinner, uint256 entryIndex);

    function entrants() external view returns (address[] memory);

    function evaluators() external view returns (address[] memory);

    function entryDeadline() external view returns (uint256);

    function commitDeadline() external view returns (uint256);

    function revealDeadline() external view returns (uint256);

    /// @notice The metric's range times 1e6: every counted score lies in [minScore, maxScore].
    function scoreRange() external view returns (int64 minScore, int64 maxScore);
}
