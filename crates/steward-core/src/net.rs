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
    #[error("network.allow entry {entry:?} names no host")]
    Empty { entry: String },
    #[error("network.allow entry {entry:?}: prefix length {prefix} is too long for the address")]
    Prefix { entry: String, prefix: String },
    #[error("network.allow entry {entry:?}: port {port:?} is not a number from 1 to 65535")]
    Port { entry: String, port: String },
    #[error(
        "network.allow entry {entry:?} is not a host name, `*.domain`, IP, CIDR or `loopback` (each optionally followed by `:PORT`)"
    )]
    Invalid { entry: String },
}

/// A destination the allowlist refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "network access to {} refused by the network policy (network.allow = [{}]): add {:?} to `network.allow` in config.toml (or STEWARD_NETWORK_ALLOW) to allow it",
    at(host, *port), allowed, at(host, *port)
)]
pub struct Refused {
    /// The host as it appeared in the URL.
    pub host: String,
    /// The port connected to, where the caller knows it.
    pub port: Option<u16>,
    /// The allowlist that refused, as written back (`loopback:8545, hub.snapshot.org`).
    pub allowed: String,
}

fn at(host: &str, port: Option<u16>) -> String {
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// The parsed `network.allow` list. The default allows loopback only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowlist {
    rules: Vec<(Rule, Option<u16>)>,
}

impl Default for Allowlist {
    fn default() -> Self {
        Self {
            rules: vec![(Rule::Loopback, None)],
        }
    }
}

