//! SQL text → column lineage, over three small upstream assets. Each test writes the whole
//! answer out: every output column with its transform and sources, and every row source.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use strata_core::key::AssetKey;

use super::QueryLineage;
use crate::lineage::{LineageError, query_lineage};

fn table(key: &str, columns: &[(&str, DataType)]) -> (AssetKey, SchemaRef) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, ty)| Field::new(*name, ty.clone(), true))
        .collect();
    (AssetKey::parse(key).unwrap(), Arc::new(Schema::new(fields)))
}

fn tables() -> Vec<(AssetKey, SchemaRef)> {
    vec![
        table(
            "raw/orders",
            &[
                ("id", DataType::Int64),
                ("customer_id", DataType::Int64),
                ("amount", DataType::Float64),
                ("status", DataType::Utf8),
                (
                    "ordered_at",
                    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                ),
            ],
        ),
        table(
            "raw/customers",
            &[
                ("id", DataType::Int64),
                ("name", DataType::Utf8),
                ("country", DataType::Utf8),
            ],
        ),
        table(
            "raw/refunds",
            &[("order_id", DataType::Int64), ("amount", DataType::Float64)],
        ),
    ]
}

async fn lineage(sql: &str) -> QueryLineage {
    query_lineage(sql, &tables())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `name: transform <- asset.column (transform), …` per output column.
fn columns(lineage: &QueryLineage) -> Vec<String> {
    lineage
        .columns
        .iter()
        .map(|c| {
            let sources: Vec<String> = c
                .sources
                .iter()
                .map(|(s, t)| format!("{}.{} ({})", s.asset, s.column, t.as_str()))
                .collect();
            format!(
                "{}: {} <- {}",
                c.name,
                c.transform.as_str(),
                sources.join(", ")
            )
        })
        .collect()
}

/// `asset.column: effect, …` per row source.
fn rows(lineage: &QueryLineage) -> Vec<String> {
    lineage
        .rows
        .iter()
        .map(|(s, effects)| {
            let effects: Vec<&str> = effects.iter().map(|e| e.as_str()).collect();
            format!("{}.{}: {}", s.asset, s.column, effects.join(", "))
        })
        .collect()
}

async fn check(sql: &str, expected_columns: &[&str], expected_rows: &[&str]) {
    let lineage = lineage(sql).await;
    assert_eq!(columns(&lineage), expected_columns, "columns of {sql}");
    assert_eq!(rows(&lineage), expected_rows, "rows of {sql}");
}

#[tokio::test]
async fn columns_and_aliases_are_copies() {
    check(
        "SELECT id, amount AS total, o.status AS s FROM raw.orders AS o",
        &[
            "id: copy <- raw/orders.id (copy)",
            "total: copy <- raw/orders.amount (copy)",
            "s: copy <- raw/orders.status (copy)",
        ],
        &[],
    )
    .await;
}

#[tokio::test]
async fn functions_casts_operators_and_constants_are_expressions() {
    check(
        "SELECT amount * 2 AS doubled, CAST(id AS VARCHAR) AS id_text, 'x' AS constant, \
         concat(status, CAST(customer_id AS VARCHAR)) AS label, \
         CASE WHEN status = 'paid' THEN amount ELSE 0 END AS paid_amount \
         FROM raw.orders",
        &[
            "doubled: expression <- raw/orders.amount (expression)",
            "id_text: expression <- raw/orders.id (expression)",
            "constant: expression <- ",
            "label: expression <- raw/orders.customer_id (expression), raw/orders.status (expression)",
            "paid_amount: expression <- raw/orders.amount (expression), raw/orders.status (expression)",
        ],
        &[],
    )
    .await;
}

#[tokio::test]
async fn select_star_copies_every_column() {
    check(
        "SELECT * FROM raw.customers",
        &[
            "id: copy <- raw/customers.id (copy)",
            "name: copy <- raw/customers.name (copy)",
            "country: copy <- raw/customers.country (copy)",
        ],
        &[],
    )
    .await;
    check(
        "SELECT r.*, o.status FROM raw.refunds r JOIN raw.orders o ON o.id = r.order_id",
        &[
            "order_id: copy <- raw/refunds.order_id (copy)",
            "amount: copy <- raw/refunds.amount (copy)",
            "status: copy <- raw/orders.status (copy)",
        ],
        &["raw/orders.id: join_key", "raw/refunds.order_id: join_key"],
    )
    .await;
}

#[tokio::test]
async fn aggregates_summarize_and_group_keys_are_copies_and_row_sources() {
    check(
        "SELECT customer_id, sum(amount) AS total, count(*) AS n, \
         sum(amount) / count(*) AS mean, count(DISTINCT status) AS statuses \
         FROM raw.orders GROUP BY customer_id",
        &[
            "customer_id: copy <- raw/orders.customer_id (copy)",
            "total: aggregate <- raw/orders.amount (aggregate)",
            "n: aggregate <- ",
            "mean: aggregate <- raw/orders.amount (aggregate)",
            "statuses: aggregate <- raw/orders.status (aggregate)",
        ],
        &["raw/orders.customer_id: group_by"],
    )
    .await;
}

#[tokio::test]
async fn an_expression_over_a_group_key_is_an_expression() {
    check(
        "SELECT upper(status) AS s, avg(CASE WHEN amount > 10 THEN 1.0 ELSE 0.0 END) AS share \
         FROM raw.orders GROUP BY upper(status)",
        &[
            "s: expression <- raw/orders.status (expression)",
            "share: aggregate <- raw/orders.amount (aggregate)",
        ],
        &["raw/orders.status: group_by"],
    )
    .await;
}

#[tokio::test]
async fn having_where_and_order_by_are_row_sources() {
    check(
        "SELECT customer_id FROM raw.orders WHERE status = 'paid' \
         GROUP BY customer_id HAVING sum(amount) > 10 ORDER BY customer_id LIMIT 5",
        &["customer_id: copy <- raw/orders.customer_id (copy)"],
        &[
            "raw/orders.amount: filter",
            "raw/orders.customer_id: group_by, sort",
            "raw/orders.status: filter",
        ],
    )
    .await;
}

#[tokio::test]
async fn joins_copy_both_sides_and_their_keys_are_row_sources() {
    check(
        "SELECT o.id, c.name, o.amount - coalesce(r.amount, 0) AS net \
         FROM raw.orders o \
         JOIN raw.customers c ON o.customer_id = c.id \
         LEFT JOIN raw.refunds r ON r.order_id = o.id AND r.amount > 0 \
         WHERE c.country = 'FR'",
        &[
            "id: copy <- raw/orders.id (copy)",
            "name: copy <- raw/customers.name (copy)",
            "net: expression <- raw/orders.amount (expression), raw/refunds.amount (expression)",
        ],
        &[
            "raw/customers.country: filter",
            "raw/customers.id: join_key",
            "raw/orders.customer_id: join_key",
            "raw/orders.id: join_key",
            "raw/refunds.amount: join_key",
            "raw/refunds.order_id: join_key",
        ],
    )
    .await;
}

#[tokio::test]
async fn join_using_and_cross_joins() {
    check(
        "SELECT * FROM (SELECT id AS order_id, amount FROM raw.orders) o \
         JOIN raw.refunds r USING (order_id)",
        &[
            "order_id: copy <- raw/orders.id (copy)",
            "amount: copy <- raw/orders.amount (copy)",
            "amount: copy <- raw/refunds.amount (copy)",
        ],
        &["raw/orders.id: join_key", "raw/refunds.order_id: join_key"],
    )
    .await;
    check(
        "SELECT c.name, r.amount FROM raw.customers c CROSS JOIN raw.refunds r",
        &[
            "name: copy <- raw/customers.name (copy)",
            "amount: copy <- raw/refunds.amount (copy)",
        ],
        &[],
    )
    .await;
}

#[tokio::test]
async fn ctes_are_followed_to_their_tables() {
    check(
        "WITH paid AS (SELECT customer_id AS who, amount FROM raw.orders WHERE status = 'paid'), \
              totals AS (SELECT who, sum(amount) AS total FROM paid GROUP BY who) \
         SELECT c.name, t.total FROM totals t JOIN raw.customers c ON c.id = t.who",
        &[
            "name: copy <- raw/customers.name (copy)",
            "total: aggregate <- raw/orders.amount (aggregate)",
        ],
        &[
            "raw/customers.id: join_key",
            "raw/orders.customer_id: join_key, group_by",
            "raw/orders.status: filter",
        ],
    )
    .await;
}

#[tokio::test]
async fn derived_tables_keep_what_happened_inside() {
    check(
        "SELECT t.total * 2 AS doubled, t.customer_id FROM \
         (SELECT customer_id, sum(amount) AS total FROM raw.orders GROUP BY customer_id) AS t",
        &[
            "doubled: aggregate <- raw/orders.amount (aggregate)",
            "customer_id: copy <- raw/orders.customer_id (copy)",
        ],
        &["raw/orders.customer_id: group_by"],
    )
    .await;
}

#[tokio::test]
async fn in_and_exists_subqueries_are_row_sources_with_their_correlation() {
    check(
        "SELECT name FROM raw.customers c WHERE EXISTS \
         (SELECT 1 FROM raw.orders o WHERE o.customer_id = c.id AND o.amount > 100)",
        &["name: copy <- raw/customers.name (copy)"],
        &[
            "raw/customers.id: filter",
            "raw/orders.amount: filter",
            "raw/orders.customer_id: filter",
        ],
    )
    .await;
    check(
        "SELECT id FROM raw.orders WHERE customer_id IN \
         (SELECT id FROM raw.customers WHERE country = 'FR')",
        &["id: copy <- raw/orders.id (copy)"],
        &[
            "raw/customers.country: filter",
            "raw/customers.id: filter",
            "raw/orders.customer_id: filter",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_scalar_subquery_is_a_source_of_its_column() {
    check(
        "SELECT id, amount / (SELECT max(r.amount) FROM raw.refunds r) AS ratio FROM raw.orders",
        &[
            "id: copy <- raw/orders.id (copy)",
            "ratio: aggregate <- raw/orders.amount (expression), raw/refunds.amount (aggregate)",
        ],
        &[],
    )
    .await;
}

#[tokio::test]
async fn window_functions_read_their_arguments_partitions_and_order() {
    check(
        "SELECT id, \
           sum(amount) OVER (PARTITION BY customer_id ORDER BY ordered_at) AS running, \
           row_number() OVER (ORDER BY id) AS n, \
           amount - avg(amount) OVER (PARTITION BY status) AS deviation \
         FROM raw.orders",
        &[
            "id: copy <- raw/orders.id (copy)",
            "running: window <- raw/orders.amount (window), raw/orders.customer_id (window), raw/orders.ordered_at (window)",
            "n: window <- raw/orders.id (window)",
            "deviation: window <- raw/orders.amount (window), raw/orders.status (window)",
        ],
        &[],
    )
    .await;
}

#[tokio::test]
async fn union_all_merges_columns_by_position() {
    check(
        "SELECT id, amount FROM raw.orders UNION ALL SELECT order_id, -amount FROM raw.refunds",
        &[
            "id: copy <- raw/orders.id (copy), raw/refunds.order_id (copy)",
            "amount: expression <- raw/orders.amount (copy), raw/refunds.amount (expression)",
        ],
        &[],
    )
    .await;
}

#[tokio::test]
async fn union_and_distinct_group_by_every_column() {
    check(
        "SELECT id FROM raw.orders UNION SELECT order_id FROM raw.refunds",
        &["id: copy <- raw/orders.id (copy), raw/refunds.order_id (copy)"],
        &["raw/orders.id: group_by", "raw/refunds.order_id: group_by"],
    )
    .await;
    check(
        "SELECT DISTINCT country FROM raw.customers",
        &["country: copy <- raw/customers.country (copy)"],
        &["raw/customers.country: group_by"],
    )
    .await;
}

#[tokio::test]
async fn parameters_are_not_sources() {
    check(
        "SELECT id FROM raw.orders WHERE status = $partition_key",
        &["id: copy <- raw/orders.id (copy)"],
        &["raw/orders.status: filter"],
    )
    .await;
}

#[tokio::test]
async fn recursive_ctes_are_refused_not_guessed() {
    let error = query_lineage(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) \
         SELECT i FROM n",
        &tables(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, LineageError::Unsupported(_) | LineageError::Plan(_)),
        "{error}"
    );
}

#[tokio::test]
async fn a_query_that_does_not_plan_says_why() {
    let error = query_lineage("SELECT nope FROM raw.orders", &tables())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("nope"), "{error}");
}
