//! `sol!` bindings for the calls and events steward-eth reads. Only what is used is declared.

#![allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    clippy::too_many_arguments
)]

use alloy::sol;

sol! {
    /// OpenZeppelin Governor 5.x (IGovernor + IERC6372), the parts a reader needs.
    interface IGovernorOz {
        function state(uint256 proposalId) external view returns (uint8);
        function proposalSnapshot(uint256 proposalId) external view returns (uint256);
        function proposalDeadline(uint256 proposalId) external view returns (uint256);
        function proposalEta(uint256 proposalId) external view returns (uint256);
        function proposalProposer(uint256 proposalId) external view returns (address);
        function quorum(uint256 timepoint) external view returns (uint256);
        function clock() external view returns (uint48);
        function CLOCK_MODE() external view returns (string);
        function votingDelay() external view returns (uint256);
        function votingPeriod() external view returns (uint256);
        function name() external view returns (string);
    }

    /// Compound GovernorBravoDelegate, the parts a reader needs.
    interface IGovernorBravo {
        function state(uint256 proposalId) external view returns (uint8);
        function quorumVotes() external view returns (uint256);
        function proposalCount() external view returns (uint256);
        function proposals(uint256 proposalId) external view returns (
            uint256 id,
            address proposer,
            uint256 eta,
            uint256 startBlock,
            uint256 endBlock,
            uint256 forVotes,
            uint256 againstVotes,
            uint256 abstainVotes,
            bool canceled,
            bool executed
        );
    }

    /// The events, identical in OpenZeppelin 5 and Bravo (Bravo names the timing fields
    /// startBlock / endBlock, OpenZeppelin voteStart / voteEnd).
    interface GovernorEvents {
        event ProposalCreated(
            uint256 proposalId,
            address proposer,
            address[] targets,
            uint256[] values,
            string[] signatures,
            bytes[] calldatas,
            uint256 voteStart,
            uint256 voteEnd,
            string description
        );
        event VoteCast(address indexed voter, uint256 proposalId, uint8 support, uint256 weight, string reason);
        event VoteCastWithParams(
            address indexed voter,
            uint256 proposalId,
            uint8 support,
            uint256 weight,
            string reason,
            bytes params
        );
    }
}

/// ProposalCreated's data decoded with `bytes` in place of `string` (same ABI encoding), so
/// invalid UTF-8 is seen and flagged instead of silently replaced.
pub(crate) type ProposalCreatedData = (
    alloy::sol_types::sol_data::Uint<256>,
    alloy::sol_types::sol_data::Address,
    alloy::sol_types::sol_data::Array<alloy::sol_types::sol_data::Address>,
    alloy::sol_types::sol_data::Array<alloy::sol_types::sol_data::Uint<256>>,
    alloy::sol_types::sol_data::Array<alloy::sol_types::sol_data::Bytes>,
    alloy::sol_types::sol_data::Array<alloy::sol_types::sol_data::Bytes>,
    alloy::sol_types::sol_data::Uint<256>,
    alloy::sol_types::sol_data::Uint<256>,
    alloy::sol_types::sol_data::Bytes,
);

/// VoteCast's data (after the indexed voter): proposalId, support, weight, reason.
pub(crate) type VoteCastData = (
    alloy::sol_types::sol_data::Uint<256>,
    alloy::sol_types::sol_data::Uint<256>,
    alloy::sol_types::sol_data::Uint<256>,
    alloy::sol_types::sol_data::Bytes,
);

/// VoteCastWithParams' data: VoteCast's plus `params`.
pub(crate) type VoteCastWithParamsData = (
    alloy::sol_types::sol_data::Uint<256>,
    alloy::sol_types::sol_data::Uint<256>,
    alloy::sol_types::sol_data::Uint<256>,
    alloy::sol_types::sol_data::Bytes,
    alloy::sol_types::sol_data::Bytes,
);
