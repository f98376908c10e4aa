/**
 * The parts an integration runtime test runs against: in-process dynalite, the sandbox third parties on loopback,
 * a local Secrets Manager holding the sandbox's CRM and payments credentials (as `crm/credentials` and
 * `payments/credentials`), and fresh ledger and circuits tables for every test. Registers its own vitest hooks.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { AuthConfig } from '../../functions/runtime/auth-config.js';
import type { Integration } from '../../functions/runtime/define-integration.js';
import { SecretsManagerSecretSource } from '../../functions/runtime/secrets-manager-secret-source.js';
import { createHubTables, createLocalIntegration, type LocalIntegrationOptions } from '../../local/local-integration.js';
import { createLocalSecretsManager, type LocalSecretsManager } from '../../local/local-secrets-manager.js';
import { type Sandbox, startSandbox } from '../../local/sandbox/index.js';
import { type LocalDynamo, startLocalDynamo } from './dynalite.js';

/** The live parts; valid inside tests (set by the hooks). */
export interface RuntimeTestBed {
  dynamo: LocalDynamo;
  sandbox: Sandbox;
  secretsManager: LocalSecretsManager;
  tables: { ledger: string; circuits: string };
  /** A runtime of `integration` named `name`, calling sandbox provider `provider` with fast in-process retries. */
  build<T>(integration: Integration<T>, options: { name: string; provider: 'crm' | 'payments'; auth: AuthConfig } & Partial<LocalIntegrationOptions>): ReturnType<typeof createLocalIntegration<T>>;
}

/** Sets up the bed for the calling test file; `tablePrefix` keeps its tables apart from other files'. */
export function useRuntimeTestBed(options: { seed: number; tablePrefix: string }): RuntimeTestBed {
  let tableSeq = 0;
  const bed = {
    build(integration, { provider, ...overrides }) {
      return createLocalIntegration(integration, {
        dynamo: bed.dynamo,
        tables: bed.tables,
        baseUrl: bed.sandbox.providerUrl(provider),
        secrets: new SecretsManagerSecretSource({ client: bed.secretsManager.client }),
        secretName: `${provider}/credentials`,
        settings: { http: { baseDelayMs: 1, maxDelayMs: 5 } },
        ...overrides,
      });
    },
  } as RuntimeTestBed;

  beforeAll(async () => {
    [bed.dynamo, bed.sandbox] = await Promise.all([startLocalDynamo(), startSandbox({ seed: options.seed })]);
  });
  afterAll(async () => {
    await Promise.all([bed.dynamo.close(), bed.sandbox.close()]);
  });
  beforeEach(async () => {
    bed.sandbox.reset();
    tableSeq += 1;
    bed.tables = { ledger: `${options.tablePrefix}ledger-${tableSeq}`, circuits: `${options.tablePrefix}circuits-${tableSeq}` };
    await createHubTables(bed.dynamo, bed.tables);
    bed.secretsManager = createLocalSecretsManager({
      'crm/credentials': { ...bed.sandbox.credentials('crm') },
      'payments/credentials': { token: bed.sandbox.credentials('payments').secretKey },
    });
  });
  return bed;
}
