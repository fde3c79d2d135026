use steward_agent::{Error, Home};

#[test]
fn a_second_process_is_locked_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("h");
    let first = Home::create(&root).expect("first");
    // File locks are per open file description, so a second open in this process stands in for
    // a second process (the CLI test does it with two real processes).
    let err = Home::open(&root).expect_err("locked");
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("in use by another steward process"), "{msg}");
    assert!(
        msg.contains(&std::process::id().to_string()),
        "names the holder's pid: {msg}"
    );
    drop(first);
    Home::open(&root).expect("free again once the first is dropped");
}

#[test]
fn missing_and_unusable_homes_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope");
    let err = Home::open(&missing).expect_err("missing");
    assert!(matches!(err, Error::HomeMissing { .. }));
    assert!(err.to_string().contains("steward init"), "{err}");

    let file = dir.path().join("file");
    std::fs::write(&file, b"x").expect("write");
    let err = Home::open(&file).expect_err("a file");
    assert!(matches!(err, Error::Home { .. }), "{err:?}");
    let err = Home::create(&file.join("sub")).expect_err("under a file");
    assert!(err.to_string().contains("sub"), "{err}");
}

#[test]
fn default_home_follows_xdg() {
    let env = |k: &str| match k {
        "XDG_DATA_HOME" => Some("/x/data".to_owned()),
        "HOME" => Some("/home/u".to_owned()),
        _ => None,
    };
    assert_eq!(
        Home::default_path(env).expect("path"),
        std::path::Path::new("/x/data/steward")
    );
    let env = |k: &str| (k == "HOME").then(|| "/home/u".to_owned());
    assert_eq!(
        Home::default_path(env).expect("path"),
        std::path::Path::new("/home/u/.local/share/steward")
    );
}
