//! Content Credentials: C2PA manifests embedded in images (docs/contract.md §8).
//!
//! [`embed`] writes a copy of an image carrying a manifest signed with the statement key
//! under the service's own X.509 chain (`keys::certs`); [`read`] validates the manifest
//! of an image with the C2PA SDK (the `c2pa` crate, no network: no remote manifests, no
//! OCSP, no time-stamp authority) and says what it links to.
//!
//! # The manifest
//! - `c2pa.actions` (C2PA's own label; version 2 of the assertion): one action,
//!   `c2pa.created`, with `digitalSourceType` the stamp's IPTC digital source type URI,
//!   `softwareAgent` the generator (`name` "provider model", `version` the model version)
//!   and `description` the disclosure text, `when` the stamp's `issued_at`.
//! - [`LINK_LABEL`] (`org.ai-provenance.stamp`, a namespaced assertion, JSON): the link to
//!   the stamp ([`StampLink`]): its id, log index and origin, the verify and receipt URLs,
//!   the SHA-256 of the image as uploaded (the statement's `subject.sha256`), the issuer,
//!   the time, the disclosure and the human-oversight level. C2PA has no assertion of its
//!   own for a disclosure text or for human oversight, hence a namespaced one.
//! - `c2pa.soft-binding` (C2PA's, CBOR), when the statement has a Content-Code
//!   (`subject.iscc`): the soft binding `io.iscc.v0` that finds the stamp again once the
//!   manifest is stripped or the image re-encoded ([`SoftBinding`]). As the C2PA
//!   specification (2.2, §18.10, `soft-binding-map`) and IEP-0020 (Table 1) ask: `alg`
//!   `io.iscc.v0`; one block whose `scope` is empty (the whole asset) and whose `value` is
//!   a CBOR *byte string* holding the ISCC-SEQ of the Content-Code (its 34 bytes: header
//!   and 256-bit body), the same bytes that `/sbr/v1/matches/byBinding` takes in base64;
//!   `pad` an empty byte string (required by the 2.2 CDDL, optional since); `name`; no
//!   `alg-params` (IEP-0020 forbids them) and no `bindingMetadata` (not in the 2.2 CDDL).
//!   The c2pa crate's own `c2pa::assertions::SoftBinding` types `value` as a text string,
//!   which neither the CDDL nor IEP-0020 allow and which could not hold the ISCC-SEQ as
//!   bytes: the assertion is therefore written with a type of our own. The SDK reads any
//!   `c2pa.soft-binding` as opaque CBOR, so its validation is unaffected (its JSON view
//!   shows the byte string as an array of numbers). No Instance-Code is included
//!   (IEP-0020 "should"): the service keeps only the SHA-256 of what it stamped.
//! - `c2pa.hash.data`: the hard binding the SDK computes over every byte of the file but
//!   the manifest's own.
//! - The claim generator is `ai-provenance` and this crate's version.
//!
//! [`detached`] makes the same manifest for a stamped image the service never kept, as a
//! manifest store of its own (a sidecar, `application/c2pa`, for `GET
//! /sbr/v1/manifests/{id}`): its hard binding is a `c2pa.hash.data` over the whole asset,
//! without exclusions, whose hash is the statement's `subject.sha256`.
//!
//! [`text`] puts the same manifest into unstructured text, in C2PA's text wrapper.
//!
//! The prompt never enters the manifest, nor its commitment.

pub(crate) mod text;

use std::io::{Read, Seek, Write};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::fingerprint::seq::encode_seq;
use crate::fingerprint::{CodeKind, ContentCode, ISCC_ALG};
use crate::keys::{to_pem, SecretKey};
use crate::statement::{Disclosure, HumanOversight, Statement};

/// The label of the namespaced assertion that links a manifest to its stamp.
pub(crate) const LINK_LABEL: &str = "org.ai-provenance.stamp";

/// C2PA's label of the soft binding assertion.
pub(crate) const SOFT_BINDING_LABEL: &str = "c2pa.soft-binding";

