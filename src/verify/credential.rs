//! Checks of the Content Credentials of an image or a text (docs/contract.md §2.8 and §8): the C2PA
//! validation statuses under their own codes (name `c2pa`), whose manifest it is (name
//! `credential`), and, for a manifest of this service, the content check that replaces
//! the hash comparison (`content.credential.*`): the asset's bytes are not the bytes
//! stamped (a manifest was added), they are bound to the stamp by the manifest.

use super::Check;
use crate::credentials::{Asset, Credential, ReadError, StampLink};
use crate::fingerprint::ISCC_ALG;
use crate::keys::KeyPurpose;
use crate::statement::receipt::Receipt;
use crate::verify::TrustAnchors;

/// The C2PA statuses of the active manifest as checks named `c2pa`, one per distinct
/// code and outcome, in the SDK's order (a code seen several times, such as
/// `assertion.hashedURI.match`, says how often).
pub fn c2pa_checks(credential: &Credential) -> Vec<Check> {
    let mut out: Vec<(Check, usize)> = Vec::new();
    for status in &credential.statuses {
        if let Some((_, n)) = out.iter_mut().find(|(c, _)| c.code == status.code && c.passed == status.passed) {
            *n += 1;
            continue;
        }
        let message = match (plain_words(credential.asset, &status.code, status.passed), &status.explanation) {
            (Some(plain), Some(e)) => format!("{plain} (C2PA: {e}.)"),
            (Some(plain), None) => plain.to_owned(),
            (None, Some(e)) => format!("C2PA: {e}."),
            (None, None) => format!("C2PA status {}.", status.code),
        };
        out.push((Check::new("c2pa", status.passed, &status.code, message), 1));
    }
    out.into_iter()
        .map(|(mut c, n)| {
            if n > 1 {
                c.message = format!("{} ({n} times)", c.message);
            }
            c
        })
        .collect()
}

/// What a failed C2PA status means to a reader, for the failures an edited file shows;
/// the SDK's own explanation follows in brackets.
fn plain_words(asset: Asset, code: &str, passed: bool) -> Option<&'static str> {
    if passed {
        return None;
    }
    Some(match (code, asset) {
        (
            "assertion.dataHash.mismatch" | "assertion.boxesHash.mismatch" | "assertion.bmffHash.mismatch",
            Asset::Image,
        ) => {
            "The file's bytes changed after its Content Credentials were signed: it was re-encoded, resized, \
             cropped or edited, so the credentials describe the file as it was, not this one."
        }
        ("assertion.dataHash.mismatch", Asset::Text) => {
            "The text changed after its Content Credentials were signed: words or characters were edited, added or \
             removed, so the credentials describe the text as it was, not this one."
        }
        ("claimSignature.mismatch", _) => {
            "The credentials' signature does not match them: they were altered after signing."
        }
        ("assertion.hashedURI.mismatch", _) => "A part of the credentials was changed after they were signed.",
        _ => return None,
    })
}

/// The single `c2pa` check of an asset whose manifest could not be read at all.
pub fn unreadable_check(asset: Asset, error: &ReadError) -> Check {
    let why = match asset {
        Asset::Image => "The file is damaged or truncated.",
        Asset::Text => "The text was cut short or its invisible credentials were damaged when it was copied.",
    };
    Check::new(
        "c2pa",
        false,
        &error.code,
        format!("The {}'s C2PA manifest cannot be read: {}. {why}", asset.noun(), error.message),
    )
}

