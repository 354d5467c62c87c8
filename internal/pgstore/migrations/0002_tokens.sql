-- The token store (package tokenstore): one row per token, the token's JSON document
-- (never its value, only its ID). Changes are made under SELECT ... FOR UPDATE.
CREATE TABLE tokens (
	id  TEXT COLLATE "C" PRIMARY KEY,
	doc TEXT NOT NULL
);
