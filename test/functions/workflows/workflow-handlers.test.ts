import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../functions/runtime/errors.js';
import { contactSyncConfigFromEnvironment, syncPage } from '../../../functions/workflows/contact-sync.js';
import { CONTACT_SYNC_ENVIRONMENT, SAGA_TASK_ENVIRONMENT, WORKFLOW_HANDLERS } from '../../../functions/workflows/index.js';
import { ORDER_SAGA_TASKS, reserveInventory } from '../../../functions/workflows/order-saga.js';
import { TASK_ERROR_NAMES } from '../../../functions/workflows/workflow-contract.js';
import { lambdaContext } from '../../../local/lambda-events.js';
import { createHubTables } from '../../../local/local-integration.js';
import { type Sandbox, startSandbox } from '../../../local/sandbox/index.js';
import { type LocalDynamo, startLocalDynamo } from '../../support/dynalite.js';
import { rejectionOf } from './workflow-test-kit.js';
import { resolveCatalog } from '../../../lib/catalog.js';
import { resolveWorkflows } from '../../../lib/workflow-catalog.js';

/** A provider as the workflow catalog resolves it (its auth is what the stack sets as `<prefix>AUTH`). */
const workflowProvider = (name: string) => resolveWorkflows(resolveCatalog()).providers.get(name)!;

describe('workflow handler registry', () => {
  it('names an existing function export for every workflow Lambda entry', async () => {
    for (const handler of WORKFLOW_HANDLERS) {
      const module = (await import(`../../../${handler.entry.replace(/\.ts$/, '.js')}`)) as Record<string, unknown>;
      expect(typeof module[handler.exportName], `${handler.entry} ${handler.exportName}`).toBe('function');
    }
  });

  it('lists the seven saga handlers with their provider', () => {
    const saga = WORKFLOW_HANDLERS.filter((h) => h.entry === 'functions/workflows/order-saga.ts');
    expect(saga.map((h) => [h.exportName, h.name, h.providers[0]?.name])).toEqual([
      ['reserveInventory', 'reserve-inventory', 'inventory'],
      ['chargePayment', 'charge-payment', 'payments'],
      ['createShipment', 'create-shipment', 'shipping'],
      ['sendConfirmation', 'send-confirmation', 'email'],
      ['cancelShipment', 'cancel-shipment', 'shipping'],
      ['refundPayment', 'refund-payment', 'payments'],
      ['releaseInventory', 'release-inventory', 'inventory'],
    ]);
  });
});

describe('saga task environment', () => {
  it('fails fast naming every missing required variable, and asks for no DLQ', async () => {
    // Vite puts its own BASE_URL ('/') into the test process's environment.
    const viteBaseUrl = process.env.BASE_URL;
    delete process.env.BASE_URL;
    const error = await rejectionOf(reserveInventory({}, lambdaContext('reserve-inventory'))).finally(() => {
      if (viteBaseUrl !== undefined) process.env.BASE_URL = viteBaseUrl;
    });

    expect(error).toBeInstanceOf(ConfigurationError);
    for (const name of SAGA_TASK_ENVIRONMENT.required) expect(error.message).toContain(`${name} is required`);
    expect(error.message).not.toContain('DLQ_URL');
  });
});

