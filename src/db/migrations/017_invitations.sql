-- Invitations by email (invitations module): a single-use link, kept only as the SHA-256 of its
-- token, that lets a person join an organization (or some of its workspaces) with a role. Accepting
-- sets accepted_at in the same statement that checks the invitation is still open, so a link works
-- once. A resend replaces the token: the older link stops working.
CREATE TABLE invitations (
  id               text PRIMARY KEY,
  organization_id  text NOT NULL REFERENCES organizations(id),
  email            text NOT NULL,
  role             text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'read_only')),
  workspace_ids    text[] NOT NULL DEFAULT '{}',
  token_hash       text NOT NULL UNIQUE,
  invited_by       text NOT NULL,
  mail_id          text,
  expires_at       timestamptz NOT NULL,
  accepted_at      timestamptz,
  accepted_by      text,
  revoked_at       timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invitations_org_idx ON invitations (organization_id, created_at, id);
-- One open invitation per person and organization.
CREATE UNIQUE INDEX invitations_open_idx ON invitations (organization_id, lower(email)) WHERE accepted_at IS NULL AND revoked_at IS NULL;
