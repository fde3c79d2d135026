//! ERC-8004 validation (`contracts/AgentValidationRegistry.sol`): an agent's owner asks a
//! validator to check some work (`validationRequest`, keyed by a request hash), the validator
//! answers 0..100 with a URI and a hash (`validationResponse`). Steward's private-information
//! judge is the validator: its verdict as the response, its commitment as the response hash.
//! Transactions are simulated first, like the other registries' (`contract.rs`).

use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::{SolCall, SolEvent, SolInterface};
use serde::Serialize;

use crate::contract::{Contract, bad_answer};
use crate::erc8004::{Mined, RegistryError, RegistryResult};
use crate::keystore::Key;
use crate::rpc::Rpc;

#[allow(missing_docs, unreachable_pub, missing_debug_implementations)]
mod abi {
    alloy::sol! {
        interface IAgentValidation {
            function validationRequest(address validatorAddress, uint256 agentId, string requestURI, bytes32 requestHash) external;
            function validationResponse(bytes32 requestHash, uint8 response, string responseURI, bytes32 responseHash, string tag) external;
            function getValidationStatus(bytes32 requestHash) external view returns (
                address validatorAddress, uint256 agentId, uint8 response, bytes32 responseHash,
                string tag, uint256 lastUpdate
            );
            event ValidationResponse(
                address indexed validatorAddress, uint256 indexed agentId, bytes32 indexed requestHash,
                uint8 response, string responseURI, bytes32 responseHash, string tag
            );
        }

        #[sol(all_derives)]
        interface ValidationErrors {
            error UnknownAgent(uint256 agentId);
            error NotAgentOperator(uint256 agentId, address caller);
            error ZeroValidator();
            error RequestExists(bytes32 requestHash);
            error NoSuchRequest(bytes32 requestHash);
            error NotValidator(bytes32 requestHash, address caller);
            error ResponseOutOfRange(uint8 response);
        }
    }
}

use abi::{IAgentValidation, ValidationErrors};

/// The highest response the registry accepts.
pub const MAX_VALIDATION_RESPONSE: u8 = 100;

/// A request's state as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationStatus {
    pub request_hash: B256,
    pub validator: Address,
    pub agent_id: U256,
    pub response: u8,
    pub response_hash: B256,
    pub tag: String,
    /// Unix seconds of the last response; 0 while unanswered.
    pub last_update: u64,
}

/// A mined response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationPosted {
    pub request_hash: B256,
    pub response: u8,
    pub response_hash: B256,
    #[serde(flatten)]
    pub mined: Mined,
}

/// A client of one validation registry.
#[derive(Debug, Clone)]
pub struct ValidationRegistry {
    rpc: Rpc,
    address: Address,
}

impl ValidationRegistry {
    pub fn new(rpc: Rpc, address: Address) -> Self {
        Self { rpc, address }
    }

    pub fn address(&self) -> Address {
        self.address
    }

    fn contract(&self) -> Contract<'_> {
        Contract {
            rpc: &self.rpc,
            address: self.address,
            label: "validation",
            describe: describe_validation_revert,
            receipt_timeout: Duration::from_secs(120),
        }
    }

    /// The request's state, or `None` when nobody asked for it.
    pub async fn status(&self, request_hash: B256) -> RegistryResult<Option<ValidationStatus>> {
        let call = IAgentValidation::getValidationStatusCall {
            requestHash: request_hash,
        };
        match self.contract().view(&call, "getValidationStatus").await {
            Ok(r) => Ok(Some(ValidationStatus {
                request_hash,
                validator: r.validatorAddress,
                agent_id: r.agentId,
                response: r.response,
                response_hash: r.responseHash,
                tag: r.tag,
                last_update: u64::try_from(r.lastUpdate).map_err(|_| {
                    bad_answer(&self.rpc, "getValidationStatus", "lastUpdate out of range")
                })?,
            })),
            Err(RegistryError::Refused { reason, .. }) if reason.starts_with("NoSuchRequest") => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Asks `validator` to validate agent `agent_id`'s work named by `request_hash` (the key
    /// must own or operate the agent).
    pub async fn request(
        &self,
        key: &Key,
        validator: Address,
        agent_id: U256,
        uri: &str,
        request_hash: B256,
    ) -> RegistryResult<Mined> {
        let call = IAgentValidation::validationRequestCall {
            validatorAddress: validator,
            agentId: agent_id,
            requestURI: uri.to_owned(),
            requestHash: request_hash,
        };
        let r = self
            .contract()
            .send(key, call.abi_encode(), "validationRequest")
            .await?;
        Ok(mined(&r))
    }

    /// Answers a request as its validator.
    pub async fn respond(
        &self,
        key: &Key,
        request_hash: B256,
        response: u8,
        uri: &str,
        response_hash: B256,
        tag: &str,
    ) -> RegistryResult<ValidationPosted> {
        if response > MAX_VALIDATION_RESPONSE {
            return Err(RegistryError::BadInput {
                what: "validation response".into(),
                detail: format!("{response} is above {MAX_VALIDATION_RESPONSE}"),
            });
        }
        let call = IAgentValidation::validationResponseCall {
            requestHash: request_hash,
            response,
            responseURI: uri.to_owned(),
            responseHash: response_hash,
            tag: tag.to_owned(),
        };
        let r = self
            .contract()
            .send(key, call.abi_encode(), "validationResponse")
            .await?;
        let ev = r
            .logs()
            .iter()
            .filter(|l| l.address() == self.address)
            .find_map(|l| IAgentValidation::ValidationResponse::decode_log_data(l.data()).ok())
            .ok_or_else(|| {
                bad_answer(
                    &self.rpc,
                    "validationResponse",
                    "no ValidationResponse event in the receipt",
                )
            })?;
        Ok(ValidationPosted {
            request_hash: ev.requestHash,
            response: ev.response,
            response_hash: ev.responseHash,
            mined: mined(&r),
        })
    }
}

fn mined(r: &alloy::rpc::types::TransactionReceipt) -> Mined {
    Mined {
        tx: r.transaction_hash,
        block: r.block_number.unwrap_or_default(),
        gas_used: r.gas_used,
    }
}

/// The validation registry's revert in words.
pub fn describe_validation_revert(data: &[u8]) -> String {
    use ValidationErrors::ValidationErrorsErrors as E;
    match E::abi_decode(data) {
        Ok(E::UnknownAgent(e)) => format!("UnknownAgent: no agent {}", e.agentId),
        Ok(E::NotAgentOperator(e)) => format!(
            "NotAgentOperator: {} is neither the owner nor an operator of agent {}",
            e.caller, e.agentId
        ),
        Ok(E::ZeroValidator(_)) => {
            "ZeroValidator: the validator must not be the zero address".into()
        }
        Ok(E::RequestExists(e)) => {
            format!("RequestExists: request {} was already made", e.requestHash)
        }
        Ok(E::NoSuchRequest(e)) => format!("NoSuchRequest: nobody asked for {}", e.requestHash),
        Ok(E::NotValidator(e)) => format!(
            "NotValidator: {} is not the validator request {} names",
            e.caller, e.requestHash
        ),
        Ok(E::ResponseOutOfRange(e)) => {
            format!("ResponseOutOfRange: {} (0..=100)", e.response)
        }
        Err(_) => crate::erc8004::describe_registry_revert(data),
    }
}
