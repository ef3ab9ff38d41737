//! The wait between two attempts to repair one connection: 1 s after the
//! first failure, doubling after each further one, never more than 60 s.

use std::time::Duration;

/// A doubling wait with a ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub first: Duration,
    /// The longest wait.
    pub ceiling: Duration,
}

impl Default for Backoff {
    /// 1 s doubling to 60 s.
    fn default() -> Backoff {
        Backoff {
            first: Duration::from_secs(1),
            ceiling: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait after `failures` failed attempts in a row (0 failures: no
    /// wait).
    ///
    /// ```
    /// use mpr_agent::Backoff;
    /// use std::time::Duration;
    /// let b = Backoff::default();
    /// assert_eq!(b.wait(0), Duration::ZERO);
    /// assert_eq!(b.wait(3), Duration::from_secs(4));
    /// assert_eq!(b.wait(50), Duration::from_secs(60));
    /// ```
    pub fn wait(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let doublings = (failures - 1).min(31);
        self.first
            .checked_mul(1u32 << doublings)
            .map_or(self.ceiling, |w| w.min(self.ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_1_2_4_to_60_seconds() {
        let b = Backoff::default();
        let secs: Vec<u64> = (1..=10).map(|n| b.wait(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        assert_eq!(b.wait(u32::MAX), Duration::from_secs(60));
        assert_eq!(b.wait(0), Duration::ZERO);
    }
}
