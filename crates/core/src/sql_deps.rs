//! The asset tables an SQL query reads, found by parsing it (never by pattern matching).
//!
//! An SQL asset's dependencies are inferred from its query: the table `group.name` is the asset
//! `group/name`. Every reference in `FROM`/`JOIN`, subqueries, CTE bodies and set operations
//! counts; names a `WITH` clause defines are not tables. Each reference keeps its line and
//! column so a wrong table name is reported where it is written. `$partition_key`-style
//! parameters parse as placeholders.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, ObjectName, ObjectNamePart, Query, SelectItem, SetExpr, Spanned, Statement, TableFactor,
    Visit, Visitor,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};

/// One table reference in a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRef {
    /// Name parts; unquoted identifiers are lowercased, as DataFusion resolves them.
    pub parts: Vec<String>,
    /// 1-based line of the reference in the text given.
    pub line: u64,
    /// 1-based column (in characters) of the reference.
    pub col: u64,
}

impl TableRef {
    /// The name as written in SQL, parts joined by `.`.
    pub fn name(&self) -> String {
        self.parts.join(".")
    }
}

/// Why a query cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SqlError {
    /// 1-based line of the problem (1 when the parser does not say).
    pub line: u64,
    /// 1-based column of the problem.
    pub col: u64,
    /// What is wrong.
    pub message: String,
}

/// What an asset's query reads and outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryInfo {
    /// Every table reference that is not a CTE, in order of appearance.
    pub tables: Vec<TableRef>,
    /// The output column names of the top-level query; `None` when it selects `*` or an
    /// expression without a name the parser can tell.
    pub output_columns: Option<Vec<String>>,
}

/// Parses one query (`SELECT …`, `WITH …`, `VALUES …`, set operations) and lists what it reads.
pub fn analyze_query(sql: &str) -> Result<QueryInfo, SqlError> {
    let statements =
        Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| syntax_error(e, sql))?;
    let statement = match statements.as_slice() {
        [one] => one,
        [] => {
            return Err(SqlError {
                line: 1,
                col: 1,
                message: "expected a query, found no SQL statement".into(),
            });
        }
        [_, second, ..] => {
            let start = second.span().start;
            return Err(SqlError {
                line: start.line.max(1),
                col: start.column.max(1),
                message: "expected one query, found a second statement".into(),
            });
        }
    };
    let Statement::Query(query) = statement else {
        let start = statement.span().start;
        return Err(SqlError {
            line: start.line.max(1),
            col: start.column.max(1),
            message: "expected a query (`SELECT …` or `WITH …`): an asset's SQL only reads".into(),
        });
    };
    let mut collector = Collector::default();
    let _ = query.visit(&mut collector);
    Ok(QueryInfo {
        tables: collector.tables,
        output_columns: output_columns(query),
    })
}

/// `Line: 3, Column: 7` out of a parser message, and the message without it; an error at the
/// end of the text (which the parser does not locate) points just past its last character.
fn syntax_error(error: ParserError, sql: &str) -> SqlError {
    let text = match error {
        ParserError::TokenizerError(text) | ParserError::ParserError(text) => text,
        ParserError::RecursionLimitExceeded => "the query is nested too deeply".to_string(),
    };
    let (message, line, col) = match text.rfind(" at Line: ") {
        Some(at) => {
            let location = &text[at + " at Line: ".len()..];
            let mut numbers = location
                .split(|c: char| !c.is_ascii_digit())
                .filter(|part| !part.is_empty())
                .map(|part| part.parse::<u64>().unwrap_or(1));
            let line = numbers.next().unwrap_or(1);
            let col = numbers.next().unwrap_or(1);
            (text[..at].to_string(), line, col)
        }
        None => {
            let trimmed = sql.trim_end();
            let line = trimmed.lines().count().max(1) as u64;
            let last = if trimmed.ends_with('\n') {
                ""
            } else {
                trimmed.lines().last().unwrap_or("")
            };
            (text, line, last.chars().count() as u64 + 1)
        }
    };
    SqlError {
        line,
        col,
        message: format!("SQL syntax error: {message}"),
    }
}

#[derive(Default)]
struct Collector {
    /// CTE names in scope, one frame per query being visited.
    scopes: Vec<BTreeSet<String>>,
    tables: Vec<TableRef>,
    /// Where table functions (`range(10)`, `generate_series(1, 3)`) are named: they are
    /// DataFusion's, not assets.
    table_functions: Vec<(u64, u64)>,
}

impl Visitor for Collector {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let names = query
            .with
            .iter()
            .flat_map(|with| &with.cte_tables)
            .map(|cte| normalize(&cte.alias.name.value, cte.alias.name.quote_style))
            .collect();
        self.scopes.push(names);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.scopes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name,
            args: Some(_),
            ..
        } = factor
        {
            let start = name.span().start;
            self.table_functions.push((start.line, start.column));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        let start = relation.span().start;
        if self.table_functions.contains(&(start.line, start.column)) {
            return ControlFlow::Continue(());
        }
        let parts: Vec<String> = relation
            .0
            .iter()
            .map(|part| match part {
                ObjectNamePart::Identifier(ident) => normalize(&ident.value, ident.quote_style),
                ObjectNamePart::Function(function) => function.to_string(),
            })
            .collect();
        if let [single] = parts.as_slice()
            && self.scopes.iter().any(|scope| scope.contains(single))
        {
            return ControlFlow::Continue(());
        }
        let start = relation.span().start;
        self.tables.push(TableRef {
            parts,
            line: start.line.max(1),
            col: start.column.max(1),
        });
        ControlFlow::Continue(())
    }
}

