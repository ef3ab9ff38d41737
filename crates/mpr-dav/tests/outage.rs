//! A private `rclone serve webdav` stopped and started again under a live
//! mount: what is written before and during the outage lands once the
//! server is back (never a hole of zeros), reads and writes that need the
//! server wait within the bound or fail cleanly, and after the restart
//! everything works. (With `handles_survive_reconnect` false, the first
//! test finds exactly the bug of the earlier attempt: `hello`, zero bytes
//! where ` before staged` should be, then ` after`.)

mod common;

use common::{DavMount, PrivateDav, Servers, config_for};
use mpr_fs::fs::FsConfig;
use mpr_fs::health::Health;
use mpr_fs::testing::util::{errno, eventually, mount_config, noise};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::time::{Duration, Instant};

const EIO: i32 = 5;
/// The bound on one operation during an outage, in these tests.
const BOUND: Duration = Duration::from_secs(4);

fn mount_private(name: &str) -> (tempfile::TempDir, PrivateDav, DavMount) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(name);
    fs::create_dir(&root).unwrap();
    let server = PrivateDav::start(&root, None);
    let staging = tempfile::tempdir().unwrap();
    let cfg = config_for(
        false,
        server.port,
        "",
        Some(Servers::get().password()),
        staging.path(),
    );
    let m = DavMount::on(
        cfg,
        &root,
        FsConfig {
            op_timeout: BOUND,
            backoff_max: Duration::from_millis(500),
            ..mount_config()
        },
        staging,
    );
    (dir, server, m)
}

#[test]
fn writes_made_during_an_outage_land_after_the_restart() {
    let (_dir, mut server, m) = mount_private("outage");
    fs::write(m.at("r"), b"read me").unwrap();
    fs::write(m.at("f"), b"hello").unwrap();
    let mut f = OpenOptions::new().append(true).open(m.at("f")).unwrap();
    f.write_all(b" before").unwrap();
    server.stop();
    // Written during the outage: into the local copy, answered at once.
    let t0 = Instant::now();
    f.write_all(b" staged").unwrap();
    assert!(t0.elapsed() < BOUND, "a write needs no server");
    // The server comes back within the bound of the read and the fsync
    // that wait for it (a scoped thread: the server is killed at the end
    // of the test even if an assertion fails).
    std::thread::scope(|sc| {
        sc.spawn(|| {
            std::thread::sleep(Duration::from_millis(1000));
            server.restart();
        });
        // A read that needs the server waits for it, within the bound.
        let t0 = Instant::now();
        // (By another process, as programs use a drive: a call of this
        // process waiting on the mount its own threads serve was seen to
        // hold up the server's restart.)
        let out = std::process::Command::new("cat")
            .arg(m.at("r"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(out.stdout, b"read me");
        assert!(
            t0.elapsed() < BOUND + Duration::from_secs(10),
            "{:?}",
            t0.elapsed()
        );
        f.sync_all()
            .expect("the fsync waits for the server, within the bound");
    });
    f.write_all(b" after").unwrap();
    drop(f);
    assert_eq!(
        fs::read(m.server("f")).unwrap(),
        b"hello before staged after",
        "nothing lost, no zeros"
    );
    assert!(eventually(BOUND + Duration::from_secs(10), || m
        .fs()
        .health()
        == Health::Ok));
    // Everything works again.
    fs::write(m.at("g"), b"new").unwrap();
    assert_eq!(fs::read(m.at("g")).unwrap(), b"new");
    drop(server);
}

#[test]
fn an_outage_longer_than_the_bound_fails_cleanly_and_loses_nothing_written() {
    let (_dir, mut server, m) = mount_private("long-outage");
    fs::write(m.at("f"), b"hello").unwrap();
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(m.at("f"))
        .unwrap();
    server.stop();
    f.write_all(b"HELLO staged").unwrap();
    // The fsync cannot reach the server: it fails within the bound (plus
    // generous slack), with EIO.
    let t0 = Instant::now();
    let e = f.sync_all().unwrap_err();
    assert_eq!(errno(&e), EIO, "{e}");
    assert!(
        t0.elapsed() < BOUND + Duration::from_secs(10),
        "{:?}",
        t0.elapsed()
    );
    // A read of a file not open yet needs the server: it fails cleanly too.
    let e = fs::read(m.at("other")).unwrap_err();
    assert!(errno(&e) == EIO || errno(&e) == 2, "{e}");
    server.restart();
    // The descriptor still holds the write; the next fsync uploads it.
    f.sync_all().expect("uploaded once the server is back");
    drop(f);
    assert_eq!(fs::read(m.server("f")).unwrap(), b"HELLO staged");
    assert!(eventually(BOUND + Duration::from_secs(10), || m
        .fs()
        .health()
        == Health::Ok));
}

#[test]
fn a_stream_cut_by_the_servers_restart_reads_on_with_the_servers_bytes() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let (dir, mut server, m) = mount_private("stream-outage");
    let data = noise((16 << 20) + 4321, 1);
    fs::write(m.server("big"), &data).unwrap();
    // One descriptor, in another process (see above): 4 MiB read in
    // order (its stream is live), then, once told, the rest.
    let (head, tail) = (dir.path().join("head"), dir.path().join("tail"));
    let mut reader = Command::new("sh")
        .arg("-c")
        .arg(
            r#"exec 3<"$1" && dd bs=1M count=4 iflag=fullblock of="$2" <&3 2>/dev/null \
               && echo ready && read go && cat <&3 >"$3""#,
        )
        .arg("sh")
        .arg(m.at("big"))
        .arg(&head)
        .arg(&tail)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(reader.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    // The server goes (the stream's connection with it) and comes back;
    // the reads after it wait for it, within the bound.
    server.stop();
    std::thread::scope(|sc| {
        sc.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            server.restart();
        });
        let t0 = Instant::now();
        writeln!(reader.stdin.take().unwrap(), "go").unwrap();
        let st = reader.wait().unwrap();
        assert!(st.success(), "the reader: {st}");
        assert!(
            t0.elapsed() < BOUND + Duration::from_secs(10),
            "{:?}",
            t0.elapsed()
        );
    });
    let mut got = fs::read(&head).unwrap();
    got.extend(fs::read(&tail).unwrap());
    assert_eq!(got.len(), data.len());
    assert!(got == data, "not the server's bytes");
}
