//! The connection-notification contract (spec §7), end to end through
//! `mpr`, with C notifyees and a C provider compiled from tests/c.

use crate::util::{Call, Env};

const Z: &str = "Z:";
const ACME: &str = r"\\acme\share";

fn env3() -> Env {
    let e = Env::new();
    e.setup(&["acme"], &["alpha", "beta", "gamma"]);
    e
}

fn n_calls(e: &Env) -> Vec<Call> {
    e.calls().into_iter().filter(|c| c.kind == 'N').collect()
}

#[test]
fn pre_newest_first_post_in_registration_order() {
    let e = env3();
    let r = e.mpr(&["use", Z, ACME, "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    let order: Vec<String> = e.calls().iter().map(Call::short).collect();
    assert_eq!(
        order,
        [
            "gamma:pre",
            "beta:pre",
            "alpha:pre",
            "np:acme:add3",
            "alpha:post",
            "beta:post",
            "gamma:post"
        ],
    );
    for c in n_calls(&e) {
        assert_eq!(c.op, "add");
        assert_eq!(c.get("local"), Z);
        assert_eq!(c.get("remote"), ACME);
        assert_eq!(c.get("type"), "1");
        assert_eq!(c.get("owner"), "0");
        assert_eq!(
            c.get("status"),
            "0",
            "PRE has WN_SUCCESS, POST the result: {c:?}"
        );
        if c.phase == "pre" {
            assert_eq!(
                c.get("provider"),
                "(null)",
                "PRE while cycling has no provider"
            );
        } else {
            assert_eq!(
                c.get("provider"),
                "Acme Network",
                "POST names the provider that connected"
            );
        }
    }
}

#[test]
fn context_round_trips_and_null_context_means_no_post() {
    let e = env3();
    e.behave("beta.conf", "context=0\n");
    assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 0);
    assert_eq!(
        e.notes(),
        [
            "gamma:pre",
            "beta:pre",
            "alpha:pre",
            "alpha:post",
            "gamma:post"
        ]
    );
    let calls = n_calls(&e);
    for who in ["alpha", "gamma"] {
        let ctx: Vec<&str> = calls
            .iter()
            .filter(|c| c.who == who)
            .map(|c| c.get("ctx"))
            .collect();
        assert_eq!(ctx.len(), 2);
        assert_ne!(ctx[0], "0");
        assert_eq!(
            ctx[0], ctx[1],
            "{who}: the context set in PRE comes back unchanged in POST"
        );
    }
}

#[test]
fn veto_with_wn_cancel_stops_the_operation() {
    let e = env3();
    e.behave("beta.conf", "add_pre=1223\n");
    let r = e.mpr(&["use", Z, ACME, "--json"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.wn(), 1223);
    assert_eq!(r.json()["name"], "WN_CANCEL");
    // alpha (older) gets no PRE, beta (vetoing) no POST, gamma its POST with the veto code.
    assert_eq!(e.notes(), ["gamma:pre", "beta:pre", "gamma:post"]);
    let post = n_calls(&e)
        .into_iter()
        .find(|c| c.short() == "gamma:post")
        .unwrap();
    assert_eq!(post.get("status"), "1223");
    assert!(
        e.calls().iter().all(|c| c.kind != 'P'),
        "the provider is not called after a veto"
    );
    assert_eq!(
        e.mpr(&["get", Z, "--json"]).wn(),
        2250,
        "nothing was connected"
    );
}

#[test]
fn veto_with_another_error_is_the_result() {
    let e = env3();
    e.behave("gamma.conf", "add_pre=5\n");
    let r = e.mpr(&["use", Z, ACME, "--json"]);
    assert_eq!(r.wn(), 5);
    assert_eq!(e.notes(), ["gamma:pre"]);
    assert!(e.calls().iter().all(|c| c.kind != 'P'));
}

#[test]
fn wn_retry_in_pre_counts_as_success() {
    let e = env3();
    e.behave("beta.conf", "add_pre=1237\n");
    assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 0);
    assert_eq!(e.notes().len(), 6);
}

#[test]
fn retry_round_skips_the_requester_and_keeps_its_context() {
    let e = env3();
    e.behave("np-acme.conf", "add_result=1326\n");
    e.behave("alpha.conf", "add_post_retry=1\n");
    let r = e.mpr(&["use", Z, ACME, "--json"]);
    assert_eq!(r.wn(), 1326, "{r:?}");
    let order: Vec<String> = e.calls().iter().map(Call::short).collect();
    assert_eq!(
        order,
        [
            "gamma:pre",
            "beta:pre",
            "alpha:pre",
            "np:acme:add3",
            "alpha:post",
            "beta:post",
            "gamma:post",
            "gamma:pre",
            "beta:pre",
            "np:acme:add3",
            "alpha:post",
            "beta:post",
            "gamma:post",
        ],
    );
    let calls = n_calls(&e);
    let retry_pres: Vec<&Call> = calls.iter().filter(|c| c.phase == "pre").skip(3).collect();
    assert!(
        retry_pres.iter().all(|c| c.get("status") == "1237"),
        "a retried PRE carries WN_RETRY"
    );
    let alpha: Vec<&Call> = calls.iter().filter(|c| c.who == "alpha").collect();
    assert_eq!(alpha.len(), 3);
    assert_eq!(
        alpha[0].get("ctx"),
        alpha[2].get("ctx"),
        "the requester keeps its context across the round"
    );
    assert_eq!(alpha[2].get("status"), "1326");
    // Others get fresh contexts in the new round.
    let gamma: Vec<&Call> = calls.iter().filter(|c| c.who == "gamma").collect();
    assert_ne!(gamma[0].get("ctx"), gamma[2].get("ctx"));
}

#[test]
fn retry_rounds_are_bounded() {
    let e = env3();
    e.behave("np-acme.conf", "add_result=1326\n");
    e.behave("alpha.conf", "add_post_retry=50\n");
    let r = e.mpr(&["use", Z, ACME, "--json"]);
    assert_eq!(r.wn(), 1326);
    let attempts = e.calls().iter().filter(|c| c.kind == 'P').count();
    assert_eq!(attempts, 4, "one attempt plus at most 3 retry rounds");
    let j = e.journal();
    assert!(
        j.iter()
            .any(|r| r["event"] == "retry_limit" && r["message"] == "retry limit reached"),
        "{j:?}"
    );
}

#[test]
fn retry_limit_comes_from_the_config() {
    let e = Env::new();
    e.setup_with(&["acme"], &["alpha"], "[router]\nmax_retry_rounds = 1\n");
    e.behave("np-acme.conf", "add_result=1326\n");
    e.behave("alpha.conf", "add_post_retry=50\n");
    assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 1326);
    assert_eq!(e.calls().iter().filter(|c| c.kind == 'P').count(), 2);
}

