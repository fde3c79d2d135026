//! The network allowlist: which hosts Steward may talk to.
//!
//! The policy is pure: it answers "may I connect to this host?" from a list of rules. The agent's
//! network factory asks it before every outbound connection and at every redirect hop.

use std::fmt;
use std::net::IpAddr;

/// One allowlist entry, as written in `network.allow`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `loopback`: 127.0.0.0/8, ::1 and the name `localhost`.
    Loopback,
    /// An exact host name, compared case-insensitively (`hub.snapshot.org`).
    Host(String),
    /// `*.example.org`: any strict subdomain of the suffix.
    Subdomains(String),
    /// An IP network in CIDR form (`10.0.0.0/8`); a bare IP is a /32 or /128.
    Net { addr: IpAddr, prefix: u8 },
}

/// Why an allowlist entry could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AllowlistError {
    #[error("network.allow entry {entry:?} is empty")]
    Empty { entry: String },
    #[error("network.allow entry {entry:?}: prefix length {prefix} is too long for the address")]
    Prefix { entry: String, prefix: String },
    #[error("network.allow entry {entry:?} is not a host name, `*.domain`, IP, CIDR or `loopback`")]
    Invalid { entry: String },
}

/// A destination the allowlist refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "network access to {host} refused by the network policy: add {host:?} to `network.allow` in config.toml (or STEWARD_NETWORK_ALLOW) to allow it"
)]
pub struct Refused {
    /// The host as it appeared in the URL.
    pub host: String,
}

/// The parsed `network.allow` list. The default allows loopback only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowlist {
    rules: Vec<Rule>,
}

impl Default for Allowlist {
    fn default() -> Self {
        Self {
            rules: vec![Rule::Loopback],
        }
    }
}

impl Rule {
    /// Parses one entry of `network.allow`.
    pub fn parse(entry: &str) -> Result<Self, AllowlistError> {
        let e = entry.trim();
        if e.is_empty() {
            return Err(AllowlistError::Empty {
                entry: entry.into(),
            });
        }
        if e.eq_ignore_ascii_case("loopback") {
            return Ok(Self::Loopback);
        }
        if let Some((addr, prefix)) = e.split_once('/') {
            let addr: IpAddr = addr.parse().map_err(|_| AllowlistError::Invalid {
                entry: entry.into(),
            })?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix_len: u8 = prefix.parse().ok().filter(|p| *p <= max).ok_or_else(|| {
                AllowlistError::Prefix {
                    entry: entry.into(),
                    prefix: prefix.into(),
                }
            })?;
            return Ok(Self::Net {
                addr,
                prefix: prefix_len,
            });
        }
        if let Ok(addr) = strip_brackets(e).parse::<IpAddr>() {
            let prefix = if addr.is_ipv4() { 32 } else { 128 };
            return Ok(Self::Net { addr, prefix });
        }
        let (wild, name) = match e.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, e),
        };
        if !is_host_name(name) {
            return Err(AllowlistError::Invalid {
                entry: entry.into(),
            });
        }
        let name = name.to_ascii_lowercase();
        Ok(if wild {
            Self::Subdomains(name)
        } else {
            Self::Host(name)
        })
    }

    fn matches(&self, host: &str, ip: Option<IpAddr>) -> bool {
        match (self, ip) {
            (Self::Loopback, Some(ip)) => ip.is_loopback(),
            (Self::Loopback, None) => host == "localhost",
            (Self::Host(h), None) => host == h,
            (Self::Subdomains(s), None) => host
                .strip_suffix(s.as_str())
                .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1),
            (Self::Net { addr, prefix }, Some(ip)) => in_network(ip, *addr, *prefix),
            _ => false,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Loopback => f.write_str("loopback"),
            Self::Host(h) => f.write_str(h),
            Self::Subdomains(s) => write!(f, "*.{s}"),
            Self::Net { addr, prefix } => write!(f, "{addr}/{prefix}"),
        }
    }
}

impl Allowlist {
    /// Parses every entry; the first bad one is the error.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, AllowlistError> {
        let rules = entries
            .iter()
            .map(|e| Rule::parse(e.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    /// The rules, in the order they were given.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether `host` (a URL host: a name, an IPv4 address or a bracketed IPv6 address) is allowed.
    pub fn check(&self, host: &str) -> Result<(), Refused> {
        let bare = strip_brackets(host).trim_end_matches('.');
        let lower = bare.to_ascii_lowercase();
        let ip = lower.parse::<IpAddr>().ok().map(canonical_ip);
        if self.rules.iter().any(|r| r.matches(&lower, ip)) {
            Ok(())
        } else {
            Err(Refused { host: host.into() })
        }
    }
}

fn strip_brackets(s: &str) -> &str {
    s.strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s)
}

/// `::ffff:127.0.0.1` is 127.0.0.1: without this an IPv4-mapped address would dodge IPv4 rules.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_network(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Allowlist {
        Allowlist::parse(entries).expect("valid allowlist")
    }

    #[test]
    fn matches_table() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&["loopback"], "127.0.0.1", true),
            (&["loopback"], "127.8.9.10", true),
            (&["loopback"], "[::1]", true),
            (&["loopback"], "[::ffff:127.0.0.1]", true),
            (&["loopback"], "localhost", true),
            (&["loopback"], "LOCALHOST.", true),
            (&["loopback"], "10.0.0.1", false),
            (&["loopback"], "example.com", false),
            (&["loopback"], "localhost.example.com", false),
            (&["hub.snapshot.org"], "HUB.Snapshot.org", true),
            (&["hub.snapshot.org"], "evil-hub.snapshot.org", false),
            (&["*.infura.io"], "mainnet.infura.io", true),
            (&["*.infura.io"], "infura.io", false),
            (&["*.infura.io"], "evilinfura.io", false),
            (&["10.0.0.0/8"], "10.200.1.1", true),
            (&["10.0.0.0/8"], "11.0.0.1", false),
            (&["127.0.0.1"], "127.0.0.2", false),
            (&["0.0.0.0/0"], "8.8.8.8", true),
            (&["fd00::/8"], "[fd12::1]", true),
            (&["fd00::/8"], "[fe80::1]", false),
            (&[], "127.0.0.1", false),
        ];
        for (entries, host, allowed) in cases {
            assert_eq!(
                list(entries).check(host).is_ok(),
                *allowed,
                "{entries:?} vs {host}"
            );
        }
    }

    #[test]
    fn default_is_loopback_only() {
        let a = Allowlist::default();
        assert!(a.check("127.0.0.1").is_ok());
        let err = a.check("example.com").expect_err("refused");
        let msg = err.to_string();
        assert!(
            msg.contains("example.com") && msg.contains("network.allow"),
            "{msg}"
        );
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in [
            "",
            "10.0.0.0/33",
            "exa mple.com",
            "*.",
            "http://x",
            "1.2.3.4/x",
        ] {
            let err = Rule::parse(bad).expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn display_round_trips() {
        for e in [
            "loopback",
            "hub.snapshot.org",
            "*.infura.io",
            "10.0.0.0/8",
            "::1/128",
        ] {
            let r = Rule::parse(e).expect("parses");
            assert_eq!(Rule::parse(&r.to_string()).expect("reparses"), r);
        }
    }
}
