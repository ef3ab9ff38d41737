//! The `ssh -s sftp` child: its command line (never a secret on it), the
//! control master it shares with other connections to the same host as the
//! same user, and what its messages mean when the connect fails.
//!
//! The password, when there is one, reaches ssh through `SSH_ASKPASS`
//! pointing at `mpr-askpass` ([`crate::askpass`]); the environment holds
//! only the path of the private socket that program asks.

use crate::SftpConfig;
use mpr_fs::ConnectError;
use std::path::Path;
use std::process::Stdio;
use tokio::process::Command;

/// How long an idle control master stays after its last session ends, so
/// that a drive mapped again soon (a restore, a second drive on the same
/// host) connects without a new SSH handshake.
pub const CONTROL_PERSIST: &str = "120";

/// The environment variable naming the askpass socket (a path, never the
/// secret).
pub const ASKPASS_SOCKET_ENV: &str = "MPR_ASKPASS_SOCKET";

/// The `ssh` command for one connect, stdin, stdout and stderr piped.
///
/// Without a password: `BatchMode=yes` (ssh never asks anything) and
/// `ControlMaster=auto`: an existing master for this host, port and user is
/// reused, or this ssh becomes the master (kept [`CONTROL_PERSIST`]
/// seconds after its last session). With a password: password
/// authentication only, one prompt, answered by `askpass` through the
/// socket `askpass_socket`; `ControlMaster=yes`, so the login really
/// happens (an existing master is not ridden: a wrong password must be
/// refused), and this ssh becomes the master only when there is none.
///
/// `ciphers`, if given, is the `Ciphers` order to ask for
/// ([`crate::ciphers`]).
pub fn command(
    cfg: &SftpConfig,
    askpass: Option<(&Path, &Path)>,
    ciphers: Option<&str>,
) -> Command {
    let mut cmd = Command::new(&cfg.ssh_program);
    if let Some(f) = &cfg.ssh_config {
        cmd.arg("-F").arg(f);
    }
    let mut opts: Vec<String> = vec![
        format!("ConnectTimeout={}", cfg.connect_timeout.as_secs().max(1)),
        "ServerAliveInterval=15".into(),
        "ServerAliveCountMax=3".into(),
        // Nothing but the SFTP channel: no forwarding asked for by a
        // configuration file, no agent or X11 forwarding.
        "ClearAllForwardings=yes".into(),
        "ForwardAgent=no".into(),
        "ForwardX11=no".into(),
        "RequestTTY=no".into(),
        "PermitLocalCommand=no".into(),
    ];
    if askpass.is_some() {
        opts.extend([
            "BatchMode=no".into(),
            "PubkeyAuthentication=no".into(),
            "PreferredAuthentications=password,keyboard-interactive".into(),
            "NumberOfPasswordPrompts=1".into(),
        ]);
    } else {
        opts.push("BatchMode=yes".into());
    }
    match &cfg.control_dir {
        Some(dir) => {
            let master = if askpass.is_some() { "yes" } else { "auto" };
            opts.push(format!("ControlMaster={master}"));
            opts.push(format!("ControlPath={}/ssh-%C", dir.display()));
            opts.push(format!("ControlPersist={CONTROL_PERSIST}"));
        }
        None => {
            opts.push("ControlMaster=no".into());
            opts.push("ControlPath=none".into());
        }
    }
    if let Some(c) = ciphers {
        opts.push(format!("Ciphers={c}"));
    }
    for o in opts {
        cmd.arg("-o").arg(o);
    }
    if let Some(p) = cfg.port {
        cmd.arg("-p").arg(p.to_string());
    }
    if let Some(u) = &cfg.user {
        cmd.arg("-l").arg(u);
    }
    // `-s HOST sftp`: the sftp subsystem. The host was checked not to look
    // like an option (crate docs); `--` makes sure of it.
    cmd.arg("-s").arg("--").arg(&cfg.host).arg("sftp");
    cmd.env_remove("SSH_ASKPASS")
        .env_remove("SSH_ASKPASS_REQUIRE")
        .env_remove(ASKPASS_SOCKET_ENV);
    if let Some((program, socket)) = askpass {
        cmd.env("SSH_ASKPASS", program)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env(ASKPASS_SOCKET_ENV, socket);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// `ssh -O exit` for the shared master of `cfg`'s server: the master
/// process leaves at once, with every session it carries, so that the next
/// connect makes a new SSH connection instead of riding one that answers
/// nothing. `None` without a control directory (there is no master).
pub fn master_exit_command(cfg: &SftpConfig) -> Option<Command> {
    let dir = cfg.control_dir.as_ref()?;
    let mut cmd = Command::new(&cfg.ssh_program);
    if let Some(f) = &cfg.ssh_config {
        cmd.arg("-F").arg(f);
    }
    // The same ControlPath as `command`: `%C` hashes host, port and user.
    cmd.arg("-o")
        .arg("BatchMode=yes")
        .arg("-o")
        .arg(format!("ControlPath={}/ssh-%C", dir.display()))
        .arg("-O")
        .arg("exit");
    if let Some(p) = cfg.port {
        cmd.arg("-p").arg(p.to_string());
    }
    if let Some(u) = &cfg.user {
        cmd.arg("-l").arg(u);
    }
    cmd.arg("--").arg(&cfg.host);
    cmd.env_remove("SSH_ASKPASS")
        .env_remove("SSH_ASKPASS_REQUIRE")
        .env_remove(ASKPASS_SOCKET_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    Some(cmd)
}

/// The line of `log` holding one of `keys` (the first key found wins, so
/// they go most telling first), trimmed.
fn line_with(log: &str, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| log.lines().find(|l| l.contains(k)))
        .map(|l| l.trim().to_string())
}

/// What ssh's messages (`log`, its standard error) say about a connect that
/// ended before SFTP started: the exact reason, for the router's code.
/// `at` names the server (`host[:port]`) in the messages.
pub fn classify(log: &str, with_password: bool, at: &str) -> ConnectError {
    if let Some(l) = line_with(
        log,
        &[
            "Host key for",
            "host key is known",
            "Host key verification failed",
            "REMOTE HOST IDENTIFICATION HAS CHANGED",
        ],
    ) {
        return ConnectError::HostKey(format!(
            "the host key of {at} is unknown or has changed; check it with ssh first ({l})"
        ));
    }
    if let Some(l) = line_with(
        log,
        &["Permission denied", "Too many authentication failures"],
    ) {
        return if with_password {
            ConnectError::BadPassword
        } else {
            ConnectError::LogonFailure(format!("{at} refused the login ({l})"))
        };
    }
    const UNREACHABLE: &[&str] = &[
        "Connection refused",
        "Could not resolve hostname",
        "No route to host",
        "Network is unreachable",
        "Connection timed out",
        "kex_exchange_identification",
        "banner exchange",
        "Connection closed",
        "Connection reset",
        "Operation timed out",
    ];
    if let Some(l) = line_with(log, UNREACHABLE) {
        return ConnectError::Unreachable(format!("cannot reach an SSH server at {at} ({l})"));
    }
    if let Some(l) = line_with(log, &["subsystem request failed"]) {
        return ConnectError::Other(format!("{at} offers no SFTP ({l})"));
    }
    let last = log
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("ssh ended without a message")
        .trim();
    ConnectError::Other(format!("ssh to {at} failed: {last}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpr_abi as abi;

    #[test]
    fn ssh_messages_map_to_the_routers_codes() {
        let at = "h:22";
        let c = |log: &str, pw: bool| classify(log, pw, at).wn_code();
        assert_eq!(
            c("Host key verification failed.\r\n", false),
            abi::WN_EXTENDED_ERROR
        );
        assert_eq!(
            c(
                "@@@@\nWARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!\n",
                true
            ),
            abi::WN_EXTENDED_ERROR
        );
        assert_eq!(
            c("u@h: Permission denied (publickey,password).", true),
            abi::WN_BAD_PASSWORD
        );
        assert_eq!(
            c("u@h: Permission denied (publickey).", false),
            abi::ERROR_LOGON_FAILURE
        );
        assert_eq!(
            c("ssh: connect to host h port 22: Connection refused", false),
            abi::ERROR_BAD_NETPATH
        );
        assert_eq!(
            c(
                "kex_exchange_identification: Connection closed by remote host",
                false
            ),
            abi::ERROR_BAD_NETPATH
        );
        assert_eq!(c("something odd", false), abi::WN_NET_ERROR);
        let m = classify("Permission denied (password).", true, at).to_string();
        assert!(m.contains("refused the login"), "{m}");
        let m = classify("Host key verification failed.", false, at).to_string();
        assert!(
            m.contains("the host key of h:22 is unknown or has changed; check it with ssh first"),
            "{m}"
        );
    }

    #[test]
    fn the_command_line_holds_no_secret_and_the_right_master_mode() {
        let mut cfg = SftpConfig::for_test("h", "export");
        cfg.control_dir = Some("/run/u/mpr/ssh".into());
        let argv = |c: &Command| {
            let s = c.as_std();
            std::iter::once(s.get_program())
                .chain(s.get_args())
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let keys = argv(&command(&cfg, None, None));
        assert!(!keys.contains("Ciphers"), "{keys}");
        assert!(keys.contains("BatchMode=yes"), "{keys}");
        assert!(keys.contains("ControlMaster=auto"), "{keys}");
        assert!(keys.contains("ControlPath=/run/u/mpr/ssh/ssh-%C"), "{keys}");
        assert!(keys.ends_with("-s -- h sftp"), "{keys}");
        let pw = command(
            &cfg,
            Some((Path::new("/usr/libexec/mpr/mpr-askpass"), Path::new("/s"))),
            Some(crate::ciphers::AES_FIRST),
        );
        let line = argv(&pw);
        assert!(line.contains("PubkeyAuthentication=no"), "{line}");
        assert!(line.contains("ControlMaster=yes"), "{line}");
        assert!(!line.contains("BatchMode=yes"), "{line}");
        assert!(
            line.contains("-o Ciphers=^aes128-gcm@openssh.com,aes256-gcm@openssh.com"),
            "{line}"
        );
        let env: Vec<_> = pw.as_std().get_envs().collect();
        assert!(
            env.iter()
                .any(|(k, v)| *k == "SSH_ASKPASS_REQUIRE" && v.is_some_and(|v| v == "force"))
        );
        let exit = argv(&master_exit_command(&cfg).unwrap());
        assert!(exit.contains("ControlPath=/run/u/mpr/ssh/ssh-%C"), "{exit}");
        assert!(exit.ends_with("-O exit -- h"), "{exit}");
        cfg.control_dir = None;
        assert!(argv(&command(&cfg, None, None)).contains("ControlPath=none"));
        assert!(master_exit_command(&cfg).is_none());
    }
}
