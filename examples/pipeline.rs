//! A content pipeline stamping generated copy as a library call: what `aiprov stamp`
//! does, in a dozen lines of your own code.
//!
//! ```sh
//! AIPROV_URL=http://127.0.0.1:8080 AIPROV_TOKEN=aiprov_... cargo run --example pipeline -- ./generated-copy
//! ```
//! With no folder it stamps three lines of copy generated in memory.

use ai_provenance::cli::batch::{stamp_files, StampTemplate};
use ai_provenance::cli::client::Client;
use ai_provenance::cli::walk::walk;
use ai_provenance::statement::{Disclosure, Generator, HumanOversight, Kind};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("AIPROV_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("AIPROV_TOKEN").map_err(|_| anyhow::anyhow!("set AIPROV_TOKEN to an issuer token"))?;
    let client = Client::new(&url, Some(token))?;
    let template = StampTemplate {
        kind: Kind::MarketingCopy,
        generator: Generator {
            provider: "ExampleAI".into(),
            model: "copywriter".into(),
            model_version: Some("2026-10".into()),
        },
        disclosure: Disclosure {
            text: "This text was generated with AI and reviewed by our team.".into(),
            lang: "en".into(),
        },
        digital_source_type: None,
        human_oversight: Some(HumanOversight::Reviewed),
        prompt: Some("Three taglines for an autumn jacket sale".into()),
        explanation: None,
    };

    match std::env::args_os().nth(1) {
        Some(folder) => {
            let files = walk(std::path::Path::new(&folder), false)?.files;
            // Stops (with an error) at a refused token or a service that is down.
            stamp_files(&client, &template, files, 8, |outcome| match (outcome.receipt, outcome.error) {
                (Some(r), _) => println!("{} -> {} (log index {})", outcome.file, r.receipt.id, r.receipt.log.index),
                (None, e) => eprintln!("{} failed: {}", outcome.file, e.unwrap_or_default()),
            })
            .await?;
        }
        None => {
            for line in ["Warm days, warmer jackets.", "Autumn, but cosier.", "30% off until Sunday."] {
                let stamped = client.stamp(&template.for_bytes(line.as_bytes().to_vec(), None)).await?;
                // Keep `prompt_salt` with your own records: it proves later which prompt was used.
                println!("{line:?} -> {} (salt kept: {})", stamped.receipt.id, stamped.prompt_salt.is_some());
            }
        }
    }
    Ok(())
}
