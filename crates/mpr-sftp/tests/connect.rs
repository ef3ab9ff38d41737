//! The connect against real sshds: what succeeds, the exact reason of each
//! failure, a changed host key, and a second connection riding the first
//! one's control master.

mod common;

use common::sshd::PrivateSshd;
use common::{Client, Servers, p};
use mpr_fs::{Backend, ConnectError, FileKind, FsError};
use mpr_sftp::SftpBackend;
use std::time::{Duration, Instant};

async fn connect_err(backend: &SftpBackend) -> ConnectError {
    match backend.connect().await {
        Err(FsError::Connect(e)) => e,
        other => panic!("expected a connect error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_and_resolves_the_base_directory() {
    let s = Servers::get();
    let c = Client::new(&s);
    // Relative to the home directory, as a UNC name gives it.
    let b = SftpBackend::new(c.config(s.port(), "export"));
    b.connect().await.unwrap();
    assert_eq!(b.base().unwrap(), s.var("MPR_TEST_SSH_EXPORT"));
    let root = b.stat(&mpr_fs::RelPath::root()).await.unwrap();
    assert_eq!(root.kind, FileKind::Directory);
    b.list(&mpr_fs::RelPath::root()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_directory_is_no_such_share() {
    let s = Servers::get();
    let c = Client::new(&s);
    let b = SftpBackend::new(c.config(s.port(), "no-such-dir-here"));
    let e = connect_err(&b).await;
    assert!(matches!(e, ConnectError::NoSuchShare(_)), "{e:?}");
    assert_eq!(e.wn_code(), 67);
    // A file is not a directory either.
    let b = SftpBackend::new(c.config(s.port(), "/etc/hostname"));
    assert_eq!(connect_err(&b).await.wn_code(), 67);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_unreachable() {
    let s = Servers::get();
    let c = Client::new(&s);
    let port = common::free_port();
    let e = connect_err(&SftpBackend::new(c.config(port, ""))).await;
    assert_eq!(e.wn_code(), 53, "{e:?}");
    assert!(e.to_string().contains("Connection refused"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_key_is_a_logon_failure() {
    let s = Servers::get();
    let c = Client::new(&s);
    let mut cfg = c.config(s.port(), "");
    cfg.user = Some("nobody-of-ours".into());
    let e = connect_err(&SftpBackend::new(cfg)).await;
    assert_eq!(e.wn_code(), 1326, "{e:?}");
    assert!(e.to_string().contains("refused the login"), "{e}");
}

/// The server's host key changes (a new sshd with a new key on the same
/// address): the connect says so (1208 with the reason), whatever the
/// control master directory holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_host_key_is_its_own_error() {
    let s = Servers::get();
    let mut sshd = PrivateSshd::start(&s);
    let c = sshd.client(&s);
    let b = SftpBackend::new(sshd.config(&c));
    b.connect().await.unwrap();
    b.disconnect();
    sshd.stop();
    sshd.new_host_key();
    sshd.again();
    let b = SftpBackend::new(sshd.config(&c));
    let e = connect_err(&b).await;
    assert!(matches!(e, ConnectError::HostKey(_)), "{e:?}");
    assert_eq!(e.wn_code(), 1208);
    assert!(
        e.to_string()
            .contains("is unknown or has changed; check it with ssh first"),
        "{e}"
    );
}

/// A second connection to the same host as the same user rides the
/// first one's master: the server sees one SSH connection, and the second
/// connect skips the handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connection_reuses_the_control_master() {
    let s = Servers::get();
    let sshd = PrivateSshd::start(&s);
    let c = sshd.client(&s);
    let first = SftpBackend::new(sshd.config(&c));
    let t = Instant::now();
    first.connect().await.unwrap();
    let fresh = t.elapsed();
    assert_eq!(sshd.sessions().len(), 1, "one SSH connection");
    let masters: Vec<_> = std::fs::read_dir(c.control_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("ssh-"))
        .collect();
    assert_eq!(masters.len(), 1, "one control socket");

    let second = SftpBackend::new(sshd.config(&c));
    let t = Instant::now();
    second.connect().await.unwrap();
    let reused = t.elapsed();
    assert_eq!(
        sshd.sessions().len(),
        1,
        "the second connection made no new SSH connection"
    );
    eprintln!("fresh connect {fresh:?}, over the master {reused:?}");
    assert!(reused < fresh, "fresh {fresh:?}, reused {reused:?}");
    // Both work, side by side.
    std::fs::write(sshd.served("f"), b"hello").unwrap();
    assert_eq!(first.stat(&p("f")).await.unwrap().size, 5);
    assert_eq!(second.stat(&p("f")).await.unwrap().size, 5);
    // The first one gone, the second keeps working.
    first.disconnect();
    assert_eq!(
        second.list(&mpr_fs::RelPath::root()).await.unwrap().len(),
        1
    );
}

/// The cipher the server logged for the connection from the client.
fn client_cipher(log: &str) -> Option<String> {
    log.lines()
        .find_map(|l| l.split("kex: client->server cipher: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(String::from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aes_gcm_is_preferred_where_the_processor_has_it() {
    let s = Servers::get();
    let sshd = PrivateSshd::start(&s);
    let c = sshd.client(&s);
    let cfg = sshd.config(&c);
    // The test's ssh configuration names no ciphers: the order depends on
    // the processor alone.
    let want = match cfg.ciphers {
        Some(_) => "aes128-gcm@openssh.com",
        None => "chacha20-poly1305@openssh.com",
    };
    let b = SftpBackend::new(cfg);
    b.connect().await.unwrap();
    assert_eq!(
        client_cipher(&sshd.log()).as_deref(),
        Some(want),
        "{}",
        sshd.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cipher_order_ssh_refuses_is_dropped_and_the_connect_goes_on() {
    let s = Servers::get();
    let sshd = PrivateSshd::start(&s);
    let c = sshd.client(&s);
    let mut cfg = sshd.config(&c);
    // As an ssh built without AES-GCM (or older than `^`) answers.
    cfg.ciphers = Some("^no-such-cipher@example.com".into());
    let b = SftpBackend::new(cfg);
    b.connect().await.unwrap();
    assert_eq!(
        client_cipher(&sshd.log()).as_deref(),
        Some("chacha20-poly1305@openssh.com"),
        "ssh's own default"
    );
    b.list(&mpr_fs::RelPath::root()).await.unwrap();
}

/// The `STAT` (17) and `LSTAT` (7) requests in a record of what a client
/// sent to ssh, in order: the request's type and path.
fn stat_requests(sent: &[u8]) -> Vec<(u8, String)> {
    let u32_at = |b: &[u8], i: usize| u32::from_be_bytes(b[i..i + 4].try_into().unwrap()) as usize;
    let mut out = Vec::new();
    let mut at = 0;
    while at + 5 <= sent.len() {
        let len = u32_at(sent, at);
        let body = &sent[at + 4..(at + 4 + len).min(sent.len())];
        if matches!(body[0], 7 | 17) && body.len() >= 9 {
            let n = u32_at(body, 5);
            out.push((
                body[0],
                String::from_utf8_lossy(&body[9..9 + n]).into_owned(),
            ));
        }
        at += 4 + len;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_name_costs_one_request_and_a_link_two() {
    let s = Servers::get();
    let sshd = PrivateSshd::start(&s);
    let c = sshd.client(&s);
    // ssh behind a wrapper that keeps what the client sends it.
    let sent = c.control_dir().with_file_name("sent.bin");
    let wrapper = c.control_dir().with_file_name("ssh-tee");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\ntee -a {} | ssh \"$@\"\n", sent.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut cfg = sshd.config(&c);
    cfg.ssh_program = wrapper;
    let b = SftpBackend::new(cfg);
    b.connect().await.unwrap();
    std::fs::write(sshd.served("target"), b"x").unwrap();
    std::os::unix::fs::symlink("target", sshd.served("link")).unwrap();
    let asked = |name: &str| -> Vec<u8> {
        let full = sshd.served(name).display().to_string();
        stat_requests(&std::fs::read(&sent).unwrap())
            .into_iter()
            .filter(|(_, p)| *p == full)
            .map(|(t, _)| t)
            .collect()
    };
    const LSTAT: u8 = 7;
    const STAT: u8 = 17;
    assert!(matches!(
        b.stat(&p("missing")).await,
        Err(FsError::NotFound)
    ));
    assert_eq!(asked("missing"), [LSTAT]);
    assert_eq!(b.stat(&p("target")).await.unwrap().size, 1);
    assert_eq!(asked("target"), [LSTAT]);
    // A link shows as what it points at: its own entry, then the target.
    assert_eq!(b.stat(&p("link")).await.unwrap().size, 1);
    assert_eq!(asked("link"), [LSTAT, STAT]);
    b.disconnect();
}

/// The server restarts: the master died with its connection, its socket
/// may be left behind; the next connect starts a new master.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_after_the_server_restarted_makes_a_new_master() {
    let s = Servers::get();
    let mut sshd = PrivateSshd::start(&s);
    let c = sshd.client(&s);
    let b = SftpBackend::new(sshd.config(&c));
    b.connect().await.unwrap();
    sshd.stop();
    let e = b.stat(&p("x")).await.unwrap_err();
    assert!(matches!(e, FsError::Disconnected(_)), "{e:?}");
    assert_eq!(connect_err(&b).await.wn_code(), 53);
    sshd.again();
    let t = Instant::now();
    b.connect().await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(sshd.sessions().len(), 1);
    std::fs::write(sshd.served("g"), b"x").unwrap();
    assert_eq!(b.stat(&p("g")).await.unwrap().size, 1);
}
