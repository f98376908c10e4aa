/**
 * The incremental contact sync's task: one page per invocation, from the contacts source's change feed into the
 * CRM, resuming from a checkpoint. Export `syncPage` (ContactSyncTaskInput → ContactSyncTaskOutput; and
 * ContactSyncReleaseInput → ContactSyncReleaseOutput for the state machine's ReleaseRun state).
 *
 * One invocation: load the checkpoint → GET source `/changes?since=&cursor=&limit=` → map the contacts and split
 * the tombstones → POST CRM `/contacts/bulk { upserts, deletes }` (Idempotency-Key: execution name + page position)
 * → advance the checkpoint with a conditional write on its version → return counters only. Page contents never
 * leave the task ("payloads by reference"): the execution state carries `{ syncId, pagesThisRun, hasMore, upserted,
 * deleted }`, so a run's history stays small whatever the pages hold.
 *
 * No record is ever skipped: the checkpoint moves only after the page's CRM write succeeded, and only from the
 * version this invocation read. A failure (any error below) leaves it where it was, and the retry, or the next
 * scheduled run, reads the same page again (upserts by external id are idempotent). While a pass walks pages with
 * the source's cursor, `since` stays put and the newest `updated_at` seen is kept as `highWater`; when the pass ends
 * (`has_more: false`) it becomes the new `since` and the cursor is dropped.
 *
 * Bound: an invocation syncs ONE page (≤ PAGE_SIZE ≤ 200 contacts, the CRM bulk limit). The state machine loops while
 * `hasMore` and `pagesThisRun < maxPagesPerExecution` (catalog), then ends; the next run continues from the checkpoint.
 *
 * One run at a time, however it was started (schedule, or an event trigger such as the CRM's `contact.updated`
 * webhook, lib/workflow-catalog.ts): the first page takes the checkpoint's RUN LEASE (checkpoint-store.ts `claimRun`;
 * `runningUntil` = now + the execution timeout, so a run that crashed or timed out cannot keep the others out). A run
 * that finds the lease held by another live run reads and writes nothing: it sets `rerunRequested` on the checkpoint
 * (unless a pass is requested already) and ends at once with `skipped: true`, counters 0 (metric SyncRunSkipped).
 * The holder, when a pass ends (`has_more: false`), releases the lease only if no pass was requested; otherwise it
 * consumes the request and answers `hasMore: true`, so the state machine runs one more pass, which starts after the
 * request and so reads the change the skipped run was started for. A burst of N triggers therefore costs one run plus
 * at most one extra pass, not N runs. The page that reaches maxPagesPerExecution releases the lease whatever was
 * requested (what is left is the next run's, the schedule's at the latest), and so does a failed run (the state
 * machine's ReleaseRun state). If a lease ran out under a still-running invocation anyway, the checkpoint's
 * conditional write on `version` still makes the loser fail with Integration.Transient and retry from the winner's
 * checkpoint: no record is skipped.
 *
 * Errors: the same typed names as every task (Integration.Transient / .Permanent / .CircuitOpen), by the runtime's
 * classification. Both circuits are checked before anything is read, so an open CRM circuit costs no source call.
 *
 * Environment:
 *   CHECKPOINTS_TABLE_NAME, CIRCUITS_TABLE_NAME (required);
 *   CONTACTS_BASE_URL, CONTACTS_SECRET_NAME (required; secret `{ token }`), CONTACTS_HTTP_TIMEOUT_MS,
 *   CONTACTS_HTTP_MAX_ATTEMPTS, CONTACTS_CIRCUIT_SETTINGS (optional);
 *   CRM_BASE_URL, CRM_SECRET_NAME (required; secret `{ clientId, clientSecret }`), CRM_AUTH_TOKEN_URL,
 *   CRM_HTTP_TIMEOUT_MS, CRM_HTTP_MAX_ATTEMPTS, CRM_CIRCUIT_SETTINGS (optional);
 *   PAGE_SIZE (default 100, 1–200), HTTP_BASE_DELAY_MS, HTTP_MAX_DELAY_MS, HTTP_SAFETY_MARGIN_MS,
 *   SECRET_MAX_AGE_SECONDS (optional, shared); DYNAMODB_ENDPOINT, SECRETS_MANAGER_ENDPOINT (optional, local).
 */
