//! A private smbd of a test's own (same user database as the fixture,
//! another port and directories), which the test may stop and start again.
//! The fixture's shared smbd is never touched.

use super::Servers;
use mpr_smb::SmbBackend;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The private smbd: shares `share` and `enc` (encryption required), with
/// signing required.
pub struct PrivateSmbd {
    /// Its directory (configuration, databases, shares `share/` and `enc/`).
    pub dir: PathBuf,
    /// The port it listens on.
    pub port: u16,
    child: Option<Child>,
}

impl PrivateSmbd {
    /// Starts one named `name` (its directory is made fresh).
    pub fn new(name: &str) -> PrivateSmbd {
        PrivateSmbd::with(name, "")
    }

    /// Starts one named `name` with `global` (lines of `smb.conf`) added
    /// to its `[global]` section.
    pub fn with(name: &str, global: &str) -> PrivateSmbd {
        let servers = Servers::get();
        let dir = std::env::temp_dir().join(format!("mpr-smb-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in [
            "private", "lock", "state", "cache", "pid", "ncalrpc", "share", "enc",
        ] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        // The fixture's user database, copied (smbd writes to its tdbs).
        let fixture_private = PathBuf::from(servers.var("MPR_TEST_SERVERS")).join("smb/private");
        for f in ["passdb.tdb", "secrets.tdb"] {
            std::fs::copy(fixture_private.join(f), dir.join("private").join(f)).unwrap();
        }
        let user = servers.var("MPR_TEST_SMB_USER");
        for d in ["share", "enc"] {
            let st = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(dir.join(d))
                .status()
                .unwrap();
            assert!(st.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.display();
        let conf = format!(
            "[global]
   server role = standalone server
   workgroup = WORKGROUP
   netbios name = MPRPRIV
   interfaces = 127.0.0.1
   bind interfaces only = yes
   smb ports = {port}
   disable netbios = yes
   server min protocol = SMB2_10
   server signing = mandatory
   private dir = {d}/private
   lock directory = {d}/lock
   state directory = {d}/state
   cache directory = {d}/cache
   pid directory = {d}/pid
   ncalrpc dir = {d}/ncalrpc
   binddns dir = {d}/private/bind-dns
   passdb backend = tdbsam:{d}/private/passdb.tdb
   log file = {d}/smbd.log
   log level = 1
   load printers = no
   printing = bsd
   printcap name = /dev/null
   disable spoolss = yes
   map to guest = never
   restrict anonymous = 2
{global}
[share]
   path = {d}/share
   read only = no
   valid users = {user}
[enc]
   path = {d}/enc
   read only = no
   valid users = {user}
   smb encrypt = required
"
        );
        std::fs::write(dir.join("smb.conf"), conf).unwrap();
        let mut s = PrivateSmbd {
            dir,
            port,
            child: None,
        };
        s.start();
        s
    }

    /// Starts it (again), and waits until it listens.
    pub fn start(&mut self) {
        use std::os::unix::process::CommandExt;
        let log = std::fs::File::create(self.dir.join("stdout.log")).unwrap();
        let child = Command::new("/usr/sbin/smbd")
            .args(["--foreground", "--no-process-group", "-s"])
            .arg(self.dir.join("smb.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own process group, so that stopping it stops the
            // per-connection children too (and nothing else).
            .process_group(0)
            .spawn()
            .expect("start smbd (install samba: scripts/ci-deps.sh)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the private smbd did not listen on {}; see {}",
                self.port,
                self.dir.join("smbd.log").display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it with every process it started.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pgid = child.id();
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .status();
            let _ = child.wait();
        }
        // smbd may have started samba-dcerpcd, which detaches: stop it by
        // the pid it recorded in this server's own pid directory.
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pid/samba-dcerpcd.pid")) {
            let pid = pid.trim().to_string();
            if !pid.is_empty() {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
            let _ = std::fs::remove_file(self.dir.join("pid/samba-dcerpcd.pid"));
        }
    }

    /// The processes serving a client connection: the server forks one
    /// for each, and the one with an established TCP socket on its port
    /// serves a client (the others are its helpers).
    pub fn connection_processes(&self) -> Vec<u32> {
        let master = self.child.as_ref().expect("the private smbd runs").id();
        let established = established_socket_inodes(self.port);
        let mut out = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": the comm may hold spaces.
            let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
            let ppid: Option<u32> = after.split_whitespace().nth(1).and_then(|p| p.parse().ok());
            if ppid != Some(master) {
                continue;
            }
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
                continue;
            };
            let serves = fds.flatten().any(|fd| {
                std::fs::read_link(fd.path()).is_ok_and(|l| {
                    l.to_str()
                        .and_then(|l| l.strip_prefix("socket:["))
                        .and_then(|l| l.strip_suffix(']'))
                        .and_then(|i| i.parse::<u64>().ok())
                        .is_some_and(|i| established.contains(&i))
                })
            });
            if serves {
                out.push(pid);
            }
        }
        out
    }

    /// A back end (not connected) for one of its shares.
    pub fn backend(&self, share: &str) -> SmbBackend {
        let mut c = Servers::get().config("");
        c.port = self.port;
        c.share = share.into();
        SmbBackend::new(c)
    }
}

impl Drop for PrivateSmbd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The inodes of the established TCP sockets whose local port is `port`
/// (the server's side of its connections), from `/proc/net/tcp` and
/// `tcp6`.
fn established_socket_inodes(port: u16) -> Vec<u64> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            if f.len() < 10 || f[3] != "01" {
                continue;
            }
            let local_port = f[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port)
                && let Ok(inode) = f[9].parse()
            {
                out.push(inode);
            }
        }
    }
    out
}
