/**
 * Putting a new refresh token into the secret (functions/runtime/refresh-token-replacement.ts): the old grant's access
 * token dropped, the write under the refresh lease (on dynalite) so a refresher in flight cannot overwrite it, the
 * refused token's fingerprint kept, bad tokens refused before anything is written. Clocks are manual: a lease held by
 * a refresher is released from inside the replacement's own wait, never raced against wall time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_PLACEHOLDER } from '../../../functions/runtime/auth-config.js';
import { DynamoDbRefreshLeases } from '../../../functions/runtime/dynamodb-refresh-leases.js';
import { DependencyError, InvalidCredentialsError } from '../../../functions/runtime/errors.js';
import type { Clock } from '../../../functions/runtime/ports.js';
import { fingerprint, refreshLeaseKey } from '../../../functions/runtime/refresh-token-credentials.js';
import { MAX_REFRESH_TOKEN_LENGTH, refreshTokenProblem, replaceRefreshToken } from '../../../functions/runtime/refresh-token-replacement.js';
import { StaticSecretSource } from '../../../functions/runtime/static-secret-source.js';
import { type LocalDynamo, startLocalDynamo } from '../../support/dynalite.js';

const SECRET = 'integration-hub/test/desk';
const KEY = refreshLeaseKey(SECRET);
const CLIENT = { clientId: 'client-1', clientSecret: 'secret-1', tokenUrl: 'https://desk.example.com/oauth/token' };
const RUNTIME_FIELDS = { accessToken: 'at-old', accessTokenIssuedAt: 1_000, accessTokenExpiresAt: 61_000 };

let dynamo: LocalDynamo;
let table = 0;
beforeAll(async () => {
  dynamo = await startLocalDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

/** A secret of the old grant, a fresh circuits table and a manual clock whose sleeps can run a hook. */
async function setUp(secret: Record<string, unknown> = { ...CLIENT, refreshToken: 'rt-old', ...RUNTIME_FIELDS }) {
  const secrets = new StaticSecretSource({ [SECRET]: secret });
  const tableName = `circuits-${++table}`;
  await dynamo.createTable(tableName, { partitionKey: 'circuitId' });
  const leases = new DynamoDbRefreshLeases({ tableName, client: dynamo.client });
  let now = 100_000;
  const sleeps: number[] = [];
  let onSleep: (() => Promise<void>) | undefined;
  const clock: Clock = {
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
      await onSleep?.();
    },
    random: () => 0.5,
  };
  const replace = (token: string, options: { waitMs?: number } = {}) => replaceRefreshToken(token, { secretName: SECRET, secrets, leases, clock, owner: 'operator-test', ...options });
  return { secrets, leases, clock, sleeps, replace, setOnSleep: (hook: () => Promise<void>) => (onSleep = hook), now: () => now };
}

