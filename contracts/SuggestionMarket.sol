// SPDX-License-Identifier: MIT
// Suggestion markets, written for Steward: anyone submits an input; the sponsor funds a binary
// LMSR market on "the sponsor accepts it" with exactly ceil(b·ln 2) tokens, the LMSR maker's
// worst-case loss; traders buy and sell "accepted" / "rejected" shares; after the end the sponsor
// settles, and each winning share pays one token unit (with a 6-decimal token, 1e6 shares pay $1).
//
// The LMSR cost is computed off chain (steward-core's `mech::lmsr`, in integer token units,
// rounded against the trader) and signed by the sponsor as an EIP-712 quote bound to the market
// state it was priced at, the trader, a nonce and a short deadline. The contract does not trust
// the arithmetic: after every trade the input's pool must still cover the larger side's payout,
// so no quote, honest or not, can make the market insolvent. No upgrade path.
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

contract SuggestionMarket is EIP712 {
    using SafeERC20 for IERC20;

    enum Status {
        Submitted,
        Open,
        Accepted,
        Rejected
    }

    struct Input {
        address submitter;
        Status status;
        bytes32 contentHash;
        uint256 qYes;
        uint256 qNo;
        // Tokens held for this input: the sponsor's funding plus what traders paid in, less
        // what sells paid out.
        uint256 pool;
    }

    event Submitted(uint256 indexed inputId, address indexed submitter, bytes32 contentHash, string uri);
    event Funded(uint256 indexed inputId, uint256 amount);
    event Traded(
        uint256 indexed inputId, address indexed trader, int256 deltaYes, int256 deltaNo, int256 cost, uint256 qYes, uint256 qNo
    );
    event Settled(uint256 indexed inputId, bool accepted, uint256 surplus);
    event Redeemed(uint256 indexed inputId, address indexed holder, uint256 amount);

    error NotSponsor(address caller);
    error UnknownInput(uint256 inputId);
    error WrongStatus(uint256 inputId, Status status);
    error MarketEnded(uint256 endTime, uint256 nowTs);
    error SettleBeforeEnd(uint256 endTime, uint256 nowTs);
    error QuoteExpired(uint256 deadline, uint256 nowTs);
    error BadQuoteSignature();
    error NotEnoughShares(uint256 inputId, address trader);
    error Insolvent(uint256 inputId, uint256 pool, uint256 liability);
    error NothingToRedeem(uint256 inputId, address holder);
    error BadMarket(string why);

    bytes32 public constant QUOTE_TYPEHASH = keccak256(
        "Quote(uint256 inputId,address trader,int256 deltaYes,int256 deltaNo,uint256 qYes,uint256 qNo,int256 cost,uint256 nonce,uint256 deadline)"
    );
    /// ln 2 with 18 decimals, rounded up (the funding must cover b·ln 2).
    uint256 public constant LN2_WAD = 693147180559945310;

    IERC20 public immutable token;
    address public immutable sponsor;
    /// LMSR liquidity, in token units.
    uint256 public immutable b;
    uint256 public immutable endTime;

    Input[] private _inputs;
    // inputId => holder => [rejected shares, accepted shares]
    mapping(uint256 => mapping(address => uint256[2])) private _shares;
    mapping(address => uint256) public nonces;

    constructor(IERC20 token_, address sponsor_, uint256 b_, uint256 endTime_) EIP712("StewardSuggestionMarket", "1") {
        if (b_ == 0) revert BadMarket("liquidity b is zero");
        if (endTime_ <= block.timestamp) revert BadMarket("end time is not in the future");
        token = token_;
        sponsor = sponsor_;
        b = b_;
        endTime = endTime_;
    }

    /// The sponsor's funding per input: ceil(b·ln 2), the LMSR maker's worst-case loss.
    function fundingPerInput() public view returns (uint256) {
        return Math.mulDiv(b, LN2_WAD, 1e18, Math.Rounding.Ceil);
    }

    function inputCount() external view returns (uint256) {
        return _inputs.length;
    }

    function input(uint256 inputId) external view returns (Input memory) {
        return _input(inputId);
    }

    function sharesOf(uint256 inputId, address holder) external view returns (uint256 rejected, uint256 accepted) {
        uint256[2] storage s = _shares[inputId][holder];
        return (s[0], s[1]);
    }

    function _input(uint256 inputId) private view returns (Input storage) {
        if (inputId >= _inputs.length) revert UnknownInput(inputId);
        return _inputs[inputId];
    }

    function submit(bytes32 contentHash, string calldata uri) external returns (uint256 inputId) {
        if (block.timestamp >= endTime) revert MarketEnded(endTime, block.timestamp);
        inputId = _inputs.length;
        _inputs.push(Input(msg.sender, Status.Submitted, contentHash, 0, 0, 0));
        emit Submitted(inputId, msg.sender, contentHash, uri);
    }

    /// Opens trading on an input, the sponsor paying its bounded loss in.
    function fund(uint256 inputId) external {
        if (msg.sender != sponsor) revert NotSponsor(msg.sender);
        if (block.timestamp >= endTime) revert MarketEnded(endTime, block.timestamp);
        Input storage inp = _input(inputId);
        if (inp.status != Status.Submitted) revert WrongStatus(inputId, inp.status);
        uint256 amount = fundingPerInput();
        inp.status = Status.Open;
        inp.pool = amount;
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit Funded(inputId, amount);
    }

    function quoteDigest(
        uint256 inputId,
        address trader,
        int256 deltaYes,
        int256 deltaNo,
        uint256 qYes,
        uint256 qNo,
        int256 cost,
        uint256 nonce,
        uint256 deadline
    ) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(QUOTE_TYPEHASH, inputId, trader, deltaYes, deltaNo, qYes, qNo, cost, nonce, deadline))
        );
    }

    /// Buys (positive deltas) or sells (negative) shares at a sponsor-signed LMSR quote: `cost`
    /// tokens are paid in (or, negative, paid out).
    function trade(
        uint256 inputId,
        int256 deltaYes,
        int256 deltaNo,
        int256 cost,
        uint256 deadline,
        bytes calldata signature
    ) external {
        if (block.timestamp >= endTime) revert MarketEnded(endTime, block.timestamp);
        if (block.timestamp > deadline) revert QuoteExpired(deadline, block.timestamp);
        Input storage inp = _input(inputId);
        if (inp.status != Status.Open) revert WrongStatus(inputId, inp.status);
        bytes32 digest = quoteDigest(
            inputId, msg.sender, deltaYes, deltaNo, inp.qYes, inp.qNo, cost, nonces[msg.sender], deadline
        );
        if (!SignatureChecker.isValidSignatureNow(sponsor, digest, signature)) revert BadQuoteSignature();
        nonces[msg.sender]++;
        uint256[2] storage mine = _shares[inputId][msg.sender];
        (inp.qNo, mine[0]) = _apply(inputId, inp.qNo, mine[0], deltaNo);
        (inp.qYes, mine[1]) = _apply(inputId, inp.qYes, mine[1], deltaYes);
        if (cost >= 0) {
            inp.pool += uint256(cost);
        } else {
            inp.pool -= uint256(-cost); // underflow reverts: never pays out more than held
        }
        uint256 liability = Math.max(inp.qYes, inp.qNo);
        if (inp.pool < liability) revert Insolvent(inputId, inp.pool, liability);
        if (cost > 0) {
            token.safeTransferFrom(msg.sender, address(this), uint256(cost));
        } else if (cost < 0) {
            token.safeTransfer(msg.sender, uint256(-cost));
        }
        emit Traded(inputId, msg.sender, deltaYes, deltaNo, cost, inp.qYes, inp.qNo);
    }

    function _apply(uint256 inputId, uint256 q, uint256 held, int256 delta) private view returns (uint256, uint256) {
        if (delta >= 0) return (q + uint256(delta), held + uint256(delta));
        uint256 sold = uint256(-delta);
        if (held < sold) revert NotEnoughShares(inputId, msg.sender);
        return (q - sold, held - sold);
    }

    /// The sponsor's verdict, after the end: the winning side's shares become redeemable and
    /// the rest of the pool goes back to the sponsor.
    function settle(uint256 inputId, bool accepted) external {
        if (msg.sender != sponsor) revert NotSponsor(msg.sender);
        if (block.timestamp < endTime) revert SettleBeforeEnd(endTime, block.timestamp);
        Input storage inp = _input(inputId);
        if (inp.status != Status.Open) revert WrongStatus(inputId, inp.status);
        inp.status = accepted ? Status.Accepted : Status.Rejected;
        uint256 owed = accepted ? inp.qYes : inp.qNo;
        uint256 surplus = inp.pool - owed;
        inp.pool = owed;
        if (surplus > 0) token.safeTransfer(sponsor, surplus);
        emit Settled(inputId, accepted, surplus);
    }

    function redeem(uint256 inputId) external returns (uint256 amount) {
        Input storage inp = _input(inputId);
        if (inp.status != Status.Accepted && inp.status != Status.Rejected) revert WrongStatus(inputId, inp.status);
        uint256[2] storage mine = _shares[inputId][msg.sender];
        uint256 side = inp.status == Status.Accepted ? 1 : 0;
        amount = mine[side];
        if (amount == 0) revert NothingToRedeem(inputId, msg.sender);
        mine[side] = 0;
        inp.pool -= amount;
        token.safeTransfer(msg.sender, amount);
        emit Redeemed(inputId, msg.sender, amount);
    }
}
