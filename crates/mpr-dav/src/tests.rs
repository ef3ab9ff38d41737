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
/// the `PUT`s; reads only bodies of a stated `Content-Length` (a chunked
/// one breaks it). Its port, the count and the file.
fn server_with_early_etags() -> (u16, Arc<AtomicUsize>, File) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let puts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&puts);
    let file: File = Arc::default();
    let held = Arc::clone(&file);
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let (file, puts) = (Arc::clone(&file), Arc::clone(&counted));
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
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).unwrap();
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0u8; len];
                    r.read_exact(&mut body).unwrap();
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

#[tokio::test(flavor = "multi_thread")]
async fn a_new_file_is_uploaded_whatever_etag_its_creation_was_answered_with() {
    let (port, puts, file) = server_with_early_etags();
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
    let path = RelPath::new("f").unwrap();
    let flags = OpenFlags {
        read: false,
        write: true,
        create: true,
        exclusive: false,
        truncate: true,
    };
    let (h, _) = backend.open(&path, flags).await.unwrap();
    backend.write(&h, 0, b"new content").await.unwrap();
    // Uploaded at flush, and again after more is written: neither is
    // taken for a colleague's change.
    backend.flush(&h).await.unwrap();
    backend.write(&h, 11, b", more").await.unwrap();
    backend.close(h).await.unwrap();
    assert_eq!(puts.load(Ordering::SeqCst), 3, "created, then two uploads");
    let content = |file: &File| file.lock().unwrap().as_ref().unwrap().0.clone();
    assert_eq!(content(&file), b"new content, more");
    // A file larger than one piece of the upload arrives whole, with its
    // length stated.
    let big: Vec<u8> = (0..3_500_000u32).map(|i| (i % 253) as u8).collect();
    let (h, _) = backend.open(&path, flags).await.unwrap();
    backend.write(&h, 0, &big).await.unwrap();
    backend.close(h).await.unwrap();
    assert_eq!(content(&file), big);
}
