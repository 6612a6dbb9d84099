//! The signed statement (docs/contract.md §2, contract) and the small validated types it is made
//! of. Every field that reaches a statement has passed through one of these types, so a
//! statement in memory is always one we are willing to sign.

pub mod badge;
mod media_type;
pub mod pii;
pub mod receipt;
pub mod request;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

pub use self::media_type::MediaType;
use crate::fingerprint::ContentCode;
use crate::normalize::Normalization;
use crate::time::Timestamp;
use crate::Sha256Digest;

/// A statement's `type`: which members it may have and how its text hash is normalised.
/// Verifiers accept both; any other type is no statement of this service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatementType {
    /// Issued before fingerprints: no `subject.iscc`, text normalised by v1.
    #[serde(rename = "ai-provenance/statement/v1")]
    V1,
    /// Issued since: v1 and the ISCC Content-Code of the content (`subject.iscc`), with
    /// text normalised by v2 (`normalize`).
    #[serde(rename = "ai-provenance/statement/v2")]
    V2,
}

/// The type of every statement this version issues.
pub const STATEMENT_TYPE: StatementType = StatementType::V2;

/// Prefix of every IPTC Digital Source Type URI.
pub const IPTC_DST_PREFIX: &str = "http://cv.iptc.org/newscodes/digitalsourcetype/";

/// Why a field value is not acceptable. `field` names the JSON path so that API errors
/// can say exactly which field to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// The JSON path of the field, with indices: `explanation.factors[2].weight`.
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into() }
    }
}

/// A serde error for a value that breaks its field's rule. The message is the reason
/// alone: whoever decodes knows the path (see `http::json`), and would otherwise name
/// the field twice.
fn de_error<E: serde::de::Error>(e: FieldError) -> E {
    E::custom(e.reason)
}

/// Deserializes an optional member that is omitted when absent, never `null`
/// (`#[serde(default, deserialize_with = "crate::statement::not_null")]`): absent is
/// `None`, `null` is refused as the wrong type, like any other value `T` does not take.
/// The document says so too; a `null` the service silently took for "absent" would be a
/// request it accepts while its schema refuses it.
///
/// # Errors
/// When the value is `null` or not a `T`.
pub fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Checks a free-text field: non-empty after trimming, at most `max` characters and no
/// control characters (they have no place in a disclosure and confuse log viewers).
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    let chars = value.chars().count();
    if chars > max {
        return Err(FieldError::new(field, format!("is {chars} characters long, at most {max} are allowed")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(())
}

/// What kind of asset a statement is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    MarketingCopy,
    Image,
    Video,
    Audio,
    RecommendationExplanation,
    Other,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::MarketingCopy => "marketing_copy",
            Kind::Image => "image",
            Kind::Video => "video",
            Kind::Audio => "audio",
            Kind::RecommendationExplanation => "recommendation_explanation",
            Kind::Other => "other",
        }
    }

    /// The IPTC digital source type assumed when the issuer sends none.
    ///
    /// Generated copy and media come from trained generative models
    /// (`trainedAlgorithmicMedia`). A recommendation explanation is usually rendered
    /// from the recommender's own factors and weights, which IPTC calls
    /// `algorithmicMedia`; an issuer that phrases explanations with an LLM should say so.
    pub fn default_digital_source_type(self) -> DigitalSourceType {
        let code = match self {
            Kind::RecommendationExplanation => "algorithmicMedia",
            _ => "trainedAlgorithmicMedia",
        };
        DigitalSourceType(format!("{IPTC_DST_PREFIX}{code}"))
    }
}

/// Codes of the IPTC Digital Source Type vocabulary (NewsCodes, 2025 edition).
pub const IPTC_DST_CODES: &[&str] = &[
    "digitalCapture",
    "computationalCapture",
    "negativeFilm",
    "positiveFilm",
    "print",
    "humanEdits",
    "minorHumanEdits",
    "compositeCapture",
    "algorithmicallyEnhanced",
    "dataDrivenMedia",
    "digitalArt",
    "virtualRecording",
    "compositeSynthetic",
    "trainedAlgorithmicMedia",
    "algorithmicMedia",
    "screenCapture",
    "digitalCreation",
    "compositeWithTrainedAlgorithmicMedia",
    "softwareImage",
];

/// An IPTC Digital Source Type URI from the published vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigitalSourceType(String);

