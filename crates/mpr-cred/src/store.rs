//! The keyring: items of the user's Secret Service (org.freedesktop.secrets
//! on the D-Bus session bus), one per target and user.

use crate::target::{Scheme, Target};
use mpr_core::plugin::Secret;
use mpr_core::router::SavedCredentials;
use secret_service::EncryptionType;
use secret_service::blocking::{Item, SecretService};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use zeroize::Zeroizing;

/// The `application` attribute of every item mpr saves.
pub const APPLICATION: &str = "mpr";

/// The `xdg:schema` attribute of mpr's items (keyring browsers such as
/// Seahorse group items by it).
pub const SCHEMA: &str = "org.mpr.Credential";

/// Why the keyring could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredError {
    /// There is no Secret Service: no D-Bus session bus, or nobody owns
    /// org.freedesktop.secrets on it. The text is the D-Bus detail.
    NoService(String),
    /// The keyring is locked and was not unlocked (the prompt was dismissed,
    /// or there is nobody to answer it).
    Locked,
    /// The Secret Service refused the request. The text is its detail.
    Denied(String),
    /// Any other failure talking to the Secret Service.
    Other(String),
}

impl fmt::Display for CredError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredError::NoService(why) => write!(
                f,
                "no Secret Service to keep the credential in ({why}): saved credentials need a keyring \
                 that offers org.freedesktop.secrets, such as gnome-keyring (apt install gnome-keyring) \
                 or KeePassXC with its Secret Service integration on, running in your D-Bus session \
                 (DBUS_SESSION_BUS_ADDRESS, as a desktop login sets it)"
            ),
            CredError::Locked => f.write_str(
                "the keyring is locked: unlock it (log in to the desktop, or open it in your keyring application) and try again",
            ),
            CredError::Denied(why) => write!(f, "the Secret Service refused: {why}"),
            CredError::Other(why) => write!(f, "the Secret Service failed: {why}"),
        }
    }
}

impl std::error::Error for CredError {}

impl From<secret_service::Error> for CredError {
    fn from(e: secret_service::Error) -> CredError {
        use secret_service::Error as E;
        match e {
            E::Unavailable => {
                CredError::NoService("no D-Bus session bus or no Secret Service on it".into())
            }
            E::Locked | E::Prompt | E::PromptDisconnected => CredError::Locked,
            E::Zbus(zbus::Error::MethodError(name, text, _)) => {
                let detail = format!("{name}: {}", text.unwrap_or_default());
                match name.as_str() {
                    "org.freedesktop.DBus.Error.ServiceUnknown"
                    | "org.freedesktop.DBus.Error.NameHasNoOwner" => CredError::NoService(detail),
                    "org.freedesktop.Secret.Error.IsLocked" => CredError::Locked,
                    "org.freedesktop.DBus.Error.AccessDenied" => CredError::Denied(detail),
                    _ => CredError::Other(detail),
                }
            }
            E::ZbusFdo(
                zbus::fdo::Error::ServiceUnknown(t) | zbus::fdo::Error::NameHasNoOwner(t),
            ) => CredError::NoService(t),
            E::ZbusFdo(zbus::fdo::Error::AccessDenied(t)) => CredError::Denied(t),
            E::Zbus(zbus::Error::Address(t)) => CredError::NoService(t),
            E::Zbus(zbus::Error::InputOutput(io)) => CredError::NoService(io.to_string()),
            other => CredError::Other(other.to_string()),
        }
    }
}

/// A saved credential as listed: its target and user, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Saved {
    /// The server.
    pub target: Target,
    /// The user.
    pub user: String,
}

/// The user's keyring, connected.
pub struct Keyring {
    service: SecretService<'static>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keyring")
    }
}

/// The attributes that select the item of `target` and `user` (every user
/// when `None`).
fn attributes<'a>(
    target: &'a Target,
    port: &'a str,
    user: Option<&'a str>,
) -> HashMap<&'a str, &'a str> {
    let mut a = HashMap::from([
        ("application", APPLICATION),
        ("provider", target.scheme().as_str()),
        ("host", target.host()),
        ("port", port),
    ]);
    if let Some(u) = user {
        a.insert("user", u);
    }
    a
}

/// The target and user an item of mpr's stands for, or `None` when its
/// attributes are not mpr's (edited by hand).
fn saved_of(item: &Item<'_>) -> Result<Option<Saved>, CredError> {
    let a = item.get_attributes()?;
    let get = |k: &str| a.get(k).map(String::as_str);
    let Some(scheme) = Scheme::ALL
        .into_iter()
        .find(|s| Some(s.as_str()) == get("provider"))
    else {
        return Ok(None);
    };
    let (Some(host), Some(user)) = (get("host"), get("user")) else {
        return Ok(None);
    };
    let port = get("port").and_then(|p| p.parse::<u16>().ok());
    Ok(Target::new(scheme, host, port).ok().map(|target| Saved {
        target,
        user: user.to_string(),
    }))
}

