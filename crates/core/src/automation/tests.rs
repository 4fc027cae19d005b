//! Tests of the condition language: parsing, errors, canonical text and built-in expansion.

use super::*;

fn parse(text: &str) -> Condition {
    parse_condition(text).unwrap_or_else(|e| panic!("{text}: {e} at {}", e.offset))
}

fn fails(text: &str) -> ConditionError {
    parse_condition(text).expect_err(text)
}

#[test]
fn precedence_and_shapes() {
    let condition = parse("missing | stale & !in_progress");
    assert_eq!(
        condition,
        Condition::Or(vec![
            Condition::Operand(Operand::Missing),
            Condition::And(vec![
                Condition::Operand(Operand::Stale),
                Condition::Not(Box::new(Condition::Operand(Operand::InProgress))),
            ]),
        ])
    );
    assert_eq!(
        parse("(missing | stale) & in_progress").to_string(),
        "(missing | stale) & in_progress"
    );
    assert_eq!(parse("missing()"), parse("missing"));
    assert_eq!(parse("!!missing").to_string(), "!!missing");
    assert_eq!(
        parse("!(missing & stale)").to_string(),
        "!(missing & stale)"
    );
}

#[test]
fn every_operand_and_built_in_parses_and_prints_back() {
    let texts = [
        "missing",
        "in_progress",
        "execution_failed",
        "newly_updated",
        "newly_requested",
        "code_version_changed",
        "stale",
        "cron_tick_passed('0 9 * * *')",
        "cron_tick_passed('0 9 * * *', 'America/New_York')",
        "in_latest_time_window",
        "in_latest_time_window('1d')",
        "freshness_violated",
        "will_be_requested",
        "initial_evaluation",
        "backfill_in_progress",
        "any_deps_match(missing | in_progress)",
        "all_deps_match(newly_updated).ignore('raw/a')",
        "any_deps_match(missing).allow('group:raw, tag:team=ops')",
        "newly_missing",
        "any_deps_updated",
        "any_deps_missing",
        "any_deps_in_progress",
        "all_deps_blocking_checks_passed",
        "eager",
        "on_cron('0 9 * * *')",
        "on_cron('0 9 * * *', 'America/New_York')",
        "on_missing",
        "refresh_stale('7d')",
        "missing.newly_true()",
        "missing.since(newly_updated | newly_requested)",
        "(newly_missing | any_deps_updated).since_last_handled() & !any_deps_missing & !any_deps_in_progress & !in_progress",
        "on_cron('0 9 * * *', 'America/New_York') & !any_deps_missing",
        "eager.ignore('raw/a')",
        "(!missing).newly_true()",
    ];
    for text in texts {
        let condition = parse(text);
        assert_eq!(condition.to_string(), text);
        assert_eq!(parse(&condition.to_string()), condition, "{text}");
    }
}

#[test]
fn arguments_in_other_spellings() {
    assert_eq!(parse("refresh_stale(7d)"), parse("refresh_stale('7d')"));
    assert_eq!(
        parse("in_latest_time_window(26h)").to_string(),
        "in_latest_time_window('1d2h')"
    );
    assert_eq!(parse(" eager ( ) "), parse("eager"));
    assert_eq!(parse("missing.newly_true"), parse("missing.newly_true()"));
}

#[test]
fn filters_reach_every_dependency_operator() {
    let condition = parse("(any_deps_updated | missing).ignore('raw/a').allow('group:raw')");
    let Condition::Or(parts) = &condition else {
        panic!("{condition:?}")
    };
    let Condition::Named { filter, .. } = &parts[0] else {
        panic!("{condition:?}")
    };
    assert_eq!(filter.ignore.len(), 1);
    assert_eq!(filter.allow[0].as_str(), "group:raw");
    // A filtered built-in carries its filter into every dependency operator of its definition.
    let expanded = parse("eager.ignore('raw/a')").expand().to_string();
    assert_eq!(
        expanded.matches(".ignore('raw/a')").count(),
        3,
        "{expanded}"
    );
}

#[test]
fn built_ins_expand_to_dagsters_definitions() {
    let cases = [
        ("newly_missing", "missing.newly_true()"),
        (
            "any_deps_updated",
            "any_deps_match(newly_updated | will_be_requested)",
        ),
        (
            "any_deps_missing",
            "any_deps_match(missing & !will_be_requested)",
        ),
        ("any_deps_in_progress", "any_deps_match(in_progress)"),
        (
            "all_deps_blocking_checks_passed",
            "all_deps_match(blocking_checks_passed)",
        ),
        (
            "eager",
            "in_latest_time_window \
             & (missing.newly_true() | any_deps_match(newly_updated | will_be_requested))\
             .since(newly_requested | newly_updated | initial_evaluation) \
             & !any_deps_match(missing & !will_be_requested) \
             & !any_deps_match(in_progress) & !in_progress",
        ),
        (
            "on_cron('0 9 * * *', 'Europe/Berlin')",
            "in_latest_time_window \
             & cron_tick_passed('0 9 * * *', 'Europe/Berlin')\
             .since(newly_requested | newly_updated | initial_evaluation) \
             & all_deps_match(newly_updated.since(cron_tick_passed('0 9 * * *', 'Europe/Berlin')) \
             | will_be_requested)",
        ),
        (
            "on_missing",
            "in_latest_time_window \
             & missing.newly_true().since(newly_requested | newly_updated | initial_evaluation) \
             & !any_deps_match(missing & !will_be_requested)",
        ),
        (
            "refresh_stale('7d')",
            "stale & in_latest_time_window('7d') \
             & !any_deps_match(missing & !will_be_requested) \
             & !any_deps_match(in_progress) & !in_progress",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text).expand().to_string(), expected, "{text}");
    }
    // The contract's spelling of eager-without-the-time-window is eager minus its first clause.
    let written = parse(
        "(newly_missing | any_deps_updated).since_last_handled() & !any_deps_missing \
         & !any_deps_in_progress & !in_progress",
    );
    let Condition::And(mut eager) = parse("eager").expand() else {
        panic!()
    };
    eager.remove(0);
    assert_eq!(written.expand(), Condition::And(eager));
}

