//! Delivery of OpenLineage events: a bounded queue and one background thread that POSTs each
//! event to a URL or appends it to an NDJSON file.
//!
//! ```text
//!   step ──try_send──▶ [queue: QUEUE_CAPACITY events] ──▶ delivery thread ──▶ POST url
//!          (full: dropped, warned)                                         └─▶ append file
//! ```
//!
//! Sending never waits and never fails: a full queue drops the event with a warning, and a
//! delivery error (receiver down, disk full) is a warning too — lineage is an observer of
//! materialization and must never slow or fail it. The thread starts with the first event (a
//! read-only command never starts it) and, when the [`Emitter`] is dropped, gets up to
//! [`DRAIN_TIMEOUT`] to deliver what is queued, so a short CLI run's events are not lost.

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Events waiting for delivery at most; more are dropped.
pub const QUEUE_CAPACITY: usize = 1024;

/// How long dropping the emitter waits for queued events to be delivered.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one HTTP delivery may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where events go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// POSTed as JSON to this URL.
    Url(String),
    /// Appended, one JSON document per line, to this file.
    File(PathBuf),
}

/// The sending side of the queue; the thread behind it starts on first use.
#[derive(Debug)]
pub struct Emitter {
    target: Target,
    queue: OnceLock<Queue>,
}

#[derive(Debug)]
struct Queue {
    sender: Mutex<Option<SyncSender<String>>>,
    /// Disconnects when the delivery thread ends.
    finished: Mutex<Option<Receiver<()>>>,
}

impl Emitter {
    /// An emitter to `target` (nothing starts until the first event).
    pub fn new(target: Target) -> Self {
        Self {
            target,
            queue: OnceLock::new(),
        }
    }

    /// Where events go.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Queues one event without waiting; when the queue is full it is dropped with a warning.
    pub fn send(&self, event: String) {
        let queue = self.queue.get_or_init(|| start(self.target.clone()));
        let sender = queue.sender.lock().unwrap_or_else(|e| e.into_inner());
        let Some(sender) = sender.as_ref() else {
            return;
        };
        match sender.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => tracing::warn!(
                capacity = QUEUE_CAPACITY,
                "OpenLineage queue full: an event was dropped (is the receiver slow or down?)"
            ),
            Err(TrySendError::Disconnected(_)) => {
                tracing::warn!("OpenLineage delivery stopped: an event was dropped")
            }
        }
    }
}

impl Drop for Emitter {
    fn drop(&mut self) {
        let Some(queue) = self.queue.get() else {
            return;
        };
        // Closing the channel ends the thread once the queue is empty.
        drop(
            queue
                .sender
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        let finished = queue
            .finished
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(finished) = finished
            && let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(DRAIN_TIMEOUT)
        {
            tracing::warn!(
                "OpenLineage events still queued after {}s were not delivered",
                DRAIN_TIMEOUT.as_secs()
            );
        }
    }
}

fn start(target: Target) -> Queue {
    let (sender, receiver) = sync_channel::<String>(QUEUE_CAPACITY);
    let (done, finished) = sync_channel::<()>(0);
    let spawned = std::thread::Builder::new()
        .name("openlineage".into())
        .spawn(move || {
            let mut sink = Sink::new(target);
            for event in receiver {
                if let Err(e) = sink.deliver(&event) {
                    tracing::warn!(error = %e, "an OpenLineage event was not delivered");
                }
            }
            drop(done);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "OpenLineage delivery could not start; events are dropped");
        return Queue {
            sender: Mutex::new(None),
            finished: Mutex::new(None),
        };
    }
    Queue {
        sender: Mutex::new(Some(sender)),
        finished: Mutex::new(Some(finished)),
    }
}

/// The delivery thread's connection to the target, opened on first delivery.
enum Sink {
    Http {
        url: String,
        client: Option<reqwest::blocking::Client>,
    },
    File {
        path: PathBuf,
        file: Option<std::fs::File>,
    },
}

impl Sink {
    fn new(target: Target) -> Self {
        match target {
            Target::Url(url) => Self::Http { url, client: None },
            Target::File(path) => Self::File { path, file: None },
        }
    }

    fn deliver(&mut self, event: &str) -> Result<(), String> {
        match self {
            Self::Http { url, client } => {
                if client.is_none() {
                    *client = Some(
                        reqwest::blocking::Client::builder()
                            .timeout(HTTP_TIMEOUT)
                            .build()
                            .map_err(|e| e.to_string())?,
                    );
                }
                let client = client.as_ref().expect("built above");
                let response = client
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .body(event.to_string())
                    .send()
                    .map_err(|e| format!("POST {url}: {e}"))?;
                if !response.status().is_success() {
                    return Err(format!("POST {url}: {}", response.status()));
                }
                Ok(())
            }
            Self::File { path, file } => {
                if file.is_none() {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)
                            .map_err(|e| format!("{}: {e}", parent.display()))?;
                    }
                    *file = Some(
                        std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&*path)
                            .map_err(|e| format!("{}: {e}", path.display()))?,
                    );
                }
                let file = file.as_mut().expect("opened above");
                // One write per line, so concurrent writers never interleave within a line.
                let line = format!("{event}\n");
                file.write_all(line.as_bytes())
                    .map_err(|e| format!("{}: {e}", path.display()))
            }
        }
    }
}
