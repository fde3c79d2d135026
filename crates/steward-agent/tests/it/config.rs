use std::collections::HashMap;
use std::path::Path;

use steward_agent::{Config, Error, KEYS};

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    move |k| m.get(k).cloned()
}

fn flags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

#[test]
fn layers_apply_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config.toml");

    // Defaults only (no file).
    let c = Config::load(&file, env(&[]), &[]).expect("defaults");
    assert_eq!(c, Config::default());
    assert_eq!(c.network.allow, ["loopback"]);

    // The file beats defaults.
    std::fs::write(
        &file,
        "[network]\nallow = [\"hub.snapshot.org\"]\ntimeout_secs = 10\n[log]\nlevel = \"debug\"\n",
    )
    .expect("write");
    let c = Config::load(&file, env(&[]), &[]).expect("file");
    assert_eq!(c.network.allow, ["hub.snapshot.org"]);
    assert_eq!(c.network.timeout_secs, 10);
    assert_eq!(c.log.level, "debug");

    // Env beats the file, key by key.
    let e = env(&[
        ("STEWARD_NETWORK_ALLOW", "loopback, *.infura.io"),
        ("STEWARD_LOG_LEVEL", "warn"),
    ]);
    let c = Config::load(&file, &e, &[]).expect("env");
    assert_eq!(c.network.allow, ["loopback", "*.infura.io"]);
    assert_eq!(
        c.network.timeout_secs, 10,
        "keys not in env keep the file's value"
    );
    assert_eq!(c.log.level, "warn");

    // Flags beat env.
    let c = Config::load(
        &file,
        &e,
        &flags(&[("log.level", "trace"), ("models.dir", "/m")]),
    )
    .expect("flags");
    assert_eq!(c.log.level, "trace");
    assert_eq!(c.models.dir.as_deref(), Some(Path::new("/m")));
    assert_eq!(c.network.allow, ["loopback", "*.infura.io"]);
}

#[test]
fn malformed_files_name_file_line_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config.toml");
    let cases: &[(&str, usize, &str)] = &[
        (
            "[network]\ntimeout_secs = \"soon\"\n",
            2,
            "network.timeout_secs",
        ),
        (
            "[network]\nallow = [\"loopback\"]\nalow = 1\n",
            3,
            "network.alow",
        ),
        ("[log]\n\nlevel = \"loud\"\n", 3, "log.level"),
        (
            "[network]\nallow = [\"exa mple.com\"]\n",
            2,
            "network.allow",
        ),
        ("[network\nallow = 1\n", 1, "network"),
        ("[models]\ndir = 5\n", 2, "models.dir"),
    ];
    for (text, line, key) in cases {
        std::fs::write(&file, text).expect("write");
        let err = Config::load(&file, env(&[]), &[]).expect_err(text);
        match &err {
            Error::ConfigFile {
                path,
                line: l,
                key: k,
                ..
            } => {
                assert_eq!(path, &file, "{text}");
                assert_eq!(*l, Some(*line), "{text}: {err}");
                assert!(k.starts_with(key), "{text}: key {k} vs {key}");
            }
            other => panic!("{text}: expected a file error, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("config.toml") && msg.contains(&format!("line {line}")),
            "{msg}"
        );
    }
}

#[test]
fn bad_env_and_flag_values_name_their_origin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config.toml");
    let err = Config::load(
        &file,
        env(&[("STEWARD_NETWORK_TIMEOUT_SECS", "forever")]),
        &[],
    )
    .expect_err("env");
    let msg = err.to_string();
    assert!(
        msg.contains("STEWARD_NETWORK_TIMEOUT_SECS") && msg.contains("forever"),
        "{msg}"
    );

    let err = Config::load(&file, env(&[]), &flags(&[("network.nope", "1")])).expect_err("flag");
    let msg = err.to_string();
    assert!(
        msg.contains("--set") && msg.contains("network.nope"),
        "{msg}"
    );

    let err =
        Config::load(&file, env(&[]), &flags(&[("network.allow", "*.")])).expect_err("bad allow");
    assert!(err.to_string().contains("network.allow"), "{err}");
}

