//! The body of a C2SP `tlog-witness` `add-checkpoint` request, parsed:
//!
//! ```text
//! old <size>\n
//! <base64 hash>\n        (0 to 63 consistency proof lines)
//! \n
//! <signed checkpoint note>
//! ```
//!
//! Only the framing is checked here; the note's signatures and the proof are the
//! witness's business ([`super::Witness::add_checkpoint`]).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::digest::Sha256Digest;

/// The most consistency proof lines a client may send (tlog-witness): a proof between
/// two trees of at most 2^64 leaves has at most 2 * 64 - 1 hashes, but the spec bounds it
/// at 63, and so the work a request can cause.
pub const MAX_PROOF_LINES: usize = 63;

/// Why an `add-checkpoint` body is malformed (all answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the body is not UTF-8")]
    NotUtf8,
    #[error("the body must start with a line `old <size>`")]
    MissingOldSize,
    #[error("the old size must be decimal digits without a leading zero")]
    BadOldSize,
    #[error("proof line {line} is not the standard base64 of a 32-byte hash")]
    BadProofLine { line: usize },
    #[error("more than {MAX_PROOF_LINES} consistency proof lines")]
    TooManyProofLines,
    #[error("the proof lines must end with an empty line, followed by the checkpoint")]
    MissingSeparator,
}

/// A parsed `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the client believes the witness holds.
    pub old_size: u64,
    /// An RFC 6962 consistency proof from `old_size` to the submitted checkpoint.
    /// INVARIANT: at most [`MAX_PROOF_LINES`] hashes.
    pub proof: Vec<Sha256Digest>,
    /// The signed checkpoint note, as sent (not yet checked).
    pub note: String,
}

impl AddCheckpoint {
    /// Parses a request body. Never panics; the proof lines are counted before they are
    /// decoded, so a hostile body costs at most 64 line decodings.
    ///
    /// # Errors
    /// A [`RequestError`] saying what is malformed.
    pub fn parse(body: &[u8]) -> Result<Self, RequestError> {
        let body = std::str::from_utf8(body).map_err(|_| RequestError::NotUtf8)?;
        let (first, mut rest) = body.split_once('\n').ok_or(RequestError::MissingOldSize)?;
        let old = first.strip_prefix("old ").ok_or(RequestError::MissingOldSize)?;
        let old_size = parse_decimal(old).ok_or(RequestError::BadOldSize)?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest.split_once('\n').ok_or(RequestError::MissingSeparator)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(RequestError::TooManyProofLines);
            }
            let bad = RequestError::BadProofLine { line: proof.len() + 1 };
            let bytes = STANDARD.decode(line).map_err(|_| bad.clone())?;
            proof.push(Sha256Digest::try_from_slice(&bytes).map_err(|_| bad)?);
        }
        Ok(Self { old_size, proof, note: rest.to_owned() })
    }
}

/// ASCII decimal, no sign, no leading zero except `0` itself, fits in u64.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=";

    /// The example request body of tlog-witness (C2SP commit 95978ca), byte for byte.
    const SPEC_EXAMPLE: &str = "old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
\u{2014} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
";

    #[test]
    fn parses_the_spec_example() {
        let req = AddCheckpoint::parse(SPEC_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(req.old_size, 20_852_014);
        assert_eq!(req.proof.len(), 4);
        assert_eq!(STANDARD.encode(req.proof[3].as_bytes()), "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=");
        assert!(req.note.starts_with("example.com/behind-the-sofa\n20852163\n"), "{}", req.note);
        assert!(req.note.ends_with("++qbSzm9Q=\n"));
        let checkpoint =
            crate::log::checkpoint::Checkpoint::parse_body(&req.note[..req.note.find("\n\n").unwrap() + 1]).unwrap();
        assert_eq!(checkpoint.size, 20_852_163);
    }

    #[test]
    fn old_zero_and_no_proof() {
        let req = AddCheckpoint::parse(b"old 0\n\nlog\n0\nx\n").unwrap();
        assert_eq!((req.old_size, req.proof.len(), req.note.as_str()), (0, 0, "log\n0\nx\n"));
    }

    #[test]
    fn sixty_three_proof_lines_pass_sixty_four_do_not() {
        let body = |n: usize| format!("old 5\n{}\nnote\n", format!("{HASH}\n").repeat(n));
        assert_eq!(AddCheckpoint::parse(body(63).as_bytes()).unwrap().proof.len(), 63);
        assert_eq!(AddCheckpoint::parse(body(64).as_bytes()), Err(RequestError::TooManyProofLines));
        // Counted before decoding: a flood of junk lines is refused the same way.
        let junk = format!("old 5\n{}{}\n\nnote\n", format!("{HASH}\n").repeat(63), "!!!");
        assert_eq!(AddCheckpoint::parse(junk.as_bytes()), Err(RequestError::TooManyProofLines));
    }

    #[test]
    fn malformed_bodies_say_why() {
        let cases: &[(&[u8], RequestError)] = &[
            (b"", RequestError::MissingOldSize),
            (b"old 1", RequestError::MissingOldSize),
            (b"new 1\n\n", RequestError::MissingOldSize),
            (b"old  1\n\n", RequestError::BadOldSize),
            (b"old 01\n\n", RequestError::BadOldSize),
            (b"old -1\n\n", RequestError::BadOldSize),
            (b"old +1\n\n", RequestError::BadOldSize),
            (b"old 1 \n\n", RequestError::BadOldSize),
            (b"old 18446744073709551616\n\n", RequestError::BadOldSize),
            (b"old 1\nAAAA\n\nnote\n", RequestError::BadProofLine { line: 1 }),
            (b"old 1\nnot base64\n\nnote\n", RequestError::BadProofLine { line: 1 }),
            (b"old 1\r\n\r\n", RequestError::BadOldSize),
            (b"old 1\n", RequestError::MissingSeparator),
            (b"old 1\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=", RequestError::MissingSeparator),
            (b"old 1\n\xff\n\n", RequestError::NotUtf8),
        ];
        for (body, want) in cases {
            assert_eq!(AddCheckpoint::parse(body).as_ref().err(), Some(want), "{:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn a_proof_line_must_be_canonical_base64() {
        // The last character's unused bits set: the same bytes spelled another way.
        let body = "old 1\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkax=\n\nnote\n";
        assert_eq!(AddCheckpoint::parse(body.as_bytes()), Err(RequestError::BadProofLine { line: 1 }));
    }
}
