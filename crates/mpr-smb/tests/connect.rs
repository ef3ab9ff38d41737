//! The connect against the real smbd: what succeeds and the exact reason
//! of each failure.

mod common;

use common::{Servers, p};
use mpr_fs::handshake::Password;
use mpr_fs::{Backend, ConnectError, FsError};
use mpr_smb::SmbBackend;
use std::time::{Duration, Instant};

async fn connect_err(backend: &SmbBackend) -> ConnectError {
    match backend.connect().await {
        Err(FsError::Connect(e)) => e,
        other => panic!("expected a connect error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_with_smb_3_1_1_and_signing() {
    let s = Servers::get();
    let b = SmbBackend::new(s.config(""));
    let t = Instant::now();
    b.connect().await.unwrap();
    let took = t.elapsed();
    let info = b.session_info().unwrap();
    assert_eq!(info.dialect, "Smb3_1_1", "{info:?}");
    assert!(b.stat(&mpr_fs::RelPath::root()).await.unwrap().kind == mpr_fs::FileKind::Directory);
    assert!(took < Duration::from_secs(2), "connect took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_bad_password() {
    let s = Servers::get();
    let mut c = s.config("");
    c.password = Password::new("not-the-password".into());
    assert_eq!(
        connect_err(&SmbBackend::new(c)).await,
        ConnectError::BadPassword
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_user_is_bad_password() {
    // Samba answers STATUS_LOGON_FAILURE for an unknown name too, so that
    // names cannot be probed.
    let s = Servers::get();
    let mut c = s.config("");
    c.user = "no-such-user-here".into();
    assert_eq!(
        connect_err(&SmbBackend::new(c)).await,
        ConnectError::BadPassword
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_share_is_no_such_share() {
    let s = Servers::get();
    let mut c = s.config("");
    c.share = "no-such-share".into();
    let e = connect_err(&SmbBackend::new(c)).await;
    assert!(matches!(e, ConnectError::NoSuchShare(_)), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_base_path_is_no_such_share() {
    let s = Servers::get();
    let e = connect_err(&SmbBackend::new(s.config("no/such/dir"))).await;
    assert!(matches!(e, ConnectError::NoSuchShare(_)), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_path_that_is_a_file_is_no_such_share() {
    let scratch = common::Scratch::new("basefile").await;
    let (h, _) = scratch
        .backend
        .open(
            &p("f"),
            mpr_fs::OpenFlags {
                write: true,
                create: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    scratch.backend.close(h).await.unwrap();
    let base = format!("{}/f", scratch.dir.file_name().unwrap().to_str().unwrap());
    let e = connect_err(&SmbBackend::new(scratch.servers.config(&base))).await;
    assert!(matches!(e, ConnectError::NoSuchShare(_)), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_unreachable_at_once() {
    let s = Servers::get();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut c = s.config("");
    c.port = port;
    let t = Instant::now();
    let e = connect_err(&SmbBackend::new(c)).await;
    assert!(matches!(e, ConnectError::Unreachable(_)), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_host_is_unreachable() {
    let s = Servers::get();
    let mut c = s.config("");
    c.host = "no-such-host.invalid".into();
    let e = connect_err(&SmbBackend::new(c)).await;
    assert!(matches!(e, ConnectError::Unreachable(_)), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_unreachable_within_the_bound() {
    // A listener that never answers the negotiate.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let s = Servers::get();
    let mut c = s.config("");
    c.port = l.local_addr().unwrap().port();
    c.connect_timeout = Duration::from_secs(1);
    let t = Instant::now();
    let e = connect_err(&SmbBackend::new(c)).await;
    assert!(matches!(e, ConnectError::Unreachable(_)), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    drop(l);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_before_connect_are_disconnected() {
    let s = Servers::get();
    let b = SmbBackend::new(s.config(""));
    assert!(matches!(
        b.stat(&mpr_fs::RelPath::root()).await,
        Err(FsError::Disconnected(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connect_errors_carry_the_routers_codes() {
    let s = Servers::get();
    let mut c = s.config("");
    c.password = Password::new("wrong".into());
    let e = connect_err(&SmbBackend::new(c)).await;
    assert_eq!(e.wn_code(), 86);
    let mut c = s.config("");
    c.share = "nope".into();
    assert_eq!(connect_err(&SmbBackend::new(c)).await.wn_code(), 67);
}