/// The `c2pa.soft-binding` assertion of an `io.iscc.v0` binding (see the module docs):
/// C2PA's `soft-binding-map` with one block over the whole asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SoftBinding {
    alg: &'static str,
    blocks: [SoftBindingBlock; 1],
    /// Zero-filled padding: empty, as the SDK computes sizes in one pass.
    #[serde(serialize_with = "cbor_bytes")]
    pad: Vec<u8>,
    name: &'static str,
}

/// C2PA's `soft-binding-block-map`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct SoftBindingBlock {
    scope: WholeAsset,
    /// The ISCC-SEQ, a CBOR byte string (major type 2) as IEP-0020 requires.
    #[serde(serialize_with = "cbor_bytes")]
    value: Vec<u8>,
}

/// An empty `soft-binding-scope-map`: the value covers the whole asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct WholeAsset {}

/// Serialises as a byte string (CBOR major type 2), not as an array of integers.
fn cbor_bytes<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes)
}

impl SoftBinding {
    /// The `io.iscc.v0` binding of one Content-Code.
    pub(crate) fn iscc(code: &ContentCode) -> Self {
        let name = match code.kind() {
            CodeKind::Image => "ISCC Content-Code (image) of the asset as stamped",
            CodeKind::Text => "ISCC Content-Code (text) of the asset as stamped",
        };
        Self {
            alg: ISCC_ALG,
            blocks: [SoftBindingBlock { scope: WholeAsset {}, value: encode_seq(&[*code]) }],
            pad: Vec::new(),
            name,
        }
    }
}

/// The image formats credentials are made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
}

impl ImageFormat {
    /// The format a media type names (`image/jpeg`, `image/png`, `image/webp`), ignoring
    /// parameters and case.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        let essence = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "image/jpeg" | "image/jpg" => Some(Self::Jpeg),
            "image/png" => Some(Self::Png),
            "image/webp" => Some(Self::Webp),
            _ => None,
        }
    }

    /// The format the first bytes of a file announce (its magic number).
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else {
            None
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }
}

/// The namespaced assertion [`LINK_LABEL`]: what a manifest says about its stamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StampLink {
    /// The stamp id (hex leaf hash).
    pub stamp_id: String,
    pub log_index: u64,
    /// The log's origin line.
    pub log_origin: String,
    /// The verify page for the stamp (`<public URL>/verify#id=<id>`).
    pub verify_url: String,
    /// The public receipt (`<public URL>/v1/stamps/<id>`).
    pub receipt_url: String,
    /// SHA-256 (hex) of the image as it was uploaded: the statement's `subject.sha256`.
    pub subject_sha256: String,
    pub issuer: String,
    pub issued_at: String,
    pub disclosure: Disclosure,
    pub human_oversight: HumanOversight,
}

impl StampLink {
    /// The link for a stamp of `statement` at `log_index`, published under `public_url`.
    pub fn new(statement: &Statement, stamp_id: &str, log_index: u64, log_origin: &str, public_url: &str) -> Self {
        let base = public_url.trim_end_matches('/');
        Self {
            stamp_id: stamp_id.to_owned(),
            log_index,
            log_origin: log_origin.to_owned(),
            verify_url: format!("{base}/verify#id={stamp_id}"),
            receipt_url: format!("{base}/v1/stamps/{stamp_id}"),
            subject_sha256: statement.subject.sha256.to_hex(),
            issuer: statement.issuer.to_string(),
            issued_at: statement.issued_at.to_rfc3339(),
            disclosure: statement.disclosure.clone(),
            human_oversight: statement.human_oversight,
        }
    }
}

/// Why an image could not be given credentials.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EmbedError {
    /// The image cannot be parsed as its format: the client's fault.
    #[error("the body is not a valid {format} image: {reason}")]
    Image { format: &'static str, reason: String },
    /// Anything else: ours.
    #[error("signing the C2PA manifest failed: {0}")]
    Internal(String),
}

