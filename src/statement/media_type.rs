//! [`MediaType`]: the `subject.media_type` of a statement (docs/contract.md §2.2).
//!
//! Issuing parses the RFC 9110 §8.3.1 grammar and writes one spelling per media type,
//! so that two requests that mean the same type stamp the same text:
//!
//! ```text
//! media-type = type "/" subtype parameters
//! parameters = *( OWS ";" OWS [ parameter ] )
//! parameter  = parameter-name "=" parameter-value
//! parameter-value = ( token / quoted-string )
//! ```
//!
//! The type and subtype are tokens of the narrower kind RFC 6838 §4.2 gives registered
//! names (a letter or digit, then letters, digits and `! # $ & - ^ _ . +`): the rule
//! verifiers apply to statements (below) allows no other characters there, so a wider
//! token would be issued into receipts no verifier reads.
//!
//! The type, subtype and parameter names are case-insensitive and written lower-case;
//! parameter values keep their case, except `charset`'s (RFC 9110 §8.3.2: charset names
//! are case-insensitive). White space around the whole and around `;` is dropped, empty
//! parameters too, parameters are joined by `"; "`, and a value is quoted only when it is
//! not a token. `"  Text/Plain;Charset=\"UTF-8\"  "` is issued as
//! `text/plain; charset=utf-8`.
//!
//! Reading a statement back (a receipt to verify, a leaf to audit) checks only the
//! looser rule statements were issued under before, and keeps the text as signed.

use std::fmt::Write as _;

use serde::{Deserialize, Deserializer, Serialize};

use super::{de_error, FieldError};

/// A MIME type such as `text/plain; charset=utf-8` or `image/png`.
///
/// INVARIANT: from [`MediaType::parse`], the normalised spelling of a valid RFC 9110
/// media type of at most [`MediaType::MAX_LEN`] characters; from a statement
/// ([`MediaType::recorded`]), the text as it was signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MediaType(String);

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// RFC 6838 §4.2 `restricted-name-chars`: the characters of a type or subtype name.
fn is_restricted_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c)
}

/// RFC 6838 §4.2 `restricted-name`, at most 127 characters as every name here is.
fn is_restricted_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphanumeric()) && s.chars().all(is_restricted_name_char)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_tchar)
}

/// RFC 9110 §5.6.3 optional white space.
fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

impl MediaType {
    /// Longest media type, as sent and as issued.
    pub const MAX_LEN: usize = 127;

