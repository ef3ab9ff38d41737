//! Saved credentials: the `mpr cred` verbs, `mpr use --savecred`, and
//! [`keyring_passwords`], through which the router takes a saved password
//! when a connect or restore names a user and gives no password. The
//! keyring is the user's Secret Service ([`mpr_cred`]); no secret is
//! printed, logged or written anywhere else.

use crate::credentials::{prompt_password, read_password_stdin};
use crate::error::CliError;
use crate::output::{Cell, Out, Table, obj, stdout_line, warn};
use mpr_core::plugin::Secret;
use mpr_core::router::MAX_CREDENTIAL_BYTES;
use mpr_cred::{Keyring, KeyringPasswords, Target};
use serde_json::json;
use std::ffi::OsString;
use std::sync::Arc;

type Result<T = (), E = CliError> = std::result::Result<T, E>;

/// Parses a TARGET argument (a usage error when it is not one).
fn target(arg: &OsString) -> Result<Target> {
    let text = arg
        .to_str()
        .ok_or_else(|| CliError::Usage("the target is not valid UTF-8".into()))?;
    text.parse::<Target>()
        .map_err(|e| CliError::Usage(format!("{text:?} is not a target: {e}")))
}

/// A user argument as UTF-8, not empty.
fn user(arg: &OsString) -> Result<String> {
    match arg.to_str() {
        Some(u) if u.len() > MAX_CREDENTIAL_BYTES => Err(CliError::Usage(format!(
            "the user name is {} bytes long; at most {MAX_CREDENTIAL_BYTES} are accepted",
            u.len()
        ))),
        Some(u) if u.chars().any(char::is_control) => Err(CliError::Usage(
            "the user name holds a control character".into(),
        )),
        Some(u) if !u.is_empty() => Ok(u.to_string()),
        Some(_) => Err(CliError::Usage("the user name is empty".into())),
        None => Err(CliError::Usage("the user name is not valid UTF-8".into())),
    }
}

/// Connects to the keyring.
fn keyring() -> Result<Keyring> {
    Keyring::connect().map_err(CliError::Keyring)
}

/// `mpr cred list`.
pub fn list(out: Out) -> Result {
    let saved = keyring()?.list().map_err(CliError::Keyring)?;
    let items: Vec<_> = saved
        .iter()
        .map(|s| {
            json!({"target": s.target.to_string(), "provider": s.target.scheme().provider_key(), "user": s.user})
        })
        .collect();
    out.success(obj(json!({"credentials": items})), || {
        if saved.is_empty() {
            stdout_line("There are no saved credentials.");
            return;
        }
        let mut t = Table::new(&["Target", "User", "Provider"]);
        for s in &saved {
            t.row(vec![
                Cell::new(s.target.to_string()),
                Cell::new(&s.user),
                Cell::new(s.target.scheme().provider_key()),
            ]);
        }
        t.print();
    })
}

/// `mpr cred add`.
pub fn add(out: Out, target_arg: &OsString, user_arg: &OsString, interactive: bool) -> Result {
    let target = target(target_arg)?;
    let user = user(user_arg)?;
    let keyring = keyring()?;
    keyring.check_writable().map_err(CliError::Keyring)?;
    let password = if interactive {
        prompt_password(Some(&user), &target.to_string())?
    } else {
        read_password_stdin()?
    };
    keyring
        .store(&target, &user, &password)
        .map_err(CliError::Keyring)?;
    drop(password);
    out.success(
        obj(
            json!({"target": target.to_string(), "provider": target.scheme().provider_key(), "user": user}),
        ),
        || stdout_line(&format!("The password of {user} on {target} is saved.")),
    )
}

/// `mpr cred delete`.
pub fn delete(out: Out, target_arg: &OsString, user_arg: Option<&OsString>) -> Result {
    let target = target(target_arg)?;
    let user = user_arg.map(user).transpose()?;
    let n = keyring()?
        .delete(&target, user.as_deref())
        .map_err(CliError::Keyring)?;
    out.success(
        obj(json!({"target": target.to_string(), "user": user, "deleted": n})),
        || {
            let whose = match &user {
                Some(u) => format!(" of {u}"),
                None => String::new(),
            };
            stdout_line(&match n {
                0 => format!("There was no saved credential{whose} for {target}."),
                1 => format!("Deleted the saved credential{whose} for {target}."),
                n => format!("Deleted {n} saved credentials for {target}."),
            });
        },
    )
}

/// `mpr use --savecred`, before anything is connected: the keyring must be
/// there and writable, else nothing happens at all.
pub fn savecred_check() -> Result<Keyring> {
    let k = keyring()?;
    k.check_writable().map_err(CliError::Keyring)?;
    Ok(k)
}

/// `mpr use --savecred`, after a successful connect through `provider` to
/// `remote`: saves the password. The target, or why nothing was saved (a
/// warning: the connection stands).
pub fn savecred_store(
    keyring: &Keyring,
    provider: &str,
    remote: &str,
    user: &str,
    password: &Secret,
) -> Option<String> {
    let Some(target) = Target::for_connection(provider, remote) else {
        warn(&format!(
            "the password was not saved: saved credentials are for the built-in providers (sftp, smb, webdav), and {remote} was connected by {provider}"
        ));
        return None;
    };
    match keyring.store(&target, user, password) {
        Ok(()) => Some(target.to_string()),
        Err(e) => {
            warn(&format!(
                "the connection stands, but the password was not saved: {e}"
            ));
            None
        }
    }
}

/// Saved passwords for the router, from the keyring; a locked keyring or
/// another failure is said once, as a warning.
pub fn keyring_passwords() -> Arc<KeyringPasswords> {
    Arc::new(KeyringPasswords::new(|e| {
        warn(&format!("saved credentials cannot be used: {e}"))
    }))
}
