//! The cipher order ssh is asked for: AES-GCM first on a processor with
//! AES instructions, unless the user's ssh configuration chose ciphers.
//!
//! OpenSSH prefers ChaCha20-Poly1305, which is safe and fast enough on any
//! processor; but its Poly1305 is portable C, and on a processor with AES
//! and carry-less multiplication instructions AES-GCM (from the system's
//! crypto library) moves the same bytes with much less of the processor, on
//! both ends. On this project's 2-core VMs that is a fifth to a quarter off a
//! large read or write through the drive (docs/performance.md). Both are in
//! OpenSSH's default set and the server picks from the client's order, so
//! this only reorders what ssh would offer anyway (`Ciphers=^…`: to the head
//! of the default set), and a server without AES-GCM still gets ChaCha20.
//!
//! A user's own choice wins: if any file ssh reads for this connect (the
//! provider's `ssh_config`, or `~/.ssh/config` and `/etc/ssh/ssh_config`,
//! and what they include) names `Ciphers` anywhere, for any host, nothing
//! is asked. The scan is deliberately coarse (it does not evaluate `Host`
//! or `Match`): when in doubt, ssh decides alone. An ssh that refuses the
//! order (one built without AES-GCM, or too old for `^`) is started again
//! without it ([`refused`]).

use std::path::{Path, PathBuf};

/// The order asked for: both AES-GCM ciphers at the head of ssh's defaults.
pub const AES_FIRST: &str = "^aes128-gcm@openssh.com,aes256-gcm@openssh.com";

/// How deep `Include` is followed (ssh's own limit is 16).
const MAX_DEPTH: usize = 16;

/// The `Ciphers` value to give ssh for a connect whose configuration file
/// is `ssh_config` (`-F`; `None`: ssh's usual files), or `None` to leave
/// the choice to ssh.
pub fn preference(ssh_config: Option<&Path>) -> Option<&'static str> {
    if !hardware_aes() {
        return None;
    }
    let home = home_dirs();
    let files: Vec<(PathBuf, Scope)> = match ssh_config {
        Some(f) => vec![(f.to_path_buf(), Scope::User)],
        // No home directory known: the user's own file cannot be checked.
        None if home.is_empty() => return None,
        None => home
            .iter()
            .map(|h| (h.join(".ssh/config"), Scope::User))
            .chain([(PathBuf::from("/etc/ssh/ssh_config"), Scope::System)])
            .collect(),
    };
    let chosen = files
        .iter()
        .any(|(f, scope)| names_ciphers(f, *scope, &home, 0));
    (!chosen).then_some(AES_FIRST)
}

/// Whether ssh's messages say it refused the cipher order it was given.
pub fn refused(log: &str) -> bool {
    log.contains("Bad SSH2 cipher spec")
}

/// Whether the processor has the instructions that make AES-GCM fast.
fn hardware_aes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// Whose configuration a file is: relative `Include`s are looked for in
/// `~/.ssh` for the user's (and a `-F` file), in `/etc/ssh` for the
/// system's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    User,
    System,
}

/// The home directories ssh may take `~` to be: `$HOME`, and the password
/// file's entry for this user when it differs (ssh uses the latter).
fn home_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        out.push(PathBuf::from(h));
    }
    let uid = rustix::process::getuid().as_raw();
    if let Ok(passwd) = std::fs::read_to_string("/etc/passwd") {
        let mine = passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 7 && f[2].parse() == Ok(uid) && f[5].starts_with('/'))
                .then(|| PathBuf::from(f[5]))
        });
        if let Some(h) = mine.filter(|h| !out.contains(h)) {
            out.push(h);
        }
    }
    out
}

/// Whether `file` (or a file it includes) names `Ciphers`. A file that
/// does not exist names nothing (ssh skips it too); one that cannot be
/// read, or an `Include` too deep or with a pattern outside its last
/// component, counts as naming it (ssh decides).
fn names_ciphers(file: &Path, scope: Scope, home: &[PathBuf], depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return true;
    }
    let text = match std::fs::read(file) {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
        Err(_) => return true,
    };
    for line in text.lines() {
        let (key, rest) = split_directive(line);
        if key.eq_ignore_ascii_case("ciphers") {
            return true;
        }
        if key.eq_ignore_ascii_case("include") {
            for pattern in rest.split_whitespace() {
                let pattern = pattern.trim_matches('"');
                let Some(found) = expand(pattern, scope, home) else {
                    return true;
                };
                if found
                    .iter()
                    .any(|f| names_ciphers(f, scope, home, depth + 1))
                {
                    return true;
                }
            }
        }
    }
    false
}

