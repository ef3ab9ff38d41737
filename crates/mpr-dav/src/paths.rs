//! Paths inside the share as URLs, and hrefs back as paths.

use mpr_fs::RelPath;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use reqwest::Url;

/// What is escaped in a path segment: everything but RFC 3986's
/// unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The URL of `rel` below `base` (which ends with `/`); a directory's URL
/// ends with `/` too (`dir`), as servers expect for collections.
pub fn url_of(base: &Url, rel: &RelPath, dir: bool) -> Url {
    let mut s = base.as_str().to_string();
    for (i, c) in rel.components().enumerate() {
        if i > 0 {
            s.push('/');
        }
        s.extend(utf8_percent_encode(c, SEGMENT));
    }
    if dir && !rel.is_root() {
        s.push('/');
    }
    // A base URL with one more escaped segment always parses.
    Url::parse(&s).unwrap_or_else(|_| base.clone())
}

/// The decoded path of a base URL, ending with `/`.
pub fn base_path(base: &Url) -> String {
    let p = percent_decode_str(base.path())
        .decode_utf8_lossy()
        .to_string();
    if p.ends_with('/') { p } else { format!("{p}/") }
}

/// The path below the base that an href names (components joined by `/`,
/// empty for the base itself), or `None` if it is outside the base. An
/// href is an absolute URL or an absolute path, percent-encoded.
pub fn href_to_rel(href: &str, base_path: &str) -> Option<String> {
    let path = match href.find("://") {
        Some(i) => {
            let rest = &href[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
        None => href,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_decode_str(path).decode_utf8().ok()?.to_string();
    let decoded = if decoded.starts_with('/') {
        decoded
    } else {
        format!("/{decoded}")
    };
    let rest = if decoded == base_path.trim_end_matches('/') {
        ""
    } else {
        decoded.strip_prefix(base_path)?
    };
    Some(rest.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_escaped_per_segment_and_hrefs_decoded_back() {
        let base = Url::parse("http://h:8080/dav%20root/").unwrap();
        let rel = RelPath::new("a b/ü?#%.txt").unwrap();
        let u = url_of(&base, &rel, false);
        assert_eq!(
            u.as_str(),
            "http://h:8080/dav%20root/a%20b/%C3%BC%3F%23%25.txt"
        );
        assert_eq!(
            url_of(&base, &RelPath::new("d").unwrap(), true).as_str(),
            "http://h:8080/dav%20root/d/"
        );
        let bp = base_path(&base);
        assert_eq!(bp, "/dav root/");
        assert_eq!(
            href_to_rel(u.as_str(), &bp).as_deref(),
            Some("a b/ü?#%.txt")
        );
        assert_eq!(href_to_rel("/dav%20root/", &bp).as_deref(), Some(""));
        assert_eq!(href_to_rel("/dav%20root", &bp).as_deref(), Some(""));
        assert_eq!(href_to_rel("/dav%20root/d/", &bp).as_deref(), Some("d"));
        assert_eq!(href_to_rel("/elsewhere/x", &bp), None);
    }
}
