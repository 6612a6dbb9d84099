-- The log as C2SP tlog-tiles, its indexes and tree state, and the service's own tables.
-- Portable SQL: PostgreSQL, CockroachDB and YugabyteDB accept all of it.

-- One row: the tree every node serves, and which node may extend it until when.
CREATE TABLE log_tree (
    id INT PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL,
    -- The signed checkpoint of `size`, written in the transaction that extends the tree.
    checkpoint TEXT,
    -- The node that holds the sequencer lease, and when the lease ends (database time).
    sequencer TEXT,
    lease_until TIMESTAMPTZ
);
INSERT INTO log_tree (id, size) VALUES (1, 0);

CREATE TABLE log_meta (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

-- Hash tiles: a right-edge tile is rewritten as it grows, wider each time.
CREATE TABLE log_tiles (
    level SMALLINT NOT NULL,
    idx BIGINT NOT NULL,
    hashes BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

-- The log's entries, one row each: a leaf is read by its index alone (verification reads
-- one leaf, not its bundle), and bundle N is the entries 256N to 256N + 255, in order.
CREATE TABLE log_entries (
    idx BIGINT PRIMARY KEY,
    entry BYTEA NOT NULL
);

-- Stamp id (leaf hash) to leaf index.
CREATE TABLE log_leaves (
    leaf_hash BYTEA PRIMARY KEY,
    idx BIGINT NOT NULL
);

CREATE TABLE log_by_content (
    digest BYTEA NOT NULL,
    idx BIGINT NOT NULL,
    PRIMARY KEY (digest, idx)
);

CREATE TABLE log_by_text (
    digest BYTEA NOT NULL,
    idx BIGINT NOT NULL,
    PRIMARY KEY (digest, idx)
);

-- Prompt salts, sealed with a key that never enters the database (docs/contract.md §7).
CREATE TABLE log_salts (
    idx BIGINT PRIMARY KEY,
    sealed BYTEA NOT NULL
);

-- Stamps accepted by any node, waiting for the sequencer to integrate them.
CREATE TABLE log_pending (
    id BIGSERIAL PRIMARY KEY,
    node TEXT NOT NULL,
    leaf BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL,
    content BYTEA NOT NULL,
    text_digest BYTEA,
    sealed_salt BYTEA,
    queued_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Issuer tokens by the SHA-256 of their secret; the record is JSON.
CREATE TABLE issuer_tokens (
    hash BYTEA PRIMARY KEY,
    record TEXT NOT NULL
);

CREATE TABLE erasure_register (
    seq BIGSERIAL PRIMARY KEY,
    stamp_id TEXT NOT NULL,
    record TEXT NOT NULL
);

-- Token buckets shared by every node.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    at TIMESTAMPTZ NOT NULL
);
