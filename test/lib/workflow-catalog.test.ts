import { describe, expect, it } from 'vitest';
import { CONTACT_SYNC_CIRCUITS, MAX_PAGE_SIZE } from '../../functions/workflows/contact-sync.js';
import { webhookEventSource } from '../../functions/webhooks/webhook-declaration.js';
import { WORKFLOW_HANDLERS } from '../../functions/workflows/index.js';
import { ORDER_SAGA_TASKS as SAGA_HANDLERS } from '../../functions/workflows/order-saga.js';
import { TASK_ERROR_NAMES as CONTRACT_ERROR_NAMES } from '../../functions/workflows/workflow-contract.js';
import { CatalogError, INTEGRATIONS, resolveCatalog } from '../../lib/catalog.js';
import { ORDER_SAGA_TASKS } from '../../lib/constructs/order-saga-state-machine.js';
import {
  contactSyncHistoryBound,
  EXECUTION_HISTORY_LIMIT,
  maxInvocationsPerState,
  orderSagaWorstCaseSeconds,
  PROVIDERS,
  type ProviderEntry,
  resolveWorkflows,
  retryDelayBudgetSeconds,
  TASK_ERROR_NAMES,
  WORKFLOWS,
  type WorkflowsCatalog,
} from '../../lib/workflow-catalog.js';
import { authScheme } from './fixture-catalog.js';

const integrations = resolveCatalog(INTEGRATIONS);

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CatalogError);
    return (error as CatalogError).problems;
  }
  throw new Error('expected a CatalogError');
}

describe('workflow catalog ↔ task handlers (functions/workflows)', () => {
  it('restates the contract error names exactly', () => {
    expect(TASK_ERROR_NAMES).toEqual(CONTRACT_ERROR_NAMES);
  });

  it('binds a state machine task to every saga handler export, and nothing else', () => {
    expect([...ORDER_SAGA_TASKS].sort()).toEqual(Object.keys(SAGA_HANDLERS).sort());
  });

  it('gives each saga task the provider whose circuit the handler reports to', () => {
    const { orderSaga } = resolveWorkflows(integrations);
    const stepProvider = {
      reserveInventory: orderSaga.providers.inventory,
      releaseInventory: orderSaga.providers.inventory,
      chargePayment: orderSaga.providers.payments,
      refundPayment: orderSaga.providers.payments,
      createShipment: orderSaga.providers.shipping,
      cancelShipment: orderSaga.providers.shipping,
      sendConfirmation: orderSaga.providers.email,
    } as const;
    for (const [task, provider] of Object.entries(stepProvider)) {
      expect(SAGA_HANDLERS[task as keyof typeof SAGA_HANDLERS].provider, task).toBe(provider.name);
    }
    // The payment step's provider is an integration's: one circuit for the queue pipeline and the saga.
    expect(orderSaga.providers.payments.integration).toBeDefined();
    expect(integrations.map((integration) => integration.name)).toContain(orderSaga.providers.payments.integration);
  });

  it('gives the contact sync the providers whose circuits the handler reports to, within its page limit', () => {
    const { contactSync } = resolveWorkflows(integrations);
    expect(contactSync.source.name).toBe(CONTACT_SYNC_CIRCUITS.source);
    expect(contactSync.target.name).toBe(CONTACT_SYNC_CIRCUITS.crm);
    expect(contactSync.pageSize).toBeLessThanOrEqual(MAX_PAGE_SIZE);
  });

  it('deploys every workflow handler from the module the catalog names, calling providers of the catalog', () => {
    const { orderSaga, contactSync, providers } = resolveWorkflows(integrations);
    const entries = new Set([orderSaga.entry, orderSaga.starterEntry, contactSync.entry]);
    expect(new Set(WORKFLOW_HANDLERS.map((handler) => handler.entry))).toEqual(entries);
    for (const handler of WORKFLOW_HANDLERS) {
      for (const provider of handler.providers) expect(providers.has(provider.name), `${handler.exportName} → ${provider.name}`).toBe(true);
    }
  });
});

