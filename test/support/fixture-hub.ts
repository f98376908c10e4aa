/**
 * A local hub running a fixture catalog of one integration added the way a user adds one (a fixture adapter, see
 * fixture-adapter.ts, and a catalog entry), with its sandbox; registers its own vitest hooks, like
 * runtime-test-bed.ts. The shipped workflows need the shipped integrations, so the fixture catalog deploys none.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll } from 'vitest';
import type { IntegrationEntry } from '../../lib/catalog.js';
import { LocalHub } from '../../local/hub/local-hub.js';
import { startSandboxForCatalog } from '../../local/hub/sandbox-wiring.js';
import type { Sandbox } from '../../local/sandbox/index.js';
import { type FixtureAdapter, writeFixtureAdapter } from './fixture-adapter.js';

/** The live parts; valid inside tests (set by the hooks). */
export interface FixtureHub {
  adapter: FixtureAdapter;
  sandbox: Sandbox<string>;
  hub: LocalHub;
  /** Errors of the hub's background work (LocalHubOptions `onError`). */
  readonly backgroundErrors: { where: string; error: unknown }[];
}

/**
 * Starts the hub before the file's tests, with the entry's routes and settings (auth `api_key` by default) and
 * `environment` added to every function's, and the functions' `logger` (default silent).
 */
export function useFixtureHub(
  label: string,
  entry: Pick<IntegrationEntry, 'description' | 'routes'> & Partial<IntegrationEntry>,
  options: { seed: number; environment?: Readonly<Record<string, string>>; logger?: Logger },
): FixtureHub {
  const fixture = { backgroundErrors: [] as FixtureHub['backgroundErrors'] } as FixtureHub;
  beforeAll(async () => {
    fixture.adapter = writeFixtureAdapter(label);
    const catalog: IntegrationEntry[] = [{ name: fixture.adapter.name, baseUrl: 'https://helpdesk.example.com/api', auth: 'api_key', ...entry }];
    fixture.sandbox = await startSandboxForCatalog({ seed: options.seed, integrations: catalog, workflows: null });
    fixture.hub = await LocalHub.start({
      sandbox: fixture.sandbox,
      integrations: catalog,
      workflows: null,
      environment: options.environment,
      logger: options.logger,
      onError: (where, error) => fixture.backgroundErrors.push({ where, error }),
    });
  });
  afterAll(async () => {
    try {
      await fixture.hub?.stop();
      await fixture.sandbox?.close();
    } finally {
      fixture.adapter?.remove();
    }
  });
  return fixture;
}
