-- 0005: placeholder on branch h-ledger only. Migration 0005 belongs to the CRL work
-- (issue 19: the revoked-unexpired index by issuer); the runner refuses gaps, so this
-- empty file stands in for it until the branches merge. DELETE THIS FILE AT MERGE.
SELECT 1;
