//! `aiprov token create|list|revoke` and `aiprov erasures`: the issuer tokens and the
//! erasure register. With `--database` they use the shared database directly. Otherwise,
//! with no service running, they open the data directory; while `serve` holds it, they
//! go through the service's admin API with its local admin credential (see
//! `local_admin`), so the same commands work in either case.

use anyhow::Context;
use reqwest::Method;
use serde_json::{json, Value};

use super::args::StateArgs;
use super::local_admin::LocalAdmin;
use crate::records::erasure::ErasureRegister;
use crate::records::tokens::{TokenId, TokenStore};
use crate::statement::{pii, IssuerName};
use crate::storage::{open_tables, Location, Tables};

/// Where the tokens are: in a database this process opened, or behind a running service.
enum Tokens {
    Local(TokenStore, ErasureRegister),
    Service(LocalAdmin),
}

fn open(state: &StateArgs) -> anyhow::Result<Tokens> {
    // A shared database takes many clients: these commands use it directly.
    let local = |tables: Tables| Tokens::Local(TokenStore::on(tables.tokens), ErasureRegister::on(tables.erasures));
    if let Some(url) = &state.database {
        return Ok(local(open_tables(&Location::Postgres(url.clone()))?));
    }
    // A service on a database left its credential here: its tokens are not in this
    // directory, whose sled database would open (empty) all the same.
    if let Some(admin) = LocalAdmin::read(&state.data)?.filter(|a| a.shared) {
        return Ok(Tokens::Service(admin));
    }
    match open_tables(&Location::Local(state.data.clone())) {
        Ok(tables) => Ok(local(tables)),
        Err(e) => match LocalAdmin::read(&state.data)? {
            Some(admin) => Ok(Tokens::Service(admin)),
            None => Err(anyhow::Error::new(e).context(format!(
                "{} has no local-admin.json, which `aiprov serve` writes at start: if another process holds \
                 the directory, stop it, or use the admin API (POST /v1/admin/tokens) with an admin token",
                state.data.display()
            ))),
        },
    }
}

fn print_created(issuer: &str, admin: bool, id: &str, secret: &str) {
    let role = if admin { "an admin" } else { "an issuer" };
    println!("Created {role} token for \"{issuer}\" (id {id}). Only its hash is stored: copy it now.");
    println!("{secret}");
}

pub(super) fn create(issuer: &str, admin: bool, state: &StateArgs) -> anyhow::Result<()> {
    let issuer = IssuerName::parse(issuer)?;
    // As Service::create_token: the name goes into the public log with every stamp.
    pii::check("issuer", issuer.as_str())?;
    match open(state)? {
        Tokens::Local(tokens, _) => {
            let token = tokens.create(issuer.clone(), admin)?;
            print_created(&issuer.to_string(), admin, token.id.as_str(), &token.secret);
        }
        Tokens::Service(service) => {
            let created =
                service.call(Method::POST, "/tokens", Some(json!({ "issuer": issuer.to_string(), "admin": admin })))?;
            let field = |name: &str| created[name].as_str().map(str::to_owned).context("unexpected answer");
            print_created(&issuer.to_string(), admin, &field("id")?, &field("token")?);
        }
    }
    Ok(())
}

/// Prints each element of `list` as one JSON line.
fn print_lines(list: &Value) -> anyhow::Result<()> {
    for item in list.as_array().context("unexpected answer: not a list")? {
        println!("{}", serde_json::to_string(item)?);
    }
    Ok(())
}

pub(super) fn list(state: &StateArgs) -> anyhow::Result<()> {
    match open(state)? {
        Tokens::Local(tokens, _) => print_lines(&serde_json::to_value(tokens.list()?)?),
        Tokens::Service(service) => print_lines(&service.call(Method::GET, "/tokens", None)?["tokens"]),
    }
}

pub(super) fn revoke(id: &str, state: &StateArgs) -> anyhow::Result<()> {
    let id = TokenId::parse(id).map_err(anyhow::Error::msg)?;
    let issuer = match open(state)? {
        Tokens::Local(tokens, _) => match tokens.revoke(&id)? {
            Some(t) => t.record.issuer.to_string(),
            None => anyhow::bail!("no token has id {id}"),
        },
        Tokens::Service(service) => {
            let revoked = service.call(Method::DELETE, &format!("/tokens/{id}"), None)?;
            revoked["issuer"].as_str().unwrap_or_default().to_owned()
        }
    };
    println!("revoked token {id} of \"{issuer}\"");
    Ok(())
}

pub(super) fn erasures(state: &StateArgs) -> anyhow::Result<()> {
    match open(state)? {
        Tokens::Local(_, erasures) => print_lines(&serde_json::to_value(erasures.list()?)?),
        Tokens::Service(service) => print_lines(&service.call(Method::GET, "/erasures", None)?["erasures"]),
    }
}
