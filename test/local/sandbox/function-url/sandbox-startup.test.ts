/**
 * Starting the try stage's sandbox from a fixture ops catalog (local/sandbox/function-url/sandbox-startup.ts), with in-memory
 * ports: which sandbox provider serves each entry, which generic providers are mounted, which credentials come from
 * which secret, and every problem listed at once. The integration names are made up: nothing here depends on the
 * shipped catalog.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { OpsCatalogEntries } from '../../../../functions/ops/ops-catalog.js';
import { ConfigurationError, DependencyError } from '../../../../functions/runtime/errors.js';
import {
  type SandboxStartupPorts,
  sandboxStartPlan,
  startTrySandbox,
  type TrySandbox,
  trySandboxSettings,
} from '../../../../local/sandbox/function-url/sandbox-startup.js';

const PATH = '/TryHub/circuit-ops/';
const SETTINGS = { opsCatalogPath: PATH, controlTokenSecret: 'try/control-token' };
const CONTROL_TOKEN = { token: 'control-token-0123456789' };

/** Served generically: neither its name nor its adapter is a dedicated sandbox provider. */
const helpdesk = { name: 'helpdesk', adapter: 'helpdesk', auth: { scheme: 'bearer' }, secretName: 'try/helpdesk' };
/** Served by the dedicated CRM through its adapter; its secret is named by ARN. */
const crmEu = {
  name: 'crm-eu',
  adapter: 'crm',
  auth: { scheme: 'oauth2_client_credentials', tokenUrl: '/oauth/token' },
  secretName: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:try/crm-eu-AbCdEf',
};
const billing = { name: 'billing', auth: { scheme: 'oauth2_client_credentials', tokenUrl: '/v2/token' }, secretName: 'try/billing' };
const statusFeed = { name: 'status-feed', auth: 'none' };
/** A standalone workflow provider: served by the dedicated provider of its name. */
const inventory = { name: 'inventory', auth: 'api_key', secretName: 'try/inventory' };

const SECRETS: Record<string, unknown> = {
  'try/helpdesk': { token: 'helpdesk-token' },
  [crmEu.secretName]: { clientId: 'crm-eu-client', clientSecret: 'crm-eu-secret', scope: 'files:write' },
  'try/billing': { clientId: 'billing-client', clientSecret: 'billing-secret' },
  'try/inventory': { apiKey: 'inventory-key' },
  'try/control-token': CONTROL_TOKEN,
};

const entries = (integrations: unknown[], providers: unknown[] = []): OpsCatalogEntries => ({ integrations, providers });

/** Ports over in-memory parameters and secrets; a secret given as an Error fails to read with it. */
function ports(catalog: OpsCatalogEntries, secrets: Record<string, unknown> = SECRETS): SandboxStartupPorts & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    readParameters: async (path) => [
      ...catalog.integrations.map((entry, index) => ({ name: `${path}integrations/${nameOf(entry, index)}`, value: JSON.stringify(entry) })),
      ...catalog.providers.map((entry, index) => ({ name: `${path}providers/${nameOf(entry, index)}`, value: JSON.stringify(entry) })),
    ],
    readSecret: async (secretId) => {
      reads.push(secretId);
      const value = secrets[secretId];
      if (value instanceof Error) throw value;
      if (value === undefined) throw new DependencyError('SecretsManager', `Could not read secret '${secretId}': ResourceNotFoundException`);
      return value as Record<string, unknown>;
    },
  };
}

function nameOf(entry: unknown, index: number): string {
  return typeof entry === 'object' && entry !== null && 'name' in entry && typeof entry.name === 'string' ? entry.name : `entry-${index}`;
}

const started: TrySandbox[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((sandbox) => sandbox.close()));
});

async function start(catalog: OpsCatalogEntries, secrets?: Record<string, unknown>): Promise<TrySandbox> {
  const sandbox = await startTrySandbox(SETTINGS, ports(catalog, secrets));
  started.push(sandbox);
  return sandbox;
}

async function startFailure(catalog: OpsCatalogEntries, secrets?: Record<string, unknown>): Promise<ConfigurationError> {
  const failure = await start(catalog, secrets).catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(ConfigurationError);
  return failure as ConfigurationError;
}

