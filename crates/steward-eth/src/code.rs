//! What a contract's code can do, read statically: SELFDESTRUCT, DELEGATECALL and CREATE2
//! opcodes (walking the bytecode and skipping PUSH data and the Solidity metadata), and where
//! the contract came from (`ots_getContractCreator`, which anvil and Erigon answer): a factory,
//! and whether the factory chain can CREATE2 (metamorphic risk: destroy and redeploy different
//! code at the same address).

use alloy::primitives::{Address, B256, keccak256};
use alloy::providers::Provider;
use serde::Serialize;

use crate::error::Result;
use crate::rpc::Rpc;

const SELFDESTRUCT: u8 = 0xff;
const DELEGATECALL: u8 = 0xf4;
const CREATE: u8 = 0xf0;
const CREATE2: u8 = 0xf5;

/// Opcodes found in a bytecode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Opcodes {
    pub selfdestruct: bool,
    pub delegatecall: bool,
    pub create: bool,
    pub create2: bool,
}

/// Walks `code` opcode by opcode, skipping PUSH1..PUSH32 immediates and the trailing CBOR
/// metadata Solidity appends, so data bytes that look like opcodes are not counted.
pub fn scan_opcodes(code: &[u8]) -> Opcodes {
    let code = strip_metadata(code);
    let mut o = Opcodes::default();
    let mut i = 0usize;
    while i < code.len() {
        let op = code[i];
        match op {
            SELFDESTRUCT => o.selfdestruct = true,
            DELEGATECALL => o.delegatecall = true,
            CREATE => o.create = true,
            CREATE2 => o.create2 = true,
            _ => {}
        }
        i += 1;
        if (0x60..=0x7f).contains(&op) {
            i += usize::from(op - 0x5f);
        }
    }
    o
}

/// Solidity ends runtime code with CBOR metadata and its 2-byte big-endian length.
pub(crate) fn strip_metadata(code: &[u8]) -> &[u8] {
    if code.len() < 2 {
        return code;
    }
    let n = usize::from(u16::from_be_bytes([
        code[code.len() - 2],
        code[code.len() - 1],
    ]));
    let start = code.len().saturating_sub(n + 2);
    if n > 0 && n + 2 <= code.len() && matches!(code.get(start), Some(0xa1..=0xa5)) {
        &code[..start]
    } else {
        code
    }
}

/// Who deployed a contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// The direct creator: the sender of a deployment, or the factory contract.
    pub creator: Address,
    pub tx: B256,
    /// The creator is a contract (a factory), not an account.
    pub factory: bool,
    /// A contract in the creation chain can CREATE2.
    pub create2_chain: bool,
    /// A contract in the creation chain can SELFDESTRUCT (it can be destroyed and recreated).
    pub destructible_chain: bool,
    /// The factory chain, nearest first.
    pub chain: Vec<Address>,
}

/// What is known of the code at an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeFacts {
    pub address: Address,
    pub size: usize,
    /// keccak256 of the runtime code (of nothing when there is no code).
    pub code_hash: B256,
    pub opcodes: Opcodes,
    /// `None` when the node does not say (no `ots_getContractCreator`) or there is no code.
    pub origin: Option<Origin>,
}

impl CodeFacts {
    pub fn has_code(&self) -> bool {
        self.size > 0
    }
}

impl Rpc {
    /// Reads the code at `address`, scans it, and asks the node who created it.
    pub async fn code_facts(&self, address: Address) -> Result<CodeFacts> {
        let code = self.code_at(address).await?;
        let mut facts = CodeFacts {
            address,
            size: code.len(),
            code_hash: keccak256(&code),
            opcodes: scan_opcodes(&code),
            origin: None,
        };
        if code.is_empty() {
            return Ok(facts);
        }
        let Some((creator, tx)) = self.creator(address).await? else {
            return Ok(facts);
        };
        let mut origin = Origin {
            creator,
            tx,
            factory: false,
            create2_chain: false,
            destructible_chain: false,
            chain: vec![],
        };
        let mut cur = creator;
        for _ in 0..4 {
            let code = self.code_at(cur).await?;
            if code.is_empty() {
                break;
            }
            let ops = scan_opcodes(&code);
            origin.factory = true;
            origin.chain.push(cur);
            origin.create2_chain |= ops.create2;
            origin.destructible_chain |= ops.selfdestruct;
            match self.creator(cur).await? {
                Some((next, _)) => cur = next,
                None => break,
            }
        }
        facts.origin = Some(origin);
        Ok(facts)
    }

    /// `ots_getContractCreator`: `None` when the node does not support it or knows no creator.
    async fn creator(&self, address: Address) -> Result<Option<(Address, B256)>> {
        #[derive(Debug, serde::Deserialize)]
        struct C {
            hash: B256,
            creator: Address,
        }
        let ctx = format!("ots_getContractCreator({address})");
        let r = self
            .timed(&ctx, async {
                self.provider()
                    .raw_request::<_, Option<C>>("ots_getContractCreator".into(), (address,))
                    .await
            })
            .await?;
        Ok(match r {
            Ok(Some(c)) => Some((c.creator, c.hash)),
            Ok(None) => None,
            Err(e) => {
                tracing::debug!(host = %self.host(), error = %self.scrub(&e.to_string()), "no contract creator lookup");
                None
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_data_and_metadata_are_not_opcodes() {
        // PUSH1 0xff, PUSH2 0xf4f5, STOP: no real SELFDESTRUCT/DELEGATECALL/CREATE2.
        assert_eq!(
            scan_opcodes(&[0x60, 0xff, 0x61, 0xf4, 0xf5, 0x00]),
            Opcodes::default()
        );
        // CALLER SELFDESTRUCT.
        assert!(scan_opcodes(&[0x33, 0xff]).selfdestruct);
        // Code, then CBOR metadata `a1 ff ff` of length 3: the 0xff in it is data.
        let with_meta = [0x00, 0xa1, 0xff, 0xff, 0x00, 0x03];
        assert!(!scan_opcodes(&with_meta).selfdestruct);
        // A truncated PUSH at the end is fine.
        assert!(!scan_opcodes(&[0x7f, 0x01]).selfdestruct);
        assert!(scan_opcodes(&[0xf5]).create2 && scan_opcodes(&[0xf4]).delegatecall);
    }
}