import { createHash } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { type CircuitBreakerSettingsInput, resolveCircuitBreakerSettings } from '../runtime/circuit-settings.js';
import { systemClock } from '../runtime/clock.js';
import { createCredentialsProvider } from '../runtime/credentials.js';
import { DynamoDbRefreshLeases } from '../runtime/dynamodb-refresh-leases.js';
import { DynamoDbCircuitStore } from '../runtime/dynamodb-circuit-store.js';
import { ConfigurationError, MalformedResponseError, PoisonMessageError, ProviderRejectedError, toIntegrationError } from '../runtime/errors.js';
import type { HttpClient } from '../runtime/http-client.js';
import { describeIssues } from '../runtime/inbound-record.js';
import { createProviderHttpClient, type RuntimeCircuitBreaker } from '../runtime/operation-executor.js';
import { checkSchema, type Schema } from '../runtime/schema.js';
import type { Clock, CredentialsProvider, SecretSource } from '../runtime/ports.js';
import { circuitOverrides, createBreaker, resolveAuth } from '../runtime/runtime-environment.js';
import { type RuntimeSettings, taskSettingsFromEnvironment } from '../runtime/runtime-settings.js';
import { SecretsManagerSecretSource } from '../runtime/secrets-manager-secret-source.js';
import { createRuntimeLogger, type MetricsSink, PowertoolsMetricsSink, RuntimeMetric } from '../runtime/telemetry.js';
import { type CheckpointPosition, type CheckpointStore, claimRun, type SyncCheckpoint } from './checkpoint-store.js';
import { LOCAL_TASK_BUDGET_MS, taskErrorNameOf, WorkflowTaskError } from './define-workflow-task.js';
import { DynamoDbCheckpointStore } from './dynamodb-checkpoint-store.js';
import type { ContactSyncReleaseInput, ContactSyncReleaseOutput, ContactSyncTaskInput, ContactSyncTaskOutput } from './workflow-contract.js';

/** The task's name: logs, metric dimension. */
export const CONTACT_SYNC = 'contact-sync';

/**
 * Circuit ids: the source's own, and the CRM's, shared with the `crm` integration (lib/workflow-catalog.ts provider
 * `crm`, `integration: 'crm'`).
 */
export const CONTACT_SYNC_CIRCUITS = { source: 'contacts', crm: 'crm' } as const;

/** The CRM bulk endpoint takes 1..200 items: a page never holds more contacts than that. */
export const MAX_PAGE_SIZE = 200;
export const DEFAULT_PAGE_SIZE = 100;

// ---------------------------------------------------------------- source and CRM shapes

const nonEmpty = () => z.string().check(z.minLength(1));
const text = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));
const count = () => z.int().check(z.nonnegative());

const taskInputSchema = z.object({
  syncId: text(128),
  executionName: text(80),
  pagesThisRun: count(),
  maxPagesPerExecution: z.int().check(z.positive()),
  leaseSeconds: z.int().check(z.positive()),
});

const releaseInputSchema = z.object({
  syncId: text(128),
  executionName: text(80),
  release: z.literal(true),
});

const optionalText = z.nullish(z.string());

/** One change of the source's feed; a tombstone (`deleted: true`) may carry nothing but its id. */
export const contactChangeSchema = z.object({
  id: nonEmpty(),
  email_address: optionalText,
  first_name: optionalText,
  last_name: optionalText,
  display_name: optionalText,
  phone: optionalText,
  active: z.optional(z.boolean()),
  updated_at: z.string().check(z.refine((value) => !Number.isNaN(Date.parse(value)), 'must be an ISO-8601 timestamp')),
  deleted: z.optional(z.boolean()),
});

/** A change of the source. */
export type ContactChange = z.infer<typeof contactChangeSchema>;

