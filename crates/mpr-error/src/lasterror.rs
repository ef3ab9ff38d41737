//! The per-thread extended error (`WNetSetLastError` / `WNetGetLastError`).
//!
//! A provider stores a provider-specific code, a description and its own
//! name, usually before returning `WN_EXTENDED_ERROR`; the router also stores
//! the detail of its own failures here (which file, which plugin, why). The
//! record stays until the next [`set`] or [`clear`] on the same thread.

use std::cell::RefCell;

/// One extended-error record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastError {
    /// The provider-specific (or Win32) code.
    pub code: u32,
    /// A human-readable description.
    pub text: String,
    /// The name of the provider (or "mpr") that raised it.
    pub provider: String,
}

thread_local! {
    static LAST: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

/// Stores the record for this thread, replacing any earlier one.
pub fn set(code: u32, text: impl Into<String>, provider: impl Into<String>) {
    let rec = LastError {
        code,
        text: text.into(),
        provider: provider.into(),
    };
    LAST.with(|l| *l.borrow_mut() = Some(rec));
}

/// The record of this thread, if any.
pub fn get() -> Option<LastError> {
    LAST.with(|l| l.borrow().clone())
}

/// Forgets this thread's record.
pub fn clear() {
    LAST.with(|l| *l.borrow_mut() = None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_per_thread() {
        set(5, "here", "p");
        std::thread::spawn(|| assert_eq!(get(), None))
            .join()
            .unwrap();
        assert_eq!(get().unwrap().text, "here");
        clear();
        assert_eq!(get(), None);
    }
}