fn normalize(value: &str, quote: Option<char>) -> String {
    match quote {
        Some(_) => value.to_string(),
        None => value.to_lowercase(),
    }
}

/// The names of the columns the top-level query outputs (the first branch of a set operation).
fn output_columns(query: &Query) -> Option<Vec<String>> {
    let mut body = query.body.as_ref();
    loop {
        match body {
            SetExpr::SetOperation { left, .. } => body = left,
            SetExpr::Query(inner) => body = inner.body.as_ref(),
            SetExpr::Select(select) => {
                return select
                    .projection
                    .iter()
                    .map(|item| match item {
                        SelectItem::ExprWithAlias { alias, .. } => {
                            Some(normalize(&alias.value, alias.quote_style))
                        }
                        SelectItem::UnnamedExpr(Expr::Identifier(ident)) => {
                            Some(normalize(&ident.value, ident.quote_style))
                        }
                        SelectItem::UnnamedExpr(Expr::CompoundIdentifier(idents)) => idents
                            .last()
                            .map(|ident| normalize(&ident.value, ident.quote_style)),
                        _ => None,
                    })
                    .collect();
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(sql: &str) -> Vec<(String, u64, u64)> {
        analyze_query(sql)
            .unwrap()
            .tables
            .into_iter()
            .map(|t| (t.name(), t.line, t.col))
            .collect()
    }

    fn t(name: &str, line: u64, col: u64) -> (String, u64, u64) {
        (name.to_string(), line, col)
    }

    #[test]
    fn from_and_joins() {
        assert_eq!(
            tables("SELECT * FROM flights.clean f\nJOIN dims.airlines a ON f.carrier = a.carrier"),
            [t("flights.clean", 1, 15), t("dims.airlines", 2, 6)]
        );
    }

    #[test]
    fn table_functions_are_not_tables() {
        assert_eq!(
            tables(
                "SELECT value FROM range(10)\nJOIN generate_series(1, 3) g ON true\nJOIN raw.x ON true"
            ),
            [t("raw.x", 3, 6)]
        );
    }

    #[test]
    fn subqueries_ctes_and_unions() {
        let sql = "WITH recent AS (SELECT * FROM raw.flights WHERE day > $partition_start)\n\
                   SELECT * FROM recent\n\
                   WHERE carrier IN (SELECT carrier FROM dims.airlines)\n\
                   UNION ALL SELECT * FROM (SELECT * FROM raw.extra) x\n\
                   UNION SELECT * FROM recent r WHERE EXISTS (SELECT 1 FROM raw.flags)";
        assert_eq!(
            tables(sql),
            [
                t("raw.flights", 1, 31),
                t("dims.airlines", 3, 39),
                t("raw.extra", 4, 40),
                t("raw.flags", 5, 58),
            ]
        );
    }

    #[test]
    fn unquoted_names_are_lowercased_and_single_names_kept() {
        assert_eq!(
            tables("SELECT * FROM Flights.Clean JOIN \"Raw\".x USING (k) JOIN loose USING (k)"),
            [
                t("flights.clean", 1, 15),
                t("Raw.x", 1, 34),
                t("loose", 1, 57)
            ]
        );
    }

    #[test]
    fn cte_scope_ends_with_its_query() {
        // `inner_cte` is defined only inside the subquery: outside it is a table.
        let sql = "SELECT * FROM (WITH inner_cte AS (SELECT 1) SELECT * FROM inner_cte) s \
                   JOIN inner_cte USING (k)";
        assert_eq!(tables(sql), [t("inner_cte", 1, 77)]);
    }

    #[test]
    fn parameters_parse() {
        let sql = "SELECT * FROM raw.flights WHERE day >= $partition_start AND day < $partition_end \
                   AND key = $partition_key";
        assert_eq!(tables(sql), [t("raw.flights", 1, 15)]);
    }

    #[test]
    fn output_columns_of_the_top_query() {
        let info = analyze_query(
            "SELECT f.partition_key, carrier, avg(d) AS delay, count(*) FROM raw.f f GROUP BY 1, 2",
        )
        .unwrap();
        assert_eq!(info.output_columns, None);
        let info =
            analyze_query("SELECT f.partition_key, carrier, avg(d) AS delay FROM raw.f f").unwrap();
        assert_eq!(
            info.output_columns.unwrap(),
            ["partition_key", "carrier", "delay"]
        );
        assert_eq!(
            analyze_query("SELECT * FROM raw.f").unwrap().output_columns,
            None
        );
    }

    #[test]
    fn errors_carry_line_and_column() {
        let error = analyze_query("SELECT a\nFROM raw.f WHERE").unwrap_err();
        assert_eq!((error.line, error.col), (2, 17), "{error}");
        assert_eq!(
            error.message,
            "SQL syntax error: Expected: an expression, found: EOF"
        );
        let error = analyze_query("SELECT a\nFROM raw.f\n WHERE )").unwrap_err();
        assert_eq!((error.line, error.col), (3, 8), "{error}");
        assert!(error.message.starts_with("SQL syntax error: "), "{error}");
        assert!(!error.message.contains("Line:"), "{error}");
        let error = analyze_query("SELECT 1;\nSELECT 2").unwrap_err();
        assert_eq!((error.line, error.col), (2, 1));
        assert_eq!(
            error.message,
            "expected one query, found a second statement"
        );
        let error = analyze_query("  DELETE FROM raw.f").unwrap_err();
        assert_eq!((error.line, error.col), (1, 3));
        assert!(error.message.starts_with("expected a query"));
        assert_eq!(
            analyze_query("  ").unwrap_err().message,
            "expected a query, found no SQL statement"
        );
    }
}
