//! A command's process, reaped by Strata itself with `wait4`, which hands back the child's
//! resource usage (CPU time, peak memory) along with its exit status — the only exact per-child
//! figures when several commands run at once.
//!
//! A thread waits for the child from the moment it starts, so the child is always reaped and its
//! usage always reaches the step's meter, even when the step stops waiting (a timeout, a
//! cancellation): then the child is killed, and the thread records what it used before it died.
//!
//! The only `unsafe` in Strata: the libc calls below, each with the reason it is sound.
#![allow(unsafe_code)]

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::step::meter::StepMeter;

/// A running child, waited for by its own thread; killed when dropped before it exited.
pub(crate) struct Watched {
    pid: libc::pid_t,
    /// Whether the child was reaped: its pid may then belong to another process, so it must not
    /// be signalled. The waiting thread holds this lock while it reaps.
    reaped: Arc<Mutex<bool>>,
    exit: Option<oneshot::Receiver<io::Result<ExitStatus>>>,
}

impl Watched {
    /// Starts waiting for child `pid`; its CPU time and peak memory go to `meter` when it ends.
    pub(crate) fn start(pid: u32, meter: &StepMeter) -> Self {
        let pid = pid as libc::pid_t;
        let reaped = Arc::new(Mutex::new(false));
        let (sender, exit) = oneshot::channel();
        let (flag, usage) = (Arc::clone(&reaped), meter.clone());
        let (reported, done) = oneshot::channel();
        // A plain thread, not the runtime's blocking pool: it must run even while the runtime
        // shuts down, or the child would never be reaped.
        let spawned = std::thread::Builder::new()
            .name("strata-child-wait".into())
            .spawn(move || {
                let exit = wait(pid, &flag).map(|(status, cpu, peak)| {
                    usage.cpu(cpu);
                    usage.peak_memory(peak);
                    status
                });
                let _ = reported.send(());
                let _ = sender.send(exit);
            });
        match spawned {
            Ok(_) => meter.track(done),
            // No thread to wait for it: the child is not run (killed and reaped at once, so it
            // leaves no zombie), and `wait` says the waiter ended.
            Err(_) => kill_and_reap(pid, &reaped),
        }
        Self {
            pid,
            reaped,
            exit: Some(exit),
        }
    }

    /// The child's exit status, once it exited.
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        let Some(exit) = self.exit.take() else {
            return Err(io::Error::other("the child was already waited for"));
        };
        exit.await
            .map_err(|_| io::Error::other("the thread waiting for the child ended"))?
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let reaped = self.reaped.lock().map(|r| *r).unwrap_or(true);
        if !reaped {
            // SAFETY: kill has no memory effects. The child is not reaped (the waiting thread
            // sets the flag under this lock before reaping), so the pid is still ours: a
            // running child or a zombie.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
    }
}

/// Kills the child and reaps it, for when no thread can wait for it.
fn kill_and_reap(pid: libc::pid_t, reaped: &Mutex<bool>) {
    let Ok(mut flag) = reaped.lock() else {
        return;
    };
    if *flag {
        return;
    }
    let mut status: libc::c_int = 0;
    // SAFETY: kill and waitpid have no memory effects beyond `status`, a live local; the child
    // is unreaped (the flag is false under the lock), so the pid is ours. SIGKILL ends it, so
    // the wait returns.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, &mut status, 0);
    }
    *flag = true;
}

/// Marks the child as not ours to signal any more.
fn gone(reaped: &Mutex<bool>) {
    if let Ok(mut flag) = reaped.lock() {
        *flag = true;
    }
}

/// Waits until the child exited (leaving it a zombie, so its pid stays ours), then, under the
/// lock, marks it reaped and reaps it with its resource usage.
fn wait(pid: libc::pid_t, reaped: &Mutex<bool>) -> io::Result<(ExitStatus, Duration, u64)> {
    loop {
        // SAFETY: siginfo_t is plain old data; zeroed is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a live local of the right type.
        let done = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if done == 0 {
            break;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            // Not our child to wait for (something else reaped it): its pid must never be
            // signalled again.
            gone(reaped);
            return Err(error);
        }
    }
    let mut flag = reaped.lock().map_err(|_| io::Error::other("poisoned"))?;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; zeroed is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types. The child has exited,
        // so this returns at once; WNOHANG makes sure of it even if the pid was reaped by
        // something else and reused meanwhile.
        let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if done == pid {
            break;
        }
        let error = io::Error::last_os_error();
        if done == 0 || error.kind() != io::ErrorKind::Interrupted {
            *flag = true;
            return Err(if done == 0 {
                io::Error::other("the child was reaped by something else")
            } else {
                error
            });
        }
    }
    *flag = true;
    drop(flag);
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Ok((
        ExitStatus::from_raw(status),
        time(usage.ru_utime) + time(usage.ru_stime),
        // Linux reports kilobytes.
        (usage.ru_maxrss.max(0) as u64) * 1024,
    ))
}
