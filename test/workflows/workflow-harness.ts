/**
 * Runs the SYNTHESIZED workflows against local parts: the IntegrationHub stack synthesized with every provider's
 * base URL pointing at the sandbox, its tables created on dynalite, its secrets in an in-memory Secrets Manager,
 * and its task functions built from their template environment with the real handlers (local/local-workflows.ts).
 */
import { DynamoDBSyncLedger } from '../../functions/runtime/dynamodb-sync-ledger.js';
import { SecretsManagerSecretSource } from '../../functions/runtime/secrets-manager-secret-source.js';
import type { OrderPlaced } from '../../functions/workflows/workflow-contract.js';
import type { WorkflowsCatalog } from '../../lib/workflow-catalog.js';
import type { LocalDynamo } from '../../local/local-dynamo.js';
import type { LocalSecretsManager } from '../../local/local-secrets-manager.js';
import {
  type CfnTemplate,
  LocalStateMachine,
  type SynthesizedStateMachine,
  stateMachinesOf,
} from '../../local/local-step-functions.js';
import { createLocalTaskFunctions, createTemplateTables, handlersOf, type LocalTaskFunction } from '../../local/local-workflows.js';
import type { Sandbox } from '../../local/sandbox/index.js';
import { sandboxSecrets, synthesizeAgainstSandbox } from '../../local/hub/sandbox-wiring.js';

export { sandboxSecrets, synthesizeAgainstSandbox };

/** One test's world: tables, secrets, task functions and both state machines, bound together. */
export interface WorkflowWorld {
  readonly template: CfnTemplate;
  readonly tables: Record<string, string>;
  readonly secretsManager: LocalSecretsManager;
  readonly functions: Map<string, LocalTaskFunction>;
  readonly saga: LocalStateMachine;
  readonly sync: LocalStateMachine;
  /** The task function of a handler export (`reserveInventory`, `syncPage`). */
  fn(handler: string): LocalTaskFunction;
  /** The ledger of the template's ledger table. */
  readonly ledger: DynamoDBSyncLedger;
  /** Local name of the template table whose logical id starts with `prefix` (`TablesCheckpoints`). */
  table(prefix: string): string;
  /** The same tables and secrets with fresh "Lambda containers" (no cached circuit state or secrets). */
  rebuild(): WorkflowWorld;
}

let worldSeq = 0;

/** Builds a fresh world on `template` (new tables, fresh Lambda containers). */
export async function buildWorld(template: CfnTemplate, dynamo: LocalDynamo, sandbox: Sandbox): Promise<WorkflowWorld> {
  worldSeq += 1;
  const tables = await createTemplateTables(dynamo, template, `w${worldSeq}-`);
  return assemble(template, dynamo, tables, sandboxSecrets(sandbox));
}

function assemble(template: CfnTemplate, dynamo: LocalDynamo, tables: Record<string, string>, secretsManager: LocalSecretsManager): WorkflowWorld {
  const functions = createLocalTaskFunctions(template, {
    dynamo,
    secrets: new SecretsManagerSecretSource({ client: secretsManager.client }),
    fakeEnvironment: { tableNames: tables },
    // In-process HTTP backoff in milliseconds: the tests wait for nothing.
    environment: { HTTP_BASE_DELAY_MS: '1', HTTP_MAX_DELAY_MS: '5' },
  });
  const machines = [...stateMachinesOf(template, { tableNames: tables }).values()];
  const machine = (prefix: string): SynthesizedStateMachine => machines.find((m) => m.logicalId.startsWith(prefix))!;
  const handlers = handlersOf(functions);
  const table = (prefix: string) => Object.entries(tables).find(([logicalId]) => logicalId.startsWith(prefix))![1];
  return {
    template,
    tables,
    secretsManager,
    functions,
    saga: new LocalStateMachine(machine('WorkflowsOrderSagaStateMachine'), handlers),
    sync: new LocalStateMachine(machine('WorkflowsContactSyncStateMachine'), handlers),
    fn: (handler) => [...functions.values()].find((f) => f.handlerName === handler)!,
    ledger: new DynamoDBSyncLedger({ tableName: table('CoreTablesLedger'), client: dynamo.client }),
    table,
    rebuild: () => assemble(template, dynamo, tables, secretsManager),
  };
}

/** A valid order the sandbox accepts. */
export function order(orderId: string, overrides: Partial<OrderPlaced> = {}): OrderPlaced {
  return {
    orderId,
    customerId: 'cust-1',
    email: 'ana@example.com',
    items: [
      { sku: 'SKU-1', quantity: 2 },
      { sku: 'SKU-2', quantity: 1 },
    ],
    amount: '49.90',
    currency: 'eur',
    shippingAddress: { name: 'Ana Lima', line1: 'Rua Augusta 1', city: 'Lisboa', postalCode: '1100-053', country: 'PT' },
    ...overrides,
  };
}
