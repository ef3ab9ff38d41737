//! A private smbd of this test's own (same user database as the fixture,
//! another port and directories), stopped and started again under a live
//! back end; and a share that requires encryption, on a server that
//! requires signing. The fixture's shared smbd is never touched.

mod common;

use common::p;
use common::smbd::PrivateSmbd;
use mpr_fs::{Backend, ConnectError, FsError, OpenFlags};
use std::time::{Duration, Instant};

const CREATE: OpenFlags = OpenFlags {
    read: true,
    write: true,
    create: true,
    exclusive: false,
    truncate: false,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_server_is_disconnected_and_a_new_connect_heals() {
    let mut smbd = PrivateSmbd::new("reconnect");
    let b = smbd.backend("share");
    b.connect().await.unwrap();
    let (h, _) = b.open(&p("f"), CREATE).await.unwrap();
    b.write(&h, 0, b"before").await.unwrap();

    smbd.stop();
    // The next calls say the session is gone (never a plain I/O error),
    // promptly.
    let t = Instant::now();
    let e = b.stat(&p("f")).await.unwrap_err();
    assert!(matches!(e, FsError::Disconnected(_)), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(matches!(
        b.read(&h, 0, 10).await,
        Err(FsError::Disconnected(_))
    ));
    assert!(matches!(
        b.list(&mpr_fs::RelPath::root()).await,
        Err(FsError::Disconnected(_))
    ));
    assert!(!b.is_connected());
    // While it is down, a connect says why.
    assert!(matches!(
        b.connect().await,
        Err(FsError::Connect(ConnectError::Unreachable(_)))
    ));

    smbd.start();
    b.connect().await.unwrap();
    assert!(b.is_connected());
    assert_eq!(b.stat(&p("f")).await.unwrap().size, 6);
    // The old handle belonged to the old session.
    assert!(matches!(
        b.read(&h, 0, 10).await,
        Err(FsError::Disconnected(_))
    ));
    b.close(h).await.unwrap();
    let (h, _) = b.open(&p("f"), CREATE).await.unwrap();
    b.write(&h, 6, b" and after").await.unwrap();
    assert_eq!(b.read(&h, 0, 100).await.unwrap(), &b"before and after"[..]);
    b.close(h).await.unwrap();
}

/// The client says it can encrypt (`negotiate.rs` sets the capability bit
/// smb2 leaves clear), so Samba chooses a cipher: a share that requires
/// encryption is used encrypted (Samba refuses its tree connect and every
/// request that is not), and a share that does not stays signed only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_that_requires_encryption_is_used_encrypted() {
    let mut smbd = PrivateSmbd::new("enc");
    let plain = smbd.backend("share");
    plain.connect().await.unwrap();
    let info = plain.session_info().unwrap();
    assert_eq!(info.dialect, "Smb3_1_1", "{info:?}");
    assert!(info.signing_required, "{info:?}");
    assert_eq!(info.cipher.as_deref(), Some("Aes128Gcm"), "{info:?}");
    assert!(!info.encrypted, "{info:?}");
    plain.mkdir(&p("d")).await.unwrap();
    assert!(smbd.dir.join("share/d").is_dir());

    let enc = smbd.backend("enc");
    enc.connect().await.unwrap();
    let info = enc.session_info().unwrap();
    assert!(info.share_requires_encryption, "{info:?}");
    assert!(info.encrypted, "{info:?}");
    works_on(&enc, &smbd.dir.join("enc"), "sub").await;

    // A new session after the server came back is encrypted too (a new
    // connection, a new NEGOTIATE asking for it).
    smbd.stop();
    smbd.start();
    enc.connect().await.unwrap();
    assert!(enc.session_info().unwrap().encrypted);
    works_on(&enc, &smbd.dir.join("enc"), "again").await;
}

/// SMB 3.0.2 has no negotiate contexts: the capability alone asks for
/// encryption, and the cipher is AES-128-CCM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smb_3_0_2_encrypts_a_share_that_requires_it_with_aes_ccm() {
    let smbd = PrivateSmbd::with("enc302", "   server max protocol = SMB3_02");
    let enc = smbd.backend("enc");
    enc.connect().await.unwrap();
    let info = enc.session_info().unwrap();
    assert_eq!(info.dialect, "Smb3_0_2", "{info:?}");
    assert!(info.encrypted, "{info:?}");
    works_on(&enc, &smbd.dir.join("enc"), "sub").await;
}

/// A server that requires encryption of every session: the session
/// encrypts from its setup on, for a share that does not ask itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_requires_encryption_gets_an_encrypted_session() {
    let smbd = PrivateSmbd::with("encall", "   server smb encrypt = required");
    let b = smbd.backend("share");
    b.connect().await.unwrap();
    let info = b.session_info().unwrap();
    assert!(info.encrypted, "{info:?}");
    works_on(&b, &smbd.dir.join("share"), "sub").await;
}

/// A directory `sub`, a file of three requests' worth written and read
/// back, a listing, a rename: the share used for real, checked on the
/// server's disk.
async fn works_on(b: &mpr_smb::SmbBackend, dir: &std::path::Path, sub: &str) {
    let at = |name: &str| p(&format!("{sub}/{name}"));
    b.mkdir(&p(sub)).await.unwrap();
    let data: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let (h, _) = b.open(&at("f"), CREATE).await.unwrap();
    b.write(&h, 0, &data).await.unwrap();
    b.close(h).await.unwrap();
    assert_eq!(std::fs::read(dir.join(sub).join("f")).unwrap(), data);
    let (h, _) = b.open(&at("f"), CREATE).await.unwrap();
    assert_eq!(
        b.read(&h, 1 << 20, 2 << 20).await.unwrap(),
        &data[1 << 20..]
    );
    b.close(h).await.unwrap();
    let names: Vec<String> = b
        .list(&p(sub))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["f"]);
    b.rename(&at("f"), &at("g")).await.unwrap();
    assert!(dir.join(sub).join("g").is_file());
}
