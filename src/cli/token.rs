//! `aiprov token create|list|revoke` and `aiprov erasures`: the issuer tokens and the
//! erasure register, in a data directory no server holds open.

use anyhow::Context;

use super::args::StateArgs;
use crate::service::erasure::ErasureRegister;
use crate::service::open_db;
use crate::service::tokens::{TokenId, TokenStore};
use crate::statement::{pii, IssuerName};

/// Opens the data directory's database (the server must be stopped: sled allows one
/// process; the admin API does the same while it runs).
fn open(state: &StateArgs) -> anyhow::Result<sled::Db> {
    open_db(&state.data).context("stop the server first, or use the admin API")
}

pub(super) fn create(issuer: &str, admin: bool, state: &StateArgs) -> anyhow::Result<()> {
    let issuer = IssuerName::parse(issuer)?;
    // As Service::create_token: the name goes into the public log with every stamp.
    pii::check("issuer", issuer.as_str())?;
    let tokens = TokenStore::open(&open(state)?)?;
    let token = tokens.create(issuer.clone(), admin)?;
    let role = if admin { "an admin" } else { "an issuer" };
    println!("Created {role} token for \"{issuer}\" (id {}). Only its hash is stored: copy it now.", token.id);
    println!("{}", token.secret);
    Ok(())
}

pub(super) fn list(state: &StateArgs) -> anyhow::Result<()> {
    for t in TokenStore::open(&open(state)?)?.list()? {
        println!("{}", serde_json::to_string(&t)?);
    }
    Ok(())
}

pub(super) fn revoke(id: &str, state: &StateArgs) -> anyhow::Result<()> {
    let id = TokenId::parse(id).map_err(anyhow::Error::msg)?;
    match TokenStore::open(&open(state)?)?.revoke(&id)? {
        Some(t) => println!("revoked token {} of \"{}\"", t.id, t.record.issuer),
        None => anyhow::bail!("no token has id {id}"),
    }
    Ok(())
}

pub(super) fn erasures(state: &StateArgs) -> anyhow::Result<()> {
    for r in ErasureRegister::open(&open(state)?)?.list()? {
        println!("{}", serde_json::to_string(&r)?);
    }
    Ok(())
}
