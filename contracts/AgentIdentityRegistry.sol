// SPDX-License-Identifier: MIT
// ERC-8004 identity registry, written for Steward from the EIP text: every agent is an ERC-721
// token whose URI resolves to its registration file. The agent wallet (where it is paid) starts
// as the owner and changes only with an EIP-712 signature from the new wallet (or ERC-1271 for a
// contract wallet) under a deadline at most five minutes ahead, so a leaked signature goes stale
// fast. A transfer clears it: the new owner must prove a wallet again. No upgrade path.
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

contract AgentIdentityRegistry is ERC721URIStorage, EIP712 {
    struct MetadataEntry {
        string metadataKey;
        bytes metadataValue;
    }

    event Registered(uint256 indexed agentId, string agentURI, address indexed owner);
    event MetadataSet(
        uint256 indexed agentId, string indexed indexedMetadataKey, string metadataKey, bytes metadataValue
    );
    event URIUpdated(uint256 indexed agentId, string newURI, address indexed updatedBy);

    error NotAgentOperator(uint256 agentId, address caller);
    error ReservedMetadataKey(string metadataKey);
    error ZeroWallet();
    error SignatureExpired(uint256 deadline, uint256 nowTs);
    error DeadlineTooFar(uint256 deadline, uint256 latest);
    error InvalidWalletSignature(address wallet);

    bytes32 public constant AGENT_WALLET_SET_TYPEHASH =
        keccak256("AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)");
    /// The longest a wallet signature may stay valid.
    uint256 public constant MAX_DEADLINE_DELAY = 5 minutes;
    bytes32 private constant AGENT_WALLET_KEY = keccak256("agentWallet");

    // Ids start at 1 so 0 never names an agent (an unset id in a caller's config reads as none).
    uint256 private _nextId = 1;
    mapping(uint256 => mapping(string => bytes)) private _metadata;
    mapping(uint256 => address) private _agentWallet;

    constructor() ERC721("Steward Agent Identity", "AGENT") EIP712("ERC8004IdentityRegistry", "1") {}

    function register() external returns (uint256 agentId) {
        return _register("", new MetadataEntry[](0));
    }

    function register(string calldata agentURI) external returns (uint256 agentId) {
        return _register(agentURI, new MetadataEntry[](0));
    }

    function register(string calldata agentURI, MetadataEntry[] calldata metadata)
        external
        returns (uint256 agentId)
    {
        return _register(agentURI, metadata);
    }

    function _register(string memory agentURI, MetadataEntry[] memory metadata) private returns (uint256 agentId) {
        agentId = _nextId++;
        _safeMint(msg.sender, agentId);
        if (bytes(agentURI).length > 0) {
            _setTokenURI(agentId, agentURI);
        }
        _setWallet(agentId, msg.sender);
        for (uint256 i; i < metadata.length; i++) {
            _setMetadata(agentId, metadata[i].metadataKey, metadata[i].metadataValue);
        }
        emit Registered(agentId, agentURI, msg.sender);
    }

    /// The owner, an operator for all its tokens, or the token's approved address.
    function _checkOperator(uint256 agentId) private view returns (address owner) {
        owner = ownerOf(agentId);
        if (msg.sender != owner && !isApprovedForAll(owner, msg.sender) && getApproved(agentId) != msg.sender) {
            revert NotAgentOperator(agentId, msg.sender);
        }
    }

    function setAgentURI(uint256 agentId, string calldata newURI) external {
        _checkOperator(agentId);
        _setTokenURI(agentId, newURI);
        emit URIUpdated(agentId, newURI, msg.sender);
    }

    function getMetadata(uint256 agentId, string calldata metadataKey) external view returns (bytes memory) {
        return _metadata[agentId][metadataKey];
    }

    function setMetadata(uint256 agentId, string calldata metadataKey, bytes calldata metadataValue) external {
        _checkOperator(agentId);
        _setMetadata(agentId, metadataKey, metadataValue);
    }

    function _setMetadata(uint256 agentId, string memory key, bytes memory value) private {
        if (keccak256(bytes(key)) == AGENT_WALLET_KEY) revert ReservedMetadataKey(key);
        _metadata[agentId][key] = value;
        emit MetadataSet(agentId, key, key, value);
    }

    function getAgentWallet(uint256 agentId) external view returns (address) {
        ownerOf(agentId); // reverts for an unknown agent, like every other read
        return _agentWallet[agentId];
    }

    /// The EIP-712 digest `newWallet` signs to become `agentId`'s wallet.
    function agentWalletDigest(uint256 agentId, address newWallet, address owner, uint256 deadline)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(AGENT_WALLET_SET_TYPEHASH, agentId, newWallet, owner, deadline)));
    }

    function setAgentWallet(uint256 agentId, address newWallet, uint256 deadline, bytes calldata signature) external {
        if (newWallet == address(0)) revert ZeroWallet();
        if (block.timestamp > deadline) revert SignatureExpired(deadline, block.timestamp);
        if (deadline > block.timestamp + MAX_DEADLINE_DELAY) {
            revert DeadlineTooFar(deadline, block.timestamp + MAX_DEADLINE_DELAY);
        }
        address owner = _checkOperator(agentId);
        // The owner is in the signed message, so a signature made for one owner is void after a
        // transfer.
        bytes32 digest = agentWalletDigest(agentId, newWallet, owner, deadline);
        if (!SignatureChecker.isValidSignatureNow(newWallet, digest, signature)) {
            revert InvalidWalletSignature(newWallet);
        }
        _setWallet(agentId, newWallet);
    }

    function unsetAgentWallet(uint256 agentId) external {
        _checkOperator(agentId);
        _setWallet(agentId, address(0));
    }

    function _setWallet(uint256 agentId, address wallet) private {
        _agentWallet[agentId] = wallet;
        bytes memory value = wallet == address(0) ? bytes("") : abi.encodePacked(wallet);
        _metadata[agentId]["agentWallet"] = value;
        emit MetadataSet(agentId, "agentWallet", "agentWallet", value);
    }

    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        if (from != address(0) && to != address(0)) {
            _setWallet(tokenId, address(0));
        }
    }

    /// How many agents were registered (ids 1..=count).
    function agentCount() external view returns (uint256) {
        return _nextId - 1;
    }
}