impl DigitalSourceType {
    /// # Errors
    /// When `uri` is not `http://cv.iptc.org/newscodes/digitalsourcetype/<code>` with a
    /// code from the vocabulary.
    pub fn parse(uri: &str) -> Result<Self, FieldError> {
        match uri.strip_prefix(IPTC_DST_PREFIX) {
            Some(code) if IPTC_DST_CODES.contains(&code) => Ok(Self(uri.to_owned())),
            Some(_) => Err(FieldError::new(
                "digital_source_type",
                format!(
                    "is not a code of the IPTC Digital Source Type vocabulary; after {IPTC_DST_PREFIX} one of: {}",
                    IPTC_DST_CODES.join(", ")
                ),
            )),
            None => Err(FieldError::new(
                "digital_source_type",
                format!("must be an IPTC URI starting with {IPTC_DST_PREFIX}"),
            )),
        }
    }

    /// The type of a bare code of the vocabulary, such as `trainedAlgorithmicMedia`.
    ///
    /// # Errors
    /// When `code` is not in [`IPTC_DST_CODES`].
    pub fn from_code(code: &str) -> Result<Self, FieldError> {
        Self::parse(&format!("{IPTC_DST_PREFIX}{code}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for DigitalSourceType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(de_error)
    }
}

/// Whether a person was in the loop before publication (EU AI Act Art. 50(4)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HumanOversight {
    #[default]
    None,
    Reviewed,
    Edited,
}

/// The name of an issuer (the holder of a stamping token), written into statements.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct IssuerName(String);

impl IssuerName {
    pub const MAX_LEN: usize = 200;

    /// Organisation names as they are really written ("Procter & Gamble", "Acme, Inc.",
    /// "L'Oréal", "株式会社アクメ"): any printable characters, words separated by single
    /// spaces. What is refused can hide or disguise a name where it is shown: control
    /// and format characters (bidirectional overrides, zero-width characters), other
    /// white space, private-use characters and noncharacters.
    ///
    /// # Errors
    /// Unless `name` is 1 to 200 such characters with no leading, trailing or double space.
    pub fn parse(name: &str) -> Result<Self, FieldError> {
        let bad = |reason: String| Err(FieldError::new("issuer", reason));
        let chars = name.chars().count();
        if chars == 0 || chars > Self::MAX_LEN {
            return bad(format!("must be 1 to {} characters, got {chars}", Self::MAX_LEN));
        }
        if let Some(c) = name.chars().find(|&c| c != ' ' && !is_printable(c)) {
            return bad(format!(
                "must hold only printable characters (letters, digits, punctuation, symbols, spaces); U+{:04X} is not",
                u32::from(c)
            ));
        }
        if name.starts_with(' ') || name.ends_with(' ') || name.contains("  ") {
            return bad("must not start or end with a space, nor hold two in a row".into());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IssuerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for IssuerName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(de_error)
    }
}

/// Whether `c` is a visible character or a space that means one: not a control or
/// format character (bidirectional overrides, zero-width joiners, the byte-order mark),
/// not white space other than U+0020, not private-use, not a noncharacter. Without the
/// Unicode tables the standard library lacks, the format characters are listed.
pub fn is_printable(c: char) -> bool {
    let u = u32::from(c);
    let invisible = matches!(u,
        0x00AD | 0x061C | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0xE0000..=0xE007F);
    let private_use = matches!(u, 0xE000..=0xF8FF | 0xF0000..);
    let noncharacter = matches!(u, 0xFDD0..=0xFDEF) || (u & 0xFFFE) == 0xFFFE;
    c == ' ' || !(c.is_control() || c.is_whitespace() || invisible || private_use || noncharacter)
}

/// What the statement is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// SHA-256 of the exact bytes of the asset.
    pub sha256: Sha256Digest,
    /// Read back from a statement as signed ([`MediaType::recorded`]).
    #[serde(deserialize_with = "MediaType::deserialize_recorded")]
    pub media_type: MediaType,
    /// Size in bytes; absent when the issuer sent only a hash and no size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// For text: SHA-256 of the normalised text (see `normalize`; v1 in statements v1,
    /// v2 in statements v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalized_text_sha256: Option<Sha256Digest>,
    /// The ISCC Content-Code (256 bits) of an image or text the service saw (statements
    /// v2 only); absent when it saw only a hash, or content it could not fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iscc: Option<ContentCode>,
}

/// The system that generated the asset (SB 942's provider, system name and version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generator {
    pub provider: String,
    pub model: String,
    #[serde(default, deserialize_with = "not_null", skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
}

impl Generator {
    /// # Errors
    /// When a field is empty, longer than 200 characters or holds control characters.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_text("generator.provider", &self.provider, 200)?;
        check_text("generator.model", &self.model, 200)?;
        if let Some(v) = &self.model_version {
            check_text("generator.model_version", v, 200)?;
        }
        Ok(())
    }
}

