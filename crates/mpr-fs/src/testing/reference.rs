//! The reference-model test, generic over "a mounted directory": a seeded
//! random sequence of file operations (open with every mode, read and
//! write at random offsets, append, `ftruncate`, rename, unlink, mkdir,
//! rmdir, fsync, stat) is applied both to the directory under test and to
//! a fresh local directory, which is the model. Each operation's result
//! (data read, or the errno) must be the same on both, and after every
//! step the two trees must hold the same names, kinds, sizes and bytes.
//!
//! Any mount can be checked this way: the in-memory back end's in this
//! crate's tests, a real SMB, WebDAV or SFTP mount in theirs.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A small deterministic generator (SplitMix64): the same seed gives the
/// same sequence on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// How a descriptor is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `O_RDONLY`.
    Read,
    /// `O_RDWR`.
    ReadWrite,
    /// `O_WRONLY`.
    Write,
    /// `O_WRONLY|O_APPEND`.
    Append,
    /// `O_RDWR|O_APPEND`.
    ReadAppend,
}

/// One step of a sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Opens a descriptor (kept in slot order).
    Open {
        /// Relative path.
        path: String,
        /// Access mode.
        mode: Mode,
        /// `O_CREAT`.
        create: bool,
        /// `O_TRUNC`.
        truncate: bool,
        /// `O_EXCL`.
        exclusive: bool,
    },
    /// Closes descriptor `slot`.
    Close {
        /// Which descriptor (modulo the open ones).
        slot: usize,
    },
    /// `pread`.
    Read {
        /// Which descriptor.
        slot: usize,
        /// Offset.
        offset: u64,
        /// Length.
        len: usize,
    },
    /// `pwrite` (or `write` on an appending descriptor).
    Write {
        /// Which descriptor.
        slot: usize,
        /// Offset.
        offset: u64,
        /// Length.
        len: usize,
        /// The byte pattern's seed.
        fill: u8,
    },
    /// `ftruncate`.
    SetLen {
        /// Which descriptor.
        slot: usize,
        /// New size.
        size: u64,
    },
    /// `fsync`.
    Fsync {
        /// Which descriptor.
        slot: usize,
    },
    /// `rename`.
    Rename {
        /// From.
        from: String,
        /// To.
        to: String,
    },
    /// `unlink`.
    Unlink {
        /// Path.
        path: String,
    },
    /// `mkdir`.
    Mkdir {
        /// Path.
        path: String,
    },
    /// `rmdir`.
    Rmdir {
        /// Path.
        path: String,
    },
    /// `stat` (kind and size compared).
    Stat {
        /// Path.
        path: String,
    },
}

/// Names the sequences use: spaces and non-ASCII included, two levels
/// deep, few enough that operations keep meeting the same files.
const NAMES: [&str; 3] = ["a", "b c", "ü ñ"];

fn paths() -> Vec<String> {
    let mut v: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    for d in NAMES {
        for n in NAMES {
            v.push(format!("{d}/{n}"));
        }
    }
    v
}

/// Generates the next operation.
pub fn gen_op(rng: &mut Rng, open: usize) -> Op {
    let paths = paths();
    let p = |rng: &mut Rng| rng.pick(&paths).clone();
    let slot = |rng: &mut Rng| rng.below(8) as usize;
    let offset = |rng: &mut Rng| match rng.below(4) {
        0 => 0,
        1 => rng.below(64),
        2 => rng.below(10_000),
        _ => rng.below(200_000),
    };
    let len = |rng: &mut Rng| match rng.below(3) {
        0 => rng.below(16) as usize,
        1 => rng.below(5000) as usize,
        _ => rng.below(70_000) as usize,
    };
    let choice = if open == 0 {
        rng.below(10)
    } else {
        rng.below(20)
    };
    match choice {
        0..=3 => {
            let mode = *rng.pick(&[
                Mode::Read,
                Mode::ReadWrite,
                Mode::Write,
                Mode::Append,
                Mode::ReadAppend,
            ]);
            Op::Open {
                path: p(rng),
                mode,
                create: mode != Mode::Read && rng.below(3) != 0,
                truncate: mode != Mode::Read && rng.below(5) == 0,
                exclusive: rng.below(10) == 0,
            }
        }
        4 => Op::Rename {
            from: p(rng),
            to: p(rng),
        },
        5 => Op::Unlink { path: p(rng) },
        6 => Op::Mkdir { path: p(rng) },
        7 => Op::Rmdir { path: p(rng) },
        8 | 9 => Op::Stat { path: p(rng) },
        10 | 11 => Op::Close { slot: slot(rng) },
        12 | 13 => Op::Read {
            slot: slot(rng),
            offset: offset(rng),
            len: len(rng),
        },
        14..=16 => Op::Write {
            slot: slot(rng),
            offset: offset(rng),
            len: len(rng),
            fill: rng.below(256) as u8,
        },
        17 | 18 => Op::SetLen {
            slot: slot(rng),
            size: offset(rng),
        },
        _ => Op::Fsync { slot: slot(rng) },
    }
}

