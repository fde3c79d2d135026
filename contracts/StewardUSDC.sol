// SPDX-License-Identifier: MIT
// Test/demo stablecoin shaped like USDC: OpenZeppelin 5 ERC20 with 6 decimals and EIP-2612
// permit; the deployer mints. Used by the attention-bond escrow and the suggestion markets.
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract StewardUSDC is ERC20, ERC20Permit, Ownable {
    constructor(address owner_) ERC20("Steward USD Coin", "USDC") ERC20Permit("Steward USD Coin") Ownable(owner_) {}

    // USDC's 6 decimals, so amounts in tests and on the desk read as real USDC amounts do.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