/// The human-readable disclosure shown to readers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disclosure {
    pub text: String,
    /// BCP 47 language tag of `text`.
    pub lang: String,
}

impl Disclosure {
    pub const MAX_TEXT: usize = 2000;

    /// # Errors
    /// When the text is empty or too long, or `lang` is not shaped like a BCP 47 tag.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_text("disclosure.text", &self.text, Self::MAX_TEXT)?;
        let lang_ok = !self.lang.is_empty()
            && self.lang.len() <= 35
            && self.lang.split('-').all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
            && self.lang.split('-').next().is_some_and(|p| p.chars().all(|c| c.is_ascii_alphabetic()));
        if !lang_ok {
            return Err(FieldError::new("disclosure.lang", "must be a BCP 47 language tag such as en or de-CH"));
        }
        Ok(())
    }
}

/// GDPR Art. 6(1) legal bases for processing behind a recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    Consent,
    Contract,
    LegalObligation,
    VitalInterests,
    PublicTask,
    LegitimateInterests,
}

/// One factor of a recommendation and its weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Factor {
    pub name: String,
    /// The factor's relative importance in the recommendation (DSA Art. 27: the main
    /// parameters and their relative importance), from 0 (none) to 1 (all of it). The
    /// weights of an explanation need not add up to 1: it may list its main factors only.
    pub weight: f64,
}

impl Factor {
    /// The range of [`Factor::weight`].
    pub const WEIGHTS: std::ops::RangeInclusive<f64> = 0.0..=1.0;
}

/// Why an item was recommended: segments and data categories, never user identifiers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Explanation {
    /// The item recommended (a product or content identifier, not a person).
    pub item: String,
    pub factors: Vec<Factor>,
    pub data_categories: Vec<String>,
    pub legal_basis: LegalBasis,
}

impl Explanation {
    pub const MAX_FACTORS: usize = 50;
    pub const MAX_CATEGORIES: usize = 50;

    /// # Errors
    /// When a field is empty or too long, a weight is not a number from 0 to 1, or
    /// there are too many factors or categories.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_text("explanation.item", &self.item, 200)?;
        if self.factors.is_empty() || self.factors.len() > Self::MAX_FACTORS {
            return Err(FieldError::new(
                "explanation.factors",
                format!("must list 1 to {} factors", Self::MAX_FACTORS),
            ));
        }
        for (i, f) in self.factors.iter().enumerate() {
            check_text(&format!("explanation.factors[{i}].name"), &f.name, 200)?;
            if !Factor::WEIGHTS.contains(&f.weight) {
                return Err(FieldError::new(
                    format!("explanation.factors[{i}].weight"),
                    format!("must be a number from 0 to 1 (the factor's relative importance), not {}", f.weight),
                ));
            }
        }
        if self.data_categories.len() > Self::MAX_CATEGORIES {
            return Err(FieldError::new(
                "explanation.data_categories",
                format!("at most {} categories", Self::MAX_CATEGORIES),
            ));
        }
        for (i, c) in self.data_categories.iter().enumerate() {
            check_text(&format!("explanation.data_categories[{i}]"), c, 200)?;
        }
        Ok(())
    }
}

/// A statement about one AI-involved asset. This is what is signed (as JCS bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    #[serde(rename = "type")]
    pub statement_type: StatementType,
    pub subject: Subject,
    pub kind: Kind,
    pub digital_source_type: DigitalSourceType,
    pub generator: Generator,
    /// `SHA-256(salt || prompt)`; absent when no prompt was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_commitment: Option<Sha256Digest>,
    pub disclosure: Disclosure,
    pub human_oversight: HumanOversight,
    pub issuer: IssuerName,
    pub issued_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

impl Statement {
    /// The text normalisation of `subject.normalized_text_sha256`: v1 for statements v1.
    pub fn normalization(&self) -> Normalization {
        match self.statement_type {
            StatementType::V1 => Normalization::V1,
            StatementType::V2 => Normalization::V2,
        }
    }

