//! The X.509 chain that signs C2PA manifests (Content Credentials, docs/contract.md §8).
//!
//! A C2PA claim is signed by an X.509 certificate that a validator must be able to chain
//! to a trust anchor it was given. The service is its own small certificate authority,
//! created on first start in the keys directory:
//!
//! - `c2pa-root.pem`: a self-signed root CA certificate (Ed25519, `CA:true` with path length
//!   0, key usages `keyCertSign` and `cRLSign`, 20 years). It is the trust anchor that
//!   `GET /v1/c2pa/anchors.pem` publishes and `GET /v1/keys` lists.
//! - `c2pa-root.key`: its private key, mode 0600, sealed with the key passphrase when one
//!   is set (the format of every key file, see the module docs of `keys`). It is read only
//!   to issue a leaf certificate (on a start without one for the active statement key, and
//!   on a rotation), so it can be kept offline: move it away after the first start and
//!   bring it back for a rotation. Without it the service still starts; credentials are
//!   refused (`503`) until a leaf for the active key exists.
//! - `c2pa-<kid>.pem`: one leaf certificate per statement key, for that very key, issued by
//!   the root: `CA:false`, key usage `digitalSignature`, extended key usages
//!   `id-kp-emailProtection` and `id-kp-documentSigning` (C2PA 2.x §14.5.1 accepts either;
//!   `anyExtendedKeyUsage` is forbidden there and not set), subject and authority key
//!   identifiers, 10 years.
//!
//! # Why the leaf certifies the statement key itself
//! The C2PA signer of an image is the statement key that signs the stamps, not a key of
//! its own. So the certificate rotates with the statement key by construction (a rotation
//! issues a leaf for the new key; the retired key's private half is destroyed, so nothing
//! can sign a manifest with it again), a verifier can check that a manifest's signer is a
//! key this service publishes at `GET /v1/keys`, and there is no other secret to keep,
//! back up or encrypt. Signing two formats with one key is safe here because the signed
//! bytes cannot be confused: a COSE `Sig_structure` is a CBOR array (first byte `0x84`),
//! a statement is JCS JSON (first byte `{`).
//!
//! # Validity
//! A C2PA validator checks a certificate's validity at the time of a trusted time-stamp,
//! or, without one, now. This service asks no time-stamp authority (it reaches no network),
//! so a credential validates while its leaf is valid: 10 years from its issue.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Datelike;
use ed25519_dalek::VerifyingKey;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod,
    KeyUsagePurpose, PublicKeyData, SerialNumber, SignatureAlgorithm, SigningKey, PKCS_ED25519,
};
use serde::Serialize;
use zeroize::Zeroizing;

use super::{decode_key_file, io_err, write_private_key_at, KeyError, KeyId, SecretKey};
use crate::Sha256Digest;

const ROOT_CERT_FILE: &str = "c2pa-root.pem";
const ROOT_KEY_FILE: &str = "c2pa-root.key";
/// id-kp-documentSigning (RFC 9336).
const DOCUMENT_SIGNING: [u64; 9] = [1, 3, 6, 1, 5, 5, 7, 3, 36];
const ROOT_YEARS: i32 = 20;
const LEAF_YEARS: i32 = 10;

/// The root certificate and the leaf certificates of the statement keys, in DER.
#[derive(Debug, Clone)]
pub struct C2paCerts {
    root: Vec<u8>,
    leaves: BTreeMap<KeyId, Vec<u8>>,
}

/// Public facts of one certificate, as `GET /v1/keys` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// The statement key the certificate is for (leaves only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<KeyId>,
    pub subject: String,
    /// SHA-256 of the DER certificate, hex: the fingerprint trust lists name.
    pub sha256: String,
    pub not_before: String,
    pub not_after: String,
    pub pem: String,
}

