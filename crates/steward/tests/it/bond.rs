//! `steward bond` through the real binary: the CO-QAF price, and on a real anvil with the
//! AttentionBonds escrow a deposit by the sender, `verify` of a maildir (the bonded message
//! delivered, the unbonded one held), the recipient's reply (refund less fee), a replayed reply
//! refused with the escrow's error named.

use steward_eth::testkit::{Anvil, Artifacts, Bonds, BondsConfig, Tools, dev_key};

use crate::{PASS, json, run, steward, temp_home};

const KPW: &str = "bond-test-keystore-pw";

#[test]
fn bond_price_is_the_coqaf_attention_price() {
    let (_d, home) = temp_home();
    let (code, out, err) = run(steward(&home).args(["bond", "price", "--inbox", "10", "--json"]));
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["data"]["units"], "20000", "{v}");
    assert_eq!(v["data"]["usdc"], "0.020000 USDC");
    let (code, _, err) = run(steward(&home).args(["bond", "price", "--reply-rate", "2"]));
    assert_ne!(code, 0);
    assert!(err.contains("--reply-rate"), "{err}");
}

#[test]
fn bond_deposit_verify_reply_on_anvil() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(steward_testing::Need::Anvil, "bond_cli", why);
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (anvil, kit) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
            .await
            .expect("deploy");
        (anvil, kit)
    });
    let (dir, home) = temp_home();
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "{err}");
    crate::import_dev_key(&home, 1, KPW);
    crate::import_dev_key(&home, 2, KPW);
    let (sender, me) = (
        dev_key(1).expect("key").address(),
        dev_key(2).expect("key").address(),
    );
    let rpc = anvil.url().to_string();
    let escrow = kit.escrow.to_string();
    let bond = |args: &[&str]| {
        run(steward(&home)
            .env("STEWARD_KEYSTORE_PASSWORD", KPW)
            .arg("bond")
            .args(args)
            .args(["--rpc", &rpc, "--escrow", &escrow, "--json"]))
    };

    let (code, out, err) = bond(&[
        "deposit",
        "--to",
        &me.to_string(),
        "--message",
        "<paid@mail.test>",
        "--amount",
        "0.5",
        "--key",
        &sender.to_string(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        json(&out)["data"]["gas_used"]
            .as_u64()
            .is_some_and(|g| g > 50_000)
    );

    // A maildir: the paid message with its header, and one without.
    let md = dir.path().join("Maildir");
    std::fs::create_dir_all(md.join("new")).expect("maildir");
    std::fs::create_dir_all(md.join("cur")).expect("maildir");
    let id = steward_agent::bonds::message_id_of("paid@mail.test");
    std::fs::write(
        md.join("new/1"),
        format!("Message-ID: <paid@mail.test>\r\nFrom: <s@mail.test>\r\nX-Steward-Bond: 31337:{escrow}:{id}\r\nSubject: paid\r\n\r\nhello\r\n"),
    )
    .expect("write");
    std::fs::write(
        md.join("new/2"),
        "Message-ID: <free@mail.test>\r\nFrom: <s@mail.test>\r\nSubject: free\r\n\r\nhello\r\n",
    )
    .expect("write");
    let verify = || {
        bond(&[
            "verify",
            &md.display().to_string(),
            "--chain-id",
            "31337",
            "--token",
            &kit.token.to_string(),
            "--recipient",
            &me.to_string(),
            "--confirmations",
            "0",
        ])
    };
    let (code, out, err) = verify();
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(
        (v["data"]["delivered"].as_u64(), v["data"]["held"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(v["data"]["messages"][0]["verdict"], "deliver");
    assert_eq!(v["data"]["messages"][0]["by"], "bonded");
    assert_eq!(v["data"]["messages"][0]["amount"], "500000");
    assert_eq!(v["data"]["messages"][1]["why"], "no-bond");
    assert!(v["data"].get("ingested").is_none());

    // With --ingest only the paid message reaches the store.
    let (code, out, err) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["bond", "verify", &md.display().to_string()])
        .args(["--chain-id", "31337", "--token", &kit.token.to_string()])
        .args([
            "--recipient",
            &me.to_string(),
            "--confirmations",
            "0",
            "--ingest",
        ])
        .args(["--rpc", &rpc, "--escrow", &escrow, "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["data"]["ingested"]["ingested"], 1, "{out}");
    let (code, out, err) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", PASS)
        .args(["proposals", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("paid@mail.test") && !out.contains("free@mail.test"),
        "{out}"
    );

    let (code, out, err) = bond(&["reply", "paid@mail.test", "--key", &me.to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(
        (&v["data"]["paid"], &v["data"]["fee"]),
        (&"450000".into(), &"50000".into()),
        "{v}"
    );
    // Replayed: refused, the escrow's error named, nothing sent.
    let (code, out, err) = bond(&["reply", "paid@mail.test", "--key", &me.to_string()]);
    assert_ne!(code, 0, "{out}");
    let v = json(&out);
    assert_eq!(v["error"]["kind"], "bond-refused", "{v}{err}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("NotOpen")),
        "{v}"
    );
    // The sender's standing, read from the chain: one bond, answered.
    let (code, out, err) = bond(&[
        "scores",
        "--recipient",
        &me.to_string(),
        "--from-block",
        &kit.deployed_at.to_string(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(
        v["data"][0]["sender"],
        sender.to_string().to_ascii_lowercase(),
        "{v}"
    );
    assert_eq!(
        (
            v["data"][0]["bonds"].as_u64(),
            v["data"][0]["reply_rate"].as_f64()
        ),
        (Some(1), Some(1.0)),
        "{v}"
    );
    // And the replied bond is no longer delivered.
    let (_, out, _) = verify();
    assert_eq!(json(&out)["data"]["messages"][0]["why"], "not-open");
    drop(anvil);
}

/// `[bonds]` in config.toml: `ingest mail` stores the paid and the plain message and holds the
/// unpaid one; `bond held --json` lists it with the reason; `bond verify` needs no flags.
#[test]
fn bond_held_lists_mail_the_config_policy_held() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(steward_testing::Need::Anvil, "bond_held_cli", why);
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let me = dev_key(2).expect("key").address();
    let (anvil, kit) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
            .await
            .expect("deploy");
        let sender = dev_key(1).expect("key");
        kit.escrow()
            .deposit(
                &sender,
                me,
                steward_agent::bonds::message_id_of("paid@mail.test"),
                steward_eth::testkit::usdc(1),
            )
            .await
            .expect("deposit");
        anvil.mine(2).await.expect("mine");
        (anvil, kit)
    });
    let (dir, home) = temp_home();
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "{err}");
    let escrow = kit.escrow.to_string();
    std::fs::write(
        home.join("config.toml"),
        format!(
            "[bonds]\nrpc = \"{}\"\nchain_id = 31337\nescrow = \"{escrow}\"\ntoken = \"{}\"\nrecipient = \"{me}\"\nprice = 0.5\n",
            anvil.url(),
            kit.token
        ),
    )
    .expect("config");
    let md = dir.path().join("Maildir");
    std::fs::create_dir_all(md.join("new")).expect("maildir");
    std::fs::create_dir_all(md.join("cur")).expect("maildir");
    let paid = steward_agent::bonds::message_id_of("paid@mail.test");
    let unpaid = steward_agent::bonds::message_id_of("unpaid@mail.test");
    for (name, header) in [
        ("paid", Some(paid)),
        ("unpaid", Some(unpaid)),
        ("plain", None),
    ] {
        let h = header
            .map(|id| format!("X-Steward-Bond: 31337:{escrow}:{id}\r\n"))
            .unwrap_or_default();
        std::fs::write(
            md.join("new").join(name),
            format!("Message-ID: <{name}@mail.test>\r\nFrom: <s@mail.test>\r\n{h}Subject: {name} <b>\r\n\r\nhello\r\n"),
        )
        .expect("write");
    }
    let st = |args: &[&str]| {
        run(steward(&home)
            .env("STEWARD_PASSPHRASE", PASS)
            .args(args)
            .arg("--json"))
    };
    let mdp = md.display().to_string();
    let (code, out, err) = st(&["ingest", "mail", &mdp]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(
        (v["data"]["ingested"].as_u64(), v["data"]["held"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    let (code, out, err) = st(&["bond", "held"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    let held = v["data"].as_array().expect("a list");
    assert_eq!(held.len(), 1, "{v}");
    assert_eq!(held[0]["message_id"], "unpaid@mail.test");
    assert_eq!(held[0]["reason"], "unknown-bond");
    assert_eq!(held[0]["from"], "s@mail.test");
    assert_eq!(held[0]["subject"], "unpaid <b>");
    assert_eq!(held[0]["mailbox"], mdp.as_str());
    assert!(
        held[0].get("raw").is_none(),
        "the raw message stays in the store"
    );
    let (code, out, err) = st(&["proposals"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("paid@mail.test")
            && out.contains("plain@mail.test")
            && !out.contains("unpaid@"),
        "{out}"
    );
    // `bond verify` with every policy value from [bonds]: the price 0.5 USDC from config.
    let (code, out, err) = st(&["bond", "verify", &mdp]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["data"]["price"], "500000", "{v}");
    assert_eq!(v["data"]["delivered"], 1, "{v}");
    // The desk's Activity page: the held message (escaped) and the sender's score from chain.
    let (child, url) = crate::web::serve_desk(&home);
    let page = crate::web::desk_page(&rt, &url, "/activity");
    drop(child);
    assert!(page.contains("id=\"held\""), "{page}");
    assert!(
        page.contains("unpaid &lt;b&gt;") && !page.contains("unpaid <b>"),
        "{page}"
    );
    assert!(page.contains("<code>unknown-bond</code>"), "{page}");
    let sender = dev_key(1)
        .expect("key")
        .address()
        .to_string()
        .to_ascii_lowercase();
    assert!(
        page.contains(&format!(
            "<tr class=\"score\"><td><code>{sender}</code></td><td>1</td>"
        )),
        "{page}"
    );
    // The chain unreachable: the bonded message is held `unverified`, the plain one stored,
    // and `ingest mail` says so and exits 6.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let text = std::fs::read_to_string(home.join("config.toml")).expect("config");
    std::fs::write(
        home.join("config.toml"),
        text.replace(
            anvil.url().as_str().trim_end_matches('/'),
            &format!("http://127.0.0.1:{closed}"),
        ),
    )
    .expect("config");
    let md2 = dir.path().join("Maildir2");
    std::fs::create_dir_all(md2.join("new")).expect("maildir");
    std::fs::create_dir_all(md2.join("cur")).expect("maildir");
    std::fs::write(
        md2.join("new/1"),
        format!("Message-ID: <late@mail.test>\r\nFrom: <s@mail.test>\r\nX-Steward-Bond: 31337:{escrow}:{}\r\nSubject: late\r\n\r\nhello\r\n", steward_agent::bonds::message_id_of("late@mail.test")),
    )
    .expect("write");
    std::fs::write(
        md2.join("new/2"),
        "Message-ID: <plain2@mail.test>\r\nFrom: <s@mail.test>\r\nSubject: plain2\r\n\r\nhello\r\n",
    )
    .expect("write");
    let (code, out, err) = st(&["ingest", "mail", &md2.display().to_string()]);
    assert_eq!(code, 6, "{out}{err}");
    let v = json(&out);
    assert_eq!(
        (v["data"]["ingested"].as_u64(), v["data"]["held"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(
        v["data"]["bond_errors"].as_array().map(Vec::len),
        Some(1),
        "{v}"
    );
    let (_, out, _) = st(&["bond", "held"]);
    assert!(
        json(&out)["data"]
            .as_array()
            .expect("list")
            .iter()
            .any(|h| h["message_id"] == "late@mail.test" && h["reason"] == "unverified"),
        "{out}"
    );
    // A half-written section is refused naming the missing key.
    std::fs::write(home.join("config.toml"), "[bonds]\nchain_id = 1\n").expect("config");
    let (code, out, err) = st(&["bond", "held"]);
    assert_ne!(code, 0, "{out}");
    assert!(format!("{out}{err}").contains("bonds.rpc"), "{out}{err}");
    drop(anvil);
}

/// `run --watch` with `bonds.forfeit`: the first round forfeits the user's bond whose window
/// has closed, and leaves the one still open.
#[test]
fn run_watch_forfeits_unanswered_bonds_once_per_round() {
    use std::io::{BufRead, BufReader};
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(steward_testing::Need::Anvil, "bond_forfeit_watch", why);
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let me = dev_key(2).expect("key").address();
    let old = steward_agent::bonds::message_id_of("old@mail.test");
    let new = steward_agent::bonds::message_id_of("new@mail.test");
    let (anvil, kit) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
            .await
            .expect("deploy");
        let sender = dev_key(1).expect("key");
        let esc = kit.escrow();
        esc.deposit(&sender, me, old, steward_eth::testkit::usdc(1))
            .await
            .expect("deposit");
        anvil.increase_time(7 * 86_400 + 1).await.expect("warp");
        anvil.mine(1).await.expect("mine");
        esc.deposit(&sender, me, new, steward_eth::testkit::usdc(1))
            .await
            .expect("deposit");
        (anvil, kit)
    });
    let (_dir, home) = temp_home();
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "{err}");
    crate::import_dev_key(&home, 2, KPW);
    std::fs::write(
        home.join("config.toml"),
        format!(
            "[bonds]\nrpc = \"{}\"\nchain_id = 31337\nescrow = \"{}\"\ntoken = \"{}\"\nrecipient = \"{me}\"\nfrom_block = {}\nforfeit = true\n",
            anvil.url(),
            kit.escrow,
            kit.token,
            kit.deployed_at
        ),
    )
    .expect("config");
    let mut cmd = steward(&home);
    cmd.env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .args([
            "--json",
            "run",
            "--watch",
            "--no-sync",
            "--interval",
            "3600",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = crate::web::Killed(cmd.spawn().expect("run --watch"));
    let mut reader = BufReader::new(child.0.stdout.take().expect("stdout"));
    let mut text = String::new();
    let round: serde_json::Value = loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "run printed: {text}"
        );
        text.push_str(&line);
        if let Ok(v) = serde_json::from_str(&text) {
            break v;
        }
    };
    drop(child);
    let f = round["data"]["forfeited"].as_array().expect("forfeited");
    assert_eq!(f.len(), 1, "{round}");
    assert_eq!(f[0]["message_id"], old.to_string(), "{round}");
    assert_eq!(f[0]["tx"]["paid"], "1000000", "{round}");
    let states = rt
        .block_on(kit.escrow().bonds(&[old, new], None))
        .expect("bonds");
    assert_eq!(
        (states[0].state, states[1].state),
        (
            steward_eth::BondState::Forfeited,
            steward_eth::BondState::Open
        )
    );
    drop(anvil);
}

/// `bonds.auto_reply`: the agent, as the key the user authorised on the escrow, acknowledges
/// and refunds the bonded mail of the sender the user named, and leaves the other sender's for
/// the user; the acknowledgement never carries the user's writing; a kill -9 between the mail
/// and the chain's reply neither mails nor refunds twice.
#[test]
fn auto_reply_answers_only_whom_the_user_allowed_and_survives_kill_9() {
    use std::io::{BufRead, BufReader};
    use steward_agent::testkit::smtp::MailServer;
    const CANARY: &str = "CANARY-7f3a-heron-basalt-2210";
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(steward_testing::Need::Anvil, "bond_auto_reply", why);
            return;
        }
    };
    let smtp = match MailServer::start() {
        Ok(m) => m,
        Err(why) => {
            steward_testing::skip(steward_testing::Need::Smtp, "bond_auto_reply", why);
            return;
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (allowed, outside) = (dev_key(1).expect("key"), dev_key(4).expect("key"));
    let user = dev_key(2).expect("key");
    let agent = dev_key(3).expect("key").address();
    let me = user.address();
    let id = steward_agent::bonds::message_id_of;
    let (anvil, kit) = rt.block_on(async {
        let anvil = Anvil::start(&tools).await.expect("anvil");
        let artifacts = Artifacts::load(&tools).expect("contracts");
        let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
            .await
            .expect("deploy");
        let esc = kit.escrow();
        // The user authorises the agent's key to reply for them.
        esc.set_agent(&user, agent, true).await.expect("setAgent");
        for (k, m) in [(&allowed, "first@mail.test"), (&outside, "other@mail.test")] {
            esc.deposit(k, me, id(m), steward_eth::testkit::usdc(1))
                .await
                .expect("deposit");
        }
        (anvil, kit)
    });
    let balance = |who| {
        rt.block_on(kit.escrow().token_balance(kit.token, who))
            .expect("balance")
    };
    let (dir, home) = temp_home();
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", PASS).arg("init"));
    assert_eq!(code, 0, "{err}");
    // Only the agent's key: it is the default key, and it is not the recipient's.
    crate::import_dev_key(&home, 3, KPW);
    std::fs::write(
        home.join("config.toml"),
        format!(
            "[bonds]\nrpc = \"{}\"\nchain_id = 31337\nescrow = \"{}\"\ntoken = \"{}\"\nrecipient = \"{me}\"\nprice = 0.5\nconfirmations = 0\nfrom_block = {}\nauto_reply = true\nauto_reply_to = [\"A@mail.test\"]\n\n[notify.mail]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"Me <me@mail.test>\"\nto = \"me@mail.test\"\n",
            anvil.url(),
            kit.escrow,
            kit.token,
            kit.deployed_at,
            smtp.sink_port
        ),
    )
    .expect("config");
    let st = |args: &[&str]| {
        run(steward(&home)
            .env("STEWARD_PASSPHRASE", PASS)
            .env("STEWARD_KEYSTORE_PASSWORD", KPW)
            .args(args)
            .arg("--json"))
    };
    // The user's private writing, with a canary.
    let (code, out, err) = st(&[
        "profile",
        "say",
        &format!("I privately think the grants council is captured ({CANARY})"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let writing = dir.path().join("notes.md");
    std::fs::write(&writing, format!("My private notes. {CANARY}\n")).expect("write");
    let (code, out, err) = st(&[
        "profile",
        "import",
        "writing",
        &writing.display().to_string(),
    ]);
    assert_eq!(code, 0, "{out}{err}");

    let md = dir.path().join("Maildir");
    std::fs::create_dir_all(md.join("cur")).expect("maildir");
    std::fs::create_dir_all(md.join("new")).expect("maildir");
    let write_mail = |name: &str, from: &str| {
        std::fs::write(
            md.join("new").join(name),
            format!(
                "Message-ID: <{name}@mail.test>\r\nFrom: <{from}>\r\nX-Steward-Bond: 31337:{}:{}\r\nSubject: About {name}\r\n\r\nPlease read this.\r\n",
                kit.escrow,
                id(&format!("{name}@mail.test"))
            ),
        )
        .expect("write");
    };
    write_mail("first", "a@mail.test");
    write_mail("other", "b@mail.test");
    let (code, out, err) = st(&["ingest", "mail", &md.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["data"]["ingested"], 2, "{out}");

    // kill -9 after the acknowledgement is mailed, before the chain's reply.
    let mut c = steward(&home);
    c.env("STEWARD_PASSPHRASE", PASS)
        .env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .env("STEWARD_CAST_PAUSE_AT", "bond-after-mail")
        .args(["--json", "bond", "auto-reply"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = crate::web::Killed(c.spawn().expect("spawn"));
    let err = BufReader::new(child.0.stderr.take().expect("stderr"));
    let mut seen = Vec::new();
    for line in err.lines() {
        let line = line.expect("read");
        let paused = line.contains("cast paused at bond-after-mail");
        seen.push(line);
        if paused {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("paused at")),
        "never paused: {seen:?}"
    );
    child.0.kill().expect("kill -9");
    let _ = child.0.wait();
    assert_eq!(smtp.received(1).len(), 1, "{}", smtp.log());
    let states = |ids: &[&str]| {
        let ids: Vec<_> = ids.iter().map(|m| id(m)).collect();
        rt.block_on(kit.escrow().bonds(&ids, None))
            .expect("bonds")
            .into_iter()
            .map(|b| b.state)
            .collect::<Vec<_>>()
    };
    use steward_eth::BondState::{Open, Replied};
    assert_eq!(
        states(&["first@mail.test", "other@mail.test"]),
        [Open, Open]
    );
    let before = balance(allowed.address());

    // The next round only replies on chain: no second mail, one refund.
    let (code, out, err) = st(&["bond", "auto-reply"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["data"]["waiting"], 1, "{v}");
    let r = v["data"]["replies"].as_array().expect("replies");
    assert_eq!(r.len(), 1, "{v}");
    assert_eq!(r[0]["state"], "replied", "{v}");
    assert_eq!(r[0]["rule"], "sender", "{v}");
    assert_eq!(r[0]["refund"], "900000", "{v}");
    assert_eq!(
        states(&["first@mail.test", "other@mail.test"]),
        [Replied, Open]
    );
    assert_eq!(
        balance(allowed.address()) - before,
        steward_core::U256::from(900_000u64)
    );
    // Again: nothing to do, the other sender still waits for the user.
    let (code, out, err) = st(&["bond", "auto-reply"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(
        v["data"]["replies"].as_array().map(Vec::len),
        Some(0),
        "{v}"
    );
    assert_eq!(v["data"]["waiting"], 1, "{v}");

    // A new bonded mail from the allowed sender: mailed and refunded in one round.
    rt.block_on(kit.escrow().deposit(
        &allowed,
        me,
        id("second@mail.test"),
        steward_eth::testkit::usdc(2),
    ))
    .expect("deposit");
    write_mail("second", "a@mail.test");
    let (code, out, err) = st(&["ingest", "mail", &md.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = st(&["bond", "auto-reply"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["data"]["replies"][0]["state"], "replied", "{v}");
    assert_eq!(v["data"]["replies"][0]["refund"], "1800000", "{v}");
    assert!(
        v["data"]["replies"][0]["tx"]
            .as_str()
            .is_some_and(|t| t.starts_with("0x")),
        "{v}"
    );
    assert_eq!(
        states(&["second@mail.test", "other@mail.test"]),
        [Replied, Open]
    );

    // Two acknowledgements in all, both to the allowed sender, neither with the user's words.
    let mails = smtp.received(2);
    assert_eq!(mails.len(), 2, "{}", smtp.log());
    for (m, name) in mails.iter().zip(["first", "second"]) {
        let text = String::from_utf8_lossy(m);
        assert!(!text.contains(CANARY), "the user's writing leaked:\n{text}");
        assert!(!text.contains("captured"), "{text}");
        assert!(
            text.contains("a@mail.test") && !text.contains("b@mail.test"),
            "{text}"
        );
        assert!(
            text.contains(&format!("Subject: Re: About {name}")),
            "{text}"
        );
        assert!(
            text.contains(&format!("In-Reply-To: <{name}@mail.test>")),
            "{text}"
        );
        assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
        assert!(text.contains("was received on"), "{text}");
    }
    // One audit entry per auto-reply.
    let (code, out, err) = st(&["log"]);
    assert_eq!(code, 0, "{out}{err}");
    let log = json(&out);
    let entries = log["data"].as_array().expect("entries");
    let auto: Vec<_> = entries
        .iter()
        .filter(|e| e["kind"] == "bond-auto-reply")
        .collect();
    assert_eq!(auto.len(), 2, "{log}");
    drop(anvil);
}
