// SPDX-License-Identifier: MIT
// ERC-8004 reputation registry, written for Steward from the EIP text. Any address may rate an
// agent except its owner and operators; each rating is a signed fixed-point value with 0-18
// decimals and two free tags. `getSummary` only ever aggregates the clients the caller names
// (a non-empty list): reading "everyone" is what Sybil raters inflate. No upgrade path.
pragma solidity ^0.8.24;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

contract AgentReputationRegistry {
    struct Feedback {
        int128 value;
        uint8 valueDecimals;
        bool isRevoked;
        string tag1;
        string tag2;
    }

    event NewFeedback(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        int128 value,
        uint8 valueDecimals,
        string indexed indexedTag1,
        string tag1,
        string tag2,
        string endpoint,
        string feedbackURI,
        bytes32 feedbackHash
    );
    event FeedbackRevoked(uint256 indexed agentId, address indexed clientAddress, uint64 indexed feedbackIndex);
    event ResponseAppended(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        address indexed responder,
        string responseURI,
        bytes32 responseHash
    );

    error UnknownAgent(uint256 agentId);
    error SelfFeedback(uint256 agentId, address caller);
    error DecimalsTooLarge(uint8 valueDecimals);
    error EmptyClientList();
    error DuplicateClient(address client);
    error NoSuchFeedback(uint256 agentId, address client, uint64 feedbackIndex);
    error AlreadyRevoked(uint256 agentId, address client, uint64 feedbackIndex);
    error EmptyResponseURI();

    uint8 public constant MAX_DECIMALS = 18;

    address private immutable _identityRegistry;
    mapping(uint256 => mapping(address => mapping(uint64 => Feedback))) private _feedback;
    mapping(uint256 => mapping(address => uint64)) private _lastIndex;
    mapping(uint256 => address[]) private _clients;
    mapping(uint256 => mapping(address => bool)) private _isClient;
    mapping(uint256 => mapping(address => mapping(uint64 => uint64))) private _responses;

    constructor(address identityRegistry_) {
        _identityRegistry = identityRegistry_;
    }

    function getIdentityRegistry() external view returns (address) {
        return _identityRegistry;
    }

    // Strings in memory (one stack slot each, not two as calldata): the event's eleven fields
    // would not fit the stack otherwise.
    function giveFeedback(
        uint256 agentId,
        int128 value,
        uint8 valueDecimals,
        string memory tag1,
        string memory tag2,
        string memory endpoint,
        string memory feedbackURI,
        bytes32 feedbackHash
    ) external {
        if (valueDecimals > MAX_DECIMALS) revert DecimalsTooLarge(valueDecimals);
        _checkRater(agentId);
        uint64 index = ++_lastIndex[agentId][msg.sender];
        _feedback[agentId][msg.sender][index] = Feedback(value, valueDecimals, false, tag1, tag2);
        if (!_isClient[agentId][msg.sender]) {
            _isClient[agentId][msg.sender] = true;
            _clients[agentId].push(msg.sender);
        }
        emit NewFeedback(
            agentId, msg.sender, index, value, valueDecimals, tag1, tag1, tag2, endpoint, feedbackURI, feedbackHash
        );
    }

    /// The agent exists and the caller is neither its owner nor one of its operators.
    function _checkRater(uint256 agentId) private view {
        IERC721 registry = IERC721(_identityRegistry);
        address owner;
        try registry.ownerOf(agentId) returns (address o) {
            owner = o;
        } catch {
            revert UnknownAgent(agentId);
        }
        if (
            msg.sender == owner || registry.isApprovedForAll(owner, msg.sender)
                || registry.getApproved(agentId) == msg.sender
        ) {
            revert SelfFeedback(agentId, msg.sender);
        }
    }

    function revokeFeedback(uint256 agentId, uint64 feedbackIndex) external {
        Feedback storage f = _stored(agentId, msg.sender, feedbackIndex);
        if (f.isRevoked) revert AlreadyRevoked(agentId, msg.sender, feedbackIndex);
        f.isRevoked = true;
        emit FeedbackRevoked(agentId, msg.sender, feedbackIndex);
    }

    function appendResponse(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        string calldata responseURI,
        bytes32 responseHash
    ) external {
        if (bytes(responseURI).length == 0) revert EmptyResponseURI();
        _stored(agentId, clientAddress, feedbackIndex);
        _responses[agentId][clientAddress][feedbackIndex]++;
        emit ResponseAppended(agentId, clientAddress, feedbackIndex, msg.sender, responseURI, responseHash);
    }

    function _stored(uint256 agentId, address client, uint64 index) private view returns (Feedback storage) {
        if (index == 0 || index > _lastIndex[agentId][client]) revert NoSuchFeedback(agentId, client, index);
        return _feedback[agentId][client][index];
    }

    function readFeedback(uint256 agentId, address clientAddress, uint64 feedbackIndex)
        external
        view
        returns (int128 value, uint8 valueDecimals, string memory tag1, string memory tag2, bool isRevoked)
    {
        Feedback storage f = _stored(agentId, clientAddress, feedbackIndex);
        return (f.value, f.valueDecimals, f.tag1, f.tag2, f.isRevoked);
    }

    function getLastIndex(uint256 agentId, address clientAddress) external view returns (uint64) {
        return _lastIndex[agentId][clientAddress];
    }

    function getClients(uint256 agentId) external view returns (address[] memory) {
        return _clients[agentId];
    }

    function getResponseCount(uint256 agentId, address clientAddress, uint64 feedbackIndex)
        external
        view
        returns (uint64)
    {
        return _responses[agentId][clientAddress][feedbackIndex];
    }

    /// A running summary (one memory pointer keeps the loops within the stack limit).
    struct Tally {
        int256 sum; // at 18 decimals
        uint64 count;
        uint64[19] perDecimals;
    }

    /// The mean of the named clients' unrevoked feedback (filtered by the tags where they are
    /// not empty). Values are brought to 18 decimals, averaged (truncating toward zero), and
    /// given back in the decimals most of them used (the fewest decimals on a tie): (100, 0) and
    /// (955, 1) give count 2, value 97, decimals 0.
    function getSummary(uint256 agentId, address[] calldata clientAddresses, string calldata tag1, string calldata tag2)
        external
        view
        returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals)
    {
        if (clientAddresses.length == 0) revert EmptyClientList();
        Tally memory t;
        bytes32 t1 = _tagHash(tag1);
        bytes32 t2 = _tagHash(tag2);
        for (uint256 i; i < clientAddresses.length; i++) {
            for (uint256 j; j < i; j++) {
                if (clientAddresses[j] == clientAddresses[i]) revert DuplicateClient(clientAddresses[i]);
            }
            _accumulate(agentId, clientAddresses[i], t1, t2, t);
        }
        if (t.count == 0) return (0, 0, 0);
        uint8 mode;
        for (uint8 d = 1; d <= MAX_DECIMALS; d++) {
            if (t.perDecimals[d] > t.perDecimals[mode]) mode = d;
        }
        int256 mean = t.sum / int256(uint256(t.count));
        return (t.count, SafeCast.toInt128(mean / int256(10 ** (MAX_DECIMALS - mode))), mode);
    }

    /// bytes32(0) for an empty tag: "any tag".
    function _tagHash(string calldata tag) private pure returns (bytes32) {
        return bytes(tag).length == 0 ? bytes32(0) : keccak256(bytes(tag));
    }

    /// Adds one client's matching, unrevoked feedback to `t`.
    function _accumulate(uint256 agentId, address client, bytes32 t1, bytes32 t2, Tally memory t) private view {
        uint64 last = _lastIndex[agentId][client];
        for (uint64 k = 1; k <= last; k++) {
            Feedback storage f = _feedback[agentId][client][k];
            if (f.isRevoked) continue;
            if (t1 != bytes32(0) && keccak256(bytes(f.tag1)) != t1) continue;
            if (t2 != bytes32(0) && keccak256(bytes(f.tag2)) != t2) continue;
            t.sum += int256(f.value) * int256(10 ** (MAX_DECIMALS - f.valueDecimals));
            t.perDecimals[f.valueDecimals]++;
            t.count++;
        }
    }
}
