//! Text → [`Condition`]: a hand-written recursive-descent parser with precise errors.
//!
//! ```text
//! expr    := and ("|" and)*
//! and     := term ("&" term)*
//! term    := "!" term | primary ("." method)*
//! primary := "(" expr ")" | name ["(" args ")"]
//! ```
//! Strings are in single quotes (so an expression sits in a TOML string); a lookback may also be
//! written bare (`7d`). Every error carries the byte offset in the expression, what was expected
//! and, for a misspelt name, the closest valid one.

use std::time::Duration;

use super::{Condition, CronArgs, DepsFilter, Named, Operand, Quantifier};
use crate::cron::CronSchedule;
use crate::duration::parse_duration;
use crate::selection::Selection;
use crate::suggest;

/// Why an expression is not a valid condition.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConditionError {
    /// Byte offset in the expression.
    pub offset: usize,
    /// What is wrong and what was expected.
    pub message: String,
    /// How to fix it (closest name, an example), when known.
    pub hint: Option<String>,
}

/// Parses and validates a condition expression.
pub fn parse_condition(text: &str) -> Result<Condition, ConditionError> {
    let tokens = lex(text)?;
    let mut parser = Parser {
        tokens,
        position: 0,
    };
    if parser.peek().kind == Kind::End {
        return Err(error(
            0,
            "the condition is empty",
            Some("write e.g. `eager` or `on_cron('0 9 * * *')`"),
        ));
    }
    let condition = parser.expr()?;
    let next = parser.peek();
    if next.kind != Kind::End {
        let hint = match next.kind {
            Kind::Name(_) | Kind::LParen | Kind::Not => Some("join conditions with `&` or `|`"),
            Kind::RParen => Some("this `)` closes nothing"),
            _ => None,
        };
        return Err(error(
            next.offset,
            &format!(
                "unexpected {} after a complete condition",
                next.kind.describe()
            ),
            hint,
        ));
    }
    Ok(condition)
}

fn error(offset: usize, message: &str, hint: Option<&str>) -> ConditionError {
    ConditionError {
        offset,
        message: message.to_string(),
        hint: hint.map(str::to_string),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Name(String),
    /// A quoted string's content.
    Str(String),
    /// A bare duration such as `7d`.
    Bare(String),
    LParen,
    RParen,
    Comma,
    Dot,
    And,
    Or,
    Not,
    End,
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::Name(name) => format!("`{name}`"),
            Kind::Str(text) => format!("string '{text}'"),
            Kind::Bare(text) => format!("`{text}`"),
            Kind::LParen => "`(`".into(),
            Kind::RParen => "`)`".into(),
            Kind::Comma => "`,`".into(),
            Kind::Dot => "`.`".into(),
            Kind::And => "`&`".into(),
            Kind::Or => "`|`".into(),
            Kind::Not => "`!`".into(),
            Kind::End => "the end of the condition".into(),
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    offset: usize,
}

fn lex(text: &str) -> Result<Vec<Token>, ConditionError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(offset, c)) = chars.peek() {
        let single = match c {
            ' ' | '\t' | '\n' | '\r' => {
                chars.next();
                continue;
            }
            '(' => Some(Kind::LParen),
            ')' => Some(Kind::RParen),
            ',' => Some(Kind::Comma),
            '.' => Some(Kind::Dot),
            '!' => Some(Kind::Not),
            '&' | '|' => {
                chars.next();
                if chars.peek().is_some_and(|&(_, next)| next == c) {
                    return Err(error(
                        offset,
                        &format!("unexpected `{c}{c}`"),
                        Some(&format!("write a single `{c}`")),
                    ));
                }
                tokens.push(Token {
                    kind: if c == '&' { Kind::And } else { Kind::Or },
                    offset,
                });
                continue;
            }
            _ => None,
        };
        if let Some(kind) = single {
            chars.next();
            tokens.push(Token { kind, offset });
            continue;
        }
        if c == '\'' {
            chars.next();
            let start = offset + 1;
            let mut end = None;
            for (i, ch) in chars.by_ref() {
                if ch == '\'' {
                    end = Some(i);
                    break;
                }
            }
            let Some(end) = end else {
                return Err(error(offset, "this string is never closed with `'`", None));
            };
            tokens.push(Token {
                kind: Kind::Str(text[start..end].to_string()),
                offset,
            });
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            let mut end = offset;
            while let Some(&(i, ch)) = chars.peek() {
                if ch.is_ascii_alphanumeric() || ch == '_' {
                    end = i + ch.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let word = text[offset..end].to_string();
            let kind = if c.is_ascii_digit() {
                Kind::Bare(word)
            } else {
                Kind::Name(word)
            };
            tokens.push(Token { kind, offset });
            continue;
        }
        let hint = match c {
            '~' => Some("write `!` for not"),
            '"' => Some("strings use single quotes, so the expression fits in a TOML string"),
            _ => None,
        };
        return Err(error(offset, &format!("unexpected `{c}`"), hint));
    }
    tokens.push(Token {
        kind: Kind::End,
        offset: text.len(),
    });
    Ok(tokens)
}

/// What an argument must be.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Param {
    Condition,
    Cron,
    Timezone,
    Lookback,
    Selection,
}