#[test]
fn allow_entries_with_bad_ports_name_the_entry_wherever_they_come_from() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config.toml");
    for (bad, why) in [
        (
            "loopback:99999",
            "port \"99999\" is not a number from 1 to 65535",
        ),
        ("host:", "port \"\" is not a number from 1 to 65535"),
    ] {
        std::fs::write(
            &file,
            format!("[network]\nallow = [\"loopback\", \"{bad}\"]\n"),
        )
        .expect("write");
        let err = Config::load(&file, env(&[]), &[]).expect_err(bad);
        let msg = err.to_string();
        assert!(
            msg.contains("config.toml") && msg.contains("network.allow"),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("{bad:?}")) && msg.contains(why),
            "{msg}"
        );
        std::fs::remove_file(&file).expect("rm");

        let err = Config::load(&file, env(&[("STEWARD_NETWORK_ALLOW", bad)]), &[]).expect_err(bad);
        let msg = err.to_string();
        assert!(
            msg.contains("STEWARD_NETWORK_ALLOW") && msg.contains(&format!("{bad:?}")),
            "{msg}"
        );
    }
    // A port is accepted, and an entry without one still allows every port.
    std::fs::write(
        &file,
        "[network]\nallow = [\"loopback:8545\", \"hub.snapshot.org\"]\n",
    )
    .expect("write");
    let allow = Config::load(&file, env(&[]), &[])
        .expect("ports parse")
        .allowlist()
        .expect("allowlist");
    assert!(allow.check_at("127.0.0.1", 8545).is_ok());
    assert!(allow.check_at("127.0.0.1", 8546).is_err());
    assert!(allow.check_at("hub.snapshot.org", 8443).is_ok());
}

#[test]
fn every_key_is_documented_with_its_env_and_default() {
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/config.md"))
            .expect("docs/config.md");
    for k in KEYS {
        assert!(
            docs.contains(&format!("`{}`", k.key)),
            "docs/config.md lacks `{}`",
            k.key
        );
        assert!(docs.contains(k.env), "docs/config.md lacks {}", k.env);
        assert!(
            docs.contains(k.default),
            "docs/config.md lacks the default of {}: {}",
            k.key,
            k.default
        );
    }
    // And every key can be set from env and flags.
    for k in KEYS {
        let mut c = Config::default();
        let sample = match k.key {
            "network.timeout_secs"
            | "snapshot.page_size"
            | "casting.max_votes_per_day"
            | "casting.max_value_per_day"
            | "market.budget"
            | "market.daily_cap"
            | "bonds.chain_id"
            | "bonds.price"
            | "bonds.confirmations"
            | "bonds.from_block" => "5",
            "bonds.rpc" => "http://127.0.0.1:8545",
            "market.auto" => "true",
            "market.min_edge" => "0.1",
            "market.quote_max" | "market.from_block" => "5",
            "market.quote_traders" => "0x0000000000000000000000000000000000000001",
            "market.quote_url" => "http://127.0.0.1:8547",
            "market.markets" => {
                r#"[{ name = "grants", address = "0x0000000000000000000000000000000000000002" }]"#
            }
            "bonds.escrow" | "bonds.token" | "bonds.recipient" => {
                "0x0000000000000000000000000000000000000001"
            }
            "bonds.whitelist" | "bonds.trusted" => "a@example.org, b@example.org",
            "bonds.require" | "bonds.forfeit" | "bonds.reply_on_answer" | "bonds.auto_reply" => {
                "true"
            }
            "bonds.auto_reply_to" => "trusted, a@example.org",
            "bonds.auto_reply_min" => "2.5",
            "casting.enabled" => "true",
            "snapshot.sequencer" => "http://127.0.0.1:1/",
            "limits.max_body_bytes" => "4096",
            "snapshot.hub" => "http://127.0.0.1:1/graphql",
            "governors" => "http://127.0.0.1:8545#0x0000000000000000000000000000000000000001@5",
            "log.level" => "debug",
            "imap" => "me@example.org@127.0.0.1:993/INBOX",
            k if k.starts_with("decide.min_")
                || k == "decide.ask_importance"
                || k == "decide.dissent_share" =>
            {
                "0.5"
            }
            "decide.use_llm"
            | "decide.ask_to_learn"
            | "web.allow_remote"
            | "models.allow_unconfined" => "true",
            "decide.questions_per_round" | "decide.questions_per_day" => "5",
            "decide.unasked" => "abstain",
            "address_book" => "0x0000000000000000000000000000000000000001=Treasury",
            "web.bind" => "127.0.0.1:0",
            "notify.include" => "title, lean",
            "notify.reminders" => "48h, 1h",
            "notify.webhook" => "http://127.0.0.1:9/hook",
            "notify.mail" => r#"{ host = "127.0.0.1", from = "a@localhost", to = "b@localhost" }"#,
            _ => "loopback",
        };
        c.set(k.key, sample)
            .unwrap_or_else(|e| panic!("{}: {e}", k.key));
    }
}

