import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CatalogError, INTEGRATIONS, type IntegrationEntry, REPOSITORY_ROOT, resolveCatalog } from '../../lib/catalog.js';
import { loadAdapter } from '../../functions/ops/integration-adapters.js';
import { circuitBreakerSettingsProblems, resolveCircuitBreakerSettings } from '../../functions/runtime/circuit-settings.js';
import { ConfigurationError } from '../../functions/runtime/errors.js';

const minimal: IntegrationEntry = {
  name: 'inventory',
  description: 'Stock levels',
  // An adapter that exists: the catalog checks that the module is there.
  adapter: 'crm',
  routes: [{ sources: ['stock.service'], detailTypes: ['StockChanged'] }],
  baseUrl: 'https://inventory.example.com',
  auth: 'api_key',
};

describe('resolveCatalog', () => {
  it('applies the documented defaults to an entry that leaves them out', () => {
    const [resolved] = resolveCatalog([minimal]);
    expect(resolved).toEqual({
      ...minimal,
      auth: { scheme: 'api_key' },
      entry: 'functions/integrations/crm.ts',
      secret: { name: 'integration-hub/inventory', import: false },
      functionTimeoutSeconds: 30,
      memoryMb: 512,
      httpTimeoutMs: undefined,
      maxAttempts: undefined,
      batchSize: 10,
      batchWindowSeconds: 0,
      maxConcurrency: 5,
      recordConcurrency: 10,
      maxReceiveCount: 5,
      circuit: {},
      alarms: { oldestMessageAgeSeconds: 900, circuitOpenMinutes: 15, functionErrors: 1 },
    });
  });

  it('keeps explicit values over defaults', () => {
    const [resolved] = resolveCatalog([{ ...minimal, secret: { name: 'vendor/inv', import: true }, maxConcurrency: 50, memoryMb: 1024 }]);
    expect(resolved?.secret).toEqual({ name: 'vendor/inv', import: true });
    expect(resolved?.maxConcurrency).toBe(50);
    expect(resolved?.memoryMb).toBe(1024);
  });

  it('overrides the base URL of the named integration from context baseUrl:<name>, and only that one', () => {
    const resolved = resolveCatalog(INTEGRATIONS, { 'baseUrl:crm': 'https://sandbox.crm.example.com' });
    expect(resolved.find((entry) => entry.name === 'crm')?.baseUrl).toBe('https://sandbox.crm.example.com');
    expect(resolved.find((entry) => entry.name === 'payments')?.baseUrl).toBe('https://payments.example.com/v1');
  });

  it('refuses a plain-http base URL outside the loopback interface (credentials would cross the network in clear)', () => {
    expect(() => resolveCatalog([{ ...minimal, baseUrl: 'http://inventory.example.com' }])).toThrow(/baseUrl must use https/);
    expect(resolveCatalog([minimal], { 'baseUrl:inventory': 'http://127.0.0.1:4100/inventory' })[0]?.baseUrl).toBe('http://127.0.0.1:4100/inventory');
  });

  it('validates a context override like a catalog value', () => {
    expect(() => resolveCatalog([minimal], { 'baseUrl:inventory': 'ftp://nope' })).toThrow(/baseUrl must be an https URL/);
  });

  it('reports every problem of every entry at once', () => {
    const broken: IntegrationEntry[] = [
      { ...minimal, name: 'Bad Name', adapter: 'Elsewhere' },
      { ...minimal, name: 'slow', functionTimeoutSeconds: 10, httpTimeoutMs: 10_000, maxConcurrency: 1 },
      { ...minimal, name: 'slow', routes: [], baseUrl: 'not a url', batchSize: 50 },
    ];
    let error: unknown;
    try {
      resolveCatalog(broken);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CatalogError);
    const problems = (error as CatalogError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/'Bad Name': name must be lower-kebab-case/),
        expect.stringMatching(/'Bad Name': adapter must be lower-kebab-case/),
        expect.stringMatching(/'slow': httpTimeoutMs \(10000\) must be shorter than the function timeout/),
        expect.stringMatching(/'slow': maxConcurrency must be an integer from 2 to 1000/),
        expect.stringMatching(/'slow': name is used twice/),
        expect.stringMatching(/'slow': needs at least one route/),
        expect.stringMatching(/'slow': baseUrl must be an https URL/),
        expect.stringMatching(/'slow': batchSize must be an integer from 1 to 10/),
      ]),
    );
    expect(problems).toHaveLength(8);
    expect((error as Error).message.split('\n- ')).toHaveLength(9);
  });

  it("fails on circuit settings that the runtime's own validator rejects, naming each one", () => {
    const circuit = { failureThreshold: 0, breakMs: 60_000, maxBreakMs: 1000, windowMs: 1000, windowBuckets: 7 };
    const expected = circuitBreakerSettingsProblems(circuit);
    expect(expected.length).toBeGreaterThanOrEqual(3);
    let error: unknown;
    try {
      resolveCatalog([{ ...minimal, circuit }]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CatalogError);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as CatalogError).problems).toEqual(expected.map((problem) => `integration 'inventory': circuit: ${problem}`));
    // The function would have refused the same settings at init: synth and run time agree.
    expect(() => resolveCircuitBreakerSettings(circuit)).toThrow(ConfigurationError);
  });

  it('declares auth once: a bare scheme or the whole configuration, checked at synth', () => {
    expect(resolveCatalog([{ ...minimal, auth: 'basic' }])[0]?.auth).toEqual({ scheme: 'basic' });
    const oauth = { scheme: 'oauth2_client_credentials', tokenUrl: '/oauth/token', scope: 'files' } as const;
    expect(resolveCatalog([{ ...minimal, auth: oauth }])[0]?.auth).toEqual(oauth);
    expect(() => resolveCatalog([{ ...minimal, auth: { scheme: 'oauth2_client_credentials' } as never }])).toThrow(/integration 'inventory': auth.tokenUrl is required/);
    expect(() => resolveCatalog([{ ...minimal, auth: 'kerberos' as never }])).toThrow(/integration 'inventory': auth scheme must be one of/);
  });

  it('rejects an unknown circuit setting (a typo would otherwise be ignored until the first invocation)', () => {
    expect(() => resolveCatalog([{ ...minimal, circuit: { failureTreshold: 3 } as never }])).toThrow(/circuit: unknown setting 'failureTreshold'/);
  });

  it('accepts the shipped catalog', () => {
    expect(resolveCatalog(INTEGRATIONS).map((entry) => entry.name)).toEqual(INTEGRATIONS.map((entry) => entry.name));
  });
});

