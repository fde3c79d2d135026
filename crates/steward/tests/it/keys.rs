//! `steward key`: keystores interchangeable with the real `cast` binary, both directions, and
//! clear errors for a wrong password or a damaged file.

use std::path::Path;
use std::process::Command;

use steward_eth::testkit::Tools;

use crate::{json, run, steward, temp_home};

const KPW: &str = "keystore-pw-7c1d-do-not-leak";

fn cast_address(cast: &Path, keystore: &Path, pw_file: &Path) -> String {
    let (code, out, err) = run(Command::new(cast)
        .args(["wallet", "address", "--keystore"])
        .arg(keystore)
        .arg("--password-file")
        .arg(pw_file));
    assert_eq!(code, 0, "cast wallet address: {err}");
    out.trim().to_lowercase()
}

#[test]
fn keystores_move_between_steward_and_cast_both_ways() {
    let tools = match Tools::detect() {
        Ok(t) => t,
        Err(why) => {
            steward_testing::skip(
                steward_testing::Need::Anvil,
                "keystores_move_between_steward_and_cast",
                why,
            );
            return;
        }
    };
    let cast = tools.cast();
    let (dir, home) = temp_home();
    let pw_file = dir.path().join("pw");
    std::fs::write(&pw_file, KPW).expect("pw file");
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", "p").arg("init"));
    assert_eq!(code, 0, "{err}");

    // Steward -> cast, the standard scrypt parameters (n = 2^18).
    let (code, out, err) = run(steward(&home)
        .env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .args(["key", "new", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    let made = json(&out);
    let ours = made["data"]["address"]
        .as_str()
        .expect("address")
        .to_owned();
    assert_eq!(made["data"]["default"], true, "{made}");
    let file = Path::new(made["data"]["file"].as_str().expect("file")).to_path_buf();
    assert!(file.starts_with(home.join("keys")), "{}", file.display());
    assert_eq!(cast_address(&cast, &file, &pw_file), ours);
    assert!(!out.contains(KPW) && !err.contains(KPW));

    // cast -> Steward.
    let cast_dir = dir.path().join("cast-keys");
    std::fs::create_dir(&cast_dir).expect("dir");
    let (code, out, err) = run(Command::new(&cast)
        .args(["wallet", "new"])
        .arg(&cast_dir)
        .env("CAST_PASSWORD", KPW));
    assert_eq!(code, 0, "cast wallet new: {out}{err}");
    let cast_file = std::fs::read_dir(&cast_dir)
        .expect("read dir")
        .next()
        .expect("one keystore")
        .expect("entry")
        .path();
    let theirs = cast_address(&cast, &cast_file, &pw_file);
    let (code, out, err) = run(steward(&home)
        .env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .args(["key", "import", "--json", "--keystore"])
        .arg(&cast_file));
    assert_eq!(code, 0, "{out}{err}");
    let imported = json(&out);
    assert_eq!(imported["data"]["address"], theirs.as_str(), "{imported}");
    assert_eq!(imported["data"]["default"], false);
    // The imported copy still opens in cast.
    let copy = Path::new(imported["data"]["file"].as_str().expect("file")).to_path_buf();
    assert_eq!(cast_address(&cast, &copy, &pw_file), theirs);

    // list and address.
    let (code, out, _) = run(steward(&home).args(["key", "list", "--json"]));
    assert_eq!(code, 0);
    let list = json(&out);
    let addrs: Vec<&str> = list["data"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|k| k["address"].as_str())
        .collect();
    assert_eq!(addrs.len(), 2, "{list}");
    assert!(addrs.contains(&ours.as_str()) && addrs.contains(&theirs.as_str()));
    let (code, out, _) = run(steward(&home).args(["key", "address", "--json"]));
    assert_eq!(code, 0);
    assert_eq!(json(&out)["data"]["address"], ours.as_str());
    let (code, out, _) = run(steward(&home)
        .args(["key", "address", "--json", "--set"])
        .arg(format!("casting.key={}", theirs.to_lowercase())));
    assert_eq!(code, 0, "{out}");
    assert_eq!(json(&out)["data"]["address"], theirs.as_str());

    // A wrong password: exit 5, a clear kind, and nothing imported twice.
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_KEYSTORE_PASSWORD", "not-the-password")
        .args(["key", "import", "--json", "--keystore"])
        .arg(&cast_file));
    assert_eq!(code, 5, "{out}");
    let e = json(&out);
    assert_eq!(e["error"]["kind"], "wrong-keystore-password", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("wrong keystore password")),
        "{e}"
    );

    // A damaged file: names the field.
    let bad = dir.path().join("bad.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cast_file).expect("read")).expect("json");
    v["crypto"]["cipherparams"]["iv"] = "00".into();
    std::fs::write(&bad, v.to_string()).expect("write");
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .args(["key", "import", "--json", "--keystore"])
        .arg(&bad));
    assert_eq!(code, 1, "{out}");
    let e = json(&out);
    assert_eq!(e["error"]["kind"], "keystore-invalid", "{e}");
    assert!(out.contains("crypto.cipherparams.iv"), "{out}");

    // No password and no terminal: a clear error, never a hang.
    let (code, out, _) = run(steward(&home).args(["key", "new", "--json"]));
    assert_eq!(code, 1);
    assert!(out.contains("STEWARD_KEYSTORE_PASSWORD"), "{out}");
}

#[test]
fn sign_snapshot_vote_prints_a_verifiable_envelope_and_audits_it() {
    let (dir, home) = temp_home();
    let (code, _, err) = run(steward(&home).env("STEWARD_PASSPHRASE", "p").arg("init"));
    assert_eq!(code, 0, "{err}");
    let key = steward_eth::testkit::dev_key(1).expect("dev key");
    let pw = steward_eth::KeystorePassword::new(KPW.into()).expect("pw");
    let ks = dir.path().join("k.json");
    std::fs::write(
        &ks,
        steward_eth::encrypt_keystore(&key, &pw, steward_eth::Kdf::Light).expect("encrypt"),
    )
    .expect("write");
    let (code, out, err) = run(steward(&home)
        .env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .args(["key", "import", "--keystore"])
        .arg(&ks));
    assert_eq!(code, 0, "{out}{err}");
    let proposal = "0x9c3a3bd4bbc7a59b0a3e09b9a2f0d7d3bcd8a0c2b0a1e8ee8bdad4f2d6f2b9a1";
    let (code, out, err) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", "p")
        .env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .args([
            "sign",
            "snapshot-vote",
            "--space",
            "steward-test.eth",
            "--proposal",
            proposal,
            "--choice",
            "1,3",
            "--type",
            "approval",
            "--reason",
            "both",
            "--timestamp",
            "1763800000",
            "--json",
        ]));
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    let env: steward_eth::SnapshotEnvelope =
        serde_json::from_value(v["data"].clone()).expect("envelope");
    let checked = steward_eth::verify_snapshot_envelope(&env).expect("verifies");
    assert_eq!(checked.signer, key.address());
    assert_eq!(env.data["message"]["choice"], serde_json::json!([1, 3]));
    assert_eq!(env.data["types"]["Vote"][4]["type"], "uint32[]");
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", "p")
        .args(["log", "--json"]));
    assert_eq!(code, 0);
    assert!(
        json(&out)["data"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["kind"] == "signature"),
        "{out}"
    );
    // A choice that does not fit the type: a clear error, nothing signed.
    let (code, out, _) = run(steward(&home)
        .env("STEWARD_PASSPHRASE", "p")
        .env("STEWARD_KEYSTORE_PASSWORD", KPW)
        .args([
            "sign",
            "snapshot-vote",
            "--space",
            "s.eth",
            "--proposal",
            proposal,
            "--choice",
            "0",
            "--json",
        ]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not a choice number"), "{out}");
}