#[test]
fn retry_after_a_veto_is_ignored() {
    let e = env3();
    e.behave("beta.conf", "add_pre=1223\n");
    e.behave("gamma.conf", "add_post_retry=5\n");
    assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 1223);
    assert_eq!(e.notes(), ["gamma:pre", "beta:pre", "gamma:post"]);
}

#[test]
fn post_error_of_a_failed_operation_replaces_the_result_last_wins() {
    let e = env3();
    e.behave("np-acme.conf", "add_result=1326\n");
    e.behave("alpha.conf", "add_post=5\n");
    e.behave("gamma.conf", "add_post=8\n");
    assert_eq!(
        e.mpr(&["use", Z, ACME, "--json"]).wn(),
        8,
        "POST order alpha, beta, gamma: gamma's code wins"
    );
}

#[test]
fn post_result_of_a_successful_operation_is_ignored() {
    let e = env3();
    e.behave("alpha.conf", "add_post=1223\n");
    e.behave("beta.conf", "add_post=1237\n");
    assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 0);
    assert_eq!(e.mpr(&["get", Z, "--json"]).json()["remote"], ACME);
}

#[test]
fn restore_sends_no_notification() {
    let e = env3();
    assert_eq!(e.mpr(&["use", Z, ACME, "--persistent", "--json"]).wn(), 0);
    assert_eq!(
        e.mpr(&["use", Z, "--delete", "--keep-remembered", "--json"])
            .wn(),
        0
    );
    let list = e.mpr(&["use", "--json"]).json();
    assert_eq!(list["connections"][0]["status"], "Remembered");
    e.clear_log();
    let r = e.mpr(&["restore", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(r.json()["results"][0]["restored"], true);
    assert!(e.notes().is_empty(), "restore notified: {:?}", e.notes());
    assert!(
        e.calls().iter().any(|c| c.short() == "np:acme:add3"),
        "restore reconnects through the provider"
    );
    assert_eq!(e.mpr(&["get", Z, "--json"]).json()["remote"], ACME);
}

#[test]
fn requests_failing_validation_are_not_notified() {
    let e = env3();
    for args in [
        vec!["use", Z, "not-a-unc-name", "--json"],
        vec!["use", "LPT1", ACME, "--json"],
        vec!["use", "relative/dir", ACME, "--json"],
        vec!["use", Z, ACME, "--provider", "nope", "--json"],
        vec!["use", "/proc/mnt", ACME, "--json"],
    ] {
        let r = e.mpr(&args);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
    }
    assert!(e.calls().is_empty(), "{:?}", e.calls());
    assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 0);
    e.clear_log();
    let r = e.mpr(&["use", Z, r"\\acme\other", "--json"]);
    assert_eq!(r.wn(), 85);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains(r"Z: is already connected to \\acme\share"),
        "{r:?}"
    );
    assert!(
        e.calls().is_empty(),
        "an add to a connected local name is rejected by validation"
    );
}

