import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';

// Per-address limits (sign-in attempts, failed API authentications) count an IPv6 client by its
// /64: one host is usually given a whole /64, so counting single addresses would let it take a
// fresh one for every attempt. IPv4 clients, and IPv4 arriving as ::ffff:a.b.c.d, count as the
// IPv4 address.
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ GATEHOUSE_LOGIN_IP_LIMIT: '3', GATEHOUSE_LOGIN_ACCOUNT_LIMIT: '1000', GATEHOUSE_AUTH_FAILURE_LIMIT: '3' });
});
afterAll(async () => t?.close());

const signIn = (ip: string, i: number) =>
  t.app.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: ip, payload: { email: `nobody-${i}@example.com`, password: 'a guess of twelve+' } });
const badKey = (ip: string) => t.app.inject({ method: 'GET', url: '/v1/workspaces', remoteAddress: ip, headers: { authorization: 'Bearer gate_live_' + 'B'.repeat(49) } });

describe('per-address limits count an IPv6 client by its /64', () => {
  test('sign-in: a fresh address of the same /64 for each attempt is still held back; another /64 is not', async () => {
    for (let i = 1; i <= 3; i++) expect((await signIn(`2001:db8:1:1::${i}`, i)).statusCode).toBe(401);
    const refused = await signIn('2001:db8:1:1:ffff::9', 9);
    expect(refused.statusCode).toBe(429);
    expect(JSON.parse(refused.body).error.details.reason).toBe('address_attempts');
    expect((await signIn('2001:db8:1:2::1', 10)).statusCode).toBe(401);
  });

  test('failed API authentications: the same, and ::ffff:a.b.c.d counts with a.b.c.d', async () => {
    for (let i = 1; i <= 3; i++) expect((await badKey(`2001:db8:2:1::${i}`)).statusCode).toBe(401);
    expect((await badKey('2001:db8:2:1::abcd')).statusCode).toBe(429);
    expect((await badKey('2001:db8:2:2::1')).statusCode).toBe(401);
    for (let i = 0; i < 3; i++) expect((await badKey(i % 2 ? '198.51.100.7' : '::ffff:198.51.100.7')).statusCode).toBe(401);
    expect((await badKey('198.51.100.7')).statusCode).toBe(429);
  });
});
