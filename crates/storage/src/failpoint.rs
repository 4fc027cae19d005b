//! Failpoints: named boundaries of the commit protocol where a crash test can stop a process and
//! kill it (`kill -9`), to prove that a crash at that exact moment loses nothing.
//!
//! They are compiled into debug builds (and into any build with the `failpoints` feature) and
//! compiled out of release builds. A test arms them through the environment:
//!
//! ```text
//! STRATA_FAILPOINTS="commit.after_stage=pause"     # stop there, announce it, wait to be killed
//! STRATA_FAILPOINTS="storage.after_event_insert=abort"   # crash the process right there
//! ```
//!
//! `pause` prints `strata failpoint reached: <name>` on stderr and sleeps forever. Several
//! entries are separated by `;`. The boundaries: `commit.after_stage`, `commit.before_event`,
//! `storage.after_event_insert` and `storage.before_commit` (inside the append transaction,
//! between the event and its index updates), `commit.after_event`, `gc.before_delete`,
//! `gc.after_delete`, `automation.before_record` (a tick evaluated, nothing stored) and
//! `storage.tick_before_commit` (inside the transaction storing a tick).

/// Stops or crashes the process here if the environment arms the failpoint `name`.
#[cfg(any(debug_assertions, feature = "failpoints"))]
pub fn hit(name: &str) {
    use std::io::Write;
    use std::sync::OnceLock;

    static ARMED: OnceLock<Vec<(String, String)>> = OnceLock::new();
    let armed = ARMED.get_or_init(|| {
        std::env::var("STRATA_FAILPOINTS")
            .unwrap_or_default()
            .split(';')
            .filter_map(|entry| entry.split_once('='))
            .map(|(name, action)| (name.trim().to_string(), action.trim().to_string()))
            .collect()
    });
    let Some((_, action)) = armed.iter().find(|(armed, _)| armed == name) else {
        return;
    };
    match action.as_str() {
        "abort" => std::process::abort(),
        _ => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "strata failpoint reached: {name}");
            let _ = stderr.flush();
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
    }
}

/// Failpoints are compiled out of release builds.
#[cfg(not(any(debug_assertions, feature = "failpoints")))]
#[inline(always)]
pub fn hit(_name: &str) {}
