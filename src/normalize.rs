//! Text normalisation for the normalized text hash (docs/contract.md §2): Unicode NFC, every run
//! of whitespace folded to one space, leading and trailing whitespace removed. It lets a
//! reader who copied text off a web page (where line breaks and spacing change) find and
//! verify the stamp of the original copy.

use unicode_normalization::UnicodeNormalization;

use crate::Sha256Digest;

/// `text` in the normal form that `normalized_text_sha256` is computed over.
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

/// SHA-256 of [`normalize_text`]`(text)`.
pub(crate) fn normalized_text_sha256(text: &str) -> Sha256Digest {
    Sha256Digest::of(normalize_text(text).as_bytes())
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

    proptest! {
        #[test]
        fn idempotent(s in "\\PC*") {
            let once = normalize_text(&s);
            prop_assert_eq!(normalize_text(&once), once);
        }

        #[test]
        fn extra_whitespace_does_not_change_the_hash(words in proptest::collection::vec("[a-zA-Z0-9]{1,8}", 1..10)) {
            let tight = words.join(" ");
            let loose = format!("\n  {}\t ", words.join(" \r\n  "));
            prop_assert_eq!(normalized_text_sha256(&tight), normalized_text_sha256(&loose));
        }
    }
}
