/**
 * Every workflow Lambda entry the hub ships, with what its function needs: module and export (the CDK's `entry` and
 * `handler`), provider(s), auth scheme (the secret's fields) and environment variables. lib/ does not import
 * functions/: the state machine constructs restate these, and a test checks each entry against the module and
 * its environment reader.
 *
 * | module                                | export           | provider(s)        | required environment                                                        |
 * |---------------------------------------|------------------|--------------------|------------------------------------------------------------------------------|
 * | functions/workflows/order-saga.ts     | reserveInventory | inventory (api_key)| BASE_URL, SECRET_NAME, LEDGER_TABLE_NAME, CIRCUITS_TABLE_NAME                |
 * |                                       | chargePayment    | payments (bearer)  | ″                                                                            |
 * |                                       | createShipment   | shipping (basic)   | ″                                                                            |
 * |                                       | sendConfirmation | email (bearer)     | ″                                                                            |
 * |                                       | cancelShipment   | shipping (basic)   | ″                                                                            |
 * |                                       | refundPayment    | payments (bearer)  | ″                                                                            |
 * |                                       | releaseInventory | inventory (api_key)| ″                                                                            |
 * | functions/workflows/order-saga-starter.ts | handler      | — (Step Functions) | STATE_MACHINE_ARN, DLQ_URL                                                   |
 * | functions/workflows/contact-sync.ts   | syncPage         | contacts (bearer), crm (oauth2) | CHECKPOINTS_TABLE_NAME, CIRCUITS_TABLE_NAME, CONTACTS_BASE_URL, CONTACTS_SECRET_NAME, CRM_BASE_URL, CRM_SECRET_NAME |
 *
 * Optional: saga tasks CIRCUIT_SETTINGS (JSON; give the provider's circuit settings so every caller of the circuit
 * agrees), AUTH_TOKEN_URL, HTTP_TIMEOUT_MS, HTTP_MAX_ATTEMPTS, HTTP_BASE_DELAY_MS, HTTP_MAX_DELAY_MS,
 * HTTP_SAFETY_MARGIN_MS, SECRET_MAX_AGE_SECONDS, IDEMPOTENCY_TTL_SECONDS; contact sync PAGE_SIZE (1–200),
 * CONTACTS_/CRM_ HTTP_TIMEOUT_MS, HTTP_MAX_ATTEMPTS, CIRCUIT_SETTINGS, CRM_AUTH_TOKEN_URL, and the shared HTTP_* and
 * SECRET_MAX_AGE_SECONDS; starter SFN_ENDPOINT, SQS_ENDPOINT. Every function: DYNAMODB_ENDPOINT,
 * SECRETS_MANAGER_ENDPOINT for local endpoints only.
 *
 * IAM: saga tasks read/write the ledger and circuits tables and read their provider's secret; the contact sync
 * reads/writes the checkpoints and circuits tables and reads both secrets; the starter may
 * `states:StartExecution` on the saga and `sqs:SendMessage` to its DLQ.
 */
import { ORDER_SAGA_TASKS, type OrderSagaHandlerName } from './order-saga.js';

/** The environment variables of a saga task. */
export const SAGA_TASK_ENVIRONMENT = {
  required: ['BASE_URL', 'AUTH', 'SECRET_NAME', 'LEDGER_TABLE_NAME', 'CIRCUITS_TABLE_NAME'],
  optional: [
    'CIRCUIT_SETTINGS',
    'AUTH_TOKEN_URL',
    'HTTP_TIMEOUT_MS',
    'HTTP_MAX_ATTEMPTS',
    'HTTP_BASE_DELAY_MS',
    'HTTP_MAX_DELAY_MS',
    'HTTP_SAFETY_MARGIN_MS',
    'SECRET_MAX_AGE_SECONDS',
    'IDEMPOTENCY_TTL_SECONDS',
    'DYNAMODB_ENDPOINT',
    'SECRETS_MANAGER_ENDPOINT',
  ],
} as const;

/** The environment variables of the saga starter. */
export const SAGA_STARTER_ENVIRONMENT = {
  required: ['STATE_MACHINE_ARN', 'DLQ_URL'],
  optional: ['SFN_ENDPOINT', 'SQS_ENDPOINT'],
} as const;

/** The environment variables of the contact sync task. */
export const CONTACT_SYNC_ENVIRONMENT = {
  required: ['CHECKPOINTS_TABLE_NAME', 'CIRCUITS_TABLE_NAME', 'CONTACTS_BASE_URL', 'CONTACTS_AUTH', 'CONTACTS_SECRET_NAME', 'CRM_BASE_URL', 'CRM_AUTH', 'CRM_SECRET_NAME'],
  optional: [
    'PAGE_SIZE',
    'CONTACTS_HTTP_TIMEOUT_MS',
    'CONTACTS_HTTP_MAX_ATTEMPTS',
    'CONTACTS_CIRCUIT_SETTINGS',
    'CRM_HTTP_TIMEOUT_MS',
    'CRM_HTTP_MAX_ATTEMPTS',
    'CRM_CIRCUIT_SETTINGS',
    'CRM_AUTH_TOKEN_URL',
    'HTTP_BASE_DELAY_MS',
    'HTTP_MAX_DELAY_MS',
    'HTTP_SAFETY_MARGIN_MS',
    'SECRET_MAX_AGE_SECONDS',
    'DYNAMODB_ENDPOINT',
    'SECRETS_MANAGER_ENDPOINT',
  ],
} as const;

/** One workflow Lambda entry. */
export interface WorkflowHandler {
  /** Module, relative to the repository root (the CDK `entry`). */
  readonly entry: string;
  /** Export name (the CDK `handler`). */
  readonly exportName: string;
  /** Ledger/metric name of the task. */
  readonly name: string;
  /** Providers called (their auth scheme is the workflow catalog's, lib/workflow-catalog.ts). */
  readonly providers: readonly { readonly name: string }[];
  readonly environment: { readonly required: readonly string[]; readonly optional: readonly string[] };
}

const SAGA_ENTRY = 'functions/workflows/order-saga.ts';

/** Every workflow Lambda entry. */
export const WORKFLOW_HANDLERS: readonly WorkflowHandler[] = [
  ...(Object.keys(ORDER_SAGA_TASKS) as OrderSagaHandlerName[]).map((exportName) => {
    const task = ORDER_SAGA_TASKS[exportName];
    return {
      entry: SAGA_ENTRY,
      exportName,
      name: task.name,
      providers: [{ name: task.provider }],
      environment: SAGA_TASK_ENVIRONMENT,
    };
  }),
  {
    entry: 'functions/workflows/order-saga-starter.ts',
    exportName: 'handler',
    name: 'order-saga-starter',
    providers: [],
    environment: SAGA_STARTER_ENVIRONMENT,
  },
  {
    entry: 'functions/workflows/contact-sync.ts',
    exportName: 'syncPage',
    name: 'contact-sync',
    providers: [
      { name: 'contacts' },
      { name: 'crm' },
    ],
    environment: CONTACT_SYNC_ENVIRONMENT,
  },
];
