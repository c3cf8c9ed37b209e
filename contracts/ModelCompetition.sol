// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IModelCompetition} from "./IModelCompetition.sol";

/// @title ModelCompetition
/// @notice One deployment = one competition: fixed rosters of entrants and evaluators, fixed
/// windows for entry, commit and reveal counted from deployment, and the medians and the winner
/// decided here, on-chain: whoever finalizes names each entry's median and the contract checks it
/// in one linear pass (verify, don't sort). No owner, no admin, no upgrade.
/// @dev Storage layout:
///
///   immutables      the three deadlines
///   _participants[a] one slot per address: entrant | evaluator | entered | committed | revealed
///                   (bools) | evaluatorIndex | entryIndex (uint8 each)
///   _commitments[a] the evaluator's commitment
///   _revealed[i]    evaluator i's revealed scores, int64 packed four per slot
///   _entries[j]     three slots per entry: entrant | median (int64) | scoreCount (uint8) |
///                   withheld (bool), then the spec and weights digests (CIDs only in the event)
///   _entryOfWeights[d]  1 + the index of the entry whose weights digest is d (0 = none): refuses copies
///   _outcome        one slot: finalized | hasWinner | winnerIndex
///   _entrantList, _evaluatorList  the rosters, for views and for finalize
///
/// An entry writes four fresh slots and the entrant's participant word; a commit writes one fresh
/// slot and the participant word; a reveal writes ceil(entries / 4) + 1 fresh slots. Finalize reads
/// every reveal once and, per entry, counts the scores below and equal to the median it is given:
/// linear in entries x evaluators whatever the order of the scores (the sorting it replaced was
/// quadratic and the evaluators chose the order). At 64 x 64 it costs 5.3M gas, whatever the order.
contract ModelCompetition is IModelCompetition {
    /// @dev Roster limits: they bound finalize's work (entries x evaluators scores checked).
    uint256 private constant MAX_ENTRANTS = 64;
    uint256 private constant MAX_EVALUATORS = 64;
    int64 private constant NO_SCORE = type(int64).min;
    /// @dev A CID is 46 (v0) or 59 (v1, base32) characters in practice; every evaluator loads it.
    uint256 private constant MAX_CID_BYTES = 128;

    bytes32 private constant ENTRY = bytes32(uint256(1) << uint8(Phase.Entry));
    bytes32 private constant COMMIT = bytes32(uint256(1) << uint8(Phase.Commit));
    bytes32 private constant REVEAL = bytes32(uint256(1) << uint8(Phase.Reveal));
    bytes32 private constant CLOSED = bytes32(uint256(1) << uint8(Phase.Closed));

    struct Participant {
        bool entrant;
        bool evaluator;
        bool entered;
        bool committed;
        bool revealed;
        uint8 evaluatorIndex;
        uint8 entryIndex;
    }

    struct EntryData {
        address entrant;
        int64 median;
        uint8 scoreCount;
        bool withheld;
        bytes32 specDigest;
        bytes32 weightsDigest;
    }

    struct Outcome {
        bool finalized;
        bool hasWinner;
        uint8 winnerIndex;
    }

    uint256 private immutable _entryDeadline;
    uint256 private immutable _commitDeadline;
    uint256 private immutable _revealDeadline;
    int64 private immutable _minScore;
    int64 private immutable _maxScore;

    mapping(address account => Participant) private _participants;
    mapping(address evaluator => bytes32) private _commitments;
    mapping(uint256 evaluatorIndex => int64[]) private _revealed;
    EntryData[] private _entries;
    mapping(bytes32 weightsDigest => uint256) private _entryOfWeights;
    Outcome private _outcome;
    address[] private _entrantList;
    address[] private _evaluatorList;

    /// @param task what is being competed on, in words (or a CID of its description)
    /// @param metric the metric evaluators report, higher is better (e.g. "accuracy")
    /// @param entrants_ 1..64 distinct nonzero addresses that may submit one model each
    /// @param entrantNames one research group's name per entrant
    /// @param evaluators_ 1..64 distinct nonzero addresses holding private test data; an address
    /// may be on both rosters (its score for its own entry counts like any other: the median is
    /// robust to one dishonest score among three)
    /// @param evaluatorNames one research group's name per evaluator
    /// @param scoreRange_ the metric's range times 1e6, [minScore, maxScore] (accuracy: [0, 1e6]; a
    /// loss, sent negated: [-worst * 1e6, 0]); a revealed score outside it is refused
    /// @param entryWindow seconds from deployment during which entrants submit
    /// @param commitWindow seconds after the entry deadline during which evaluators commit
    /// @param revealWindow seconds after the commit deadline during which evaluators reveal
    constructor(
        string memory task,
        string memory metric,
        address[] memory entrants_,
        string[] memory entrantNames,
        address[] memory evaluators_,
        string[] memory evaluatorNames,
        int64[2] memory scoreRange_,
        uint32 entryWindow,
        uint32 commitWindow,
        uint32 revealWindow
    ) {
        if (entrants_.length == 0 || entrants_.length > MAX_ENTRANTS) {
            revert CompetitionEntrantCountInvalid(entrants_.length, MAX_ENTRANTS);
        }
        if (evaluators_.length == 0 || evaluators_.length > MAX_EVALUATORS) {
            revert CompetitionEvaluatorCountInvalid(evaluators_.length, MAX_EVALUATORS);
        }
        if (entrantNames.length != entrants_.length) {
            revert CompetitionNamesMismatch(entrants_.length, entrantNames.length);
        }
        if (evaluatorNames.length != evaluators_.length) {
            revert CompetitionNamesMismatch(evaluators_.length, evaluatorNames.length);
        }
        if (entryWindow == 0 || commitWindow == 0 || revealWindow == 0) {
            revert CompetitionWindowInvalid(entryWindow, commitWindow, revealWindow);
        }
        if (scoreRange_[0] == NO_SCORE || scoreRange_[0] >= scoreRange_[1]) {
            revert CompetitionScoreRangeInvalid(scoreRange_[0], scoreRange_[1]);
        }
        _minScore = scoreRange_[0];
        _maxScore = scoreRange_[1];
        _entryDeadline = block.timestamp + entryWindow;
        _commitDeadline = _entryDeadline + commitWindow;
        _revealDeadline = _commitDeadline + revealWindow;
        emit CompetitionCreated(task, metric, _entryDeadline, _commitDeadline, _revealDeadline, scoreRange_[0], scoreRange_[1]);

        for (uint256 i = 0; i < entrants_.length; ++i) {
            address entrant = entrants_[i];
            if (entrant == address(0)) revert CompetitionZeroAddress(false, i);
            if (_participants[entrant].entrant) revert CompetitionDuplicate(false, i, entrant);
            _participants[entrant].entrant = true;
            _entrantList.push(entrant);
            emit EntrantRegistered(i, entrant, entrantNames[i]);
        }
        for (uint256 i = 0; i < evaluators_.length; ++i) {
            address evaluator = evaluators_[i];
            if (evaluator == address(0)) revert CompetitionZeroAddress(true, i);
            Participant storage participant = _participants[evaluator];
            if (participant.evaluator) revert CompetitionDuplicate(true, i, evaluator);
            participant.evaluator = true;
            participant.evaluatorIndex = uint8(i);
            _evaluatorList.push(evaluator);
            emit EvaluatorRegistered(i, evaluator, evaluatorNames[i]);
        }
    }

    // ------------------------------------------------------------------------------- actions

    /// @inheritdoc IModelCompetition
    function enter(bytes32 specDigest, string calldata specCid, bytes32 weightsDigest, string calldata weightsCid)
        external
        returns (uint256 entryIndex)
    {
        _requirePhase(ENTRY);
        Participant memory participant = _participants[msg.sender];
        if (!participant.entrant) revert EntrantUnknown(msg.sender);
        if (participant.entered) revert EntrantAlreadyEntered(msg.sender, participant.entryIndex);
        if (specDigest == bytes32(0) || weightsDigest == bytes32(0)) revert EntryDigestEmpty(specDigest, weightsDigest);
        if (bytes(specCid).length == 0 || bytes(weightsCid).length == 0) revert EntryCidEmpty();
        if (bytes(specCid).length > MAX_CID_BYTES || bytes(weightsCid).length > MAX_CID_BYTES) {
            revert EntryCidTooLong(bytes(specCid).length, bytes(weightsCid).length, MAX_CID_BYTES);
        }
        uint256 original = _entryOfWeights[weightsDigest];
        if (original != 0) revert EntryDuplicate(weightsDigest, original - 1);

        entryIndex = _entries.length; // < MAX_ENTRANTS: one entry per entrant
        _entries.push(EntryData(msg.sender, 0, 0, false, specDigest, weightsDigest));
        _entryOfWeights[weightsDigest] = entryIndex + 1;
        participant.entered = true;
        participant.entryIndex = uint8(entryIndex);
        _participants[msg.sender] = participant;
        emit EntrySubmitted(entryIndex, msg.sender, specDigest, specCid, weightsDigest, weightsCid);
    }

    /// @inheritdoc IModelCompetition
    function commit(bytes32 commitment) external {
        _requirePhase(COMMIT);
        Participant memory participant = _participants[msg.sender];
        if (!participant.evaluator) revert EvaluatorUnknown(msg.sender);
        if (participant.committed) revert EvaluatorAlreadyCommitted(msg.sender, _commitments[msg.sender]);
        if (commitment == bytes32(0)) revert CommitmentEmpty(msg.sender);

        _commitments[msg.sender] = commitment;
        _participants[msg.sender].committed = true;
        emit ScoresCommitted(msg.sender, commitment);
    }

    /// @inheritdoc IModelCompetition
    function reveal(int64[] calldata scores, bytes32 salt) external {
        _requirePhase(REVEAL);
        Participant memory participant = _participants[msg.sender];
        if (!participant.evaluator) revert EvaluatorUnknown(msg.sender);
        if (!participant.committed) revert EvaluatorNotCommitted(msg.sender);
        if (participant.revealed) revert EvaluatorAlreadyRevealed(msg.sender);
        if (scores.length != _entries.length) {
            revert RevealScoreCountMismatch(msg.sender, scores.length, _entries.length);
        }
        bytes32 committed = _commitments[msg.sender];
        bytes32 computed = keccak256(abi.encode(scores, salt, msg.sender));
        if (computed != committed) revert RevealMismatch(msg.sender, committed, computed);
        for (uint256 j = 0; j < scores.length; ++j) {
            int64 score = scores[j];
            if (score != NO_SCORE && (score < _minScore || score > _maxScore)) {
                revert RevealScoreOutOfRange(msg.sender, j, score, _minScore, _maxScore);
            }
        }

        _revealed[participant.evaluatorIndex] = scores;
        _participants[msg.sender].revealed = true;
        emit ScoresRevealed(msg.sender, scores, salt);
    }

    /// @inheritdoc IModelCompetition
    function finalize(int64[] calldata medians) external {
        _requirePhase(CLOSED);
        uint256 entryTotal = _entries.length;
        if (medians.length != entryTotal) revert ResultCountMismatch(medians.length, entryTotal);
        int64[][] memory revealed = _countedReveals();

        Outcome memory outcome = Outcome({finalized: true, hasWinner: false, winnerIndex: 0});
        int64 bestMedian = 0; // read only once outcome.hasWinner is set
        for (uint256 j = 0; j < entryTotal; ++j) {
            EntryData storage entry = _entries[j];
            int64 median = medians[j];
            uint256 count = _checkMedian(revealed, j, median);
            bool withheld = _withheld(entry.entrant);
            entry.median = median;
            entry.scoreCount = uint8(count);
            entry.withheld = withheld;
            emit EntryScored(j, median, count);
            if (withheld) {
                emit EntryDisqualified(j, entry.entrant);
                continue;
            }
            // Ties go to the earlier entry: only a strictly better median takes the lead.
            if (count > 0 && (!outcome.hasWinner || median > bestMedian)) {
                outcome.hasWinner = true;
                outcome.winnerIndex = uint8(j);
                bestMedian = median;
            }
        }
        _outcome = outcome;
        if (outcome.hasWinner) {
            EntryData storage best = _entries[outcome.winnerIndex];
            emit CompetitionFinalized(true, outcome.winnerIndex, best.entrant, bestMedian, best.weightsDigest);
        } else {
            emit CompetitionFinalized(false, 0, address(0), 0, bytes32(0));
        }
    }

    // --------------------------------------------------------------------------------- views

    /// @inheritdoc IModelCompetition
    function phase() external view returns (Phase) {
        return _phase();
    }

    /// @inheritdoc IModelCompetition
    function statusOf(address account)
        external
        view
        returns (Phase current, bool entered, bool committed, bool revealed, uint256 count)
    {
        Participant memory participant = _participants[account];
        return (_phase(), participant.entered, participant.committed, participant.revealed, _entries.length);
    }

    /// @inheritdoc IModelCompetition
    function entryCount() external view returns (uint256) {
        return _entries.length;
    }

    /// @inheritdoc IModelCompetition
    function entryAt(uint256 index) external view returns (Entry memory) {
        EntryData storage entry = _entry(index);
        return Entry(entry.entrant, entry.specDigest, entry.weightsDigest);
    }

    /// @inheritdoc IModelCompetition
    function resultOf(uint256 index) external view returns (Result memory) {
        EntryData storage entry = _entry(index);
        return Result(entry.median, entry.scoreCount, entry.withheld);
    }

    /// @inheritdoc IModelCompetition
    function scoreRange() external view returns (int64 minScore, int64 maxScore) {
        return (_minScore, _maxScore);
    }

    /// @inheritdoc IModelCompetition
    function winner() external view returns (bool hasWinner, uint256 entryIndex) {
        Outcome memory outcome = _outcome;
        return (outcome.hasWinner, outcome.winnerIndex);
    }

    /// @inheritdoc IModelCompetition
    function entrants() external view returns (address[] memory) {
        return _entrantList;
    }

    /// @inheritdoc IModelCompetition
    function evaluators() external view returns (address[] memory) {
        return _evaluatorList;
    }

    /// @inheritdoc IModelCompetition
    function entryDeadline() external view returns (uint256) {
        return _entryDeadline;
    }

    /// @inheritdoc IModelCompetition
    function commitDeadline() external view returns (uint256) {
        return _commitDeadline;
    }

    /// @inheritdoc IModelCompetition
    function revealDeadline() external view returns (uint256) {
        return _revealDeadline;
    }

    // ------------------------------------------------------------------------------ internal

    /// @dev The one place the phase is decided. A deadline is inclusive: at `_entryDeadline` an
    /// entrant may still enter, one second later evaluators may commit.
    function _phase() private view returns (Phase) {
        if (_outcome.finalized) return Phase.Finalized;
        if (block.timestamp <= _entryDeadline) return Phase.Entry;
        if (block.timestamp <= _commitDeadline) return Phase.Commit;
        if (block.timestamp <= _revealDeadline) return Phase.Reveal;
        return Phase.Closed;
    }

    /// @dev The one guard of every action: reverts unless the current phase is among `allowed`.
    function _requirePhase(bytes32 allowed) private view {
        Phase current = _phase();
        if (bytes32(uint256(1) << uint8(current)) & allowed == 0) revert CompetitionUnexpectedPhase(current, allowed);
    }

    function _entry(uint256 index) private view returns (EntryData storage) {
        if (index >= _entries.length) revert EntryIndexOutOfRange(index, _entries.length);
        return _entries[index];
    }

    /// @dev The revealed evaluators' scores; every other evaluator is discarded, in an event that
    /// says why.
    function _countedReveals() private returns (int64[][] memory revealed) {
        uint256 total = _evaluatorList.length;
        revealed = new int64[][](total);
        uint256 count = 0;
        for (uint256 i = 0; i < total; ++i) {
            address evaluator = _evaluatorList[i];
            Participant memory participant = _participants[evaluator];
            if (participant.revealed) {
                revealed[count] = _revealed[i];
                ++count;
            } else {
                emit EvaluatorDiscarded(
                    evaluator, participant.committed ? DiscardReason.NotRevealed : DiscardReason.NotCommitted
                );
            }
        }
        assembly ("memory-safe") {
            mstore(revealed, count) // shrink to the evaluators that revealed
        }
    }

    /// @dev Checks that `median` is the lower median of entry `j`'s counted scores (every revealed
    /// score but NO_SCORE) and returns their count. The lower median of k scores is the one at
    /// position (k - 1) / 2 in ascending order: it is, exactly when fewer than (k - 1) / 2 + 1
    /// scores lie below it and more than (k - 1) / 2 lie at or below it. One pass, no sorting;
    /// with no counted score the median must be 0.
    function _checkMedian(int64[][] memory revealed, uint256 j, int64 median) private pure returns (uint256 count) {
        uint256 below = 0;
        uint256 equal = 0;
        for (uint256 r = 0; r < revealed.length; ++r) {
            int64 score = revealed[r][j];
            if (score == NO_SCORE) continue; // abstained
            ++count;
            if (score < median) ++below;
            else if (score == median) ++equal;
        }
        if (count == 0) {
            if (median != 0) revert ResultMedianWrong(j, median, below, equal, count);
            return 0;
        }
        uint256 position = (count - 1) / 2;
        if (below > position || below + equal <= position) revert ResultMedianWrong(j, median, below, equal, count);
    }

    /// @dev True when `entrant` is also an evaluator that committed and did not reveal: it saw the
    /// others' reveals and withheld its own, so its entry cannot win (withholding does not pay).
    function _withheld(address entrant) private view returns (bool) {
        Participant memory participant = _participants[entrant];
        return participant.evaluator && participant.committed && !participant.revealed;
    }
}
