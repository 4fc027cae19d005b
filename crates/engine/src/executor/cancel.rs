//! Cancellation: one flag per run, set by Ctrl-C or by the storage flag, seen by every step.

use tokio::sync::watch;

/// Sets a run's cancellation flag.
#[derive(Clone, Debug)]
pub struct CancelHandle(watch::Sender<bool>);

/// Observes a run's cancellation flag.
#[derive(Clone, Debug)]
pub struct CancelSignal(watch::Receiver<bool>);

/// A fresh, unset flag.
pub fn cancel_pair() -> (CancelHandle, CancelSignal) {
    let (sender, receiver) = watch::channel(false);
    (CancelHandle(sender), CancelSignal(receiver))
}

impl CancelHandle {
    /// Asks the run to stop: no new step starts, and executing steps are interrupted.
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }

    /// A signal observing this flag.
    pub fn signal(&self) -> CancelSignal {
        CancelSignal(self.0.subscribe())
    }
}

impl CancelSignal {
    /// Whether cancellation was asked for.
    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when cancellation is asked for (never, if the handle is dropped unset).
    pub async fn cancelled(&mut self) {
        if self.0.wait_for(|set| *set).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