describe('contact sync environment', () => {
  const complete = {
    CHECKPOINTS_TABLE_NAME: 'checkpoints',
    CIRCUITS_TABLE_NAME: 'circuits',
    CONTACTS_BASE_URL: 'https://contacts.example.com/v1',
    CONTACTS_AUTH: JSON.stringify(workflowProvider('contacts').auth),
    CONTACTS_SECRET_NAME: 'integration-hub/contacts',
    CRM_BASE_URL: 'https://crm.example.com/api',
    CRM_AUTH: JSON.stringify(workflowProvider('crm').auth),
    CRM_SECRET_NAME: 'integration-hub/crm',
  };

  it('reads each provider from its prefixed variables and shares the rest', () => {
    const config = contactSyncConfigFromEnvironment({
      ...complete,
      CONTACTS_HTTP_TIMEOUT_MS: '9000',
      CRM_HTTP_MAX_ATTEMPTS: '2',
      HTTP_BASE_DELAY_MS: '50',
      PAGE_SIZE: '200',
      CRM_CIRCUIT_SETTINGS: '{"failureThreshold":3}',
      CRM_AUTH_TOKEN_URL: '/oauth2/token',
    });

    expect(config.source).toMatchObject({ baseUrl: complete.CONTACTS_BASE_URL, secretName: complete.CONTACTS_SECRET_NAME, http: { timeoutMs: 9000, baseDelayMs: 50 } });
    expect(config.crm).toMatchObject({ baseUrl: complete.CRM_BASE_URL, secretName: complete.CRM_SECRET_NAME, http: { maxAttempts: 2, baseDelayMs: 50 } });
    expect(config).toMatchObject({ checkpointsTableName: 'checkpoints', pageSize: 200, circuits: { crm: { failureThreshold: 3 } }, crmAuthTokenUrl: '/oauth2/token' });
  });

  it('reports every problem at once: missing variables, a page beyond the CRM bulk limit, bad circuit settings', () => {
    let error: unknown;
    try {
      contactSyncConfigFromEnvironment({ PAGE_SIZE: '500', CONTACTS_CIRCUIT_SETTINGS: '[1]' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    const message = (error as Error).message;
    for (const name of CONTACT_SYNC_ENVIRONMENT.required) expect(message).toContain(`${name} is required`);
    expect(message).toContain('PAGE_SIZE must be an integer from 1 to 200');
    expect(message).toContain('CONTACTS_CIRCUIT_SETTINGS must be a JSON object');
  });
});

describe('workflow Lambda entries built from the environment', () => {
  const secretsMock = mockClient(SecretsManagerClient);
  const saved = { ...process.env };
  let dynamo: LocalDynamo;
  let sandbox: Sandbox;

  beforeAll(async () => {
    [dynamo, sandbox] = await Promise.all([startLocalDynamo(), startSandbox({ seed: 5 })]);
    await createHubTables(dynamo, { ledger: 'env-ledger', circuits: 'env-circuits' });
    await dynamo.createTable('env-checkpoints', { partitionKey: 'syncId' });
    const secrets: Record<string, unknown> = {
      'integration-hub/inventory': { apiKey: sandbox.credentials('inventory').apiKey },
      'integration-hub/contacts': { token: sandbox.credentials('contacts').token },
      'integration-hub/crm': { ...sandbox.credentials('crm') },
    };
    secretsMock.on(GetSecretValueCommand).callsFake((input: { SecretId?: string }) => ({
      Name: input.SecretId,
      SecretString: JSON.stringify(secrets[input.SecretId ?? '']),
    }));
  });
  afterEach(() => {
    process.env = { ...saved };
  });
  afterAll(async () => {
    secretsMock.restore();
    await Promise.all([dynamo.close(), sandbox.close()]);
  });

  it('runs a saga step from its environment: the provider circuit, the ledger row, the stored result', async () => {
    Object.assign(process.env, {
      BASE_URL: sandbox.providerUrl('inventory'),
      AUTH: JSON.stringify(workflowProvider('inventory').auth),
      SECRET_NAME: 'integration-hub/inventory',
      LEDGER_TABLE_NAME: 'env-ledger',
      CIRCUITS_TABLE_NAME: 'env-circuits',
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      CIRCUIT_SETTINGS: '{"failureThreshold":5}',
    });
    const input = {
      order: {
        orderId: 'ord-env',
        customerId: 'c',
        email: 'a@example.com',
        items: [{ sku: 'SKU-3', quantity: 1 }],
        amount: '1.00',
        currency: 'EUR',
        shippingAddress: { name: 'A', line1: 'L', city: 'C', postalCode: '1', country: 'DE' },
      },
      steps: {},
      executionName: 'ord-env',
      retryCount: 0,
    };

    const result = await reserveInventory(input, lambdaContext('reserve-inventory'));
    const replay = await reserveInventory({ ...input, retryCount: 2 }, lambdaContext('reserve-inventory'));

    expect(result).toEqual({ reservationId: sandbox.inventory.reservations()[0]?.id });
    expect(replay).toEqual(result);
    expect(sandbox.inventory.reservations()).toHaveLength(1);
    expect(ORDER_SAGA_TASKS.reserveInventory.provider).toBe('inventory');
  });

  it('runs a contact sync page from its environment', async () => {
    sandbox.contacts.seed(5);
    Object.assign(process.env, {
      CHECKPOINTS_TABLE_NAME: 'env-checkpoints',
      CIRCUITS_TABLE_NAME: 'env-circuits',
      CONTACTS_BASE_URL: sandbox.providerUrl('contacts'),
      CONTACTS_AUTH: JSON.stringify(workflowProvider('contacts').auth),
      CONTACTS_SECRET_NAME: 'integration-hub/contacts',
      CRM_BASE_URL: sandbox.providerUrl('crm'),
      CRM_AUTH: JSON.stringify(workflowProvider('crm').auth),
      CRM_SECRET_NAME: 'integration-hub/crm',
      DYNAMODB_ENDPOINT: dynamo.endpoint,
    });

    const output = await syncPage({ syncId: 'env-sync', executionName: 'env-run', pagesThisRun: 0, maxPagesPerExecution: 10, leaseSeconds: 780 }, lambdaContext('contact-sync'));

    expect(output).toEqual({ syncId: 'env-sync', pagesThisRun: 1, hasMore: false, upserted: 5, deleted: 0, skipped: false });
    expect(sandbox.crm.contacts()).toHaveLength(5);
  });

  it('names its failures with the task error names', async () => {
    const error = await rejectionOf(syncPage({ syncId: 'env-sync', executionName: '', pagesThisRun: 0, maxPagesPerExecution: 10, leaseSeconds: 780 }, lambdaContext('contact-sync')));
    expect(error.name).toBe(TASK_ERROR_NAMES.permanent);
  });
});