/// `credential`: whose manifest this is. Passes only for a manifest signed by one of
/// this service's published statement keys under a certificate of its trusted root,
/// carrying a link to a stamp; returns that link then.
pub fn credential_check(credential: &Credential, trust: &TrustAnchors) -> (Check, Option<StampLink>) {
    let ours = credential.signer_ed25519.is_some_and(|key| {
        trust
            .keys
            .iter()
            .any(|k| k.purpose == KeyPurpose::Statement && trust.verifying_key(k).is_some_and(|v| v.as_bytes() == &key))
    });
    let signer = credential.signer();
    match (&credential.link, ours && credential.trusted()) {
        (Some(Ok(link)), true) => (
            Check::new(
                "credential",
                true,
                "credential.linked",
                format!(
                    "The {} carries Content Credentials signed with this service's statement key under its C2PA \
                     root, linking stamp {} (log index {}).{}",
                    credential.asset.noun(),
                    link.stamp_id,
                    link.log_index,
                    credential.soft_binding.map_or(String::new(), |code| format!(
                        " Its soft binding ({ISCC_ALG}) is {code}: the stamp is found by it once the credentials are \
                         stripped."
                    ))
                ),
            ),
            Some(link.clone()),
        ),
        (Some(Err(e)), true) => (
            Check::new(
                "credential",
                false,
                "credential.link.malformed",
                format!("The manifest is this service's, but its stamp link does not parse: {e}."),
            ),
            None,
        ),
        _ => {
            let validity = match credential.state {
                c2pa::ValidationState::Trusted => "valid, and signed under a trusted certificate".to_owned(),
                c2pa::ValidationState::Valid => {
                    "valid, but signed under a certificate this service does not trust".to_owned()
                }
                c2pa::ValidationState::Invalid => {
                    let failed: Vec<&str> =
                        credential.statuses.iter().filter(|s| !s.passed).map(|s| s.code.as_str()).collect();
                    format!("not valid ({})", failed.join(", "))
                }
            };
            let generator =
                credential.claim_generator.as_deref().map(|g| format!(", made with {g}")).unwrap_or_default();
            (
                Check::new(
                    "credential",
                    false,
                    "credential.other_issuer",
                    format!(
                        "The {} carries Content Credentials from {signer}{generator}: {validity}. They are not a \
                         stamp of this service.",
                        credential.asset.noun()
                    ),
                ),
                None,
            )
        }
    }
}

/// `credential` when the linked stamp is not in this log.
pub fn stamp_unknown_check(link: &StampLink) -> Check {
    Check::new(
        "credential",
        false,
        "credential.stamp.unknown",
        format!("The manifest links stamp {}, which is not in this log.", link.stamp_id),
    )
}

/// `content` for a credentialed image or text: its bytes are bound by the manifest's
/// hard binding (`assertion.dataHash.match`, no C2PA failure), and the manifest links
/// this receipt's stamp, made for the image as uploaded or the text as credentialed.
pub fn content_check(credential: &Credential, link: &StampLink, receipt: &Receipt) -> Check {
    let bound = credential.statuses.iter().any(|s| s.passed && s.code == "assertion.dataHash.match")
        && credential.statuses.iter().all(|s| s.passed);
    let same_stamp = link.stamp_id == receipt.id.to_string()
        && link.subject_sha256 == receipt.statement.subject.sha256.to_hex()
        && link.log_index == receipt.log.index.0;
    let noun = credential.asset.noun();
    match (bound, same_stamp) {
        (true, true) => Check::new(
            "content",
            true,
            "content.credential.match",
            match credential.asset {
                Asset::Image => {
                    "The image is the one stamped, with its Content Credentials added: every byte but the \
                                 manifest is bound by the manifest's data hash, and the manifest names this stamp."
                }
                Asset::Text => {
                    "The text is the one stamped, with its Content Credentials added as invisible \
                                characters at its end: every other byte is bound by the manifest's data hash, and the \
                                manifest names this stamp."
                }
            },
        ),
        (_, false) => Check::new(
            "content",
            false,
            "content.credential.mismatch",
            "The manifest's stamp link does not match this stamp.",
        ),
        (false, true) => Check::new(
            "content",
            false,
            "content.credential.mismatch",
            format!(
                "The {noun} was changed after its Content Credentials were added: the manifest's hard binding fails."
            ),
        ),
    }
}

/// Puts the credential's content check where a verdict has its `content` check: after
/// `key` and `signature` (receipt checks made without content).
pub fn with_content(mut receipt_checks: Vec<Check>, content: Check) -> Vec<Check> {
    let at =
        receipt_checks.iter().position(|c| c.name != "key" && c.name != "signature").unwrap_or(receipt_checks.len());
    receipt_checks.insert(at, content);
    receipt_checks
}
