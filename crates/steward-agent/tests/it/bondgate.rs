//! The attention-bond gate in front of the mail source, on a real anvil with the real escrow:
//! a maildir with a paid, an unpaid and a plain message stores the paid and the plain ones and
//! holds the unpaid one with its reason; a deposit not yet deep enough is held and delivered by
//! the next sync; an RPC that cannot be reached delivers nothing bonded and says so;
//! `bonds.require` holds plain mail too.

use std::path::Path;

use steward_agent::bondgate::BondGate;
use steward_agent::bonds::{BOND_HEADER, message_id_of};
use steward_agent::{Config, Network, ProposalFilter, Store, ingest_mail_gated};
use steward_core::{Address, B256};
use steward_eth::testkit::{Anvil, Artifacts, Bonds, BondsConfig, Tools, dev_key, usdc};

fn id(label: &str) -> B256 {
    message_id_of(&format!("{label}@mail.test"))
}

/// Writes `new/<label>` into the maildir at `dir`.
fn put(dir: &Path, label: &str, from: &str, bond: Option<(Address, B256)>) {
    std::fs::create_dir_all(dir.join("new")).expect("maildir");
    std::fs::create_dir_all(dir.join("cur")).expect("maildir");
    let mut m = format!(
        "Message-ID: <{label}@mail.test>\r\nFrom: <{from}>\r\nSubject: proposal {label}\r\n"
    );
    if let Some((escrow, id)) = bond {
        m.push_str(&format!("{BOND_HEADER}: 31337:{escrow}:{id}\r\n"));
    }
    m.push_str("\r\nPlease fund the grants program for another quarter.\r\n");
    std::fs::write(dir.join("new").join(label), m).expect("write");
}

fn cfg(rpc: &str, kit: &Bonds, me: Address) -> Config {
    let mut c = Config::default();
    c.bonds.rpc = Some(rpc.to_owned());
    c.bonds.chain_id = Some(31337);
    c.bonds.escrow = Some(kit.escrow.to_string());
    c.bonds.token = Some(kit.token.to_string());
    c.bonds.recipient = Some(me.to_string());
    c.bonds.price = Some(1.0);
    c.bonds.whitelist = vec!["friend@mail.test".into()];
    c
}

fn gate(c: &Config) -> BondGate {
    BondGate::from_config(c, &Network::from_config(c).expect("network"))
        .expect("gate")
        .expect("bonds on")
}

fn stored_ids(store: &Store) -> Vec<String> {
    let mut ids: Vec<String> = store
        .proposals(&ProposalFilter {
            open_only: false,
            space: None,
            limit: None,
        })
        .expect("proposals")
        .into_iter()
        .map(|p| p.proposal.id)
        .collect();
    ids.sort();
    ids
}

fn held(store: &Store) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = store
        .held_mail()
        .expect("held")
        .into_iter()
        .map(|h| (h.message_id, h.reason))
        .collect();
    h.sort();
    h
}

