/**
 * The sandbox wiring derived from the catalogs (local/hub/sandbox-wiring.ts) for a fixture catalog: which sandbox
 * provider serves each integration, the base-URL context, the secrets, and the local hub refusing a template whose
 * functions call something the sandbox does not answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_FIELDS } from '../../../functions/runtime/auth-config.js';
import { ConfigurationError } from '../../../functions/runtime/errors.js';
import { catalogIntegration, INTEGRATIONS, type IntegrationEntry, resolveCatalog } from '../../../lib/catalog.js';
import { resolveWorkflows } from '../../../lib/workflow-catalog.js';
import { servingProviderOf } from '../../../local/hub/serving-provider.js';
import { LocalHub } from '../../../local/hub/local-hub.js';
import {
  sandboxContext,
  sandboxSecretValues,
  sandboxWiring,
  sandboxWiringProblems,
  startSandboxForCatalog,
} from '../../../local/hub/sandbox-wiring.js';
import { synthesizeHubTemplate } from '../../../local/local-step-functions.js';
import { type Sandbox, startSandbox } from '../../../local/sandbox/index.js';
import { writeFixtureAdapter } from '../../support/fixture-adapter.js';

const adapter = writeFixtureAdapter('wiring');
afterAll(() => adapter.remove());

const route = [{ sources: ['test.fixture'], detailTypes: ['TicketRequested'] }];
const entry = (name: string, fields: Partial<IntegrationEntry>): IntegrationEntry => ({
  name,
  description: `Fixture integration ${name}.`,
  adapter: adapter.name,
  routes: route,
  baseUrl: `https://${name}.example.com/api`,
  auth: 'bearer',
  ...fields,
});

/** Served generically: neither its name nor its adapter is a dedicated sandbox provider. */
const helpdesk = entry('helpdesk', { auth: { scheme: 'api_key', headerName: 'X-Helpdesk-Key' } });
/** A second CRM account: its adapter names the dedicated CRM provider. */
const crmEu = entry('crm-eu', { adapter: 'crm', auth: { scheme: 'oauth2_client_credentials', tokenUrl: '/oauth/token' } });
/** OAuth2 with a token path of its own. */
const billing = entry('billing', { auth: { scheme: 'oauth2_client_credentials', tokenUrl: '/v2/token' }, secret: { name: 'billing/local' } });
/** OAuth2 with a token endpoint on another host. */
const ledger = entry('ledger', { auth: { scheme: 'oauth2_client_credentials', tokenUrl: 'https://login.example.com/token' } });
const statusFeed = entry('status-feed', { auth: 'none' });
const FIXTURE = [helpdesk, crmEu, billing, ledger, statusFeed];
const fixtureCatalogs = { integrations: FIXTURE, workflows: null };