impl C2paCerts {
    /// Opens the chain in `dir`, creating the root on first start, and issues a leaf for
    /// `active` (the statement key in use) when it has none. `statement_kids` are every
    /// statement key, so retired keys' leaves are known too. `organisation` goes into the
    /// subjects of new certificates (the log's origin).
    ///
    /// # Errors
    /// I/O errors; a damaged or mismatched root; a wrong passphrase for the root key. A
    /// root key that is not there (kept offline) is not an error: the active key is then
    /// left without a leaf, and a warning says so.
    pub fn open_or_create(
        dir: &Path,
        statement_kids: &[KeyId],
        active: &SecretKey,
        passphrase: Option<&str>,
        organisation: &str,
    ) -> Result<Self, KeyError> {
        let cert_path = dir.join(ROOT_CERT_FILE);
        if !cert_path.exists() {
            create_root(dir, passphrase, organisation)?;
        }
        let root = read_pem(&cert_path)?;
        let mut leaves = BTreeMap::new();
        for kid in statement_kids {
            let path = leaf_path(dir, kid);
            if path.exists() {
                leaves.insert(kid.clone(), read_pem(&path)?);
            }
        }
        let mut certs = Self { root, leaves };
        if !certs.leaves.contains_key(active.kid()) {
            match certs.issue_leaf(dir, active, passphrase, organisation) {
                Ok(()) => {}
                Err(KeyError::RootKeyOffline { path }) => tracing::warn!(
                    path = %path.display(),
                    kid = %active.kid(),
                    "no C2PA certificate for the active statement key and the C2PA root key is not in the keys \
                     directory: credentials are refused until it is put back and the service restarted"
                ),
                Err(e) => return Err(e),
            }
        }
        Ok(certs)
    }

    /// Issues the leaf certificate of `key` with the root key in `dir`, writes it and
    /// keeps it.
    ///
    /// # Errors
    /// [`KeyError::RootKeyOffline`] when the root key file is not there; I/O errors; a
    /// root key that does not match the root certificate or does not open.
    pub fn issue_leaf(
        &mut self,
        dir: &Path,
        key: &SecretKey,
        passphrase: Option<&str>,
        organisation: &str,
    ) -> Result<(), KeyError> {
        let root_key = read_root_key(dir, passphrase)?;
        if root_key.verifying_key().as_bytes() != public_key_of(&self.root, &dir.join(ROOT_CERT_FILE))?.as_bytes() {
            return Err(KeyError::Corrupt {
                path: dir.join(ROOT_KEY_FILE),
                reason: "the C2PA root key does not match c2pa-root.pem".into(),
            });
        }
        let der = issue_leaf_der(&self.root, &root_key, &key.verifying_key(), key.kid(), organisation)?;
        let path = leaf_path(dir, key.kid());
        write_file(&path, to_pem(&der).as_bytes())?;
        tracing::info!(kid = %key.kid(), path = %path.display(), "issued the C2PA certificate of the statement key");
        self.leaves.insert(key.kid().clone(), der);
        Ok(())
    }

    /// Keeps `der`, a leaf certificate another node of the log issued for `kid` (the
    /// log's record carries it), so that every node presents the same one; written to the
    /// keys directory too when it has none (best effort: it may be read-only).
    pub fn adopt_leaf(&mut self, dir: &Path, kid: &KeyId, der: Vec<u8>) {
        let path = leaf_path(dir, kid);
        if !path.exists() {
            if let Err(e) = write_file(&path, to_pem(&der).as_bytes()) {
                tracing::warn!(path = %path.display(), error = %e, "cannot keep the C2PA certificate of the log's statement key");
            }
        }
        self.leaves.insert(kid.clone(), der);
    }

    /// The root certificate (the trust anchor), DER.
    pub fn root_der(&self) -> &[u8] {
        &self.root
    }

    /// The root certificate as PEM: what `GET /v1/c2pa/anchors.pem` serves.
    pub fn root_pem(&self) -> String {
        to_pem(&self.root)
    }

    /// The leaf certificate of statement key `kid`, DER.
    pub fn leaf(&self, kid: &KeyId) -> Option<&[u8]> {
        self.leaves.get(kid).map(Vec::as_slice)
    }