/// Signs C2PA claims with a statement key, presenting its leaf certificate.
struct ManifestSigner<'a> {
    key: &'a SecretKey,
    leaf: &'a [u8],
    /// Room for the COSE signature beyond the certificate.
    spare: usize,
}

impl<'a> ManifestSigner<'a> {
    /// For manifests in files, where a few kilobytes of room cost nothing.
    fn new(key: &'a SecretKey, leaf: &'a [u8]) -> Self {
        Self { key, leaf, spare: 2048 }
    }

    /// For manifests carried in text, where every byte of room becomes four bytes of
    /// invisible characters: the COSE headers and the Ed25519 signature take under 100
    /// bytes besides the certificate (no time stamp is asked for).
    fn compact(key: &'a SecretKey, leaf: &'a [u8]) -> Self {
        Self { key, leaf, spare: 512 }
    }
}

impl c2pa::Signer for ManifestSigner<'_> {
    fn sign(&self, data: &[u8]) -> c2pa::Result<Vec<u8>> {
        Ok(self.key.sign(data).to_bytes().to_vec())
    }

    fn alg(&self) -> c2pa::SigningAlg {
        c2pa::SigningAlg::Ed25519
    }

    fn certs(&self) -> c2pa::Result<Vec<Vec<u8>>> {
        // The leaf alone: a validator finds the root among its trust anchors.
        Ok(vec![self.leaf.to_vec()])
    }

    fn reserve_size(&self) -> usize {
        // COSE headers, the signature and the certificate, with room to spare.
        self.spare + self.leaf.len()
    }
}

/// The SDK's settings for this service: nothing is fetched from the network, ever.
fn context(trust_roots: &[Vec<u8>]) -> Result<c2pa::Context, c2pa::Error> {
    let anchors: String = trust_roots.iter().map(|der| to_pem(der)).collect();
    let mut settings = json!({
        "verify": {
            "verify_after_reading": true,
            "verify_after_sign": false,
            "verify_trust": true,
            "ocsp_fetch": false,
            "remote_manifest_fetch": false
        },
        "core": { "allowed_network_hosts": [] },
        // Thumbnails would need the SDK's image feature (not built: see Cargo.toml).
        "builder": { "thumbnail": { "enabled": false } }
    });
    if !anchors.is_empty() {
        settings["trust"] = json!({ "user_anchors": anchors });
    }
    c2pa::Context::new().with_settings(settings)
}

/// The manifest definition of a stamp: see the module docs.
fn definition(statement: &Statement, link: &StampLink) -> serde_json::Value {
    let generator = &statement.generator;
    let mut agent = json!({ "name": format!("{} {}", generator.provider, generator.model) });
    if let Some(version) = &generator.model_version {
        agent["version"] = json!(version);
    }
    json!({
        "claim_generator_info": [{ "name": "ai-provenance", "version": env!("CARGO_PKG_VERSION") }],
        "title": format!("AI-generated {}, stamp {}", statement.kind.as_str().replace('_', " "), link.stamp_id),
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": { "actions": [{
                    "action": "c2pa.created",
                    "digitalSourceType": statement.digital_source_type.as_str(),
                    "softwareAgent": agent,
                    "description": statement.disclosure.text,
                    "when": link.issued_at,
                }]}
            },
            { "label": LINK_LABEL, "data": link }
        ]
    })
}

/// The builder of a stamp's manifest: the definition, and the soft binding when the
/// statement has a Content-Code.
fn builder(statement: &Statement, link: &StampLink) -> Result<c2pa::Builder, c2pa::Error> {
    let mut builder = c2pa::Builder::from_context(context(&[])?).with_definition(definition(statement, link))?;
    if let Some(code) = &statement.subject.iscc {
        builder.add_assertion(SOFT_BINDING_LABEL, &SoftBinding::iscc(code))?;
    }
    Ok(builder)
}

