import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DB } from '../../src/db/types.js';
import { systemActor } from '../../src/http/actor.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { TEST_DB } from '../helpers/db.js';
import { CLI, cliTarget, describeCli, runCli, withTarget } from '../helpers/cli.js';

// Bulk credential import: POST /v1/credentials/import and `gatehouse import credentials FILE.csv`.
const rand = (label: string) => `${label}${randomBytes(12).toString('hex')}`;
const K1 = randomBytes(32).toString('base64');

const tmpDirs: string[] = [];
const tmp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tmpDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

const COLUMNS = ['workspace_id', 'provider', 'name', 'instance', 'api_key', 'provider_workspace_id', 'account_sid', 'auth_token', 'api_secret', 'signature_secret'] as const;
type CsvRow = Partial<Record<(typeof COLUMNS)[number], string>>;

const cell = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
function csvOf(rows: CsvRow[], columns: readonly string[] = COLUMNS): string {
  return [columns.join(','), ...rows.map((r) => columns.map((c) => cell((r as Record<string, string>)[c] ?? '')).join(','))].join('\n') + '\n';
}

/** Every secret a set of rows carries, by a label that says where it came from. */
function secretsOf(rows: CsvRow[]): Record<string, string> {
  const out: Record<string, string> = {};
  rows.forEach((r, i) => {
    for (const f of ['auth_token', 'api_secret', 'signature_secret'] as const) if (r[f]) out[`row${i}.${f}`] = r[f]!;
    if (r.provider === 'emailbison' && r.api_key) out[`row${i}.api_key`] = r.api_key;
  });
  return out;
}

function expectNoSecret(text: string, secrets: Record<string, string>, where: string) {
  for (const [label, secret] of Object.entries(secrets)) {
    for (const form of [secret, secret.slice(4, -4), Buffer.from(secret).toString('base64')]) {
      expect(text.includes(form), `${where} holds ${label}`).toBe(false);
    }
  }
}

/** What an import could write: credentials, their sealed secrets, and audit entries. */
async function writtenState(db: Kysely<DB>) {
  const creds = await sql<{ j: string }>`select row_to_json(c)::text as j from credentials c order by id`.execute(db);
  const secrets = await sql<{ j: string }>`select row_to_json(s)::text as j from credential_secrets s order by credential_id, field`.execute(db);
  const audit = await sql<{ n: string }>`select count(*)::text as n from audit_log`.execute(db);
  return { credentials: creds.rows.map((r) => r.j), secrets: secrets.rows.map((r) => r.j), audit: Number(audit.rows[0].n) };
}

const twilioRow = (ws: string, extra: CsvRow = {}): CsvRow => ({ workspace_id: ws, provider: 'twilio', account_sid: `AC${rand('')}`, auth_token: rand('twtok_'), ...extra });
const vonageRow = (ws: string, extra: CsvRow = {}): CsvRow => ({ workspace_id: ws, provider: 'vonage', api_key: rand('vk'), api_secret: rand('vosec_'), signature_secret: rand('vosig_'), ...extra });

// ---------------------------------------------------------------------------------------------
let t: TestApp;
let instance: { id: string; name: string };

beforeAll(async () => {
  t = await createTestApp({ GATEHOUSE_CREDENTIAL_CACHE_MS: '0' });
  const res = await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name: rand('agency-one-'), base_url: 'https://send.agency-one.example/api' });
  expect(res.status, res.raw).toBe(201);
  instance = res.body;
});
afterAll(() => t?.close());

// Each row its own team: one team belongs to one workspace.
let team = 7;
const ebRow = (ws: string, extra: CsvRow = {}): CsvRow => ({ workspace_id: ws, provider: 'emailbison', instance: instance.name, api_key: `12|${rand('ebtok')}`, provider_workspace_id: String(team++), ...extra });

async function importCsv(key: string, csv: string, dryRun?: boolean) {
  return t.call(key, 'POST', '/v1/credentials/import', dryRun === undefined ? { csv } : { csv, dry_run: dryRun });
}

