// Package ledger is sever's accountability ledger: an append-only, hash-chained record of
// every signal received, policy decision, approval decision and step outcome, kept in a
// SQLite file (Open) so an auditor can check, from evidence alone, that the enterprise's
// own controls worked; or, when workers run on several hosts, in PostgreSQL
// (OpenPostgres), with the same tables, bytes and hashes. It imports no Temporal code;
// an activity calls Append.
//
// # Entries and the incident chain
//
// Each incident has its own chain. Entry seq n (1-based) carries in prev the hash of
// entry n-1 of the same incident ("" for seq 1), and in hash the SHA-256 of its
// canonical encoding. Append assigns seq, prev, hash (and at, when zero) inside one
// serialized transaction (SQLite's write lock, or an advisory lock of the ledger on
// PostgreSQL, so appends from any number of processes form one chain), and is idempotent on (incident, key): a retried append
// returns the stored entry and writes nothing.
//
// # Canonical encoding
//
// The canonical encoding of an entry is the compact JSON object (no whitespace, no
// trailing newline) with exactly these keys in exactly this order:
//
//	incident, seq, at, kind, actor, enforcement, policy_rule, step, action,
//	args_sha256, evidence, result, detail, key, prev
//
// hash is not part of it. Every key is always present: strings may be "", evidence is
// a JSON array ([] when empty) of objects with the keys name, uri, sha256, size in that
// order, and detail is an object ({} when empty) whose keys are sorted by their UTF-8
// bytes. seq and size are JSON integers. at is the UTC time in RFC 3339 with
// nanoseconds and trailing zeros trimmed (Go's time.RFC3339Nano, "Z" suffix).
// Strings are written with the minimal JSON escapes (only " and \ are escaped; no HTML
// escaping). Append guarantees that the rest needs no escape at all: it refuses
// identifiers and rewrites free text so that no string holds a control character
// (U+0000–U+001F, U+007F–U+009F), U+2028, U+2029 or invalid UTF-8. The encoding is
// therefore byte-for-byte what `jq -cj 'del(.hash)'` prints for an entry as it appears
// in a bundle, and the SQLite file stores it verbatim in entries.body, so
//
//	hash = lowercase hex SHA-256 of the canonical bytes
//
// can be recomputed with sqlite3, jq and sha256sum (see README.md).
//
// # The day chain
//
// Every entry also gets a global append number (gseq, 1-based across incidents) and a
// running hash, chain = hex SHA-256 of the ASCII concatenation of the previous entry's
// chain (in gseq order; "" before the first entry ever) and the entry's own hash. The
// day head of a UTC day is the chain value of the last entry appended that day, so a
// day's head is a running hash over (the previous day's head, each entry hash appended
// that day in append order). The days table seals each day's head with the range of
// append numbers it covers; the incidents table records each incident's last seq and
// hash. The day an entry belongs to is the day the store appended it (never earlier
// than the latest sealed day, so a clock step backwards cannot reopen a past day), not
// necessarily the day of its at.
//
// # Verification
//
// Verify and VerifyAll recompute every hash and link and report the first broken link
// as a Break whose Reason is edited, deleted, reordered, inserted or day_head_mismatch.
// A chain proves that a file is internally consistent; someone who can rewrite the
// whole file can also rewrite every hash after the point they changed, and cut its
// end off with the head records patched. Signed checkpoints of the heads (Checkpoint,
// Anchorer), written to sinks the host cannot rewrite (the S3 Object Lock copy of
// package worm, an append-only FileSink), anchor the chain: with Anchors configured,
// VerifyAll and Verify report a ledger behind them as truncated, and Export refuses
// to sign it. Bundles verify only against a trusted key (VerifyBundle). VerifyChain checks entries read back from outside the
// store, such as that copy.
package ledger