    /// What `GET /v1/keys` lists under `c2pa`: the root and every leaf.
    pub fn infos(&self) -> (CertInfo, Vec<CertInfo>) {
        let leaves = self.leaves.iter().map(|(kid, der)| cert_info(der, Some(kid.clone()))).collect();
        (cert_info(&self.root, None), leaves)
    }
}

/// PEM of one DER certificate (RFC 7468: base64 in lines of 64).
pub fn to_pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The DER certificates in PEM text (`CERTIFICATE` blocks; anything else is skipped).
///
/// # Errors
/// When a certificate block is not base64.
pub fn from_pem(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line != "-----BEGIN CERTIFICATE-----" {
            continue;
        }
        let body: String = lines.by_ref().take_while(|l| *l != "-----END CERTIFICATE-----").collect();
        out.push(STANDARD.decode(body).map_err(|e| format!("a certificate in the PEM text is not base64: {e}"))?);
    }
    Ok(out)
}

fn cert_info(der: &[u8], kid: Option<KeyId>) -> CertInfo {
    let (subject, not_before, not_after) = match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => (
            cert.subject().to_string(),
            rfc3339(cert.validity().not_before.timestamp()),
            rfc3339(cert.validity().not_after.timestamp()),
        ),
        Err(_) => Default::default(),
    };
    CertInfo { kid, subject, sha256: Sha256Digest::of(der).to_hex(), not_before, not_after, pem: to_pem(der) }
}

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn leaf_path(dir: &Path, kid: &KeyId) -> PathBuf {
    dir.join(format!("c2pa-{kid}.pem"))
}

fn read_pem(path: &Path) -> Result<Vec<u8>, KeyError> {
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    let corrupt = |reason: String| KeyError::Corrupt { path: path.to_owned(), reason };
    let der = from_pem(&text).map_err(corrupt)?.into_iter().next().ok_or_else(|| corrupt("no certificate".into()))?;
    x509_parser::parse_x509_certificate(&der).map_err(|e| corrupt(format!("not an X.509 certificate: {e}")))?;
    Ok(der)
}

fn public_key_of(der: &[u8], path: &Path) -> Result<VerifyingKey, KeyError> {
    let corrupt = |reason: &str| KeyError::Corrupt { path: path.to_owned(), reason: reason.into() };
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| corrupt("not an X.509 certificate"))?;
    let raw: [u8; 32] = cert
        .public_key()
        .subject_public_key
        .data
        .as_ref()
        .try_into()
        .map_err(|_| corrupt("not an Ed25519 certificate"))?;
    VerifyingKey::from_bytes(&raw).map_err(|_| corrupt("not an Ed25519 certificate"))
}

fn read_root_key(dir: &Path, passphrase: Option<&str>) -> Result<SecretKey, KeyError> {
    let path = dir.join(ROOT_KEY_FILE);
    let text = Zeroizing::new(match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(KeyError::RootKeyOffline { path }),
        Err(e) => return Err(io_err(&path)(e)),
    });
    let seed = decode_key_file(text.trim(), passphrase, &path)?;
    Ok(SecretKey::from_seed(&seed))
}

fn create_root(dir: &Path, passphrase: Option<&str>, organisation: &str) -> Result<(), KeyError> {
    let key_path = dir.join(ROOT_KEY_FILE);
    if key_path.exists() {
        return Err(KeyError::Corrupt {
            path: dir.join(ROOT_CERT_FILE),
            reason: format!("missing, while {ROOT_KEY_FILE} is there: restore the certificate from a backup"),
        });
    }
    let key = SecretKey::generate()?;
    let public = Public(key.verifying_key().to_bytes());
    let mut params = params(("ai-provenance C2PA root", organisation), &public, ROOT_YEARS)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&Signing::new(&key)).map_err(cert_err)?;
    // The key first: a certificate without its key would be an unusable root.
    write_private_key_at(&key_path, &key, passphrase)?;
    write_file(&dir.join(ROOT_CERT_FILE), to_pem(cert.der()).as_bytes())?;
    tracing::info!(dir = %dir.display(), "created the C2PA root certificate");
    Ok(())
}

