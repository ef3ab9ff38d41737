//! One function per verb: the connection verbs here, the registry verbs in
//! [`crate::registry`]; [`run`] dispatches.

use crate::args::{
    Cli, Command, CredCommand, IsolationArg, NotifyeeCommand, PolicyArg, ProviderCommand, UseArgs,
};
use crate::credentials::{prompt_password, read_password_stdin};
use crate::error::CliError;
use crate::output::{Cell, Out, Style, Table, obj, stdout_line, warn};
use crate::progress::{InFlight, Spinner};
use crate::registry;
use mpr_abi as abi;
use mpr_core::config::{Isolation, Policy};
use mpr_core::router::{AddApi, AddRequest, CancelRequest, ConnState, ConnectionStatus, Router};
use mpr_core::{WnError, lasterror};
use serde_json::{Value, json};
use std::ffi::OsString;
use std::sync::Arc;

type Result<T = (), E = CliError> = std::result::Result<T, E>;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result {
    match cli.command {
        Command::Notifyee(NotifyeeCommand::List { json }) => registry::notifyee_list(Out { json }),
        Command::Notifyee(NotifyeeCommand::Add {
            name,
            path,
            isolation,
            policy,
            timeout_ms,
            json,
        }) => registry::notifyee_add(
            Out { json },
            registry::NewNotifyee {
                name,
                path,
                isolation: isolation.map(|i| match i {
                    IsolationArg::Inprocess => Isolation::InProcess,
                    IsolationArg::Process => Isolation::Process,
                }),
                policy: policy.map(|p| match p {
                    PolicyArg::Veto => Policy::Veto,
                    PolicyArg::Advisory => Policy::Advisory,
                }),
                timeout_ms,
            },
        ),
        Command::Notifyee(NotifyeeCommand::Remove { name, json }) => {
            registry::notifyee_remove(Out { json }, name)
        }
        Command::Provider(ProviderCommand::List { json }) => registry::provider_list(Out { json }),
        Command::Cred(CredCommand::List { json }) => crate::cred::list(Out { json }),
        Command::Cred(CredCommand::Add {
            target,
            user,
            interactive,
            json,
            ..
        }) => crate::cred::add(Out { json }, &target, &user, interactive),
        Command::Cred(CredCommand::Delete { target, user, json }) => {
            crate::cred::delete(Out { json }, &target, user.as_ref())
        }
        // `watch` ends with success (Ctrl-C, or its reader went away) or
        // an error; its exit code carries nothing more.
        Command::Watch { json, lines } => crate::watch::watch(json, lines)
            .map(drop)
            .map_err(CliError::from),
        Command::Generate { what } => crate::generate::generate(what),
        Command::Agent => crate::agent::agent(),
        Command::Use(a) => use_cmd(a),
        Command::Get { local, json } => {
            let out = Out { json };
            let local = utf8(&local, WnError::BadLocalName, "local name", out)?;
            let router = build_router(false)?;
            match router.get_connection(&local) {
                Ok(remote) => out.success(obj(json!({"local": local, "remote": remote})), || {
                    stdout_line(&remote)
                }),
                Err(e) => Err(out.failure(e)),
            }
        }
        Command::List { remembered, json } => {
            let router = build_router(false)?;
            list(&router, Out { json }, remembered)
        }
        Command::Restore { local, json } => {
            let out = Out { json };
            let local = match local {
                Some(l) => Some(utf8(&l, WnError::BadLocalName, "local name", out)?),
                None => None,
            };
            let in_flight = Arc::new(InFlight::default());
            let mut router = build_router_watched(false, &in_flight)?;
            router.use_saved_credentials(crate::cred::keyring_passwords());
            restore(&router, out, local.as_deref(), in_flight)
        }
    }
}

/// Converts an argument to UTF-8; one that is not is the failure `e`
/// (reported, with the extended error set).
fn utf8(s: &OsString, e: WnError, what: &str, out: Out) -> Result<String> {
    match s.to_str() {
        Some(v) => Ok(v.to_string()),
        None => {
            lasterror::set(
                e.code(),
                format!("the {what} {} is not valid UTF-8", s.to_string_lossy()),
                "mpr",
            );
            Err(out.failure(e))
        }
    }
}

/// Loads the configuration and plugins into a router; warnings go to stderr.
pub fn build_router(with_notifyees: bool) -> Result<Router> {
    let mpr_setup::Assembled { router, warnings } = mpr_setup::router_from_env(mpr_setup::Load {
        notifyees: with_notifyees,
    })?;
    for w in warnings {
        warn(&w);
    }
    Ok(router)
}

/// Like [`build_router`]; when a spinner can be shown (standard error is a
/// terminal), `in_flight` observes the router's provider calls so that the
/// spinner can name the provider being called.
pub fn build_router_watched(with_notifyees: bool, in_flight: &Arc<InFlight>) -> Result<Router> {
    let mut router = build_router(with_notifyees)?;
    if crate::progress::enabled() {
        router.observe(in_flight.clone());
    }
    Ok(router)
}