const changesPageSchema = z.object({
  contacts: z.array(contactChangeSchema),
  next_cursor: z.nullish(nonEmpty()),
  has_more: z.boolean(),
});

const bulkAnswerSchema = z.object({ upserted: count(), deleted: count() });

/** A contact as the CRM's bulk endpoint takes it. */
export interface CrmContact {
  externalId: string;
  email: string;
  name: string;
  phone: string | null;
  status: 'active' | 'inactive';
  sourceUpdatedAt: string;
}

/** What one page becomes at the CRM. */
export interface CrmContactBatch {
  upserts: CrmContact[];
  /** External ids of deleted contacts. */
  deletes: string[];
  /** Live contacts the CRM cannot take (no e-mail address): logged and counted, never sent. */
  unmappable: string[];
}

const blank = (value: string | null | undefined): string | undefined => {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
};

/**
 * Maps a live contact: `email_address` → `email`; first + last name → `name`, else `display_name`, else the
 * e-mail's local part; `active` → `status`; a missing phone → null. Undefined when it has no e-mail address.
 */
export function toCrmContact(change: ContactChange): CrmContact | undefined {
  const email = blank(change.email_address);
  if (!email) return undefined;
  const fullName = [blank(change.first_name), blank(change.last_name)].filter(Boolean).join(' ');
  return {
    externalId: change.id,
    email,
    name: fullName || blank(change.display_name) || email.slice(0, email.indexOf('@') > 0 ? email.indexOf('@') : email.length),
    phone: blank(change.phone) ?? null,
    status: change.active === false ? 'inactive' : 'active',
    sourceUpdatedAt: change.updated_at,
  };
}

/**
 * Splits a page into upserts and deletes. A contact that appears more than once in a page counts with its latest
 * change only, so the CRM never gets an upsert and a delete of one contact in one request.
 */
export function toCrmBatch(changes: readonly ContactChange[]): CrmContactBatch {
  const latest = new Map<string, ContactChange>();
  for (const change of changes) {
    const seen = latest.get(change.id);
    if (!seen || Date.parse(change.updated_at) >= Date.parse(seen.updated_at)) latest.set(change.id, change);
  }
  const batch: CrmContactBatch = { upserts: [], deletes: [], unmappable: [] };
  for (const change of latest.values()) {
    if (change.deleted) {
      batch.deletes.push(change.id);
      continue;
    }
    const contact = toCrmContact(change);
    if (contact) batch.upserts.push(contact);
    else batch.unmappable.push(change.id);
  }
  return batch;
}

