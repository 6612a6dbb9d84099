//! [`LogStorage`]: what a backend hands the log when it is opened.

use std::sync::Arc;

use crate::log::sequencer::Sequencer;
use crate::log::store::{CodeStore, ContentIndex, LogStore, SaltStore};

/// What a backend gives the log: its objects, its content index, its salts, and its
/// part of extending the tree.
pub struct LogStorage {
    pub store: Arc<dyn LogStore>,
    pub index: Arc<dyn ContentIndex>,
    pub codes: Arc<dyn CodeStore>,
    pub salts: Arc<dyn SaltStore>,
    pub sequencer: Box<dyn Sequencer>,
}
