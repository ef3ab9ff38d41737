//! What `mpr` does on a terminal and what it does not do elsewhere: colour
//! (`--color`, `NO_COLOR`), the progress spinner, the password prompt.

use crate::tty::Tty;
use crate::util::Env;

const ESC: &str = "\x1b[";

fn env_acme() -> Env {
    let e = Env::new();
    e.setup(&["acme"], &[]);
    e
}

fn connected() -> Env {
    let e = env_acme();
    assert_eq!(e.mpr(&["use", "Z:", r"\\acme\s", "--json"]).wn(), 0);
    e
}

#[test]
fn status_column_is_coloured_on_a_terminal() {
    let e = connected();
    let (code, out) = Tty::spawn(&e, &["use"], &[]).finish();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\x1b[32mOK\x1b[0m"), "OK is green: {out:?}");
    // NO_COLOR set but empty does not turn colour off.
    let (_, out) = Tty::spawn(&e, &["use"], &[("NO_COLOR", "")]).finish();
    assert!(out.contains("\x1b[32mOK"), "{out:?}");
}

#[test]
fn no_color_and_color_never_turn_colour_off_on_a_terminal() {
    let e = connected();
    for (args, extra) in [
        (vec!["use"], vec![("NO_COLOR", "1")]),
        (vec!["use", "--color=never"], vec![]),
        (vec!["--color", "never", "list"], vec![]),
    ] {
        let (code, out) = Tty::spawn(&e, &args, &extra).finish();
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("OK"), "{out:?}");
        assert!(!out.contains(ESC), "{args:?} {extra:?}: {out:?}");
    }
    // Errors are red on a terminal, plain with NO_COLOR.
    let (code, out) = Tty::spawn(&e, &["get", "Q:"], &[]).finish();
    assert_eq!(code, 1);
    assert!(
        out.contains("\x1b[1;31merror 2250 (WN_NOT_CONNECTED)\x1b[0m"),
        "{out:?}"
    );
    let (_, out) = Tty::spawn(&e, &["get", "Q:"], &[("NO_COLOR", "yes")]).finish();
    assert!(
        out.contains("mpr: error 2250 (WN_NOT_CONNECTED)") && !out.contains(ESC),
        "{out:?}"
    );
}

#[test]
fn no_colour_in_pipes_unless_always() {
    let e = connected();
    let r = e.mpr(&["use"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("OK") && !r.stdout.contains(ESC), "{r:?}");
    let r = e.mpr(&["get", "Q:"]);
    assert!(!r.stderr.contains(ESC), "{r:?}");
    let r = e.mpr(&["use", "--color=always"]);
    assert!(r.stdout.contains("\x1b[32mOK\x1b[0m"), "{r:?}");
    // --color=always beats NO_COLOR (a flag on this command line is more
    // specific than the environment).
    let r: crate::util::Run = e
        .command()
        .args(["get", "Q:", "--color=always"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
        .into();
    assert!(r.stderr.contains("\x1b[1;31merror 2250"), "{r:?}");
    // JSON is never coloured.
    let r = e.mpr(&["use", "--json", "--color=always"]);
    assert!(!r.stdout.contains(ESC), "{r:?}");
    assert_eq!(r.wn(), 0);
}

#[test]
fn a_slow_connect_shows_a_spinner_naming_the_provider() {
    let e = env_acme();
    e.behave("np-acme.conf", "delay_ms=1200\n");
    let (code, out) = Tty::spawn(&e, &["use", "Z:", r"\\acme\s"], &[]).finish();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(r"Connecting Z: to \\acme\s (trying Acme Network)"),
        "{out:?}"
    );
    assert!(
        out.contains("\r\x1b[2K"),
        "the spinner line is erased: {out:?}"
    );
    assert!(out.contains(r"Z: is now connected to \\acme\s"), "{out:?}");
}

#[test]
fn a_quick_connect_shows_no_spinner() {
    let e = env_acme();
    let (code, out) = Tty::spawn(&e, &["use", "Z:", r"\\acme\s"], &[]).finish();
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("Connecting"), "{out:?}");
}

#[test]
fn a_slow_restore_shows_a_spinner() {
    let e = env_acme();
    assert_eq!(
        e.mpr(&["use", "Y:", r"\\acme\r", "--persistent", "--json"])
            .wn(),
        0
    );
    // Forget the live connection (the provider's too), keep the remembered one.
    std::fs::remove_file(e.path("run/connections.toml")).unwrap();
    let _ = std::fs::remove_file(e.tdir().join("np-acme.state"));
    e.behave("np-acme.conf", "delay_ms=1000\n");
    let (code, out) = Tty::spawn(&e, &["restore"], &[]).finish();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Restoring remembered connections"), "{out:?}");
    assert!(out.contains("Y: is connected again"), "{out:?}");
}

#[test]
fn no_spinner_when_stderr_is_not_a_terminal() {
    let e = env_acme();
    e.behave("np-acme.conf", "delay_ms=800\n");
    let r = e.mpr(&["use", "Z:", r"\\acme\s"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        !r.stderr.contains("Connecting") && !r.stderr.contains(ESC),
        "{r:?}"
    );
}

#[test]
fn interactive_asks_without_echo_on_the_terminal() {
    let e = env_acme();
    let mut t = Tty::spawn(
        &e,
        &["use", "Z:", r"\\acme\s", "--user", "bob", "--interactive"],
        &[],
    );
    t.expect(r"Password for bob on \\acme\s: ");
    t.type_text("Typed-Secret-77\n");
    let (code, out) = t.finish();
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("Typed-Secret-77"), "echoed: {out:?}");
    let add = e
        .calls()
        .into_iter()
        .find(|c| c.kind == 'P' && c.op == "add3")
        .expect("the provider was called");
    assert_eq!((add.get("user"), add.get("pwlen")), ("bob", "15"));
    let flags: u32 = add.get("flags").parse().unwrap();
    assert_ne!(flags & 0x8, 0, "CONNECT_INTERACTIVE is set: {flags:#x}");
    let journal = std::fs::read_to_string(e.path("state/journal.jsonl")).unwrap();
    assert!(!journal.contains("Typed-Secret-77"));
}

#[test]
fn interactive_without_a_terminal_is_a_usage_error() {
    let e = env_acme();
    let r = e.mpr(&["use", "Z:", r"\\acme\s", "--interactive"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("needs a terminal"), "{}", r.stderr);
    assert!(e.calls().is_empty(), "nothing was attempted");
    let r = e.mpr(&["use", "Z:", r"\\acme\s", "--interactive", "--json"]);
    assert_eq!(r.code, 2, "{r:?}");
    // --interactive and --password-stdin exclude each other.
    let r = e.mpr_stdin(
        &[
            "use",
            "Z:",
            r"\\acme\s",
            "--interactive",
            "--password-stdin",
        ],
        "x\n",
    );
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn ctrl_c_at_the_prompt_restores_echo() {
    let e = env_acme();
    // `stty -a` after mpr, in the same terminal, shows whether echo is on.
    let mpr = env!("CARGO_BIN_EXE_mpr");
    // A trap makes sh wait for mpr and go on; mpr itself gets the default
    // disposition of SIGINT.
    let script = format!(
        "trap 'true' INT; '{mpr}' use Z: '\\\\acme\\s' --interactive; echo \"status=$?\"; stty -a"
    );
    let mut t = Tty::spawn_program(&e, "sh", &["-c", &script]);
    t.expect("Password for");
    t.type_text("\x03");
    let (_, out) = t.finish();
    assert!(out.contains("status=130"), "{out:?}");
    let stty = &out[out.find("status=130").unwrap()..];
    assert!(
        stty.contains(" echo ") || stty.contains(" echo\r") || stty.contains("\techo"),
        "echo is back on: {stty:?}"
    );
    assert!(!stty.contains("-echo "), "echo is back on: {stty:?}");
    assert!(e.calls().is_empty());
}