describe('sandbox wiring of a fixture catalog', () => {
  let sandbox: Sandbox<string>;
  beforeAll(async () => {
    sandbox = await startSandboxForCatalog({ seed: 3, ...fixtureCatalogs });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('serves each integration by the dedicated provider of its name, else of its adapter, else by a generic one under its name', () => {
    const { servings, generic } = sandboxWiring(fixtureCatalogs);
    expect(servings.map(({ name, provider, generic: isGeneric }) => ({ name, provider, generic: isGeneric }))).toEqual([
      { name: 'helpdesk', provider: 'helpdesk', generic: true },
      { name: 'crm-eu', provider: 'crm', generic: false },
      { name: 'billing', provider: 'billing', generic: true },
      { name: 'ledger', provider: 'ledger', generic: true },
      { name: 'status-feed', provider: 'status-feed', generic: true },
    ]);
    expect(generic).toEqual([
      { name: 'helpdesk', auth: { scheme: 'api_key', headerName: 'X-Helpdesk-Key' } },
      // A token URL that is a path is below the base URL, i.e. the generic provider's token path.
      { name: 'billing', auth: { scheme: 'oauth2_client_credentials', tokenPath: '/v2/token' } },
      { name: 'ledger', auth: 'oauth2_client_credentials' },
      { name: 'status-feed', auth: 'none' },
    ]);
  });

  it('points every integration at its sandbox provider through baseUrl:<name> context', () => {
    expect(sandboxContext(sandbox, fixtureCatalogs)).toEqual({
      'baseUrl:helpdesk': sandbox.providerUrl('helpdesk'),
      'baseUrl:crm-eu': sandbox.providerUrl('crm'),
      'baseUrl:billing': sandbox.providerUrl('billing'),
      'baseUrl:ledger': sandbox.providerUrl('ledger'),
      'baseUrl:status-feed': sandbox.providerUrl('status-feed'),
    });
  });

  it('puts the sandbox credentials under the secret names of the catalog, in the fields of its scheme', () => {
    const secrets = sandboxSecretValues(sandbox, fixtureCatalogs);
    expect(secrets).toEqual({
      'integration-hub/helpdesk': { apiKey: sandbox.credentials('helpdesk').apiKey },
      'integration-hub/crm-eu': { ...sandbox.credentials('crm') },
      'billing/local': { ...sandbox.credentials('billing') },
      // The runtime lets the secret's tokenUrl override the configuration: the other host is replaced by the sandbox.
      'integration-hub/ledger': { ...sandbox.credentials('ledger'), tokenUrl: `${sandbox.providerUrl('ledger')}/oauth/token` },
    });
    expect(Object.keys(secrets['billing/local']!).sort()).toEqual([...SECRET_FIELDS.oauth2_client_credentials].sort());
  });

  it('starts the sandbox with the generic providers, answering the catalog auth at the catalog token path', async () => {
    const { clientId, clientSecret } = sandbox.credentials('billing');
    const token = await fetch(`${sandbox.providerUrl('billing')}/v2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
      body: 'grant_type=client_credentials',
    });
    expect(token.status).toBe(200);
    const created = await fetch(`${sandbox.providerUrl('helpdesk')}/tickets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-helpdesk-key': sandbox.credentials('helpdesk').apiKey! },
      body: '{}',
    });
    expect(created.status).toBe(201);
    expect(sandbox.generic('helpdesk').resources()).toHaveLength(1);
  });

  it("issues the catalog's generic OAuth2 providers' tokens for an hour, or for accessTokenLifetimeSeconds when the start says so", async () => {
    expect(sandbox.generic('billing').tokenExpiresInSeconds).toBe(3600);
    const refreshing = entry('mailer', { auth: { scheme: 'oauth2_refresh_token', tokenUrl: '/oauth/token', scopes: ['lists:write'] } });
    const short = await startSandboxForCatalog({ seed: 1, integrations: [...FIXTURE, refreshing], workflows: null, accessTokenLifetimeSeconds: 20 });
    try {
      expect(['billing', 'ledger', 'mailer'].map((name) => short.generic(name).tokenExpiresInSeconds)).toEqual([20, 20, 20]);
      // Only the lifetime changes: the catalog's token path, scopes and the other schemes are as derived.
      expect(short.generic('billing').tokenPath).toBe('/v2/token');
      expect(short.generic('helpdesk').tokenExpiresInSeconds).toBeUndefined();
      const { clientId, clientSecret, refreshToken } = short.credentials('mailer');
      const granted = await fetch(`${short.providerUrl('mailer')}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
        body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(refreshToken!)}`,
      });
      expect(await granted.json()).toMatchObject({ expires_in: 20, scope: 'lists:write' });
      expect(short.generic('mailer').refreshTokenGrant?.refreshesGranted()).toBe(1);
    } finally {
      await short.close();
    }
  });
});

