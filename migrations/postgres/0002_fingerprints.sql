-- Fingerprints (docs/contract.md §12): what finds a stamp whose content is no longer
-- byte for byte what was stamped. Nullable columns, so that a node of the previous
-- version can still queue stamps during a rolling upgrade.

-- A queued stamp's Content-Code (its 34-byte ISCC-UNIT) and its sentences' hashes
-- (32 bytes each, one after the other).
ALTER TABLE log_pending ADD COLUMN code BYTEA;
ALTER TABLE log_pending ADD COLUMN sentences BYTEA;

-- The hash of a sentence of a stamped text to the leaf.
CREATE TABLE log_by_sentence (
    digest BYTEA NOT NULL,
    idx BIGINT NOT NULL,
    PRIMARY KEY (digest, idx)
);

-- Each leaf's Content-Code, read in index order by every node's similarity index.
CREATE TABLE log_codes (
    idx BIGINT PRIMARY KEY,
    code BYTEA NOT NULL
);
