-- The evidence index (package evidence): artifacts content-addressed by SHA-256, kept
-- in the database when sever is scaled out so that no worker writes a local file. The
-- size is capped by the writer (evidence.MaxDBArtifactBytes) and by the CHECK below.
CREATE TABLE evidence (
	incident   TEXT COLLATE "C" NOT NULL,
	name       TEXT COLLATE "C" NOT NULL,
	sha256     TEXT NOT NULL,
	size       BIGINT NOT NULL,
	body       BYTEA NOT NULL CHECK (octet_length(body) <= 4194304),
	created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
	PRIMARY KEY (incident, name, sha256)
);
CREATE TRIGGER evidence_no_update BEFORE UPDATE ON evidence FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER evidence_no_delete BEFORE DELETE ON evidence FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
