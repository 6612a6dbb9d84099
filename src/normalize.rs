//! Text normalisation for the normalised text hash (docs/contract.md §2), in versions, so
//! that a receipt keeps verifying under the normalisation it was issued with:
//!
//! - **v1** (statements `ai-provenance/statement/v1`): Unicode NFC, every run of white
//!   space folded to one space, leading and trailing white space removed. It lets a
//!   reader who copied text off a web page (where line breaks and spacing change) find
//!   and verify the stamp of the original copy.
//! - **v2** (statements `ai-provenance/statement/v2`): v1, after folding the typographic
//!   variants that content management systems introduce and that never change meaning:
//!   curly quotes and apostrophes to straight ones, dashes and runs of hyphens to one
//!   hyphen, the ellipsis character to three full stops, and zero-width, soft-hyphen
//!   and variation-selector characters removed (the invisible wrapper of a C2PA text
//!   manifest among them). Nothing else: Unicode compatibility forms at large are kept
//!   (`m²` is not `m2`).

use unicode_normalization::UnicodeNormalization;

use crate::Sha256Digest;

/// Which normalisation a normalised text hash was computed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalization {
    V1,
    V2,
}

impl Normalization {
    pub fn as_str(self) -> &'static str {
        match self {
            Normalization::V1 => "v1",
            Normalization::V2 => "v2",
        }
    }

    /// `text` in this normal form.
    pub fn apply(self, text: &str) -> String {
        match self {
            Normalization::V1 => normalize_text(text),
            Normalization::V2 => normalize_text(&fold_typography(text)),
        }
    }

    /// SHA-256 of [`Normalization::apply`].
    pub fn sha256(self, text: &str) -> Sha256Digest {
        Sha256Digest::of(self.apply(text).as_bytes())
    }
}

/// `text` in the v1 normal form.
pub(crate) fn normalize_text(text: &str) -> String {
    let nfc: String = text.nfc().collect();
    // `split_whitespace` uses Unicode White_Space, so non-breaking spaces that browsers
    // put into copied text fold like ordinary ones.
    let mut out = String::with_capacity(nfc.len());
    for word in nfc.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Whether `c` is invisible and carries no meaning in running text: zero-width spaces
/// and joiners, the word joiner, the byte-order mark, the soft hyphen, and variation
/// selectors (including the supplementary ones a C2PA text wrapper is written in).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// The typographic folding of v2 (before v1's steps).
fn fold_typography(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if is_invisible(c) => {}
            // Single quotes and apostrophes: left, right, low-9, reversed, modifier letter.
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{02BC}' => out.push('\''),
            // Double quotes: left, right, low-9, reversed.
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' => out.push('"'),
            // Hyphen, non-breaking hyphen, figure, en and em dashes, horizontal bar, minus.
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '-' => {
                // `--` and `---` are how dashes are typed; one hyphen, however written.
                if !out.ends_with('-') {
                    out.push('-');
                }
            }
            '\u{2026}' => out.push_str("..."),
            c => out.push(c),
        }
    }
    out
}

/// SHA-256 of the v1 normal form of `text` (what v1 statements carry).
pub(crate) fn normalized_text_sha256(text: &str) -> Sha256Digest {
    Normalization::V1.sha256(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn folds_whitespace_and_trims() {
        assert_eq!(normalize_text("  Hello,\n\tworld\u{00A0} again \r\n"), "Hello, world again");
    }

    #[test]
    fn composes_to_nfc() {
        // "e" + COMBINING ACUTE ACCENT becomes U+00E9.
        assert_eq!(normalize_text("caf\u{0065}\u{0301}"), "caf\u{00E9}");
        assert_eq!(normalized_text_sha256("cafe\u{0301}"), normalized_text_sha256("caf\u{00E9}"));
    }

    #[test]
    fn empty_and_blank_are_empty() {
        assert_eq!(normalize_text(""), "");
        assert_eq!(normalize_text(" \n\t "), "");
    }

    #[test]
    fn v2_folds_what_a_cms_does_to_typed_text() {
        let typed = "It's \"new\" -- and 20-30% lighter... Really.";
        let published =
            "It\u{2019}s \u{201C}new\u{201D} \u{2014} and 20\u{2013}30%\u{00A0}lighter\u{2026} Re\u{00AD}al\u{200B}ly.";
        assert_eq!(Normalization::V2.apply(typed), Normalization::V2.apply(published));
        assert_eq!(Normalization::V2.apply(typed), "It's \"new\" - and 20-30% lighter... Really.");
        // v1 is unchanged: receipts issued with it keep verifying.
        assert_ne!(Normalization::V1.sha256(typed), Normalization::V1.sha256(published));
        assert_eq!(Normalization::V1.sha256(typed), normalized_text_sha256(typed));
    }

    #[test]
    fn v2_keeps_what_changes_meaning() {
        for (a, b) in [("10 m\u{00B2}", "10 m2"), ("\u{FF21}", "A"), ("x\u{2032}", "x'"), ("caf\u{00E9}", "cafe")] {
            assert_ne!(Normalization::V2.apply(a), Normalization::V2.apply(b), "{a} vs {b}");
        }
    }

    proptest! {
        #[test]
        fn idempotent(s in "\\PC*") {
            for n in [Normalization::V1, Normalization::V2] {
                let once = n.apply(&s);
                prop_assert_eq!(n.apply(&once), once);
            }
        }

        #[test]
        fn extra_whitespace_does_not_change_the_hash(words in proptest::collection::vec("[a-zA-Z0-9]{1,8}", 1..10)) {
            let tight = words.join(" ");
            let loose = format!("\n  {}\t ", words.join(" \r\n  "));
            prop_assert_eq!(normalized_text_sha256(&tight), normalized_text_sha256(&loose));
        }
    }
}