/// Writes `source` (an image of `format`) to `dest` with a manifest for the stamp of
/// `statement` that `link` describes, signed with `key` under its leaf certificate `leaf`.
///
/// # Errors
/// [`EmbedError::Image`] when the image does not parse; [`EmbedError::Internal`] otherwise.
pub(crate) fn embed<R, W>(
    format: ImageFormat,
    source: &mut R,
    dest: &mut W,
    statement: &Statement,
    link: &StampLink,
    key: &SecretKey,
    leaf: &[u8],
) -> Result<(), EmbedError>
where
    R: Read + Seek + Send,
    W: Write + Read + Seek + Send,
{
    let internal = |e: c2pa::Error| EmbedError::Internal(e.to_string());
    let mut builder = builder(statement, link).map_err(internal)?;
    let signer = ManifestSigner::new(key, leaf);
    builder.sign(&signer, format.media_type(), source, dest).map(drop).map_err(|e| match e {
        // Ours: signing and serialising the claim.
        c2pa::Error::CoseSignature | c2pa::Error::JsonError(_) | c2pa::Error::AssertionEncoding(_) => internal(e),
        // Everything else is about the asset the SDK could not parse or write into.
        other => EmbedError::Image { format: format.media_type(), reason: other.to_string() },
    })
}

/// The media type of a detached C2PA manifest store (a sidecar, `.c2pa`).
pub(crate) const C2PA_MEDIA_TYPE: &str = "application/c2pa";

/// A detached manifest store (a sidecar) for the stamped asset of `statement`, whose
/// bytes the service never kept: the same assertions as an embedded manifest, and a hard
/// binding `c2pa.hash.data` over the whole asset, no exclusions, whose hash is the
/// statement's `subject.sha256`. Signed with `key` under its leaf certificate `leaf`.
/// A validator checks it against the asset with the store beside it
/// (`Reader::with_manifest_data_and_stream`).
///
/// # Errors
/// When the SDK cannot build or sign the manifest.
pub(crate) fn detached(
    statement: &Statement,
    link: &StampLink,
    key: &SecretKey,
    leaf: &[u8],
) -> Result<Vec<u8>, c2pa::Error> {
    // A v2 claim names no format, so nothing says "image/png" but the validator's call.
    let mut builder = builder(statement, link)?;
    let mut hash = c2pa::assertions::DataHash::new("jumbf manifest", "sha256");
    hash.set_hash(statement.subject.sha256.as_bytes().to_vec());
    builder.add_assertion(c2pa::assertions::DataHash::LABEL, &hash)?;
    let signer = ManifestSigner::new(key, leaf);
    builder.sign_data_hashed_embeddable(&signer, &hash, C2PA_MEDIA_TYPE)
}

/// One C2PA validation status of the active manifest, as the SDK reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The C2PA status code (`claimSignature.validated`, `assertion.dataHash.mismatch`, ...).
    pub code: String,
    /// Success or informational (`true`), or failure (`false`).
    pub passed: bool,
    pub explanation: Option<String>,
}

/// What carries a manifest: the words a verdict uses for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    Image,
    Text,
}

impl Asset {
    /// "image" or "text", for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Text => "text",
        }
    }
}

/// The validated manifest of an image or a text.
#[derive(Debug, Clone)]
pub struct Credential {
    /// What carries it.
    pub asset: Asset,
    /// The active manifest's statuses, in the SDK's order (successes, informational, failures).
    pub statuses: Vec<Status>,
    /// `Trusted`, `Valid` or `Invalid`, as the SDK sums the statuses up.
    pub state: c2pa::ValidationState,
    /// The signer's organisation and common name, from its certificate.
    pub signer_organisation: Option<String>,
    pub signer_name: Option<String>,
    /// The raw Ed25519 public key of the signing certificate, when it is one.
    pub signer_ed25519: Option<[u8; 32]>,
    /// The claim generator (software) named in the manifest.
    pub claim_generator: Option<String>,
    /// The link to a stamp, when the manifest has one.
    pub link: Option<Result<StampLink, String>>,
    /// The Content-Code of its `io.iscc.v0` soft binding, when it has one that parses.
    pub soft_binding: Option<ContentCode>,
}

