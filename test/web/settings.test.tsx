// @vitest-environment happy-dom
import { describe, expect, test } from 'vitest';
import { ApiError } from '../../web/src/api';
import { errorText, importOutcome, rowMessage, seatsText } from '../../web/src/lib/settings';
import { signInErrorText, waitText } from '../../web/src/lib/signin';

describe('seats', () => {
  test('used of the limit, or unlimited', () => {
    expect(seatsText(3, 10)).toBe('3 of 10 seats');
    expect(seatsText(undefined, 3)).toBe('0 of 3 seats');
    expect(seatsText(1, null)).toBe('1 seat (unlimited)');
    expect(seatsText(7, null)).toBe('7 seats (unlimited)');
  });
});

describe('API errors in words', () => {
  test('a full organization says how many seats and what to do', () => {
    const err = new ApiError(409, 'conflict', 'the free plan of this organization allows 3 seats, all taken', { reason: 'seat_limit_reached', seat_limit: 3, seats_used: 3 });
    expect(errorText(err)).toMatch(/^No seat left: 3 of 3 seats are taken.*Organizations/);
  });
  test('a refusal says so; other errors keep the server message', () => {
    expect(errorText(new ApiError(403, 'forbidden', 'only the platform admin may do this'))).toBe('Not allowed: only the platform admin may do this');
    expect(errorText(new ApiError(409, 'conflict', 'a user with this email already exists'))).toBe('a user with this email already exists');
    expect(errorText(new Error('offline'))).toBe('offline');
  });
});

describe('import outcome', () => {
  const rows = [
    { row: 2, workspace_id: 'ws_a', provider: 'twilio', status: 'valid' },
    { row: 3, workspace_id: 'ws_b', provider: 'twilio', status: 'invalid', errors: ['workspace not found'] },
  ];
  test('a 400 with rows is a report: how many rows are bad, nothing imported', () => {
    const o = importOutcome(new ApiError(400, 'validation_failed', 'the file has invalid rows; nothing was imported', { rows }), false);
    expect(o.ok).toBe(false);
    expect(o.rows).toEqual(rows);
    expect(o.summary).toBe('Nothing imported: 1 of 2 rows have a problem. Fix it and import the whole file again.');
    expect(rowMessage(o.rows[1])).toBe('workspace not found');
  });
  test('an error without rows refuses the file as a whole', () => {
    const o = importOutcome(new ApiError(400, 'validation_failed', 'missing columns: provider'), false);
    expect(o).toMatchObject({ ok: false, rows: [], summary: 'Nothing imported: missing columns: provider' });
  });
  test('a success counts credentials; a check-only run says nothing was written', () => {
    const done = importOutcome({ ok: true, dry_run: false, imported: 1, rows: [{ row: 2, workspace_id: 'ws_a', provider: 'twilio', status: 'created' }] }, false);
    expect(done.summary).toBe('Imported 1 credential.');
    expect(rowMessage(done.rows[0])).toBe('created');
    const dry = importOutcome({ ok: true, dry_run: true, imported: 0, rows: [rows[0], rows[0]] }, true);
    expect(dry.summary).toBe('All 2 rows are valid; nothing was written (check only).');
  });
});

describe('sign-in errors', () => {
  test('waits round up to a readable unit', () => {
    expect(waitText(0.2)).toBe('1 second');
    expect(waitText(45)).toBe('45 seconds');
    expect(waitText(61)).toBe('2 minutes');
    expect(waitText(900)).toBe('15 minutes');
    expect(waitText(7200)).toBe('2 hours');
  });
  test('a lockout says when to try again; a wrong password does not', () => {
    const locked = new ApiError(429, 'rate_limited', 'too many failed sign-ins: the account is locked for a while', { reason: 'locked', retry_after_s: 30 });
    expect(signInErrorText(locked)).toBe('too many failed sign-ins: the account is locked for a while. Try again in 30 seconds.');
    expect(signInErrorText(new ApiError(401, 'unauthenticated', 'wrong email or password', { reason: 'wrong_credentials' }))).toBe('wrong email or password');
  });
});
