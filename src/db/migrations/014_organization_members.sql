-- Organizations run their own people: a person may belong to an organization with a role of its own
-- (owner, admin, member, read_only), which its workspaces inherit unless a workspace grants more.
-- Seats stay people: the distinct persons among an organization's members and its workspaces' members.
-- A workspace may be archived by its organization's owners (it keeps its data and history; it stops
-- counting against the plan's workspace limit). Audit entries may name the organization they concern,
-- so an organization's owners can read its trail; the hash covers the column only when it is set, so
-- every entry written before keeps its hash. Expand only: the previous release ignores all of it.
CREATE TABLE organization_members (
  organization_id  text NOT NULL REFERENCES organizations(id),
  user_id          text NOT NULL REFERENCES users(id),
  role             text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'read_only')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_members_user_idx ON organization_members (user_id);

ALTER TABLE organizations ADD COLUMN workspace_limit integer CHECK (workspace_limit IS NULL OR workspace_limit > 0);
ALTER TABLE workspaces ADD COLUMN archived_at timestamptz;

ALTER TABLE audit_log ADD COLUMN organization_id text;
CREATE INDEX audit_organization_idx ON audit_log (organization_id, seq) WHERE organization_id IS NOT NULL;