impl Keyring {
    /// Connects to the Secret Service of the session bus, with an encrypted
    /// session (secrets do not cross the bus in clear).
    pub fn connect() -> Result<Keyring, CredError> {
        // No session bus at all is "no Secret Service", whatever the reason
        // zbus gives (no address, a socket that is not there).
        let bus = zbus::blocking::Connection::session()
            .map_err(|e| CredError::NoService(format!("no D-Bus session bus: {e}")))?;
        let service = SecretService::connect_with_existing(EncryptionType::Dh, bus)?;
        Ok(Keyring { service })
    }

    /// Checks that a credential can be stored now: the default collection
    /// exists and is unlocked (unlocking it may ask the user, as the
    /// keyring decides).
    pub fn check_writable(&self) -> Result<(), CredError> {
        let c = self.service.get_default_collection()?;
        c.ensure_unlocked()?;
        Ok(())
    }

    /// Saves `secret` for `user` on `target`, replacing what was saved for
    /// them.
    pub fn store(&self, target: &Target, user: &str, secret: &Secret) -> Result<(), CredError> {
        let port = target.port().to_string();
        let mut attrs = attributes(target, &port, Some(user));
        attrs.insert("xdg:schema", SCHEMA);
        let label = format!("mpr: {target} ({user})");
        let c = self.service.get_default_collection()?;
        c.ensure_unlocked()?;
        c.create_item(
            &label,
            attrs,
            secret.expose().as_bytes(),
            true,
            "text/plain",
        )?;
        Ok(())
    }

    /// The secret saved for `user` on `target`. A locked item is not
    /// unlocked here (that could wait for a person): it is
    /// [`CredError::Locked`] when nothing unlocked matches.
    pub fn lookup(&self, target: &Target, user: &str) -> Result<Option<Secret>, CredError> {
        let port = target.port().to_string();
        let found = self
            .service
            .search_items(attributes(target, &port, Some(user)))?;
        let Some(item) = found.unlocked.first() else {
            return if found.locked.is_empty() {
                Ok(None)
            } else {
                Err(CredError::Locked)
            };
        };
        let bytes = Zeroizing::new(item.get_secret()?);
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| CredError::Other("the saved secret is not UTF-8 text".into()))?;
        Ok(Some(Secret::new(text.to_string())))
    }

    /// Every credential mpr saved, sorted by target and user.
    pub fn list(&self) -> Result<Vec<Saved>, CredError> {
        let found = self
            .service
            .search_items(HashMap::from([("application", APPLICATION)]))?;
        let mut out = Vec::new();
        for item in found.unlocked.iter().chain(found.locked.iter()) {
            if let Some(s) = saved_of(item)? {
                out.push(s);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Deletes what is saved for `target` (for `user` only, or for every
    /// user); the number of items deleted.
    pub fn delete(&self, target: &Target, user: Option<&str>) -> Result<usize, CredError> {
        let port = target.port().to_string();
        let found = self.service.search_items(attributes(target, &port, user))?;
        let mut n = 0;
        for item in found.unlocked.iter().chain(found.locked.iter()) {
            item.delete()?;
            n += 1;
        }
        Ok(n)
    }
}

/// Saved passwords for the router ([`SavedCredentials`]), from the keyring,
/// connected on first use: a connect or restore without a user never
/// touches it. A missing Secret Service means "nothing saved", silently; a
/// locked keyring or another failure goes to `on_error`, once, and then
/// also means "nothing saved" (a locked item is never unlocked here: that
/// could wait for a person who is not there, at login).
///
/// ```no_run
/// # fn router() -> mpr_core::router::Router { unimplemented!() }
/// let mut router = router();
/// router.use_saved_credentials(std::sync::Arc::new(mpr_cred::KeyringPasswords::new(
///     |e| eprintln!("warning: saved credentials cannot be used: {e}"),
/// )));
/// ```
pub struct KeyringPasswords {
    keyring: OnceLock<Option<Mutex<Keyring>>>,
    on_error: Box<dyn Fn(&CredError) + Send + Sync>,
    reported: AtomicBool,
}

impl fmt::Debug for KeyringPasswords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyringPasswords")
    }
}

impl KeyringPasswords {
    /// Saved passwords that report a failure (once) to `on_error`.
    pub fn new(on_error: impl Fn(&CredError) + Send + Sync + 'static) -> KeyringPasswords {
        KeyringPasswords {
            keyring: OnceLock::new(),
            on_error: Box::new(on_error),
            reported: AtomicBool::new(false),
        }
    }

    fn report(&self, e: &CredError) {
        if !matches!(e, CredError::NoService(_)) && !self.reported.swap(true, Ordering::Relaxed) {
            (self.on_error)(e);
        }
    }
}

impl SavedCredentials for KeyringPasswords {
    fn password(&self, provider: &str, remote: &str, user: &str) -> Option<Secret> {
        let target = Target::for_connection(provider, remote)?;
        let keyring = self
            .keyring
            .get_or_init(|| match Keyring::connect() {
                Ok(k) => Some(Mutex::new(k)),
                Err(e) => {
                    self.report(&e);
                    None
                }
            })
            .as_ref()?
            .lock()
            .ok()?;
        keyring.lookup(&target, user).unwrap_or_else(|e| {
            self.report(&e);
            None
        })
    }
}