describe('resolveWorkflows', () => {
  it('resolves the shipped providers: standalone ones with their own secret, integration ones sharing the integration', () => {
    const { providers } = resolveWorkflows(integrations);
    expect([...providers.keys()]).toEqual(PROVIDERS.map((p) => p.name));
    const standalone = PROVIDERS.filter((entry) => entry.integration === undefined);
    const shared = PROVIDERS.filter((entry) => entry.integration !== undefined);
    expect(standalone.length).toBeGreaterThan(0);
    expect(shared.length).toBeGreaterThan(0);
    for (const entry of standalone) {
      expect(authScheme(providers.get(entry.name)?.auth), entry.name).toBe(authScheme(entry.auth));
      expect(providers.get(entry.name), entry.name).toEqual({
        name: entry.name,
        description: entry.description,
        baseUrl: entry.baseUrl,
        auth: expect.anything(),
        secret: { name: `integration-hub/${entry.name}`, import: false, ...entry.secret },
        httpTimeoutMs: entry.httpTimeoutMs,
        maxAttempts: entry.maxAttempts,
        circuit: entry.circuit ?? {},
      });
    }
    for (const entry of shared) {
      const integration = integrations.find((i) => i.name === entry.integration)!;
      expect(integration, entry.name).toBeDefined();
      expect(providers.get(entry.name), entry.name).toMatchObject({
        baseUrl: integration.baseUrl,
        auth: integration.auth,
        secret: integration.secret,
        circuit: integration.circuit,
        httpTimeoutMs: entry.httpTimeoutMs ?? integration.httpTimeoutMs,
        maxAttempts: entry.maxAttempts ?? integration.maxAttempts,
        integration: integration.name,
      });
    }
  });

  it('applies the documented defaults and the catalog values', () => {
    const { orderSaga, contactSync } = resolveWorkflows(integrations);
    expect(orderSaga).toMatchObject({
      name: 'order-saga',
      functionTimeoutSeconds: 30,
      memoryMb: 512,
      executionTimeoutMinutes: 1440,
      starter: { batchSize: 10, maxConcurrency: 5, maxReceiveCount: 5 },
      trigger: { sources: ['orders.service'], detailTypes: ['OrderPlaced'] },
    });
    expect(contactSync).toMatchObject({ syncId: WORKFLOWS.contactSync.syncId, scheduleMinutes: 15, maxPagesPerExecution: 100, pageSize: 100, functionTimeoutSeconds: 60, executionTimeoutMinutes: 13 });
    const { executionTimeoutMinutes: _timeout, ...withoutTimeout } = WORKFLOWS.contactSync;
    expect(resolveWorkflows(integrations, {}, { ...WORKFLOWS, contactSync: withoutTimeout }).contactSync.executionTimeoutMinutes).toBe(13);
  });

  it('overrides a standalone provider base URL from context baseUrl:<provider>; a shared one follows its integration', () => {
    const [overridden, untouched] = PROVIDERS.filter((entry) => entry.integration === undefined);
    const shared = PROVIDERS.find((entry) => entry.integration !== undefined)!;
    const context = {
      [`baseUrl:${overridden!.name}`]: `http://127.0.0.1:4000/${overridden!.name}`,
      [`baseUrl:${shared.integration}`]: `http://127.0.0.1:4000/${shared.integration}`,
    };
    const { providers } = resolveWorkflows(resolveCatalog(INTEGRATIONS, context), context);
    expect(providers.get(overridden!.name)?.baseUrl).toBe(`http://127.0.0.1:4000/${overridden!.name}`);
    expect(providers.get(shared.name)?.baseUrl).toBe(`http://127.0.0.1:4000/${shared.integration}`);
    expect(providers.get(untouched!.name)?.baseUrl).toBe(untouched!.baseUrl);
  });

  it('reports every problem of the providers and workflows at once', () => {
    const missing = WORKFLOWS.orderSaga.providers.email;
    const deployed = integrations[0]!.name;
    const providers: ProviderEntry[] = [
      ...PROVIDERS.filter((p) => p.name !== missing),
      { name: 'gateway', description: 'x', integration: deployed, baseUrl: 'https://elsewhere.example.com' },
      { name: 'ghost', description: 'x', integration: 'not-deployed' },
      { name: 'Bad Name', description: 'x', baseUrl: 'ftp://x', auth: 'bearer' },
    ];
    const workflows: WorkflowsCatalog = {
      orderSaga: {
        ...WORKFLOWS.orderSaga,
        entry: 'lib/nope.js',
        retry: { ...WORKFLOWS.orderSaga.retry, transient: { intervalSeconds: 10, backoffRate: 0.5, maxAttempts: 3, maxDelaySeconds: 5 } },
        executionTimeoutMinutes: 60,
      },
      contactSync: {
        ...WORKFLOWS.contactSync,
        scheduleMinutes: 10,
        executionTimeoutMinutes: 10,
        maxPagesPerExecution: 1000,
        pageSize: 500,
        triggers: [
          { sources: [], detailTypes: ['contact.updated'] },
          { sources: [webhookEventSource('crm')], detailTypes: ['contact.updated', 'contact.merged'] },
        ],
      },
    };
    const problems = problemsOf(() => resolveWorkflows(integrations, { 'baseUrl:gateway': 'https://x.example.com' }, workflows, providers));
    expect(problems).toEqual(
      expect.arrayContaining([
        `provider 'gateway': baseUrl comes from integration '${deployed}': leave it out`,
        expect.stringMatching(/provider 'gateway': context baseUrl:gateway is ignored/),
        "provider 'ghost': integration 'not-deployed' is not in the integration catalog",
        expect.stringMatching(/^provider 'Bad Name': name must be lower-kebab-case/),
        expect.stringMatching(/provider 'Bad Name': baseUrl must be an https URL/),
        expect.stringMatching(/workflow 'order-saga': entry must be a \.ts file under functions\/workflows\//),
        expect.stringMatching(/retry\.transient\.backoffRate must be a number from 1 to 10/),
        expect.stringMatching(/retry\.transient\.maxDelaySeconds must not be shorter than intervalSeconds/),
        `workflow '${WORKFLOWS.orderSaga.name}': providers.email names provider '${missing}', which is not in the provider catalog`,
        expect.stringMatching(/executionTimeoutMinutes \(60\) must exceed the worst-case retry budget/),
        expect.stringMatching(/workflow 'contact-sync': executionTimeoutMinutes \(10\) plus the function timeout \(60 s\) must fit in the schedule interval/),
        expect.stringMatching(/workflow 'contact-sync': pageSize must be an integer from 1 to 200/),
        expect.stringMatching(/maxPagesPerExecution \(1000\) × 22 history events per page \(worst case\) \+ 29 = 22029 exceeds half/),
        "workflow 'contact-sync': triggers[0] needs at least one source and one detail type",
        "workflow 'contact-sync': triggers[1]: integration 'crm' forwards no webhook event 'contact.merged' (its webhooks declare 'contact.updated')",
      ]),
    );
  });
});

describe('budgets', () => {
  it('bounds the saga: worst-case retry budget of the longest path well inside the 24 h execution timeout', () => {
    const { retry, compensationRetry } = WORKFLOWS.orderSaga;
    // Forward step: transient 2+4+8+16 s, circuit open 60+120+240+480+900+900 s, 11 invocations of 30 s.
    expect(retryDelayBudgetSeconds(retry.transient)).toBe(30);
    expect(retryDelayBudgetSeconds(retry.circuitOpen)).toBe(2700);
    expect(maxInvocationsPerState(retry)).toBe(11);
    // Compensation: transient 5..300 s ×10 = 1515 s; circuit open 60..900 s ×12 = 8100 s; 23 invocations.
    expect(retryDelayBudgetSeconds(compensationRetry.transient)).toBe(1515);
    expect(retryDelayBudgetSeconds(compensationRetry.circuitOpen)).toBe(8100);
    const worst = orderSagaWorstCaseSeconds(resolveWorkflows(integrations).orderSaga);
    expect(worst).toBe(4 * (30 + 2700 + 11 * 30) + 3 * (1515 + 8100 + 23 * 30));
    expect(worst / 3600).toBeLessThan(WORKFLOWS.orderSaga.executionTimeoutMinutes! / 60);
  });

  it('bounds the contact sync history: 7 events per page (22 at worst) × 100 pages ≪ 25,000', () => {
    const bound = contactSyncHistoryBound(resolveWorkflows(integrations).contactSync);
    expect(bound).toEqual({ fixed: 6, perPage: 7, perPageWorstCase: 22, failureTail: 23, typical: 706, worstCase: 2229 });
    expect(bound.worstCase).toBeLessThan(EXECUTION_HISTORY_LIMIT / 10);
  });
});
