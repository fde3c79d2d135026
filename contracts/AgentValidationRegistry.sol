// SPDX-License-Identifier: MIT
// ERC-8004 validation registry, written for Steward from the EIP text (the v2 ABI: string tags,
// getValidationStatus with the response hash). An agent's owner or operator asks a validator to
// check some work (validationRequest, keyed by the request hash); only that validator answers,
// with a response from 0 to 100, a response URI and hash, and a tag (validationResponse, which
// it may repeat to refine its answer). Steward's private-information judge answers as the
// validator: its verdict as the response, its commitment as the response hash. No upgrade path.
pragma solidity ^0.8.24;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";

contract AgentValidationRegistry {
    struct Status {
        address validatorAddress;
        uint256 agentId;
        uint8 response;
        bytes32 responseHash;
        string tag;
        uint256 lastUpdate;
        bool responded;
    }

    event ValidationRequest(
        address indexed validatorAddress, uint256 indexed agentId, string requestURI, bytes32 indexed requestHash
    );
    event ValidationResponse(
        address indexed validatorAddress,
        uint256 indexed agentId,
        bytes32 indexed requestHash,
        uint8 response,
        string responseURI,
        bytes32 responseHash,
        string tag
    );

    error UnknownAgent(uint256 agentId);
    error NotAgentOperator(uint256 agentId, address caller);
    error ZeroValidator();
    error RequestExists(bytes32 requestHash);
    error NoSuchRequest(bytes32 requestHash);
    error NotValidator(bytes32 requestHash, address caller);
    error ResponseOutOfRange(uint8 response);

    address private immutable _identityRegistry;
    mapping(bytes32 => Status) private _status;
    mapping(uint256 => bytes32[]) private _agentValidations;
    mapping(address => bytes32[]) private _validatorRequests;

    constructor(address identityRegistry_) {
        _identityRegistry = identityRegistry_;
    }

    function getIdentityRegistry() external view returns (address) {
        return _identityRegistry;
    }

    /// The agent's owner or an operator asks `validatorAddress` to validate; `requestHash`
    /// commits to what is to be checked (here: the judge's commitment).
    function validationRequest(
        address validatorAddress,
        uint256 agentId,
        string calldata requestURI,
        bytes32 requestHash
    ) external {
        if (validatorAddress == address(0)) revert ZeroValidator();
        IERC721 registry = IERC721(_identityRegistry);
        address owner;
        try registry.ownerOf(agentId) returns (address o) {
            owner = o;
        } catch {
            revert UnknownAgent(agentId);
        }
        if (
            msg.sender != owner && !registry.isApprovedForAll(owner, msg.sender)
                && registry.getApproved(agentId) != msg.sender
        ) revert NotAgentOperator(agentId, msg.sender);
        if (_status[requestHash].validatorAddress != address(0)) revert RequestExists(requestHash);
        Status storage s = _status[requestHash];
        s.validatorAddress = validatorAddress;
        s.agentId = agentId;
        _agentValidations[agentId].push(requestHash);
        _validatorRequests[validatorAddress].push(requestHash);
        emit ValidationRequest(validatorAddress, agentId, requestURI, requestHash);
    }

    /// The requested validator answers (0..100); a later answer replaces an earlier one.
    function validationResponse(
        bytes32 requestHash,
        uint8 response,
        string calldata responseURI,
        bytes32 responseHash,
        string calldata tag
    ) external {
        Status storage s = _status[requestHash];
        if (s.validatorAddress == address(0)) revert NoSuchRequest(requestHash);
        if (s.validatorAddress != msg.sender) revert NotValidator(requestHash, msg.sender);
        if (response > 100) revert ResponseOutOfRange(response);
        s.response = response;
        s.responseHash = responseHash;
        s.tag = tag;
        s.lastUpdate = block.timestamp;
        s.responded = true;
        emit ValidationResponse(msg.sender, s.agentId, requestHash, response, responseURI, responseHash, tag);
    }

    function getValidationStatus(bytes32 requestHash)
        external
        view
        returns (
            address validatorAddress,
            uint256 agentId,
            uint8 response,
            bytes32 responseHash,
            string memory tag,
            uint256 lastUpdate
        )
    {
        Status storage s = _status[requestHash];
        if (s.validatorAddress == address(0)) revert NoSuchRequest(requestHash);
        return (s.validatorAddress, s.agentId, s.response, s.responseHash, s.tag, s.lastUpdate);
    }

    function getAgentValidations(uint256 agentId) external view returns (bytes32[] memory) {
        return _agentValidations[agentId];
    }

    function getValidatorRequests(address validatorAddress) external view returns (bytes32[] memory) {
        return _validatorRequests[validatorAddress];
    }
}
