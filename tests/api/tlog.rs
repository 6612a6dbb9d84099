//! `/tlog/` read the way a C2SP tlog-tiles client reads it: the checkpoint verified with
//! the log's key, every tile recomputed from the entry bundles, a proof built from tiles
//! alone, and partial tiles checked against the full ones they grow into.

use std::collections::HashMap;

use ai_provenance::tlog::checkpoint::{Checkpoint, NoteVerifier};
use ai_provenance::tlog::merkle::{self, MemoryTree};
use ai_provenance::tlog::tiles::{self, TileId, TileNodes, TilePath, TileWidth};
use ai_provenance::Sha256Digest;
use serde_json::Value;

use crate::helpers::{copy_request, spawn_app, TestApp};

async fn stamp_many(app: &std::sync::Arc<TestApp>, from: usize, to: usize) {
    for chunk in (from..to).collect::<Vec<_>>().chunks(32) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|&i| {
                let app = app.clone();
                tokio::spawn(async move { app.stamp_ok(&copy_request(&format!("Tiled asset {i}"))).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    }
}

async fn get_bytes(app: &TestApp, path: &str) -> Vec<u8> {
    fetch(&app.client, &app.url(""), path).await
}

/// The bytes of a tile or bundle, checking how it is served.
pub async fn fetch(client: &reqwest::Client, base: &str, path: &str) -> Vec<u8> {
    let resp = client.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}: {:?}", resp.text().await);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream", "{path}");
    let cache = resp.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.contains("immutable") && cache.contains("max-age=31536000"), "{path}: {cache}");
    resp.bytes().await.unwrap().to_vec()
}

async fn tlog_checkpoint(app: &TestApp, verifier: &NoteVerifier) -> Checkpoint {
    let resp = app.get("/tlog/checkpoint").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    let cache = resp.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.contains("max-age=1"), "a checkpoint is cached for a second at most: {cache}");
    Checkpoint::open_signed(&resp.text().await.unwrap(), verifier).expect("the tlog checkpoint verifies")
}

/// Everything a tile client fetches for a tree of `size`: each tile's row, by id, and
/// each bundle's entries.
async fn fetch_tree(app: &TestApp, size: u64) -> (HashMap<TileId, Vec<u8>>, Vec<Vec<u8>>) {
    fetch_tiles(&app.client, &app.url(""), size).await
}

/// [`fetch_tree`] from any server.
pub async fn fetch_tiles(client: &reqwest::Client, base: &str, size: u64) -> (HashMap<TileId, Vec<u8>>, Vec<Vec<u8>>) {
    let mut rows = HashMap::new();
    let mut leaves = Vec::new();
    for level in tiles::tiles_for_size(size) {
        for (tile, width) in level.tiles() {
            let path = TilePath::Hashes { tile, width };
            let row = fetch(client, base, &format!("/tlog/{path}")).await;
            assert_eq!(row.len(), width.byte_len(), "{path}");
            rows.insert(tile, row);
            if tile.level() == 0 {
                let bundle = ai_provenance::tlog::tiles::BundleId::new(tile.index()).unwrap();
                let path = TilePath::Entries { bundle, width };
                let bytes = fetch(client, base, &format!("/tlog/{path}")).await;
                let entries = tiles::decode_bundle(&bytes).expect("a bundle decodes");
                assert_eq!(entries.len(), usize::from(width.get()), "{path}");
                leaves.extend(entries.into_iter().map(<[u8]>::to_vec));
            }
        }
    }
    (rows, leaves)
}