describe('catalog ↔ adapters', () => {
  it("uses the integration's name as its adapter unless the entry names one", () => {
    const [own, shared] = resolveCatalog([
      { ...minimal, name: 'crm', adapter: undefined },
      { ...minimal, name: 'crm-eu', adapter: 'crm' },
    ]);
    expect([own?.adapter, own?.entry]).toEqual(['crm', 'functions/integrations/crm.ts']);
    expect([shared?.adapter, shared?.entry]).toEqual(['crm', 'functions/integrations/crm.ts']);
  });

  it('fails synth, naming the integration, when its adapter module does not exist', () => {
    expect(() => resolveCatalog([{ ...minimal, name: 'no-such-adapter', adapter: undefined }])).toThrow(
      /integration 'no-such-adapter': adapter 'no-such-adapter' has no module functions\/integrations\/no-such-adapter\.ts/,
    );
  });

  for (const entry of resolveCatalog(INTEGRATIONS)) {
    it(`${entry.name}: its adapter module defines one adapter and exports its handler`, async () => {
      const adapter = await loadAdapter(entry.adapter);
      const module = (await import(pathToFileURL(join(REPOSITORY_ROOT, entry.entry)).href)) as Record<string, unknown>;
      expect(module.handler).toBe(adapter.sqsHandler);
      // The connection is the catalog's alone: an adapter that declared one would be ignored.
      expect(adapter.definition).not.toHaveProperty('connection');
    });
  }
});
