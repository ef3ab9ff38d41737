//! The back end against a scripted server, for what the real one does only
//! now and then.

use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::AtomicUsize;

/// The one file's content and version number, once it exists.
type File = Arc<Mutex<Option<(Vec<u8>, usize)>>>;

/// A server holding one file, `f`, whose `PUT` answers carry an ETag that
/// is never the file's (as a server that takes it from a `stat` made before
/// the file is final may do) while `PROPFIND` tells the real one. Counts
/// the `PUT`s it stores; takes chunked bodies when `chunked`, and answers
/// them `411 Length Required` (and hangs up) otherwise. Its port, the
/// count and the file.
fn server_with_early_etags(chunked: bool) -> (u16, Arc<AtomicUsize>, File) {
    scripted_server(chunked, Arc::default())
}

/// As [`server_with_early_etags`]; while `hang` is set, a `PUT` with a body
/// is read and then neither answered nor stored (a server that stalls).
fn scripted_server(chunked: bool, hang: Arc<AtomicBool>) -> (u16, Arc<AtomicUsize>, File) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let puts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&puts);
    let file: File = Arc::default();
    let held = Arc::clone(&file);
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let (file, puts) = (Arc::clone(&file), Arc::clone(&counted));
            let hang = Arc::clone(&hang);
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut w = conn;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let method = line.split(' ').next().unwrap_or("").to_string();
                    let mut len = 0usize;
                    let mut in_chunks = false;
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).unwrap();
                        if h.trim().is_empty() {
                            break;
                        }
                        let h = h.to_ascii_lowercase();
                        if let Some(v) = h.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                        in_chunks |= h.starts_with("transfer-encoding:") && h.contains("chunked");
                    }
                    let mut body = vec![0u8; len];
                    r.read_exact(&mut body).unwrap();
                    if in_chunks && !chunked {
                        let _ = w.write_all(b"HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        return;
                    }
                    while in_chunks {
                        let mut size = String::new();
                        r.read_line(&mut size).unwrap();
                        let n = usize::from_str_radix(size.trim(), 16).unwrap();
                        let mut chunk = vec![0u8; n + 2];
                        r.read_exact(&mut chunk).unwrap();
                        body.extend_from_slice(&chunk[..n]);
                        in_chunks = n > 0;
                    }
                    if method == "PUT" && !body.is_empty() && hang.load(Ordering::SeqCst) {
                        // Until the client gives up and hangs up.
                        let _ = r.read_line(&mut String::new());
                        return;
                    }
                    let mut f = file.lock().unwrap();
                    let (status, headers, text) = match (method.as_str(), f.as_ref()) {
                        ("PUT", _) => {
                            let version = f.as_ref().map_or(1, |(_, v)| v + 1);
                            *f = Some((body, version));
                            puts.fetch_add(1, Ordering::SeqCst);
                            (
                                "201 Created",
                                format!("ETag: \"early-{version}\"\r\n"),
                                String::new(),
                            )
                        }
                        ("GET", Some((content, _))) => (
                            "200 OK",
                            String::new(),
                            String::from_utf8_lossy(content).into_owned(),
                        ),
                        ("PROPFIND", Some((content, version))) => (
                            "207 Multi-Status",
                            "Content-Type: application/xml\r\n".to_string(),
                            format!(
                                r#"<?xml version="1.0"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/f</D:href><D:propstat><D:prop><D:resourcetype/><D:getcontentlength>{}</D:getcontentlength><D:getetag>"final-{version}"</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>"#,
                                content.len()
                            ),
                        ),
                        _ => ("404 Not Found", String::new(), String::new()),
                    };
                    drop(f);
                    let answer = format!(
                        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n{text}",
                        text.len()
                    );
                    if w.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, puts, held)
}

/// A back end on the scripted server at `port`, and its staging directory.
fn backend_on(port: u16) -> (DavBackend, tempfile::TempDir) {
    let staging = tempfile::tempdir().unwrap();
    let backend = DavBackend::new(DavConfig {
        base: Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap(),
        user: None,
        password: None,
        ca_file: None,
        staging_dir: staging.path().to_path_buf(),
        connect_timeout: Duration::from_secs(5),
    })
    .unwrap();
    (backend, staging)
}

/// `open(O_WRONLY | O_CREAT | O_TRUNC)`.
const NEW: OpenFlags = OpenFlags {
    read: false,
    write: true,
    create: true,
    exclusive: false,
    truncate: true,
};

