//! The load tool's fingerprint mode (`load -- similar [CODES] [LOOKUPS]`):
//!
//! 1. False matches: the Hamming distances of every pair of 1,500 generated marketing
//!    texts and of 1,500 generated images (1,124,250 unrelated pairs each), their
//!    minimum and low percentiles beside the thresholds, and the false-match probability
//!    per lookup among 10,000,000 codes, estimated from the distribution's binomial fit.
//! 2. Lookups among CODES codes (default 10,000,000) held in the similarity index: p50 and
//!    p99 of LOOKUPS image lookups (goal p99 under 20 ms) and of text lookups (goal under
//!    50 ms), the median of 5 runs, and the resident memory the codes take (goal under
//!    1 GiB). The bulk of the codes is uniformly random; the queries are real codes of
//!    changed images and edited texts, whose originals are among them.
//! 3. `POST /sbr/v1/matches/byContent` with a 1-megapixel JPEG on the real server, per
//!    second, beside this machine's JPEG decode rate (one decode per public slot).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ai_provenance::fingerprint::text::text_code;
use ai_provenance::fingerprint::{image_code, max_distance, CodeKind, ContentCode};
use ai_provenance::{LogIndex, SimilarityIndex};

use super::corpus::images::{generated_png, CHANGES, DEFEATS};
use super::corpus::{edit_one_word, marketing_text, Rng};

const CORPUS: u64 = 1500;

pub async fn main(mut args: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let codes: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10_000_000);
    let lookups: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    println!("load similar: {codes} codes, {lookups} lookups per run\n");

    let started = Instant::now();
    let texts: Vec<ContentCode> = (0..CORPUS).map(|i| text_code(&marketing_text(i)).expect("a Text-Code")).collect();
    // The real photographs first (when they can be fetched), then generated images.
    let mut pngs: Vec<Vec<u8>> = super::corpus::photos::photographs().into_iter().map(|(_, bytes)| bytes).collect();
    let photographs = pngs.len();
    pngs.extend((0..CORPUS - photographs as u64).map(generated_png));
    let images: Vec<ContentCode> = pngs.iter().map(|p| image_code(p).expect("an Image-Code")).collect();
    println!(
        "corpus: {CORPUS} texts and {CORPUS} images ({photographs} of them photographs) fingerprinted in {:.1} s\n",
        started.elapsed().as_secs_f64()
    );

    println!("## 1. Distances between unrelated content\n");
    println!("| kind | pairs | min | 0.0001% | 0.001% | 0.01% | 0.1% | 1% | median | threshold | P(false match) per lookup among 10M |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (kind, set) in [(CodeKind::Text, &texts), (CodeKind::Image, &images)] {
        distances_row(kind, set);
    }
    // What the thresholds must stay above: the distances the everyday changes make.
    println!("\n| change | cases | median | 95% | 99% | max | threshold |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let edited: Vec<u32> = (0..CORPUS)
        .map(|i| {
            texts[i as usize].distance(&text_code(&edit_one_word(&marketing_text(i), i, i * 7)).expect("a Text-Code"))
        })
        .collect();
    change_row("text: one word changed, added or removed", edited, max_distance(CodeKind::Text));
    for (label, change) in CHANGES.iter().chain(DEFEATS.iter()) {
        let d: Vec<u32> = pngs[..300]
            .iter()
            .zip(&images)
            .filter_map(|(png, code)| image_code(&change(png)).map(|c| c.distance(code)))
            .collect();
        change_row(&format!("image: {label}"), d, max_distance(CodeKind::Image));
    }
    if codes == 0 {
        return Ok(());
    }

    println!("\n## 2. Lookups among {codes} codes\n");
    let queries = image_queries(&pngs[..100.min(pngs.len())]);
    lookup_runs(CodeKind::Image, codes, &images, &queries, lookups);
    let queries: Vec<ContentCode> =
        (0..100).map(|i| text_code(&edit_one_word(&marketing_text(i), i, i * 7)).expect("a Text-Code")).collect();
    lookup_runs(CodeKind::Text, codes, &texts, &queries, lookups);

    println!("\n## 3. byContent with a 1-megapixel JPEG\n");
    by_content(&pngs).await?;
    Ok(())
}

fn distances_row(kind: CodeKind, set: &[ContentCode]) {
    let mut d: Vec<u32> = Vec::with_capacity(set.len() * set.len() / 2);
    for (i, a) in set.iter().enumerate() {
        for b in &set[i + 1..] {
            d.push(a.distance(b));
        }
    }
    d.sort_unstable();
    let n = d.len() as f64;
    let at = |q: f64| d[((n * q) as usize).min(d.len() - 1)];
    // A binomial fit (256 bits, each differing with the mean's share) of how likely an
    // unrelated code falls within the threshold, then among 10,000,000 codes.
    let mean = d.iter().map(|&x| x as f64).sum::<f64>() / n;
    let threshold = max_distance(kind);
    let p = mean / 256.0;
    let tail: f64 = (0..=threshold).map(|k| binomial(256, k, p)).sum();
    let per_lookup = 1.0 - (1.0 - tail).powf(1e7);
    let observed = d.iter().take_while(|&&x| x <= threshold).count();
    println!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} ({} pairs within it) | {:.1e} |",
        kind.as_str(),
        d.len(),
        d[0],
        at(0.000_001),
        at(0.000_01),
        at(0.0001),
        at(0.001),
        at(0.01),
        at(0.5),
        threshold,
        observed,
        per_lookup.max(tail * 1e7)
    );
}