impl Param {
    fn describe(self) -> &'static str {
        match self {
            Param::Condition => "a condition",
            Param::Cron => "a cron schedule in single quotes, e.g. '0 9 * * *'",
            Param::Timezone => "a time zone in single quotes, e.g. 'America/New_York'",
            Param::Lookback => "a duration, e.g. '7d'",
            Param::Selection => "an asset selection in single quotes, e.g. 'group:raw'",
        }
    }
}

/// An argument as parsed.
enum Arg {
    Condition(Condition),
    Cron(CronArgs),
    Timezone(chrono_tz::Tz),
    Lookback(Duration),
    Selection(Selection),
}

/// Names usable as primaries: (name, required parameters, optional parameters).
const PRIMARIES: &[(&str, &[Param], &[Param])] = &[
    ("missing", &[], &[]),
    ("in_progress", &[], &[]),
    ("execution_failed", &[], &[]),
    ("newly_updated", &[], &[]),
    ("newly_requested", &[], &[]),
    ("code_version_changed", &[], &[]),
    ("stale", &[], &[]),
    ("cron_tick_passed", &[Param::Cron], &[Param::Timezone]),
    ("in_latest_time_window", &[], &[Param::Lookback]),
    ("freshness_violated", &[], &[]),
    ("will_be_requested", &[], &[]),
    ("initial_evaluation", &[], &[]),
    ("backfill_in_progress", &[], &[]),
    ("any_deps_match", &[Param::Condition], &[]),
    ("all_deps_match", &[Param::Condition], &[]),
    ("newly_missing", &[], &[]),
    ("any_deps_updated", &[], &[]),
    ("any_deps_missing", &[], &[]),
    ("any_deps_in_progress", &[], &[]),
    ("all_deps_blocking_checks_passed", &[], &[]),
    ("eager", &[], &[]),
    ("on_cron", &[Param::Cron], &[Param::Timezone]),
    ("on_missing", &[], &[]),
    ("refresh_stale", &[Param::Lookback], &[]),
];

const METHODS: &[(&str, &[Param], &[Param])] = &[
    ("newly_true", &[], &[]),
    ("since", &[Param::Condition], &[]),
    ("since_last_handled", &[], &[]),
    ("allow", &[Param::Selection], &[]),
    ("ignore", &[Param::Selection], &[]),
];