/** The later of two ISO timestamps (either may be absent). */
function later(a: string | undefined, b: string | undefined): string | undefined {
  if (!a) return b;
  if (!b) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

/** Where the checkpoint moves after a successfully written page. */
export function nextPosition(checkpoint: SyncCheckpoint, page: { changes: readonly ContactChange[]; hasMore: boolean; nextCursor: string | null }): CheckpointPosition {
  const newest = page.changes.reduce<string | undefined>((max, change) => later(max, change.updated_at), undefined);
  const highWater = later(checkpoint.highWater, newest);
  if (page.hasMore) {
    return { since: checkpoint.since, cursor: page.nextCursor, ...(highWater ? { highWater } : {}) };
  }
  return { since: later(checkpoint.since || undefined, highWater) ?? checkpoint.since, cursor: null };
}

/** The CRM Idempotency-Key of a page: the execution name plus the page's position (cursor, else the watermark). */
export function pageIdempotencyKey(executionName: string, checkpoint: SyncCheckpoint): string {
  const position = checkpoint.cursor ?? `since=${checkpoint.since}`;
  // Opaque cursors can be long or hold characters unfit for a header: those go in hashed.
  const safe = /^[A-Za-z0-9._~_:=+/-]{1,128}$/.test(position) ? position : createHash('sha256').update(position).digest('hex').slice(0, 32);
  return `${CONTACT_SYNC}:${executionName}:${safe}`;
}

// ---------------------------------------------------------------- the task

/** One provider the task calls: its settings, credentials and shared circuit. */
export interface SyncProvider {
  readonly settings: RuntimeSettings;
  readonly credentials: CredentialsProvider;
  readonly breaker: RuntimeCircuitBreaker;
}

/** Everything the task talks to. */
export interface ContactSyncDependencies {
  readonly checkpoints: CheckpointStore;
  readonly source: SyncProvider;
  readonly crm: SyncProvider;
  /** Contacts per page (1..{@link MAX_PAGE_SIZE}). */
  readonly pageSize: number;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  readonly clock: Clock;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** The contact sync's runtime: what `syncPage` delegates to. */
export class ContactSyncTask {
  constructor(private readonly deps: ContactSyncDependencies) {
    if (!(Number.isInteger(deps.pageSize) && deps.pageSize >= 1 && deps.pageSize <= MAX_PAGE_SIZE)) {
      throw new ConfigurationError(`Contact sync page size must be an integer from 1 to ${MAX_PAGE_SIZE} (the CRM bulk limit), got ${deps.pageSize}`);
    }
  }

  /** What the Lambda entry does: a release request (`release: true`) gives up the run lease, anything else is a page. */
  async handle(event: unknown, context?: Context): Promise<ContactSyncTaskOutput | ContactSyncReleaseOutput> {
    if (typeof event === 'object' && event !== null && (event as { release?: unknown }).release === true) return this.releaseRun(event);
    return this.syncPage(event, context);
  }

  /**
   * After a failed page (the state machine's ReleaseRun state): releases the run lease so the next trigger need not
   * wait for it to run out. Whatever was requested meanwhile is the next run's: the checkpoint did not move past it.
   */
  async releaseRun(event: unknown): Promise<ContactSyncReleaseOutput> {
    const { logger: rootLogger, metrics } = this.deps;
    const input: ContactSyncReleaseInput = this.#parse(releaseInputSchema, event);
    const logger = rootLogger.createChild({ persistentKeys: { correlationId: input.executionName, task: CONTACT_SYNC, syncId: input.syncId } });
    try {
      const released = await this.deps.checkpoints.releaseLease(input.syncId, input.executionName);
      logger.info(released ? 'Run failed: lease released' : 'Run failed before holding the lease: nothing to release');
      return { released };
    } catch (error) {
      const failure = toIntegrationError(error);
      logger.warn('Lease not released (it runs out by itself)', { errorClass: failure.errorClass, reason: failure.message });
      throw new WorkflowTaskError(taskErrorNameOf(failure), failure);
    } finally {
      metrics.flush();
    }
  }

  /** Syncs one page. Rejects with a {@link WorkflowTaskError}; `context` may be left out locally. */
  async syncPage(event: unknown, context?: Context): Promise<ContactSyncTaskOutput> {
    const { logger: rootLogger, metrics } = this.deps;
    const remainingTimeMs = context ? () => context.getRemainingTimeInMillis() : localBudget(this.deps.clock);
    const input: ContactSyncTaskInput = this.#parse(taskInputSchema, event);
    const logger = rootLogger.createChild({
      persistentKeys: { correlationId: input.executionName, task: CONTACT_SYNC, syncId: input.syncId, page: input.pagesThisRun + 1 },
    });
    try {
      return await this.#syncPage(input, remainingTimeMs, logger);
    } catch (error) {
      const failure = toIntegrationError(error);
      if (failure.category === 'not_attempted') metrics.count(RuntimeMetric.CircuitRejected);
      const taskError = new WorkflowTaskError(taskErrorNameOf(failure), failure);
      logger.warn('Page not synced; the checkpoint did not move', { errorType: taskError.name, errorClass: failure.errorClass, reason: failure.message });
      throw taskError;
    } finally {
      await Promise.all(
        [this.deps.source.breaker, this.deps.crm.breaker].map((breaker) =>
          breaker.flush().catch((error: unknown) => logger.warn('Circuit flush failed', { error })),
        ),
      );
      metrics.flush();
    }
  }

  #parse<T>(schema: Schema<T>, event: unknown): T {
    const parsed = checkSchema(schema, event);
    if (parsed.success) return parsed.data;
    this.deps.metrics.count(RuntimeMetric.PoisonMessage, 1, 'ValidationFailed');
    const error = new PoisonMessageError('ValidationFailed', `Invalid contact sync task input: ${describeIssues(parsed.error)}`);
    this.deps.logger.error('Task failed', { errorClass: error.errorClass, reason: error.message });
    throw new WorkflowTaskError(taskErrorNameOf(error), error);
  }

  async #syncPage(input: ContactSyncTaskInput, remainingTimeMs: () => number, logger: Logger): Promise<ContactSyncTaskOutput> {
    const { source, crm: target, checkpoints, pageSize, metrics, clock } = this.deps;
    const { syncId, executionName: runId } = input;
    let stored = await checkpoints.load(syncId);
    if (input.pagesThisRun === 0) {
      // Before the circuits: a run that another one makes redundant costs neither a circuit read nor a provider call.
      const claim = await claimRun(checkpoints, syncId, runId, { now: clock.now(), leaseMs: input.leaseSeconds * 1000 }, stored);
      if (claim.kind === 'skipped') {
        metrics.count(RuntimeMetric.SyncRunSkipped);
        logger.info('Skipped: another run in progress', { holder: claim.holder, rerunRequested: claim.requested ? 'now' : 'already' });
        return { syncId, pagesThisRun: 0, hasMore: false, upserted: 0, deleted: 0, skipped: true };
      }
      // The previous holder may have advanced it between the first read and the claim.
      stored = await checkpoints.load(syncId);
    }
    // Neither provider is called while either circuit is open: a page read that cannot be written is wasted.
    await source.breaker.check();
    await target.breaker.check();

    let checkpoint = stored;
    const sourceHttp = this.#client(source, { correlationId: input.executionName, remainingTimeMs, logger });
    const readPage = (at: SyncCheckpoint) =>
      sourceHttp.get('/changes', { query: { since: at.since, cursor: at.cursor ?? undefined, limit: pageSize }, schema: changesPageSchema });
    let response: Awaited<ReturnType<typeof readPage>>;
    try {
      response = await readPage(checkpoint);
    } catch (error) {
      // A cursor the source no longer accepts (expired, or from before a source migration) would wedge the sync on
      // every run: restart the pass from the watermark instead. Pages already written are re-read, never skipped.
      if (!(checkpoint.cursor !== null && isInvalidCursor(error))) throw error;
      logger.warn('The source refused the stored cursor: restarting the pass from the watermark', { since: checkpoint.since });
      checkpoint = { ...checkpoint, cursor: null };
      response = await readPage(checkpoint);
    }
    // An unusable page failed the attempt already (schema checked by the HTTP client, counted against the source).
    const page = response.body;
    const { contacts, has_more: hasMore } = page;
    const nextCursor = page.next_cursor ?? null;
    if (hasMore && nextCursor === null) throw new MalformedResponseError('GET /changes: has_more without a next_cursor');

    const batch = toCrmBatch(contacts);
    if (batch.unmappable.length > 0) {
      logger.warn('Contacts without an e-mail address cannot go to the CRM: not sent', { externalIds: batch.unmappable });
    }
    let upserted = 0;
    let deleted = 0;
    if (batch.upserts.length + batch.deletes.length > 0) {
      const crmHttp = this.#client(target, {
        correlationId: input.executionName,
        idempotencyKey: pageIdempotencyKey(input.executionName, checkpoint),
        remainingTimeMs,
        logger,
      });
      const written = await crmHttp.post('/contacts/bulk', { upserts: batch.upserts, deletes: batch.deletes }, { schema: bulkAnswerSchema });
      ({ upserted, deleted } = written.body);
    }

    const next = nextPosition(checkpoint, { changes: contacts, hasMore, nextCursor });
    await checkpoints.advance(syncId, stored, next, { executionName: runId, upserted, deleted });
    const pagesThisRun = input.pagesThisRun + 1;
    logger.info('Page synced', { contacts: contacts.length, upserted, deleted, hasMore, since: next.since });
    return { syncId, pagesThisRun, hasMore: await this.#endOfPage(input, pagesThisRun, hasMore, logger), upserted, deleted, skipped: false };
  }

  /**
   * Whether the run goes on after this page: while the source has more (within the page bound), or when the pass
   * ended and another run asked for one more. The run's last page gives up the lease.
   */
  async #endOfPage(input: ContactSyncTaskInput, pagesThisRun: number, hasMore: boolean, logger: Logger): Promise<boolean> {
    const { checkpoints, metrics } = this.deps;
    const { syncId, executionName: runId } = input;
    if (pagesThisRun >= input.maxPagesPerExecution) {
      // The bound: what is left (more pages, a requested pass) is the next run's.
      if (!(await checkpoints.releaseLease(syncId, runId))) logger.warn('The run lease was no longer this run\'s at its last page');
      return hasMore;
    }
    if (hasMore) return true;
    const end = await checkpoints.finishRun(syncId, runId);
    if (end === 'not-held') logger.warn('The run lease was no longer this run\'s at the end of its pass');
    if (end !== 'rerun') return false;
    metrics.count(RuntimeMetric.SyncPassRepeated);
    logger.info('Another run asked for a pass while this one held the lease: one more pass');
    return true;
  }

  #client(provider: SyncProvider, options: { correlationId: string; idempotencyKey?: string; remainingTimeMs: () => number; logger: Logger }): HttpClient {
    const { metrics, clock, fetch } = this.deps;
    return createProviderHttpClient(
      { settings: provider.settings, credentials: provider.credentials, metrics, clock, fetch },
      { ...options, guard: provider.breaker },
    );
  }
}

