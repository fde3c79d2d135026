// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// A test double for `steward zk group add --contract`: a group whose MemberAdded events and
/// reported root disagree, as a contract that is not StewardGroups (or a node that lies about
/// one) would give. Steward must refuse to store it.
contract GroupsRootLiar {
    event MemberAdded(uint256 indexed groupId, uint256 index, uint256 commitment, uint256 root);

    uint256 internal size;

    function getGroup(uint256) external view returns (address, uint256, uint256, uint256) {
        return (address(0), 16, size, 12345);
    }

    function add(uint256 commitment) external {
        emit MemberAdded(1, size, commitment, 12345);
        size += 1;
    }
}