describe('POST /v1/credentials/import', () => {
  test('a good file across workspaces and providers imports whole, with created/updated per row', async () => {
    const a = await seedWorkspace(t);
    const b = await seedWorkspace(t);
    // B already has a Twilio credential: its row updates it.
    const oldToken = rand('old_');
    const pre = await t.call(t.adminKey, 'PUT', `/v1/workspaces/${b.workspace.id}/credentials/twilio`, { account_sid: 'ACold', auth_token: oldToken });
    expect(pre.status, pre.raw).toBe(200);

    const rows: CsvRow[] = [
      twilioRow(a.workspace.id, { name: 'A, SMS' }),
      vonageRow(a.workspace.id),
      ebRow(a.workspace.id, { name: 'A "main" sending' }),
      twilioRow(b.workspace.id),
      ebRow(b.workspace.id, { instance: instance.id, provider_workspace_id: '' }),
    ];
    const before = await writtenState(t.db.database.db);
    const res = await importCsv(t.adminKey, csvOf(rows));
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toEqual({
      ok: true,
      dry_run: false,
      imported: 5,
      rows: [
        { row: 2, workspace_id: a.workspace.id, provider: 'twilio', status: 'created' },
        { row: 3, workspace_id: a.workspace.id, provider: 'vonage', status: 'created' },
        { row: 4, workspace_id: a.workspace.id, provider: 'emailbison', status: 'created' },
        { row: 5, workspace_id: b.workspace.id, provider: 'twilio', status: 'updated' },
        { row: 6, workspace_id: b.workspace.id, provider: 'emailbison', status: 'created' },
      ],
    });
    const after = await writtenState(t.db.database.db);
    expect(after.credentials.length).toBe(before.credentials.length + 4);
    // Twilio 1 + Vonage 2 + Email Bison 1, for A; Email Bison 1 for B (B's Twilio row is replaced in place).
    expect(after.secrets.length).toBe(before.secrets.length + 5);
    expect(after.audit).toBe(before.audit + 5);

    // Every value landed, sealed, and decrypts to what the file said.
    const vault = t.services.vault;
    const got = async (ws: string, p: 'twilio' | 'vonage' | 'emailbison') => vault.resolveWorkspaceCredential(ws, p);
    expect((await got(a.workspace.id, 'twilio')).secrets).toEqual({ auth_token: rows[0].auth_token });
    expect((await got(a.workspace.id, 'twilio')).fields).toEqual({ account_sid: rows[0].account_sid });
    expect((await got(a.workspace.id, 'vonage')).secrets).toEqual({ api_secret: rows[1].api_secret, signature_secret: rows[1].signature_secret });
    expect((await got(a.workspace.id, 'vonage')).fields).toEqual({ api_key: rows[1].api_key });
    const ebA = await got(a.workspace.id, 'emailbison');
    expect(ebA.secrets).toEqual({ api_key: rows[2].api_key });
    expect(ebA.fields).toEqual({ instance: instance.id, provider_workspace_id: '7' }); // the name resolved to the id
    expect(ebA.instanceBaseUrl).toBe('https://send.agency-one.example/api');
    expect((await got(b.workspace.id, 'twilio')).secrets).toEqual({ auth_token: rows[3].auth_token });
    expect((await got(b.workspace.id, 'emailbison')).fields).toEqual({ instance: instance.id });

    const listed = await t.call(t.adminKey, 'GET', `/v1/workspaces/${a.workspace.id}/credentials`);
    expect(listed.body.data.map((c: { provider: string; name: string | null }) => [c.provider, c.name])).toEqual([
      ['emailbison', 'A "main" sending'],
      ['twilio', 'A, SMS'],
      ['vonage', null],
    ]);

    const secrets = { ...secretsOf(rows), oldToken };
    const audit = await t.call(t.adminKey, 'GET', '/v1/audit?limit=1000');
    const actions = (audit.body.data as Array<{ action: string; workspace_id: string }>).filter((e) => [a.workspace.id, b.workspace.id].includes(e.workspace_id)).map((e) => e.action);
    expect(actions.filter((x) => x === 'credential.created')).toHaveLength(5); // 4 imported + B's first PUT
    expect(actions.filter((x) => x === 'credential.updated')).toHaveLength(1);
    expectNoSecret(res.raw, secrets, 'the import answer');
    expectNoSecret(listed.raw, secrets, 'the credential list');
    expectNoSecret(audit.raw, secrets, 'the audit API');
    expectNoSecret([...after.credentials, ...after.secrets].join('\n'), secrets, 'the credential tables');
    const auditRows = await sql<{ j: string }>`select row_to_json(a)::text as j from audit_log a`.execute(t.db.database.db);
    expectNoSecret(auditRows.rows.map((r) => r.j).join('\n'), secrets, 'the audit table');
    expectNoSecret(t.logs.join('\n'), secrets, 'the logs');
  });

  test('an empty secret cell keeps the stored secret; the other fields are updated', async () => {
    const w = await seedWorkspace(t);
    const token = rand('keep_');
    await t.call(t.adminKey, 'PUT', `/v1/workspaces/${w.workspace.id}/credentials/twilio`, { account_sid: 'ACfirst', auth_token: token });
    const res = await importCsv(t.adminKey, csvOf([{ workspace_id: w.workspace.id, provider: 'twilio', account_sid: 'ACsecond', auth_token: '' }]));
    expect(res.status, res.raw).toBe(200);
    expect(res.body.rows[0].status).toBe('updated');
    const cred = await t.services.vault.resolveWorkspaceCredential(w.workspace.id, 'twilio');
    expect(cred.secrets.auth_token).toBe(token);
    expect(cred.fields.account_sid).toBe('ACsecond');
  });

  // Each case: two good rows around one bad one. The file is refused whole.
  const badCases: Array<{ name: string; bad: (ws: string, other: string) => CsvRow[]; row: number; says: RegExp[] }> = [
    { name: 'unknown provider', bad: (ws) => [{ workspace_id: ws, provider: 'twillio', account_sid: 'AC1', auth_token: rand('tok_') }], row: 3, says: [/unknown provider "twillio"/] },
    { name: 'unknown workspace', bad: () => [twilioRow('ws_doesnotexist0000000000000')], row: 3, says: [/^workspace not found$/] },
    { name: 'missing required field', bad: (ws) => [{ workspace_id: ws, provider: 'twilio', account_sid: 'AC1' }], row: 3, says: [/Twilio needs auth_token/, /^missing_fields: auth_token$/] },
    { name: 'unknown column for that provider', bad: (ws) => [twilioRow(ws, { api_secret: rand('stray_') })], row: 3, says: [/fields not used by Twilio/, /^unknown_fields: api_secret$/] },
    { name: 'Email Bison api_key on a Twilio row', bad: (ws) => [twilioRow(ws, { api_key: `9|${rand('stray')}` })], row: 3, says: [/^unknown_fields: api_key$/] },
    { name: 'duplicate workspace + provider', bad: (_ws, other) => [vonageRow(other)], row: 3, says: [/same workspace and provider appear on an earlier row/] },
    { name: 'instance that does not exist', bad: (ws) => [ebRow(ws, { instance: 'no-such-agency' })], row: 3, says: [/provider instance not found/] },
    { name: 'Email Bison row without an instance', bad: (ws) => [ebRow(ws, { instance: '' })], row: 3, says: [/Email Bison needs instance/] },
    { name: 'empty provider', bad: (ws) => [{ workspace_id: ws, provider: '', auth_token: rand('tok_') }], row: 3, says: [/unknown provider/] },
  ];
  for (const c of badCases) {
    test(`one bad row (${c.name}) → 400 validation_failed naming it; nothing written`, async () => {
      const w = await seedWorkspace(t);
      const other = await seedWorkspace(t);
      // `other` gets a Vonage row first, so the duplicate case repeats it.
      const rows = [vonageRow(other.workspace.id), ...c.bad(w.workspace.id, other.workspace.id), twilioRow(other.workspace.id), ebRow(other.workspace.id)];
      const before = await writtenState(t.db.database.db);
      const res = await importCsv(t.adminKey, csvOf(rows));
      expect(res.status, res.raw).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.message).toMatch(/nothing was imported/);
      const report = res.body.error.details.rows as Array<{ row: number; status: string; errors?: string[] }>;
      expect(report.map((r) => r.row)).toEqual([2, 3, 4, 5]);
      expect(report.filter((r) => r.status === 'invalid').map((r) => r.row)).toEqual([c.row]);
      expect(report.filter((r) => r.status !== 'invalid').every((r) => r.status === 'valid' && r.errors === undefined)).toBe(true);
      const bad = report.find((r) => r.row === c.row)!;
      for (const re of c.says) expect(bad.errors!.some((e) => re.test(e)), `${JSON.stringify(bad.errors)} ~ ${re}`).toBe(true);
      expect(await writtenState(t.db.database.db)).toEqual(before);
      expectNoSecret(res.raw, secretsOf(rows), 'the refusal');
      expectNoSecret(t.logs.join('\n'), secretsOf(rows), 'the logs');
    });
  }

  test('a file with every kind of bad row names each one by its line; the good rows are only "valid"', async () => {
    const w = await seedWorkspace(t);
    const rows: CsvRow[] = [
      twilioRow(w.workspace.id), // 2 ok
      { workspace_id: w.workspace.id, provider: 'smoke-signals', auth_token: rand('t') }, // 3
      twilioRow('ws_nope'), // 4
      { workspace_id: w.workspace.id, provider: 'vonage', api_key: 'k' }, // 5 missing api_secret
      twilioRow(w.workspace.id), // 6 duplicate of 2
      ebRow(w.workspace.id, { instance: 'ghost' }), // 7
      ebRow(w.workspace.id, { instance: 'ghost', auth_token: rand('x') }), // 8 duplicate of 7, and a Twilio column
    ];
    const before = await writtenState(t.db.database.db);
    const res = await importCsv(t.adminKey, csvOf(rows));
    expect(res.status, res.raw).toBe(400);
    const report = res.body.error.details.rows as Array<{ row: number; status: string; errors?: string[] }>;
    expect(report.map((r) => [r.row, r.status])).toEqual([[2, 'valid'], [3, 'invalid'], [4, 'invalid'], [5, 'invalid'], [6, 'invalid'], [7, 'invalid'], [8, 'invalid']]);
    expect(report[1].errors![0]).toMatch(/unknown provider/);
    expect(report[2].errors![0]).toBe('workspace not found');
    expect(report[3].errors).toContain('missing_fields: api_secret');
    expect(report[4].errors![0]).toMatch(/earlier row/);
    expect(report[5].errors![0]).toMatch(/provider instance not found/);
    expect(report[6].errors![0]).toMatch(/earlier row/);
    expect(await writtenState(t.db.database.db)).toEqual(before);
    expectNoSecret(res.raw, secretsOf(rows), 'the refusal');
  });

  test('row numbers are the lines of the file, also after blank lines', async () => {
    const w = await seedWorkspace(t);
    const line = (r: CsvRow) => csvOf([r]).slice(COLUMNS.join(',').length + 1, -1);
    const csv = [
      COLUMNS.join(','), // 1
      '', // 2
      line(twilioRow(w.workspace.id)), // 3
      '', // 4
      '', // 5
      line(twilioRow('ws_missing')), // 6
      line(vonageRow(w.workspace.id, { name: 'Client\nTwo' })), // 7–8: a quoted name over two lines
      line(ebRow(w.workspace.id, { instance: 'ghost' })), // 9
    ].join('\n');
    const res = await importCsv(t.adminKey, csv);
    expect(res.status, res.raw).toBe(400);
    expect(res.body.error.details.rows.map((r: { row: number; status: string }) => [r.row, r.status])).toEqual([[3, 'valid'], [6, 'invalid'], [7, 'valid'], [9, 'invalid']]);
  });

  test('dry_run validates and writes nothing, for a good file and for a bad one', async () => {
    const w = await seedWorkspace(t);
    const rows = [twilioRow(w.workspace.id), vonageRow(w.workspace.id), ebRow(w.workspace.id)];
    const before = await writtenState(t.db.database.db);
    const res = await importCsv(t.adminKey, csvOf(rows), true);
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toEqual({
      ok: true,
      dry_run: true,
      imported: 0,
      rows: rows.map((r, i) => ({ row: i + 2, workspace_id: w.workspace.id, provider: r.provider, status: 'valid' })),
    });
    expect(await writtenState(t.db.database.db)).toEqual(before);
    const bad = await importCsv(t.adminKey, csvOf([...rows, twilioRow('ws_ghost')]), true);
    expect(bad.status, bad.raw).toBe(400);
    expect(bad.body.error.details.rows.at(-1)).toMatchObject({ row: 5, status: 'invalid' });
    expect(await writtenState(t.db.database.db)).toEqual(before);
    // The same file for real, then: it lands.
    const real = await importCsv(t.adminKey, csvOf(rows), false);
    expect(real.status, real.raw).toBe(200);
    expect(real.body.imported).toBe(3);
    expectNoSecret(`${res.raw}${bad.raw}${real.raw}`, secretsOf(rows), 'the answers');
  });

  test('a workspace key imports for its own workspace only; a row for another makes the whole file invalid', async () => {
    const mine = await seedWorkspace(t, ['credentials:write', 'credentials:read']);
    const theirs = await seedWorkspace(t);
    const own = twilioRow(mine.workspace.id);
    const foreign = twilioRow(theirs.workspace.id);
    const before = await writtenState(t.db.database.db);

    const refused = await importCsv(mine.key, csvOf([own, foreign]));
    expect(refused.status, refused.raw).toBe(400);
    const report = refused.body.error.details.rows;
    expect(report[0]).toMatchObject({ row: 2, status: 'valid' });
    expect(report[1]).toMatchObject({ row: 3, status: 'invalid', errors: ['workspace not found'] });
    // Another workspace answers exactly like one that does not exist.
    const ghost = await importCsv(mine.key, csvOf([own, twilioRow('ws_00000000000000000000000000')]));
    expect(ghost.body.error.details.rows[1].errors).toEqual(report[1].errors);
    expect(await writtenState(t.db.database.db)).toEqual(before);
    await expect(t.services.vault.resolveWorkspaceCredential(theirs.workspace.id, 'twilio')).rejects.toMatchObject({ code: 'credential_missing' });

    const ok = await importCsv(mine.key, csvOf([own]));
    expect(ok.status, ok.raw).toBe(200);
    expect(ok.body.rows).toEqual([{ row: 2, workspace_id: mine.workspace.id, provider: 'twilio', status: 'created' }]);
    expect((await t.services.vault.resolveWorkspaceCredential(mine.workspace.id, 'twilio')).secrets.auth_token).toBe(own.auth_token);

    // Without credentials:write, no import at all.
    const reader = await seedWorkspace(t, ['credentials:read']);
    const denied = await importCsv(reader.key, csvOf([twilioRow(reader.workspace.id)]));
    expect(denied.status).toBe(403);
    expectNoSecret(`${refused.raw}${ghost.raw}${ok.raw}${denied.raw}`, { ...secretsOf([own, foreign]) }, 'the answers');
  });

  test('malformed CSV → 400 validation_failed without echoing any cell', async () => {
    const w = await seedWorkspace(t);
    const secret = rand('quoted_');
    const header = COLUMNS.join(',');
    const files = {
      'unbalanced quote': `${header}\n${w.workspace.id},twilio,,,,,AC1,"${secret}\n`,
      'quote inside a bare cell': `${header}\n${w.workspace.id},twilio,,,,,AC1,${secret.slice(0, 10)}"${secret.slice(10)},,\n`,
      'text after a closing quote': `${header}\n${w.workspace.id},twilio,,,,,AC1,"${secret.slice(0, 10)}"${secret.slice(10)},,\n`,
      'too many cells': `${header}\n${w.workspace.id},twilio,,,,,AC1,${secret},,,extra\n`,
    };
    const before = await writtenState(t.db.database.db);
    for (const [name, csv] of Object.entries(files)) {
      const res = await importCsv(t.adminKey, csv);
      expect(res.status, `${name}: ${res.raw}`).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.message, name).toMatch(/^the file is not valid CSV: /);
      expect(res.raw.includes(secret.slice(0, 10)) || res.raw.includes(secret.slice(10)), `${name} echoes the cell`).toBe(false);
    }
    for (const [csv, says] of [
      [`${header}\n`, /no rows/],
      [`provider,name,auth_token\ntwilio,x,${secret}\n`, /missing columns: workspace_id/],
    ] as const) {
      const res = await importCsv(t.adminKey, csv);
      expect(res.status, res.raw).toBe(400);
      expect(res.body.error.message).toMatch(says);
      expect(res.raw).not.toContain(secret.slice(4, -4));
    }
    expect(await writtenState(t.db.database.db)).toEqual(before);
    expectNoSecret(t.logs.join('\n'), { secret }, 'the logs');
  });

  test('a failure while writing (after every row validated) rolls back every row already written', async () => {
    const w = await seedWorkspace(t);
    const db = t.db.database.db;
    // A trigger that refuses the third credential: validation cannot see it coming.
    await sql`create function import_test_refuse() returns trigger language plpgsql as $$
      begin if new.name = 'refuse-me' then raise exception 'refused by the test trigger'; end if; return new; end $$`.execute(db);
    await sql`create trigger import_test_refuse before insert on credentials for each row execute function import_test_refuse()`.execute(db);
    try {
      const rows = [twilioRow(w.workspace.id), vonageRow(w.workspace.id), ebRow(w.workspace.id, { name: 'refuse-me' })];
      const before = await writtenState(db);
      const res = await importCsv(t.adminKey, csvOf(rows));
      expect(res.status, res.raw).toBe(500);
      expect(await writtenState(db)).toEqual(before);
      expectNoSecret(`${res.raw}\n${t.logs.join('\n')}`, secretsOf(rows), 'the failure and its log');
    } finally {
      await sql`drop trigger import_test_refuse on credentials`.execute(db);
      await sql`drop function import_test_refuse()`.execute(db);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// `node dist/cli.js import credentials FILE.csv` on this run's database: PostgreSQL through
// DATABASE_URL on the postgres run, PGlite in a temporary GATEHOUSE_DATA_DIR on the pglite run.
const SLOW = 180_000;

describeCli(`the CLI: gatehouse import credentials (${TEST_DB})`, () => {
  test('exit 0 and "imported N credentials" for a good file; exit 1 with the per-row report and nothing written for a bad one', async () => {
    expect(existsSync(CLI), 'dist/cli.js is missing: run `npm run build` first').toBe(true);
    const target = await cliTarget({ GATEHOUSE_MASTER_KEYS: `v1:${K1}` });
    try {
      const setup = await withTarget(target.env, async (s) => {
        const actor = systemActor();
        const org = await s.tenancy.createOrganization(actor, { name: 'cli-org' });
        const a = await s.tenancy.createWorkspace(actor, org.id, { name: 'a' });
        const b = await s.tenancy.createWorkspace(actor, org.id, { name: 'b' });
        const inst = await s.instances.create(actor, { provider: 'emailbison', name: 'agency-cli', base_url: 'https://send.agency.example/api' });
        return { a: a.id, b: b.id, instance: inst };
      });
      const dir = tmp('gatehouse-import-');
      const good: CsvRow[] = [
        twilioRow(setup.a),
        vonageRow(setup.a),
        { workspace_id: setup.a, provider: 'emailbison', instance: 'agency-cli', api_key: `4|${rand('eb')}`, provider_workspace_id: '2' },
        twilioRow(setup.b),
      ];
      const goodFile = join(dir, 'good.csv');
      writeFileSync(goodFile, csvOf(good));

      // --dry-run first: valid, nothing written.
      const dry = await runCli(['import', 'credentials', '--dry-run', goodFile], target.env);
      expect(dry.code, `${dry.stdout}\n${dry.stderr}`).toBe(0);
      expect(dry.stdout).toContain('all 4 rows valid (dry run: nothing written)');

      const run = await runCli(['import', 'credentials', goodFile], target.env);
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
      const lines = run.stdout.trim().split('\n');
      expect(lines.at(-1)).toBe('imported 4 credentials');
      expect(lines.slice(0, 4)).toEqual([
        `row 2\t${setup.a}\ttwilio\tcreated`,
        `row 3\t${setup.a}\tvonage\tcreated`,
        `row 4\t${setup.a}\temailbison\tcreated`,
        `row 5\t${setup.b}\ttwilio\tcreated`,
      ]);
      expect(run.stderr).toMatch(/import \[[^\]]*\] 8\/8/); // progress: 4 validated + 4 written

      const bad: CsvRow[] = [twilioRow(setup.a), twilioRow('ws_unknown'), { workspace_id: setup.b, provider: 'vonage', api_key: 'k' }];
      const badFile = join(dir, 'bad.csv');
      writeFileSync(badFile, csvOf(bad));
      const refused = await runCli(['import', 'credentials', badFile], target.env);
      expect(refused.code, `${refused.stdout}\n${refused.stderr}`).toBe(1);
      const report = refused.stdout.trim().split('\n');
      expect(report[0]).toBe(`row 2\t${setup.a}\ttwilio\tvalid`);
      expect(report[1]).toBe('row 3\tws_unknown\ttwilio\tinvalid\tworkspace not found');
      expect(report[2]).toMatch(new RegExp(`^row 4\\t${setup.b}\\tvonage\\tinvalid\\tVonage needs api_secret; missing_fields: api_secret$`));
      expect(report.at(-1)).toBe('nothing imported: fix the invalid rows and run again');

      const malformed = join(dir, 'malformed.csv');
      const quoted = rand('unclosed_');
      writeFileSync(malformed, `${COLUMNS.join(',')}\n${setup.a},twilio,,,,,AC1,"${quoted}\n`);
      const broken = await runCli(['import', 'credentials', malformed], target.env);
      expect(broken.code).toBe(1);
      expect(broken.stderr).toMatch(/import refused: the file is not valid CSV/);

      const allOut = [dry, run, refused, broken].map((r) => `${r.stdout}\n${r.stderr}`).join('\n');
      expectNoSecret(allOut, { ...secretsOf(good), ...secretsOf(bad), quoted }, 'the CLI output');
      expect(allOut).not.toContain(K1);

      // What is in the database: exactly the good file, sealed, readable; nothing from the bad ones.
      await withTarget(target.env, async (s) => {
        const n = await s.database.db.selectFrom('credentials').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
        expect(Number(n.n)).toBe(4);
        expect((await s.vault.resolveWorkspaceCredential(setup.a, 'twilio')).secrets.auth_token).toBe(good[0].auth_token);
        expect((await s.vault.resolveWorkspaceCredential(setup.a, 'vonage')).secrets).toEqual({ api_secret: good[1].api_secret, signature_secret: good[1].signature_secret });
        const eb = await s.vault.resolveWorkspaceCredential(setup.a, 'emailbison');
        expect(eb.secrets.api_key).toBe(good[2].api_key);
        expect(eb.fields.instance).toBe(setup.instance.id);
        expect((await s.vault.resolveWorkspaceCredential(setup.b, 'twilio')).secrets.auth_token).toBe(good[3].auth_token);
        await expect(s.vault.resolveWorkspaceCredential(setup.b, 'vonage')).rejects.toMatchObject({ code: 'credential_missing' });
        const audit = await s.database.db.selectFrom('audit_log').select(['action', 'actor_type']).where('action', 'like', 'credential.%').execute();
        expect(audit).toEqual(Array.from({ length: 4 }, () => ({ action: 'credential.created', actor_type: 'system' })));
      });
    } finally {
      await target.drop();
    }
  }, SLOW);
});