/// The result of one step on one side, comparable across the two.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Data(Vec<u8>),
    Stat(bool, u64),
    Errno(i32),
}

fn outcome<T>(r: io::Result<T>, f: impl FnOnce(T) -> Outcome) -> Outcome {
    match r {
        Ok(v) => f(v),
        Err(e) => Outcome::Errno(e.raw_os_error().unwrap_or(-1)),
    }
}

struct Side {
    root: PathBuf,
    /// Open descriptors with how they were opened and the path they were
    /// opened at (for the report).
    files: Vec<(File, Mode, String)>,
}

impl Side {
    fn apply(&mut self, op: &Op) -> Outcome {
        let at = |p: &str| self.root.join(p);
        match op {
            Op::Open {
                path,
                mode,
                create,
                truncate,
                exclusive,
            } => {
                let mut o = OpenOptions::new();
                match mode {
                    Mode::Read => o.read(true),
                    Mode::ReadWrite => o.read(true).write(true),
                    Mode::Write => o.write(true),
                    Mode::Append => o.append(true),
                    Mode::ReadAppend => o.read(true).append(true),
                };
                if *create && *exclusive {
                    o.create_new(true);
                } else if *create {
                    o.create(true);
                }
                o.truncate(*truncate);
                let r = o.open(at(path));
                outcome(r, |f| {
                    self.files.push((f, *mode, path.clone()));
                    Outcome::Ok
                })
            }
            Op::Close { slot } => {
                if self.files.is_empty() {
                    return Outcome::Ok;
                }
                let i = slot % self.files.len();
                let (f, _, _) = self.files.remove(i);
                outcome(f.sync_all().map(|_| drop(f)), |_| Outcome::Ok)
            }
            Op::Read { slot, offset, len } => {
                let Some((f, _)) = self.slot(*slot) else {
                    return Outcome::Ok;
                };
                let mut buf = vec![0u8; *len];
                let mut got = 0;
                let r = loop {
                    match f.read_at(&mut buf[got..], offset + got as u64) {
                        Ok(0) => break Ok(()),
                        Ok(n) => {
                            got += n;
                            if got == buf.len() {
                                break Ok(());
                            }
                        }
                        Err(e) => break Err(e),
                    }
                };
                buf.truncate(got);
                outcome(r, |_| Outcome::Data(buf))
            }
            Op::Write {
                slot,
                offset,
                len,
                fill,
            } => {
                let Some((f, mode)) = self.slot(*slot) else {
                    return Outcome::Ok;
                };
                let data: Vec<u8> = (0..*len)
                    .map(|i| fill.wrapping_add((i % 251) as u8))
                    .collect();
                let r = if matches!(mode, Mode::Append | Mode::ReadAppend) {
                    let mut f: &File = f;
                    f.write_all(&data)
                } else {
                    f.write_all_at(&data, *offset)
                };
                outcome(r, |_| Outcome::Ok)
            }
            Op::SetLen { slot, size } => {
                let Some((f, _)) = self.slot(*slot) else {
                    return Outcome::Ok;
                };
                outcome(f.set_len(*size), |_| Outcome::Ok)
            }
            Op::Fsync { slot } => {
                let Some((f, _)) = self.slot(*slot) else {
                    return Outcome::Ok;
                };
                outcome(f.sync_all(), |_| Outcome::Ok)
            }
            Op::Rename { from, to } => outcome(fs::rename(at(from), at(to)), |_| Outcome::Ok),
            Op::Unlink { path } => outcome(fs::remove_file(at(path)), |_| Outcome::Ok),
            Op::Mkdir { path } => outcome(fs::create_dir(at(path)), |_| Outcome::Ok),
            Op::Rmdir { path } => outcome(fs::remove_dir(at(path)), |_| Outcome::Ok),
            Op::Stat { path } => outcome(fs::metadata(at(path)), |m| {
                Outcome::Stat(m.is_dir(), if m.is_dir() { 0 } else { m.len() })
            }),
        }
    }

    fn slot(&self, slot: usize) -> Option<(&File, Mode)> {
        if self.files.is_empty() {
            None
        } else {
            let (f, m, _) = &self.files[slot % self.files.len()];
            Some((f, *m))
        }
    }

