//! Editing the `[notifyees]` of `mpr.toml` in place (`mpr notifyee
//! add|remove`): comments, order and layout are kept, and the result is
//! parsed again and compared with what was asked for before anyone writes
//! it, so an edit never produces a file that [`Config::parse`] reads
//! differently.
//!
//! This module only transforms text; reading, locking and writing the file
//! are the caller's.

use crate::config::{Config, ConfigError, Isolation, Policy};
use std::fmt;
use std::path::{Path, PathBuf};

/// A notifyee entry as written to the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// The name.
    pub name: String,
    /// The path as written (may hold `$VAR`).
    pub path: String,
    /// `isolation`, if given.
    pub isolation: Option<Isolation>,
    /// `policy`, if given.
    pub policy: Option<Policy>,
    /// `timeout_ms`, if given.
    pub timeout_ms: Option<u64>,
}

/// Why an edit could not be made.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistrationError {
    /// The file as it is does not parse (file and line).
    Config(ConfigError),
    /// The edit went wrong: the result does not parse, or does not hold
    /// exactly the notifyees asked for. A bug; nothing may be written.
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

impl fmt::Display for RegistrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistrationError::Config(e) => e.fmt(f),
            RegistrationError::Inconsistent { path, detail } => write!(
                f,
                "internal error: editing {} went wrong ({detail}); nothing was written",
                path.display()
            ),
        }
    }
}

impl std::error::Error for RegistrationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RegistrationError::Config(e) => Some(e),
            RegistrationError::Inconsistent { .. } => None,
        }
    }
}

impl Registration {
    fn is_short(&self) -> bool {
        self.isolation.is_none() && self.policy.is_none() && self.timeout_ms.is_none()
    }

    fn fields(&self) -> Vec<(&'static str, toml_edit::Value)> {
        let mut v = vec![("path", toml_edit::Value::from(self.path.as_str()))];
        if let Some(i) = self.isolation {
            v.push(("isolation", i.as_str().into()));
        }
        if let Some(t) = self.timeout_ms {
            v.push(("timeout_ms", toml_edit::Value::from(t as i64)));
        }
        if let Some(p) = self.policy {
            v.push(("policy", p.as_str().into()));
        }
        v
    }

    fn inline_value(&self) -> toml_edit::Value {
        let mut it = toml_edit::InlineTable::new();
        for (k, v) in self.fields() {
            it.insert(k, v);
        }
        toml_edit::Value::InlineTable(it)
    }
}