impl Credential {
    /// Whether the signing certificate chains to one of the trust roots given to [`read`].
    pub fn trusted(&self) -> bool {
        self.statuses.iter().any(|s| s.code == "signingCredential.trusted")
    }

    /// Who signed, for people: organisation and name from the certificate.
    pub fn signer(&self) -> String {
        match (&self.signer_organisation, &self.signer_name) {
            (Some(o), Some(n)) if o != n => format!("{o} ({n})"),
            (Some(o), _) => o.clone(),
            (None, Some(n)) => n.clone(),
            (None, None) => "an unnamed signer".into(),
        }
    }
}

/// Why an image's manifest could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ReadError {
    /// A C2PA status code when the SDK maps the failure to one, else `manifest.unreadable`.
    pub code: String,
    pub message: String,
}

/// Reads and validates the C2PA manifest of `stream` (an image of `format`), trusting
/// the root certificates `trust_roots` (DER). `Ok(None)` when the image has no manifest.
///
/// # Errors
/// [`ReadError`] when there is a manifest that cannot be read (truncated, damaged).
pub(crate) fn read<R: Read + Seek + Send>(
    format: ImageFormat,
    stream: R,
    trust_roots: &[Vec<u8>],
) -> Result<Option<Credential>, ReadError> {
    let context = context(trust_roots).map_err(|e| unreadable("manifest.unreadable", &e))?;
    match c2pa::Reader::from_context(context).with_stream(format.media_type(), stream) {
        Err(c2pa::Error::JumbfNotFound) => Ok(None),
        reader => credential_of(reader, Asset::Image).map(Some),
    }
}

fn unreadable(code: &str, e: &dyn std::fmt::Display) -> ReadError {
    ReadError { code: code.into(), message: e.to_string() }
}

/// What the SDK's reader of an `asset` found: its active manifest's statuses, signer and
/// stamp link.
fn credential_of(reader: Result<c2pa::Reader, c2pa::Error>, asset: Asset) -> Result<Credential, ReadError> {
    let reader = reader.map_err(|e| unreadable(status_of_error(&e), &e))?;
    let Some(manifest) = reader.active_manifest() else {
        return Err(unreadable("claim.missing", &"the manifest store has no active manifest"));
    };
    let statuses = reader
        .validation_results()
        .and_then(|r| r.active_manifest())
        .map(|codes| {
            let as_status = |passed| {
                move |s: &c2pa::validation_status::ValidationStatus| Status {
                    code: s.code().to_owned(),
                    passed,
                    explanation: s.explanation().map(str::to_owned),
                }
            };
            (codes.success().iter().map(as_status(true)))
                .chain(codes.informational().iter().map(as_status(true)))
                .chain(codes.failure().iter().map(as_status(false)))
                .collect()
        })
        .unwrap_or_default();
    let info = manifest.signature_info();
    let signer_ed25519 = info.and_then(|i| leaf_ed25519(i.cert_chain()));
    let link = manifest
        .assertions()
        .iter()
        .find(|a| a.label() == LINK_LABEL)
        .map(|a| a.to_assertion::<StampLink>().map_err(|e| e.to_string()));
    let soft_binding = manifest
        .assertions()
        .iter()
        .filter(|a| a.label() == SOFT_BINDING_LABEL)
        .filter_map(|a| a.to_assertion::<serde_json::Value>().ok())
        .find(|v| v["alg"] == ISCC_ALG)
        // The SDK's JSON view shows the CBOR byte string as an array of numbers.
        .and_then(|v| serde_json::from_value::<Vec<u8>>(v["blocks"][0]["value"].clone()).ok())
        .and_then(|bytes| ContentCode::from_unit_bytes(&bytes).ok());
    Ok(Credential {
        asset,
        statuses,
        state: reader.validation_state(),
        signer_organisation: info.and_then(|i| i.issuer.clone()),
        signer_name: info.and_then(|i| i.common_name.clone()),
        signer_ed25519,
        claim_generator: manifest.claim_generator_info.as_ref().and_then(|g| g.first()).map(|g| g.name.clone()),
        link,
        soft_binding,
    })
}

