//! The product code: what Xero needs of it, and a code suggested from the product's name.

use crate::xero::MAX_CODE_CHARS;

use super::same_name;

/// Characters that break Xero's look-up of an item by code in a URL path (`GET /Items/{code}`).
pub(super) const UNSAFE_CODE_CHARS: [char; 4] = ['/', '\\', '?', '#'];

/// A product code made from the product's name ("Wireless Mouse (Black)" → `WIRELESS-MOUSE-BLACK`): its
/// words in capitals joined by `-`, at most 30 characters (cut at a word where possible), nothing but
/// letters, digits and `-` (so none of the characters that break Xero's look-ups), and not one of `taken`
/// in any case (Xero's codes are unique regardless of case): `-2`, `-3`, … is added until it is free.
/// `None` when the name has no letter or digit to make a code of.
pub fn suggest_code(name: &str, taken: &[&str]) -> Option<String> {
    let mut base = String::new();
    for word in name.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let more = word.chars().count() + usize::from(!base.is_empty());
        if base.chars().count() + more > MAX_CODE_CHARS {
            if base.is_empty() {
                base = word.chars().take(MAX_CODE_CHARS).collect();
            }
            break;
        }
        if !base.is_empty() {
            base.push('-');
        }
        base.push_str(word);
    }
    let base: String = base.chars().flat_map(char::to_uppercase).collect();
    if base.is_empty() {
        return None;
    }
    let free = |code: &str| !taken.iter().any(|t| same_name(t, code));
    if free(&base) {
        return Some(base);
    }
    (2..).map(|n: u32| numbered(&base, n)).find(|code| free(code))
}

/// `base` with `-n` at its end, `base` shortened so the whole stays within the limit.
fn numbered(base: &str, n: u32) -> String {
    let suffix = format!("-{n}");
    let room = MAX_CODE_CHARS.saturating_sub(suffix.len());
    let kept: String = base.chars().take(room).collect();
    format!("{}{suffix}", kept.trim_end_matches('-'))
}
