//! Provider selection and error precedence (spec §6).

use crate::util::{Call, Env};

fn env2() -> Env {
    let e = Env::new();
    e.setup(&["alpha", "beta"], &[]);
    e
}

fn providers_called(e: &Env) -> Vec<String> {
    e.calls()
        .iter()
        .filter(|c| c.kind == 'P')
        .map(Call::short)
        .collect()
}

#[test]
fn explicit_provider_by_key_is_the_only_one_called() {
    let e = env2();
    e.behave("np-alpha.conf", "owns=beta\n");
    let r = e.mpr(&["use", "Z:", r"\\beta\x", "--provider", "beta", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(providers_called(&e), ["np:beta:add3"]);
}

#[test]
fn explicit_provider_by_display_name_ignores_case() {
    let e = env2();
    let r = e.mpr(&[
        "use",
        "Z:",
        r"\\beta\x",
        "--provider",
        "BETA network",
        "--json",
    ]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(r.json()["provider_name"], "Beta Network");
    assert_eq!(providers_called(&e), ["np:beta:add3"]);
}

#[test]
fn explicit_provider_that_refuses_is_not_cycled_past() {
    let e = env2();
    let r = e.mpr(&["use", "Z:", r"\\beta\x", "--provider", "alpha", "--json"]);
    assert_eq!(r.wn(), 67);
    assert_eq!(providers_called(&e), ["np:alpha:add3"]);
}

#[test]
fn empty_provider_string_means_cycling() {
    let e = env2();
    let r = e.mpr(&["use", "Z:", r"\\beta\x", "--provider", "", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(providers_called(&e), ["np:alpha:add3", "np:beta:add3"]);
}

#[test]
fn unknown_provider_is_wn_bad_provider() {
    let e = env2();
    let r = e.mpr(&["use", "Z:", r"\\beta\x", "--provider", "gamma", "--json"]);
    assert_eq!((r.code, r.wn()), (1, 1204));
    assert_eq!(r.json()["name"], "WN_BAD_PROVIDER");
    assert!(e.calls().is_empty());
}

#[test]
fn not_mine_answers_continue_in_order() {
    let e = env2();
    let r = e.mpr(&["use", "Z:", r"\\beta\x", "--json"]);
    assert_eq!(r.wn(), 0);
    assert_eq!(r.json()["provider"], "beta");
    assert_eq!(providers_called(&e), ["np:alpha:add3", "np:beta:add3"]);
    let first = &e.calls()[0];
    assert_eq!(first.get("ret"), "67");
}

#[test]
fn every_not_mine_answer_gives_wn_bad_netname() {
    let e = env2();
    let r = e.mpr(&["use", "Z:", r"\\gamma\x", "--json"]);
    assert_eq!(r.wn(), 67);
    assert_eq!(providers_called(&e).len(), 2);
}

#[test]
fn first_significant_error_wins_and_cycling_continues() {
    let e = env2();
    e.behave("np-alpha.conf", "owns=shared\nadd_result=86\n");
    e.behave("np-beta.conf", "owns=shared\nadd_result=5\n");
    let r = e.mpr(&["use", "Z:", r"\\shared\x", "--json"]);
    assert_eq!(r.wn(), 86, "{r:?}");
    assert_eq!(providers_called(&e), ["np:alpha:add3", "np:beta:add3"]);
}

#[test]
fn a_later_success_beats_an_earlier_significant_error() {
    let e = env2();
    e.behave("np-alpha.conf", "owns=shared\nadd_result=86\n");
    e.behave("np-beta.conf", "owns=shared\n");
    let r = e.mpr(&["use", "Z:", r"\\shared\x", "--json"]);
    assert_eq!(r.wn(), 0);
    assert_eq!(r.json()["provider"], "beta");
}

#[test]
fn no_network_without_a_taker_is_wn_no_net_or_bad_path() {
    let e = env2();
    e.behave("np-alpha.conf", "no_network=1\n");
    let r = e.mpr(&["use", "Z:", r"\\gamma\x", "--json"]);
    assert_eq!(r.wn(), 1203);
    assert_eq!(r.json()["name"], "WN_NO_NET_OR_BAD_PATH");
}

#[test]
fn cycling_stops_at_already_connected() {
    let e = env2();
    e.behave("np-alpha.conf", "owns=shared\nadd_result=85\n");
    e.behave("np-beta.conf", "owns=shared\n");
    assert_eq!(e.mpr(&["use", "Z:", r"\\shared\x", "--json"]).wn(), 85);
    assert_eq!(providers_called(&e), ["np:alpha:add3"]);
}

#[test]
fn extended_error_stops_cycling_and_carries_the_provider_text() {
    let e = env2();
    e.behave("np-alpha.conf", "owns=beta\next_error=4242\n");
    let r = e.mpr(&["use", "Z:", r"\\beta\x", "--json"]);
    assert_eq!(r.wn(), 1208, "{r:?}");
    let j = r.json();
    assert_eq!(j["extended"]["code"], 4242);
    assert_eq!(j["extended"]["provider"], "alpha");
    assert!(
        j["extended"]["text"]
            .as_str()
            .unwrap()
            .contains("extended detail"),
        "{j}"
    );
    assert!(r.stderr.contains("extended detail"), "{}", r.stderr);
    assert_eq!(providers_called(&e), ["np:alpha:add3"]);
}

#[test]
fn provider_without_add_capability_is_skipped() {
    let e = env2();
    e.behave("np-alpha.conf", "owns=beta\ncaps_connection=6\n");
    let r = e.mpr(&["use", "Z:", r"\\beta\x", "--json"]);
    assert_eq!(r.wn(), 0);
    assert_eq!(providers_called(&e), ["np:beta:add3"]);
}

#[test]
fn provider_with_only_npaddconnection_is_called_through_it() {
    let e = env2();
    e.behave("np-alpha.conf", "caps_connection=7\n");
    let r = e.mpr(&["use", "Z:", r"\\alpha\x", "--json"]);
    assert_eq!(r.wn(), 0);
    assert_eq!(providers_called(&e), ["np:alpha:add"]);
}

#[test]
fn cancel_goes_to_the_provider_that_connected() {
    let e = env2();
    assert_eq!(e.mpr(&["use", "Z:", r"\\beta\x", "--json"]).wn(), 0);
    e.clear_log();
    let r = e.mpr(&["use", "Z:", "--delete", "--json"]);
    assert_eq!(r.wn(), 0);
    assert_eq!(r.json()["provider"], "beta");
    assert_eq!(providers_called(&e), ["np:beta:cancel"]);
}

#[test]
fn cancel_of_an_unknown_name_is_wn_not_connected() {
    let e = env2();
    let r = e.mpr(&["use", "Q:", "--delete", "--json"]);
    assert_eq!(r.wn(), 2250);
    assert_eq!(
        providers_called(&e),
        ["np:alpha:cancel", "np:beta:cancel"],
        "unknown names are offered to every provider"
    );
}

#[test]
fn get_reflects_the_provider_truth() {
    let e = env2();
    assert_eq!(e.mpr(&["use", "Z:", r"\\beta\x", "--json"]).wn(), 0);
    assert_eq!(
        e.mpr(&["get", "Z:", "--json"]).json()["remote"],
        r"\\beta\x"
    );
    // The provider loses the connection behind mpr's back.
    std::fs::write(e.tdir().join("np-beta.state"), "").unwrap();
    let r = e.mpr(&["get", "Z:", "--json"]);
    assert_eq!(r.wn(), 1201, "{r:?}");
    let list = e.mpr(&["use", "--json"]).json();
    assert_eq!(list["connections"][0]["status"], "Unavailable");
    assert_eq!(e.mpr(&["get", "Y:", "--json"]).wn(), 2250);
}

#[test]
fn deviceless_connection_and_cancel_by_remote_name() {
    let e = env2();
    let r = e.mpr(&["use", r"\\beta\x", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(r.json()["local"], serde_json::Value::Null);
    let access = r.json()["access_name"].as_str().unwrap().to_string();
    assert!(access.ends_with("/unc/beta/x"), "{access}");
    let p = e
        .calls()
        .into_iter()
        .find(|c| c.kind == 'P' && c.get("ret") == "0")
        .unwrap();
    assert_eq!(p.get("local"), "(null)");
    assert_eq!(e.mpr(&["use", "//beta/x", "--delete", "--json"]).wn(), 0);
    assert_eq!(
        e.mpr(&["use", "--json"]).json()["connections"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn auto_pick_takes_the_highest_free_letter() {
    let e = env2();
    assert_eq!(e.mpr(&["use", "Z:", r"\\beta\one", "--json"]).wn(), 0);
    let r = e.mpr(&["use", "*", r"\\beta\two", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(r.json()["local"], "Y:");
}

#[test]
fn persistent_connections_are_remembered_and_forgotten_on_delete() {
    let e = env2();
    assert_eq!(
        e.mpr(&["use", "Z:", r"\\beta\x", "--persistent", "--json"])
            .wn(),
        0
    );
    assert_eq!(e.mpr(&["use", "Y:", r"\\beta\y", "--json"]).wn(), 0);
    let rem = e.mpr(&["list", "--remembered", "--json"]).json();
    let rows = rem["connections"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["local"].as_str(), rows[0]["provider"].as_str()),
        (Some("Z:"), Some("beta"))
    );
    let text = std::fs::read_to_string(e.path("state/remembered.toml")).unwrap();
    assert!(text.contains("beta") && !text.to_lowercase().contains("password"));
    assert_eq!(
        e.mpr(&["use", "Z:", "--delete", "--json"]).json()["forgotten"],
        true
    );
    assert_eq!(
        e.mpr(&["list", "--remembered", "--json"]).json()["connections"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn delete_forgets_a_remembered_connection_that_is_not_connected() {
    let e = env2();
    assert_eq!(
        e.mpr(&["use", "Z:", r"\\beta\x", "--persistent", "--json"])
            .wn(),
        0
    );
    assert_eq!(
        e.mpr(&["use", "Z:", "--delete", "--keep-remembered", "--json"])
            .wn(),
        0
    );
    let r = e.mpr(&["use", "Z:", "--delete", "--json"]);
    assert_eq!(r.wn(), 0, "{r:?}");
    assert_eq!(r.json()["forgotten"], true);
}

#[test]
fn password_reaches_the_provider_but_never_state_or_journal() {
    let e = env2();
    let r = e.mpr_stdin(
        &[
            "use",
            "Z:",
            r"\\beta\x",
            "--user",
            "bob",
            "--password-stdin",
            "--persistent",
            "--json",
        ],
        "S3cret-Pw\n",
    );
    assert_eq!(r.wn(), 0, "{r:?}");
    let add = e
        .calls()
        .into_iter()
        .find(|c| c.kind == 'P' && c.who == "beta")
        .unwrap();
    assert_eq!((add.get("user"), add.get("pwlen")), ("bob", "9"));
    for f in [
        "state/remembered.toml",
        "state/journal.jsonl",
        "run/connections.toml",
    ] {
        let text = std::fs::read_to_string(e.path(f)).unwrap();
        assert!(!text.contains("S3cret-Pw"), "{f} holds the password");
    }
    assert!(!r.stdout.contains("S3cret") && !r.stderr.contains("S3cret"));
    let op = e
        .journal()
        .into_iter()
        .rfind(|j| j["event"] == "operation")
        .unwrap();
    assert_eq!(
        (op["op"].as_str(), op["user"].as_str()),
        (Some("add"), Some("bob")),
        "{op}"
    );
}
