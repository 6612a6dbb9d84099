//! Content Credentials for unstructured text (docs/contract.md §8.1): the manifest store
//! rides at the end of the text in a `C2PATextManifestWrapper`, as the C2PA
//! specification (2.3, "Embedding manifests into unstructured text") defines it, written
//! and read with the `c2pa-text` crate (C2PA's reference implementation of the wrapper).
//!
//! # The wrapper and the hard binding
//! - The text is put in Unicode Normalization Form C first ([`nfc`]): the specification
//!   binds the NFC text, and the service stamps exactly those bytes, so the statement's
//!   `subject.sha256` and the manifest's data hash are one and the same digest.
//! - The wrapper follows the visible text: U+FEFF, then one variation selector per byte
//!   of `C2PATXT\0`, the version (1), the manifest's length (4 bytes, big-endian) and the
//!   manifest store (JUMBF). It is padded to the specification's deterministic length,
//!   `3 + (13 + M) * 4 + 6` UTF-8 bytes for a manifest of `M` bytes, so that its byte
//!   length depends on the manifest's size alone.
//! - The hard binding is a `c2pa.hash.data` over the UTF-8 bytes of the whole text with
//!   one exclusion: the wrapper's byte range. The range is signed inside the manifest it
//!   carries, so the manifest is signed until its size settles (twice in practice: the
//!   exclusion's length changes the manifest's size by at most a few CBOR bytes).
//!
//! The C2PA SDK this service builds with (the `c2pa` crate 0.90) has no handler for
//! `text/plain`: the manifest is signed as a detached store and placed in the wrapper
//! here; [`read`] takes the store out of the wrapper and has the SDK validate it against
//! the whole text, exclusion and all.

use std::io::Cursor;

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use super::{builder, credential_of, Asset, Credential, ManifestSigner, ReadError, StampLink, C2PA_MEDIA_TYPE};
use crate::keys::SecretKey;
use crate::statement::Statement;

/// The media type a credentialed text is read as.
pub(crate) const TEXT_MEDIA_TYPE: &str = "text/plain";

/// `text` in Unicode Normalization Form C, the form a text credential binds.
pub(crate) fn nfc(text: &str) -> String {
    text.nfc().collect()
}

/// A text that carries a C2PA text wrapper: the manifest store, and the text a reader
/// sees (the wrapper removed, NFC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wrapped {
    pub manifest: Vec<u8>,
    pub visible: String,
}

/// Why a text's wrapper cannot be taken out: the registered C2PA status code
/// (`manifest.text.multipleWrappers`, `manifest.text.corruptedWrapper`) and what it means.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub(crate) struct WrapperError {
    pub code: &'static str,
    pub message: String,
}

/// The C2PA text wrapper of `text`, if it has one. Cheap for text without one: the scan
/// starts only at a U+FEFF.
///
/// # Errors
/// When the text carries more than one wrapper, which the specification does not allow,
/// or a wrapper cut short or damaged (a header whose manifest is not all there).
pub(crate) fn unwrap(text: &str) -> Result<Option<Wrapped>, WrapperError> {
    if !text.contains('\u{feff}') {
        return Ok(None);
    }
    let found = c2pa_text::extract_manifest(text).map_err(|e| WrapperError {
        code: c2pa_text::ValidationCode::MultipleWrappers.as_str(),
        message: format!("the text carries more than one C2PA text wrapper ({e})"),
    })?;
    if let Some(manifest) = found.manifest {
        return Ok(Some(Wrapped { manifest, visible: found.clean_text }));
    }
    // A header without the manifest it announces: say so, rather than "no credentials".
    let checked = c2pa_text::validate_text(text);
    match checked.issues.into_iter().next() {
        Some(issue) if !checked.valid => Err(WrapperError {
            code: issue.code.as_str(),
            message: format!("the text's C2PA text wrapper is damaged or cut short ({})", issue.message),
        }),
        _ => Ok(None),
    }
}

/// `text` (NFC, without a wrapper) followed by the wrapper of a manifest for the stamp
/// of `statement` that `link` describes, signed with `key` under its leaf certificate
/// `leaf`.
///
/// # Errors
/// When the SDK cannot build or sign the manifest, or its size does not settle.
pub(crate) fn embed(
    text: &str,
    statement: &Statement,
    link: &StampLink,
    key: &SecretKey,
    leaf: &[u8],
) -> Result<String, c2pa::Error> {
    debug_assert_eq!(text, nfc(text), "text credentials bind the NFC text");
    let start = text.len();
    let digest = Sha256::digest(text.as_bytes()).to_vec();
    let signer = ManifestSigner::compact(key, leaf);
    let sign = |wrapper_len: usize| -> Result<Vec<u8>, c2pa::Error> {
        let mut builder = builder(statement, link)?;
        let mut hash = c2pa::assertions::DataHash::new("jumbf manifest", "sha256");
        hash.add_exclusion(c2pa::HashRange::new(start as u64, wrapper_len as u64));
        hash.set_hash(digest.clone());
        builder.add_assertion(c2pa::assertions::DataHash::LABEL, &hash)?;
        builder.sign_data_hashed_embeddable(&signer, &hash, C2PA_MEDIA_TYPE)
    };
    // The exclusion names the wrapper's length, which follows from the manifest's size,
    // which the exclusion's CBOR encoding changes: sign until the two agree.
    let mut wrapper_len = c2pa_text::worst_case_wrapper_byte_length(sign(0)?.len());
    for _ in 0..4 {
        let manifest = sign(wrapper_len)?;
        let needed = c2pa_text::worst_case_wrapper_byte_length(manifest.len());
        if needed == wrapper_len {
            let wrapper = c2pa_text::encode_wrapper_padded(&manifest, wrapper_len)
                .map_err(|e| c2pa::Error::BadParam(format!("the text wrapper: {e}")))?;
            return Ok(format!("{text}{wrapper}"));
        }
        wrapper_len = needed;
    }
    Err(c2pa::Error::BadParam("the text manifest's size did not settle".into()))
}

