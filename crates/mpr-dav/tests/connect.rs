//! The WebDAV handshake's answers against real servers: the shared
//! loopback `rclone serve webdav` and private ones (TLS with a private CA),
//! each failure with its exact `WN_*` code.

mod common;

use common::{PrivateDav, Servers, config_for, make_ca};
use mpr_dav::DavBackend;
use mpr_fs::handshake::Password;
use mpr_fs::testing::util::free_port;
use mpr_fs::{Backend, ConnectError, FsError, RelPath};

fn connect(cfg: mpr_dav::DavConfig) -> Result<(), FsError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { DavBackend::new(cfg)?.connect().await })
}

fn code(r: Result<(), FsError>) -> (u32, String) {
    match r {
        Err(FsError::Connect(e)) => (e.wn_code(), e.to_string()),
        other => panic!("expected a connect error, got {other:?}"),
    }
}

#[test]
fn the_right_password_connects_and_a_wrong_one_is_86() {
    let s = Servers::get();
    let staging = tempfile::tempdir().unwrap();
    connect(s.config("", staging.path())).expect("the fixture's login connects");
    let bad = config_for(
        false,
        s.port(),
        "",
        Some(Password::new("wrong".into())),
        staging.path(),
    );
    assert_eq!(code(connect(bad)).0, 86);
    let none = config_for(false, s.port(), "", None, staging.path());
    let (c, msg) = code(connect(none));
    assert_eq!(c, 1326, "{msg}");
}

#[test]
fn a_missing_path_is_67_and_a_file_is_not_a_share() {
    let s = Servers::get();
    let staging = tempfile::tempdir().unwrap();
    let (c, msg) = code(connect(s.config("no/such/dir", staging.path())));
    assert_eq!(c, 67, "{msg}");
    let name = format!("mpr-dav-connect-file-{}", std::process::id());
    std::fs::write(s.dir().join(&name), b"x").unwrap();
    let (c, msg) = code(connect(s.config(&name, staging.path())));
    let _ = std::fs::remove_file(s.dir().join(&name));
    assert_eq!(c, 67, "{msg}");
}

#[test]
fn a_closed_port_is_53() {
    let staging = tempfile::tempdir().unwrap();
    let cfg = config_for(false, free_port(), "", None, staging.path());
    let (c, msg) = code(connect(cfg));
    assert_eq!(c, 53, "{msg}");
    assert!(msg.contains("refused"), "{msg}");
}

#[test]
fn tls_with_a_private_ca_is_trusted_with_ca_file_and_refused_without() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_ca(dir.path(), "IP:127.0.0.1");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("hello.txt"), b"over TLS").unwrap();
    let server = PrivateDav::start(&root, Some((cert, key)));
    let s = Servers::get();
    let staging = tempfile::tempdir().unwrap();

    let mut cfg = config_for(true, server.port, "", Some(s.password()), staging.path());
    let (c, msg) = code(connect(cfg.clone()));
    assert_eq!(c, ConnectError::Identity(String::new()).wn_code(), "{msg}");
    assert!(msg.contains("not trusted"), "{msg}");
    assert!(
        msg.contains("ca_file"),
        "the message says what to do: {msg}"
    );

    cfg.ca_file = Some(ca.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let b = DavBackend::new(cfg.clone()).unwrap();
        b.connect().await.expect("trusted through ca_file");
        let names: Vec<String> = b
            .list(&RelPath::root())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["hello.txt"]);
    });

    // Plain HTTP to the TLS port, and TLS to a plain port: clear words.
    let plain = config_for(false, server.port, "", Some(s.password()), staging.path());
    assert!(connect(plain).is_err());
    let mut tls_to_plain = config_for(true, s.port(), "", Some(s.password()), staging.path());
    tls_to_plain.ca_file = Some(ca);
    let (c, msg) = code(connect(tls_to_plain));
    assert_eq!(c, ConnectError::Identity(String::new()).wn_code(), "{msg}");
    assert!(msg.contains("does not speak HTTPS"), "{msg}");
}

#[test]
fn tls_with_a_certificate_for_another_name_is_refused_with_that_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_ca(dir.path(), "DNS:elsewhere.example");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let server = PrivateDav::start(&root, Some((cert, key)));
    let staging = tempfile::tempdir().unwrap();
    let mut cfg = config_for(true, server.port, "", None, staging.path());
    cfg.ca_file = Some(ca);
    let (_, msg) = code(connect(cfg));
    assert!(msg.contains("not valid for the name 127.0.0.1"), "{msg}");
}

#[test]
fn a_ca_file_that_is_not_pem_is_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("ca.pem");
    std::fs::write(&bad, b"not a certificate").unwrap();
    let mut cfg = config_for(true, free_port(), "", None, dir.path());
    cfg.ca_file = Some(bad);
    let (_, msg) = code(connect(cfg));
    assert!(msg.contains("ca_file"), "{msg}");
}

#[test]
fn a_ca_file_that_is_a_fifo_or_a_directory_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ca.pem");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    for path in [fifo, dir.path().to_path_buf()] {
        let mut cfg = config_for(true, free_port(), "", None, dir.path());
        cfg.ca_file = Some(path);
        let started = std::time::Instant::now();
        let (_, msg) = code(connect(cfg));
        assert!(msg.contains("not a regular file"), "{msg}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
