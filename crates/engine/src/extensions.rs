//! The Rust API: functions and IO managers a binary registers beside the repository's declared
//! assets.
//!
//! An asset declared `rust = "weekday_counts"` is computed by the function registered under that
//! name; an IO manager declared `kind = "custom"` in `strata.toml` is the implementation
//! registered under its name. A binary builds an [`Extensions`] and hands it to Strata's CLI
//! entry point (`strata_server::run`); a repository that names a function or an IO manager the
//! binary did not register fails `strata check` (file:line:col) and never starts a run.
//!
//! ```ignore
//! use strata_engine::extensions::{Extensions, RustContext};
//!
//! let extensions = Extensions::new().function("one_row", |ctx: RustContext| async move {
//!     let frame = ctx.sql("SELECT 1 AS n").await?;
//!     Ok(frame.collect().await?)
//! });
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;
use strata_core::key::AssetKey;
use strata_io_managers::IoManager;

use crate::sql_session::read_only;

/// What a function's failure says; any error type that displays converts into it.
#[derive(Debug)]
pub struct FunctionError(pub String);

impl<E: std::error::Error> From<E> for FunctionError {
    fn from(error: E) -> Self {
        Self(error.to_string())
    }
}

/// The boxed future a registered function returns.
pub type FunctionFuture =
    Pin<Box<dyn Future<Output = Result<Vec<RecordBatch>, FunctionError>> + Send>>;

/// A registered function: the partition's context in, the partition's rows out.
pub type RustFunction = Arc<dyn Fn(RustContext) -> FunctionFuture + Send + Sync>;

/// What a function is given: which partition, and its upstream assets as tables.
pub struct RustContext {
    /// The asset being computed.
    pub asset: AssetKey,
    /// The partition key; `None` when the asset is unpartitioned.
    pub partition_key: Option<String>,
    /// The start of the partition's time window (seconds since the epoch, UTC).
    pub partition_start: Option<i64>,
    /// The end of the partition's time window, exclusive.
    pub partition_end: Option<i64>,
    /// The run.
    pub run_id: String,
    pub(crate) session: SessionContext,
}

impl RustContext {
    /// A DataFusion session where each dependency is the table `group.name`, exposing exactly
    /// the upstream partitions the dependency's mapping selects.
    pub fn session(&self) -> &SessionContext {
        &self.session
    }

    /// Runs a read-only query over the dependencies.
    pub async fn sql(&self, query: &str) -> Result<DataFrame, FunctionError> {
        Ok(self.session.sql_with_options(query, read_only()).await?)
    }
}

/// Functions and IO managers registered by the binary.
#[derive(Clone, Default)]
pub struct Extensions {
    functions: BTreeMap<String, RustFunction>,
    io_managers: BTreeMap<String, Arc<dyn IoManager>>,
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("functions", &self.functions.keys().collect::<Vec<_>>())
            .field("io_managers", &self.io_managers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Extensions {
    /// Nothing registered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `function` under `name` (assets declare `rust = "name"`); a second
    /// registration under the same name replaces the first.
    pub fn function<F, Fut>(mut self, name: impl Into<String>, function: F) -> Self
    where
        F: Fn(RustContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<RecordBatch>, FunctionError>> + Send + 'static,
    {
        let boxed: RustFunction = Arc::new(move |ctx| Box::pin(function(ctx)));
        self.functions.insert(name.into(), boxed);
        self
    }

    /// Registers `manager` under `name`: strata.toml declares it `[io_managers.NAME] kind =
    /// "custom"` (or this replaces a declared one of that name).
    pub fn io_manager(mut self, name: impl Into<String>, manager: Arc<dyn IoManager>) -> Self {
        self.io_managers.insert(name.into(), manager);
        self
    }

    /// The function registered as `name`.
    pub fn get_function(&self, name: &str) -> Option<&RustFunction> {
        self.functions.get(name)
    }

    /// Names of the registered functions.
    pub fn function_names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    /// The registered IO managers.
    pub fn io_managers(&self) -> impl Iterator<Item = (&str, &Arc<dyn IoManager>)> {
        self.io_managers.iter().map(|(n, m)| (n.as_str(), m))
    }
}
