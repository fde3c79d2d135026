// SPDX-License-Identifier: MIT
// Attention-bond escrow (issue 19, item 2), written for Steward after BaseMail's attention bonds:
// whoever wants a recipient's attention stakes an ERC-20 (USDC-like) bond on one message; a reply
// by the recipient (or an agent the recipient authorised) refunds the bond minus a fee; silence
// past the response window lets anyone forfeit the bond to the recipient.
//
// Same-block race: a reply is valid while block.timestamp <= deadline, a forfeit only from
// deadline + 1. Both read the same block timestamp, so in any block exactly one of them can
// succeed, whatever the order of the two transactions: at or before the deadline the reply wins,
// after it the forfeit wins.
//
// No upgrade path, no admin withdrawal: the owner only sets the fee (<= 20%), the global minimum
// and the fee's treasury. Fee-on-transfer tokens are refused (the escrow checks what arrived).
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract AttentionBonds is ReentrancyGuard, Ownable {
    using SafeERC20 for IERC20;

    enum Status {
        None,
        Open,
        Replied,
        Forfeited
    }

    // Two storage slots (sender, deadline, status | recipient, amount): a deposit writes 2 new
    // slots, not 4. uint96 holds 7.9e22 USDC.
    struct Bond {
        address sender;
        uint64 deadline;
        Status status;
        address recipient;
        uint96 amount;
    }

    uint16 public constant MAX_FEE_BPS = 2000;
    uint64 public constant DEFAULT_WINDOW = 7 days;
    uint64 public constant MIN_WINDOW = 1 days;
    uint64 public constant MAX_WINDOW = 30 days;

    IERC20 public immutable token;
    uint16 public feeBps = 1000;
    uint256 public minimumBond;
    address public treasury;
    /// Sum of open bonds: what the escrow must hold.
    uint256 public totalOpen;

    mapping(bytes32 => Bond) private _bonds;
    mapping(address => uint256) public priceOf;
    /// 0 means the default window.
    mapping(address => uint64) private _window;
    mapping(address => mapping(address => bool)) public isWhitelisted;
    mapping(address => mapping(address => bool)) public isAgent;

    event Deposited(
        bytes32 indexed messageId,
        address indexed sender,
        address indexed recipient,
        uint256 amount,
        uint64 deadline
    );
    event Replied(bytes32 indexed messageId, address indexed by, uint256 refund, uint256 fee);
    event Forfeited(bytes32 indexed messageId, address indexed by, uint256 amount);
    event PriceSet(address indexed recipient, uint256 price);
    event WindowSet(address indexed recipient, uint64 window);
    event WhitelistSet(address indexed recipient, address indexed sender, bool allowed);
    event AgentSet(address indexed recipient, address indexed agent, bool allowed);
    event FeeSet(uint16 feeBps);
    event MinimumSet(uint256 minimum);
    event TreasurySet(address treasury);

    error ZeroRecipient();
    error SelfBond();
    error DuplicateMessage(bytes32 messageId);
    error BelowMinimum(uint256 amount, uint256 minimum);
    error BelowPrice(uint256 amount, uint256 price);
    error SenderWhitelisted(address sender, address recipient);
    error UnknownMessage(bytes32 messageId);
    error NotOpen(bytes32 messageId, Status status);
    error NotRecipientOrAgent(bytes32 messageId, address caller);
    error WindowClosed(bytes32 messageId, uint64 deadline);
    error WindowOpen(bytes32 messageId, uint64 deadline);
    error FeeTooHigh(uint16 feeBps, uint16 max);
    error WindowOutOfRange(uint64 window, uint64 min, uint64 max);
    error ZeroTreasury();
    error TransferShort(uint256 expected, uint256 received);
    error AmountTooLarge(uint256 amount);

    constructor(IERC20 token_, address owner_, address treasury_, uint256 minimumBond_) Ownable(owner_) {
        if (treasury_ == address(0)) revert ZeroTreasury();
        token = token_;
        treasury = treasury_;
        minimumBond = minimumBond_;
    }

    // ---- the sender ----

    function deposit(address recipient, bytes32 messageId, uint256 amount) external nonReentrant {
        if (recipient == address(0)) revert ZeroRecipient();
        if (recipient == msg.sender) revert SelfBond();
        if (_bonds[messageId].status != Status.None) revert DuplicateMessage(messageId);
        // Whitelisted senders reach the recipient for free; taking their money would be a trap.
        if (isWhitelisted[recipient][msg.sender]) revert SenderWhitelisted(msg.sender, recipient);
        if (amount == 0 || amount < minimumBond) revert BelowMinimum(amount, minimumBond);
        uint256 price = priceOf[recipient];
        if (amount < price) revert BelowPrice(amount, price);
        if (amount > type(uint96).max) revert AmountTooLarge(amount);

        uint64 deadline = uint64(block.timestamp) + windowOf(recipient);
        _bonds[messageId] = Bond(msg.sender, deadline, Status.Open, recipient, uint96(amount));
        totalOpen += amount;

        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert TransferShort(amount, received);

        emit Deposited(messageId, msg.sender, recipient, amount, deadline);
    }

    // ---- the recipient (or its agent) and anyone ----

    function reply(bytes32 messageId) external nonReentrant {
        Bond storage b = _open(messageId);
        if (msg.sender != b.recipient && !isAgent[b.recipient][msg.sender]) {
            revert NotRecipientOrAgent(messageId, msg.sender);
        }
        if (block.timestamp > b.deadline) revert WindowClosed(messageId, b.deadline);
        b.status = Status.Replied;
        uint256 amount = b.amount;
        totalOpen -= amount;
        uint256 fee = (amount * feeBps) / 10_000;
        uint256 refund = amount - fee;
        emit Replied(messageId, msg.sender, refund, fee);
        if (fee > 0) token.safeTransfer(treasury, fee);
        token.safeTransfer(b.sender, refund);
    }

    function forfeit(bytes32 messageId) external nonReentrant {
        Bond storage b = _open(messageId);
        if (block.timestamp <= b.deadline) revert WindowOpen(messageId, b.deadline);
        b.status = Status.Forfeited;
        uint256 amount = b.amount;
        totalOpen -= amount;
        emit Forfeited(messageId, msg.sender, amount);
        token.safeTransfer(b.recipient, amount);
    }

    function _open(bytes32 messageId) private view returns (Bond storage b) {
        b = _bonds[messageId];
        if (b.status == Status.None) revert UnknownMessage(messageId);
        if (b.status != Status.Open) revert NotOpen(messageId, b.status);
    }

    // ---- the recipient's settings ----

    function setPrice(uint256 price) external {
        priceOf[msg.sender] = price;
        emit PriceSet(msg.sender, price);
    }

    /// Applies to bonds deposited from now on; open bonds keep their deadline.
    function setResponseWindow(uint64 window) external {
        if (window < MIN_WINDOW || window > MAX_WINDOW) revert WindowOutOfRange(window, MIN_WINDOW, MAX_WINDOW);
        _window[msg.sender] = window;
        emit WindowSet(msg.sender, window);
    }

    function setWhitelisted(address sender, bool allowed) external {
        isWhitelisted[msg.sender][sender] = allowed;
        emit WhitelistSet(msg.sender, sender, allowed);
    }

    function setAgent(address agent, bool allowed) external {
        isAgent[msg.sender][agent] = allowed;
        emit AgentSet(msg.sender, agent, allowed);
    }

    // ---- the owner's settings ----

    function setFee(uint16 feeBps_) external onlyOwner {
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        feeBps = feeBps_;
        emit FeeSet(feeBps_);
    }

    function setMinimumBond(uint256 minimum) external onlyOwner {
        minimumBond = minimum;
        emit MinimumSet(minimum);
    }

    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert ZeroTreasury();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    // ---- reads ----

    function windowOf(address recipient) public view returns (uint64) {
        uint64 w = _window[recipient];
        return w == 0 ? DEFAULT_WINDOW : w;
    }

    function bondOf(bytes32 messageId) external view returns (Bond memory) {
        return _bonds[messageId];
    }

    /// Many bonds in one call, so an agent verifies a mailbox's worth of messages in one read.
    function bondsOf(bytes32[] calldata messageIds) external view returns (Bond[] memory out) {
        out = new Bond[](messageIds.length);
        for (uint256 i = 0; i < messageIds.length; i++) {
            out[i] = _bonds[messageIds[i]];
        }
    }
}
