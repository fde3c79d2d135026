// SPDX-License-Identifier: MIT
// A minimal Compound GovernorBravo look-alike for tests: the same events, `proposals(id)` getter,
// `state(id)` and `quorumVotes()` as GovernorBravoDelegate, with block-number timing and weights
// from an IVotes token. No timelock, no execution. It can also emit hand-crafted ProposalCreated
// logs (mismatched arrays, undecodable data) so readers can be tested on what real chains send.
pragma solidity ^0.8.24;

import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";

contract BravoGovernor {
    struct Proposal {
        uint256 id;
        address proposer;
        uint256 eta;
        address[] targets;
        uint256[] values;
        string[] signatures;
        bytes[] calldatas;
        uint256 startBlock;
        uint256 endBlock;
        uint256 forVotes;
        uint256 againstVotes;
        uint256 abstainVotes;
        bool canceled;
        bool executed;
    }

    enum ProposalState { Pending, Active, Canceled, Defeated, Succeeded, Queued, Expired, Executed }

    event ProposalCreated(
        uint256 id,
        address proposer,
        address[] targets,
        uint256[] values,
        string[] signatures,
        bytes[] calldatas,
        uint256 startBlock,
        uint256 endBlock,
        string description
    );
    event VoteCast(address indexed voter, uint256 proposalId, uint8 support, uint256 votes, string reason);
    event ProposalCanceled(uint256 id);

    IVotes public immutable token;
    uint256 public immutable votingDelay;
    uint256 public immutable votingPeriod;
    uint256 public immutable quorumVotes;
    uint256 public proposalCount;
    mapping(uint256 => Proposal) public proposals;
    mapping(uint256 => mapping(address => bool)) public hasVoted;

    constructor(IVotes token_, uint256 votingDelay_, uint256 votingPeriod_, uint256 quorumVotes_) {
        token = token_;
        votingDelay = votingDelay_;
        votingPeriod = votingPeriod_;
        quorumVotes = quorumVotes_;
    }

    function propose(
        address[] memory targets,
        uint256[] memory values,
        string[] memory signatures,
        bytes[] memory calldatas,
        string memory description
    ) public returns (uint256) {
        require(
            targets.length == values.length && targets.length == signatures.length
                && targets.length == calldatas.length,
            "GovernorBravo::propose: proposal function information arity mismatch"
        );
        require(targets.length != 0, "GovernorBravo::propose: must provide actions");
        uint256 id = ++proposalCount;
        Proposal storage p = proposals[id];
        p.id = id;
        p.proposer = msg.sender;
        p.targets = targets;
        p.values = values;
        p.signatures = signatures;
        p.calldatas = calldatas;
        p.startBlock = block.number + votingDelay;
        p.endBlock = p.startBlock + votingPeriod;
        emit ProposalCreated(
            id, msg.sender, targets, values, signatures, calldatas, p.startBlock, p.endBlock, description
        );
        return id;
    }

    function state(uint256 proposalId) public view returns (ProposalState) {
        require(proposalCount >= proposalId && proposalId > 0, "GovernorBravo::state: invalid proposal id");
        Proposal storage p = proposals[proposalId];
        if (p.canceled) return ProposalState.Canceled;
        if (block.number <= p.startBlock) return ProposalState.Pending;
        if (block.number <= p.endBlock) return ProposalState.Active;
        if (p.forVotes <= p.againstVotes || p.forVotes < quorumVotes) return ProposalState.Defeated;
        if (p.executed) return ProposalState.Executed;
        return ProposalState.Succeeded;
    }

    function cancel(uint256 proposalId) external {
        Proposal storage p = proposals[proposalId];
        require(msg.sender == p.proposer, "GovernorBravo::cancel: not the proposer");
        p.canceled = true;
        emit ProposalCanceled(proposalId);
    }

    function castVote(uint256 proposalId, uint8 support) external {
        emit VoteCast(msg.sender, proposalId, support, _castVote(msg.sender, proposalId, support), "");
    }

    function castVoteWithReason(uint256 proposalId, uint8 support, string calldata reason) external {
        emit VoteCast(msg.sender, proposalId, support, _castVote(msg.sender, proposalId, support), reason);
    }

    function _castVote(address voter, uint256 proposalId, uint8 support) internal returns (uint256) {
        require(state(proposalId) == ProposalState.Active, "GovernorBravo::castVoteInternal: voting is closed");
        require(support <= 2, "GovernorBravo::castVoteInternal: invalid vote type");
        require(!hasVoted[proposalId][voter], "GovernorBravo::castVoteInternal: voter already voted");
        Proposal storage p = proposals[proposalId];
        uint256 votes = token.getPastVotes(voter, p.startBlock);
        if (support == 0) p.againstVotes += votes;
        else if (support == 1) p.forVotes += votes;
        else p.abstainVotes += votes;
        hasVoted[proposalId][voter] = true;
        return votes;
    }

    // --- test hooks: logs a real chain might send, which a reader must survive ---

    /// Emits a log with ProposalCreated's topic and `data` exactly as given, with no checks and
    /// nothing stored: the ABI encoding of the event's fields with disagreeing array lengths, a
    /// repeated id, or bytes that do not decode at all.
    function emitRawProposalCreated(bytes calldata data) external {
        bytes32 topic = ProposalCreated.selector;
        bytes memory d = data;
        assembly {
            log1(add(d, 32), mload(d), topic)
        }
    }
}
