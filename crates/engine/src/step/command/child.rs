//! A command's process, reaped by Strata itself with `wait4`, which hands back the child's
//! resource usage (CPU time, peak memory) along with its exit status — the only exact per-child
//! figures when several commands run at once.
//!
//! The only `unsafe` in Strata: three libc calls, each with the reason it is sound.
#![allow(unsafe_code)]

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How a child ended and what it used.
pub(crate) struct Exit {
    pub(crate) status: ExitStatus,
    /// User plus system CPU time.
    pub(crate) cpu: Duration,
    /// Peak resident set size.
    pub(crate) peak_memory_bytes: u64,
}

/// A running child that is killed if the step stops waiting for it (a timeout, a
/// cancellation): the waiting thread then reaps it.
pub(crate) struct KillOnDrop {
    pid: libc::pid_t,
    reaped: Arc<AtomicBool>,
}

impl KillOnDrop {
    pub(crate) fn new(pid: u32) -> Self {
        Self {
            pid: pid as libc::pid_t,
            reaped: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Waits for the child to exit and reaps it.
    pub(crate) async fn wait(&self) -> io::Result<Exit> {
        let (pid, reaped) = (self.pid, Arc::clone(&self.reaped));
        tokio::task::spawn_blocking(move || {
            let exit = wait4(pid);
            reaped.store(true, Ordering::SeqCst);
            exit
        })
        .await
        .map_err(io::Error::other)?
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if !self.reaped.load(Ordering::SeqCst) {
            // SAFETY: kill has no memory effects; the pid is our unreaped child, so it cannot
            // have been reused.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
    }
}

fn wait4(pid: libc::pid_t) -> io::Result<Exit> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; zeroed is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types.
        let done = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if done == pid {
            break;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Ok(Exit {
        status: ExitStatus::from_raw(status),
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        // Linux reports kilobytes.
        peak_memory_bytes: (usage.ru_maxrss.max(0) as u64) * 1024,
    })
}
