//! The audit journal (spec §8): every operation of a scripted session is
//! there, with every notification call (in-process and isolated alike),
//! each with its fields; refusals are there; and no password ever is, even
//! one given with `--password-stdin`.

use crate::util::{self, Env};
use serde_json::Value;
use std::collections::BTreeSet;

const PW: &str = "Jour-nal-S3cret-77";

/// The fields every record has.
const COMMON: [&str; 4] = ["ts", "event", "pid", "uid"];
/// The fields of every notification call.
const NOTIFY: [&str; 11] = [
    "op_id",
    "op",
    "round",
    "notifyee",
    "phase",
    "status_in",
    "context",
    "isolation",
    "policy",
    "duration_us",
    "result",
];
/// The fields of every operation.
const OPERATION: [&str; 9] = [
    "op_id",
    "op",
    "local",
    "remote",
    "provider",
    "result",
    "result_name",
    "notified",
    "duration_us",
];

fn has_all(r: &Value, keys: &[&str]) {
    for k in keys {
        assert!(!r[k].is_null(), "the record lacks {k}: {r}");
    }
}

#[test]
fn a_scripted_session_is_journalled_in_full_and_without_its_password() {
    let e = Env::new();
    let loose = e.path("etc/libloose.so");
    std::fs::copy(util::notifyee("delta"), &loose).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o666)).unwrap();
    e.setup_with(
        &["acme"],
        &["alpha"],
        &format!(
            "[notifyees.beta]\npath = \"{}\"\nisolation = \"process\"\ntimeout_ms = 2000\n\
             [notifyees.delta]\npath = \"{}\"\npolicy = \"advisory\"\n",
            util::notifyee("beta").display(),
            loose.display()
        ),
    );

    // 1. A connection with a user and a password.
    let r = e.mpr_stdin(
        &[
            "use",
            "Z:",
            r"\\acme\share",
            "--user",
            "bob",
            "--password-stdin",
            "--json",
        ],
        &format!("{PW}\n"),
    );
    assert_eq!(r.wn(), 0, "{r:?}");
    let p = e.calls().into_iter().find(|c| c.kind == 'P').unwrap();
    assert_eq!(p.get("pwlen"), PW.len().to_string(), "the provider got it");
    // 2. Vetoed by the isolated notifyee.
    e.behave("beta.conf", "add_pre=1223\n");
    assert_eq!(e.mpr(&["use", "Y:", r"\\acme\share", "--json"]).wn(), 1223);
    e.behave("beta.conf", "");
    // 3. Refused by validation: never notified.
    assert_eq!(e.mpr(&["use", "LPT1", r"\\acme\share", "--json"]).wn(), 66);
    // 4. A provider failure with a retry round asked by alpha.
    e.behave("np-acme.conf", "add_result=1326\n");
    e.behave("alpha.conf", "add_post_retry=1\n");
    assert_eq!(e.mpr(&["use", "X:", r"\\acme\share", "--json"]).wn(), 1326);
    e.behave("np-acme.conf", "");
    // 5. The cancel.
    assert_eq!(e.mpr(&["use", "Z:", "--delete", "--json"]).wn(), 0);

    let text = std::fs::read_to_string(e.path("state/journal.jsonl")).unwrap();
    assert!(!text.contains(PW), "the journal holds the password");
    let j = e.journal();
    for r in &j {
        has_all(r, &COMMON);
    }

    let ops: Vec<&Value> = j.iter().filter(|r| r["event"] == "operation").collect();
    let summary: Vec<(String, String, u64, bool)> = ops
        .iter()
        .map(|r| {
            has_all(r, &OPERATION);
            (
                r["op"].as_str().unwrap().to_string(),
                r["local"].as_str().unwrap().to_string(),
                r["result"].as_u64().unwrap(),
                r["notified"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("add", "Z:", 0, true),
        ("add", "Y:", 1223, true),
        ("add", "LPT1", 66, false),
        ("add", "X:", 1326, true),
        ("cancel", "Z:", 0, true),
    ];
    assert_eq!(
        summary,
        expected
            .iter()
            .map(|&(o, l, c, n)| (o.to_string(), l.to_string(), c, n))
            .collect::<Vec<_>>()
    );
    assert_eq!(ops[0]["provider"], "acme");
    assert_eq!(ops[0]["remote"], r"\\acme\share");
    assert!(
        ops[1]["message"]
            .as_str()
            .unwrap()
            .contains("notifyee beta vetoed")
    );

    // Every notification call belongs to a notified operation and has
    // every field; nothing is journalled for the one that failed validation.
    let notified: BTreeSet<&str> = ops
        .iter()
        .filter(|r| r["notified"] == true)
        .map(|r| r["op_id"].as_str().unwrap())
        .collect();
    let calls: Vec<&Value> = j.iter().filter(|r| r["event"] == "notify").collect();
    for c in &calls {
        has_all(c, &NOTIFY);
        assert!(notified.contains(c["op_id"].as_str().unwrap()), "{c}");
        let isolation = if c["notifyee"] == "beta" {
            "process"
        } else {
            "inprocess"
        };
        assert_eq!(c["isolation"], isolation, "{c}");
        assert_eq!(c["policy"], "veto");
        assert!(c["result_name"].is_string());
    }
    let per_op = |i: usize| -> Vec<String> {
        calls
            .iter()
            .filter(|c| c["op_id"] == ops[i]["op_id"])
            .map(|c| {
                format!(
                    "{}:{}:{}:{}",
                    c["round"],
                    c["notifyee"].as_str().unwrap(),
                    c["phase"].as_str().unwrap(),
                    c["result"]
                )
            })
            .collect()
    };
    assert_eq!(
        per_op(0),
        [
            "0:beta:pre:0",
            "0:alpha:pre:0",
            "0:alpha:post:0",
            "0:beta:post:0"
        ]
    );
    assert_eq!(per_op(1), ["0:beta:pre:1223"]);
    assert_eq!(
        per_op(3),
        [
            "0:beta:pre:0",
            "0:alpha:pre:0",
            "0:alpha:post:1237",
            "0:beta:post:0",
            "1:beta:pre:0",
            "1:alpha:post:0",
            "1:beta:post:0"
        ]
    );
    // The refused notifyee (world-writable, advisory) is audited in every
    // notified operation, where its PRE would be.
    let refused: Vec<&Value> = j.iter().filter(|r| r["event"] == "refused").collect();
    assert!(refused.len() >= 4, "{refused:?}");
    for r in &refused {
        assert_eq!(r["notifyee"], "delta");
        assert_eq!(r["decision"], "ignored (advisory)");
        assert!(
            r["reason"].as_str().unwrap().contains("world-writable"),
            "{r}"
        );
    }
    // Each provider call too.
    assert!(
        j.iter()
            .filter(|r| r["event"] == "provider")
            .all(|r| notified.contains(r["op_id"].as_str().unwrap()))
    );
}