fn content(file: &File) -> Vec<u8> {
    file.lock().unwrap().as_ref().unwrap().0.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_file_is_uploaded_whatever_etag_its_creation_was_answered_with() {
    let (port, puts, file) = server_with_early_etags(true);
    let (backend, _staging) = backend_on(port);
    let path = RelPath::new("f").unwrap();
    let flags = NEW;
    let (h, _) = backend.open(&path, flags).await.unwrap();
    backend.write(&h, 0, b"new content").await.unwrap();
    // Uploaded at flush, and again after more is written: neither is
    // taken for a colleague's change.
    backend.flush(&h).await.unwrap();
    backend.write(&h, 11, b", more").await.unwrap();
    backend.close(h).await.unwrap();
    assert_eq!(puts.load(Ordering::SeqCst), 3, "created, then two uploads");
    assert_eq!(content(&file), b"new content, more");
    // A file larger than one piece of the upload arrives whole, with its
    // length stated.
    let big: Vec<u8> = (0..3_500_000u32).map(|i| (i % 253) as u8).collect();
    let (h, _) = backend.open(&path, flags).await.unwrap();
    backend.write(&h, 0, &big).await.unwrap();
    backend.close(h).await.unwrap();
    assert_eq!(content(&file), big);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_file_written_in_order_is_uploaded_while_it_is_written() {
    let (port, puts, file) = server_with_early_etags(true);
    let (backend, _staging) = backend_on(port);
    let path = RelPath::new("f").unwrap();
    let (h, _) = backend.open(&path, NEW).await.unwrap();
    assert_eq!(puts.load(Ordering::SeqCst), 1, "created");
    // Pieces landing out of order, as the file system's queue lets them.
    let piece = |i: u8| vec![i; 300_000];
    backend.write(&h, 0, &piece(1)).await.unwrap();
    backend.write(&h, 600_000, &piece(3)).await.unwrap();
    backend.write(&h, 300_000, &piece(2)).await.unwrap();
    assert!(
        h.inner.early.lock().unwrap().is_some(),
        "an upload under way"
    );
    backend.flush(&h).await.unwrap();
    assert_eq!(puts.load(Ordering::SeqCst), 2, "one upload, at once");
    let want: Vec<u8> = [piece(1), piece(2), piece(3)].concat();
    assert_eq!(content(&file), want);
    backend.close(h).await.unwrap();
    assert_eq!(puts.load(Ordering::SeqCst), 2, "nothing left to upload");

    // An existing file cut by its open is uploaded at the flush, as before
    // (a colleague's save meanwhile is a conflict then).
    let (h, _) = backend.open(&path, NEW).await.unwrap();
    backend.write(&h, 0, b"cut").await.unwrap();
    assert!(h.inner.early.lock().unwrap().is_none());
    backend.close(h).await.unwrap();
    assert_eq!(content(&file), b"cut");

    // A new file whose first bytes are written again after they may have
    // been sent, with a gap never written: the server still ends with
    // exactly the file.
    let (port, _, file) = server_with_early_etags(true);
    let (backend, _staging) = backend_on(port);
    let (h, _) = backend.open(&path, NEW).await.unwrap();
    backend.write(&h, 0, &piece(4)).await.unwrap();
    assert!(h.inner.early.lock().unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(50)).await;
    backend.write(&h, 0, b"again").await.unwrap();
    backend.write(&h, 700_000, b"end").await.unwrap();
    backend.close(h).await.unwrap();
    let mut want = piece(4);
    want[..5].copy_from_slice(b"again");
    want.resize(700_000, 0);
    want.extend_from_slice(b"end");
    assert_eq!(content(&file), want);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_refuses_chunked_bodies_gets_the_file_whole_and_is_not_asked_again() {
    let (port, puts, file) = server_with_early_etags(false);
    let (backend, _staging) = backend_on(port);
    let path = RelPath::new("f").unwrap();
    let (h, _) = backend.open(&path, NEW).await.unwrap();
    backend.write(&h, 0, b"first").await.unwrap();
    assert!(h.inner.early.lock().unwrap().is_some());
    backend.close(h).await.unwrap();
    assert_eq!(content(&file), b"first");
    assert_eq!(
        puts.load(Ordering::SeqCst),
        2,
        "created, then uploaded whole"
    );
    assert!(!backend.early_ok.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_file_saved_by_a_colleague_before_its_first_write_is_a_conflict() {
    let (port, puts, file) = server_with_early_etags(true);
    let (backend, _staging) = backend_on(port);
    let path = RelPath::new("f").unwrap();
    let (h, _) = backend.open(&path, NEW).await.unwrap();
    // The colleague's save: a new version on the server.
    *file.lock().unwrap() = Some((b"theirs".to_vec(), 7));
    backend.write(&h, 0, b"ours").await.unwrap();
    let e = backend.flush(&h).await.unwrap_err();
    assert!(matches!(e, FsError::Conflict(_)), "{e:?}");
    assert_eq!(content(&file), b"theirs");
    assert_eq!(puts.load(Ordering::SeqCst), 1, "only the creation");
    let _ = backend.close(h).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_given_up_while_the_server_stalls_is_made_again_at_close() {
    let hang = Arc::new(AtomicBool::new(true));
    let (port, _, file) = scripted_server(true, Arc::clone(&hang));
    let (backend, _staging) = backend_on(port);
    let path = RelPath::new("f").unwrap();
    // Opened read-write without creating it here: the ordinary upload.
    let (h, _) = backend.open(&path, NEW).await.unwrap();
    backend.close(h).await.unwrap();
    let rw = OpenFlags {
        read: true,
        write: true,
        ..Default::default()
    };
    let (h, _) = backend.open(&path, rw).await.unwrap();
    backend.write(&h, 0, b"kept").await.unwrap();
    // The file system gives a flush up at its bound.
    let gave_up = tokio::time::timeout(Duration::from_millis(300), backend.flush(&h)).await;
    assert!(gave_up.is_err(), "the stalled server answered");
    hang.store(false, Ordering::SeqCst);
    backend.close(h).await.unwrap();
    assert_eq!(content(&file), b"kept");
}