describe('the sandbox start plan of an ops catalog', () => {
  it('serves an integration by the dedicated provider of its name or adapter, else by a generic one under its name; a standalone provider by its own', () => {
    const { plan, problems } = sandboxStartPlan(entries([helpdesk, crmEu, billing, statusFeed], [inventory]));

    expect(problems).toEqual([]);
    expect(plan.servings.map(({ owner, provider, generic, secretName }) => ({ owner, provider, generic, secretName }))).toEqual([
      { owner: "integration 'helpdesk'", provider: 'helpdesk', generic: true, secretName: 'try/helpdesk' },
      { owner: "integration 'crm-eu'", provider: 'crm', generic: false, secretName: crmEu.secretName },
      { owner: "integration 'billing'", provider: 'billing', generic: true, secretName: 'try/billing' },
      { owner: "integration 'status-feed'", provider: 'status-feed', generic: true, secretName: undefined },
      { owner: "provider 'inventory'", provider: 'inventory', generic: false, secretName: 'try/inventory' },
    ]);
    expect(plan.generic).toEqual([
      { name: 'helpdesk', auth: 'bearer' },
      // A token URL that is a path is below the base URL: the generic provider's token path.
      { name: 'billing', auth: { scheme: 'oauth2_client_credentials', tokenPath: '/v2/token' } },
      { name: 'status-feed', auth: 'none' },
    ]);
  });

  it('lists every problem of the entries at once', () => {
    const { problems } = sandboxStartPlan(
      entries(
        [
          'not json',
          { name: 'Bad_Name', auth: 'bearer', secretName: 's' },
          { name: 'no-secret', auth: 'basic' },
          { name: 'odd-auth', auth: { scheme: 'bearer', tokenUrl: '/x' }, secretName: 's' },
          { name: 'payments-eu', adapter: 'payments', auth: 'basic', secretName: 's' },
          { name: 'crm-us', adapter: 'crm', auth: { scheme: 'oauth2_client_credentials', tokenUrl: '/token' }, secretName: 's' },
        ],
        [{ name: 'courier', auth: 'basic', secretName: 's' }],
      ),
    );

    expect(problems).toEqual([
      'integrations[0]: must be a JSON object like { name, auth, secretName }',
      expect.stringMatching(/^integration 'Bad_Name': name must be lower-kebab-case/),
      "integration 'no-secret': secretName is required for auth scheme 'basic'",
      expect.stringMatching(/^integration 'odd-auth': auth field\(s\) tokenUrl do not apply to scheme 'bearer'/),
      expect.stringMatching(/^provider 'courier': no dedicated sandbox provider is called 'courier' \(known: crm, payments/),
      "integration 'payments-eu': auth scheme is 'basic' but sandbox provider 'payments' checks 'bearer'",
      "integration 'crm-us': auth.tokenUrl is '/token' but sandbox provider 'crm' issues tokens at '/oauth/token'",
    ]);
  });
});

describe('starting the try-stage sandbox', () => {
  it('starts on 127.0.0.1 with the credentials the secrets hold, reading each secret once', async () => {
    const shared = { ...helpdesk, name: 'helpdesk-two', adapter: 'helpdesk' };
    const fake = ports(entries([helpdesk, shared, crmEu], [inventory]));
    const sandbox = await startTrySandbox(SETTINGS, fake);
    started.push(sandbox);

    expect(sandbox.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sandbox.controlToken).toBe(CONTROL_TOKEN.token);
    expect([...fake.reads].sort()).toEqual([crmEu.secretName, 'try/control-token', 'try/helpdesk', 'try/inventory'].sort());
    const answer = await fetch(`${sandbox.baseUrl}/_sandbox/credentials/crm`);
    // Only the scheme's fields: the runtime's own overrides (scope, tokenUrl) stay in the secret.
    expect(((await answer.json()) as { credentials: unknown }).credentials).toEqual({ clientId: 'crm-eu-client', clientSecret: 'crm-eu-secret' });
  });

  it('serves an oauth2_refresh_token integration generically with the refresh token of its secret, which the runtime has written to', async () => {
    const calendar = {
      name: 'calendar',
      auth: { scheme: 'oauth2_refresh_token', tokenUrl: '/oauth2/token', scopes: ['events:write'], scopeOnRefresh: false },
      secretName: 'try/calendar',
    };
    const secret = { clientId: 'cal-client', clientSecret: 'cal-secret', refreshToken: 'cal-rt-1', accessToken: 'cal-at-1', accessTokenExpiresAt: 1_900_000_000_000 };
    expect(sandboxStartPlan(entries([calendar])).plan.generic).toEqual([
      { name: 'calendar', auth: { scheme: 'oauth2_refresh_token', tokenPath: '/oauth2/token', scopes: ['events:write'], scopeOnRefresh: false } },
    ]);
    const sandbox = await start(entries([calendar]), { ...SECRETS, 'try/calendar': secret });
    const answer = await fetch(`${sandbox.baseUrl}/_sandbox/credentials/calendar`);
    expect(((await answer.json()) as { credentials: unknown }).credentials).toEqual({ clientId: 'cal-client', clientSecret: 'cal-secret', refreshToken: 'cal-rt-1' });
    const refresh = (form: string) =>
      fetch(`${sandbox.baseUrl}/calendar/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('cal-client:cal-secret').toString('base64')}` },
        body: form,
      });
    // The catalog says the provider refuses `scope` on a refresh: the sandbox does too.
    expect((await refresh('grant_type=refresh_token&refresh_token=cal-rt-1&scope=events%3Awrite')).status).toBe(400);
    const granted = await refresh('grant_type=refresh_token&refresh_token=cal-rt-1');
    expect([granted.status, ((await granted.json()) as { scope: string }).scope]).toEqual([200, 'events:write']);
  });

  it('refuses two entries served by one provider whose secrets differ, and accepts them when the values agree', async () => {
    const crmUs = { ...crmEu, name: 'crm-us', secretName: 'try/crm-us' };
    const failure = await startFailure(entries([crmEu, crmUs]), { ...SECRETS, 'try/crm-us': { clientId: 'crm-us-client', clientSecret: 'crm-us-secret' } });
    expect(failure.problems).toEqual([
      expect.stringMatching(/^integration 'crm-us': secret 'try\/crm-us' holds other credentials than '.*crm-eu.*' of integration 'crm-eu', and both are served by sandbox provider 'crm'/),
    ]);

    await start(entries([crmEu, crmUs]), { ...SECRETS, 'try/crm-us': SECRETS[crmEu.secretName] });
  });

  it('fails listing every unreadable or unusable secret, and the control token, without quoting a secret value', async () => {
    const failure = await startFailure(entries([helpdesk, crmEu, billing], [inventory]), {
      ...SECRETS,
      'try/helpdesk': new DependencyError('SecretsManager', "Could not read secret 'try/helpdesk': AccessDeniedException"),
      'try/billing': { clientId: 'billing-client', clientSecret: '' },
      'try/inventory': { apiKey: 'has spaces in it' },
      'try/control-token': { token: 'short' },
    });

    expect(failure.message).toMatch(/^Invalid try-stage sandbox configuration:\n- /);
    // In the order of the parameters' names (functions/ops/ops-catalog.ts), then the control token.
    expect(failure.problems).toEqual([
      "integration 'billing': secret 'try/billing': field(s) clientSecret must be non-empty strings (scheme oauth2_client_credentials)",
      "integration 'helpdesk': Could not read secret 'try/helpdesk': AccessDeniedException",
      "provider 'inventory': secret 'try/inventory': field(s) apiKey must be printable ASCII without spaces",
      `control token: secret 'try/control-token' must be JSON {"token": "<at least 16 characters>"}`,
    ]);
    expect(failure.message).not.toMatch(/has spaces|short/);
  });

  it('fails when nothing is under the ops catalog path', async () => {
    const failure = await startFailure(entries([]));
    expect(failure.problems).toEqual([`no integration or provider parameter is under ${PATH} (is it the stack's ops catalog path?)`]);
  });
});

describe('the settings', () => {
  it('come from OPS_CATALOG_PATH (given a trailing slash) and CONTROL_TOKEN_SECRET, every missing one listed', () => {
    expect(trySandboxSettings({ OPS_CATALOG_PATH: '/TryHub/circuit-ops', CONTROL_TOKEN_SECRET: 'try/control-token' })).toEqual(SETTINGS);
    const failure = (() => {
      try {
        return trySandboxSettings({ OPS_CATALOG_PATH: ' ' });
      } catch (error) {
        return error;
      }
    })() as ConfigurationError;
    expect(failure).toBeInstanceOf(ConfigurationError);
    expect(failure.problems).toEqual([expect.stringMatching(/^OPS_CATALOG_PATH is required/), expect.stringMatching(/^CONTROL_TOKEN_SECRET is required/)]);
  });
});
