//! Column lineage of a query, read from its DataFusion logical plan.
//!
//! The walk goes bottom-up over the *unoptimized* plan — the query as written, after name
//! resolution and `*` expansion but before the optimizer rewrites it (pruning, decorrelation,
//! casts the analyzer adds) — so what it reports is what the SQL says. Every plan node maps its
//! input columns to its output columns:
//!
//! ```text
//!   TableScan  flights.clean_flights ──▶ each column: a copy of clean_flights.<column>
//!   Projection / Aggregate / Window   ──▶ each expression: the sources of the columns it reads
//!   Join / Union / SubqueryAlias / Sort / Limit / Distinct ──▶ columns pass through (merged for UNION)
//!   Filter, join keys, GROUP BY, ORDER BY ──▶ row sources: columns that decide which rows exist
//! ```
//!
//! Two answers come out:
//!
//! - **per output column**, the upstream asset columns its values are computed from, each with
//!   how ([`Transform`]): a plain `copy`, an `expression` (anything from a cast to a `CASE`), a
//!   `window` function, or an `aggregate`. Along a path the strongest transform wins, so
//!   `avg(CASE WHEN delayed_15 …)` makes `delayed_15` an aggregate source.
//! - **per query**, the row sources ([`RowEffect`]): columns used as join keys, in filters, in
//!   `GROUP BY` (and `DISTINCT`) or in `ORDER BY`. They change which rows every output column
//!   has, not the values of one, so they are listed once rather than under every column.
//!
//! CTEs need no special case (DataFusion inlines them where they are referenced). Correlated
//! subqueries resolve their outer references against the enclosing query; a subquery's own
//! filters and join keys are row sources of the whole query. Recursive CTEs, `UNNEST` and
//! extension nodes are refused with [`LineageError::Unsupported`] rather than guessed.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, TableReference};
use datafusion::logical_expr::utils::grouping_set_to_exprlist;
use datafusion::logical_expr::{Distinct, Expr, JoinType, LogicalPlan, Subquery};
use serde::Serialize;
use strata_core::key::AssetKey;
use utoipa::ToSchema;

/// How an upstream column's values reach an output column; ordered from the weakest to the
/// strongest, and a path's transform is the strongest along it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// The value unchanged (through aliases, joins, subqueries, `UNION`).
    Copy,
    /// Computed by a scalar expression: a function, an operator, a cast, a `CASE`.
    Expression,
    /// Computed by a window function (as its argument, or as its `PARTITION BY`/`ORDER BY`).
    Window,
    /// Summarized by an aggregate function.
    Aggregate,
}

impl Transform {
    /// The lowercase name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Copy => "copy",
            Self::Expression => "expression",
            Self::Window => "window",
            Self::Aggregate => "aggregate",
        }
    }
}

/// How a column decides which rows a query outputs, rather than the values of one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowEffect {
    /// A join key or a column of a join condition.
    JoinKey,
    /// Read by a `WHERE`, `HAVING` or `EXISTS`/`IN` filter.
    Filter,
    /// A `GROUP BY` (or `DISTINCT`) key.
    GroupBy,
    /// An `ORDER BY` key.
    Sort,
}

impl RowEffect {
    /// The lowercase name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JoinKey => "join_key",
            Self::Filter => "filter",
            Self::GroupBy => "group_by",
            Self::Sort => "sort",
        }
    }
}

/// A column of an upstream asset.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ColumnRef {
    /// The asset (`group/name`).
    pub asset: AssetKey,
    /// Its column.
    pub column: String,
}

/// One output column of a query and where its values come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryColumn {
    /// Its name.
    pub name: String,
    /// Its Arrow type, as Arrow prints it (`Int64`, `Utf8`, …).
    pub data_type: String,
    /// How it is computed as a whole: the strongest transform of its sources, or `expression`
    /// for a constant, `aggregate` for `count(*)`.
    pub transform: Transform,
    /// The upstream columns its values are computed from, in order, each with its transform.
    pub sources: BTreeMap<ColumnRef, Transform>,
}

/// The column lineage of one query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryLineage {
    /// Its output columns, in order.
    pub columns: Vec<QueryColumn>,
    /// Upstream columns that decide which rows it outputs, and how.
    pub rows: BTreeMap<ColumnRef, BTreeSet<RowEffect>>,
}

/// Why a plan's column lineage could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineageError {
    /// The plan holds a construct the walk does not follow.
    #[error("column lineage does not follow {0} yet")]
    Unsupported(String),
    /// A table that is not an asset (`group.name`).
    #[error("`{0}` is not an asset table (`group.name`)")]
    NotAnAsset(String),
    /// The query did not plan.
    #[error("{0}")]
    Plan(String),
}