/// The text of `file` (which must parse) with `reg` appended at the end of
/// `[notifyees]`, everything else kept. `lookup` expands `$VAR` in paths,
/// as for [`Config::parse`].
pub fn append_notifyee(
    file: &Path,
    text: &str,
    reg: &Registration,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, RegistrationError> {
    let before = Config::parse(file, text, lookup).map_err(RegistrationError::Config)?;
    let inconsistent = |detail: String| RegistrationError::Inconsistent {
        path: file.to_path_buf(),
        detail,
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| inconsistent(format!("toml_edit cannot read it: {e}")))?;
    let fresh = !doc.contains_key("notifyees");
    // In a file of comments only, the comments are the document's trailing
    // text: keep them above the new table.
    let lead = if doc.as_table().is_empty() {
        let t = doc.trailing().as_str().unwrap_or("").to_string();
        doc.set_trailing("");
        t
    } else {
        String::new()
    };
    let item = doc.entry("notifyees").or_insert_with(toml_edit::table);
    match item {
        toml_edit::Item::Table(t) => {
            let has_subtables = t.iter().any(|(_, i)| i.is_table());
            if t.is_dotted() || (!has_subtables && !reg.is_short()) {
                // A value in the [notifyees] body (inline table for options).
                t.insert(&reg.name, toml_edit::Item::Value(reg.inline_value()));
            } else if !has_subtables {
                t.insert(&reg.name, toml_edit::value(reg.path.as_str()));
            } else {
                // Values would land before the sub-tables: add a sub-table
                // after the last one instead.
                let mut sub = toml_edit::Table::new();
                for (k, v) in reg.fields() {
                    sub.insert(k, toml_edit::Item::Value(v));
                }
                t.insert(&reg.name, toml_edit::Item::Table(sub));
            }
            if fresh {
                t.set_implicit(false);
                let prefix = if text.trim().is_empty() {
                    "# Connection notifyees, in registration order (`mpr notifyee add` appends).\n"
                        .to_string()
                } else if !lead.is_empty() {
                    format!("{}\n\n", lead.trim_end_matches('\n'))
                } else {
                    "\n".to_string()
                };
                t.decor_mut().set_prefix(prefix);
            }
        }
        toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => {
            let v = if reg.is_short() {
                toml_edit::Value::from(reg.path.as_str())
            } else {
                reg.inline_value()
            };
            t.insert(&reg.name, v);
        }
        _ => return Err(inconsistent("[notifyees] is not a table".into())),
    }
    let out = doc.to_string();
    let mut want: Vec<&str> = before.notifyees.iter().map(|n| n.name.as_str()).collect();
    want.push(&reg.name);
    check(file, &out, &before, &want, lookup)?;
    Ok(out)
}

/// The text of `file` without notifyee `name`; `Ok(None)` if it has no
/// such notifyee. `lookup` is as for [`append_notifyee`].
pub fn remove_notifyee(
    file: &Path,
    text: &str,
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, RegistrationError> {
    let before = Config::parse(file, text, lookup).map_err(RegistrationError::Config)?;
    if !before.notifyees.iter().any(|n| n.name == name) {
        return Ok(None);
    }
    let inconsistent = |detail: String| RegistrationError::Inconsistent {
        path: file.to_path_buf(),
        detail,
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| inconsistent(format!("toml_edit cannot read it: {e}")))?;
    let removed = match doc.get_mut("notifyees") {
        Some(toml_edit::Item::Table(t)) => t.remove(name).is_some(),
        Some(toml_edit::Item::Value(toml_edit::Value::InlineTable(t))) => t.remove(name).is_some(),
        _ => false,
    };
    if !removed {
        return Err(inconsistent(format!(
            "notifyee {name:?} was not found in the document"
        )));
    }
    let out = doc.to_string();
    let want: Vec<&str> = before
        .notifyees
        .iter()
        .map(|n| n.name.as_str())
        .filter(|n| *n != name)
        .collect();
    check(file, &out, &before, &want, lookup)?;
    Ok(Some(out))
}

/// The edited text must parse, with the notifyees `want` and the providers
/// of `before`.
fn check(
    file: &Path,
    edited: &str,
    before: &Config,
    want: &[&str],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), RegistrationError> {
    let inconsistent = |detail: String| RegistrationError::Inconsistent {
        path: file.to_path_buf(),
        detail,
    };
    let after = Config::parse(file, edited, lookup)
        .map_err(|e| inconsistent(format!("the edited text does not parse: {e}")))?;
    let got: Vec<&str> = after.notifyees.iter().map(|n| n.name.as_str()).collect();
    if want != got || after.providers != before.providers {
        return Err(inconsistent(format!(
            "it would give the notifyees {got:?} instead of {want:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn reg(name: &str, path: &str) -> Registration {
        Registration {
            name: name.into(),
            path: path.into(),
            isolation: None,
            policy: None,
            timeout_ms: None,
        }
    }

    fn file() -> &'static Path {
        Path::new("/etc/mpr/mpr.toml")
    }

    fn append(text: &str, r: &Registration) -> Result<String, RegistrationError> {
        append_notifyee(file(), text, r, &no_env)
    }

    fn remove(text: &str, name: &str) -> Result<Option<String>, RegistrationError> {
        remove_notifyee(file(), text, name, &no_env)
    }

    fn names(text: &str) -> Vec<String> {
        Config::parse(Path::new("t"), text, &no_env)
            .unwrap()
            .notifyees
            .into_iter()
            .map(|n| n.name)
            .collect()
    }

    #[test]
    fn appends_to_a_missing_or_empty_file() {
        let t = append("", &reg("audit", "/lib/a.so")).unwrap();
        assert_eq!(names(&t), ["audit"]);
        assert!(t.contains("[notifyees]\naudit = \"/lib/a.so\"\n"), "{t}");
    }

    #[test]
    fn keeps_comments_and_other_tables_and_appends_last() {
        let text = "# top comment\n[providers]\norder = [\"sftp\"] # the order\n\n[notifyees]\n# first one\nz = \"/z.so\"\na = \"/a.so\"\n\n[router]\nmax_retry_rounds = 2\n";
        let t = append(text, &reg("m", "/m.so")).unwrap();
        assert_eq!(names(&t), ["z", "a", "m"]);
        assert!(
            t.starts_with("# top comment\n[providers]\norder = [\"sftp\"] # the order\n"),
            "{t}"
        );
        assert!(
            t.contains("# first one\nz = \"/z.so\"\na = \"/a.so\"\nm = \"/m.so\"\n"),
            "{t}"
        );
        assert!(t.contains("[router]\nmax_retry_rounds = 2\n"), "{t}");
    }

    #[test]
    fn after_sub_tables_a_sub_table_is_appended() {
        let text = "[notifyees]\na = \"/a.so\"\n[notifyees.vpn]\npath = \"/v.so\"\nisolation = \"process\"\n\n[router]\nmax_retry_rounds = 1\n";
        let mut r = reg("new", "/n.so");
        r.policy = Some(Policy::Advisory);
        let t = append(text, &r).unwrap();
        assert_eq!(names(&t), ["a", "vpn", "new"]);
        let c = Config::parse(Path::new("t"), &t, &no_env).unwrap();
        assert_eq!(c.notifyees[2].policy, Policy::Advisory);
        assert_eq!(c.max_retry_rounds, 1);
        // Short form too: it must still come last.
        let t2 = append(&t, &reg("short", "/s.so")).unwrap();
        assert_eq!(names(&t2), ["a", "vpn", "new", "short"]);
        // The new sub-table sits with the notifyees, before [router].
        assert!(
            t2.find("[notifyees.short]").unwrap() < t2.find("[router]").unwrap(),
            "{t2}"
        );
    }

    #[test]
    fn options_without_sub_tables_use_an_inline_table() {
        let mut r = reg("iso", "${HOME}/x.so");
        r.isolation = Some(Isolation::Process);
        r.timeout_ms = Some(500);
        let home = |n: &str| (n == "HOME").then(|| "/h".to_string());
        let t = append_notifyee(file(), "[notifyees]\na = \"/a.so\"\n", &r, &home).unwrap();
        assert!(t.contains("path = \"${HOME}/x.so\""), "{t}");
        let c = Config::parse(Path::new("t"), &t, &home).unwrap();
        assert_eq!(
            c.notifyees
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>(),
            ["a", "iso"]
        );
        assert_eq!(c.notifyees[1].isolation, Isolation::Process);
        assert_eq!(c.notifyees[1].timeout_ms, 500);
        assert_eq!(c.notifyees[1].path, Path::new("/h/x.so"));
    }

    #[test]
    fn only_sub_tables_and_dotted_forms_work() {
        let t = append("[notifyees.x]\npath = \"/x.so\"\n", &reg("y", "/y.so")).unwrap();
        assert_eq!(names(&t), ["x", "y"]);
        let t = append("notifyees.x = \"/x.so\"\n", &reg("y", "/y.so")).unwrap();
        assert_eq!(names(&t), ["x", "y"]);
        let t = append("notifyees = { x = \"/x.so\" }\n", &reg("y", "/y.so")).unwrap();
        assert_eq!(names(&t), ["x", "y"]);
        let t = append("[notifyees]\n", &reg("dotted.name", "/d.so")).unwrap();
        assert_eq!(names(&t), ["dotted.name"]);
    }

    #[test]
    fn a_file_without_a_final_newline_or_with_only_comments() {
        let t = append("[router]\nmax_retry_rounds = 2", &reg("a", "/a.so")).unwrap();
        assert_eq!(names(&t), ["a"]);
        assert!(t.starts_with("[router]\nmax_retry_rounds = 2\n"), "{t}");
        let t = append("# only a comment\n", &reg("a", "/a.so")).unwrap();
        assert_eq!(names(&t), ["a"]);
        assert!(t.starts_with("# only a comment\n"), "{t}");
    }

    #[test]
    fn removes_only_the_named_entry() {
        let text = "# keep me\n[notifyees]\na = \"/a.so\"\nb = \"/b.so\"\n[notifyees.c]\npath = \"/c.so\"\n[router]\nmax_retry_rounds = 2\n";
        let t = remove(text, "b").unwrap().unwrap();
        assert_eq!(names(&t), ["a", "c"]);
        let t = remove(&t, "c").unwrap().unwrap();
        assert_eq!(names(&t), ["a"]);
        assert!(
            t.starts_with("# keep me\n") && t.contains("max_retry_rounds = 2"),
            "{t}"
        );
        assert_eq!(remove(&t, "zz").unwrap(), None);
    }

    #[test]
    fn a_malformed_file_is_a_config_error_naming_file_and_line() {
        for r in [
            append("[notifyees]\nx = 5\n", &reg("a", "/a.so")).map(|_| ()),
            remove("[notifyees]\nx = 5\n", "x").map(|_| ()),
        ] {
            match r {
                Err(RegistrationError::Config(e)) => {
                    assert_eq!((e.path.as_path(), e.line), (file(), Some(2)), "{e}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn an_edit_that_changes_the_meaning_is_refused() {
        // A name the file cannot hold: the edited text would not parse.
        match append("[notifyees]\n", &reg("bad name", "/b.so")) {
            Err(e @ RegistrationError::Inconsistent { .. }) => {
                assert!(e.to_string().starts_with("internal error: "), "{e}")
            }
            other => panic!("{other:?}"),
        }
        // A second entry of an existing name.
        assert!(matches!(
            append("[notifyees]\na = \"/a.so\"\n", &reg("a", "/b.so")),
            Err(RegistrationError::Inconsistent { .. })
        ));
    }
}
