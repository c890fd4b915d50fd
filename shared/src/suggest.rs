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

/// Lower case char by char ([`fold`]), as [`crate::rules::same_name`] compares names; ASCII (nearly every
/// account name) a byte at a time, as it runs for every account on every keystroke.
fn folded(text: &str) -> String {
    if text.is_ascii() { text.to_ascii_lowercase() } else { text.chars().map(fold).collect() }
}

/// One character in lower case, for comparing names: exactly `char::to_lowercase` for the letters of
/// ASCII, Latin-1, Latin Extended-A, the Greek and the Cyrillic alphabets (Xero's UI is English; account
/// names in other scripts compare case-sensitively). Unicode's full case tables cost the widget's bundle
/// 6 KB gzip, 4 % of its budget, for scripts no Xero chart is written in.
pub(crate) fn fold(c: char) -> char {
    let code = u32::from(c);
    let lower = match code {
        0x41..=0x5A | 0xC0..=0xD6 | 0xD8..=0xDE | 0x391..=0x3A1 | 0x3A3..=0x3AB | 0x410..=0x42F => code + 0x20,
        0x130 => 0x69,
        0x178 => 0xFF,
        0x100..=0x12F | 0x132..=0x137 | 0x14A..=0x177 | 0x460..=0x481 | 0x48A..=0x4BF | 0x4D0..=0x52F
            if code % 2 == 0 =>
        {
            code + 1
        }
        0x139..=0x148 | 0x179..=0x17E | 0x4C1..=0x4CE if code % 2 == 1 => code + 1,
        0x386 => 0x3AC,
        0x388..=0x38A => code + 0x25,
        0x38C => 0x3CC,
        0x38E..=0x38F => code + 0x3F,
        0x400..=0x40F => code + 0x50,
        0x4C0 => 0x4CF,
        _ => code,
    };
    char::from_u32(lower).unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::{closest, fold};

    /// `fold` is `char::to_lowercase` wherever it claims to be (İ, whose lower case is two characters, is i).
    #[test]
    fn fold_is_unicodes_lower_case_for_the_alphabets_it_covers() {
        let covered = [0x00..=0x17F, 0x386..=0x3AB, 0x3AC..=0x3CE, 0x400..=0x52F];
        for c in covered.into_iter().flatten().filter_map(char::from_u32) {
            let mut lower = c.to_lowercase();
            let (first, second) = (lower.next(), lower.next());
            let expected = if second.is_some() { 'i' } else { first.unwrap_or(c) };
            assert_eq!(fold(c), expected, "U+{:04X} {c}", u32::from(c));
        }
        assert_eq!(fold('Ա'), 'Ա', "outside: unchanged");
    }

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
