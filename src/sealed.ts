import type { Kysely } from 'kysely';
import type { DB } from './db/types.js';
import { authSealedColumns } from './modules/auth/sealed.js';
import { mailSealedColumns } from './modules/mail/sealed.js';
import { inboundSealedColumns } from './modules/inbound/sealed.js';
import { adminSecretSealedColumns } from './modules/providers/sealed.js';
import { ssoSealedColumns } from './modules/sso/sealed.js';
import type { SealedColumns } from './modules/vault/sealed.js';
import { credentialSealedColumns } from './modules/vault/service.js';
import { webhookSealedColumns } from './modules/webhooks/sealed.js';

/**
 * Every module's sealed columns: what `vault rewrap` moves to the active master key and a restore
 * checks. A module that seals something new adds its own here.
 */
export const sealedColumnsOf = (db: Kysely<DB>): SealedColumns[] => [
  credentialSealedColumns(db),
  adminSecretSealedColumns(db),
  ...webhookSealedColumns(db),
  ...inboundSealedColumns(db),
  authSealedColumns(db),
  mailSealedColumns(db),
  ssoSealedColumns(db),
];