fn issue_leaf_der(
    root: &[u8],
    root_key: &SecretKey,
    key: &VerifyingKey,
    kid: &KeyId,
    organisation: &str,
) -> Result<Vec<u8>, KeyError> {
    let public = Public(key.to_bytes());
    let mut params = params((&format!("ai-provenance statement key {kid}"), organisation), &public, LEAF_YEARS)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages =
        vec![ExtendedKeyUsagePurpose::EmailProtection, ExtendedKeyUsagePurpose::Other(DOCUMENT_SIGNING.to_vec())];
    let issuer = Issuer::from_ca_cert_der(&root.to_vec().into(), Signing::new(root_key)).map_err(cert_err)?;
    Ok(params.signed_by(&public, &issuer).map_err(cert_err)?.der().to_vec())
}

/// What both certificates share: names, a random serial, key identifiers, validity
/// from the start of today (UTC) for `years`.
fn params(names: (&str, &str), public: &Public, years: i32) -> Result<CertificateParams, KeyError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, names.0);
    dn.push(DnType::OrganizationName, names.1);
    params.distinguished_name = dn;
    let mut serial = [0u8; 16];
    getrandom::getrandom(&mut serial).map_err(|e| KeyError::Random(e.to_string()))?;
    serial[0] &= 0x7f; // a positive INTEGER
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    // RFC 7093 method 1: the leftmost 160 bits of SHA-256 of the public key.
    params.key_identifier_method = KeyIdMethod::PreSpecified(Sha256Digest::of(&public.0).as_bytes()[..20].to_vec());
    params.use_authority_key_identifier_extension = true;
    let today = chrono::Utc::now().date_naive();
    // Day 28 at most, so that the end date exists in every month.
    let (month, day) = (today.month() as u8, today.day().min(28) as u8);
    params.not_before = rcgen::date_time_ymd(today.year(), month, day);
    params.not_after = rcgen::date_time_ymd(today.year() + years, month, day);
    Ok(params)
}

fn cert_err(e: rcgen::Error) -> KeyError {
    KeyError::Certificate(e.to_string())
}

/// Writes a new file, mode 0600 (certificates are public, but the keys directory is not).
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    use std::io::Write;
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path).map_err(io_err(path))?;
    file.write_all(bytes).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))
}

/// An Ed25519 public key as rcgen wants it: the SubjectPublicKeyInfo bit string is the
/// raw 32 bytes (RFC 8410).
struct Public([u8; 32]);

impl PublicKeyData for Public {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ED25519
    }
}

/// Signs certificates with one of our keys, which never leaves [`SecretKey`].
struct Signing<'a>(&'a SecretKey, [u8; 32]);

impl<'a> Signing<'a> {
    fn new(key: &'a SecretKey) -> Self {
        Self(key, key.verifying_key().to_bytes())
    }
}

impl PublicKeyData for Signing<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.1
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ED25519
    }
}