    /// The open descriptors in slot order, as `path (mode)`.
    fn describe_files(&self) -> String {
        self.files
            .iter()
            .enumerate()
            .map(|(i, (_, m, p))| format!("{i}: {p:?} ({m:?})"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a tree holds: each path with its bytes (`None` for a directory).
fn snapshot(root: &Path) -> io::Result<Vec<(String, Option<Vec<u8>>)>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in fs::read_dir(root.join(&rel))? {
            let e = e?;
            let name = rel.join(e.file_name());
            let meta = fs::metadata(root.join(&name))?;
            let key = name.to_string_lossy().into_owned();
            if meta.is_dir() {
                stack.push(name);
                out.push((key, None));
            } else {
                let mut data = Vec::new();
                File::open(root.join(&name))?.read_to_end(&mut data)?;
                if data.len() as u64 != meta.len() {
                    return Err(io::Error::other(format!(
                        "{key}: stat says {} bytes, a read gives {}",
                        meta.len(),
                        data.len()
                    )));
                }
                out.push((key, Some(data)));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Why two trees differ, or a step gave different results.
#[derive(Debug)]
pub struct Divergence {
    /// The seed.
    pub seed: u64,
    /// The step (0-based) after which they differ.
    pub step: usize,
    /// The operations up to and including that step.
    pub ops: Vec<Op>,
    /// What differs.
    pub what: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {} diverged at step {}: {}",
            self.seed, self.step, self.what
        )?;
        let from = self.ops.len().saturating_sub(40);
        for (i, op) in self.ops.iter().enumerate().skip(from) {
            writeln!(f, "  {i:5}: {op:?}")?;
        }
        Ok(())
    }
}

fn describe(a: &[(String, Option<Vec<u8>>)], b: &[(String, Option<Vec<u8>>)]) -> String {
    let show = |v: &[(String, Option<Vec<u8>>)]| {
        v.iter()
            .map(|(p, d)| match d {
                None => format!("{p}/"),
                Some(d) => format!("{p} ({} bytes)", d.len()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    for ((pa, da), (pb, db)) in a.iter().zip(b) {
        if pa == pb && da != db {
            let at = match (da, db) {
                (Some(x), Some(y)) => x.iter().zip(y).position(|(p, q)| p != q),
                _ => None,
            };
            return format!(
                "{pa}: contents differ (first differing byte {at:?}); mount: [{}], model: [{}]",
                show(a),
                show(b)
            );
        }
    }
    format!("mount: [{}], model: [{}]", show(a), show(b))
}

/// Applies `steps` operations from `seed` to the directory `mount`
/// (which must be empty) and to a fresh local model directory, comparing
/// each result and both trees after every step. The model directory is
/// removed afterwards; `mount` is left emptied.
pub fn run_reference(mount: &Path, seed: u64, steps: usize) -> Result<(), Box<Divergence>> {
    let model = std::env::temp_dir().join(format!(
        "mpr-fs-model-{}-{seed}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    fs::create_dir_all(&model).expect("model directory");
    let r = run_in(mount, &model, seed, steps);
    let _ = fs::remove_dir_all(&model);
    empty(mount);
    r
}

fn empty(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                let _ = fs::remove_dir_all(&p);
            } else {
                let _ = fs::remove_file(&p);
            }
        }
    }
}

fn run_in(mount: &Path, model: &Path, seed: u64, steps: usize) -> Result<(), Box<Divergence>> {
    let mut rng = Rng::new(seed);
    let mut sut = Side {
        root: mount.to_path_buf(),
        files: Vec::new(),
    };
    let mut reference = Side {
        root: model.to_path_buf(),
        files: Vec::new(),
    };
    let mut ops = Vec::with_capacity(steps);
    for step in 0..steps {
        let op = gen_op(&mut rng, reference.files.len());
        ops.push(op.clone());
        let fail = |what: String, ops: &Vec<Op>| {
            Err(Box::new(Divergence {
                seed,
                step,
                ops: ops.clone(),
                what,
            }))
        };
        let open_before = match op {
            Op::Close { .. }
            | Op::Read { .. }
            | Op::Write { .. }
            | Op::SetLen { .. }
            | Op::Fsync { .. } => Some(reference.describe_files()),
            _ => None,
        };
        let got = sut.apply(&op);
        let want = reference.apply(&op);
        if got != want {
            let short = |o: &Outcome| match o {
                Outcome::Data(d) => format!("{} bytes", d.len()),
                o => format!("{o:?}"),
            };
            let slots = open_before
                .map(|d| format!(" (open descriptors, by slot modulo their number: {d})"))
                .unwrap_or_default();
            return fail(
                format!(
                    "the mount gave {}, the model {}{slots}",
                    short(&got),
                    short(&want)
                ),
                &ops,
            );
        }
        if reference.files.len() > 6 {
            sut.files.remove(0);
            reference.files.remove(0);
        }
        let a = match snapshot(mount) {
            Ok(a) => a,
            Err(e) => return fail(format!("reading the mount: {e}"), &ops),
        };
        let b = snapshot(model).expect("reading the model");
        if a != b {
            return fail(describe(&a, &b), &ops);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let xs: Vec<Op> = (0..50).map(|_| gen_op(&mut a, 1)).collect();
        let ys: Vec<Op> = (0..50).map(|_| gen_op(&mut b, 1)).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn a_local_directory_agrees_with_itself() {
        let dir = std::env::temp_dir().join(format!("mpr-fs-ref-self-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        run_reference(&dir, 3, 300).unwrap_or_else(|d| panic!("{d}"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
