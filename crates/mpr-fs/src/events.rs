//! What the file system reports beyond the error a program sees: events a
//! user must be able to find later, after the program that met them is
//! gone (the server writes them to the audit journal).

use std::fmt;

/// Where the file system reports its events; the server gives one to
/// [`FsConfig`](crate::fs::FsConfig). Called from the file system's tasks:
/// an implementation must not block for long.
pub trait Events: Send + Sync + fmt::Debug {
    /// The changes made through an open file were not uploaded because the
    /// file changed on the server since it was opened (the server keeps
    /// that version; the program got `ESTALE`). `path` is the file inside
    /// the drive, `reason` what was found. Called once per open file.
    fn conflict(&self, path: &str, reason: &str);
}
