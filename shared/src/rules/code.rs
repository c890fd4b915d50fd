//! The product code: what Xero needs of it, and a code suggested from the product's name.

use crate::xero::MAX_CODE_CHARS;

use super::same_name;

/// Characters that break Xero's look-up of an item by code in a URL path (`GET /Items/{code}`).
pub(super) const UNSAFE_CODE_CHARS: [char; 4] = ['/', '\\', '?', '#'];

/// A product code made from the product's name ("Wireless Mouse (Black)" → `WIRELESS-MOUSE-BLACK`): its
/// words in capitals joined by `-`, at most 30 characters (cut at a word where possible), nothing but
/// ASCII letters, digits and `-` (so none of the characters that break Xero's look-ups), and not one of
/// `taken` in any case (Xero's codes are unique regardless of case): `-2`, `-3`, … is added until it is
/// free. Accented Latin letters lose their accents ("Café" → `CAFE`); other scripts are left out (Unicode's
/// case tables would cost the widget's bundle 5 KB). `None` when no letter or digit is left.
pub fn suggest_code(name: &str, taken: &[&str]) -> Option<String> {
    let letters: String = name.chars().map(code_char).collect();
    let mut base = String::new();
    for word in letters.split('-').filter(|w| !w.is_empty()) {
        let more = word.len() + usize::from(!base.is_empty());
        if base.len() + more > MAX_CODE_CHARS {
            if base.is_empty() {
                base = word[..MAX_CODE_CHARS].to_owned();
            }
            break;
        }
        if !base.is_empty() {
            base.push('-');
        }
        base.push_str(word);
    }
    if base.is_empty() {
        return None;
    }
    let free = |code: &str| !taken.iter().any(|t| same_name(t, code));
    if free(&base) {
        return Some(base);
    }
    (2..).map(|n: u32| numbered(&base, n)).find(|code| free(code))
}

/// Latin-1's letters (U+00C0 to U+00FF) without their accents, in capitals; `-` for × and ÷.
const LATIN_1: &[u8; 64] = b"AAAAAAACEEEEIIIIDNOOOOO-OUUUUYTSAAAAAAACEEEEIIIIDNOOOOO-OUUUUYTY";

/// One character of a name as it goes into a code: an ASCII capital or digit, else `-` (a word break).
fn code_char(c: char) -> char {
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' => c.to_ascii_uppercase(),
        '\u{C0}'..='\u{FF}' => char::from(LATIN_1[c as usize - 0xC0]),
        _ => '-',
    }
}

/// `base` with `-n` at its end, `base` shortened so the whole stays within the limit.
fn numbered(base: &str, n: u32) -> String {
    let suffix = format!("-{n}");
    let room = MAX_CODE_CHARS.saturating_sub(suffix.len());
    // The code is ASCII, so bytes are characters.
    format!("{}{suffix}", base[..room.min(base.len())].trim_end_matches('-'))
}