    /// A media type sent for a new stamp, validated and normalised (see the module doc).
    ///
    /// # Errors
    /// Unless `s` is an RFC 9110 media type of printable ASCII whose type and subtype are
    /// RFC 6838 names, at most [`MediaType::MAX_LEN`] characters before and after
    /// normalisation, naming no parameter twice.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let bad = |why: &str| {
            FieldError::new(
                "media_type",
                format!("must be a MIME type such as text/plain, image/png or text/html; charset=utf-8: {why}"),
            )
        };
        let chars = s.chars().count();
        if chars > Self::MAX_LEN {
            return Err(bad(&format!("{chars} characters, at most {} are allowed", Self::MAX_LEN)));
        }
        if let Some(c) = s.chars().find(|&c| !(c == '\t' || (' '..='~').contains(&c))) {
            return Err(bad(&format!("U+{:04X} is not printable ASCII", u32::from(c))));
        }
        let s = s.trim_matches(is_ows);
        let (essence, mut rest) = s.split_at(s.find(';').unwrap_or(s.len()));
        let essence = essence.trim_end_matches(is_ows);
        let names = essence.split_once('/').filter(|(t, st)| is_restricted_name(t) && is_restricted_name(st));
        let Some((ty, subtype)) = names else {
            return Err(bad(
                "type/subtype are two names joined by /, each a letter or digit then letters, digits and ! # $ & - ^ _ . +",
            ));
        };
        let mut out = format!("{}/{}", ty.to_ascii_lowercase(), subtype.to_ascii_lowercase());
        let mut names: Vec<String> = Vec::new();
        loop {
            rest = rest.trim_start_matches(is_ows);
            let Some(after) = rest.strip_prefix(';') else { break };
            rest = after.trim_start_matches(is_ows);
            if rest.is_empty() || rest.starts_with(';') {
                continue; // an empty parameter, allowed and dropped
            }
            let (name, after) = rest.split_at(rest.find(|c: char| !is_tchar(c)).unwrap_or(rest.len()));
            let after = after.strip_prefix('=').filter(|_| !name.is_empty());
            let Some(after) = after else { return Err(bad("a parameter is name=value")) };
            let (value, after) = parameter_value(after)
                .ok_or_else(|| bad("a parameter value is a token or a quoted string without a tab"))?;
            rest = after;
            let name = name.to_ascii_lowercase();
            if names.contains(&name) {
                return Err(bad(&format!("the parameter {name} is given twice")));
            }
            let value = if name == "charset" { value.to_ascii_lowercase() } else { value };
            let _ = write!(out, "; {name}={}", quote_unless_token(&value));
            names.push(name);
        }
        if !rest.is_empty() {
            return Err(bad("parameters follow the type after ;"));
        }
        if out.len() > Self::MAX_LEN {
            return Err(bad(&format!(
                "{} characters once normalised, at most {} are allowed",
                out.len(),
                Self::MAX_LEN
            )));
        }
        // What is issued must be read back by every verifier; the rules above make sure
        // of it, and this keeps it so should they ever drift apart.
        Self::recorded(&out).map_err(|_| bad("it could not be read back from a statement"))?;
        Ok(Self(out))
    }

    /// A media type read from a signed statement, kept as signed. The rule is the one
    /// statements were issued under before [`MediaType::parse`] normalised them (at most
    /// 127 ASCII characters, no control characters, two tokens around `/` before any
    /// `;`), so every receipt issued before still parses.
    ///
    /// # Errors
    /// When `s` breaks that rule.
    pub fn recorded(s: &str) -> Result<Self, FieldError> {
        let essence = s.split(';').next().unwrap_or_default().trim();
        let token = |t: &str| !t.is_empty() && t.chars().all(is_restricted_name_char);
        let valid = s.len() <= Self::MAX_LEN
            && s.is_ascii()
            && !s.chars().any(|c| c.is_ascii_control())
            && matches!(essence.split_once('/'), Some((t, st)) if token(t) && token(st));
        if !valid {
            return Err(FieldError::new("media_type", "must be a MIME type such as text/plain or image/png"));
        }
        Ok(Self(s.to_owned()))
    }

    /// Deserializes a statement's media type with [`MediaType::recorded`].
    ///
    /// # Errors
    /// As [`MediaType::recorded`].
    pub fn deserialize_recorded<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::recorded(&s).map_err(de_error)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_text(&self) -> bool {
        self.0.starts_with("text/")
    }

    /// Whether this is an image type (and so may have an ISCC Image-Code).
    pub fn is_image(&self) -> bool {
        self.0.starts_with("image/")
    }

    /// Whether this is plain text in UTF-8: `text/plain` with no `charset` or `utf-8`,
    /// in any letter case (what text credentials are made for).
    pub fn is_utf8_plain_text(&self) -> bool {
        let mut parts = self.0.split(';').map(str::trim);
        parts.next().is_some_and(|essence| essence.eq_ignore_ascii_case("text/plain"))
            && parts.all(|p| {
                p.split_once('=').is_none_or(|(name, value)| {
                    !name.trim().eq_ignore_ascii_case("charset")
                        || value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
                })
            })
    }
}

/// A parameter value at the start of `s` (a token, or a quoted string unescaped, without
/// a tab), and what follows it; `None` when there is neither.
fn parameter_value(s: &str) -> Option<(String, &str)> {
    let Some(quoted) = s.strip_prefix('"') else {
        let end = s.find(|c: char| !is_tchar(c)).unwrap_or(s.len());
        return (end > 0).then(|| (s[..end].to_owned(), &s[end..]));
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &quoted[i + 1..])),
            '\\' => value.push(chars.next()?.1),
            c => value.push(c),
        }
        // RFC 9110 allows a tab in a quoted string; a statement holds no control
        // character (docs/contract.md §2.2).
        if value.ends_with('\t') {
            return None;
        }
    }
    None
}

