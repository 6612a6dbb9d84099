//! `aiprov migrate`: converts a data directory to the current storage format, offline.

use std::path::Path;

use anyhow::Context;

pub(super) fn migrate(data: &Path) -> anyhow::Result<()> {
    if !data.join("log").exists() {
        anyhow::bail!("{} holds no log (no `log` directory): nothing to convert", data.display());
    }
    let started = std::time::Instant::now();
    let done = crate::storage::local::migrate(data).with_context(|| {
        format!("converting {} (is the service stopped? sled lets one process open it)", data.display())
    })?;
    match done {
        None => {
            println!("{} is in storage format {} already: nothing to do.", data.display(), crate::log::STORAGE_FORMAT)
        }
        Some(m) => println!(
            "Converted {} from storage format {} to {} in {:.1} s: {} leaves, {} prompt salts; root {} (unchanged).",
            data.display(),
            m.from_format,
            crate::log::STORAGE_FORMAT,
            started.elapsed().as_secs_f64(),
            m.leaves,
            m.salts,
            m.root
        ),
    }
    Ok(())
}
