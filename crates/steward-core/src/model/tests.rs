use super::*;

const FAA: [&str; 3] = ["For", "Against", "Abstain"];

fn proposal(i: usize, title: &str) -> ProposalFeatures {
    ProposalFeatures {
        id: format!("p{i}"),
        title: title.to_owned(),
        order: i as f64,
        choices: FAA.iter().map(|s| (*s).to_owned()).collect(),
        embedding: None,
    }
}

/// A voter who opposes grants and supports upgrades, over `n` proposals alternating the two.
fn history(n: usize) -> Vec<LabeledVote> {
    (0..n)
        .map(|i| {
            let grant = i % 2 == 0;
            let title = if grant {
                format!("Grant program for project {i}")
            } else {
                format!("Protocol upgrade version {i}")
            };
            LabeledVote {
                proposal: proposal(i, &title),
                choice: if grant { "Against" } else { "For" }.to_owned(),
            }
        })
        .collect()
}

#[test]
fn title_similarity_separates_a_voters_topics() {
    let model = VoterModel::fit(&history(40), &[], &ModelConfig::default());
    let grant = model
        .predict(&proposal(100, "Grant program for project X"), &[])
        .expect("choices");
    let upgrade = model
        .predict(&proposal(101, "Protocol upgrade version X"), &[])
        .expect("choices");
    assert_eq!(grant.label(), "Against", "{grant:?}");
    assert_eq!(upgrade.label(), "For", "{upgrade:?}");
    assert!(grant.confidence > 0.6 && upgrade.confidence > 0.6);
    assert!(!grant.live);
    assert!((grant.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-9);
}

#[test]
fn empty_history_is_uniform_and_unsure() {
    let model = VoterModel::fit(&[], &[], &ModelConfig::default());
    let p = model
        .predict(&proposal(0, "anything"), &[])
        .expect("choices");
    assert!((p.confidence - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(p.history, 0);
}

#[test]
fn no_choices_is_an_error() {
    let model = VoterModel::fit(&history(10), &[], &ModelConfig::default());
    let mut p = proposal(0, "x");
    p.choices.clear();
    assert_eq!(
        model.predict(&p, &[]),
        Err(ModelError::NoChoices { id: "p0".into() })
    );
}

#[test]
fn a_peer_who_always_agrees_moves_the_live_prediction() {
    // The user's votes look random by title; a twin peer votes the same way every time, a
    // contrarian the opposite way.
    let hist: Vec<LabeledVote> = (0..40)
        .map(|i| LabeledVote {
            proposal: proposal(i, &format!("Proposal number {i}")),
            choice: if (i * 7 + 3) % 5 < 2 {
                "Against"
            } else {
                "For"
            }
            .to_owned(),
        })
        .collect();
    let ids: Vec<String> = (0..41).map(|i| format!("p{i}")).collect();
    let mut peers = Vec::new();
    for (i, v) in hist.iter().enumerate() {
        peers.push(PeerVote {
            voter: "twin",
            proposal_id: &ids[i],
            choice: &v.choice,
        });
        peers.push(PeerVote {
            voter: "contrarian",
            proposal_id: &ids[i],
            choice: if v.choice == "For" { "Against" } else { "For" },
        });
    }
    let model = VoterModel::fit(&hist, &peers, &ModelConfig::default());
    assert!(model.live_head().is_some());
    assert_eq!(model.peers_by_agreement()[0].0, "twin");
    let new = proposal(40, "Proposal number 40");
    let visible = [
        PeerVote {
            voter: "twin",
            proposal_id: "p40",
            choice: "Against",
        },
        PeerVote {
            voter: "contrarian",
            proposal_id: "p40",
            choice: "For",
        },
    ];
    let blind = model.predict(&new, &[]).expect("choices");
    let live = model.predict(&new, &visible).expect("choices");
    assert!(live.live && !blind.live);
    assert_eq!(blind.label(), "For");
    assert_eq!(live.label(), "Against", "{live:?}");
    // Votes on other proposals are not visible evidence for this one.
    let elsewhere = [PeerVote {
        voter: "twin",
        proposal_id: "p7",
        choice: "Against",
    }];
    assert_eq!(model.predict(&new, &elsewhere).expect("choices"), blind);
}

#[test]
fn embeddings_replace_title_tokens_when_both_sides_have_them() {
    // Titles say nothing; embeddings carry the topic.
    let hist: Vec<LabeledVote> = (0..30)
        .map(|i| {
            let grant = i % 3 == 0;
            let mut p = proposal(i, &format!("Item {i}"));
            p.embedding = Some(if grant {
                vec![1.0, 0.1]
            } else {
                vec![0.1, 1.0]
            });
            LabeledVote {
                proposal: p,
                choice: if grant { "Against" } else { "For" }.to_owned(),
            }
        })
        .collect();
    let model = VoterModel::fit(&hist, &[], &ModelConfig::default());
    let mut q = proposal(99, "Item 99");
    q.embedding = Some(vec![0.9, 0.0]);
    assert_eq!(model.predict(&q, &[]).expect("choices").label(), "Against");
    q.embedding = Some(vec![0.0, 0.9]);
    assert_eq!(model.predict(&q, &[]).expect("choices").label(), "For");
}

#[test]
fn fitting_is_deterministic() {
    let a = VoterModel::fit(&history(30), &[], &ModelConfig::default());
    let b = VoterModel::fit(&history(30), &[], &ModelConfig::default());
    assert_eq!(a.blind_head(), b.blind_head());
}

#[test]
fn pooling_with_a_stated_stance_moves_the_decision() {
    let model = VoterModel::fit(&history(40), &[], &ModelConfig::default());
    let p = model
        .predict(&proposal(100, "Protocol upgrade version X"), &[])
        .expect("choices");
    assert_eq!(p.label(), "For");
    let against = p.pooled_with(&[0.01, 0.98, 0.01], 3.0);
    assert!(against.probabilities[1] > p.probabilities[1]);
    assert_eq!(against.label(), "Against", "{p:?} -> {against:?}");
    assert_eq!(p.pooled_with(&[0.5, 0.5], 3.0), p);
}

/// A contrarian peer (always the opposite of the user) has an agreement rate near zero, so the
/// agreement-weighted peer expert gives its vote almost no mass; `P(user | peer's choice)` learns
/// that its For means the user's Against and the reverse.
#[test]
fn peer_conditionals_learn_from_a_contrarian_peer() {
    let choice = |i: usize| {
        if (i * 7 + 3) % 5 < 2 {
            "Against"
        } else {
            "For"
        }
    };
    let other = |c: &str| if c == "For" { "Against" } else { "For" };
    let history: Vec<LabeledVote> = (0..60)
        .map(|i| LabeledVote {
            proposal: proposal(i, &format!("Proposal {i}")),
            choice: choice(i).to_owned(),
        })
        .collect();
    let ids: Vec<String> = (0..80).map(|i| format!("p{i}")).collect();
    let peers: Vec<PeerVote<'_>> = (0..80)
        .map(|i| PeerVote {
            voter: "q",
            proposal_id: &ids[i],
            choice: other(choice(i)),
        })
        .collect();
    let right = |cfg: &ModelConfig| {
        let model = VoterModel::fit(&history, &peers, cfg);
        (60..80)
            .filter(|&i| {
                let p = model
                    .predict(&proposal(i, &format!("Proposal {i}")), &peers[i..=i])
                    .expect("choices");
                p.label() == choice(i)
            })
            .count()
    };
    let off = right(&ModelConfig::default());
    let on = right(&ModelConfig {
        peer_conditionals: true,
        ..ModelConfig::default()
    });
    assert!(on >= 19, "with P(user | peer): {on} of 20");
    assert!(off <= 16, "agreement-weighted peers only: {off} of 20");
}
