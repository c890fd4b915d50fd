//! "Did you mean …?" for names typed by hand in the CRM.

/// Up to `limit` candidates closest to `typed`, best first; candidates that are not plausibly what was
/// meant are left out, so an empty list means "no idea", not "anything goes".
pub(crate) fn closest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>, limit: usize) -> Vec<String> {
    let typed = typed.trim().to_lowercase();
    if typed.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .filter_map(|candidate| {
            let lower = candidate.to_lowercase();
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
