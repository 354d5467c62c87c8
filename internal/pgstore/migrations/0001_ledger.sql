-- The ledger: the same layout as the SQLite file (ledger/README.md, "SQLite layout").
-- Text columns that are sorted use the "C" collation so that PostgreSQL orders them by
-- their bytes, as SQLite does, whatever the database's default locale.
CREATE TABLE entries (
	gseq     BIGINT PRIMARY KEY,             -- append number across incidents, 1-based
	incident TEXT COLLATE "C" NOT NULL,
	seq      BIGINT NOT NULL,                -- 1-based within the incident
	key      TEXT COLLATE "C" NOT NULL,      -- idempotency key
	kind     TEXT NOT NULL,
	at       TEXT NOT NULL,                  -- RFC 3339, as in body
	day      TEXT COLLATE "C" NOT NULL,      -- UTC day the store appended it (YYYY-MM-DD)
	prev     TEXT NOT NULL,                  -- hash of the incident's previous entry
	hash     TEXT NOT NULL,                  -- sha256(body)
	chain    TEXT NOT NULL,                  -- sha256(previous entry's chain || hash), in gseq order
	body     TEXT NOT NULL,                  -- canonical encoding
	UNIQUE (incident, seq),
	UNIQUE (incident, key)
);
CREATE INDEX entries_day ON entries (day, gseq);

CREATE TABLE incidents (
	incident TEXT COLLATE "C" PRIMARY KEY,
	seq      BIGINT NOT NULL,                -- last seq appended
	hash     TEXT NOT NULL                   -- its hash
);

CREATE TABLE days (
	day           TEXT COLLATE "C" PRIMARY KEY,  -- YYYY-MM-DD, UTC
	prev_head     TEXT NOT NULL,                 -- head of the previous day with entries, '' for the first
	head          TEXT NOT NULL,                 -- chain of the last entry appended that day
	first         BIGINT NOT NULL,               -- gseq range covered
	last          BIGINT NOT NULL,
	last_incident TEXT COLLATE "C" NOT NULL,     -- the last entry covered
	last_seq      BIGINT NOT NULL
);

-- Signed checkpoints (ledger.DatabaseSink), numbered in the order written: a record
-- of the ledger's heads every worker shares. Not an anchor out of the database
-- owner's reach: for that, ledger.s3 and ledger.anchors.file.
CREATE TABLE checkpoints (
	n    BIGSERIAL PRIMARY KEY,
	body TEXT NOT NULL
);

-- Append-only for every writer that does not first disable the triggers (which takes
-- the table's owner); the hash chains and the signed checkpoints catch anyone who does.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'ledger %: rows are append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