fn use_cmd(a: UseArgs) -> Result {
    let out = Out { json: a.json };
    if a.delete {
        let [name] = a.names.as_slice() else {
            return Err(CliError::Usage(
                "`mpr use --delete` takes exactly one name: a local name or a remote name".into(),
            ));
        };
        if a.persistent
            || a.temporary
            || a.password_stdin
            || a.interactive
            || a.user.is_some()
            || a.provider.is_some()
        {
            return Err(CliError::Usage(
                "--delete cannot be combined with connect options".into(),
            ));
        }
        let name = utf8(name, WnError::BadLocalName, "name", out)?;
        let in_flight = Arc::new(InFlight::default());
        let router = build_router_watched(true, &in_flight)?;
        let flags = if a.keep_remembered {
            0
        } else {
            abi::CONNECT_UPDATE_PROFILE
        };
        let spinner = Spinner::start(format!("Disconnecting {name}"), in_flight);
        let result = router.cancel(&CancelRequest {
            name,
            flags,
            force: a.force,
        });
        spinner.stop();
        return match result {
            Ok(o) => out.success(
                obj(json!({"target": o.name, "provider": o.provider, "provider_name": o.provider_name, "forgotten": o.forgotten})),
                || stdout_line(&format!("{} was disconnected.", o.name)),
            ),
            Err(e) => Err(out.failure(e)),
        };
    }
    let (local, remote) = match a.names.as_slice() {
        [] => {
            if a.password_stdin
                || a.interactive
                || a.user.is_some()
                || a.provider.is_some()
                || a.persistent
                || a.temporary
                || a.savecred
            {
                return Err(CliError::Usage(
                    "connect options need a remote name: mpr use [LOCAL] REMOTE".into(),
                ));
            }
            let router = build_router(false)?;
            return list(&router, out, false);
        }
        [remote] => (None, remote),
        [local, remote] => (Some(local), remote),
        _ => unreachable!("clap allows at most two names"),
    };
    let remote = utf8(remote, WnError::BadNetName, "remote name", out)?;
    let local = match local {
        None => None,
        Some(l) => Some(utf8(l, WnError::BadLocalName, "local name", out)?),
    };
    let provider = match &a.provider {
        None => None,
        Some(p) => Some(utf8(p, WnError::BadProvider, "provider name", out)?),
    };
    let user = match &a.user {
        None => None,
        Some(u) => Some(utf8(u, WnError::BadUser, "user name", out)?),
    };
    let mut flags = 0;
    if a.persistent {
        flags |= abi::CONNECT_UPDATE_PROFILE;
    }
    if a.temporary {
        flags |= abi::CONNECT_TEMPORARY;
    }
    let (local, auto_pick) = match local.as_deref() {
        Some("*") => (None, true),
        other => (other.map(str::to_string), false),
    };
    if auto_pick {
        flags |= abi::CONNECT_REDIRECT;
    }
    if a.savecred && !a.password_stdin && !a.interactive {
        return Err(CliError::Usage(
            "--savecred saves the password it is given: add --password-stdin or --interactive"
                .into(),
        ));
    }
    // Before anything is connected, remembered or asked: without a usable
    // keyring, --savecred changes nothing at all.
    let keyring = if a.savecred {
        Some(crate::cred::savecred_check()?)
    } else {
        None
    };
    let password = if a.password_stdin {
        Some(read_password_stdin()?)
    } else if a.interactive {
        flags |= abi::CONNECT_INTERACTIVE;
        Some(prompt_password(user.as_deref(), &remote)?)
    } else {
        None
    };
    let in_flight = Arc::new(InFlight::default());
    let mut router = build_router_watched(true, &in_flight)?;
    router.use_saved_credentials(crate::cred::keyring_passwords());
    let label = match (&local, auto_pick) {
        (Some(l), _) => format!("Connecting {l} to {remote}"),
        (None, true) => format!("Connecting a free drive letter to {remote}"),
        (None, false) => format!("Connecting {remote}"),
    };
    let req = AddRequest {
        api: AddApi::Use,
        owner: 0,
        r#type: abi::RESOURCETYPE_DISK,
        local,
        remote: Some(remote),
        provider,
        password,
        user,
        flags,
    };
    let spinner = Spinner::start(label, in_flight);
    let result = router.add(&req);
    spinner.stop();
    // --savecred: the password of a successful connect goes to the keyring.
    let saved = match (&keyring, &result, &req.user, &req.password) {
        (Some(k), Ok(o), Some(user), Some(pw)) => {
            crate::cred::savecred_store(k, &o.provider, &o.remote, user, pw)
        }
        _ => None,
    };
    let o_user = req.user.clone();
    drop(req);
    match result {
        Ok(o) => {
            let mut fields = obj(json!({
                "local": o.local, "remote": o.remote, "provider": o.provider, "provider_name": o.provider_name,
                "access_name": o.access_name, "directory": o.directory.display().to_string(), "remembered": o.remembered,
            }));
            if a.savecred {
                fields.insert("saved_credential".into(), json!(saved));
            }
            out.success(fields, || {
                let what = o
                    .local
                    .clone()
                    .unwrap_or_else(|| o.directory.display().to_string());
                stdout_line(&format!(
                    "{what} is now connected to {} ({}).",
                    o.remote, o.provider_name
                ));
                if let (Some(t), Some(u)) = (&saved, &o_user) {
                    stdout_line(&format!("The password of {u} on {t} is saved."));
                }
            })
        }
        Err(e) => Err(out.failure(e)),
    }
}

