//! A password for `ssh` without argv, environment or file: `SSH_ASKPASS`
//! names `mpr-askpass` ([`main`]), and `MPR_ASKPASS_SOCKET` the path of a
//! unix socket that [`Server`] (in `mpr-fsd`) listens on, in a directory
//! of its own with mode 0700. (ssh closes every inherited descriptor
//! above 2 before it runs the askpass program, so a pipe could not reach
//! it; the path is no secret.)
//!
//! - `mpr-askpass` answers only a password prompt: it sends the prompt
//!   to the socket and prints the answer. Anything else it is asked (a
//!   host key it does not know: "Are you sure you want to continue
//!   connecting?") it answers `no` without asking the socket, so host-key
//!   problems stay their own error; a passphrase or one-time code it does
//!   not answer at all. It uses the socket only when that socket's
//!   directory belongs to its user and no one else may enter it.
//! - The server answers a connection only when the peer runs as the same
//!   user, the prompt is a password prompt, and the server is armed: it is
//!   armed for one answer per connect attempt ([`Server::arm`]), so the
//!   socket gives the password once per login, not to whoever asks.

use mpr_fs::handshake::Password;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The longest prompt read.
const MAX_PROMPT: usize = 4096;

/// The file name of the askpass program, beside `mpr-fsd`.
pub const PROGRAM: &str = "mpr-askpass";

/// Whether `prompt` asks for a login password (`user@host's password: `,
/// keyboard-interactive's `Password: `), and not for a key's passphrase,
/// a one-time code or a yes/no answer.
pub fn is_password_prompt(prompt: &str) -> bool {
    let p = prompt.trim().to_ascii_lowercase();
    p.ends_with(':') && p.contains("password") && !p.contains("passphrase") && !p.contains('?')
}

/// Whether `prompt` is one of ssh's yes/no questions (a host key it does
/// not know, or that it is to add).
fn is_question(prompt: &str) -> bool {
    let p = prompt.to_ascii_lowercase();
    p.contains("(yes/no") || p.contains("continue connecting")
}

