import { createContext, useContext } from 'react';
import type { Me } from './api';

/** The signed-in person, for every page below the shell. */
export const MeContext = createContext<Me | null>(null);

export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error('useMe outside a signed-in page');
  return me;
}

/**
 * Whether this person may change things in a workspace. The portal only hides the controls;
 * the API refuses the write anyway (a read_only member's scopes hold no `:write`).
 */
export function canWrite(me: Me, workspaceId: string): boolean {
  if (me.user.platform_admin) return true;
  const role = me.user.memberships.find((m) => m.workspace_id === workspaceId)?.role;
  return role !== undefined && role !== 'read_only';
}

export const useCanWrite = (workspaceId: string) => canWrite(useMe(), workspaceId);
