/**
 * Revoked access end to end, through the local hub of a fixture catalog whose integration authenticates with
 * `oauth2_refresh_token` against the sandbox's rotating OAuth provider: the customer revokes the grant → the circuit
 * isolates itself with "re-authorization needed" and the messages wait in the queue, none in the DLQ → the customer
 * authorizes again and an operator pipes the new refresh token into `npm run hub -- auth set-refresh-token` (the CLI
 * over loopback, as a user runs it) → the prober refreshes with it and closes the circuit → every message is delivered
 * once. Every log line of the functions and the prober is captured: no token the provider issued appears in any.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { Readable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { loadAdapter } from '../../../functions/ops/integration-adapters.js';
import { REAUTHORIZATION_NEEDED } from '../../../functions/runtime/errors.js';
import { runCli } from '../../../local/cli/cli.js';
import { serveHubOperator } from '../../../local/cli/local-hub-http.js';
import { createOperator } from '../../../local/cli/operator-factory.js';
import { readSecretInput } from '../../../local/cli/secret-input.js';
import { LocalHubOperator } from '../../../local/hub/local-hub-operator.js';
import { eventually } from '../../support/eventually.js';
import { useFixtureHub } from '../../support/fixture-hub.js';

const SOURCE = 'test.fixture';
const DETAIL_TYPE = 'TicketRequested';

/** Every line the functions and the prober log, as printed. */
const logLines: string[] = [];
const logger = new Logger({ serviceName: 'integration-hub', logLevel: 'DEBUG' });
const capture = (line: unknown) => void logLines.push(String(line));
// Powertools prints through its own Console; this one keeps the lines instead.
Object.assign(logger, { console: { log: capture, debug: capture, info: capture, warn: capture, error: capture, trace: capture } });

const fixture = useFixtureHub(
  'reauth',
  {
    description: 'Fixture: tickets at a helpdesk that acts on the customer\'s account (OAuth2 authorization code, rotating refresh tokens).',
    routes: [{ sources: [SOURCE], detailTypes: [DETAIL_TYPE] }],
    auth: { scheme: 'oauth2_refresh_token', tokenUrl: '/oauth/token' },
    // Parked messages come back soon after the circuit closes, rather than after the default 5 minutes.
    circuit: { isolatedRetryAfterMs: 1_000 },
  },
  { seed: 16, environment: { PARK_JITTER_SECONDS: '0' }, logger },
);