/// The socket `mpr-fsd` listens on for one connection's password.
#[derive(Debug)]
pub struct Server {
    dir: PathBuf,
    socket: PathBuf,
    armed: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Makes a private directory (0700) in `parent`, listens there and
    /// answers with `password`. Must run inside a tokio runtime.
    pub fn start(parent: &Path, password: Password) -> std::io::Result<Server> {
        let mut dir = None;
        for i in 0..100u32 {
            let d = parent.join(format!("askpass-{}-{i}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&d) {
                Ok(()) => {
                    dir = Some(d);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        let dir = dir.ok_or_else(|| std::io::Error::other("no free askpass directory name"))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        let owner = std::fs::symlink_metadata(&dir)?.uid();
        let socket = dir.join("s");
        let listener = match tokio::net::UnixListener::bind(&socket) {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                return Err(e);
            }
        };
        let armed = Arc::new(AtomicU32::new(0));
        let task = tokio::spawn(serve(listener, owner, password, Arc::clone(&armed)));
        Ok(Server {
            dir,
            socket,
            armed,
            task,
        })
    }

    /// The socket's path (for `MPR_ASKPASS_SOCKET`).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Allows one answer (for the connect about to start).
    pub fn arm(&self) {
        self.armed.store(1, Ordering::SeqCst);
    }

    /// Takes back an answer not given.
    pub fn disarm(&self) {
        self.armed.store(0, Ordering::SeqCst);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

async fn serve(
    listener: tokio::net::UnixListener,
    owner: u32,
    password: Password,
    armed: Arc<AtomicU32>,
) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let Ok(cred) = stream.peer_cred() else {
            continue;
        };
        if cred.uid() != owner {
            continue;
        }
        let mut prompt = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), async {
            let mut buf = [0u8; 512];
            while prompt.len() < MAX_PROMPT && !prompt.contains(&b'\n') {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => prompt.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        if read.is_err() {
            continue;
        }
        let prompt = String::from_utf8_lossy(&prompt);
        if !is_password_prompt(prompt.trim_end_matches('\n')) {
            continue;
        }
        // One answer per arming.
        if armed
            .compare_exchange(1, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            continue;
        }
        let mut answer = zeroize::Zeroizing::new(password.expose().as_bytes().to_vec());
        answer.push(b'\n');
        let _ = stream.write_all(&answer).await;
        let _ = stream.shutdown().await;
    }
}

/// `mpr-askpass PROMPT`: the program ssh runs for a prompt (see the
/// module's documentation). Prints the answer on standard output; exits
/// 1 without an answer.
pub fn main() -> std::process::ExitCode {
    use std::process::ExitCode;
    let prompt = std::env::args().nth(1).unwrap_or_default();
    // Confirmations of ssh's own (an agent key's use, a multiplexed
    // session): never.
    if matches!(
        std::env::var("SSH_ASKPASS_PROMPT").as_deref(),
        Ok("confirm" | "none")
    ) {
        return ExitCode::from(1);
    }
    if !is_password_prompt(&prompt) {
        if is_question(&prompt) {
            println!("no");
            return ExitCode::SUCCESS;
        }
        return ExitCode::from(1);
    }
    match ask(&prompt) {
        Ok(answer) => {
            let mut out = std::io::stdout().lock();
            if out.write_all(&answer).and_then(|()| out.flush()).is_err() {
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("mpr-askpass: {why}");
            ExitCode::from(1)
        }
    }
}

/// Asks the socket named by the environment; the answer with its newline.
fn ask(prompt: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, String> {
    let socket = std::env::var_os(crate::ssh::ASKPASS_SOCKET_ENV)
        .map(PathBuf::from)
        .ok_or("no askpass socket is named")?;
    let dir = socket
        .parent()
        .ok_or("the askpass socket has no directory")?;
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let me = rustix::process::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{} is not a private directory of this user",
            dir.display()
        ));
    }
    let mut s = std::os::unix::net::UnixStream::connect(&socket)
        .map_err(|e| format!("{}: {e}", socket.display()))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let line = prompt.replace('\n', " ") + "\n";
    s.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
    let mut answer = zeroize::Zeroizing::new(Vec::new());
    (&mut s)
        .take(64 * 1024)
        .read_to_end(&mut answer)
        .map_err(|e| e.to_string())?;
    if answer.is_empty() {
        return Err("no answer for this prompt".into());
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_password_prompts_are_answered() {
        assert!(is_password_prompt("mprtest@127.0.0.1's password: "));
        assert!(is_password_prompt("(mprtest@127.0.0.1) Password: "));
        assert!(is_password_prompt("Password:"));
        assert!(!is_password_prompt(
            "Enter passphrase for key '/home/u/.ssh/id_ed25519': "
        ));
        assert!(!is_password_prompt(
            "The authenticity of host '[127.0.0.1]:22022' can't be established.\nAre you sure you want to continue connecting (yes/no/[fingerprint])? "
        ));
        assert!(!is_password_prompt("Verification code: "));
        assert!(is_question(
            "Are you sure you want to continue connecting (yes/no/[fingerprint])? "
        ));
    }

    #[tokio::test]
    async fn the_socket_answers_a_password_prompt_once_per_arming() {
        let parent = std::env::temp_dir().join(format!("mpr-askpass-t-{}", std::process::id()));
        std::fs::create_dir_all(&parent).unwrap();
        let srv = Server::start(&parent, Password::new("s3cret".into())).unwrap();
        let meta = std::fs::metadata(srv.socket().parent().unwrap()).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o700);
        let ask = |prompt: &'static str| {
            let path = srv.socket().to_path_buf();
            tokio::task::spawn_blocking(move || {
                let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
                s.write_all(format!("{prompt}\n").as_bytes()).unwrap();
                let mut a = String::new();
                s.read_to_string(&mut a).unwrap();
                a
            })
        };
        assert_eq!(ask("u@h's password: ").await.unwrap(), "", "not armed");
        srv.arm();
        assert_eq!(ask("Are you sure (yes/no)? ").await.unwrap(), "");
        assert_eq!(ask("u@h's password: ").await.unwrap(), "s3cret\n");
        assert_eq!(ask("u@h's password: ").await.unwrap(), "", "only once");
        let dir = srv.socket().parent().unwrap().to_path_buf();
        drop(srv);
        assert!(!dir.exists(), "removed with the server");
        let _ = std::fs::remove_dir_all(&parent);
    }
}
