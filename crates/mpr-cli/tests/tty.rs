//! Running `mpr` on a pseudo-terminal: standard input, output and error are
//! the terminal, and it is the controlling terminal (`setsid -c`, from
//! util-linux), so `/dev/tty` works as it does for a person at a shell.

use crate::util::Env;
use std::fs::File;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `mpr` running on a terminal.
pub struct Tty {
    child: Child,
    master: File,
    output: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Tty {
    /// Starts `mpr ARGS` of `e` on a new terminal, with `extra` environment
    /// variables (TERM=xterm unless given).
    pub fn spawn(e: &Env, args: &[&str], extra: &[(&str, &str)]) -> Tty {
        Tty::start(e, env!("CARGO_BIN_EXE_mpr"), args, extra)
    }

    /// Starts `program ARGS` on a new terminal, with the environment of
    /// `e`'s mpr commands.
    pub fn spawn_program(e: &Env, program: &str, args: &[&str]) -> Tty {
        Tty::start(e, program, args, &[])
    }

    fn start(e: &Env, program: &str, args: &[&str], extra: &[(&str, &str)]) -> Tty {
        use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
        let master =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).expect("openpt");
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().unwrap())
            .unwrap();
        let master = File::from(master);
        let base = e.command();
        let mut c = Command::new("setsid");
        c.arg("-c").arg(program).args(args).env_clear();
        for (k, v) in base.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        c.env("TERM", "xterm");
        for (k, v) in extra {
            c.env(k, v);
        }
        c.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        let child = c
            .spawn()
            .expect("cannot run setsid (util-linux): apt-get install util-linux");
        // `c` still holds the slave: drop it so that the end of the child
        // ends the terminal (reads on the master then fail with EIO).
        drop(c);
        let output = Arc::new(Mutex::new(Vec::new()));
        let (out, mut m) = (output.clone(), master.try_clone().unwrap());
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = m.read(&mut buf) {
                if n == 0 {
                    break;
                }
                out.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Tty {
            child,
            master,
            output,
            reader: Some(reader),
        }
    }

    /// Everything the terminal showed so far.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits until the terminal shows `text` (at most 20 s).
    pub fn expect(&self, text: &str) {
        let t = Instant::now();
        while !self.output().contains(text) {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the terminal never showed {text:?}; it showed {:?}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `text`.
    pub fn type_text(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).unwrap();
    }

    /// Waits for the end (at most 30 s); the exit code and all output.
    pub fn finish(mut self) -> (i32, String) {
        let t = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if t.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!(
                    "mpr did not finish; the terminal showed {:?}",
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader ends when the terminal closes (EIO); give it a moment
        // to collect the last output.
        if let Some(r) = self.reader.take() {
            let t = Instant::now();
            while !r.is_finished() && t.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(10));
            }
            if r.is_finished() {
                let _ = r.join();
            }
        }
        (status.code().unwrap_or(-1), self.output())
    }
}