struct Parser {
    tokens: Vec<Token>,
    position: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.position.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        if self.position < self.tokens.len() - 1 {
            self.position += 1;
        }
        token
    }

    fn expr(&mut self) -> Result<Condition, ConditionError> {
        let mut parts = vec![self.and()?];
        while self.peek().kind == Kind::Or {
            self.next();
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Condition, ConditionError> {
        let mut parts = vec![self.term()?];
        while self.peek().kind == Kind::And {
            self.next();
            parts.push(self.term()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::And(parts)
        })
    }

    fn term(&mut self) -> Result<Condition, ConditionError> {
        if self.peek().kind == Kind::Not {
            self.next();
            return Ok(Condition::Not(Box::new(self.term()?)));
        }
        let mut condition = self.primary()?;
        while self.peek().kind == Kind::Dot {
            self.next();
            condition = self.method(condition)?;
        }
        Ok(condition)
    }

    fn primary(&mut self) -> Result<Condition, ConditionError> {
        let token = self.next();
        match token.kind {
            Kind::LParen => {
                let inner = self.expr()?;
                let close = self.next();
                if close.kind != Kind::RParen {
                    return Err(error(
                        close.offset,
                        &format!("expected `)`, found {}", close.kind.describe()),
                        Some(&format!("to close the `(` at byte {}", token.offset)),
                    ));
                }
                Ok(inner)
            }
            Kind::Name(name) => {
                let Some(&(_, required, optional)) =
                    PRIMARIES.iter().find(|(known, _, _)| *known == name)
                else {
                    let hint = suggest::did_you_mean(&name, PRIMARIES.iter().map(|p| p.0))
                        .or_else(|| Some("see the list of operands in the automation docs".into()));
                    let is_method = METHODS.iter().any(|m| m.0 == name);
                    return Err(ConditionError {
                        offset: token.offset,
                        message: if is_method {
                            format!("`{name}` is a method: write `condition.{name}(…)`")
                        } else {
                            format!("unknown condition `{name}`")
                        },
                        hint: if is_method { None } else { hint },
                    });
                };
                let args = self.args(&name, token.offset, required, optional)?;
                Ok(build_primary(&name, args))
            }
            other => Err(error(
                token.offset,
                &format!("expected a condition, found {}", other.describe()),
                Some("conditions are names such as `missing` or `eager`, `!`, or `(`"),
            )),
        }
    }

    fn method(&mut self, receiver: Condition) -> Result<Condition, ConditionError> {
        let token = self.next();
        let Kind::Name(name) = token.kind else {
            return Err(error(
                token.offset,
                &format!(
                    "expected a method name after `.`, found {}",
                    token.kind.describe()
                ),
                Some(
                    "methods are `newly_true()`, `since(…)`, `since_last_handled()`, `allow(…)` and `ignore(…)`",
                ),
            ));
        };
        let Some(&(_, required, optional)) = METHODS.iter().find(|(known, _, _)| *known == name)
        else {
            return Err(ConditionError {
                offset: token.offset,
                message: format!("unknown method `.{name}()`"),
                hint: Some(
                    suggest::did_you_mean(&name, METHODS.iter().map(|m| m.0)).unwrap_or_else(
                        || "methods are `newly_true()`, `since(…)`, `since_last_handled()`, `allow(…)` and `ignore(…)`".into(),
                    ),
                ),
            });
        };
        let mut args = self
            .args(&name, token.offset, required, optional)?
            .into_iter();
        Ok(match (name.as_str(), args.next()) {
            ("newly_true", _) => Condition::NewlyTrue(Box::new(receiver)),
            ("since_last_handled", _) => Condition::SinceLastHandled(Box::new(receiver)),
            ("since", Some(Arg::Condition(reset))) => Condition::Since {
                condition: Box::new(receiver),
                reset: Box::new(reset),
            },
            (which, Some(Arg::Selection(selection))) => {
                let filter = if which == "allow" {
                    DepsFilter {
                        allow: vec![selection],
                        ignore: vec![],
                    }
                } else {
                    DepsFilter {
                        allow: vec![],
                        ignore: vec![selection],
                    }
                };
                let mut receiver = receiver;
                if receiver.apply_filter(&filter) == 0 {
                    return Err(error(
                        token.offset,
                        &format!(
                            "`.{which}()` filters dependencies, but `{receiver}` does not look at any"
                        ),
                        Some(
                            "apply it to `any_deps_match(…)`, `all_deps_match(…)` or a condition built on them, such as `eager`",
                        ),
                    ));
                }
                receiver
            }
            _ => unreachable!("argument kinds follow METHODS"),
        })
    }

    /// Parses `(args)` after `name` (optional when nothing is required).
    fn args(
        &mut self,
        name: &str,
        name_offset: usize,
        required: &[Param],
        optional: &[Param],
    ) -> Result<Vec<Arg>, ConditionError> {
        let signature = signature(name, required, optional);
        if self.peek().kind != Kind::LParen {
            if required.is_empty() {
                return Ok(Vec::new());
            }
            return Err(error(
                name_offset,
                &format!("`{name}` needs {}", required[0].describe()),
                Some(&format!("write `{signature}`")),
            ));
        }
        let open = self.next();
        let params: Vec<Param> = required.iter().chain(optional).copied().collect();
        let mut args = Vec::new();
        if self.peek().kind == Kind::RParen {
            let close = self.next();
            if !required.is_empty() {
                return Err(error(
                    close.offset,
                    &format!("`{name}` needs {}", required[0].describe()),
                    Some(&format!("write `{signature}`")),
                ));
            }
            return Ok(args);
        }
        loop {
            let Some(&param) = params.get(args.len()) else {
                return Err(error(
                    self.peek().offset,
                    &format!(
                        "`{name}` takes {} argument{}",
                        arity(required, optional),
                        if params.len() == 1 { "" } else { "s" }
                    ),
                    Some(&format!("write `{signature}`")),
                ));
            };
            args.push(self.arg(name, param, args.first())?);
            let separator = self.next();
            match separator.kind {
                Kind::Comma => continue,
                Kind::RParen => break,
                other => {
                    return Err(error(
                        separator.offset,
                        &format!("expected `,` or `)`, found {}", other.describe()),
                        Some(&format!("to close the `(` at byte {}", open.offset)),
                    ));
                }
            }
        }
        if args.len() < required.len() {
            return Err(error(
                self.tokens[self.position - 1].offset,
                &format!("`{name}` needs {}", required[args.len()].describe()),
                Some(&format!("write `{signature}`")),
            ));
        }
        Ok(args)
    }

    fn arg(
        &mut self,
        name: &str,
        param: Param,
        first: Option<&Arg>,
    ) -> Result<Arg, ConditionError> {
        if param == Param::Condition {
            return Ok(Arg::Condition(self.expr()?));
        }
        let token = self.next();
        let (text, content_offset) = match (&token.kind, param) {
            (Kind::Str(text), _) => (text.clone(), token.offset + 1),
            (Kind::Bare(text), Param::Lookback) => (text.clone(), token.offset),
            (other, _) => {
                return Err(error(
                    token.offset,
                    &format!(
                        "`{name}` expects {}, found {}",
                        param.describe(),
                        other.describe()
                    ),
                    None,
                ));
            }
        };
        match param {
            Param::Cron => {
                let schedule = CronSchedule::parse(&text).map_err(|e| ConditionError {
                    offset: content_offset,
                    message: e.to_string(),
                    hint: Some("five fields: minute hour day-of-month month day-of-week".into()),
                })?;
                Ok(Arg::Cron(CronArgs {
                    cron: text,
                    schedule,
                    timezone: None,
                }))
            }
            Param::Timezone => {
                let tz =
                    suggest::parse_timezone(&text).map_err(|(message, hint)| ConditionError {
                        offset: content_offset,
                        message,
                        hint,
                    })?;
                debug_assert!(matches!(first, Some(Arg::Cron(_))));
                Ok(Arg::Timezone(tz))
            }
            Param::Lookback => {
                let duration = parse_duration(&text).map_err(|e| ConditionError {
                    offset: content_offset + e.offset,
                    message: e.to_string(),
                    hint: Some("e.g. '26h' or '7d'".into()),
                })?;
                if duration.is_zero() {
                    return Err(error(
                        content_offset,
                        "a lookback must be longer than zero",
                        None,
                    ));
                }
                Ok(Arg::Lookback(duration))
            }
            Param::Selection => {
                let selection = Selection::parse(&text).map_err(|e| ConditionError {
                    offset: content_offset + e.offset,
                    message: e.message,
                    hint: e.hint,
                })?;
                Ok(Arg::Selection(selection))
            }
            Param::Condition => unreachable!("handled above"),
        }
    }
}

fn arity(required: &[Param], optional: &[Param]) -> String {
    match (required.len(), optional.len()) {
        (0, 0) => "no".into(),
        (r, 0) => r.to_string(),
        (0, o) => format!("at most {o}"),
        (r, o) => format!("{r} or {}", r + o),
    }
}

fn signature(name: &str, required: &[Param], optional: &[Param]) -> String {
    let label = |p: &Param| match p {
        Param::Condition => "condition",
        Param::Cron => "'cron'",
        Param::Timezone => "'timezone'",
        Param::Lookback => "'lookback'",
        Param::Selection => "'selection'",
    };
    let mut text = format!("{name}(");
    for (i, p) in required.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        text.push_str(label(p));
    }
    for p in optional {
        text.push_str(if required.is_empty() { "[" } else { "[, " });
        text.push_str(label(p));
        text.push(']');
    }
    text.push(')');
    text
}

