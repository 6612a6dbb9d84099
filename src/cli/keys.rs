//! `aiprov keygen` and `aiprov keys rotate`.

use std::path::Path;

use anyhow::Context;

use super::args::{key_passphrase, RotateArgs};
use super::local_admin::LocalAdmin;
use crate::keys::{rotate as rotate_keys, Keyring, Passphrase};

pub(super) fn rotate(args: &RotateArgs) -> anyhow::Result<()> {
    let Some(url) = &args.url else {
        let (retired, active) = rotate_offline(&args.keys.keys)?;
        println!("retired statement key {retired} (still published: receipts it signed keep verifying)");
        println!("new statement key {active}: it signs every stamp from now on");
        return Ok(());
    };
    let answer = rotate_online(url, &admin_token(args.token.as_deref(), &args.data)?, args.force)?;
    let kid = |which: &str| answer[which]["kid"].as_str().unwrap_or("?").to_owned();
    let (retired, active) = (kid("retired"), kid("active"));
    match answer["state"].as_str() {
        Some("active") => {
            println!("retired statement key {retired} (still published: receipts it signed keep verifying)");
            println!("new statement key {active}: every node of the log signs with it from now on");
        }
        Some("retiring") => {
            println!("new statement key {active}: active; every node signs with it as soon as it has switched");
            println!("statement key {retired} is retired once every node has switched (GET /v1/keys shows its date)");
        }
        _ => {
            let waiting: Vec<&str> =
                answer["waiting_for"].as_array().into_iter().flatten().filter_map(|n| n.as_str()).collect();
            println!("new statement key {active}: staged; {retired} still signs");
            println!(
                "waiting for nodes that do not hold {active}.key yet: {}; copy that file into their keys directories \
                 (or run this again with --force)",
                waiting.join(", ")
            );
        }
    }
    Ok(())
}

/// The admin token for a rotation through a service: the one given, else the local admin
/// credential that `serve` keeps in its data directory (the one `aiprov token create`
/// uses while the service runs), so that the operator on the machine needs no other.
fn admin_token(given: Option<&str>, data_dir: &Path) -> anyhow::Result<String> {
    if let Some(token) = given {
        return Ok(token.to_owned());
    }
    match LocalAdmin::read(data_dir)? {
        Some(admin) => Ok(admin.token),
        None => anyhow::bail!(
            "--url needs an admin token of that service: --token (or AIPROV_TOKEN), or run this on the service's \
             machine with --data naming its data directory ({} has no local-admin.json, which `aiprov serve` \
             writes at start); `aiprov token create --issuer NAME --admin` makes an admin token",
            data_dir.display()
        ),
    }
}

/// Asks the running service at `url` to rotate the log's statement key; its answer.
fn rotate_online(url: &str, token: &str, force: bool) -> anyhow::Result<serde_json::Value> {
    let endpoint =
        format!("{}/v1/admin/keys/rotate{}", url.trim_end_matches('/'), if force { "?force=true" } else { "" });
    super::runtime()?.block_on(async {
        let resp = reqwest::Client::new()
            .post(&endpoint)
            .bearer_auth(token)
            .send()
            .await
            .with_context(|| format!("cannot reach the service at {url}"))?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.with_context(|| format!("{endpoint}: not a JSON answer"))?;
        if !status.is_success() {
            let message = body["error"]["message"].as_str().unwrap_or("no message");
            anyhow::bail!("the service refused the rotation ({status}): {message}");
        }
        if body["active"]["kid"].as_str().is_none() {
            anyhow::bail!("{endpoint}: unexpected answer {body}");
        }
        Ok(body)
    })
}

/// Rotates a keys directory that no service runs on.
fn rotate_offline(dir: &Path) -> anyhow::Result<(String, String)> {
    let passphrase = key_passphrase()?;
    let report = rotate_keys(dir, passphrase.as_ref().map(Passphrase::as_str))?;
    for path in &report.removed {
        println!("overwrote and removed {}", path.display());
    }
    for (path, e) in &report.not_removed {
        eprintln!("aiprov: warning: could not remove {}: {e}; delete it by hand", path.display());
    }
    let encrypted = if report.encrypted { "encrypted" } else { "plain" };
    println!("the new key file is {encrypted}");
    Ok((report.retired.kid.to_string(), report.active.kid.to_string()))
}

pub(super) fn keygen(dir: &Path) -> anyhow::Result<()> {
    let passphrase = key_passphrase()?;
    let ring = Keyring::open_or_create_with(dir, passphrase.as_ref().map(Passphrase::as_str))?;
    for k in ring.public_keys() {
        println!("{} {:?} {} created {}", k.kid, k.purpose, k.public_key, k.created_at.to_rfc3339());
    }
    Ok(())
}