#[tokio::test]
async fn sync_stores_paid_and_plain_mail_and_holds_the_unpaid() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(steward_testing::Need::Anvil, "bond_gate_sync", why);
            return;
        }
    };
    let anvil = Anvil::start(&tools).await.expect("anvil starts");
    let artifacts = Artifacts::load(&tools).expect("contracts compile");
    let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
        .await
        .expect("deploy");
    let esc = kit.escrow();
    let (sender, me) = (dev_key(1).expect("key"), dev_key(2).expect("key"));
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = crate::new_store(dir.path(), "pw");
    let c = cfg(anvil.url().as_str(), &kit, me.address());
    let g = gate(&c);
    let limits = c.limits();

    esc.deposit(&sender, me.address(), id("paid"), usdc(2))
        .await
        .expect("deposit");
    anvil.mine(2).await.expect("mine");
    // Deposited now, not yet 2 blocks deep.
    esc.deposit(&sender, me.address(), id("fresh"), usdc(2))
        .await
        .expect("deposit");
    let md = dir.path().join("Maildir");
    put(&md, "paid", "s@mail.test", Some((kit.escrow, id("paid"))));
    put(
        &md,
        "unpaid",
        "s@mail.test",
        Some((kit.escrow, id("unpaid"))),
    );
    put(&md, "plain", "s@mail.test", None);
    put(&md, "fresh", "s@mail.test", Some((kit.escrow, id("fresh"))));

    let r = ingest_mail_gated(&mut store, &md, &limits, Some(&g))
        .await
        .expect("ingest");
    assert_eq!((r.ingested, r.held), (2, 2), "{r:?}");
    assert!(r.bond_errors.is_empty(), "{r:?}");
    assert_eq!(
        stored_ids(&store),
        ["paid@mail.test", "plain@mail.test"],
        "only paid and plain mail becomes a proposal"
    );
    assert_eq!(
        held(&store),
        [
            ("fresh@mail.test".into(), "unconfirmed".into()),
            ("unpaid@mail.test".into(), "unknown-bond".into())
        ]
    );
    let h = store.held_mail().expect("held");
    let unpaid = h.iter().find(|h| h.reason == "unknown-bond").expect("one");
    assert_eq!(
        (unpaid.from.as_str(), unpaid.subject.as_str()),
        ("s@mail.test", "proposal unpaid")
    );

    // Two blocks later the fresh deposit counts: the next sync delivers it from the held table.
    anvil.mine(2).await.expect("mine");
    let r = ingest_mail_gated(&mut store, &md, &limits, Some(&g))
        .await
        .expect("ingest again");
    assert_eq!(r.ingested, 1, "{r:?}");
    assert_eq!(
        stored_ids(&store),
        ["fresh@mail.test", "paid@mail.test", "plain@mail.test"]
    );
    assert_eq!(
        held(&store),
        [("unpaid@mail.test".into(), "unknown-bond".into())]
    );

    // The chain cannot be read: nothing bonded is delivered, not even a paid bond; the error is
    // reported; plain and whitelisted mail go on as before.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let down = gate(&cfg(
        &format!("http://127.0.0.1:{closed}"),
        &kit,
        me.address(),
    ));
    let md2 = dir.path().join("Maildir2");
    esc.deposit(&sender, me.address(), id("paid2"), usdc(2))
        .await
        .expect("deposit");
    anvil.mine(2).await.expect("mine");
    put(
        &md2,
        "paid2",
        "s@mail.test",
        Some((kit.escrow, id("paid2"))),
    );
    put(&md2, "plain2", "s@mail.test", None);
    put(
        &md2,
        "friend",
        "friend@mail.test",
        Some((kit.escrow, id("friend"))),
    );
    let r = ingest_mail_gated(&mut store, &md2, &limits, Some(&down))
        .await
        .expect("a chain failure is reported, not an error");
    assert_eq!((r.ingested, r.held), (2, 1), "{r:?}");
    assert_eq!(r.bond_errors.len(), 1, "{r:?}");
    assert!(!stored_ids(&store).contains(&"paid2@mail.test".to_owned()));
    assert!(held(&store).contains(&("paid2@mail.test".into(), "unverified".into())));
    // With the chain back, the next sync delivers it.
    let r = ingest_mail_gated(&mut store, &md2, &limits, Some(&g))
        .await
        .expect("ingest");
    assert!(r.bond_errors.is_empty(), "{r:?}");
    assert!(stored_ids(&store).contains(&"paid2@mail.test".to_owned()));
    assert!(!held(&store).iter().any(|(m, _)| m == "paid2@mail.test"));

    // bonds.require: plain mail is held too (no chain needed to say so).
    let mut strict = cfg(anvil.url().as_str(), &kit, me.address());
    strict.bonds.require = true;
    let md3 = dir.path().join("Maildir3");
    put(&md3, "plain3", "s@mail.test", None);
    put(&md3, "friend3", "friend@mail.test", None);
    let r = ingest_mail_gated(&mut store, &md3, &limits, Some(&gate(&strict)))
        .await
        .expect("ingest");
    assert_eq!((r.ingested, r.held), (1, 1), "{r:?}");
    assert!(held(&store).contains(&("plain3@mail.test".into(), "no-bond".into())));
}