/// The C2PA status code for a manifest the SDK could not read at all.
fn status_of_error(e: &c2pa::Error) -> &'static str {
    match e {
        c2pa::Error::HashMismatch(_) => "assertion.dataHash.mismatch",
        c2pa::Error::CoseSignature | c2pa::Error::CoseInvalidCert => "claimSignature.mismatch",
        c2pa::Error::JumbfParseError(_) | c2pa::Error::InvalidAsset(_) => "manifest.unreadable",
        _ => "manifest.unreadable",
    }
}

/// The raw Ed25519 public key of the first certificate of a PEM chain.
fn leaf_ed25519(pem_chain: &str) -> Option<[u8; 32]> {
    let der = crate::keys::from_pem(pem_chain).ok()?.into_iter().next()?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
    let key = cert.public_key();
    (key.algorithm.algorithm.to_id_string() == "1.3.101.112").then_some(())?;
    key.subject_public_key.data.as_ref().try_into().ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fingerprint::image::ImageBounds;
    use crate::fingerprint::Fingerprints;
    use crate::keys::{C2paCerts, Keyring};
    use crate::statement::request::{prepare_content, StampContent, StampMetadata};
    use crate::statement::IssuerName;

    /// A small PNG, a gradient.
    fn png() -> Vec<u8> {
        let img = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([(x * 6) as u8, (y * 8) as u8, (x + y) as u8]));
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// A keyring and its C2PA certificates in a new directory (kept while the first lives).
    pub(super) fn ring_and_certs() -> (tempfile::TempDir, Keyring, C2paCerts) {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open_or_create(dir.path()).unwrap();
        let kids: Vec<_> = ring.public_keys().iter().map(|k| k.kid.clone()).collect();
        let certs =
            C2paCerts::open_or_create(dir.path(), &kids, ring.statement_key(), None, "test.example/log").unwrap();
        (dir, ring, certs)
    }

    /// A statement of `bytes` (an image) with its Content-Code, as the service prepares it.
    fn statement_of(bytes: &[u8]) -> Statement {
        let fingerprints = Fingerprints::of_image(bytes, ImageBounds::DEFAULT);
        assert!(fingerprints.code.is_some(), "the test image has a Content-Code");
        statement_with("image", "image/png", StampContent::Bytes(bytes.to_vec()), fingerprints)
    }

    /// A statement of a text with its Content-Code, as the service prepares it.
    pub(super) fn statement_of_text(text: &str) -> Statement {
        let fingerprints = Fingerprints::of_text(text);
        assert!(fingerprints.code.is_some(), "the test text has a Content-Code");
        statement_with("marketing_copy", "text/plain", StampContent::Text(text.to_owned()), fingerprints)
    }

    fn statement_with(kind: &str, media_type: &str, content: StampContent, fingerprints: Fingerprints) -> Statement {
        let metadata: StampMetadata = serde_json::from_value(json!({
            "kind": kind,
            "media_type": media_type,
            "generator": {"provider": "ExampleAI", "model": "writer"},
            "disclosure": {"text": "This was generated with AI.", "lang": "en"},
        }))
        .unwrap();
        prepare_content(
            content,
            metadata,
            fingerprints,
            IssuerName::parse("Example").unwrap(),
            [7; 32],
            crate::time::Timestamp::now(),
        )
        .unwrap()
        .statement
    }

    #[test]
    fn the_soft_binding_carries_the_iscc_seq_as_a_byte_string_and_the_manifest_still_validates() {
        let (_dir, ring, certs) = ring_and_certs();
        let leaf = certs.leaf(ring.statement_key().kid()).unwrap();
        let original = png();
        let statement = statement_of(&original);
        let code = statement.subject.iscc.unwrap();
        let link = StampLink::new(&statement, &"ab".repeat(32), 3, "test.example/log", "https://example.test");
        let mut dest = std::io::Cursor::new(Vec::new());
        embed(
            ImageFormat::Png,
            &mut std::io::Cursor::new(&original),
            &mut dest,
            &statement,
            &link,
            ring.statement_key(),
            leaf,
        )
        .unwrap();
        let credentialed = dest.into_inner();

        // The c2pa crate's own reader: trusted, the hard binding intact, the soft binding there.
        let context = context(&[certs.root_der().to_vec()]).unwrap();
        let reader =
            c2pa::Reader::from_context(context).with_stream("image/png", std::io::Cursor::new(&credentialed)).unwrap();
        assert_eq!(reader.validation_state(), c2pa::ValidationState::Trusted, "{}", reader.json());
        let manifest = reader.active_manifest().unwrap();
        let binding: serde_json::Value = manifest.find_assertion(SOFT_BINDING_LABEL).expect("a soft binding");
        assert_eq!(binding["alg"], "io.iscc.v0");
        assert_eq!(binding["blocks"].as_array().unwrap().len(), 1, "{binding}");
        assert_eq!(binding["blocks"][0]["scope"], json!({}), "the whole asset");
        // A CBOR byte string reaches the SDK's JSON view as an array of numbers (a text
        // string would be a JSON string): the bytes are the ISCC-SEQ of the Content-Code.
        let value: Vec<u8> = serde_json::from_value(binding["blocks"][0]["value"].clone()).expect("bytes");
        assert_eq!(value, encode_seq(&[code]));
        assert_eq!(value, code.unit_bytes());
        // In the file itself: CBOR major type 2, 34 bytes (0x58 0x22), then the ISCC-SEQ.
        let mut encoded = vec![0x58, 0x22];
        encoded.extend_from_slice(&value);
        assert!(credentialed.windows(encoded.len()).any(|w| w == encoded), "a CBOR byte string in the manifest");
        assert_eq!(
            crate::fingerprint::seq::decode_value(&crate::fingerprint::seq::encode_value(&[code])).unwrap(),
            [code]
        );
        assert_eq!(binding["pad"], json!([]));
        assert!(binding.get("alg-params").is_none(), "IEP-0020 forbids alg-params");

        // And this crate's reader agrees: everything passed, the link is there.
        let read = read(ImageFormat::Png, std::io::Cursor::new(&credentialed), &[certs.root_der().to_vec()])
            .unwrap()
            .expect("a manifest");
        assert!(read.trusted());
        assert!(read.statuses.iter().all(|s| s.passed), "{:?}", read.statuses);
        assert!(read.statuses.iter().any(|s| s.code == "assertion.dataHash.match"), "{:?}", read.statuses);
        assert_eq!(read.link.unwrap().unwrap(), link);
        assert_eq!(read.soft_binding, Some(code), "the soft binding read back");
    }

    #[test]
    fn a_statement_without_a_content_code_gets_no_soft_binding() {
        let original = png();
        let mut statement = statement_of(&original);
        statement.subject.iscc = None;
        let link = StampLink::new(&statement, &"ab".repeat(32), 3, "test.example/log", "https://example.test");
        let builder = builder(&statement, &link).unwrap();
        let labels: Vec<String> = builder.definition.assertions.iter().map(|a| a.label.clone()).collect();
        assert!(!labels.iter().any(|l| l == SOFT_BINDING_LABEL), "{labels:?}");
    }

    #[test]
    fn formats_by_media_type_and_by_magic() {
        assert_eq!(ImageFormat::from_media_type("IMAGE/PNG; x=y"), Some(ImageFormat::Png));
        assert_eq!(ImageFormat::from_media_type("image/jpg"), Some(ImageFormat::Jpeg));
        assert_eq!(ImageFormat::from_media_type("image/gif"), None);
        assert_eq!(ImageFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(ImageFormat::Jpeg));
        assert_eq!(ImageFormat::sniff(b"\x89PNG\r\n\x1a\n...."), Some(ImageFormat::Png));
        assert_eq!(ImageFormat::sniff(b"RIFF\0\0\0\0WEBPVP8L"), Some(ImageFormat::Webp));
        assert_eq!(ImageFormat::sniff(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(ImageFormat::sniff(b"GIF89a"), None);
    }
}
