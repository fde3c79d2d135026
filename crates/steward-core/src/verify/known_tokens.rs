//! A built-in table of common Ethereum mainnet tokens, so amounts read as "1,000 USDC" without
//! an RPC, and a token whose `decimals()` reverts or lies at a well-known address is still
//! read right. Anything else shows as "N base units of token 0x… (decimals unknown)".

use std::str::FromStr;

use alloy_primitives::Address;

use super::effects::{TokenInfo, Tokens};

/// (address, symbol, decimals) on Ethereum mainnet.
const TABLE: &[(&str, &str, u8)] = &[
    ("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2", "WETH", 18),
    ("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", "USDC", 6),
    ("0xdac17f958d2ee523a2206206994597c13d831ec7", "USDT", 6),
    ("0x6b175474e89094c44da98b954eedeac495271d0f", "DAI", 18),
    ("0x2260fac5e5542a773aa44fbcfedf7c193bc2c599", "WBTC", 8),
    ("0xc00e94cb662c3520282e6f5717214004a7f26888", "COMP", 18),
    ("0x1f9840a85d5af5bf1d1762f925bdaddc4201f984", "UNI", 18),
    ("0x7fc66500c84a76ad7e9c93437bfc5ac33e2ddae9", "AAVE", 18),
    ("0x514910771af9ca656af840dff83e8264ecf986ca", "LINK", 18),
    ("0x9f8f72aa9304c8b593d555f12ef6589cc3a579a2", "MKR", 18),
    ("0x5a98fcbea516cf06857215779fd812ca3bef1b32", "LDO", 18),
    ("0xae7ab96520de3a18e5e111b5eaab095312d7fe84", "stETH", 18),
    ("0x7f39c581f595b53c5cb19bd0b3f8da6c935e2ca0", "wstETH", 18),
    ("0xae78736cd615f374d3085123a210448e74fc6393", "rETH", 18),
    ("0xc18360217d8f7ab5e7c516566761ea12ce7f9d72", "ENS", 18),
    ("0x77777feddddffc19ff86db637967013e6c6a116c", "TORN", 18),
    ("0xd533a949740bb3306d119cc777fa900ba034cd52", "CRV", 18),
    ("0xba100000625a3754423978a60c9317c58a424e3d", "BAL", 18),
    ("0x111111111117dc0aa78b770fa6a738034120c302", "1INCH", 18),
    ("0x6b3595068778dd592e39a122f4f5a5cf09c90fe2", "SUSHI", 18),
    ("0x40d16fc0246ad3160ccc09b8d0d3a2cd28ae6c2f", "GHO", 18),
    ("0x5f98805a4e8be255a32880fdec7f6728c6568ba0", "LUSD", 18),
    ("0x853d955acef822db058eb8505911ed77f175b99e", "FRAX", 18),
    ("0xb50721bcf8d664c30412cfbc6cf7a15145234ad1", "ARB", 18),
];

/// The built-in entry for `token`, if it is a common mainnet token.
pub fn known_token(token: Address) -> Option<TokenInfo> {
    TABLE.iter().find_map(|(a, symbol, decimals)| {
        (Address::from_str(a).ok()? == token).then(|| TokenInfo {
            symbol: (*symbol).to_owned(),
            decimals: *decimals,
        })
    })
}

/// Fills `tokens` for every address in `used` from the built-in table. The table wins over what
/// the chain said: at these addresses a different symbol or decimals is a lie (a fork's
/// impostor, a token whose `decimals()` misbehaves), never an update.
pub fn with_known_tokens(tokens: &mut Tokens, used: impl IntoIterator<Item = Address>) {
    for t in used {
        if let Some(info) = known_token(t) {
            tokens.insert(t, info);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_parses_and_is_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for (a, s, _) in TABLE {
            let addr = Address::from_str(a).expect("an address");
            assert!(seen.insert(addr), "{s} twice");
            assert_eq!(known_token(addr).map(|i| i.symbol), Some((*s).to_owned()));
        }
        assert!(known_token(Address::repeat_byte(1)).is_none());
    }
}