describe('sandbox wiring of the shipped catalogs', () => {
  let sandbox: Sandbox<string>;
  beforeAll(async () => {
    sandbox = await startSandboxForCatalog({ seed: 3 });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  const catalog = resolveCatalog(INTEGRATIONS);
  const standalone = [...resolveWorkflows(catalog).providers.values()].filter((provider) => provider.integration === undefined);

  it('mounts a generic provider for exactly the integrations without a sandbox API, and points every integration and standalone workflow provider at its own', () => {
    expect(sandboxWiring().generic.map((declaration) => declaration.name)).toEqual(catalog.filter((entry) => servingProviderOf(entry).generic).map((entry) => entry.name));
    const context = sandboxContext(sandbox);
    expect(Object.keys(context).sort()).toEqual([...catalog, ...standalone].map((entry) => `baseUrl:${entry.name}`).sort());
    for (const entry of catalog) expect(context[`baseUrl:${entry.name}`]).toBe(sandbox.providerUrl(servingProviderOf(entry).name));
    for (const provider of standalone) expect(context[`baseUrl:${provider.name}`]).toBe(sandbox.providerUrl(provider.name));
  });

  it("holds a secret per catalog secret name with its scheme's fields (payments' secret key is the bearer token)", () => {
    const secrets = sandboxSecretValues(sandbox);
    const named = [...catalog, ...standalone].filter((entry) => entry.auth.scheme !== 'none');
    expect(Object.keys(secrets).sort()).toEqual(named.map((entry) => entry.secret.name).sort());
    for (const entry of named) expect(Object.keys(secrets[entry.secret.name]!).sort(), entry.name).toEqual(expect.arrayContaining([...SECRET_FIELDS[entry.auth.scheme]]));
    if (catalog.some((entry) => entry.name === 'payments')) {
      expect(secrets[catalogIntegration('payments').secret.name]).toEqual({ token: sandbox.credentials('payments').secretKey });
    }
  });
});

describe('the local hub refuses what the sandbox does not serve', () => {
  let sandbox: Sandbox<string>;
  beforeAll(async () => {
    sandbox = await startSandboxForCatalog({ seed: 3, integrations: [helpdesk, crmEu], workflows: null });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  /** The start's error (it must fail). */
  async function startFailure(...args: Parameters<typeof LocalHub.start>): Promise<ConfigurationError> {
    const error = await LocalHub.start(...args).then(
      async (hub) => {
        await hub.stop();
        return undefined;
      },
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }

  it('names every integration whose base URL is not the sandbox (a template synthesized without the context)', async () => {
    const integrations = [helpdesk, crmEu];
    const template = synthesizeHubTemplate({ integrations, workflows: null });
    const error = await startFailure({ sandbox, integrations, workflows: null, template });
    expect(error.problems).toEqual([
      expect.stringMatching(/^integration 'helpdesk': BASE_URL https:\/\/helpdesk\.example\.com\/api is not served by the local sandbox .*baseUrl:helpdesk/),
      expect.stringMatching(/^integration 'crm-eu': BASE_URL https:\/\/crm-eu\.example\.com\/api is not served by the local sandbox .*baseUrl:crm-eu/),
    ]);
    expect(error.message).toContain("integration 'helpdesk'");
  });

  it('names an integration whose generic provider the sandbox does not mount (a sandbox started without the catalog)', async () => {
    const bare = await startSandbox({ seed: 3 });
    try {
      const error = await startFailure({ sandbox: bare, integrations: [helpdesk, crmEu], workflows: null });
      expect(error.problems).toEqual([
        expect.stringMatching(/^integration 'helpdesk': BASE_URL .*\/helpdesk names sandbox provider 'helpdesk', which this sandbox does not mount .*startSandboxForCatalog/),
        expect.stringMatching(/^integration 'helpdesk': SECRET_NAME 'integration-hub\/helpdesk' is missing from the local secrets manager/),
      ]);
    } finally {
      await bare.close();
    }
  });

  it('names an integration whose secret is missing (a template from a catalog with another secret name)', async () => {
    const renamed = [helpdesk, { ...crmEu, secret: { name: 'elsewhere/crm-eu' } }];
    const template = synthesizeHubTemplate({ integrations: renamed, workflows: null, context: sandboxContext(sandbox, { integrations: renamed, workflows: null }) });
    const error = await startFailure({ sandbox, integrations: [helpdesk, crmEu], workflows: null, template });
    expect(error.problems).toEqual([expect.stringMatching(/^integration 'crm-eu': SECRET_NAME 'elsewhere\/crm-eu' is missing from the local secrets manager/)]);
  });

  it("checks a workflow task's prefixed provider bindings too, naming the function and the variable", () => {
    const task = {
      logicalId: 'ContactSyncSyncPageFunction1234',
      environment: {
        CONTACTS_BASE_URL: 'https://contacts.example.com/v1',
        CONTACTS_AUTH: '{"scheme":"bearer"}',
        CONTACTS_SECRET_NAME: 'integration-hub/contacts',
        CRM_BASE_URL: sandbox.providerUrl('crm'),
        CRM_AUTH: '{"scheme":"oauth2_client_credentials","tokenUrl":"/oauth/token"}',
        CRM_SECRET_NAME: 'integration-hub/crm',
        // Not a provider binding (no sibling AUTH): not checked.
        DOCS_BASE_URL: 'https://docs.example.com',
      },
    };
    expect(sandboxWiringProblems(sandbox, [task], (name) => name === 'integration-hub/crm')).toEqual([
      expect.stringMatching(/^function ContactSyncSyncPageFunction1234: CONTACTS_BASE_URL https:\/\/contacts\.example\.com\/v1 is not served by the local sandbox/),
      expect.stringMatching(/^function ContactSyncSyncPageFunction1234: CONTACTS_SECRET_NAME 'integration-hub\/contacts' is missing/),
    ]);
  });

  it('names an integration whose auth scheme the sandbox provider does not check', async () => {
    const bearerCrm = [helpdesk, { ...crmEu, auth: 'bearer' as const }];
    const error = await startFailure({ sandbox, integrations: bearerCrm, workflows: null });
    expect(error.problems).toEqual([expect.stringMatching(/^integration 'crm-eu': AUTH scheme is 'bearer' but sandbox provider 'crm' checks 'oauth2_client_credentials'/)]);
  });
});