describe('revoked access, re-authorized through the operator CLI', () => {
  it('isolates the circuit with nothing dead-lettered, and resumes delivery once a new refresh token is set and the prober refreshed', async () => {
    const { hub, sandbox } = fixture;
    const name = fixture.adapter.name;
    const integration = hub.integration(name)!;
    const grant = sandbox.generic(name).refreshTokenGrant!;
    expect(grant).toBeDefined();
    const secretName = hub.circuitCredentials.get(name)?.secretName;
    expect(hub.circuitCredentials.get(name)?.scheme).toBe('oauth2_refresh_token');
    // Every secret version the hub writes holds the tokens issued so far: collected to search the logs for.
    const written: string[] = [];
    const send = hub.secretsManager.client.send.bind(hub.secretsManager.client);
    vi.spyOn(hub.secretsManager.client, 'send').mockImplementation(((command: unknown, ...rest: unknown[]) => {
      if (command instanceof PutSecretValueCommand) written.push(command.input.SecretString ?? '');
      return (send as (...args: unknown[]) => unknown)(command, ...rest);
    }) as typeof send);
    const definition = (await loadAdapter(name)).bind(name);
    const publish = (from: number, count: number) => {
      const examples = Array.from({ length: count }, (_, n) => definition.example!(from + n) as { ticketId: string });
      hub.putEvents(examples.map((detail) => ({ source: SOURCE, detailType: DETAIL_TYPE, detail })));
      return examples.map((example) => example.ticketId);
    };
    const synced = async (ids: readonly string[]) => {
      const entries = await Promise.all(ids.map(async (id) => (await hub.ledger.entries('ticket', id, name))[0]?.status));
      expect(entries).toEqual(ids.map(() => 'synced'));
    };

    // Before: delivered with one refresh, whose tokens are stored in the secret.
    const before = publish(0, 3);
    await eventually(() => synced(before), 20_000);
    expect(grant.refreshesGranted()).toBe(1);

    // The customer disconnects the hub: the next call's access token is refused, and so is the refresh.
    grant.revoke();
    const during = publish(3, 4);
    await eventually(async () => {
      expect(await hub.circuits.get(name)).toMatchObject({ state: 'isolated' });
      expect((await hub.circuits.get(name))?.stateReason).toMatch(new RegExp(`^${REAUTHORIZATION_NEEDED}`));
      expect(integration.mapping.enabled).toBe(false);
    }, 20_000);
    const stats = integration.queue.stats();
    expect(stats.visible + stats.inFlight + stats.delayed).toBe(during.length);
    expect(integration.deadLetterQueue.stats().sent).toBe(0);

    // The prober sends nothing while the secret holds the refused token.
    const refreshesWhileRevoked = grant.refreshRequests();
    await hub.runProber();
    expect(grant.refreshRequests()).toBe(refreshesWhileRevoked);
    expect((await hub.circuits.get(name))?.state).toBe('isolated');

    // The customer authorizes again; the operator pipes the new refresh token into the CLI, on the running hub.
    const { refreshToken } = grant.authorize();
    const server = await serveHubOperator(new LocalHubOperator(hub));
    let stdout = '';
    let stderr = '';
    const io = { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) } };
    try {
      const code = await runCli(['auth', 'set-refresh-token', name, '--url', server.url], io, (target) => createOperator(target), {
        readSecret: (prompt) => readSecretInput(prompt, Readable.from([`${refreshToken}\n`]), io.stderr),
      });
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    } finally {
      await server.close();
    }
    expect(stdout).toContain(`Stored a new refresh token for ${name} in secret ${secretName}`);
    expect(stdout).toContain('the prober refreshes with the new token on its next run and closes it');
    expect(hub.secretsManager.get(secretName!)).toMatchObject({ refreshToken });
    expect(hub.secretsManager.get(secretName!)).not.toHaveProperty('accessToken');

    // The prober refreshes with it and closes the circuit; the controller resumes the mapping; the parked messages go.
    await hub.runProber();
    await eventually(async () => {
      expect((await hub.circuits.get(name))?.state).toBe('closed');
      await synced(during);
    }, 20_000);
    // The refresh rotated the operator's token: the secret now holds the provider's newer one.
    expect(hub.secretsManager.get(secretName!)?.refreshToken).not.toBe(refreshToken);

    // Each ticket reached the helpdesk once; nothing was dead-lettered.
    const keys = sandbox.sideEffects(name).map((effect) => effect.idempotencyKey);
    expect(keys).toHaveLength(before.length + during.length);
    expect(new Set(keys).size).toBe(keys.length);
    expect(integration.deadLetterQueue.stats().sent).toBe(0);
    expect(fixture.backgroundErrors).toEqual([]);

    // No token ever issued (the first grant's, the rotations', the operator's) appears in a log line.
    const tokens = new Set<string>([refreshToken]);
    for (const version of written) {
      const secret = JSON.parse(version) as Record<string, unknown>;
      for (const field of ['refreshToken', 'accessToken', 'clientSecret']) if (typeof secret[field] === 'string') tokens.add(secret[field] as string);
    }
    expect(tokens.size).toBeGreaterThanOrEqual(5);
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.some((line) => line.includes(REAUTHORIZATION_NEEDED))).toBe(true);
    for (const token of tokens) expect(logLines.filter((line) => line.includes(token))).toEqual([]);
  }, 90_000);
});
