//! What a text is found by beyond its exact and normalised hashes: its ISCC Text-Code
//! (similar texts: a word changed, added or removed), and the hashes of its sentences
//! (an excerpt: the Text-Code of one sentence is nothing like the whole text's).

use crate::fingerprint::code::{CodeKind, ContentCode};
use crate::normalize::Normalization;
use crate::Sha256Digest;

/// Longest text given a Text-Code, in bytes: its cost grows with the text, and marketing
/// copy is far shorter. A longer text is found by its hashes alone.
pub const MAX_TEXT_CODE_BYTES: usize = 1 << 20;

/// Fewest words a sentence needs to be indexed: shorter ones ("Learn more about it.")
/// recur across unrelated texts.
pub const MIN_SENTENCE_WORDS: usize = 8;

/// Most sentences indexed per text.
pub const MAX_SENTENCES: usize = 256;

/// The ISCC Text-Code of `text` (ISO 24138: collapsed, 13-character n-grams, MinHash),
/// 256 bits; `None` for a text past [`MAX_TEXT_CODE_BYTES`] or with nothing to hash.
pub fn text_code(text: &str) -> Option<ContentCode> {
    if text.len() > MAX_TEXT_CODE_BYTES {
        return None;
    }
    let made = iscc_lib::gen_text_code_v0(text, 256).ok()?;
    if made.characters == 0 {
        return None;
    }
    made.iscc.parse().ok().filter(|c: &ContentCode| c.kind() == CodeKind::Text)
}

/// The hashes of the sentences of `text` with at least [`MIN_SENTENCE_WORDS`] words, in
/// order, without repeats, at most [`MAX_SENTENCES`]. A sentence ends at `.`, `!` or
/// `?` (and closing quotes or brackets after it) followed by white space, or at the
/// end of the text. Each is hashed in the v2 normal form, lower-cased, without its
/// closing punctuation, so that a sentence copied without its full stop is the same.
pub fn sentence_hashes(text: &str) -> Vec<Sha256Digest> {
    let normal = Normalization::V2.apply(text);
    let mut hashes = Vec::new();
    for sentence in split_sentences(&normal) {
        if hashes.len() == MAX_SENTENCES {
            break;
        }
        if let Some(hash) = sentence_hash(sentence) {
            if !hashes.contains(&hash) {
                hashes.push(hash);
            }
        }
    }
    hashes
}

/// The hash of one sentence in v2 normal form, when it has enough words.
fn sentence_hash(sentence: &str) -> Option<Sha256Digest> {
    let core = sentence.trim_matches(|c: char| c.is_whitespace() || is_closing(c) || is_terminal(c));
    let core = core.trim_start_matches(['"', '\'', '(', '[']);
    if core.split_whitespace().count() < MIN_SENTENCE_WORDS {
        return None;
    }
    let mut input = b"ai-provenance/sentence/v1\n".to_vec();
    input.extend(core.to_lowercase().as_bytes());
    Some(Sha256Digest::of(&input))
}

fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?')
}

fn is_closing(c: char) -> bool {
    matches!(c, '"' | '\'' | ')' | ']')
}

/// Sentences of a text in v2 normal form (single spaces).
fn split_sentences(normal: &str) -> Vec<&str> {
    let mut sentences = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = normal.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        if is_terminal(chars[i].1) {
            let mut j = i + 1;
            while j < chars.len() && (is_terminal(chars[j].1) || is_closing(chars[j].1)) {
                j += 1;
            }
            if j == chars.len() || chars[j].1 == ' ' {
                let end = chars.get(j).map_or(normal.len(), |(at, _)| *at);
                sentences.push(&normal[start..end]);
                start = end;
                i = j;
                continue;
            }
        }
        i += 1;
    }
    if start < normal.len() {
        sentences.push(&normal[start..]);
    }
    sentences
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Meet the Aero 5, our lightest running shoe yet. Its foam returns more energy \
        than any shoe we have made before! Try it \u{201C}risk-free\u{201D} for 30 days. Short one.";

    #[test]
    fn sentences_of_eight_words_or_more_are_hashed() {
        let hashes = sentence_hashes(TEXT);
        assert_eq!(hashes.len(), 2, "the 8-word and 12-word sentences; not the two short ones");
        // One sentence copied alone, without its full stop, in other quotes and case.
        let copied = sentence_hashes("its foam returns more energy than any shoe we have made before");
        assert_eq!(copied, vec![hashes[1]]);
        let typed = sentence_hashes("Meet the Aero 5, our lightest running shoe yet.");
        assert_eq!(typed, vec![hashes[0]]);
    }

    #[test]
    fn abbreviations_and_numbers_do_not_end_a_sentence_early_enough_to_matter() {
        assert_eq!(split_sentences("Price 4.99 today. Next one"), vec!["Price 4.99 today.", " Next one"]);
        assert_eq!(split_sentences("Why? \"Because.\" Done"), vec!["Why?", " \"Because.\"", " Done"]);
    }

    #[test]
    fn the_text_code_is_iscc_libs_and_tolerates_one_word() {
        let code = text_code(TEXT).unwrap();
        assert_eq!(code.to_string(), iscc_lib::gen_text_code_v0(TEXT, 256).unwrap().iscc);
        let edited = text_code(&TEXT.replace("lightest", "lighest")).unwrap();
        assert!(code.distance(&edited) < 64, "{}", code.distance(&edited));
        assert_eq!(text_code("  ... "), None);
    }
}