/// A line's keyword and the rest (`Key value`, `Key=value`); empty for a
/// blank line or a comment.
fn split_directive(line: &str) -> (&str, &str) {
    let line = line.trim_start();
    if line.starts_with('#') {
        return ("", "");
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let rest = line[end..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
    (&line[..end], rest)
}

/// The files an `Include` pattern names (`None`: cannot tell).
fn expand(pattern: &str, scope: Scope, home: &[PathBuf]) -> Option<Vec<PathBuf>> {
    let path = if let Some(rest) = pattern.strip_prefix("~/") {
        home.first()?.join(rest)
    } else if pattern.starts_with('/') {
        PathBuf::from(pattern)
    } else if pattern.starts_with('~') {
        return None;
    } else {
        match scope {
            Scope::User => home.first()?.join(".ssh").join(pattern),
            Scope::System => Path::new("/etc/ssh").join(pattern),
        }
    };
    let name = path.file_name()?.to_str()?;
    let dir = path.parent()?;
    if dir.to_str()?.contains(['*', '?', '[']) {
        return None;
    }
    if !name.contains(['*', '?', '[']) {
        return Some(vec![path]);
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Some(Vec::new());
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| glob(name, n)))
        .map(|e| e.path())
        .collect();
    out.sort();
    Some(out)
}

/// Whether `name` matches the pattern `pat` (`*`, `?`; a `[` set counts
/// as matching anything, the coarse side).
fn glob(pat: &str, name: &str) -> bool {
    if pat.contains('[') {
        return true;
    }
    let (p, n): (Vec<char>, Vec<char>) = (pat.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn a_configuration_without_ciphers_gets_aes_first_and_one_naming_them_keeps_its_own() {
        let d = tempfile::tempdir().unwrap();
        let home = vec![d.path().to_path_buf()];
        let plain = write(
            d.path(),
            "plain",
            "# Ciphers in a comment does not count\nHost x\n  User u\n  Port 22\n",
        );
        assert!(!names_ciphers(&plain, Scope::User, &home, 0));
        for text in [
            "Host x\n  Ciphers aes256-ctr\n",
            "Host *\n\tciphers=chacha20-poly1305@openssh.com\n",
            "CIPHERS +aes128-cbc\n",
        ] {
            let f = write(d.path(), "named", text);
            assert!(names_ciphers(&f, Scope::User, &home, 0), "{text:?}");
        }
        assert!(!names_ciphers(
            &d.path().join("missing"),
            Scope::User,
            &home,
            0
        ));
    }

    #[test]
    fn includes_are_followed_relative_to_the_users_ssh_directory_and_by_pattern() {
        let d = tempfile::tempdir().unwrap();
        let home = vec![d.path().to_path_buf()];
        write(d.path(), ".ssh/conf.d/10-a.conf", "Host a\n  User a\n");
        write(
            d.path(),
            ".ssh/conf.d/20-b.conf",
            "Host b\n  Ciphers aes128-ctr\n",
        );
        write(d.path(), ".ssh/conf.d/20-b.off", "");
        let top = write(d.path(), ".ssh/config", "Include conf.d/*.conf\n");
        assert!(names_ciphers(&top, Scope::User, &home, 0));
        let top = write(
            d.path(),
            ".ssh/config",
            "Include conf.d/10-*.conf ~/.ssh/none\n",
        );
        assert!(!names_ciphers(&top, Scope::User, &home, 0));
        // A loop is cut off, and counts as naming them.
        let me = write(d.path(), ".ssh/loop", "Include loop\n");
        assert!(names_ciphers(&me, Scope::User, &home, 0));
    }

    #[test]
    fn patterns_match_as_ssh_globs_do() {
        assert!(glob("*.conf", "10-a.conf"));
        assert!(!glob("*.conf", "10-a.conf.off"));
        assert!(glob("1?-*", "10-a.conf"));
        assert!(!glob("2?-*", "10-a.conf"));
        assert!(glob("*", ""));
    }

    #[test]
    fn a_refused_order_is_recognised() {
        assert!(refused(
            "command-line line 0: Bad SSH2 cipher spec '^aes128-gcm@openssh.com'.\n"
        ));
        assert!(!refused("Permission denied (publickey).\n"));
    }

    #[test]
    fn a_given_file_is_the_only_one_looked_at() {
        let d = tempfile::tempdir().unwrap();
        let f = write(d.path(), "cfg", "Host *\n  User u\n");
        let want = hardware_aes().then_some(AES_FIRST);
        assert_eq!(preference(Some(&f)), want);
        let f = write(d.path(), "cfg2", "Ciphers aes256-gcm@openssh.com\n");
        assert_eq!(preference(Some(&f)), None);
    }
}
