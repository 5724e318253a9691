import type { Executor } from '../../db/types.js';
import type { Actor, OrgRole } from '../../http/actor.js';

export type { OrgRole };

/** What single sign-on needs of tenancy: organization roles, and people found or made by email. */
export interface SsoTenancy {
  requireOrganizationRole(actor: Actor, organizationId: string, minimum: OrgRole): Promise<unknown>;
  joinOrganization(trx: Executor, actor: Actor, organizationId: string, userId: string, role: OrgRole): Promise<unknown>;
  createPerson(trx: Executor, actor: Actor, input: { email: string; name: string; passwordHash: string | null }): Promise<{ id: string }>;
  findPersonByEmail(email: string): Promise<{ id: string } | null | undefined>;
  organizationRolesOf(userId: string): Promise<{ organization_id: string; role: OrgRole }[]>;
  /** Whether the person is of the organization: an organization role, or a member of one of its workspaces. */
  isPersonOfOrganization(organizationId: string, userId: string): Promise<boolean>;
}

/** The secret is sealed to its organization: a ciphertext copied to another organization's row will not open. */
export const ssoBinding = (organizationId: string) => `sso:${organizationId}|client_secret`;