/// Splits a trailing `:PORT` off an entry (`loopback:8545`, `[::1]:8545`, `host:443`); a bare
/// IPv6 address (`::1`, `fd00::/8`) has colons but no port.
fn split_port(entry: &str) -> Result<(&str, Option<u16>), AllowlistError> {
    let e = entry.trim();
    let Some((head, port)) = e.rsplit_once(':') else {
        return Ok((e, None));
    };
    let bracketed = head.starts_with('[') && head.ends_with(']');
    if head.contains(':') && !bracketed {
        return Ok((e, None));
    }
    // `http://x` or `host:x` is no port: leave it whole for the rule parser to refuse by name.
    if !port.is_empty() && !port.bytes().all(|b| b.is_ascii_digit()) {
        return Ok((e, None));
    }
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| AllowlistError::Port {
            entry: entry.into(),
            port: port.into(),
        })?;
    Ok((head, Some(port)))
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
    /// Parses every entry; the first bad one is the error. An entry may end in `:PORT`
    /// (`loopback:8545`, `127.0.0.1:8545`, `[::1]:8545`, `hub.snapshot.org:443`) to allow that
    /// port only; without one, every port of the host is allowed.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, AllowlistError> {
        let rules = entries
            .iter()
            .map(|e| {
                let e = e.as_ref();
                let (head, port) = split_port(e)?;
                let rule = Rule::parse(head).map_err(|err| match err {
                    // Name the entry as the user wrote it, port included.
                    AllowlistError::Empty { .. } => AllowlistError::Empty { entry: e.into() },
                    AllowlistError::Prefix { prefix, .. } => AllowlistError::Prefix {
                        entry: e.into(),
                        prefix,
                    },
                    _ => AllowlistError::Invalid { entry: e.into() },
                })?;
                Ok((rule, port))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    /// The rules, in the order they were given, each with its port if it names one.
    pub fn rules(&self) -> &[(Rule, Option<u16>)] {
        &self.rules
    }

    /// Whether `host` (a URL host: a name, an IPv4 address or a bracketed IPv6 address) is
    /// allowed on every port. Rules limited to a port do not count: prefer [`Allowlist::check_at`].
    pub fn check(&self, host: &str) -> Result<(), Refused> {
        self.check_port(host, None)
    }

    /// Whether `host` is allowed on `port`.
    pub fn check_at(&self, host: &str, port: u16) -> Result<(), Refused> {
        self.check_port(host, Some(port))
    }

    fn check_port(&self, host: &str, port: Option<u16>) -> Result<(), Refused> {
        let bare = strip_brackets(host).trim_end_matches('.');
        let lower = bare.to_ascii_lowercase();
        let ip = lower.parse::<IpAddr>().ok().map(canonical_ip);
        let port_ok = |p: &Option<u16>| p.is_none() || *p == port;
        if self
            .rules
            .iter()
            .any(|(r, p)| port_ok(p) && r.matches(&lower, ip))
        {
            Ok(())
        } else {
            Err(Refused {
                host: host.into(),
                port,
                allowed: self.to_string(),
            })
        }
    }
}

impl fmt::Display for Allowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (rule, port)) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match (rule, port) {
                (Rule::Net { addr, prefix }, Some(p)) if addr.is_ipv6() && *prefix == 128 => {
                    write!(f, "[{addr}]:{p}")?;
                }
                (rule, Some(p)) => write!(f, "{rule}:{p}")?,
                (rule, None) => write!(f, "{rule}")?,
            }
        }
        Ok(())
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
    fn ports_limit_rules() {
        let cases: &[(&[&str], &str, u16, bool)] = &[
            (&["loopback:8545"], "127.0.0.1", 8545, true),
            (&["loopback:8545"], "127.0.0.1", 8546, false),
            (&["loopback:8545"], "[::1]", 8545, true),
            (&["127.0.0.1:8545"], "127.0.0.1", 8545, true),
            (&["127.0.0.1:8545"], "127.0.0.1", 22, false),
            (&["[::1]:8545"], "[::1]", 8545, true),
            (&["[::1]:8545"], "[::1]", 8546, false),
            (&["::1"], "[::1]", 8546, true),
            (&["hub.snapshot.org:443"], "hub.snapshot.org", 443, true),
            (&["hub.snapshot.org:443"], "hub.snapshot.org", 80, false),
            (&["*.infura.io:443"], "mainnet.infura.io", 8545, false),
            (&["10.0.0.0/8:443"], "10.1.1.1", 443, true),
            (&["loopback"], "127.0.0.1", 1, true),
            (&["loopback:1", "loopback:2"], "127.0.0.1", 2, true),
        ];
        for (entries, host, port, allowed) in cases {
            assert_eq!(
                list(entries).check_at(host, *port).is_ok(),
                *allowed,
                "{entries:?} vs {host}:{port}"
            );
        }
        // A host-only check cannot be satisfied by a rule limited to a port.
        assert!(list(&["loopback:8545"]).check("127.0.0.1").is_err());
    }

    #[test]
    fn port_refusal_names_port_and_list() {
        let err = list(&["loopback:8545", "hub.snapshot.org"])
            .check_at("127.0.0.1", 9)
            .expect_err("refused");
        let msg = err.to_string();
        assert!(msg.contains("127.0.0.1:9"), "{msg}");
        assert!(msg.contains("[loopback:8545, hub.snapshot.org]"), "{msg}");
        for bad in ["loopback:0", "loopback:65536", "host:x", "[::1]:"] {
            let err = Allowlist::parse(&[bad]).expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        let round = list(&["[::1]:8545", "loopback:1", "10.0.0.0/8:443", "::1"]);
        assert_eq!(
            Allowlist::parse(&round.to_string().split(", ").collect::<Vec<_>>()).expect("reparses"),
            round
        );
    }

    #[test]
    fn bad_port_entries_name_the_entry() {
        let cases: &[(&str, &str)] = &[
            (
                "loopback:99999",
                "port \"99999\" is not a number from 1 to 65535",
            ),
            ("loopback:0", "port \"0\""),
            ("host:", "port \"\" is not a number"),
            ("[::1]:", "port \"\""),
            ("hub.snapshot.org:https", "is not a host name"),
            ("http://hub.snapshot.org", "is not a host name"),
            (":443", "names no host"),
        ];
        for (bad, why) in cases {
            // The first bad entry is the error, whatever comes around it.
            let err = Allowlist::parse(&["loopback", bad, "also bad:"]).expect_err(bad);
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!("network.allow entry {bad:?}")) && msg.contains(why),
                "{bad}: {msg}"
            );
        }
        // Without a port, an entry allows every port (as before ports existed).
        assert!(list(&["loopback"]).check_at("127.0.0.1", 65535).is_ok());
        assert!(
            list(&["hub.snapshot.org"])
                .check_at("hub.snapshot.org", 8443)
                .is_ok()
        );
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
