//! The real binary: token creation, first start creating keys, and data surviving a
//! hard kill and restart on the same data directory.

use serde_json::{json, Value};

use crate::binary::{create_token, get_json, post_stamp, post_verify, serve};
use crate::helpers::copy_request;

#[tokio::test]
async fn data_and_keys_survive_a_hard_kill_and_restart() {
    crate::helpers::embedded_only!();
    let dir = tempfile::tempdir().unwrap();
    let token = create_token(dir.path());
    assert!(token.starts_with("aiprov_"), "{token}");
    let client = reqwest::Client::new();

    let first = serve(dir.path());
    let keys_before = get_json(&client, &format!("{}/v1/keys", first.base)).await;
    let mut stamped = Vec::new();
    for i in 0..5 {
        let (status, body) =
            post_stamp(&client, &first.base, &token, &copy_request(&format!("Survives restarts, take {i}."))).await;
        assert_eq!(status, 201, "{body}");
        stamped.push(body);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let kid = keys_before["keys"][0]["kid"].as_str().unwrap();
        let mode = std::fs::metadata(dir.path().join("keys").join(format!("{kid}.key"))).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    drop(first); // SIGKILL: no graceful shutdown, only what was flushed survives.

    let second = serve(dir.path());
    let keys_after = get_json(&client, &format!("{}/v1/keys", second.base)).await;
    assert_eq!(keys_before, keys_after, "keys are loaded, not recreated");
    for s in &stamped {
        let id = s["id"].as_str().unwrap();
        let resp = client.get(format!("{}/v1/stamps/{id}", second.base)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "stamp {id} survived");
        let receipt: Value = resp.json().await.unwrap();
        assert_eq!(receipt["statement"], s["statement"]);
        let verdict: Value = post_verify(&client, &second.base, &json!({"receipt": receipt})).await;
        assert_eq!(verdict["verified"], true, "{verdict}");
    }
    // The log continues where it stopped.
    let (_, after) = post_stamp(&client, &second.base, &token, &copy_request("After the restart.")).await;
    assert_eq!(after["log"]["index"], 5, "{after}");
}

#[tokio::test]
async fn token_list_revoke_and_erasure_export_from_the_command_line() {
    crate::helpers::embedded_only!();
    use crate::binary::run;
    use std::ffi::OsStr;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = create_token(dir.path());
    let args = |list: &[&str]| -> Vec<std::ffi::OsString> {
        let mut v: Vec<std::ffi::OsString> = list.iter().map(|s| OsStr::new(s).to_owned()).collect();
        v.push("--data".into());
        v.push(data.clone().into_os_string());
        v
    };
    let out = run(&args(&["token", "create", "--issuer", "Ops", "--admin"]));
    assert!(out.status.success());
    let admin = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().to_owned();

    let server = serve(dir.path());
    let client = reqwest::Client::new();
    let stamped: Value =
        post_stamp(&client, &server.base, &token, &copy_request("Erase me from the command line.")).await.1;
    let id = stamped["id"].as_str().unwrap();
    let resp =
        client.delete(format!("{}/v1/stamps/{id}/prompt", server.base)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    drop(server);

    let out = run(&args(&["token", "list"]));
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(!listed.contains(&token) && !listed.contains(&admin), "no secrets in the list");
    let lines: Vec<Value> = listed.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // The two made here, and the local admin token `serve` keeps for the CLI.
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(lines.iter().any(|t| t["issuer"] == "Local operator" && t["admin"] == true), "{listed}");
    let issuer_id = lines.iter().find(|t| t["issuer"] == "Restart Co").unwrap()["id"].as_str().unwrap().to_owned();
    let out = run(&args(&["token", "revoke", &issuer_id]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&args(&["token", "revoke", "0000000000000000"]));
    assert!(!out.status.success());

    let out = run(&args(&["erasures"]));
    let register: Value = serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert_eq!(register["stamp_id"], id);
    assert_eq!(register["erased_by"], "Ops");

    let server = serve(dir.path());
    let (status, _) = post_stamp(&client, &server.base, &token, &copy_request("After revocation.")).await;
    assert_eq!(status, 401, "the revoked token is refused");
}