#[test]
fn bonds_section_is_off_by_default_and_all_or_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config.toml");
    let c = Config::load(&file, env(&[]), &[]).expect("defaults");
    assert!(!c.bonds.enabled());
    assert_eq!(c.bonds.confirmations, 2);
    let a = "0x00000000000000000000000000000000000000aa";
    let full = format!(
        "[bonds]\nrpc = \"http://127.0.0.1:8545\"\nchain_id = 31337\nescrow = \"{a}\"\ntoken = \"{a}\"\nrecipient = \"{a}\"\nwhitelist = [\"Friend@x.org\"]\n"
    );
    std::fs::write(&file, &full).expect("write");
    let c = Config::load(&file, env(&[]), &[]).expect("full section");
    assert!(c.bonds.enabled() && !c.bonds.require && c.bonds.price.is_none());
    // Each bad value names its key (and the file's line).
    for (text, key, want) in [
        (
            full.replace("token = ", "# token = "),
            "bonds.token",
            "must be set too",
        ),
        (
            "[bonds]\nrecipient = \"0x00000000000000000000000000000000000000aa\"\n".to_owned(),
            "bonds.rpc",
            "must be set too",
        ),
        (
            full.replace("escrow = \"0x", "escrow = \"0y"),
            "bonds.escrow",
            "is not an address",
        ),
        (
            full.replace("http://127.0.0.1:8545", "not a url"),
            "bonds.rpc",
            "is not a URL",
        ),
        (format!("{full}price = -1.0\n"), "bonds.price", "USDC"),
        (
            format!("{full}confirmations = 99999\n"),
            "bonds.confirmations",
            "at most",
        ),
        (
            full.replace("Friend@x.org", "nobody"),
            "bonds.whitelist",
            "not a mail address",
        ),
        (
            "[bonds]\nrequire = true\n".to_owned(),
            "bonds.require",
            "needs bonds.escrow",
        ),
    ] {
        std::fs::write(&file, &text).expect("write");
        let e = Config::load(&file, env(&[]), &[])
            .expect_err(key)
            .to_string();
        assert!(e.contains(key) && e.contains(want), "{key}: {e}");
    }
    // Env and flags: the value's origin and key are named.
    std::fs::write(&file, &full).expect("write");
    let e = Config::load(&file, env(&[("STEWARD_BONDS_CONFIRMATIONS", "two")]), &[])
        .expect_err("bad env")
        .to_string();
    assert!(
        e.contains("STEWARD_BONDS_CONFIRMATIONS") && e.contains("bonds.confirmations"),
        "{e}"
    );
    let c = Config::load(
        &file,
        env(&[]),
        &flags(&[("bonds.price", "0.25"), ("bonds.require", "true")]),
    )
    .expect("flags");
    assert_eq!((c.bonds.price, c.bonds.require), (Some(0.25), true));
}

#[test]
fn auto_reply_needs_an_escrow_and_someone_to_cover() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config.toml");
    let a = "0x00000000000000000000000000000000000000aa";
    let full = format!(
        "[bonds]\nrpc = \"http://127.0.0.1:8545\"\nchain_id = 31337\nescrow = \"{a}\"\ntoken = \"{a}\"\nrecipient = \"{a}\"\n"
    );
    let load = |text: &str| {
        std::fs::write(&file, text).expect("write");
        Config::load(&file, env(&[]), &[])
    };
    let e =
        load("[bonds]\nauto_reply = true\nauto_reply_to = [\"trusted\"]\n").expect_err("no escrow");
    assert!(e.to_string().contains("bonds.auto_reply"), "{e}");
    let e = load(&format!("{full}auto_reply = true\n")).expect_err("covers nobody");
    assert!(e.to_string().contains("covers nobody"), "{e}");
    let e = load(&format!(
        "{full}auto_reply = true\nauto_reply_to = [\"everyone\"]\n"
    ))
    .expect_err("bad entry");
    assert!(e.to_string().contains("bonds.auto_reply_to"), "{e}");
    let c = load(&format!(
        "{full}auto_reply = true\nauto_reply_to = [\"trusted\", \"a@x.org\"]\nauto_reply_min = 2\n"
    ))
    .expect("ok");
    assert!(c.bonds.auto_reply);
    assert_eq!(c.bonds.auto_reply_min, Some(2.0));
    assert!(!Config::default().bonds.auto_reply, "off by default");
}

