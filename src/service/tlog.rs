//! The log as C2SP tlog-tiles resources (<https://c2sp.org/tlog-tiles>), read-only: hash
//! tiles and entry bundles of the published tree. A tile or bundle is served at a width
//! only when the newest checkpoint covers it, so nothing unpublished is ever served and
//! what is served at a path never changes.

use super::Service;
use crate::error::ApiError;
use crate::log::tiles::{self, TilePath};

impl Service {
    /// The bytes of the tile or bundle at `path` (blocking).
    ///
    /// # Errors
    /// `404` when the published tree does not hold it at that width (yet).
    pub fn tlog_resource(&self, path: TilePath) -> Result<Vec<u8>, ApiError> {
        let size = self.log.published_size();
        let (tile, width) = match path {
            TilePath::Hashes { tile, width } => (tile, width),
            TilePath::Entries { bundle, width } => (bundle.hash_tile(), width),
        };
        let published = tiles::tile_for_size(tile, size).filter(|w| *w >= width);
        if published.is_none() {
            let shown = if width.is_full() { "full".to_owned() } else { format!("{} wide", width.get()) };
            return Err(ApiError::NotFound(format!(
                "{path} is not in the published tree of size {size} ({tile}, {shown}); \
                 GET /tlog/checkpoint says which tiles exist"
            )));
        }
        let missing = || ApiError::internal(anyhow::anyhow!("{path} is published but not stored"));
        match path {
            TilePath::Hashes { tile, width } => {
                let row = self.log.tile(tile).map_err(ApiError::from)?.ok_or_else(missing)?;
                row.get(..width.byte_len()).map(<[u8]>::to_vec).ok_or_else(missing)
            }
            TilePath::Entries { bundle, width } => {
                let bytes = self.log.bundle(bundle).map_err(ApiError::from)?.ok_or_else(missing)?;
                let prefix = tiles::bundle_prefix(&bytes, usize::from(width.get())).map_err(ApiError::internal)?;
                Ok(prefix.to_vec())
            }
        }
    }
}
