//! Measuring what a step attempt uses, for its cost.
//!
//! Each part of a step adds what it knows: inputs add the rows and bytes they resolve, a
//! command adds its child's CPU time and peak memory (`wait4`'s resource usage), an SQL query
//! adds DataFusion's own plan metrics (compute and decode time), and every write adds the IO
//! manager's time to encode and store the rows. The step then records one `StepCost` per
//! partition.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::Result as DataFusionResult;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream};
use datafusion::physical_plan::ExecutionPlan;
use futures::Stream;
use strata_core::cost::Usage;
use tokio::sync::oneshot;

/// What an attempt used so far; cheap to clone into the tasks that write and the threads that
/// wait for commands.
#[derive(Clone, Debug, Default)]
pub(crate) struct StepMeter {
    usage: Arc<Mutex<Usage>>,
    /// Threads still to report (a command's waiter): the attempt's cost waits for them.
    pending: Arc<Mutex<Vec<oneshot::Receiver<()>>>>,
}

/// How long an attempt's cost waits for a killed command to be reaped.
const SETTLE_WAIT: Duration = Duration::from_secs(5);

impl StepMeter {
    fn update(&self, f: impl FnOnce(&mut Usage)) {
        if let Ok(mut usage) = self.usage.lock() {
            f(&mut usage);
        }
    }

    /// A thread that will report to this meter (a command's waiter), and says when it did.
    pub(crate) fn track(&self, reporter: oneshot::Receiver<()>) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.push(reporter);
        }
    }

    /// Waits (up to [`SETTLE_WAIT`]) for the threads still to report: a command killed by a
    /// timeout or a cancellation is reaped, and its CPU time counted, before the cost is taken.
    pub(crate) async fn settle(&self) {
        let pending: Vec<oneshot::Receiver<()>> = self
            .pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default();
        let _ = tokio::time::timeout(SETTLE_WAIT, futures::future::join_all(pending)).await;
    }

    /// Input partitions resolved: their stored rows and bytes.
    pub(crate) fn read(&self, rows: u64, bytes: u64) {
        self.update(|u| {
            u.rows_read += rows;
            u.bytes_read += bytes;
        });
    }

    /// A partition written.
    pub(crate) fn wrote(&self, rows: u64, bytes: u64) {
        self.update(|u| {
            u.rows_written += rows;
            u.bytes_written += bytes;
        });
    }

    /// CPU time spent.
    pub(crate) fn cpu(&self, time: Duration) {
        self.update(|u| u.cpu_seconds += time.as_secs_f64());
    }

    /// A command's peak resident memory.
    pub(crate) fn peak_memory(&self, bytes: u64) {
        self.update(|u| {
            u.peak_memory_bytes = Some(u.peak_memory_bytes.unwrap_or(0).max(bytes));
        });
    }

    /// Units a command reported.
    pub(crate) fn units(&self, unit: &str, amount: f64) {
        self.update(|u| *u.units.entry(unit.to_string()).or_default() += amount);
    }

    /// Everything measured, with the attempt's wall time.
    pub(crate) fn finish(&self, wall: Duration) -> Usage {
        let mut usage = self.usage.lock().map(|u| u.clone()).unwrap_or_default();
        usage.wall_seconds = wall.as_secs_f64();
        usage
    }

    /// Wraps the rows a writer consumes, so the writer's own time (encoding, storing) is
    /// measured: from each batch it is handed to when it asks for the next, and from the end of
    /// the rows to when it lets go of the stream (the final encoding and the upload). Time spent
    /// producing the batches, or waiting for them, is the query's (measured by its plan).
    pub(crate) fn timed_write(
        &self,
        inner: SendableRecordBatchStream,
    ) -> SendableRecordBatchStream {
        Box::pin(TimedWrite {
            inner,
            meter: self.clone(),
            handed: None,
            busy: Duration::ZERO,
        })
    }

    /// Adds the compute time an executed plan reports: every operator's `elapsed_compute`,
    /// and the file scans' decode time (`time_elapsed_processing`).
    pub(crate) fn plan(&self, plan: &Arc<dyn ExecutionPlan>) {
        self.cpu(Duration::from_nanos(plan_compute_nanos(plan.as_ref())));
    }
}

fn plan_compute_nanos(plan: &dyn ExecutionPlan) -> u64 {
    let own = plan.metrics().map_or(0, |metrics| {
        let compute = metrics.elapsed_compute().unwrap_or(0);
        let decode = metrics
            .sum_by_name("time_elapsed_processing")
            .map_or(0, |v| v.as_usize());
        (compute + decode) as u64
    });
    own + plan
        .children()
        .into_iter()
        .map(|child| plan_compute_nanos(child.as_ref()))
        .sum::<u64>()
}

struct TimedWrite {
    inner: SendableRecordBatchStream,
    meter: StepMeter,
    /// When the writer was last handed a batch (or the end of the rows).
    handed: Option<Instant>,
    /// The writer's time so far.
    busy: Duration,
}

impl Stream for TimedWrite {
    type Item = DataFusionResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(handed) = self.handed.take() {
            self.busy += handed.elapsed();
        }
        let polled = self.inner.as_mut().poll_next(cx);
        if polled.is_ready() {
            self.handed = Some(Instant::now());
        }
        polled
    }
}

impl RecordBatchStream for TimedWrite {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
}

impl Drop for TimedWrite {
    fn drop(&mut self) {
        let tail = self.handed.map_or(Duration::ZERO, |h| h.elapsed());
        self.meter.cpu(self.busy + tail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_add_up_and_peak_memory_is_the_largest() {
        let meter = StepMeter::default();
        meter.read(10, 1000);
        meter.read(5, 500);
        meter.wrote(3, 300);
        meter.cpu(Duration::from_millis(1500));
        meter.peak_memory(7);
        meter.peak_memory(5);
        meter.units("credits", 0.25);
        meter.units("credits", 0.25);
        let usage = meter.finish(Duration::from_secs(2));
        assert_eq!((usage.rows_read, usage.bytes_read), (15, 1500));
        assert_eq!((usage.rows_written, usage.bytes_written), (3, 300));
        assert_eq!(usage.cpu_seconds, 1.5);
        assert_eq!(usage.wall_seconds, 2.0);
        assert_eq!(usage.peak_memory_bytes, Some(7));
        assert_eq!(usage.units["credits"], 0.5);
    }
}
