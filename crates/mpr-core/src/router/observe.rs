//! The router's side of observation: the list of [`Observer`]s, and the
//! events of an operation as the router builds them. Without an active
//! observer nothing is built and the clock is not read.

use crate::WnError;
use crate::event::{Event, Observer, OpKind, OperationEvent, Status};
use crate::lasterror;
use std::sync::Arc;
use std::time::Instant;

/// The observers of one router.
#[derive(Debug, Default)]
pub(super) struct Observers {
    list: Vec<Arc<dyn Observer>>,
    active: bool,
}

impl Observers {
    pub fn new(list: Vec<Arc<dyn Observer>>) -> Observers {
        let active = list.iter().any(|o| o.is_active());
        Observers { list, active }
    }

    pub fn push(&mut self, o: Arc<dyn Observer>) {
        self.active |= o.is_active();
        self.list.push(o);
    }

    /// The start of a call worth an event: `None` when nobody listens (then
    /// neither the clock is read nor the event built).
    pub fn clock(&self) -> Option<Instant> {
        self.active.then(Instant::now)
    }

    /// Hands `make()` to every active observer; builds it only if one is.
    pub fn emit(&self, make: impl FnOnce() -> Event) {
        if !self.active {
            return;
        }
        let e = make();
        for o in self.list.iter().filter(|o| o.is_active()) {
            o.event(&e);
        }
    }
}

/// Microseconds since `t`.
pub(super) fn micros(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// The names an operation event shows.
#[derive(Debug)]
pub(super) struct OpNames<'a> {
    pub local: &'a str,
    pub remote: &'a str,
    pub user: &'a str,
    pub provider: Option<&'a str>,
}

/// A name as a record keeps it: whole when it could be valid (at most
/// [`MAX_NAME_UNITS`](crate::names::MAX_NAME_UNITS) characters), otherwise
/// cut there and marked with `…`, so that a refused megabyte-long name
/// (any program may pass one to the API) does not become a megabyte-long
/// record in every sink.
fn clipped(name: &str) -> String {
    let max = crate::names::MAX_NAME_UNITS;
    match name.char_indices().nth(max) {
        None => name.to_string(),
        Some((cut, _)) => format!("{}…", &name[..cut]),
    }
}

/// The event of an ended operation; a failure carries the extended
/// error's text as its message.
pub(super) fn operation(
    id: &str,
    op: OpKind,
    names: &OpNames<'_>,
    result: Result<(), WnError>,
    started: Instant,
    notified: bool,
) -> Event {
    let status = Status::of(&result);
    Event::Operation(OperationEvent {
        op_id: id.to_string(),
        op,
        local: clipped(names.local),
        remote: clipped(names.remote),
        user: clipped(names.user),
        provider: names.provider.unwrap_or("").to_string(),
        result: status.0,
        result_name: status.name().to_string(),
        notified,
        duration_us: micros(started),
        message: result.err().and_then(|_| lasterror::get()).map(|d| d.text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_be_valid_are_kept_whole_and_longer_ones_cut() {
        let max = crate::names::MAX_NAME_UNITS;
        let whole = "é".repeat(max);
        assert_eq!(clipped(&whole), whole);
        let long = format!("{whole}xyz");
        assert_eq!(clipped(&long), format!("{whole}…"));
        assert_eq!(clipped(""), "");
    }
}