describe('replaceRefreshToken', () => {
  it('writes the new token as a new version without the old grant\'s access token, keeping the client fields, and frees the lease', async () => {
    const { secrets, leases, replace } = await setUp();

    const result = await replace('rt-new');

    expect(await secrets.getJson(SECRET)).toEqual({ ...CLIENT, refreshToken: 'rt-new' });
    expect(secrets.writeCount).toBe(1);
    expect(result).toEqual({ unsetFields: [], replacedRefusedToken: false, droppedAccessToken: true });
    expect(await leases.read(KEY)).toEqual({});
  });

  it('says when the secret held the refused token, and keeps that token\'s fingerprint for the prober', async () => {
    const { leases, replace } = await setUp();
    expect(await leases.acquire(KEY, 'refresher', 0, 1)).toBe(true);
    await leases.release(KEY, 'refresher', { rejectedRefreshToken: fingerprint('rt-old') });

    const result = await replace('rt-new');

    expect(result.replacedRefusedToken).toBe(true);
    expect((await leases.read(KEY)).rejectedRefreshToken).toBe(fingerprint('rt-old'));
  });

  it('refuses the very token the provider refused, writing nothing', async () => {
    const { secrets, leases, replace } = await setUp();
    await leases.acquire(KEY, 'refresher', 0, 1);
    await leases.release(KEY, 'refresher', { rejectedRefreshToken: fingerprint('rt-old') });

    const refused = replace('rt-old');

    await expect(refused).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(refused).rejects.toThrow(/is the one the provider refused: have the customer authorize the hub again/);
    expect(secrets.writeCount).toBe(0);
  });

  it('names the client fields still unset (missing, empty or the deploy placeholder)', async () => {
    const { secrets, replace } = await setUp({ clientId: SECRET_PLACEHOLDER, refreshToken: 'generated-random-value' });

    const result = await replace('rt-new');

    expect(result).toEqual({ unsetFields: ['clientId', 'clientSecret'], replacedRefusedToken: false, droppedAccessToken: false });
    expect(await secrets.getJson(SECRET)).toEqual({ clientId: SECRET_PLACEHOLDER, refreshToken: 'rt-new' });
  });

  it('waits for a refresher that holds the lease, and writes after it released: the refresher\'s rotation cannot overwrite the new token', async () => {
    const { secrets, leases, replace, setOnSleep, now } = await setUp();
    expect(await leases.acquire(KEY, 'refresher', now(), now() + 10_000)).toBe(true);
    // While the operator waits, the refresher stores its rotated token (of the old grant) and releases.
    setOnSleep(async () => {
      if ((await leases.read(KEY)).owner !== 'refresher') return;
      await secrets.putJson(SECRET, { ...CLIENT, refreshToken: 'rt-rotated-old-grant', accessToken: 'at-2', accessTokenIssuedAt: now(), accessTokenExpiresAt: now() + 60_000 });
      await leases.release(KEY, 'refresher', {});
    });

    await replace('rt-new');

    expect(await secrets.getJson(SECRET)).toEqual({ ...CLIENT, refreshToken: 'rt-new' });
    expect(await leases.read(KEY)).toEqual({});
  });

  it('gives up with a DependencyError, writing nothing, when a refresher holds the lease past the wait', async () => {
    const { secrets, leases, replace, now } = await setUp();
    await leases.acquire(KEY, 'refresher', now(), now() + 60_000);

    await expect(replace('rt-new', { waitMs: 5_000 })).rejects.toBeInstanceOf(DependencyError);

    expect(secrets.writeCount).toBe(0);
    expect((await leases.read(KEY)).owner).toBe('refresher');
  });

  it('takes over a lease whose holder died (expired)', async () => {
    const { secrets, leases, replace, now } = await setUp();
    await leases.acquire(KEY, 'dead-refresher', now() - 60_000, now() - 1);

    await replace('rt-new');

    expect((await secrets.getJson(SECRET)).refreshToken).toBe('rt-new');
  });

  it('refuses a malformed token before reading or writing anything, without quoting it', async () => {
    const { secrets, replace } = await setUp();
    for (const token of ['', ' rt-new', 'rt-new\n', 'rt\u00e9new', 'rt\tnew', 'x'.repeat(MAX_REFRESH_TOKEN_LENGTH + 1)]) {
      const refused = replace(token);
      await expect(refused).rejects.toBeInstanceOf(InvalidCredentialsError);
      await expect(refused).rejects.not.toThrow(token === '' ? /^$/ : token.trim());
    }
    expect(secrets.reads).toBe(0);
    expect(secrets.writeCount).toBe(0);
  });
});

describe('refreshTokenProblem', () => {
  it('takes printable ASCII (RFC 6749 VSCHAR) and says what is wrong with anything else', () => {
    expect(refreshTokenProblem('1//0g-abc.DEF_ghi~+/=')).toBeUndefined();
    expect(refreshTokenProblem('with inner space')).toBeUndefined();
    expect(refreshTokenProblem('')).toBe('it is empty');
    expect(refreshTokenProblem('abc ')).toBe('it starts or ends with white space');
    expect(refreshTokenProblem('ab\u0000c')).toBe('character 3 is not printable ASCII (RFC 6749 allows no other)');
    expect(refreshTokenProblem('x'.repeat(MAX_REFRESH_TOKEN_LENGTH + 1))).toBe(`it is longer than ${MAX_REFRESH_TOKEN_LENGTH} characters`);
  });
});