fn build_primary(name: &str, args: Vec<Arg>) -> Condition {
    let mut args = args.into_iter();
    let cron = |first: Option<Arg>, second: Option<Arg>| {
        let Some(Arg::Cron(mut cron)) = first else {
            unreachable!("a cron is required")
        };
        if let Some(Arg::Timezone(tz)) = second {
            cron.timezone = Some(tz);
        }
        cron
    };
    let named = |named: Named| Condition::Named {
        named,
        filter: DepsFilter::default(),
    };
    let op = Condition::Operand;
    match name {
        "missing" => op(Operand::Missing),
        "in_progress" => op(Operand::InProgress),
        "execution_failed" => op(Operand::ExecutionFailed),
        "newly_updated" => op(Operand::NewlyUpdated),
        "newly_requested" => op(Operand::NewlyRequested),
        "code_version_changed" => op(Operand::CodeVersionChanged),
        "stale" => op(Operand::Stale),
        "cron_tick_passed" => op(Operand::CronTickPassed(cron(args.next(), args.next()))),
        "in_latest_time_window" => op(Operand::InLatestTimeWindow(match args.next() {
            Some(Arg::Lookback(lookback)) => Some(lookback),
            _ => None,
        })),
        "freshness_violated" => op(Operand::FreshnessViolated),
        "will_be_requested" => op(Operand::WillBeRequested),
        "initial_evaluation" => op(Operand::InitialEvaluation),
        "backfill_in_progress" => op(Operand::BackfillInProgress),
        "any_deps_match" | "all_deps_match" => {
            let Some(Arg::Condition(condition)) = args.next() else {
                unreachable!("a condition is required")
            };
            Condition::Deps {
                quantifier: if name == "any_deps_match" {
                    Quantifier::Any
                } else {
                    Quantifier::All
                },
                condition: Box::new(condition),
                filter: DepsFilter::default(),
            }
        }
        "newly_missing" => named(Named::NewlyMissing),
        "any_deps_updated" => named(Named::AnyDepsUpdated),
        "any_deps_missing" => named(Named::AnyDepsMissing),
        "any_deps_in_progress" => named(Named::AnyDepsInProgress),
        "all_deps_blocking_checks_passed" => named(Named::AllDepsBlockingChecksPassed),
        "eager" => named(Named::Eager),
        "on_cron" => named(Named::OnCron(cron(args.next(), args.next()))),
        "on_missing" => named(Named::OnMissing),
        "refresh_stale" => {
            let Some(Arg::Lookback(lookback)) = args.next() else {
                unreachable!("a lookback is required")
            };
            named(Named::RefreshStale(lookback))
        }
        _ => unreachable!("names follow PRIMARIES"),
    }
}