fn status_json(c: &ConnectionStatus) -> Value {
    json!({
        "status": c.status.as_str(), "local": c.local, "remote": c.remote, "provider": c.provider,
        "provider_name": c.provider_name, "user": c.user, "directory": c.directory, "remembered": c.remembered,
        "reason": c.reason, "next_attempt": c.next_attempt,
    })
}

fn list(router: &Router, out: Out, remembered_only: bool) -> Result {
    let mut rows = match router.connections() {
        Ok(r) => r,
        Err(e) => return Err(out.failure(e)),
    };
    if remembered_only {
        rows.retain(|c| c.remembered);
    }
    let items: Vec<Value> = rows.iter().map(status_json).collect();
    out.success(obj(json!({"connections": items})), || {
        if rows.is_empty() {
            stdout_line(if remembered_only {
                "There are no remembered connections."
            } else {
                "There are no connections."
            });
            return;
        }
        let mut t = Table::new(&["Status", "Local", "Remote", "Provider"]);
        for r in &rows {
            let style = match r.status {
                ConnState::Ok => Style::Green,
                ConnState::Reconnecting => Style::Yellow,
                ConnState::Unavailable => Style::Red,
                ConnState::Remembered => Style::Dim,
            };
            t.row(vec![
                Cell::styled(r.status.as_str(), style),
                Cell::new(&r.local),
                Cell::new(&r.remote),
                Cell::new(&r.provider_name),
            ]);
        }
        t.print();
        // Why a connection is not OK, under the table (`net use` has no
        // column for it).
        for r in rows.iter().filter(|r| r.reason.is_some()) {
            let name = if r.local.is_empty() {
                &r.remote
            } else {
                &r.local
            };
            let when = r
                .next_attempt
                .and_then(|t| {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .ok()?
                        .as_secs();
                    Some(format!("; next attempt in {} s", t.saturating_sub(now)))
                })
                .unwrap_or_default();
            stdout_line(&format!(
                "{name} {}: {}{when}",
                r.status.as_str().to_lowercase(),
                r.reason.as_deref().unwrap_or_default()
            ));
        }
    })
}

fn restore(router: &Router, out: Out, only: Option<&str>, in_flight: Arc<InFlight>) -> Result {
    let label = match only {
        Some(l) => format!("Restoring {l}"),
        None => "Restoring remembered connections".to_string(),
    };
    let spinner = Spinner::start(label, in_flight);
    let results = router.restore(only);
    spinner.stop();
    let results = match results {
        Ok(r) => r,
        Err(e) => return Err(out.failure(e)),
    };
    let mut first_failure: Option<WnError> = None;
    let mut items = Vec::new();
    for r in &results {
        let (code, name) = match r.result {
            Ok(_) => (0, "WN_SUCCESS"),
            Err(e) => {
                first_failure.get_or_insert(e);
                (e.code(), e.name())
            }
        };
        items.push(json!({
            "local": r.entry.local, "remote": r.entry.remote, "provider": r.entry.provider,
            "code": code, "name": name, "restored": r.result == Ok(true), "message": r.detail,
        }));
        if !out.json {
            match &r.result {
                Ok(true) => stdout_line(&format!(
                    "{} is connected again to {}.",
                    r.entry.local, r.entry.remote
                )),
                Ok(false) => stdout_line(&format!(
                    "{} was already connected to {}.",
                    r.entry.local, r.entry.remote
                )),
                // "Y: was not restored: ..." (a plain "Y:: ..." read as a
                // doubled colon).
                Err(e) => crate::output::error_line(
                    *e,
                    &format!(
                        "{} was not restored: {}",
                        r.entry.local,
                        r.detail.clone().unwrap_or_else(|| e.to_string())
                    ),
                ),
            }
        }
    }
    if out.json {
        let (code, name) = first_failure.map_or((0, "WN_SUCCESS"), |e| (e.code(), e.name()));
        stdout_line(&json!({"version": crate::output::JSON_VERSION, "code": code, "name": name, "results": items}).to_string());
    } else if results.is_empty() {
        stdout_line("There are no remembered connections to restore.");
    }
    // Each failure is reported above, in its result.
    match first_failure {
        Some(e) => Err(CliError::Wn(e)),
        None => Ok(()),
    }
}