/** A 400 `invalid_cursor` from the source (the code is in the classified error's provider summary). */
function isInvalidCursor(error: unknown): boolean {
  return error instanceof ProviderRejectedError && error.status === 400 && error.message.includes('invalid_cursor');
}

function localBudget(clock: Clock): () => number {
  const deadline = clock.now() + LOCAL_TASK_BUDGET_MS;
  return () => Math.max(0, deadline - clock.now());
}

// ---------------------------------------------------------------- composition

/** The resolved configuration of the task. */
export interface ContactSyncConfig {
  readonly source: RuntimeSettings;
  readonly crm: RuntimeSettings;
  readonly checkpointsTableName: string;
  readonly pageSize: number;
  readonly circuits?: { readonly source?: CircuitBreakerSettingsInput; readonly crm?: CircuitBreakerSettingsInput };
  /** OAuth2 token URL override of the CRM. @default the CRM connection's */
  readonly crmAuthTokenUrl?: string;
}

/** The parts the task is composed from (clients live for the container's life). */
export interface ContactSyncParts {
  /** Client of the checkpoints and circuits tables. */
  readonly dynamodb: DynamoDBClient;
  readonly secrets: SecretSource;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** Composes the task from resolved configuration with the runtime's building blocks (breakers, credentials). */
export function createContactSyncTask(config: ContactSyncConfig, parts: ContactSyncParts): ContactSyncTask {
  const clock = parts.clock ?? systemClock;
  const circuitStore = (settings: RuntimeSettings) => new DynamoDbCircuitStore({ tableName: settings.circuitsTableName, client: parts.dynamodb });
  const provider = (
    settings: RuntimeSettings,
    circuitId: string,
    circuit: CircuitBreakerSettingsInput | undefined,
    authTokenUrl?: string,
  ): SyncProvider => ({
    settings,
    credentials: createCredentialsProvider({
      auth: resolveAuth(settings.auth, settings.baseUrl, authTokenUrl),
      secretName: settings.secretName,
      secrets: parts.secrets,
      leases: new DynamoDbRefreshLeases({ tableName: settings.circuitsTableName, client: parts.dynamodb }),
      clock,
      fetch: parts.fetch,
    }),
    breaker: createBreaker({ circuitId, settings: circuit ?? {}, store: circuitStore(settings), metrics: parts.metrics, logger: parts.logger, clock }),
  });
  return new ContactSyncTask({
    checkpoints: new DynamoDbCheckpointStore({ tableName: config.checkpointsTableName, client: parts.dynamodb, clock }),
    source: provider(config.source, CONTACT_SYNC_CIRCUITS.source, config.circuits?.source),
    crm: provider(config.crm, CONTACT_SYNC_CIRCUITS.crm, config.circuits?.crm, config.crmAuthTokenUrl),
    pageSize: config.pageSize,
    logger: parts.logger,
    metrics: parts.metrics,
    clock,
    fetch: parts.fetch,
  });
}

/** Reads the task's configuration from `env`, reporting every problem at once. */
export function contactSyncConfigFromEnvironment(env: Record<string, string | undefined>): ContactSyncConfig {
  const problems: string[] = [];
  const collect = <T>(read: () => T, fallback: T): T => {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof ConfigurationError)) throw error;
      problems.push(...error.message.split('\n- ').slice(1));
      if (!error.message.includes('\n- ')) problems.push(error.message);
      return fallback;
    }
  };
  const settings = (prefix: string) => collect(() => taskSettingsFromEnvironment(env, { providerPrefix: prefix, ledger: false }), undefined);
  const source = settings('CONTACTS_');
  const target = settings('CRM_');
  const circuit = (variable: string, circuitId: string) =>
    collect(() => {
      const overrides = circuitOverrides(env[variable], variable);
      resolveCircuitBreakerSettings(overrides, `${circuitId} circuit`);
      return overrides;
    }, {});
  const circuits = { source: circuit('CONTACTS_CIRCUIT_SETTINGS', CONTACT_SYNC_CIRCUITS.source), crm: circuit('CRM_CIRCUIT_SETTINGS', CONTACT_SYNC_CIRCUITS.crm) };
  const checkpointsTableName = env.CHECKPOINTS_TABLE_NAME?.trim() ?? '';
  if (!checkpointsTableName) problems.push('CHECKPOINTS_TABLE_NAME is required: sync checkpoints table');
  const rawPageSize = env.PAGE_SIZE?.trim();
  const pageSize = rawPageSize ? Number(rawPageSize) : DEFAULT_PAGE_SIZE;
  if (!(Number.isInteger(pageSize) && pageSize >= 1 && pageSize <= MAX_PAGE_SIZE)) {
    problems.push(`PAGE_SIZE must be an integer from 1 to ${MAX_PAGE_SIZE} (the CRM bulk limit), got ${JSON.stringify(rawPageSize)}`);
  }
  if (problems.length > 0 || !source || !target) {
    throw new ConfigurationError(`Invalid configuration for the ${CONTACT_SYNC} task:\n- ${[...new Set(problems)].join('\n- ')}`);
  }
  return { source, crm: target, checkpointsTableName, pageSize, circuits, crmAuthTokenUrl: env.CRM_AUTH_TOKEN_URL?.trim() || undefined };
}

/** Builds the task from `env` (Lambda's process.env). */
export function contactSyncFromEnvironment(env: Record<string, string | undefined>): ContactSyncTask {
  const config = contactSyncConfigFromEnvironment(env);
  return createContactSyncTask(config, {
    dynamodb: new DynamoDBClient({ endpoint: env.DYNAMODB_ENDPOINT || undefined }),
    secrets: new SecretsManagerSecretSource({
      client: new SecretsManagerClient({ endpoint: env.SECRETS_MANAGER_ENDPOINT || undefined }),
      maxAgeSeconds: config.source.secretMaxAgeSeconds,
    }),
    logger: createRuntimeLogger(CONTACT_SYNC),
    metrics: new PowertoolsMetricsSink(CONTACT_SYNC),
  });
}

let task: ContactSyncTask | undefined;

/** The Lambda entry: syncs one page, or releases a failed run's lease (`release: true`). */
export const syncPage = async (
  event: ContactSyncTaskInput | ContactSyncReleaseInput,
  context: Context,
): Promise<ContactSyncTaskOutput | ContactSyncReleaseOutput> => {
  task ??= contactSyncFromEnvironment(process.env);
  return task.handle(event, context);
};
