//! `PROPFIND`: the request body, and the multistatus answer parsed into
//! entries (hrefs percent-decoded, relative to the base path).

use crate::paths::href_to_rel;
use mpr_fs::{Attr, FileKind, FsError};
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use std::time::SystemTime;

/// The properties asked for: kind, size, modification time and ETag (and
/// the quota, RFC 4331, which only the root's answer is read for).
pub const BODY: &str = concat!(
    r#"<?xml version="1.0" encoding="utf-8"?>"#,
    r#"<D:propfind xmlns:D="DAV:"><D:prop>"#,
    "<D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/>",
    "<D:quota-available-bytes/><D:quota-used-bytes/>",
    "</D:prop></D:propfind>"
);

/// One `<response>` of a multistatus answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Its path below the base, as components joined by `/` (empty: the
    /// base itself); `None` if the href is outside the base.
    pub rel: Option<String>,
    /// Its attributes.
    pub attr: Attr,
    /// Its ETag, quotes included, as the server sent it.
    pub etag: Option<String>,
    /// `quota-available-bytes`, if the server said.
    pub quota_available: Option<u64>,
    /// `quota-used-bytes`, if the server said.
    pub quota_used: Option<u64>,
}

#[derive(Default)]
struct Partial {
    href: Option<String>,
    collection: bool,
    size: Option<u64>,
    mtime: Option<SystemTime>,
    etag: Option<String>,
    quota_available: Option<u64>,
    quota_used: Option<u64>,
    /// The status of the propstat being read (`None`: none yet).
    ok: Option<bool>,
    /// Properties of the current propstat, applied if its status is 200.
    pending: Vec<(String, String)>,
    pending_collection: bool,
}

/// Parses a multistatus body; `base_path` is the decoded path of the base
/// URL (starting and ending with `/`).
pub fn parse(body: &[u8], base_path: &str) -> Result<Vec<Resource>, FsError> {
    let mut r = Reader::from_reader(body);
    r.config_mut().trim_text(true);
    let mut out = Vec::new();
    let mut cur: Option<Partial> = None;
    let mut stack: Vec<String> = Vec::new();
    let mut buf = Vec::new();
    let bad = |e: &dyn std::fmt::Display| FsError::Io(format!("malformed PROPFIND answer: {e}"));
    loop {
        let ev = r.read_event_into(&mut buf).map_err(|e| bad(&e))?;
        match ev {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).to_string();
                match name.as_str() {
                    "response" => cur = Some(Partial::default()),
                    "propstat" => {
                        if let Some(p) = cur.as_mut() {
                            p.ok = None;
                            p.pending.clear();
                            p.pending_collection = false;
                        }
                    }
                    "collection" if stack.last().is_some_and(|s| s == "resourcetype") => {
                        if let Some(p) = cur.as_mut() {
                            p.pending_collection = true;
                        }
                    }
                    _ => {}
                }
                stack.push(name);
            }
            Event::Empty(e) => {
                let name = e.local_name();
                if name.as_ref() == b"collection"
                    && stack.last().is_some_and(|s| s == "resourcetype")
                    && let Some(p) = cur.as_mut()
                {
                    p.pending_collection = true;
                }
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| bad(&e))?.to_string();
                if let (Some(p), Some(el)) = (cur.as_mut(), stack.last()) {
                    match el.as_str() {
                        "href" => p.href = Some(text),
                        "status" if stack.iter().any(|s| s == "propstat") => {
                            p.ok = Some(text.split_whitespace().nth(1) == Some("200"));
                        }
                        other => p.pending.push((other.to_string(), text)),
                    }
                }
            }
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                match name.as_str() {
                    "propstat" => {
                        if let Some(p) = cur.as_mut()
                            && p.ok == Some(true)
                        {
                            p.collection |= p.pending_collection;
                            for (k, v) in std::mem::take(&mut p.pending) {
                                let v = v.trim();
                                match k.as_str() {
                                    "getcontentlength" => p.size = v.parse().ok(),
                                    "getlastmodified" => {
                                        p.mtime = httpdate::parse_http_date(v).ok();
                                    }
                                    "getetag" => p.etag = Some(v.to_string()),
                                    "quota-available-bytes" => {
                                        p.quota_available = v.parse().ok();
                                    }
                                    "quota-used-bytes" => p.quota_used = v.parse().ok(),
                                    _ => {}
                                }
                            }
                        }
                    }
                    "response" => {
                        if let Some(p) = cur.take() {
                            let Some(href) = p.href else { continue };
                            let mtime = p.mtime.unwrap_or(SystemTime::UNIX_EPOCH);
                            out.push(Resource {
                                rel: href_to_rel(&href, base_path),
                                attr: Attr {
                                    kind: if p.collection {
                                        FileKind::Directory
                                    } else {
                                        FileKind::File
                                    },
                                    size: if p.collection { 0 } else { p.size.unwrap_or(0) },
                                    mtime,
                                    atime: mtime,
                                    ctime: mtime,
                                    perm: None,
                                    readonly: false,
                                },
                                etag: p.etag,
                                quota_available: p.quota_available,
                                quota_used: p.quota_used,
                            });
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_gives_kinds_sizes_times_and_decoded_names() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?><D:multistatus xmlns:D="DAV:">
<D:response><D:href>/base/</D:href><D:propstat><D:prop><D:resourcetype><D:collection xmlns:D="DAV:"/></D:resourcetype>
<D:getlastmodified>Sat, 05 Dec 2026 21:10:45 GMT</D:getlastmodified></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>http://h:1/base/a%20b%C3%BC.txt</D:href><D:propstat><D:prop><D:resourcetype></D:resourcetype>
<D:getcontentlength>3</D:getcontentlength><D:getetag>"e1"</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
<D:propstat><D:prop><D:getcontentlength>99</D:getcontentlength><D:quota-used-bytes/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response>
<lp:response xmlns:lp="DAV:"><lp:href>/base/sub/</lp:href><lp:propstat><lp:prop><lp:resourcetype><lp:collection/></lp:resourcetype></lp:prop><lp:status>HTTP/1.1 200 OK</lp:status></lp:propstat></lp:response>
</D:multistatus>"#;
        let r = parse(body, "/base/").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].rel.as_deref(), Some(""));
        assert_eq!(r[0].attr.kind, FileKind::Directory);
        assert_eq!(
            r[0].attr.mtime,
            httpdate::parse_http_date("Sat, 05 Dec 2026 21:10:45 GMT").unwrap()
        );
        assert_eq!(r[1].rel.as_deref(), Some("a bü.txt"));
        assert_eq!(r[1].attr.kind, FileKind::File);
        assert_eq!(r[1].attr.size, 3, "the 404 propstat is not read");
        assert_eq!(r[1].etag.as_deref(), Some("\"e1\""));
        assert_eq!(r[2].rel.as_deref(), Some("sub"));
        assert_eq!(r[2].attr.kind, FileKind::Directory);
    }
}