fn quote_unless_token(value: &str) -> String {
    if is_token(value) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

impl<'de> Deserialize<'de> for MediaType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(de_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_media_types_are_normalised() {
        for (sent, issued) in [
            ("image/png", "image/png"),
            ("  GTwR/v  ", "gtwr/v"),
            ("Text/Plain; charset=UTF-8", "text/plain; charset=utf-8"),
            ("text/plain;charset=\"UTF-8\"", "text/plain; charset=utf-8"),
            ("text/plain ;\tCharSet=utf-8 ; ", "text/plain; charset=utf-8"),
            ("text/plain;;format=Flowed", "text/plain; format=Flowed"),
            ("multipart/form-data; boundary=\"a b\"", "multipart/form-data; boundary=\"a b\""),
            ("text/x; q=\"say \\\"hi\\\"\"", "text/x; q=\"say \\\"hi\\\"\""),
            ("text/x; q=\"\\t\"", "text/x; q=t"),
            ("text/x; q=\"a b\"\t", "text/x; q=\"a b\""),
            ("text/x; q=\"\"", "text/x; q=\"\""),
            ("application/vnd.api+json", "application/vnd.api+json"),
            ("text/plain; owner=\"jane@example.com\"", "text/plain; owner=\"jane@example.com\""),
        ] {
            assert_eq!(MediaType::parse(sent).map(|m| m.0), Ok(issued.to_owned()), "{sent:?}");
            // Normalising is idempotent: an issued type is issued as itself.
            assert_eq!(MediaType::parse(issued).map(|m| m.0), Ok(issued.to_owned()), "{issued:?}");
        }
    }

    #[test]
    fn garbage_is_refused_naming_the_field() {
        for bad in [
            "",
            "   ",
            "text",
            "/png",
            "image/",
            "te xt/plain",
            "text /plain",
            "text/ plain",
            "text/plain\n",
            "text/plain; charset",
            "text/plain; charset=",
            "text/plain; charset = utf-8",
            "text/plain; charset=utf 8",
            "text/plain; a=\"unterminated",
            "text/plain; a=\"x\"y",
            "text/plain; owner=jane@example.com",
            "text/plain; charset=utf-8; Charset=latin1",
            "text/plain; x=caf\u{e9}",
            "text/plain; x=\"a\tb\"",
            "text/plain; x=\"\\\t\"",
            "text/\u{1F600}",
            "a(b)/c",
            "text/x*y",
            "#oowf/e",
            "text/-plain",
            &format!("text/{}", "a".repeat(MediaType::MAX_LEN)),
            // 127 characters sent, 129 once a space follows each ;
            &format!("a/b;c=d;e={}", "f".repeat(117)),
        ] {
            let e = MediaType::parse(bad).unwrap_err();
            assert_eq!(e.field, "media_type", "{bad:?}");
            assert!(e.reason.starts_with("must be a MIME type"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn statements_keep_their_media_type_as_signed() {
        for signed in ["text/plain; charset=utf-8", "  gtwr/v  ", "text/plain;charset=utf-8", "Image/PNG"] {
            assert_eq!(MediaType::recorded(signed).map(|m| m.0), Ok(signed.to_owned()));
        }
        for bad in ["", "text", "text/plain\n", "t\u{e9}xt/plain"] {
            assert!(MediaType::recorded(bad).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        /// Whatever is issued is read back: a statement whose media type the verifiers'
        /// rule refused would be a receipt no one can verify (and a 500 on every read).
        #[test]
        fn every_issued_media_type_is_read_back_as_issued(
            s in concat!(
                "[ \t]{0,2}[!-~]{1,8}/[!#$%&'*+.^_`|~0-9A-Za-z-]{1,8}",
                "([ \t]{0,1};[ \t]{0,1}([!#$%&'*+.^_`|~0-9A-Za-z-]{1,6}=([!-~]{1,6}|\"[ -~\t]{0,8}\"))?){0,3}[ \t]{0,2}",
            )
        ) {
            if let Ok(issued) = MediaType::parse(&s) {
                proptest::prop_assert_eq!(MediaType::recorded(issued.as_str()), Ok(issued.clone()));
                proptest::prop_assert_eq!(MediaType::parse(issued.as_str()), Ok(issued));
            }
        }
    }

    #[test]
    fn only_text_types_are_text() {
        assert!(MediaType::parse("Text/Markdown").unwrap().is_text());
        assert!(!MediaType::parse("image/png").unwrap().is_text());
    }
}
