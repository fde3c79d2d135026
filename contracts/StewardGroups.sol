// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {StewardPoseidon} from "./StewardPoseidon.sol";

/// The generated Groth16 verifier (contracts/StewardSemaphoreVerifier.sol).
interface IStewardSemaphoreVerifier {
    function verifyProof(
        uint256 root,
        uint256 nullifierHash,
        uint256 signalHash,
        uint256 scopeHash,
        uint256[8] calldata proof,
        uint256 depth
    ) external view returns (bool);
}

/// Semaphore-style groups written for Steward (docs/privacy.md): each group is an incremental
/// Poseidon Merkle tree of identity commitments (empty leaf 0, depth 16, 20 or 30) kept on
/// chain, with the same root steward-zk computes for the same members in the same order. Its
/// admin adds members; anyone may send a signal with a proof of membership: the root must be
/// one the group has had, the nullifier unused in the group, and the proof valid for the
/// scope and message. Counting signals per (scope, message) makes it a voting contract: the
/// scope is the proposal, the message the choice, and `tally` the count.
contract StewardGroups {
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    struct Group {
        address admin;
        uint256 depth;
        uint256 size;
        uint256 root;
    }

    IStewardSemaphoreVerifier public immutable verifier;
    /// Groups are numbered from 1; this is the last number given.
    uint256 public groupCount;

    mapping(uint256 groupId => Group) internal groups;
    /// The last left node at each level: all an incremental tree needs to append.
    mapping(uint256 groupId => mapping(uint256 level => uint256)) internal leftNodes;
    mapping(uint256 groupId => mapping(uint256 root => bool)) public isRoot;
    mapping(uint256 groupId => mapping(uint256 commitment => bool)) public isMember;
    mapping(uint256 groupId => mapping(uint256 nullifierHash => bool)) public nullifierUsed;
    mapping(uint256 groupId => mapping(uint256 scopeHash => mapping(bytes32 message => uint256))) internal tallies;

    event GroupCreated(uint256 indexed groupId, uint256 depth, address indexed admin);
    event MemberAdded(uint256 indexed groupId, uint256 index, uint256 commitment, uint256 root);
    event Signalled(
        uint256 indexed groupId,
        uint256 indexed scopeHash,
        uint256 nullifierHash,
        uint256 root,
        string scope,
        string message
    );

    error UnknownGroup(uint256 groupId);
    error UnsupportedDepth(uint256 depth);
    error NotGroupAdmin(uint256 groupId, address caller);
    error BadCommitment(uint256 commitment);
    error DuplicateMember(uint256 groupId, uint256 commitment);
    error GroupFull(uint256 groupId, uint256 capacity);
    error UnknownRoot(uint256 groupId, uint256 root);
    error NullifierUsed(uint256 groupId, uint256 nullifierHash);
    error InvalidProof(uint256 groupId);

    constructor(IStewardSemaphoreVerifier verifier_) {
        verifier = verifier_;
    }

    /// A new empty group of `depth` (16, 20 or 30) administered by `admin`; returns its id.
    function createGroup(uint256 depth, address admin) external returns (uint256 groupId) {
        if (depth != 16 && depth != 20 && depth != 30) revert UnsupportedDepth(depth);
        groupId = ++groupCount;
        groups[groupId] = Group(admin, depth, 0, StewardPoseidon.zero(depth));
        emit GroupCreated(groupId, depth, admin);
    }

    /// Appends `commitment` as the next leaf (the admin only). Zero is the empty leaf and a
    /// commitment may be in a group once, as steward-zk's groups require.
    function addMember(uint256 groupId, uint256 commitment) external {
        Group storage g = _group(groupId);
        if (msg.sender != g.admin) revert NotGroupAdmin(groupId, msg.sender);
        if (commitment == 0 || commitment >= R) revert BadCommitment(commitment);
        if (isMember[groupId][commitment]) revert DuplicateMember(groupId, commitment);
        uint256 index = g.size;
        uint256 depth = g.depth;
        if (index >> depth != 0) revert GroupFull(groupId, 1 << depth);
        uint256 node = commitment;
        uint256 i = index;
        for (uint256 level = 0; level < depth; level++) {
            if (i & 1 == 0) {
                leftNodes[groupId][level] = node;
                node = StewardPoseidon.hash(node, StewardPoseidon.zero(level));
            } else {
                node = StewardPoseidon.hash(leftNodes[groupId][level], node);
            }
            i >>= 1;
        }
        g.size = index + 1;
        g.root = node;
        isMember[groupId][commitment] = true;
        isRoot[groupId][node] = true;
        emit MemberAdded(groupId, index, commitment, node);
    }

    /// The group's admin, depth, member count and current root (the empty tree's root while
    /// it has no members).
    function getGroup(uint256 groupId)
        external
        view
        returns (address admin, uint256 depth, uint256 size, uint256 root)
    {
        Group storage g = _group(groupId);
        return (g.admin, g.depth, g.size, g.root);
    }

    /// A member's anonymous signal of `message` under `scope` (a vote: the proposal and the
    /// choice), with the proof `steward zk prove` made for a root this group has had. One
    /// signal per nullifier: a member's second signal in a scope reverts.
    function signal(
        uint256 groupId,
        uint256 root,
        uint256 nullifierHash,
        string calldata scope,
        string calldata message,
        uint256[8] calldata proof
    ) external {
        Group storage g = _group(groupId);
        if (!isRoot[groupId][root]) revert UnknownRoot(groupId, root);
        if (nullifierUsed[groupId][nullifierHash]) revert NullifierUsed(groupId, nullifierHash);
        // Steward's (and Semaphore v3's) hash of bytes to a field element.
        uint256 scopeHash = uint256(keccak256(bytes(scope))) >> 8;
        uint256 signalHash = uint256(keccak256(bytes(message))) >> 8;
        if (!verifier.verifyProof(root, nullifierHash, signalHash, scopeHash, proof, g.depth)) {
            revert InvalidProof(groupId);
        }
        nullifierUsed[groupId][nullifierHash] = true;
        tallies[groupId][scopeHash][keccak256(bytes(message))] += 1;
        emit Signalled(groupId, scopeHash, nullifierHash, root, scope, message);
    }

    /// How many signals in `scope` said `message` (votes for a choice).
    function tally(uint256 groupId, string calldata scope, string calldata message)
        external
        view
        returns (uint256)
    {
        _group(groupId);
        return tallies[groupId][uint256(keccak256(bytes(scope))) >> 8][keccak256(bytes(message))];
    }

    function _group(uint256 groupId) internal view returns (Group storage g) {
        g = groups[groupId];
        if (g.depth == 0) revert UnknownGroup(groupId);
    }
}
