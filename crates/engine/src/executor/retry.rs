//! The wait before retrying a failed attempt (Dagster's `RetryPolicy` semantics).

use std::time::Duration;

use strata_core::model::{Backoff, RetryPolicy};

/// The delay after failed attempt `attempt` (from 1): `delay`, `attempt × delay` or
/// `(2^attempt − 1) × delay`; with jitter, a uniform draw in `[0, that]` (full jitter), where
/// `unit` is a number in `[0, 1)` supplied by the caller.
pub(crate) fn retry_delay(policy: &RetryPolicy, attempt: u32, unit: f64) -> Duration {
    let factor: u64 = match policy.backoff {
        Backoff::Constant => 1,
        Backoff::Linear => u64::from(attempt),
        Backoff::Exponential => (1u64 << attempt.min(32)) - 1,
    };
    let full = policy
        .delay
        .checked_mul(u32::try_from(factor).unwrap_or(u32::MAX))
        .unwrap_or(Duration::from_secs(24 * 3600));
    if policy.jitter {
        full.mul_f64(unit.clamp(0.0, 1.0))
    } else {
        full
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(backoff: Backoff, jitter: bool) -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            delay: Duration::from_secs(2),
            backoff,
            jitter,
        }
    }

    #[test]
    fn backoff_grows_as_declared() {
        let secs = |b, attempt| retry_delay(&policy(b, false), attempt, 0.5).as_secs();
        assert_eq!([1, 2, 3].map(|a| secs(Backoff::Constant, a)), [2, 2, 2]);
        assert_eq!([1, 2, 3].map(|a| secs(Backoff::Linear, a)), [2, 4, 6]);
        assert_eq!([1, 2, 3].map(|a| secs(Backoff::Exponential, a)), [2, 6, 14]);
    }

    #[test]
    fn jitter_draws_within_zero_and_the_full_delay() {
        let p = policy(Backoff::Exponential, true);
        assert_eq!(retry_delay(&p, 2, 0.0), Duration::ZERO);
        assert_eq!(retry_delay(&p, 2, 0.5), Duration::from_secs(3));
        assert!(retry_delay(&p, 2, 0.999) < Duration::from_secs(6));
    }
}
