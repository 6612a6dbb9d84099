//! The progress bar of long commands (`stamp` of a folder, `audit`).

/// A bar drawn on stderr, and only when it is a terminal: logs and CI stay clean.
pub(super) fn bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} leaves ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
