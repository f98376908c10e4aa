/**
 * Faults of the hub's OWN parts, switched on and off while the local hub runs (bench/faults.ts, tests): the sandbox's
 * faults (local/sandbox/faults.ts) are the third parties'; these are AWS's and the functions' — a throttled or failing
 * table, Secrets Manager down, the circuit controller failing, a Lambda invocation dying mid-call. Each fails the way
 * the real part fails, so the REAL runtime's handling is what gets measured:
 *
 * - DynamoDB: calls on the chosen tables throw the service's own exception (`ProvisionedThroughputExceededException`
 *   or `InternalServerError`) inside the SDK's retry loop, so the SDK retries them with its backoff as on AWS; only
 *   the functions' client is faulted, not the hub's own inspection nor the emulated stream (streams are not throttled
 *   with their table);
 * - Secrets Manager: every GetSecretValue fails (local/local-secrets-manager.ts); values a container cached are
 *   still served, as Powertools' cache serves them on Lambda;
 * - the circuit controller: every invocation fails, so its stream records are retried and then discarded
 *   (MaximumRetryAttempts), as on AWS; no mapping is paused or resumed meanwhile;
 * - a crash: after the provider answered one of the integration's calls, the invocation dies (no ledger write, no
 *   batch response; the whole batch returns after the queue's visibility timeout and the container is gone), the
 *   "timeout or out-of-memory after the effect" case the idempotency record's in-progress expiry exists for.
 */
import { DynamoDBServiceException, InternalServerError, ProvisionedThroughputExceededException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SeededRandom } from '../sandbox/random.js';

/** Which of the hub's tables a DynamoDB fault hits (the core tables of the template). */
export type HubTable = 'ledger' | 'circuits';

/** The faults; see the file comment. Unset: that part works. */
export interface HubFaults {
  readonly dynamo?: {
    readonly tables: readonly HubTable[];
    /** `throttling`: ProvisionedThroughputExceededException (400, retried as throttling); `internal`: InternalServerError (500). */
    readonly error: 'throttling' | 'internal';
    /** Share of calls that fail (each SDK attempt draws). @default 1 */
    readonly rate?: number;
  };
  readonly secretsManager?: 'unavailable';
  readonly controller?: 'down';
  /** Of this integration's provider calls, this share crashes the invocation right after the answer arrived. */
  readonly crashAfterCall?: { readonly integration: string; readonly rate: number };
}

/** Thrown into an invocation that "crashed": the event source mapping sees a failed invocation, as on Lambda. */
export class InvocationCrashedError extends Error {
  constructor(readonly integration: string) {
    super(`Lambda invocation of ${integration} crashed after the provider answered (fault injection)`);
    this.name = 'InvocationCrashed';
  }
}

/** A container's crash: the fetch it calls through, and a promise that rejects when it crashed. */
export interface ContainerCrash {
  readonly fetch: typeof fetch;
  readonly crashed: Promise<never>;
}

/** The switchboard the local hub consults; see the file comment. */
export class HubFaultInjector {
  #faults: HubFaults = {};
  readonly #random: SeededRandom;

  constructor(
    /** The physical names of the hub's tables. */
    private readonly tables: Readonly<Record<HubTable, string>>,
    private readonly secretsManager: { setAvailable(available: boolean): void },
    seed = 1,
  ) {
    this.#random = new SeededRandom(seed, 'hub-faults');
  }

  /** The faults now in force. */
  get current(): HubFaults {
    return this.#faults;
  }

  /** Replaces the faults in force (an empty object: none). */
  set(faults: HubFaults): void {
    const unknown = Object.keys(faults).filter((key) => !HUB_FAULT_KEYS.includes(key as keyof HubFaults));
    if (unknown.length > 0) throw new TypeError(`unknown hub fault(s): ${unknown.join(', ')} (known: ${HUB_FAULT_KEYS.join(', ')})`);
    const rates = [faults.dynamo?.rate, faults.crashAfterCall?.rate].filter((rate) => rate !== undefined);
    if (rates.some((rate) => !(rate! >= 0 && rate! <= 1))) throw new RangeError('a hub fault rate must be between 0 and 1');
    this.#faults = faults;
    this.secretsManager.setAvailable(faults.secretsManager !== 'unavailable');
  }

  clear(): void {
    this.set({});
  }

  /** Installs the DynamoDB fault on a functions' client, inside the SDK's retry loop. */
  faultDynamo(client: DynamoDBClient): DynamoDBClient {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const failure = this.#dynamoFailure(tablesOf(args.input as DynamoInput), context.commandName ?? 'unknown');
        if (failure) throw failure;
        return next(args);
      },
      // finalizeRequest runs once per attempt, after the retry middleware: each retry meets the fault again.
      { step: 'finalizeRequest', priority: 'low', name: 'hubFaultInjection' },
    );
    return client;
  }

  /** Whether the controller is down (its invocations fail). */
  get controllerDown(): boolean {
    return this.#faults.controller === 'down';
  }

  /**
   * A new container's crash handle: its `fetch` passes calls through and, when a crash is due for `integration`,
   * lets the provider's answer arrive, then never returns it (the invocation is dead) and rejects `crashed`.
   */
  containerCrash(integration: string, realFetch: typeof fetch = fetch): ContainerCrash {
    let crash!: (error: Error) => void;
    const crashed = new Promise<never>((_resolve, reject) => {
      crash = reject;
    });
    crashed.catch(() => undefined); // a container that never crashes leaves it pending; one that does is raced
    const crashing: typeof fetch = async (input, init) => {
      const response = await realFetch(input, init);
      const fault = this.#faults.crashAfterCall;
      if (fault?.integration === integration && this.#random.float() < fault.rate) {
        crash(new InvocationCrashedError(integration));
        return new Promise<Response>(() => undefined);
      }
      return response;
    };
    return { fetch: crashing, crashed };
  }

  #dynamoFailure(tables: readonly string[], commandName: string): DynamoDBServiceException | undefined {
    const fault = this.#faults.dynamo;
    if (!fault || !fault.tables.some((table) => tables.includes(this.tables[table]))) return undefined;
    if (this.#random.float() >= (fault.rate ?? 1)) return undefined;
    const $metadata = { httpStatusCode: fault.error === 'throttling' ? 400 : 500, attempts: 1 };
    return fault.error === 'throttling'
      ? new ProvisionedThroughputExceededException({ message: `${commandName}: the level of configured provisioned throughput for the table was exceeded (fault injection)`, $metadata })
      : new InternalServerError({ message: `${commandName}: internal server error (fault injection)`, $metadata });
  }
}

const HUB_FAULT_KEYS: readonly (keyof HubFaults)[] = ['dynamo', 'secretsManager', 'controller', 'crashAfterCall'];

interface DynamoInput {
  TableName?: string;
  RequestItems?: Record<string, unknown>;
  TransactItems?: Record<string, { TableName?: string } | undefined>[];
}

/** Every table a DynamoDB command's input names. */
function tablesOf(input: DynamoInput | undefined): string[] {
  if (!input) return [];
  const tables = new Set<string>();
  if (input.TableName) tables.add(input.TableName);
  for (const name of Object.keys(input.RequestItems ?? {})) tables.add(name);
  for (const item of input.TransactItems ?? []) for (const operation of Object.values(item)) if (operation?.TableName) tables.add(operation.TableName);
  return [...tables];
}