#[test]
fn errors_name_the_place_and_the_fix() {
    let cases: &[(&str, usize, &str, Option<&str>)] = &[
        (
            "",
            0,
            "the condition is empty",
            Some("write e.g. `eager` or `on_cron('0 9 * * *')`"),
        ),
        (
            "eagr",
            0,
            "unknown condition `eagr`",
            Some("did you mean `eager`?"),
        ),
        (
            "missing & any_dep_missing",
            10,
            "unknown condition `any_dep_missing`",
            Some("did you mean `any_deps_missing`?"),
        ),
        (
            "missing.newly_tru()",
            8,
            "unknown method `.newly_tru()`",
            Some("did you mean `newly_true`?"),
        ),
        ("~missing", 0, "unexpected `~`", Some("write `!` for not")),
        (
            "missing && stale",
            8,
            "unexpected `&&`",
            Some("write a single `&`"),
        ),
        (
            "on_cron(\"0 9 * * *\")",
            8,
            "unexpected `\"`",
            Some("strings use single quotes, so the expression fits in a TOML string"),
        ),
        (
            "on_cron",
            0,
            "`on_cron` needs a cron schedule in single quotes, e.g. '0 9 * * *'",
            Some("write `on_cron('cron'[, 'timezone'])`"),
        ),
        (
            "on_cron()",
            8,
            "`on_cron` needs a cron schedule in single quotes, e.g. '0 9 * * *'",
            Some("write `on_cron('cron'[, 'timezone'])`"),
        ),
        (
            "on_cron('0 9 * * *', 'UTC', 'x')",
            28,
            "`on_cron` takes 1 or 2 arguments",
            Some("write `on_cron('cron'[, 'timezone'])`"),
        ),
        (
            "missing('x')",
            8,
            "`missing` takes no arguments",
            Some("write `missing()`"),
        ),
        (
            "on_cron('0 9 * * *', 'America/New_Yrok')",
            22,
            "unknown time zone `America/New_Yrok`",
            Some("did you mean `America/New_York`?"),
        ),
        (
            "on_cron(missing)",
            8,
            "`on_cron` expects a cron schedule in single quotes, e.g. '0 9 * * *', found `missing`",
            None,
        ),
        (
            "refresh_stale('7x')",
            16,
            "invalid duration `7x`: unknown unit `x`; units are `s`, `m`, `h` and `d`",
            Some("e.g. '26h' or '7d'"),
        ),
        (
            "refresh_stale('0s')",
            15,
            "a lookback must be longer than zero",
            None,
        ),
        (
            "(missing | stale",
            16,
            "expected `)`, found the end of the condition",
            Some("to close the `(` at byte 0"),
        ),
        (
            "missing stale",
            8,
            "unexpected `stale` after a complete condition",
            Some("join conditions with `&` or `|`"),
        ),
        (
            "missing & ",
            10,
            "expected a condition, found the end of the condition",
            Some("conditions are names such as `missing` or `eager`, `!`, or `(`"),
        ),
        (
            "'missing'",
            0,
            "expected a condition, found string 'missing'",
            Some("conditions are names such as `missing` or `eager`, `!`, or `(`"),
        ),
        (
            "on_cron('0 9 * * *",
            8,
            "this string is never closed with `'`",
            None,
        ),
        (
            "missing.ignore('raw/a')",
            8,
            "`.ignore()` filters dependencies, but `missing` does not look at any",
            Some(
                "apply it to `any_deps_match(…)`, `all_deps_match(…)` or a condition built on them, such as `eager`",
            ),
        ),
        (
            "any_deps_match(missing).ignore('raw')",
            32,
            "invalid asset key `raw` in selection: expected exactly two segments, `group/name`",
            None,
        ),
        (
            "newly_true",
            0,
            "`newly_true` is a method: write `condition.newly_true(…)`",
            None,
        ),
        (
            "missing.since()",
            14,
            "`since` needs a condition",
            Some("write `since(condition)`"),
        ),
    ];
    for (text, offset, message, hint) in cases {
        let error = fails(text);
        assert_eq!(error.message, *message, "{text}");
        assert_eq!(error.offset, *offset, "{text}: {}", error.message);
        if hint.is_some() || !message.contains("selection") {
            assert_eq!(error.hint.as_deref(), *hint, "{text}");
        }
    }
}

#[test]
fn cron_strings_are_validated() {
    let error = fails("on_cron('0 25 * * *')");
    assert_eq!(error.offset, 9);
    assert_eq!(
        error.message,
        "invalid cron schedule `0 25 * * *`: 25 is out of range for the hour field (0-23)"
    );
    assert_eq!(
        error.hint.as_deref(),
        Some("five fields: minute hour day-of-month month day-of-week")
    );
}

proptest::proptest! {
    /// Arbitrary text never panics the parser, and whatever parses prints back to itself.
    #[test]
    fn parser_is_total_and_canonical(text in "[a-z_ !&|().,'0-9*]{0,40}") {
        if let Ok(condition) = parse_condition(&text) {
            proptest::prop_assert_eq!(parse_condition(&condition.to_string()).unwrap(), condition);
        }
    }
}
