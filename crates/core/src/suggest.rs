//! "Did you mean …?": the closest valid name to a misspelt one.
//!
//! Every error about an unknown name (asset key, field, condition, method) suggests the closest
//! valid one, so this lives in one place and behaves the same everywhere.

/// Edit distance (insertions, deletions, substitutions) between two strings, by characters.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The candidate closest to `word`, if one is close enough to be a plausible typo.
///
/// Close enough means at most a third of the word's characters differ (at least one edit is
/// always allowed), or the candidate ends with `/word` (a key written without its group). Ties
/// go to the first candidate in iteration order, so callers pass candidates sorted.
pub(crate) fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let distance = if candidate
            .strip_suffix(word)
            .is_some_and(|prefix| prefix.ends_with('/'))
        {
            1
        } else {
            levenshtein(word, candidate)
        };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// `did you mean `x`?` for the closest candidate, if any.
pub(crate) fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    closest(word, candidates).map(|candidate| format!("did you mean `{candidate}`?"))
}

/// `a`, `b` and `c`, for listing valid values in a message.
pub(crate) fn one_of(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// An IANA time zone name, or why not (with the closest name as a hint).
pub(crate) fn parse_timezone(text: &str) -> Result<chrono_tz::Tz, (String, Option<String>)> {
    text.parse::<chrono_tz::Tz>().map_err(|_| {
        let hint = did_you_mean(text, chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()))
            .or_else(|| Some("use an IANA name such as `UTC` or `America/New_York`".into()));
        (format!("unknown time zone `{text}`"), hint)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("same", "same"), 0);
    }

    #[test]
    fn suggests_only_plausible_names() {
        let keys = [
            "flights/daily_delays",
            "flights/clean_flights",
            "raw/weather",
        ];
        assert_eq!(
            closest("flights/daily_delay", keys),
            Some("flights/daily_delays")
        );
        assert_eq!(
            closest("clean_flights", keys),
            Some("flights/clean_flights")
        );
        assert_eq!(closest("totally/else", keys), None);
        assert_eq!(closest("timezon", ["timezone", "fmt"]), Some("timezone"));
    }

    #[test]
    fn time_zones() {
        assert_eq!(
            parse_timezone("Europe/Berlin").unwrap(),
            chrono_tz::Europe::Berlin
        );
        let (message, hint) = parse_timezone("America/New_Yrok").unwrap_err();
        assert_eq!(message, "unknown time zone `America/New_Yrok`");
        assert_eq!(hint.as_deref(), Some("did you mean `America/New_York`?"));
    }

    #[test]
    fn lists_values() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
