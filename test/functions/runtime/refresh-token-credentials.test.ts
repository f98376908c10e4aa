/**
 * The `oauth2_refresh_token` credentials (functions/runtime/refresh-token-credentials.ts) against the sandbox's
 * rotating OAuth provider over HTTP on 127.0.0.1, with the refresh lease on dynalite and the secret in memory: one
 * refresh across many instances, a refresher killed between the token response and the secret write, revocation,
 * recovery once a new refresh token is in the secret. Time is a manual clock shared with the sandbox; waiting
 * instances poll on real (short) sleeps, so outcomes, not speed, are asserted.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbRefreshLeases } from '../../../functions/runtime/dynamodb-refresh-leases.js';
import { ReauthorizationRequiredError } from '../../../functions/runtime/errors.js';
import type { Clock, WritableSecretSource } from '../../../functions/runtime/ports.js';
import { fingerprint, refreshLeaseKey, RefreshTokenCredentials, type RefreshTokenCredentialsOptions } from '../../../functions/runtime/refresh-token-credentials.js';
import { StaticSecretSource } from '../../../functions/runtime/static-secret-source.js';
import { type Sandbox, startSandbox } from '../../../local/sandbox/index.js';
import { type LocalDynamo, startLocalDynamo } from '../../support/dynalite.js';
import { manualClock } from '../../local/sandbox/helpers.js';

const SECRET = 'integration-hub/test/desk';
const DESK = {
  name: 'desk',
  auth: { scheme: 'oauth2_refresh_token', tokenPath: '/oauth/token', tokenExpiresInSeconds: 600, scopes: ['tickets:read', 'tickets:write'] },
  routes: [{ method: 'POST', path: '/tickets' }],
} as const;
const LEASE_MS = 15_000;

let dynamo: LocalDynamo;
let table = 0;
beforeAll(async () => {
  dynamo = await startLocalDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

const opened: Sandbox<string>[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

/** A sandbox with the `desk` provider, its credentials in a secret, a fresh circuits table, and a clock for all. */
async function setUp(options: { reuseIntervalSeconds?: number; scopeOnRefresh?: boolean } = {}) {
  const time = manualClock();
  const sandbox = await startSandbox<'desk'>({
    seed: 11,
    now: time.now,
    generic: [{ ...DESK, auth: { ...DESK.auth, ...options } }],
  });
  opened.push(sandbox);
  const grant = sandbox.generic('desk').refreshTokenGrant!;
  const secrets = new StaticSecretSource({ [SECRET]: { ...sandbox.credentials('desk') } });
  const tableName = `circuits-${++table}`;
  await dynamo.createTable(tableName, { partitionKey: 'circuitId' });
  const leases = new DynamoDbRefreshLeases({ tableName, client: dynamo.client });
  // Waiting instances poll on short real sleeps; the clock only moves when the test says so.
  const clock: Clock = { now: time.now, sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 5))), random: Math.random };
  const instance = (overrides: Partial<RefreshTokenCredentialsOptions> = {}) =>
    new RefreshTokenCredentials({
      auth: { scheme: 'oauth2_refresh_token', tokenUrl: `${sandbox.providerUrl('desk')}/oauth/token`, scopes: ['tickets:write'], ...options },
      secretName: SECRET,
      secrets,
      leases,
      clock,
      leaseMs: LEASE_MS,
      pollMs: 5,
      ...overrides,
    });
  /** Calls the provider's API with an Authorization header; its status. */
  const callApi = async (headers: Record<string, string>) =>
    (await fetch(`${sandbox.providerUrl('desk')}/tickets`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' })).status;
  return { time, sandbox, grant, secrets, leases, instance, callApi };
}

describe('one refresh across every instance', () => {
  it('50 instances whose token expires at once make exactly one refresh call, and all continue with its token', async () => {
    const { time, sandbox, grant, secrets, instance, callApi } = await setUp();
    const instances = Array.from({ length: 50 }, (_, index) => instance({ instanceId: `instance-${index}` }));

    const first = await Promise.all(instances.map((credentials) => credentials.headers()));
    expect(grant.refreshRequests()).toBe(1);
    expect(new Set(first.map((headers) => headers.Authorization)).size).toBe(1);
    expect(await callApi(first[0]!)).toBe(201);

    // The rotated refresh token is in the secret, beside the access token every instance used.
    const stored = await secrets.getJson(SECRET);
    expect(stored.refreshToken).toBe(sandbox.credentials('desk').refreshToken);
    expect(`Bearer ${stored.accessToken}`).toBe(first[0]!.Authorization);

    // Cached: no refresh, no read of the secret, while the token is good.
    const reads = secrets.reads;
    await Promise.all(instances.map((credentials) => credentials.headers()));
    expect([grant.refreshRequests(), secrets.reads]).toEqual([1, reads]);

    // Every instance's token expires at the same moment: again one refresh for all of them.
    time.advance(600_000);
    const second = await Promise.all(instances.map((credentials) => credentials.headers()));
    expect(grant.refreshRequests()).toBe(2);
    expect(new Set(second.map((headers) => headers.Authorization)).size).toBe(1);
    expect(second[0]).not.toEqual(first[0]);
    expect(await callApi(second[0]!)).toBe(201);
    expect(await callApi(first[0]!)).toBe(401);
  });

  it('a token refused by the API (fresh) is replaced once for all callers that saw it refused, not once each', async () => {
    const { grant, instance, callApi } = await setUp();
    const [a, b] = [instance({ instanceId: 'a' }), instance({ instanceId: 'b' })];
    const used = await a.headers();
    expect(await b.headers()).toEqual(used);
    // Both saw the same token refused: one refresh between them.
    const [fromA, fromB] = await Promise.all([a.headers({ fresh: true }), b.headers({ fresh: true })]);
    expect(fromA).toEqual(fromB);
    expect(fromA).not.toEqual(used);
    expect(grant.refreshRequests()).toBe(2);
    expect(await callApi(fromA)).toBe(201);
  });

  it('a caller whose refused token another call of the instance already replaced gets the replacement, with no second refresh', async () => {
    const { grant, secrets, instance, callApi } = await setUp();
    const credentials = instance();
    const refused = await credentials.headers();
    // Two calls went out with the same token and both were refused; the first one's retry replaced it.
    const replaced = await credentials.headers({ fresh: true, refused });
    expect(replaced).not.toEqual(refused);
    const [refreshes, writes, reads] = [grant.refreshRequests(), secrets.writeCount, secrets.reads];

    expect(await credentials.headers({ fresh: true, refused })).toEqual(replaced);
    // Not even the secret is read: the instance's cache holds the replacement.
    expect([grant.refreshRequests(), secrets.writeCount, secrets.reads]).toEqual([refreshes, writes, reads]);
    expect(await callApi(replaced)).toBe(201);
    // Refused itself, the replacement is replaced.
    expect(await credentials.headers({ fresh: true, refused: replaced })).not.toEqual(replaced);
    expect(grant.refreshRequests()).toBe(refreshes + 1);
  });

  it('sends the catalog scopes on a refresh, or none when the provider refuses scope on refresh', async () => {
    const withScope = await setUp();
    // A scope the grant does not hold is refused by the provider: the scope was sent.
    const wider = withScope.instance({ auth: { scheme: 'oauth2_refresh_token', tokenUrl: `${withScope.sandbox.providerUrl('desk')}/oauth/token`, scopes: ['admin'] } });
    await expect(wider.headers()).rejects.toThrow(/invalid_scope/);
    expect(await withScope.callApi(await withScope.instance().headers())).toBe(201);

    const without = await setUp({ scopeOnRefresh: false });
    const tokenUrl = `${without.sandbox.providerUrl('desk')}/oauth/token`;
    await expect(without.instance({ auth: { scheme: 'oauth2_refresh_token', tokenUrl, scopes: ['tickets:write'] } }).headers()).rejects.toThrow(/invalid_request/);
    const headers = await without.instance({ auth: { scheme: 'oauth2_refresh_token', tokenUrl, scopes: ['tickets:write'], scopeOnRefresh: false } }).headers();
    expect(await without.callApi(headers)).toBe(201);
  });
});

describe('a refresher killed between the token response and the secret write', () => {
  /** Instance A gets the provider's answer, then never writes (its process died) and never releases the lease. */
  async function killedRefresher(setup: Awaited<ReturnType<typeof setUp>>) {
    const { grant, secrets, instance } = setup;
    const dead: WritableSecretSource = { getJson: (name, options) => secrets.getJson(name, options), putJson: () => new Promise(() => undefined) };
    void instance({ instanceId: 'killed', secrets: dead }).headers();
    await until(() => grant.refreshesGranted() === 1);
    expect(secrets.writeCount).toBe(0);
  }

  it('with the provider reuse interval on, the next refresher, after the lease expires, succeeds with the old refresh token', async () => {
    const setup = await setUp({ reuseIntervalSeconds: 60 });
    await killedRefresher(setup);
    const next = setup.instance({ instanceId: 'next' }).headers();
    // The next one waits for the dead one's lease...
    await until(() => setup.secrets.reads >= 3);
    expect(setup.grant.refreshRequests()).toBe(1);
    // ...which expires (well inside the provider's 60 s reuse interval).
    setup.time.advance(LEASE_MS);
    const headers = await next;
    expect(setup.grant.refreshesGranted()).toBe(2);
    expect(await setup.callApi(headers)).toBe(201);
    expect((await setup.secrets.getJson(SECRET)).refreshToken).toBe(setup.sandbox.credentials('desk').refreshToken);
  });

  it('without a reuse interval, the next refresher finds the grant refused: re-authorization needed, the refused token recorded by fingerprint', async () => {
    const setup = await setUp({ reuseIntervalSeconds: 0 });
    const { refreshToken } = await setup.secrets.getJson(SECRET);
    await killedRefresher(setup);
    const next = setup.instance({ instanceId: 'next' }).headers();
    await until(() => setup.secrets.reads >= 3);
    setup.time.advance(LEASE_MS);
    const error = await next.then(() => undefined, (rejection: unknown) => rejection);
    expect(error).toBeInstanceOf(ReauthorizationRequiredError);
    expect((error as Error).message).toMatch(/rejected the grant: 400 invalid_grant/);
    expect((error as Error).message).not.toContain(refreshToken as string);
    expect(await setup.leases.read(refreshLeaseKey(SECRET))).toEqual({ rejectedRefreshToken: fingerprint(refreshToken as string) });
  });
});

describe('revoked access and recovery', () => {
  it('revocation: invalid_grant; recover() sends nothing until a new refresh token is in the secret, then refreshes', async () => {
    const { grant, secrets, instance, callApi } = await setUp();
    const credentials = instance();
    await credentials.headers();
    grant.revoke();

    await expect(credentials.headers({ fresh: true })).rejects.toBeInstanceOf(ReauthorizationRequiredError);
    const requests = grant.refreshRequests();
    const prober = instance({ instanceId: 'prober' });
    expect(await prober.recover()).toBe('token_unchanged');
    expect(grant.refreshRequests()).toBe(requests);

    // The customer authorizes again; an operator puts the new refresh token in the secret (the access token stays stale).
    const { refreshToken } = grant.authorize();
    await secrets.putJson(SECRET, { ...(await secrets.getJson(SECRET)), refreshToken });
    expect(await prober.recover()).toBe('refreshed');
    expect(grant.refreshRequests()).toBe(requests + 1);
    // Every instance uses the recovered token.
    const headers = await credentials.headers({ fresh: true });
    expect(await callApi(headers)).toBe(201);
    expect(grant.refreshRequests()).toBe(requests + 1);
  });

  it('a secret without the scheme fields is InvalidCredentials, naming the fields and no value', async () => {
    const { secrets, instance } = await setUp();
    await secrets.putJson(SECRET, { clientId: 'desk-client', clientSecret: 's3cr3t-value' });
    await expect(instance().headers()).rejects.toThrow("Secret 'integration-hub/test/desk' cannot be used for auth scheme 'oauth2_refresh_token': missing or invalid field(s) refreshToken");
  });
});

async function until(condition: () => boolean): Promise<void> {
  // Bounded by iterations of real event-loop turns, not by a wall-clock race: the condition follows from I/O on loopback.
  for (let turn = 0; turn < 2000 && !condition(); turn += 1) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(condition()).toBe(true);
}
