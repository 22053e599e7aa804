//! Replaying precomputed plans: every update, imported in order into a fresh replica, gives
//! the expected text; out-of-order delivery is recognised; odd histories still replay.

use super::*;
use crate::crdt::Replica;
use crate::trace::{Patch, Txn};

fn sequential(bodies: Vec<Vec<Patch>>, end: &str) -> Trace {
    Trace {
        name: "synthetic".into(),
        kind: Kind::Sequential,
        num_agents: 1,
        txns: crate::trace::sequential_chain(bodies),
        end_content: Some(end.into()),
    }
}

fn concurrent(txns: Vec<(usize, Vec<usize>, Vec<Patch>)>, agents: usize, end: &str) -> Trace {
    let trace = Trace {
        name: "synthetic".into(),
        kind: Kind::Concurrent,
        num_agents: agents,
        txns: txns
            .into_iter()
            .map(|(agent, parents, patches)| Txn {
                agent,
                parents,
                patches,
            })
            .collect(),
        end_content: Some(end.into()),
    };
    trace.validate().expect("a valid trace");
    trace
}

/// Imports every update in plan order into a fresh replica; each must be recognised.
fn replay(plan: &Plan) -> String {
    let mut replica = Replica::new(plan.crdt);
    for (i, txn) in plan.txns.iter().enumerate() {
        assert!(
            !replica.has(&txn.marker),
            "txn {i} recognised before it arrived"
        );
        replica.import(&txn.update).expect("imports");
        assert!(
            replica.has(&txn.marker),
            "txn {i} not recognised after import"
        );
    }
    replica.text()
}

fn typing() -> Trace {
    sequential(
        vec![
            vec![Patch::new(0, 0, "fn main() {}")],
            vec![Patch::new(11, 0, "\n    ")],
            vec![Patch::new(16, 0, "x")],
            vec![Patch::new(16, 1, "")], // delete-only
            vec![Patch::new(3, 4, "start"), Patch::new(0, 0, "pub ")],
            vec![Patch::new(20, 0, "é中")],
        ],
        "pub fn start() {\n   é中 }",
    )
}

#[test]
fn sequential_single_writer_replays_to_end_content() {
    for crdt in [Crdt::Loro, Crdt::Yjs] {
        let plan = Plan::build(&typing(), crdt, Mode::SingleWriter, 3).expect("builds");
        assert_eq!(plan.txns.len(), 6);
        assert!(plan.txns.iter().all(|t| t.sender == 0));
        assert_eq!(plan.queues[1].len(), 0);
        assert_eq!(replay(&plan), "pub fn start() {\n   é中 }", "{crdt:?}");
    }
}

#[test]
fn yjs_delete_only_transactions_get_a_delete_marker() {
    let plan = Plan::build(&typing(), Crdt::Yjs, Mode::SingleWriter, 2).expect("builds");
    assert!(matches!(plan.txns[3].marker, Marker::Deleted { .. }));
    let plan = Plan::build(&typing(), Crdt::Loro, Mode::SingleWriter, 2).expect("builds");
    assert!(matches!(plan.txns[3].marker, Marker::Op { .. }));
}

