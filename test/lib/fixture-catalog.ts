/**
 * A made-up integration catalog for tests that must not depend on the shipped integrations (lib/catalog.ts
 * INTEGRATIONS): every name, route, URL, limit and threshold here is invented, and the entries differ from each other
 * and from the defaults, so a test built on them proves that what it checks is derived from the catalog entry, not
 * wired to a shipped name or a default value.
 *
 * The one place that builds fixture entries: a change of IntegrationEntry's fields is made here only.
 */
import { type CatalogAuthScheme, INTEGRATIONS, type IntegrationEntry, pascalCase, type ResolvedIntegration, resolveCatalog } from '../../lib/catalog.js';

/** Fields of an entry to override, and how many routes it has (1 by default). */
export type FixtureOverrides = Partial<IntegrationEntry> & { readonly routeCount?: number };

/**
 * The adapter every fixture integration runs: one that exists (the stack checks its module and bundles it; tests skip
 * bundling and never run it). Taken from the shipped catalog, so the fixture does not break when an adapter is renamed.
 */
export const FIXTURE_ADAPTER: string = resolveCatalog(INTEGRATIONS.slice(0, 1))[0]!.adapter;

/** The names of the first fixture integrations; further ones are `fixture-<n>`. */
export const FIXTURE_NAMES = ['alpha', 'beta-two', 'gamma-three'] as const;

/** Per position, settings that differ from each other and from the catalog defaults. */
const VARIANTS: readonly FixtureOverrides[] = [
  {
    // One route, API key, tighter than the defaults everywhere.
    auth: 'api_key',
    functionTimeoutSeconds: 20,
    memoryMb: 256,
    httpTimeoutMs: 4000,
    maxAttempts: 2,
    batchSize: 5,
    maxConcurrency: 3,
    recordConcurrency: 4,
    maxReceiveCount: 4,
    circuit: { failureThreshold: 3, breakMs: 10_000 },
    alarms: { oldestMessageAgeSeconds: 120, circuitOpenMinutes: 7, functionErrors: 2 },
  },
  {
    // Two routes, basic auth with a secret of its own name, a batching window (larger batches), a ratio breaker.
    auth: 'basic',
    secret: { name: 'fixture-vendor/beta-two-credentials' },
    routeCount: 2,
    functionTimeoutSeconds: 45,
    memoryMb: 1024,
    batchSize: 50,
    batchWindowSeconds: 15,
    maxConcurrency: 12,
    maxReceiveCount: 8,
    circuit: { mode: 'ratio', failureRatio: 0.5, minimumThroughput: 10, windowMs: 60_000 },
    alarms: { oldestMessageAgeSeconds: 600 },
  },
  {
    // Bearer token, every limit at its default, no HTTP tuning: what the defaults deploy.
    auth: 'bearer',
  },
];

/** One fixture integration named `name`: a route of its own, its own base URL, bearer auth unless `overrides` say otherwise. */
export function fixtureEntry(name: string, overrides: FixtureOverrides = {}): IntegrationEntry {
  const { routeCount = 1, ...fields } = overrides;
  const pascal = pascalCase(name);
  return {
    name,
    description: `The made-up ${name} integration of the tests.`,
    adapter: FIXTURE_ADAPTER,
    routes: Array.from({ length: routeCount }, (_, index) => ({
      sources: index === 0 ? [`${name}.upstream`] : [`${name}.upstream`, `${name}.other-upstream`],
      detailTypes: index === 0 ? [`${pascal}Requested`] : [`${pascal}Changed`, `${pascal}Removed`],
    })),
    baseUrl: `https://${name}.fixture.example/api/v${routeCount}`,
    auth: 'bearer',
    ...fields,
  };
}

/** `count` fixture integrations (3 by default): alpha, beta-two, gamma-three, then fixture-4, fixture-5, … */
export function fixtureIntegrations(count: number = FIXTURE_NAMES.length): IntegrationEntry[] {
  return Array.from({ length: count }, (_, index) => fixtureEntry(FIXTURE_NAMES[index] ?? `fixture-${index + 1}`, VARIANTS[index] ?? {}));
}

/** An invented `oauth2_refresh_token` declaration, for fixture entries of the one scheme whose grant can be revoked. */
export const FIXTURE_REFRESH_TOKEN_AUTH: IntegrationEntry['auth'] = { scheme: 'oauth2_refresh_token', tokenUrl: '/oauth/token', scopes: ['fixture:write'] };

/** Auth schemes that take no parameter: a catalog may declare them as a bare string. */
export type BareAuthScheme = Exclude<CatalogAuthScheme, 'oauth2_client_credentials' | 'oauth2_refresh_token'>;

/** The scheme of an auth declaration or of a resolved auth configuration (a bare scheme, or an object with `scheme`). */
export function authScheme(auth: unknown): CatalogAuthScheme {
  return (typeof auth === 'string' ? auth : (auth as { scheme: CatalogAuthScheme }).scheme) as CatalogAuthScheme;
}

/** `scheme` in the form a resolved entry carries it, for props built by hand (e.g. a ResolvedProvider). */
export function resolvedAuth(scheme: BareAuthScheme): ResolvedIntegration['auth'] {
  return resolveCatalog([fixtureEntry('auth-fixture', { auth: scheme })])[0]!.auth;
}