#[test]
fn named_markets_are_chosen_by_name_and_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config.toml");
    let a = "0x00000000000000000000000000000000000000aa";
    let b = "0x00000000000000000000000000000000000000bb";
    let load = |text: &str| {
        std::fs::write(&file, text).expect("write");
        Config::load(&file, env(&[]), &[])
    };
    let c = load(&format!(
        "[market]\nrpc = \"http://127.0.0.1:8545\"\naddress = \"{a}\"\nquote_url = \"http://127.0.0.1:1/\"\nbudget = 10\n\n[[market.markets]]\nname = \"grants\"\naddress = \"{b}\"\nfrom_block = 7\nbudget = 3\n"
    ))
    .expect("loads");
    assert_eq!(c.market_names(), ["default", "grants"]);
    let g = c.for_market(Some("grants")).expect("grants");
    assert_eq!(g.market.address.as_deref(), Some(b));
    assert_eq!(
        g.market.rpc.as_deref(),
        Some("http://127.0.0.1:8545"),
        "inherited"
    );
    assert_eq!(g.market.quote_url.as_deref(), Some("http://127.0.0.1:1/"));
    assert_eq!(g.market.from_block, 7);
    assert_eq!(g.market.budget, 10.0, "the overall budget stays");
    let caps = steward_agent::market::MarketCaps::of(&g);
    assert_eq!(caps.name, "grants");
    assert_eq!(caps.limits.map(|l| l.budget), Some(3_000_000));
    let d = c.for_market(None).expect("default");
    assert_eq!(d.market.address.as_deref(), Some(a));
    assert_eq!(steward_agent::market::MarketCaps::of(&d).limits, None);
    let e = c.for_market(Some("nope")).expect_err("unknown");
    assert!(e.to_string().contains("known: default, grants"), "{e}");
    for (bad, want) in [
        (
            format!("[[market.markets]]\nname = \"default\"\naddress = \"{b}\"\n"),
            "market.address",
        ),
        (
            format!(
                "[[market.markets]]\nname = \"x\"\naddress = \"{b}\"\n[[market.markets]]\nname = \"x\"\naddress = \"{a}\"\n"
            ),
            "named twice",
        ),
        (
            "[[market.markets]]\nname = \"x\"\naddress = \"0x12\"\n".to_owned(),
            "not an address",
        ),
        (
            format!(
                "[[market.markets]]\nname = \"x\"\naddress = \"{b}\"\n[[market.markets]]\nname = \"y\"\naddress = \"{}\"\n",
                b.to_ascii_uppercase().replace("0X", "0x")
            ),
            "is market \"x\"'s too",
        ),
        (
            format!(
                "[market]\naddress = \"{a}\"\n[[market.markets]]\nname = \"y\"\naddress = \"{a}\"\n"
            ),
            "is market \"default\"'s too",
        ),
        (
            format!("[[market.markets]]\nname = \"a b\"\naddress = \"{b}\"\n"),
            "a name is",
        ),
        (
            format!("[[market.markets]]\nname = \"x\"\naddress = \"{b}\"\nbudget = -1\n"),
            "amount of tokens",
        ),
    ] {
        let e = load(&bad).expect_err(want);
        assert!(
            e.to_string().contains("market.markets") && e.to_string().contains(want),
            "{e}"
        );
    }
    // From env: an inline array.
    let c = Config::load(
        &dir.path().join("none.toml"),
        env(&[(
            "STEWARD_MARKET_MARKETS",
            &format!("[{{ name = \"g\", address = \"{b}\", daily_cap = 1.5 }}]"),
        )]),
        &[],
    )
    .expect("env");
    assert_eq!(c.market.markets[0].daily_cap, Some(1.5));
}