/// The same through `steward sync`'s IMAP source (`pipeline::sync_all`) on a real Dovecot: the
/// paid and plain messages become proposals, the unpaid one is held under the IMAP mailbox.
#[tokio::test]
async fn sync_all_gates_imap_mail_on_a_real_dovecot() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(steward_testing::Need::Anvil, "bond_gate_imap", why);
            return;
        }
    };
    let Some(mut dv) = steward_agent::testkit::dovecot::Dovecot::start() else {
        steward_testing::skip(
            steward_testing::Need::Dovecot,
            "bond_gate_imap",
            "Dovecot could not start (see above)",
        );
        return;
    };
    let anvil = Anvil::start(&tools).await.expect("anvil starts");
    let artifacts = Artifacts::load(&tools).expect("contracts compile");
    let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
        .await
        .expect("deploy");
    let (sender, me) = (dev_key(1).expect("key"), dev_key(2).expect("key"));
    kit.escrow()
        .deposit(&sender, me.address(), id("ipaid"), usdc(2))
        .await
        .expect("deposit");
    anvil.mine(2).await.expect("mine");
    let msg = |label: &str, bond: Option<B256>| {
        let h = bond
            .map(|b| format!("{BOND_HEADER}: 31337:{}:{b}\r\n", kit.escrow))
            .unwrap_or_default();
        format!(
            "Message-ID: <{label}@mail.test>\r\nFrom: <s@mail.test>\r\n{h}Subject: proposal {label}\r\n\r\nPlease fund the audits.\r\n"
        )
    };
    dv.deliver(&msg("ipaid", Some(id("ipaid"))));
    dv.deliver(&msg("iunpaid", Some(id("iunpaid"))));
    dv.deliver(&msg("iplain", None));
    let dir = tempfile::tempdir().expect("tempdir");
    let (_home, mut store) = crate::new_store(dir.path(), "pw");
    let mut c = cfg(anvil.url().as_str(), &kit, me.address());
    c.imap = vec![dv.config()];
    let pw = steward_agent::sources::imap::ImapPassword::new(
        steward_agent::testkit::dovecot::PASSWORD.into(),
    );
    let r = steward_agent::pipeline::sync_all(&mut store, &c, &[pw], &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("sync: {e}\n{}", dv.log()));
    assert_eq!((r.ingest.ingested, r.ingest.held), (2, 1), "{:?}", r.ingest);
    assert_eq!(stored_ids(&store), ["ipaid@mail.test", "iplain@mail.test"]);
    let h = store.held_mail().expect("held");
    assert_eq!(h.len(), 1);
    assert_eq!(
        (
            h[0].message_id.as_str(),
            h[0].reason.as_str(),
            h[0].label.as_str()
        ),
        ("iunpaid@mail.test", "unknown-bond", "uid 2")
    );
    assert_eq!(
        h[0].mailbox,
        steward_agent::sources::imap::cursor_key(&c.imap[0])
    );
}

