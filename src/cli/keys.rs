//! `aiprov keygen` and `aiprov keys rotate`.

use std::path::Path;

use super::args::key_passphrase;
use crate::keys::{rotate as rotate_keys, Keyring, Passphrase};

pub(super) fn rotate(dir: &Path) -> anyhow::Result<()> {
    let passphrase = key_passphrase()?;
    let report = rotate_keys(dir, passphrase.as_ref().map(Passphrase::as_str))?;
    println!("retired statement key {} (still published: receipts it signed keep verifying)", report.retired.kid);
    for path in &report.removed {
        println!("overwrote and removed {}", path.display());
    }
    for (path, e) in &report.not_removed {
        eprintln!("aiprov: warning: could not remove {}: {e}; delete it by hand", path.display());
    }
    let encrypted = if report.encrypted { "encrypted" } else { "plain" };
    println!("new statement key {} ({encrypted} key file); restart the server to sign with it", report.active.kid);
    Ok(())
}

pub(super) fn keygen(dir: &Path) -> anyhow::Result<()> {
    let passphrase = key_passphrase()?;
    let ring = Keyring::open_or_create_with(dir, passphrase.as_ref().map(Passphrase::as_str))?;
    for k in ring.public_keys() {
        println!("{} {:?} {} created {}", k.kid, k.purpose, k.public_key, k.created_at.to_rfc3339());
    }
    Ok(())
}
