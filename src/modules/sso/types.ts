import type { Executor } from '../../db/types.js';
import type { Actor, OrgRole } from '../../http/actor.js';

export type { OrgRole };

/** What single sign-on needs of tenancy: organization roles, and people found or made by email. */
export interface SsoTenancy {
  requireOrganizationRole(actor: Actor, organizationId: string, minimum: OrgRole): Promise<unknown>;
  /** Throws unless the actor holds at least this role in the organization (nobody grants above their own). */
  requireOrgRoleWithin(actor: Actor, organizationId: string, role: OrgRole): void;
  joinOrganization(trx: Executor, actor: Actor, organizationId: string, userId: string, role: OrgRole): Promise<unknown>;
  createPerson(trx: Executor, actor: Actor, input: { email: string; name: string; passwordHash: string | null }): Promise<{ id: string }>;
  findPersonByEmail(email: string): Promise<{ id: string; platform_admin: boolean } | null | undefined>;
  /** The organizations a person is of: an organization role, or a member of one of its workspaces. */
  organizationsOfPerson(userId: string): Promise<string[]>;
}

/** The secret is sealed to its organization: a ciphertext copied to another organization's row will not open. */
export const ssoBinding = (organizationId: string) => `sso:${organizationId}|client_secret`;