fn change_row(label: &str, mut d: Vec<u32>, threshold: u32) {
    d.sort_unstable();
    let at = |q: f64| d[((d.len() as f64 * q) as usize).min(d.len() - 1)];
    println!(
        "| {label} | {} | {} | {} | {} | {} | {threshold} |",
        d.len(),
        at(0.5),
        at(0.95),
        at(0.99),
        d[d.len() - 1]
    );
}

/// The probability of exactly `k` of `n` bits differing when each does with `p`.
fn binomial(n: u32, k: u32, p: f64) -> f64 {
    let ln_choose: f64 = (1..=k).map(|i| ((n - k + i) as f64).ln() - (i as f64).ln()).sum();
    (ln_choose + k as f64 * p.ln() + (n - k) as f64 * (1.0 - p).ln()).exp()
}

/// The codes of each changed version of `pngs`.
fn image_queries(pngs: &[Vec<u8>]) -> Vec<ContentCode> {
    let mut queries = Vec::new();
    for png in pngs {
        for (_, change) in CHANGES {
            if let Some(code) = image_code(&change(png)) {
                queries.push(code);
            }
        }
    }
    queries
}

/// Five runs of `lookups` lookups among `total` codes of `kind`: `real` among random ones.
fn lookup_runs(kind: CodeKind, total: usize, real: &[ContentCode], queries: &[ContentCode], lookups: usize) {
    let rss_before = super::memory_mib().0;
    let started = Instant::now();
    let mut rng = Rng(99);
    let mut all = Vec::with_capacity(total);
    let every = (total / real.len().max(1)).max(1);
    for i in 0..total {
        let code = if i % every == 0 && i / every < real.len() {
            real[i / every]
        } else {
            ContentCode::from_words(kind, [rng.next(), rng.next(), rng.next(), rng.next()])
        };
        all.push((LogIndex(i as u64), code));
    }
    let index = SimilarityIndex::from_codes(all);
    let built = started.elapsed();
    let rss = super::memory_mib().0.saturating_sub(rss_before);
    let mut p99s = Vec::new();
    let mut p50s = Vec::new();
    let mut found = 0;
    for _ in 0..5 {
        let mut lat = Vec::with_capacity(lookups);
        found = 0;
        for i in 0..lookups {
            let q = &queries[i % queries.len()];
            let t = Instant::now();
            let hits = index.find(q, max_distance(kind), u64::MAX, 10);
            lat.push(t.elapsed());
            found += usize::from(!hits.is_empty());
        }
        lat.sort();
        p50s.push(lat[lat.len() / 2]);
        p99s.push(lat[lat.len() * 99 / 100]);
    }
    p50s.sort();
    p99s.sort();
    let goal = if kind == CodeKind::Image { Duration::from_millis(20) } else { Duration::from_millis(50) };
    println!(
        "{} lookups among {} codes (built in {:.1} s, {} MiB resident, {:.0} bytes a code): p50 {:.2} ms, p99 {:.2} ms (median of 5 runs; goal p99 under {} ms); {}/{} queries found",
        kind.as_str(),
        index.len(kind),
        built.as_secs_f64(),
        rss,
        (rss as f64 * 1048576.0) / total as f64,
        p50s[2].as_secs_f64() * 1e3,
        p99s[2].as_secs_f64() * 1e3,
        goal.as_millis(),
        found,
        lookups
    );
}

/// `byContent` lookups of a 1-megapixel JPEG per second, and JPEG decodes per second.
async fn by_content(pngs: &[Vec<u8>]) -> anyhow::Result<()> {
    let photo = super::corpus::images::decode(&pngs[0]).resize_exact(1155, 866, image::imageops::FilterType::Triangle);
    let jpeg = super::corpus::images::encode(&photo, image::ImageFormat::Jpeg);
    let decode_started = Instant::now();
    let decoded = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while decode_started.elapsed() < Duration::from_secs(3) {
                    std::hint::black_box(image::load_from_memory(&jpeg).expect("decodes"));
                    decoded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    let decodes_per_s = decoded.into_inner() as f64 / decode_started.elapsed().as_secs_f64();

    let bench = super::start_service()?;
    let client = reqwest::Client::new();
    // A few stamped images, so that the lookups find something.
    for png in pngs.iter().take(20) {
        let body = serde_json::json!({
            "content_base64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, png),
            "media_type": "image/png",
            "kind": "image",
            "generator": {"provider": "ExampleAI", "model": "imager"},
            "disclosure": {"text": "This image was generated with AI.", "lang": "en"}
        });
        let resp =
            client.post(format!("{}/v1/stamps", bench.base)).bearer_auth(&bench.token).json(&body).send().await?;
        anyhow::ensure!(resp.status() == 201, "stamping an image: {}", resp.status());
    }
    let jpeg_kib = jpeg.len() / 1024;
    let (c, b, body) = (client.clone(), bench.base.clone(), Arc::new(jpeg));
    let phase = super::drive(4, 400, move |_| {
        c.post(format!("{b}/sbr/v1/matches/byContent?alg=io.iscc.v0"))
            .header("content-type", "image/jpeg")
            .body(body.as_ref().clone())
    })
    .await;
    println!(
        "byContent, 1-megapixel JPEG (1155x866, {} KiB), 4 clients: {:.0} lookups/s, p50 {:.1} ms, p99 {:.1} ms; this machine decodes that JPEG {:.0} times/s on 2 threads (the public decode slots)",
        jpeg_kib,
        phase.per_sec,
        phase.p50.as_secs_f64() * 1e3,
        phase.p99.as_secs_f64() * 1e3,
        decodes_per_s
    );
    Ok(())
}
