//! "Did you mean …?" for names typed by hand in the CRM.

/// Up to `limit` candidates closest to `typed`, best first; candidates that are not plausibly what was
/// meant are left out, so an empty list means "no idea", not "anything goes".
pub(crate) fn closest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>, limit: usize) -> Vec<String> {
    closest_of(typed, &candidates.into_iter().collect::<Vec<_>>(), limit)
}

/// [`closest`]'s body, not generic, so the widget's bundle carries it (and its sort) once.
fn closest_of(typed: &str, candidates: &[&str], limit: usize) -> Vec<String> {
    let typed = folded(typed.trim());
    if typed.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(f64, &str)> = candidates
        .iter()
        .filter_map(|&candidate| {
            let lower = folded(candidate);
            let similarity = strsim::normalized_damerau_levenshtein(&typed, &lower);
            // A partial name ("sales" for "Sales - Hardware") is a good hint too.
            let contains = lower.contains(&typed) || typed.contains(&lower);
            let score = if contains { similarity.max(0.75) } else { similarity };
            (score >= 0.5).then_some((score, candidate))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1.eq_ignore_ascii_case(b.1));
    scored.into_iter().take(limit).map(|(_, c)| c.to_owned()).collect()
}

/// Lower case char by char, as [`crate::rules::same_name`] compares names (`str::to_lowercase`'s
/// context rules would add about 2.5 KB gzip to the widget's bundle and change nothing for names).
fn folded(text: &str) -> String {
    if text.is_ascii() { text.to_ascii_lowercase() } else { text.chars().flat_map(char::to_lowercase).collect() }
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn typos_and_partial_names_are_suggested_best_first() {
        let names = ["Sales", "Other Revenue", "Interest Income", "Sales - Hardware"];
        assert_eq!(closest("Salse", names, 3), vec!["Sales"]);
        assert_eq!(closest("sale", names, 3), vec!["Sales", "Sales - Hardware"]);
        assert_eq!(closest("interest", names, 3), vec!["Interest Income"]);
        assert!(closest("zzzz", names, 3).is_empty());
        assert!(closest("  ", names, 3).is_empty());
    }
}
