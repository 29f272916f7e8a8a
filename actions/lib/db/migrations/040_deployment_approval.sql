-- Who approved a deployment (issue #11.9): the pull request that landed the version, who merged it
-- and when (promoted_at: the merge time, never the training time), why (the pull request's title),
-- who approved the merged head (GitHub only) and how the reviewed run was checked (#11.7):
-- 'github', 'git', or why it could not be. source says where the facts come from. Rows written
-- before this migration keep NULLs: nothing was known then.
ALTER TABLE mlops.deployments
  ADD COLUMN pull_request integer,
  ADD COLUMN pull_request_url text,
  ADD COLUMN merged_by text,
  ADD COLUMN promoted_at timestamptz,
  ADD COLUMN reason text,
  ADD COLUMN approved_by jsonb NOT NULL DEFAULT '[]'::jsonb,
  ADD COLUMN review_check text,
  ADD COLUMN approval_source text CHECK (approval_source IN ('github', 'git'));