/// Reads and validates the C2PA manifest of `text`, trusting the root certificates
/// `trust_roots` (DER). `Ok(None)` when the text carries no C2PA text wrapper.
///
/// # Errors
/// [`ReadError`] when there is a wrapper whose manifest cannot be read.
pub(crate) fn read(text: &str, trust_roots: &[Vec<u8>]) -> Result<Option<Credential>, ReadError> {
    let wrapped = match unwrap(text) {
        Ok(Some(w)) => w,
        Ok(None) => return Ok(None),
        Err(e) => return Err(ReadError { code: e.code.into(), message: e.message }),
    };
    let context = super::context(trust_roots)
        .map_err(|e| ReadError { code: "manifest.unreadable".into(), message: e.to_string() })?;
    let reader = c2pa::Reader::from_context(context).with_manifest_data_and_stream(
        &wrapped.manifest,
        TEXT_MEDIA_TYPE,
        Cursor::new(text.as_bytes()),
    );
    credential_of(reader, Asset::Text).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::tests::{ring_and_certs, statement_of_text};

    const TEXT: &str =
        "Meet the Trailblazer 3: the lightest running shoe we have ever made. Caf\u{65}\u{301} owners love it.";

    #[test]
    fn a_credentialed_text_is_the_nfc_text_then_a_padded_wrapper_that_validates_and_an_edit_does_not() {
        let (_dir, ring, certs) = ring_and_certs();
        let leaf = certs.leaf(ring.statement_key().kid()).unwrap();
        let text = nfc(TEXT);
        assert_ne!(text, TEXT, "the sample has a decomposed é");
        let statement = statement_of_text(&text);
        let link = StampLink::new(&statement, &"ab".repeat(32), 3, "test.example/log", "https://example.test");
        let credentialed = embed(&text, &statement, &link, ring.statement_key(), leaf).unwrap();

        assert!(credentialed.starts_with(&text));
        let wrapper = &credentialed[text.len()..];
        let wrapped = unwrap(&credentialed).unwrap().expect("a wrapper");
        assert_eq!(wrapped.visible, text);
        assert_eq!(wrapper.len(), c2pa_text::worst_case_wrapper_byte_length(wrapped.manifest.len()), "deterministic");
        assert!(wrapper.starts_with('\u{feff}'));

        let roots = [certs.root_der().to_vec()];
        let credential = read(&credentialed, &roots).unwrap().expect("a manifest");
        assert!(credential.trusted(), "{:?}", credential.statuses);
        assert!(credential.statuses.iter().all(|s| s.passed), "{:?}", credential.statuses);
        assert!(credential.statuses.iter().any(|s| s.code == "assertion.dataHash.match"), "{:?}", credential.statuses);
        assert_eq!(credential.link.unwrap().unwrap(), link);
        assert_eq!(credential.asset, Asset::Text);

        // One word changed: the hard binding fails, the manifest still names the stamp.
        let edited = credentialed.replacen("lightest", "lighter", 1);
        let credential = read(&edited, &roots).unwrap().expect("a manifest");
        assert!(
            credential.statuses.iter().any(|s| !s.passed && s.code == "assertion.dataHash.mismatch"),
            "{:?}",
            credential.statuses
        );
        assert_eq!(credential.link.unwrap().unwrap(), link);

        // Without the wrapper there is nothing to read; with two, it is refused.
        assert!(read(&text, &roots).unwrap().is_none());
        let twice = format!("{credentialed}{wrapper}");
        assert_eq!(read(&twice, &roots).unwrap_err().code, "manifest.text.multipleWrappers");
    }

    #[test]
    fn text_without_a_wrapper_is_not_scanned_and_a_lone_byte_order_mark_is_no_wrapper() {
        assert_eq!(unwrap("plain text").unwrap(), None);
        assert_eq!(unwrap("\u{feff}a byte-order mark, then text \u{263a}\u{fe0f}").unwrap(), None);
        // A wrapper whose end was cut off is named as such.
        let cut: String = format!("text{}", c2pa_text::encode_wrapper(&[7; 40])).chars().take(30).collect();
        assert_eq!(unwrap(&cut).unwrap_err().code, "manifest.text.corruptedWrapper");
    }
}
