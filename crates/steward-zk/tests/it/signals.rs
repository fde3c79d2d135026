use steward_zk::{Group, Identity, IdentitySecret, Invalid, Signal, prove, to_hex, verify};

fn identity(byte: u8) -> Identity {
    Identity::new(&IdentitySecret::from_bytes(&[byte; 32]).expect("32 bytes"))
}

fn group(depth: usize, ids: &[&Identity]) -> Group {
    Group::new(depth, ids.iter().map(|i| i.commitment()).collect()).expect("group")
}

/// One proof made once and shared: a debug-build proof takes seconds.
fn signal() -> &'static (Signal, Group) {
    static S: std::sync::OnceLock<(Signal, Group)> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let (me, other) = (identity(1), identity(2));
        let g = group(16, &[&other, &me]);
        let s = prove(&me, &g, "proposal-1", "for").expect("prove");
        (s, g)
    })
}

#[test]
fn a_member_proves_and_anyone_verifies() {
    let (s, g) = signal();
    verify(s).expect("valid");
    s.check_root("board", g).expect("same root");
    assert_eq!(s.root, to_hex(&g.root()));
    assert_eq!(
        (s.scope.as_str(), s.message.as_str(), s.depth),
        ("proposal-1", "for", 16)
    );
    // The JSON a file carries round-trips.
    let json = serde_json::to_string(s).expect("json");
    let back: Signal = serde_json::from_str(&json).expect("parse");
    verify(&back).expect("valid after a round trip");
}

#[test]
fn tampered_proof_is_refused() {
    let (s, _) = signal();
    for i in 0..8 {
        let mut t = s.clone();
        let last = t.proof[i].pop().expect("digit");
        t.proof[i].push(if last == '0' { '1' } else { '0' });
        let e = verify(&t).expect_err("tampered");
        assert!(
            matches!(e, Invalid::NotOnCurve(_) | Invalid::Rejected { .. }),
            "coordinate {i}: {e}"
        );
    }
    // Swapping two valid points is still a valid-looking proof, but not for these inputs.
    let mut t = s.clone();
    t.proof.swap(0, 6);
    t.proof.swap(1, 7);
    assert!(matches!(verify(&t), Err(Invalid::Rejected { .. })));
    let mut t = s.clone();
    t.proof[3] = "12".into();
    let e = verify(&t).expect_err("malformed");
    assert!(e.to_string().contains("proof is malformed"), "{e}");
}

#[test]
fn other_scope_message_nullifier_or_root_is_refused() {
    let (s, _) = signal();
    type Edit = (&'static str, fn(&mut Signal));
    let edits: [Edit; 4] = [
        ("scope", |t| t.scope = "proposal-2".into()),
        ("message", |t| t.message = "against".into()),
        ("nullifier", |t| t.nullifier = to_hex(&semaphore_field(5))),
        ("root", |t| t.root = to_hex(&semaphore_field(7))),
    ];
    for (what, edit) in edits {
        let mut t = s.clone();
        edit(&mut t);
        let e = verify(&t).expect_err(what);
        assert!(matches!(e, Invalid::Rejected { .. }), "{what}: {e}");
    }
    let mut t = s.clone();
    t.depth = 17;
    assert!(matches!(
        verify(&t),
        Err(Invalid::UnsupportedDepth { depth: 17 })
    ));
}

fn semaphore_field(n: u64) -> steward_zk::Field {
    steward_zk::Field::from(n)
}

#[test]
fn a_proof_for_another_group_is_refused_by_root() {
    let (s, _) = signal();
    let other = group(16, &[&identity(1), &identity(3)]);
    let e = s.check_root("council", &other).expect_err("other root");
    assert!(e.to_string().contains("group council has root"), "{e}");
}

#[test]
fn an_identity_missing_from_the_group_cannot_prove() {
    let g = group(16, &[&identity(2), &identity(3)]);
    let e = prove(&identity(1), &g, "p", "m").expect_err("not a member");
    assert!(
        e.to_string().contains("is not a member of the group"),
        "{e}"
    );
}

#[test]
fn depth_20_proof_verifies() {
    let me = identity(9);
    let g = group(20, &[&me]);
    let s = prove(&me, &g, "scope", "message").expect("prove");
    verify(&s).expect("valid");
    assert_eq!(s.depth, 20);
}