/// With `bonds.price` unset the gate's price is the CO-QAF attention price at the inbox's real
/// count of bonded messages in the last 7 days (before: always the empty-inbox price, 0.01 USDC):
/// after ten deposits a 0.015 USDC bond is below the price and held; a week later, with those
/// out of the window, the same bond is delivered. A sender the user answered gets the reply-rate
/// discount: their 0.015 bond passes where an unanswered sender's is held.
#[tokio::test]
async fn the_live_price_counts_the_inboxs_last_7_days() {
    use steward_agent::sources::mail::RawMessage;
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            return steward_testing::skip(
                steward_testing::Need::Anvil,
                "the_live_price_counts_the_inboxs_last_7_days",
                why,
            );
        }
    };
    let anvil = Anvil::start(&tools).await.expect("anvil starts");
    let artifacts = Artifacts::load(&tools).expect("contracts compile");
    let kit = Bonds::deploy(&anvil, &artifacts, &BondsConfig::default())
        .await
        .expect("deploy");
    let esc = kit.escrow();
    let (sender, other, me) = (
        dev_key(1).expect("key"),
        dev_key(3).expect("key"),
        dev_key(2).expect("key").address(),
    );
    for k in 0..10 {
        esc.deposit(
            &other,
            me,
            id(&format!("w{k}")),
            usdc(1) / steward_core::U256::from(50u64),
        )
        .await
        .expect("deposit");
    }
    let mut c = cfg(anvil.url().as_str(), &kit, me);
    c.bonds.price = None;
    c.bonds.confirmations = 0;
    c.bonds.from_block = kit.deployed_at;
    let gate = gate(&c);
    let bonded = |label: &str| {
        let dir = tempfile::tempdir().expect("tmp");
        put(
            dir.path(),
            label,
            "s@mail.test",
            Some((kit.escrow, id(label))),
        );
        RawMessage {
            label: label.into(),
            bytes: std::fs::read(dir.path().join("new").join(label)).expect("read"),
        }
    };
    let small = usdc(15) / steward_core::U256::from(1000u64); // 0.015 USDC
    esc.deposit(&sender, me, id("now"), small)
        .await
        .expect("deposit");
    assert_eq!(
        steward_agent::bonds::inbox_7d(&esc, me, kit.deployed_at)
            .await
            .expect("count"),
        11
    );
    let s = gate.screen("inbox", &[bonded("now")]).await;
    assert!(s.failure.is_none(), "{:?}", s.failure);
    assert_eq!(s.held.len(), 1, "{s:?}");
    assert_eq!(s.held[0].reason, "below-price");
    let price: u64 = s.held[0].detail["price"]
        .as_str()
        .expect("price")
        .parse()
        .expect("units");
    assert!(
        price > 20_000,
        "ten bonded messages at least double the price: {price}"
    );
    // The user answered every one of `other`'s ten: its price is discounted by γ·1 and its
    // 0.015 bond passes, while `sender`'s same bond stays below the price.
    let user = dev_key(2).expect("key");
    for k in 0..10 {
        esc.reply(&user, id(&format!("w{k}"))).await.expect("reply");
    }
    esc.deposit(&other, me, id("answered"), small)
        .await
        .expect("deposit");
    let live = steward_agent::bonds::live_price(&esc, me, &Default::default(), kit.deployed_at)
        .await
        .expect("live");
    assert_eq!(live.inbox_7d, 12);
    let theirs = live.senders[&other.address()];
    assert!(theirs < live.price && theirs <= small, "{live:?}");
    assert!(!live.senders.contains_key(&sender.address()));
    let s = gate
        .screen("inbox", &[bonded("answered"), bonded("now")])
        .await;
    assert_eq!((s.deliver.len(), s.held.len()), (1, 1), "{s:?}");
    assert_eq!(s.deliver[0].label, "answered");
    assert_eq!(s.held[0].reason, "below-price");

    // Eight days on: the old deposits are out of the window.
    anvil.increase_time(8 * 86_400).await.expect("warp");
    anvil.mine(1).await.expect("mine");
    esc.deposit(&sender, me, id("later"), small)
        .await
        .expect("deposit");
    assert_eq!(
        steward_agent::bonds::inbox_7d(&esc, me, kit.deployed_at)
            .await
            .expect("count"),
        1
    );
    let live = steward_agent::bonds::live_price(&esc, me, &Default::default(), kit.deployed_at)
        .await
        .expect("live");
    assert_eq!(live.inbox_7d, 1);
    let s = gate.screen("inbox", &[bonded("later")]).await;
    assert_eq!((s.deliver.len(), s.held.len()), (1, 0), "{s:?}");
}