impl SigningKey for Signing<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        Ok(self.0.sign(msg).to_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keyring;
    use x509_parser::extensions::ParsedExtension;

    fn open(dir: &Path, ring: &Keyring) -> C2paCerts {
        let kids: Vec<KeyId> = ring.public_keys().iter().map(|k| k.kid.clone()).collect();
        C2paCerts::open_or_create(dir, &kids, ring.statement_key(), None, "test.example/log").unwrap()
    }

    #[test]
    fn the_chain_has_the_profile_c2pa_asks_for() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open_or_create(dir.path()).unwrap();
        let certs = open(dir.path(), &ring);
        let (_, root) = x509_parser::parse_x509_certificate(certs.root_der()).unwrap();
        let leaf_der = certs.leaf(ring.statement_key().kid()).expect("a leaf for the active key");
        let (_, leaf) = x509_parser::parse_x509_certificate(leaf_der).unwrap();

        assert!(root.is_ca() && !leaf.is_ca());
        assert_eq!(leaf.issuer(), root.subject());
        assert_eq!(root.issuer(), root.subject(), "self-signed root");
        assert_eq!(leaf.public_key().subject_public_key.data.as_ref(), ring.statement_key().verifying_key().as_bytes());
        assert_eq!(leaf.version(), x509_parser::x509::X509Version::V3);
        let eku = leaf.extended_key_usage().unwrap().expect("EKU").value;
        assert!(eku.email_protection && !eku.any && !eku.time_stamping && !eku.ocsp_signing);
        assert_eq!(eku.other.iter().map(|o| o.to_id_string()).collect::<Vec<_>>(), ["1.3.6.1.5.5.7.3.36"]);
        let ku = leaf.key_usage().unwrap().expect("key usage").value;
        assert!(ku.digital_signature() && !ku.key_cert_sign());
        let has = |cert: &x509_parser::certificate::X509Certificate, want: fn(&ParsedExtension) -> bool| {
            cert.extensions().iter().any(|e| want(e.parsed_extension()))
        };
        for cert in [&root, &leaf] {
            assert!(has(cert, |e| matches!(e, ParsedExtension::AuthorityKeyIdentifier(_))));
            assert!(has(cert, |e| matches!(e, ParsedExtension::SubjectKeyIdentifier(_))));
        }
        // The root's signature over the leaf verifies with the root's key.
        leaf.verify_signature(Some(root.public_key())).expect("signed by the root");
        root.verify_signature(None).expect("self-signed");
    }

    #[cfg(unix)]
    #[test]
    fn the_root_key_is_owner_only_and_made_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open_or_create(dir.path()).unwrap();
        let first = open(dir.path(), &ring);
        let mode = fs::metadata(dir.path().join(ROOT_KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = open(dir.path(), &ring);
        assert_eq!(first.root_der(), again.root_der());
        assert_eq!(first.leaf(ring.statement_key().kid()), again.leaf(ring.statement_key().kid()));
        assert_eq!(from_pem(&first.root_pem()).unwrap(), vec![first.root_der().to_vec()]);
    }

    #[test]
    fn a_rotation_gets_a_leaf_and_an_offline_root_is_no_error() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open_or_create(dir.path()).unwrap();
        let mut certs = open(dir.path(), &ring);
        let old = ring.statement_key().kid().clone();
        drop(ring);
        crate::keys::rotate(dir.path(), None).unwrap();
        let ring = Keyring::open_or_create(dir.path()).unwrap();
        certs.issue_leaf(dir.path(), ring.statement_key(), None, "test.example/log").unwrap();
        assert!(certs.leaf(&old).is_some() && certs.leaf(ring.statement_key().kid()).is_some());

        // The root key moved offline: the next rotation's key has no leaf, and says why.
        fs::rename(dir.path().join(ROOT_KEY_FILE), dir.path().join("offline.key")).unwrap();
        drop(ring);
        crate::keys::rotate(dir.path(), None).unwrap();
        let ring = Keyring::open_or_create(dir.path()).unwrap();
        let certs = open(dir.path(), &ring);
        assert!(certs.leaf(ring.statement_key().kid()).is_none());
        let err = certs.clone().issue_leaf(dir.path(), ring.statement_key(), None, "o").unwrap_err();
        assert!(matches!(err, KeyError::RootKeyOffline { .. }), "{err}");
        // Back in place: the next start issues it.
        fs::rename(dir.path().join("offline.key"), dir.path().join(ROOT_KEY_FILE)).unwrap();
        assert!(open(dir.path(), &ring).leaf(ring.statement_key().kid()).is_some());
    }

    #[test]
    fn an_encrypted_root_key_needs_the_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open_or_create_with(dir.path(), Some("pass phrase")).unwrap();
        let kids = [ring.statement_key().kid().clone()];
        C2paCerts::open_or_create(dir.path(), &kids, ring.statement_key(), Some("pass phrase"), "o").unwrap();
        let text = fs::read_to_string(dir.path().join(ROOT_KEY_FILE)).unwrap();
        assert!(text.starts_with("aiprov-key-v1:"), "{text}");
        let err = read_root_key(dir.path(), Some("wrong")).unwrap_err();
        assert!(matches!(err, KeyError::WrongPassphrase { .. }), "{err}");
    }
}