/// The column lineage of `plan`, an unoptimized logical plan whose tables are assets.
pub fn of_plan(plan: &LogicalPlan) -> Result<QueryLineage, LineageError> {
    let mut walk = Walk::default();
    let cols = walk.plan(plan)?;
    let columns = plan
        .schema()
        .fields()
        .iter()
        .zip(cols)
        .map(|(field, col)| QueryColumn {
            name: field.name().clone(),
            data_type: field.data_type().to_string(),
            transform: col.transform,
            sources: col.sources,
        })
        .collect();
    Ok(QueryLineage {
        columns,
        rows: walk.rows,
    })
}

/// One column of a plan node's output, as the walk sees it.
#[derive(Clone, Debug)]
struct Col {
    transform: Transform,
    sources: BTreeMap<ColumnRef, Transform>,
}

impl Col {
    /// A computed value with no upstream column (a literal, `count(*)`'s input).
    fn constant() -> Self {
        Self {
            transform: Transform::Expression,
            sources: BTreeMap::new(),
        }
    }

    /// `self` computed further by `transform`: every source at least that strong.
    fn through(mut self, transform: Transform) -> Self {
        self.transform = self.transform.max(transform);
        for kind in self.sources.values_mut() {
            *kind = (*kind).max(transform);
        }
        self
    }

    /// Values from either `self` or `other` (an expression reading both, a `UNION`).
    fn merge(&mut self, other: Col) {
        self.transform = self.transform.max(other.transform);
        for (source, kind) in other.sources {
            let entry = self.sources.entry(source).or_insert(kind);
            *entry = (*entry).max(kind);
        }
    }
}

/// A plan node's output columns with the schema that names them.
struct Frame<'a> {
    schema: &'a DFSchema,
    cols: &'a [Col],
}

impl Frame<'_> {
    fn get(&self, column: &Column) -> Result<Col, LineageError> {
        let index = self
            .schema
            .index_of_column(column)
            .map_err(|e| LineageError::Plan(e.to_string()))?;
        Ok(self.cols[index].clone())
    }
}

#[derive(Default)]
struct Walk {
    rows: BTreeMap<ColumnRef, BTreeSet<RowEffect>>,
    /// The enclosing queries' frames, innermost last, for correlated subqueries.
    outer: Vec<(DFSchema, Vec<Col>)>,
}

