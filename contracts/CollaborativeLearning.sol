// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ICollaborativeLearning} from "./ICollaborativeLearning.sol";

/// @title CollaborativeLearning
/// @notice One deployment = one experiment: a fixed roster of research groups, the round rules of
/// collaborative learning, and the shared model's digest. No owner, no admin, no upgrade.
/// @dev Storage layout (what a round costs is mostly which slots it writes for the first time):
///
///   immutables   memberCount, thresholdBps, the three windows, maxRounds, specDigest, initialDigest,
///                predecessor
///   _progress    one slot: currentRound (uint64) | modelRound (uint64, 0 = initial weights) |
///                roundsPaused (bool: a succession is pending, the next round waits for its decision)
///   _rounds[r]   one slot per round: openedAt | proposedAt | finalizedAt | proposedBlock (uint40
///                each) | proposerIndex | approvals | rejections | commits (uint8 each, at most 255 voters) |
///                outcome | nextDrawn (bool) | nextProposerIndex (uint8, the draw for round r + 1)
///   _digests[r]  one slot per proposed round: the sha256 of the proposed weights
///   _memberWords[a][w]  per member, one word per 247 rounds: roster index (bits 0-7) |
///                registered (bit 8) | voted in round w * 247 + i (bit 9 + i, i in 0..246)
///   _memberAt[i], _groupNameOf[a]  the roster, for views and events
///   _commitments[r][a]  sealed votes only: the commitment of voter a in round r until revealed
///   _succession  one slot: the latest succession proposal (successor, time, proposer, tallies,
///                outcome, number); _successionVotes[a] the number of the last one `a` voted on
///
/// A round thus writes two fresh slots (its metadata when it opens, its digest when proposed).
/// A vote reads and rewrites two slots: the round's, and the voter's member word, which answers
/// "member?", "which index?" and "voted?" in one read. Word 0 is written at registration, so a
/// vote pays the cheap nonzero-to-nonzero write; only a member's first vote in each later block of
/// 247 rounds starts a fresh word (copying the roster bits from word 0). The shared model is
/// stored as the round that set it, its digest read from `_digests`, not copied.
///
/// The proposer draw (see `_drawNext`) is fixed before anyone can choose the block that opens the
/// round: the first vote cast in a block after the proposal's draws the next round's proposer from
/// the proposal block's hash, which nobody but that block's producer knew when the proposal was
/// sent. Whoever casts the last vote or finalizes only carries out a draw already made.
///
/// Sealed votes (an experiment term: `revealWindow` > 0). Open votes are public once cast, so a
/// member could copy the others' votes without scoring anything, and the last voter would decide
/// knowing the tally. With sealed votes a voter first commits a hash of its vote, scores and a
/// secret salt (`commitVote`, in the vote window), then reveals them (`revealVote`, in the reveal
/// window after it); the round is decided on the reveals alone. The commit marks the member word's
/// voted bit, so "voted?" means "committed?"; the commitment slot is cleared on reveal.
contract CollaborativeLearning is ICollaborativeLearning {
    uint256 private constant MAX_MEMBERS = 256;
    uint256 private constant BPS = 10_000;

    /// @dev A CID names the weights in IPFS: 46 characters (CIDv0) or 59 (CIDv1, sha2-256, base32)
    /// in practice; 128 bytes leaves room for longer hashes and bounds what every reader must load.
    uint256 private constant MAX_CID_BYTES = 128;

    /// @dev Scores are a metric times 1e6 (accuracy in [0, 1], the cross-entropy loss with the
    /// agents' 1e-7 probability floor at most 16.2): any honest score lies in [0, MAX_SCORE].
    /// NO_SCORE (type(int64).min) says the voter could not compute the metric.
    int64 private constant MAX_SCORE = 100_000_000;
    int64 private constant NO_SCORE = type(int64).min;

    /// @dev The layout of a member word (see the storage layout above).
    uint256 private constant INDEX_MASK = 0xff;
    uint256 private constant REGISTERED = 1 << 8;
    uint256 private constant ROSTER_BITS = 9;
    uint256 private constant ROUNDS_PER_WORD = 256 - ROSTER_BITS;

    /// @dev The states `finalize` accepts, and those in which a round has a proposer.
    bytes32 private constant DECIDED = bytes32((1 << uint8(RoundState.ProposalExpired)) | (1 << uint8(RoundState.VotingClosed)));
    bytes32 private constant OPENED = bytes32(
        ((uint256(1) << (uint256(type(RoundState).max) + 1)) - 1) & ~uint256(1 << uint8(RoundState.Unopened))
    );

    /// @dev The succession states in which a new succession may be proposed.
    bytes32 private constant SUCCESSION_OPEN = bytes32(
        (1 << uint8(SuccessionState.None)) | (1 << uint8(SuccessionState.Rejected)) | (1 << uint8(SuccessionState.Lapsed))
    );

    /// @dev Gas for each view read from a proposed successor: plenty for an immutable or a small
    /// loop, too little for a hostile contract to grief the caller with a huge return.
    uint256 private constant SUCCESSOR_VIEW_GAS = 50_000;

    /// @dev How a finalized round ended; Undecided until then. Outcome k is RoundState VotingClosed + k
    /// (`_stateOf` relies on it, and `tests/test_contract.py` checks every finalized state).
    enum Outcome {
        Undecided,
        Accepted,
        Rejected,
        Skipped
    }

    struct RoundData {
        uint40 openedAt;
        uint40 proposedAt;
        uint40 finalizedAt;
        uint40 proposedBlock;
        uint8 proposerIndex;
        uint8 approvals;
        uint8 rejections;
        uint8 commits;
        Outcome outcome;
        bool nextDrawn;
        uint8 nextProposerIndex;
    }

    /// @dev The latest succession proposal; `outcome` is None until it is decided.
    struct SuccessionData {
        address successor;
        uint40 proposedAt;
        uint8 proposerIndex;
        uint8 approvals;
        uint8 rejections;
        SuccessionState outcome;
        uint24 number;
    }

    /// @dev `roundsPaused` mirrors "a succession is pending" where `_finalize` reads it anyway, so
    /// a round pays nothing for succession; it is set by `proposeSuccessor` and cleared by
    /// `_decideSuccession`, nowhere else.
    struct Progress {
        uint64 currentRound;
        uint64 modelRound;
        bool roundsPaused;
    }

    uint256 private immutable _memberCount;
    uint256 private immutable _thresholdBps;
    uint256 private immutable _proposalWindow;
    uint256 private immutable _voteWindow;
    uint256 private immutable _revealWindow;
    uint256 private immutable _maxRounds;
    bytes32 private immutable _specDigest;
    bytes32 private immutable _initialDigest;
    address private immutable _predecessor;

    Progress private _progress;
    mapping(uint256 round => RoundData) private _rounds;
    mapping(uint256 round => bytes32) private _digests;
    mapping(address account => mapping(uint256 window => uint256 word)) private _memberWords;
    mapping(uint256 index => address) private _memberAt;
    mapping(address member => bytes32 name) private _groupNameOf;
    mapping(uint256 round => mapping(address voter => bytes32)) private _commitments;
    SuccessionData private _succession;
    mapping(address member => uint256 number) private _successionVotes;

    /// @param members_ the roster, 1..256 distinct nonzero addresses; its order is the roster index
    /// @param groupNames one research group's name per member, same order: UTF-8, at most 32 bytes,
    /// zero-padded on the right. A word per name, not a string: a string costs three words of
    /// constructor arguments, and a full roster of them leaves too little of EIP-3860's 49,152-byte
    /// initcode limit for the contract's own code.
    /// @param thresholdBps_ approval threshold in basis points of the eligible voters (5000 = half)
    /// @param proposalWindow_ seconds the proposer has from the round's opening
    /// @param voteWindow_ seconds the voters have from the proposal
    /// @param specDigest_ sha256 of the model spec every member trains (the spec is `specCid`)
    /// @param initialDigest_ sha256 of the initial weights, the shared model of round 0
    /// @param maxRounds_ the experiment ends after this many rounds; 0 = unlimited
    /// @param revealWindow_ seconds for reveals after the vote window; 0 = open votes (no commit-reveal)
    /// @param predecessor_ the experiment this one succeeds (see `proposeSuccessor`); 0 for the first
    constructor(
        address[] memory members_,
        bytes32[] memory groupNames,
        uint16 thresholdBps_,
        uint32 proposalWindow_,
        uint32 voteWindow_,
        bytes32 specDigest_,
        string memory specCid,
        bytes32 initialDigest_,
        string memory initialCid,
        uint32 maxRounds_,
        uint32 revealWindow_,
        address predecessor_
    ) {
        uint256 count = members_.length;
        if (count == 0 || count > MAX_MEMBERS) revert ExperimentMemberCountInvalid(count, MAX_MEMBERS);
        if (groupNames.length != count) revert ExperimentGroupNamesMismatch(count, groupNames.length);
        if (thresholdBps_ == 0 || thresholdBps_ > BPS) revert ExperimentThresholdInvalid(thresholdBps_);
        if (proposalWindow_ == 0 || voteWindow_ == 0) revert ExperimentWindowInvalid(proposalWindow_, voteWindow_);
        if (specDigest_ == bytes32(0) || initialDigest_ == bytes32(0)) {
            revert ExperimentDigestEmpty(specDigest_, initialDigest_);
        }

        _memberCount = count;
        _thresholdBps = thresholdBps_;
        _proposalWindow = proposalWindow_;
        _voteWindow = voteWindow_;
        _maxRounds = maxRounds_;
        _revealWindow = revealWindow_;
        _specDigest = specDigest_;
        _initialDigest = initialDigest_;
        _predecessor = predecessor_;

        emit ExperimentCreated(
            specDigest_, specCid, initialDigest_, initialCid, thresholdBps_, proposalWindow_, voteWindow_, maxRounds_
        );
        if (revealWindow_ != 0) emit VotesSealed(revealWindow_);
        for (uint256 i = 0; i < count; ++i) {
            address member = members_[i];
            if (member == address(0)) revert ExperimentMemberZeroAddress(i);
            if (_isMember(member)) revert ExperimentMemberDuplicate(i, member);
            _memberWords[member][0] = REGISTERED | i;
            _memberAt[i] = member;
            _groupNameOf[member] = groupNames[i];
            emit MemberRegistered(i, member, _text(groupNames[i]));
        }
        _progress.currentRound = 1;
        _openRound(1, _firstProposer());
    }

    // ------------------------------------------------------------------------------- actions

    /// @inheritdoc ICollaborativeLearning
    function propose(uint256 round, bytes32 digest, string calldata cid) external {
        RoundData memory data = _rounds[round];
        _requireState(round, _stateOf(data), _bit(RoundState.Proposing));
        address proposer = _memberAt[data.proposerIndex];
        if (msg.sender != proposer) revert ProposalUnauthorized(round, msg.sender, proposer);
        if (digest == bytes32(0)) revert ProposalDigestEmpty(round);
        if (bytes(cid).length == 0) revert ProposalCidEmpty(round);
        if (bytes(cid).length > MAX_CID_BYTES) revert ProposalCidTooLong(round, bytes(cid).length, MAX_CID_BYTES);

        _digests[round] = digest;
        data.proposedAt = uint40(block.timestamp);
        data.proposedBlock = uint40(block.number);
        emit WeightsProposed(round, msg.sender, digest, cid);
        if (_memberCount == 1) {
            _finalize(round, data, RoundState.VotingClosed); // no eligible voter: every vote is in
        } else {
            _rounds[round] = data;
        }
    }

    /// @inheritdoc ICollaborativeLearning
    function vote(uint256 round, bool approve, int64 voteScore, int64 testScore) external {
        if (_revealWindow != 0) revert VoteSealedOnly(round);
        RoundData memory data = _rounds[round];
        _requireState(round, _stateOf(data), _bit(RoundState.Voting));
        _requireScore(round, voteScore);
        _requireScore(round, testScore);
        _recordBallot(round, msg.sender, data.proposerIndex);
        if (!data.nextDrawn) _drawNext(round, data);
        _count(round, data, approve, voteScore, testScore, _memberCount - 1); // the last eligible vote decides
    }

    /// @inheritdoc ICollaborativeLearning
    function commitVote(uint256 round, bytes32 commitment) external {
        if (_revealWindow == 0) revert VoteOpenOnly(round);
        RoundData memory data = _rounds[round];
        _requireState(round, _stateOf(data), _bit(RoundState.Voting));
        if (commitment == bytes32(0)) revert VoteCommitmentEmpty(round);
        _recordBallot(round, msg.sender, data.proposerIndex);
        if (!data.nextDrawn) _drawNext(round, data);
        _commitments[round][msg.sender] = commitment;
        unchecked {
            ++data.commits; // at most 255 eligible voters, each commits once
        }
        _rounds[round] = data;
        emit VoteCommitted(round, msg.sender, commitment);
    }

    /// @inheritdoc ICollaborativeLearning
    function revealVote(uint256 round, bool approve, int64 voteScore, int64 testScore, bytes32 salt) external {
        if (_revealWindow == 0) revert VoteOpenOnly(round);
        RoundData memory data = _rounds[round];
        _requireState(round, _stateOf(data), _bit(RoundState.Revealing));
        bytes32 committed = _commitments[round][msg.sender];
        if (committed == bytes32(0)) revert RevealWithoutCommitment(round, msg.sender);
        bytes32 revealed = _commitment(approve, voteScore, testScore, salt, msg.sender, round);
        if (revealed != committed) revert RevealMismatch(round, msg.sender, committed, revealed);
        _requireScore(round, voteScore);
        _requireScore(round, testScore);
        delete _commitments[round][msg.sender];
        emit VoteRevealed(round, msg.sender, salt);
        _count(round, data, approve, voteScore, testScore, data.commits); // the last reveal decides
    }

    /// @inheritdoc ICollaborativeLearning
    function finalize(uint256 round) external {
        RoundData memory data = _rounds[round];
        RoundState state = _stateOf(data);
        _requireState(round, state, DECIDED);
        _finalize(round, data, state);
    }

    // -------------------------------------------------------------------------- succession

    /// @inheritdoc ICollaborativeLearning
    function proposeSuccessor(address successor_) external {
        if (!_isMember(msg.sender)) revert SuccessionCallerNotMember(msg.sender);
        SuccessionData memory data = _succession;
        _requireSuccessionState(_successionStateOf(data), SUCCESSION_OPEN);
        bytes32 model = _modelDigest(_progress.modelRound);
        _requireSuccessor(successor_, model);

        unchecked {
            data.number += 1; // one proposal per transaction: 2**24 of them is out of reach
        }
        data.successor = successor_;
        data.proposedAt = uint40(block.timestamp);
        data.proposerIndex = uint8(_memberWords[msg.sender][0] & INDEX_MASK);
        data.approvals = 0;
        data.rejections = 0;
        data.outcome = SuccessionState.None;
        _succession = data;
        _progress.roundsPaused = true;
        emit SuccessionProposed(data.number, successor_, msg.sender, model, block.timestamp + _voteWindow);
    }

    /// @inheritdoc ICollaborativeLearning
    function voteSuccession(bool approve) external {
        SuccessionData memory data = _succession;
        _requireSuccessionState(_successionStateOf(data), _successionBit(SuccessionState.Voting));
        uint256 word = _memberWords[msg.sender][0];
        if (word & REGISTERED == 0) revert SuccessionCallerNotMember(msg.sender);
        if (word & INDEX_MASK == data.proposerIndex) revert SuccessionVoterIsProposer(msg.sender);
        if (_successionVotes[msg.sender] == data.number) revert SuccessionVoterAlreadyVoted(msg.sender);
        _successionVotes[msg.sender] = data.number;
        unchecked {
            if (approve) ++data.approvals;
            else ++data.rejections;
        }
        _succession = data;
        emit SuccessionVoteCast(data.number, msg.sender, approve);
    }

    /// @inheritdoc ICollaborativeLearning
    function finalizeSuccession() external {
        SuccessionData memory data = _succession;
        _requireSuccessionState(_successionStateOf(data), _successionBit(SuccessionState.VotingClosed));
        if (_roundInProgress()) revert SuccessionRoundInProgress(_progress.currentRound);
        _decideSuccession(data);
    }

    /// @inheritdoc ICollaborativeLearning
    function predecessor() external view returns (address) {
        return _predecessor;
    }

    /// @inheritdoc ICollaborativeLearning
    function successor() external view returns (address) {
        SuccessionData memory data = _succession;
        return data.outcome == SuccessionState.Accepted ? data.successor : address(0);
    }

    /// @inheritdoc ICollaborativeLearning
    function successionState() external view returns (SuccessionState) {
        return _successionStateOf(_succession);
    }

    // --------------------------------------------------------------------------------- views

    /// @inheritdoc ICollaborativeLearning
    function commitmentFor(bool approve, int64 voteScore, int64 testScore, bytes32 salt, address voter, uint256 round)
        external
        pure
        returns (bytes32)
    {
        return _commitment(approve, voteScore, testScore, salt, voter, round);
    }

    /// @inheritdoc ICollaborativeLearning
    function commitmentOf(uint256 round, address voter) external view returns (bytes32) {
        return _commitments[round][voter];
    }

    /// @inheritdoc ICollaborativeLearning
    function revealWindow() external view returns (uint256) {
        return _revealWindow;
    }

    /// @inheritdoc ICollaborativeLearning
    function currentRound() external view returns (uint256) {
        return _progress.currentRound;
    }

    /// @inheritdoc ICollaborativeLearning
    function proposerOf(uint256 round) external view returns (address) {
        RoundData memory data = _rounds[round];
        _requireState(round, _stateOf(data), OPENED);
        return _memberAt[data.proposerIndex];
    }

    /// @inheritdoc ICollaborativeLearning
    function roundState(uint256 round) external view returns (RoundState) {
        return _stateOf(_rounds[round]);
    }

    /// @inheritdoc ICollaborativeLearning
    function roundInfo(uint256 round) external view returns (RoundInfo memory info) {
        RoundData memory data = _rounds[round];
        info.state = _stateOf(data);
        if (info.state == RoundState.Unopened) return info;
        info.proposer = _memberAt[data.proposerIndex];
        info.openedAt = data.openedAt;
        info.proposalDeadline = data.openedAt + _proposalWindow;
        info.proposedAt = data.proposedAt;
        info.voteDeadline = data.proposedAt == 0 ? 0 : data.proposedAt + _voteWindow;
        info.finalizedAt = data.finalizedAt;
        info.approvals = data.approvals;
        info.rejections = data.rejections;
        info.digest = _digests[round];
    }

    /// @inheritdoc ICollaborativeLearning
    function deadlineOf(uint256 round) external view returns (uint256) {
        RoundData memory data = _rounds[round];
        if (data.openedAt == 0 || data.outcome != Outcome.Undecided) return 0;
        if (data.proposedAt == 0) return data.openedAt + _proposalWindow;
        uint256 voteDeadline = data.proposedAt + _voteWindow;
        return _stateOf(data) == RoundState.Voting ? voteDeadline : voteDeadline + _revealWindow;
    }

    /// @inheritdoc ICollaborativeLearning
    function currentModel() external view returns (bytes32 digest, uint256 round) {
        round = _progress.modelRound;
        digest = _modelDigest(round);
    }

    /// @inheritdoc ICollaborativeLearning
    function isFinished() external view returns (bool) {
        return _isFinished(_progress.currentRound);
    }

    /// @inheritdoc ICollaborativeLearning
    function statusOf(address account)
        external
        view
        returns (uint256 round, RoundState state, address proposer, bool voted, bool finished)
    {
        round = _progress.currentRound;
        RoundData memory data = _rounds[round];
        state = _stateOf(data);
        finished = _isFinished(round);
        if (state != RoundState.Unopened) proposer = _memberAt[data.proposerIndex];
        voted = _memberWords[account][round / ROUNDS_PER_WORD] & _votedBit(round) != 0;
    }

    /// @inheritdoc ICollaborativeLearning
    function isMember(address account) external view returns (bool) {
        return _isMember(account);
    }

    /// @inheritdoc ICollaborativeLearning
    function memberCount() external view returns (uint256) {
        return _memberCount;
    }

    /// @inheritdoc ICollaborativeLearning
    function memberAt(uint256 index) external view returns (address) {
        if (index >= _memberCount) revert MemberIndexOutOfRange(index, _memberCount);
        return _memberAt[index];
    }

    /// @inheritdoc ICollaborativeLearning
    function members() external view returns (address[] memory roster) {
        roster = new address[](_memberCount);
        for (uint256 i = 0; i < roster.length; ++i) {
            roster[i] = _memberAt[i];
        }
    }

    /// @inheritdoc ICollaborativeLearning
    function groupName(address member) external view returns (string memory) {
        if (!_isMember(member)) revert MemberUnknown(member);
        return _text(_groupNameOf[member]);
    }

    /// @inheritdoc ICollaborativeLearning
    function hasVoted(uint256 round, address voter) external view returns (bool) {
        return _memberWords[voter][round / ROUNDS_PER_WORD] & _votedBit(round) != 0;
    }

    /// @inheritdoc ICollaborativeLearning
    function thresholdBps() external view returns (uint256) {
        return _thresholdBps;
    }

    /// @inheritdoc ICollaborativeLearning
    function proposalWindow() external view returns (uint256) {
        return _proposalWindow;
    }

    /// @inheritdoc ICollaborativeLearning
    function voteWindow() external view returns (uint256) {
        return _voteWindow;
    }

    /// @inheritdoc ICollaborativeLearning
    function maxRounds() external view returns (uint256) {
        return _maxRounds;
    }

    /// @inheritdoc ICollaborativeLearning
    function specDigest() external view returns (bytes32) {
        return _specDigest;
    }

    /// @inheritdoc ICollaborativeLearning
    function initialDigest() external view returns (bytes32) {
        return _initialDigest;
    }

    // ------------------------------------------------------------------------------ internal

    /// @dev The one place a succession's state is known, from its stored fields and the clock. Its
    /// vote deadline is the proposal time plus the experiment's vote window, inclusive.
    function _successionStateOf(SuccessionData memory data) private view returns (SuccessionState) {
        if (data.proposedAt == 0) return SuccessionState.None;
        if (data.outcome != SuccessionState.None) return data.outcome;
        if (uint256(data.approvals) + data.rejections == _memberCount - 1) return SuccessionState.VotingClosed;
        return block.timestamp <= data.proposedAt + _voteWindow ? SuccessionState.Voting : SuccessionState.VotingClosed;
    }

    function _requireSuccessionState(SuccessionState current, bytes32 allowed) private pure {
        if (_successionBit(current) & allowed == 0) revert SuccessionUnexpectedState(current, allowed);
    }

    function _successionBit(SuccessionState state) private pure returns (bytes32) {
        return bytes32(1 << uint8(state));
    }

    /// @dev True while the current round is open and not finalized (never once paused or finished).
    function _roundInProgress() private view returns (bool) {
        RoundData memory data = _rounds[_progress.currentRound];
        return data.openedAt != 0 && data.outcome == Outcome.Undecided;
    }

    /// @dev Refuses a successor that is not a deployment naming this experiment as predecessor,
    /// starting from `model`, with someone on its roster: each read from the successor itself.
    function _requireSuccessor(address successor_, bytes32 model) private view {
        if (successor_.code.length == 0) revert SuccessorNotExperiment(successor_);
        (bool named, bytes32 predecessorWord) = _readView(successor_, ICollaborativeLearning.predecessor.selector);
        (bool started, bytes32 initial) = _readView(successor_, ICollaborativeLearning.initialDigest.selector);
        (bool counted, bytes32 count) = _readView(successor_, ICollaborativeLearning.memberCount.selector);
        if (!(named && started && counted)) revert SuccessorNotExperiment(successor_);
        address namedPredecessor = address(uint160(uint256(predecessorWord)));
        if (namedPredecessor != address(this)) revert SuccessorPredecessorMismatch(successor_, namedPredecessor);
        if (initial != model) revert SuccessorInitialDigestMismatch(successor_, initial, model);
        if (count == 0) revert SuccessorRosterEmpty(successor_);
    }

    /// @dev One word from a view of `target`, without reverting: (false, 0) if it reverts, runs
    /// out of its gas, or returns less than a word.
    function _readView(address target, bytes4 selector) private view returns (bool ok, bytes32 word) {
        bytes memory out;
        (ok, out) = target.staticcall{gas: SUCCESSOR_VIEW_GAS}(abi.encodeWithSelector(selector));
        ok = ok && out.length >= 32;
        if (ok) word = abi.decode(out, (bytes32));
    }

    /// @dev Decides a succession whose votes are in, between rounds. Accepted records the
    /// successor for good; Rejected or Lapsed reopens the rounds where they paused.
    function _decideSuccession(SuccessionData memory data) private {
        Progress memory progress = _progress;
        bytes32 model = _modelDigest(progress.modelRound);
        SuccessionState outcome;
        if (uint256(data.approvals) * BPS < _thresholdBps * (_memberCount - 1)) {
            outcome = SuccessionState.Rejected;
        } else {
            (bool ok, bytes32 initial) = _readView(data.successor, ICollaborativeLearning.initialDigest.selector);
            outcome = ok && initial == model ? SuccessionState.Accepted : SuccessionState.Lapsed;
        }
        data.outcome = outcome;
        _succession = data;
        progress.roundsPaused = false;
        _progress = progress;
        uint256 lastRound = progress.currentRound - 1;
        emit SuccessionDecided(data.number, data.successor, outcome, data.approvals, data.rejections, lastRound, model);
        if (outcome != SuccessionState.Accepted && !_isFinished(progress.currentRound)) {
            RoundData memory last = _rounds[lastRound];
            uint256 round = progress.currentRound;
            _openRound(round, last.nextDrawn ? last.nextProposerIndex : _fallbackProposer(round));
        }
    }

    /// @dev Finished: the last round is finalized, or a successor took over.
    function _isFinished(uint256 currentRound_) private view returns (bool) {
        return (_maxRounds != 0 && currentRound_ > _maxRounds) || _succession.outcome == SuccessionState.Accepted;
    }

    /// @dev The one place the round rules decide where a round stands. A deadline is inclusive:
    /// at `openedAt + proposalWindow` the proposer may still propose, one second later it may not.
    function _stateOf(RoundData memory data) private view returns (RoundState) {
        if (data.openedAt == 0) return RoundState.Unopened;
        if (data.outcome != Outcome.Undecided) {
            // Accepted, Rejected, Skipped: the outcomes in the order of their states, one test per vote
            return RoundState(uint8(RoundState.VotingClosed) + uint8(data.outcome));
        }
        if (data.proposedAt == 0) {
            return block.timestamp <= data.openedAt + _proposalWindow ? RoundState.Proposing : RoundState.ProposalExpired;
        }
        uint256 voteDeadline = data.proposedAt + _voteWindow;
        if (_revealWindow == 0) {
            return block.timestamp <= voteDeadline ? RoundState.Voting : RoundState.VotingClosed;
        }
        // sealed votes: commits until the vote deadline or until every eligible member committed,
        // then reveals until the reveal deadline
        if (block.timestamp <= voteDeadline && data.commits < _memberCount - 1) return RoundState.Voting;
        return block.timestamp <= voteDeadline + _revealWindow ? RoundState.Revealing : RoundState.VotingClosed;
    }

    /// @dev The one guard of every state change (after OpenZeppelin Governor's
    /// `_validateStateBitmap`): reverts unless `current` is among `allowed`.
    function _requireState(uint256 round, RoundState current, bytes32 allowed) private pure {
        if (_bit(current) & allowed == 0) revert RoundUnexpectedState(round, current, allowed);
    }

    function _bit(RoundState state) private pure returns (bytes32) {
        return bytes32(1 << uint8(state));
    }

    /// @dev Marks `voter`'s vote in `round`, refusing non-members, the proposer and a second vote.
    function _recordBallot(uint256 round, address voter, uint256 proposerIndex) private {
        uint256 window = round / ROUNDS_PER_WORD;
        uint256 word = _memberWords[voter][window];
        if (word == 0) word = _memberWords[voter][0] & (REGISTERED | INDEX_MASK); // a fresh window
        if (word & REGISTERED == 0) revert VoterNotMember(round, voter);
        if (word & INDEX_MASK == proposerIndex) revert VoterIsProposer(round, voter);
        uint256 voted = _votedBit(round);
        if (word & voted != 0) revert VoterAlreadyVoted(round, voter);
        _memberWords[voter][window] = word | voted;
    }

    function _votedBit(uint256 round) private pure returns (uint256) {
        return 1 << (ROSTER_BITS + round % ROUNDS_PER_WORD);
    }

    function _isMember(address account) private view returns (bool) {
        return _memberWords[account][0] & REGISTERED != 0;
    }

    /// @dev A score is NO_SCORE or lies in [0, MAX_SCORE]: one voter's extreme figure cannot
    /// outweigh the others' in any statistic read from the events.
    function _requireScore(uint256 round, int64 score) private pure {
        if (score != NO_SCORE && (score < 0 || score > MAX_SCORE)) revert VoteScoreOutOfRange(round, score, MAX_SCORE);
    }

    /// @dev Counts a vote (cast, or revealed) in `round`'s tally and emits it; once `expected`
    /// votes are in (every eligible member's, or every commitment's), finalizes the round.
    function _count(uint256 round, RoundData memory data, bool approve, int64 voteScore, int64 testScore, uint256 expected)
        private
    {
        unchecked {
            // at most 255 eligible voters, each counted once: neither tally overflows uint8
            if (approve) ++data.approvals;
            else ++data.rejections;
        }
        emit VoteCast(round, msg.sender, approve, voteScore, testScore);
        if (uint256(data.approvals) + data.rejections == expected) {
            _finalize(round, data, RoundState.VotingClosed);
        } else {
            _rounds[round] = data;
        }
    }

    /// @dev A zero-padded name word as the string it holds (up to its first zero byte).
    function _text(bytes32 word) private pure returns (string memory text) {
        uint256 length = 0;
        while (length < 32 && word[length] != 0) ++length;
        text = new string(32);
        assembly ("memory-safe") {
            mstore(add(text, 32), word)
            mstore(text, length)
        }
    }

    /// @dev The commitment of a sealed vote (see `commitmentFor`).
    function _commitment(bool approve, int64 voteScore, int64 testScore, bytes32 salt, address voter, uint256 round)
        private
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(approve, voteScore, testScore, salt, voter, round));
    }

    /// @dev Ends `round`, decided in `state` (ProposalExpired or VotingClosed), and opens the next
    /// one unless `round` was the last.
    function _finalize(uint256 round, RoundData memory data, RoundState state) private {
        Progress memory progress = _progress;
        RoundState outcome;
        if (state == RoundState.ProposalExpired) {
            outcome = RoundState.Skipped;
            data.outcome = Outcome.Skipped;
        } else if (uint256(data.approvals) * BPS >= _thresholdBps * (_memberCount - 1)) {
            outcome = RoundState.Accepted;
            data.outcome = Outcome.Accepted;
            progress.modelRound = uint64(round);
        } else {
            outcome = RoundState.Rejected;
            data.outcome = Outcome.Rejected;
        }
        data.finalizedAt = uint40(block.timestamp);
        _rounds[round] = data;
        emit RoundFinalized(round, outcome, data.approvals, data.rejections, _modelDigest(progress.modelRound));

        progress.currentRound = uint64(round + 1);
        _progress = progress;
        if ((_maxRounds == 0 || round < _maxRounds) && !progress.roundsPaused) {
            _openRound(round + 1, data.nextDrawn ? data.nextProposerIndex : _fallbackProposer(round + 1));
        }
    }

    /// @dev Draws the proposer of `round + 1` into `data`, once, from the hash of the block that
    /// holds `round`'s proposal, if a later block can still read it (the 256 most recent blocks).
    ///
    /// Who can bias the draw, and how much. Nobody who sends a transaction chooses the proposal
    /// block's hash: it depends on the whole block, sealed by its producer after the transaction
    /// was sent, and it is fixed before the vote that reads it. So the member whose vote draws, the
    /// last voter and whoever finalizes cannot choose the result by choosing their block (the
    /// grinding that an earlier rule, drawing in the block that opens the round, allowed). What
    /// remains: (1) the producer of the proposal's block, if it is a member or colludes with one,
    /// can try many block hashes before sealing (on a proof-of-authority chain every lab that signs
    /// blocks can, in the blocks it signs; on a devnet, its node); (2) if no vote lands within
    /// 256 blocks of the proposal, or the round gets no vote, the next proposer is the fallback
    /// draw of `_fallbackProposer`, known in advance: the drawn proposer that skips its round, or
    /// the only voter fast enough to vote in those blocks, chooses between the random draw and
    /// that fixed one (one bit).
    function _drawNext(uint256 round, RoundData memory data) private view {
        bytes32 proposalBlockHash = blockhash(data.proposedBlock); // 0 in that block itself or 256 later
        if (proposalBlockHash == bytes32(0)) return;
        data.nextDrawn = true;
        data.nextProposerIndex = uint8(uint256(keccak256(abi.encode(proposalBlockHash, address(this), round + 1))) % _memberCount);
    }

    /// @dev The proposer of `round` when the round before it drew none (it was skipped, or got no
    /// vote within 256 blocks of its proposal): fixed at deployment, so no transaction chooses it.
    function _fallbackProposer(uint256 round) private view returns (uint256) {
        return uint256(keccak256(abi.encode(address(this), round))) % _memberCount;
    }

    /// @dev The proposer of round 1, drawn at deployment from the previous block's hash: the
    /// deployer, who chooses that block, can choose this one draw. (No prevrandao: it adds nothing
    /// where a producer could grind anyway, is 0 on Clique chains and under eth-tester, and does not
    /// exist before Paris.)
    function _firstProposer() private view returns (uint256) {
        bytes32 previousHash;
        unchecked {
            previousHash = blockhash(block.number - 1); // 0 at block 0 (where a node may simulate)
        }
        return uint256(keccak256(abi.encode(previousHash, address(this), uint256(1)))) % _memberCount;
    }

    /// @dev Opens `round` with the proposer drawn for it.
    function _openRound(uint256 round, uint256 proposerIndex) private {
        RoundData memory data;
        data.openedAt = uint40(block.timestamp);
        data.proposerIndex = uint8(proposerIndex);
        _rounds[round] = data;
        emit RoundOpened(round, _memberAt[proposerIndex], block.timestamp + _proposalWindow);
    }

    /// @dev The digest of the weights accepted in `modelRound` (0 = the initial weights).
    function _modelDigest(uint256 modelRound) private view returns (bytes32) {
        return modelRound == 0 ? _initialDigest : _digests[modelRound];
    }
}