    /// What a statement's type allows beyond what its members' own types say: a v1
    /// statement has no Content-Code.
    ///
    /// # Errors
    /// The member's path and what is wrong, for a `receipt.malformed` check.
    pub fn check_type(&self) -> Result<(), String> {
        if self.statement_type == StatementType::V1 && self.subject.iscc.is_some() {
            return Err("statement.subject.iscc: a statement of type ai-provenance/statement/v1 has no Content-Code \
                        (subject.iscc came with ai-provenance/statement/v2)"
                .into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_statement_types_parse_and_v1_has_no_content_code() {
        assert_eq!(serde_json::to_value(STATEMENT_TYPE).unwrap(), "ai-provenance/statement/v2");
        let v1: StatementType = serde_json::from_value("ai-provenance/statement/v1".into()).unwrap();
        assert_eq!(v1, StatementType::V1);
        for other in ["ai-provenance/statement/v3", "ai-provenance/statement", ""] {
            assert!(serde_json::from_value::<StatementType>(other.into()).is_err(), "{other}");
        }
    }

    #[test]
    fn default_source_types_are_in_the_vocabulary() {
        for kind in
            [Kind::MarketingCopy, Kind::Image, Kind::Video, Kind::Audio, Kind::RecommendationExplanation, Kind::Other]
        {
            let dst = kind.default_digital_source_type();
            assert_eq!(DigitalSourceType::parse(dst.as_str()).unwrap(), dst, "{kind:?}");
        }
    }

    #[test]
    fn rejects_unknown_source_types() {
        assert!(DigitalSourceType::parse("http://cv.iptc.org/newscodes/digitalsourcetype/madeUp").is_err());
        assert!(DigitalSourceType::parse("trainedAlgorithmicMedia").is_err());
    }

    #[test]
    fn issuer_names_are_real_organisation_names() {
        for ok in [
            "Acme Marketing-EU",
            "Procter & Gamble",
            "Acme, Inc.",
            "L'Oréal",
            "AT&T",
            "Ben & Jerry's",
            "Müller + Söhne GmbH",
            "株式会社アクメ",
            "Société Générale (France)",
            "Yahoo!",
            "x+y",
            "A",
            &"a".repeat(IssuerName::MAX_LEN),
        ] {
            assert_eq!(IssuerName::parse(ok).map(|n| n.to_string()), Ok(ok.to_owned()), "{ok:?}");
        }
        for bad in [
            "",
            " lead",
            "trail ",
            "two  spaces",
            "a\nb",
            "tab\there",
            "no\u{a0}break",
            "bidi\u{202e}evil",
            "zero\u{200b}width",
            "bom\u{feff}",
            "private\u{e000}",
            "non\u{fffe}char",
            "nul\u{0}",
            &"a".repeat(IssuerName::MAX_LEN + 1),
        ] {
            assert!(IssuerName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn field_errors_in_lists_carry_the_index() {
        let mut e = Explanation {
            item: "sku-1".into(),
            factors: vec![Factor { name: "a".into(), weight: 1.0 }, Factor { name: "b".into(), weight: f64::NAN }],
            data_categories: vec!["ok".into()],
            legal_basis: LegalBasis::Consent,
        };
        assert_eq!(e.validate().unwrap_err().field, "explanation.factors[1].weight");
        e.factors[1].weight = 0.5;
        e.data_categories.push(" ".into());
        assert_eq!(e.validate().unwrap_err().field, "explanation.data_categories[1]");
    }

    #[test]
    fn factor_weights_are_relative_importance_from_0_to_1() {
        let with = |weight| Explanation {
            item: "sku-1".into(),
            factors: vec![Factor { name: "viewed similar items".into(), weight }],
            data_categories: vec![],
            legal_basis: LegalBasis::Consent,
        };
        for ok in [0.0, -0.0, 0.6, 1.0] {
            assert_eq!(with(ok).validate(), Ok(()), "{ok}");
        }
        for bad in [-835_268.0, -0.01, 1.000_001, 1e6, f64::NAN, f64::INFINITY] {
            let e = with(bad).validate().unwrap_err();
            assert_eq!(e.field, "explanation.factors[0].weight", "{bad}");
            assert!(e.reason.contains("from 0 to 1"), "{e}");
        }
    }

    #[test]
    fn an_unknown_source_type_lists_the_codes() {
        let e = DigitalSourceType::parse(&format!("{IPTC_DST_PREFIX}madeUp")).unwrap_err();
        for code in IPTC_DST_CODES {
            assert!(e.reason.contains(code), "{code} missing from {e}");
        }
    }

    #[test]
    fn timestamp_round_trips_through_text() {
        let t = Timestamp::now();
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.ends_with("Z\""), "{json}");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }

    #[test]
    fn disclosure_language_tags() {
        let ok = |lang: &str| Disclosure { text: "AI-generated".into(), lang: lang.into() }.validate().is_ok();
        assert!(ok("en") && ok("de-CH") && ok("zh-Hant-TW"));
        assert!(!ok("") && !ok("12") && !ok("en_US") && !ok("en--x"));
    }

    #[test]
    fn text_checks() {
        assert!(check_text("f", "  ", 10).is_err());
        assert!(check_text("f", "abc\u{7}", 10).is_err());
        assert!(check_text("f", &"é".repeat(11), 10).is_err());
        assert!(check_text("f", &"é".repeat(10), 10).is_ok());
    }
}