#[tokio::test]
async fn a_tile_client_recomputes_the_log_and_proves_from_tiles_alone() {
    let app = std::sync::Arc::new(spawn_app().await);
    let vkey = app.get("/v1/log/verifier-key").await.text().await.unwrap();
    let verifier = NoteVerifier::parse(vkey.trim()).unwrap();
    assert_eq!(tlog_checkpoint(&app, &verifier).await.size, 0);
    let (status, body) = app.get_json("/tlog/tile/0/000").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{body}");

    // 600 leaves: two full level 0 tiles and a partial one; a partial level 1 tile of 2.
    stamp_many(&app, 0, 600).await;
    let cp = tlog_checkpoint(&app, &verifier).await;
    assert_eq!(cp.size, 600);
    let (rows, leaves) = fetch_tree(&app, cp.size).await;
    assert_eq!(leaves.len(), 600);

    // Every tile recomputed from the bundles alone.
    let hashes: Vec<Sha256Digest> = leaves.iter().map(|l| merkle::leaf_hash(l)).collect();
    let rebuilt = tiles::build_tiles::<std::convert::Infallible, _>(0, &hashes, |_| Ok(None)).unwrap();
    assert_eq!(rebuilt.len(), rows.len());
    for tile in &rebuilt {
        assert_eq!(rows[&tile.id()], tile.as_bytes(), "{} differs from the one rebuilt from bundles", tile.id());
    }
    let mut tree = MemoryTree::new();
    hashes.iter().for_each(|h| tree.push(*h));
    assert_eq!(tree.root(), cp.root, "the bundles hold exactly the checkpoint's tree");

    // A proof from tiles alone, checked against the checkpoint and the JSON API's proof.
    let nodes = TileNodes(rows.clone());
    assert_eq!(merkle::root(&nodes, cp.size).unwrap(), cp.root);
    for index in [0u64, 255, 256, 511, 512, 599] {
        let proof = merkle::inclusion_proof(&nodes, index, cp.size).unwrap();
        merkle::verify_inclusion(&hashes[index as usize], index, cp.size, &proof, &cp.root).unwrap();
        let (_, json) = app.get_json(&format!("/v1/log/proof/inclusion?index={index}&tree_size=600")).await;
        let api: Vec<Sha256Digest> = json["inclusion_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h: &Value| Sha256Digest::from_hex(h.as_str().unwrap()).unwrap())
            .collect();
        assert_eq!(proof, api, "leaf {index}");
    }
    let (_, entries) = app.get_json("/v1/log/entries?start=597").await;
    let last = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        entries["entries"][2]["leaf_base64"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(last, leaves[599], "the JSON API serves the bundles' leaves");

    // Nothing past the checkpoint: not the next tile, nor a wider partial one.
    for path in ["/tlog/tile/0/003", "/tlog/tile/0/002.p/89", "/tlog/tile/entries/002.p/89", "/tlog/tile/1/000"] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("published tree of size 600"), "{body}");
    }
    for path in ["/tlog/tile/0/2", "/tlog/tile/0/002.p/0", "/tlog/tile/x/000", "/tlog/tile/64/000"] {
        let (status, body) = app.get_json(path).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{path}: {body}");
    }

    // Partial tiles are prefixes of the full tiles they become, and stay served.
    let partial0 = rows[&TileId::new(0, 2).unwrap()].clone();
    let partial_bundle = get_bytes(&app, "/tlog/tile/entries/002.p/88").await;
    stamp_many(&app, 600, 800).await;
    let later = tlog_checkpoint(&app, &verifier).await;
    assert_eq!(later.size, 800);
    let full0 = get_bytes(&app, "/tlog/tile/0/002").await;
    assert_eq!(&full0[..partial0.len()], &partial0[..], "a partial tile is a prefix of its full tile");
    assert_eq!(get_bytes(&app, "/tlog/tile/0/002.p/88").await, partial0, "an old partial tile is still served");
    let full_bundle = get_bytes(&app, "/tlog/tile/entries/002").await;
    assert_eq!(&full_bundle[..partial_bundle.len()], &partial_bundle[..]);
    let (later_rows, _) = fetch_tree(&app, later.size).await;
    assert_eq!(merkle::root(&TileNodes(later_rows.clone()), 800).unwrap(), later.root);
    // The two checkpoints are consistent, by a proof from the later tiles alone.
    let proof = merkle::consistency_proof(&TileNodes(later_rows), 600, 800).unwrap();
    merkle::verify_consistency(600, 800, &cp.root, &later.root, &proof).unwrap();
    assert_eq!(tiles::tile_for_size(TileId::new(1, 0).unwrap(), 800), TileWidth::new(3));

    // Gzip where the client asks for it.
    let resp =
        app.client.get(app.url("/tlog/tile/entries/000")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(resp.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
    let compressed = resp.bytes().await.unwrap();
    let plain = get_bytes(&app, "/tlog/tile/entries/000").await;
    assert!(compressed.len() * 2 < plain.len(), "{} gzip bytes for {} bytes", compressed.len(), plain.len());
}