#[test]
fn handoff_rotates_writers_and_peers() {
    for crdt in [Crdt::Loro, Crdt::Yjs] {
        let plan = Plan::build(&typing(), crdt, Mode::Handoff, 3).expect("builds");
        let senders: Vec<usize> = plan.txns.iter().map(|t| t.sender).collect();
        assert_eq!(senders, vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(plan.lanes.len(), 3);
        assert_eq!(plan.txns[4].deps, vec![3]);
        assert_eq!(replay(&plan), "pub fn start() {\n   é中 }", "{crdt:?}");
    }
}

#[test]
fn the_readme_concurrent_example_replays() {
    let trace = concurrent(
        vec![
            (0, vec![], vec![Patch::new(0, 0, "hi there\n")]),
            (
                0,
                vec![0],
                vec![Patch::new(0, 8, ""), Patch::new(0, 0, "yoooo")],
            ),
            (1, vec![1], vec![Patch::new(5, 0, " ho ho")]),
        ],
        2,
        "yoooo ho ho\n",
    );
    for crdt in [Crdt::Loro, Crdt::Yjs] {
        let plan = Plan::build(&trace, crdt, Mode::SingleWriter, 2).expect("builds");
        assert_eq!(plan.queues, vec![vec![0, 1], vec![2]]);
        assert_eq!(replay(&plan), "yoooo ho ho\n");
    }
}

/// Two branches typed at once, then merged; delivered out of order.
fn branches() -> Trace {
    concurrent(
        vec![
            (0, vec![], vec![Patch::new(0, 0, "abc")]),
            (0, vec![0], vec![Patch::new(0, 0, "X")]),
            (1, vec![0], vec![Patch::new(3, 0, "Y")]),
            // Right after X (from txn 1): neither CRDT can apply it before txn 1.
            (1, vec![1, 2], vec![Patch::new(1, 0, "Z")]),
            (0, vec![3], vec![Patch::new(0, 1, "")]),
            (1, vec![4], vec![]), // the format allows a last txn without patches
        ],
        2,
        "ZabcY",
    )
}

#[test]
fn concurrent_branches_merge_and_out_of_order_delivery_is_recognised() {
    for crdt in [Crdt::Loro, Crdt::Yjs] {
        let plan = Plan::build(&branches(), crdt, Mode::Handoff, 2).expect("builds");
        assert_eq!(plan.skipped, 1);
        assert_eq!(plan.txns.len(), 5);
        assert_eq!(plan.txns[3].deps, vec![1, 2]);
        assert_eq!(replay(&plan), "ZabcY", "{crdt:?}");

        // t0, then the merge t3 before t1: t3 cannot apply yet, so it is not "had".
        let mut r = Replica::new(crdt);
        r.import(&plan.txns[0].update).expect("t0");
        r.import(&plan.txns[2].update).expect("t2");
        r.import(&plan.txns[3].update).expect("t3, pending");
        assert!(r.has(&plan.txns[2].marker));
        assert!(!r.has(&plan.txns[3].marker), "{crdt:?}: t3 waits for t1");
        r.import(&plan.txns[1].update).expect("t1");
        assert!(
            r.has(&plan.txns[3].marker),
            "{crdt:?}: t3 applied once t1 arrived"
        );
        r.import(&plan.txns[4].update).expect("t4");
        assert_eq!(r.text(), "ZabcY");
    }
}

#[test]
fn an_agent_typing_off_its_own_chain_gets_a_fresh_peer() {
    let trace = concurrent(
        vec![
            (0, vec![], vec![Patch::new(0, 0, "ab")]),
            (1, vec![0], vec![Patch::new(2, 0, "c")]),
            (0, vec![1], vec![Patch::new(0, 0, "x")]),
            (0, vec![0], vec![Patch::new(1, 0, "y")]), // not after agent 0's own txn 2
            (1, vec![2, 3], vec![Patch::new(5, 0, "!")]),
        ],
        2,
        "xaybc!",
    );
    for crdt in [Crdt::Loro, Crdt::Yjs] {
        let plan = Plan::build(&trace, crdt, Mode::SingleWriter, 2).expect("builds");
        assert_eq!(plan.lanes.len(), 3, "{crdt:?}");
        assert!(matches!(
            plan.txns[3].marker,
            Marker::Op {
                peer: 1_000_000,
                ..
            }
        ));
        assert_eq!(replay(&plan), "xaybc!", "{crdt:?}");
    }
}

#[test]
fn positions_are_code_points_for_both_crdts() {
    let trace = sequential(
        vec![
            vec![Patch::new(0, 0, "a😀b")],
            vec![Patch::new(2, 0, "c")],
            vec![Patch::new(1, 1, "")],
        ],
        "acb",
    );
    assert!(trace.has_astral_chars());
    for crdt in [Crdt::Loro, Crdt::Yjs] {
        let plan = Plan::build(&trace, crdt, Mode::SingleWriter, 2).expect("builds");
        assert_eq!(replay(&plan), "acb", "{crdt:?}");
    }
}

#[test]
fn a_wrong_end_content_is_reported() {
    let trace = sequential(vec![vec![Patch::new(0, 0, "abc")]], "abd");
    let err = Plan::build(&trace, Crdt::Loro, Mode::SingleWriter, 1).expect_err("mismatch");
    assert!(
        err.to_string().contains("first difference at char 2"),
        "{err}"
    );
}

#[test]
fn a_patch_past_the_end_is_an_error_not_a_panic() {
    let trace = sequential(vec![vec![Patch::new(5, 0, "abc")]], "abc");
    for crdt in [Crdt::Loro, Crdt::Yjs] {
        assert!(Plan::build(&trace, crdt, Mode::SingleWriter, 1).is_err());
    }
}