#[test]
fn post_names_the_provider_that_connected() {
    let e = Env::new();
    e.setup(&["alpha", "beta"], &["gamma"]);
    let r = e.mpr(&["use", Z, r"\\beta\files", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(r.json()["provider"], "beta");
    let order: Vec<String> = e.calls().iter().map(Call::short).collect();
    assert_eq!(
        order,
        ["gamma:pre", "np:alpha:add3", "np:beta:add3", "gamma:post"]
    );
    let post = n_calls(&e).into_iter().find(|c| c.phase == "post").unwrap();
    assert_eq!(post.get("provider"), "Beta Network");
}

#[test]
fn cancel_path_follows_the_same_rules() {
    let e = env3();
    assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 0);
    e.clear_log();
    let r = e.mpr(&["use", "z:", "--delete", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    let order: Vec<String> = e.calls().iter().map(Call::short).collect();
    assert_eq!(
        order,
        [
            "gamma:pre",
            "beta:pre",
            "alpha:pre",
            "np:acme:cancel",
            "alpha:post",
            "beta:post",
            "gamma:post"
        ]
    );
    for c in n_calls(&e) {
        assert_eq!(c.op, "cancel");
        assert_eq!(c.get("name"), Z);
        assert_eq!(
            c.get("flags"),
            "1",
            "--delete forgets: CONNECT_UPDATE_PROFILE"
        );
        assert_eq!(c.get("force"), "0");
        let want = if c.phase == "pre" {
            "(null)"
        } else {
            "Acme Network"
        };
        assert_eq!(c.get("provider"), want);
    }
    assert_eq!(e.mpr(&["get", Z, "--json"]).wn(), 2250);
}

#[test]
fn cancel_veto_keeps_the_connection() {
    let e = env3();
    assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 0);
    e.behave("alpha.conf", "cancel_pre=1223\n");
    e.clear_log();
    let r = e.mpr(&[
        "use",
        Z,
        "--delete",
        "--force",
        "--keep-remembered",
        "--json",
    ]);
    assert_eq!(r.wn(), 1223);
    assert_eq!(
        e.notes(),
        [
            "gamma:pre",
            "beta:pre",
            "alpha:pre",
            "beta:post",
            "gamma:post"
        ]
    );
    let pre = &n_calls(&e)[0];
    assert_eq!((pre.get("force"), pre.get("flags")), ("1", "0"));
    assert_eq!(e.mpr(&["get", Z, "--json"]).json()["remote"], ACME);
}

#[test]
fn cancel_retry_round() {
    let e = env3();
    e.behave("np-acme.conf", "owns=acme\ncancel_result=1222\n");
    assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 0);
    e.behave("beta.conf", "cancel_post_retry=1\n");
    e.clear_log();
    assert_eq!(e.mpr(&["use", Z, "--delete", "--json"]).wn(), 1222);
    assert_eq!(
        e.notes(),
        [
            "gamma:pre",
            "beta:pre",
            "alpha:pre",
            "alpha:post",
            "beta:post",
            "gamma:post",
            "gamma:pre",
            "alpha:pre",
            "alpha:post",
            "beta:post",
            "gamma:post"
        ],
    );
}

#[test]
fn notifyee_exporting_only_add_is_not_called_for_cancel() {
    let e = Env::new();
    let only_add = crate::util::compile(
        "notifyee_script.c",
        "notify_onlyadd",
        &["NOTIFYEE_NAME=\"onlyadd\"", "NO_CANCEL"],
    );
    e.config(&format!(
        "[providers]\norder = [\"acme\"]\n[providers.acme]\npath = \"{}\"\nname = \"Acme Network\"\n[notifyees]\nonlyadd = \"{}\"\n",
        crate::util::provider("acme").display(),
        only_add.display()
    ));
    assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 0);
    assert_eq!(e.mpr(&["use", Z, "--delete", "--json"]).wn(), 0);
    assert_eq!(e.notes(), ["onlyadd:pre", "onlyadd:post"]);
}

#[test]
fn every_notification_call_is_audited() {
    let e = env3();
    assert_eq!(e.mpr(&["use", Z, ACME, "--json"]).wn(), 0);
    let j = e.journal();
    let notify: Vec<&serde_json::Value> = j.iter().filter(|r| r["event"] == "notify").collect();
    assert_eq!(notify.len(), 6);
    for r in &notify {
        for k in [
            "notifyee",
            "phase",
            "status_in",
            "result",
            "duration_us",
            "op",
        ] {
            assert!(!r[k].is_null(), "journal record lacks {k}: {r}");
        }
    }
    let op = j.iter().find(|r| r["event"] == "operation").unwrap();
    assert_eq!(
        (
            op["op"].as_str(),
            op["result"].as_u64(),
            op["provider"].as_str()
        ),
        (Some("add"), Some(0), Some("acme"))
    );
}