impl Walk {
    fn plan(&mut self, plan: &LogicalPlan) -> Result<Vec<Col>, LineageError> {
        match plan {
            LogicalPlan::TableScan(scan) => {
                let asset = asset_of(&scan.table_name)?;
                for filter in &scan.filters {
                    for column in filter.column_refs() {
                        self.row(
                            ColumnRef {
                                asset: asset.clone(),
                                column: column.name.clone(),
                            },
                            RowEffect::Filter,
                        );
                    }
                }
                Ok(scan
                    .projected_schema
                    .fields()
                    .iter()
                    .map(|field| {
                        let source = ColumnRef {
                            asset: asset.clone(),
                            column: field.name().clone(),
                        };
                        Col {
                            transform: Transform::Copy,
                            sources: BTreeMap::from([(source, Transform::Copy)]),
                        }
                    })
                    .collect())
            }
            LogicalPlan::Projection(projection) => {
                let input = self.plan(&projection.input)?;
                let frame = Frame {
                    schema: projection.input.schema(),
                    cols: &input,
                };
                projection
                    .expr
                    .iter()
                    .map(|expr| self.value(expr, &frame))
                    .collect()
            }
            LogicalPlan::Filter(filter) => {
                let input = self.plan(&filter.input)?;
                let frame = Frame {
                    schema: filter.input.schema(),
                    cols: &input,
                };
                self.rows_from(&filter.predicate, &frame, RowEffect::Filter)?;
                Ok(input)
            }
            LogicalPlan::Aggregate(aggregate) => {
                let input = self.plan(&aggregate.input)?;
                let frame = Frame {
                    schema: aggregate.input.schema(),
                    cols: &input,
                };
                let groups = grouping_set_to_exprlist(&aggregate.group_expr)
                    .map_err(|e| LineageError::Plan(e.to_string()))?;
                let mut out = Vec::with_capacity(aggregate.schema.fields().len());
                for group in groups {
                    self.rows_from(group, &frame, RowEffect::GroupBy)?;
                    out.push(self.value(group, &frame)?);
                }
                if matches!(aggregate.group_expr.as_slice(), [Expr::GroupingSet(_)]) {
                    // DataFusion's internal grouping id of a GROUPING SETS/ROLLUP/CUBE.
                    out.push(Col::constant());
                }
                for expr in &aggregate.aggr_expr {
                    out.push(self.computed(expr, &frame, Transform::Aggregate)?);
                }
                Ok(out)
            }
            LogicalPlan::Window(window) => {
                let mut out = self.plan(&window.input)?;
                let frame = Frame {
                    schema: window.input.schema(),
                    cols: &out.clone(),
                };
                let computed = window
                    .window_expr
                    .iter()
                    .map(|expr| self.computed(expr, &frame, Transform::Window))
                    .collect::<Result<Vec<_>, _>>()?;
                out.extend(computed);
                Ok(out)
            }
            LogicalPlan::Sort(sort) => {
                let input = self.plan(&sort.input)?;
                let frame = Frame {
                    schema: sort.input.schema(),
                    cols: &input,
                };
                for key in &sort.expr {
                    self.rows_from(&key.expr, &frame, RowEffect::Sort)?;
                }
                Ok(input)
            }
            LogicalPlan::Join(join) => {
                let left = self.plan(&join.left)?;
                let right = self.plan(&join.right)?;
                let left_frame = Frame {
                    schema: join.left.schema(),
                    cols: &left,
                };
                let right_frame = Frame {
                    schema: join.right.schema(),
                    cols: &right,
                };
                for (l, r) in &join.on {
                    self.rows_from(l, &left_frame, RowEffect::JoinKey)?;
                    self.rows_from(r, &right_frame, RowEffect::JoinKey)?;
                }
                if let Some(condition) = &join.filter {
                    let both = join
                        .left
                        .schema()
                        .join(join.right.schema())
                        .map_err(|e| LineageError::Plan(e.to_string()))?;
                    let cols: Vec<Col> = left.iter().chain(&right).cloned().collect();
                    let frame = Frame {
                        schema: &both,
                        cols: &cols,
                    };
                    self.rows_from(condition, &frame, RowEffect::JoinKey)?;
                }
                Ok(match join.join_type {
                    JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                        left.into_iter().chain(right).collect()
                    }
                    JoinType::LeftSemi | JoinType::LeftAnti => left,
                    JoinType::RightSemi | JoinType::RightAnti => right,
                    // The mark column says whether a match exists: decided by the join keys.
                    JoinType::LeftMark => left.into_iter().chain([Col::constant()]).collect(),
                    JoinType::RightMark => right.into_iter().chain([Col::constant()]).collect(),
                })
            }
            LogicalPlan::Union(union) => {
                let mut out: Option<Vec<Col>> = None;
                for input in &union.inputs {
                    let cols = self.plan(input)?;
                    match &mut out {
                        None => out = Some(cols),
                        Some(out) => {
                            for (acc, col) in out.iter_mut().zip(cols) {
                                acc.merge(col);
                            }
                        }
                    }
                }
                Ok(out.unwrap_or_default())
            }
            LogicalPlan::Distinct(Distinct::All(input)) => {
                let cols = self.plan(input)?;
                for col in &cols {
                    for source in col.sources.keys() {
                        self.row(source.clone(), RowEffect::GroupBy);
                    }
                }
                Ok(cols)
            }
            LogicalPlan::Distinct(Distinct::On(on)) => {
                let input = self.plan(&on.input)?;
                let frame = Frame {
                    schema: on.input.schema(),
                    cols: &input,
                };
                for key in &on.on_expr {
                    self.rows_from(key, &frame, RowEffect::GroupBy)?;
                }
                for key in on.sort_expr.iter().flatten() {
                    self.rows_from(&key.expr, &frame, RowEffect::Sort)?;
                }
                on.select_expr
                    .iter()
                    .map(|expr| self.value(expr, &frame))
                    .collect()
            }
            LogicalPlan::SubqueryAlias(alias) => self.plan(&alias.input),
            LogicalPlan::Subquery(subquery) => self.plan(&subquery.subquery),
            LogicalPlan::Limit(limit) => self.plan(&limit.input),
            LogicalPlan::Repartition(repartition) => self.plan(&repartition.input),
            LogicalPlan::EmptyRelation(_) | LogicalPlan::Values(_) => {
                Ok(vec![Col::constant(); plan.schema().fields().len()])
            }
            LogicalPlan::RecursiveQuery(_) => {
                Err(LineageError::Unsupported("recursive CTEs".into()))
            }
            LogicalPlan::Unnest(_) => Err(LineageError::Unsupported("UNNEST".into())),
            other => Err(LineageError::Unsupported(format!(
                "{} plans",
                other.display()
            ))),
        }
    }

    /// An output value: a copy when `expr` is (an alias of) a column, else computed.
    fn value(&mut self, expr: &Expr, frame: &Frame<'_>) -> Result<Col, LineageError> {
        match unalias(expr) {
            Expr::Column(column) => frame.get(column),
            Expr::OuterReferenceColumn(_, column) => self.outer_col(column),
            _ => self.computed(expr, frame, Transform::Expression),
        }
    }

    /// A value computed from every column `expr` reads, by at least `transform`.
    fn computed(
        &mut self,
        expr: &Expr,
        frame: &Frame<'_>,
        transform: Transform,
    ) -> Result<Col, LineageError> {
        let mut col = Col {
            transform,
            sources: BTreeMap::new(),
        };
        for read in self.reads(expr, frame)? {
            col.merge(read.through(transform));
        }
        Ok(col)
    }

    /// Every source of every column `expr` reads becomes a row source with `effect`.
    fn rows_from(
        &mut self,
        expr: &Expr,
        frame: &Frame<'_>,
        effect: RowEffect,
    ) -> Result<(), LineageError> {
        for read in self.reads(expr, frame)? {
            for source in read.sources.into_keys() {
                self.row(source, effect);
            }
        }
        Ok(())
    }

    fn row(&mut self, source: ColumnRef, effect: RowEffect) {
        self.rows.entry(source).or_default().insert(effect);
    }

    /// The columns `expr` reads: its columns, outer references, and the values of subqueries
    /// in it (whose own row sources are recorded on the way).
    fn reads(&mut self, expr: &Expr, frame: &Frame<'_>) -> Result<Vec<Col>, LineageError> {
        let mut found = Vec::new();
        let mut failed = None;
        let mut visit = |node: &Expr| -> Result<Col, LineageError> {
            match node {
                Expr::Column(column) => frame.get(column),
                Expr::OuterReferenceColumn(_, column) => self.outer_col(column),
                Expr::ScalarSubquery(subquery) => self.subquery(subquery, frame),
                Expr::InSubquery(in_subquery) => self.subquery(&in_subquery.subquery, frame),
                Expr::Exists(exists) => {
                    // EXISTS is true or false by the subquery's rows: its row sources.
                    self.subquery(&exists.subquery, frame)?;
                    Ok(Col::constant())
                }
                _ => Ok(Col::constant()),
            }
        };
        expr.apply(|node| {
            if !matches!(
                node,
                Expr::Column(_)
                    | Expr::OuterReferenceColumn(..)
                    | Expr::ScalarSubquery(_)
                    | Expr::InSubquery(_)
                    | Expr::Exists(_)
            ) {
                return Ok(TreeNodeRecursion::Continue);
            }
            match visit(node) {
                Ok(col) => {
                    found.push(col);
                    Ok(TreeNodeRecursion::Continue)
                }
                Err(e) => {
                    failed = Some(e);
                    Ok(TreeNodeRecursion::Stop)
                }
            }
        })
        .map_err(|e| LineageError::Plan(e.to_string()))?;
        match failed {
            Some(e) => Err(e),
            None => Ok(found),
        }
    }

    /// The value of a subquery's (first) column; its outer references read `frame`.
    fn subquery(&mut self, subquery: &Subquery, frame: &Frame<'_>) -> Result<Col, LineageError> {
        self.outer.push((frame.schema.clone(), frame.cols.to_vec()));
        let cols = self.plan(&subquery.subquery);
        self.outer.pop();
        Ok(cols?.into_iter().next().unwrap_or_else(Col::constant))
    }

    fn outer_col(&self, column: &Column) -> Result<Col, LineageError> {
        for (schema, cols) in self.outer.iter().rev() {
            if let Ok(index) = schema.index_of_column(column) {
                return Ok(cols[index].clone());
            }
        }
        Err(LineageError::Plan(format!(
            "the outer reference {column} matches no enclosing query"
        )))
    }
}

fn unalias(mut expr: &Expr) -> &Expr {
    while let Expr::Alias(alias) = expr {
        expr = &alias.expr;
    }
    expr
}

/// The asset a `group.name` table is.
fn asset_of(table: &TableReference) -> Result<AssetKey, LineageError> {
    let not_an_asset = || LineageError::NotAnAsset(table.to_string());
    let schema = table.schema().ok_or_else(not_an_asset)?;
    AssetKey::parse(&format!("{schema}/{}", table.table())).map_err(|_| not_an_asset())
}

#[cfg(test)]
#[path = "columns_tests.rs"]
mod tests;
