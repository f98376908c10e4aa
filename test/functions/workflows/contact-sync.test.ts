import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SecretsManagerSecretSource } from '../../../functions/runtime/secrets-manager-secret-source.js';
import { systemClock } from '../../../functions/runtime/clock.js';
import type { Clock } from '../../../functions/runtime/ports.js';
import { RecordingMetricsSink } from '../../../functions/runtime/telemetry.js';
import { claimRun, InMemoryCheckpointStore } from '../../../functions/workflows/checkpoint-store.js';
import { DynamoDbCheckpointStore } from '../../../functions/workflows/dynamodb-checkpoint-store.js';
import { type ContactSyncTask, createContactSyncTask } from '../../../functions/workflows/contact-sync.js';
import { TASK_ERROR_NAMES, type ContactSyncTaskOutput } from '../../../functions/workflows/workflow-contract.js';
import { lambdaContext } from '../../../local/lambda-events.js';
import type { LocalSecretsManager } from '../../../local/local-secrets-manager.js';
import { type Sandbox, startSandbox } from '../../../local/sandbox/index.js';
import type { SourceContact } from '../../../local/sandbox/contacts-api.js';
import { type LocalDynamo, startLocalDynamo } from '../../support/dynalite.js';
import { providerSecrets, rejectionOf, taskSettings } from './workflow-test-kit.js';

const SYNC_ID = 'contacts-to-crm';

let dynamo: LocalDynamo;
let sandbox: Sandbox;
let secretsManager: LocalSecretsManager;
let tables: { ledger: string; circuits: string; checkpoints: string };
let tableSeq = 0;

beforeAll(async () => {
  [dynamo, sandbox] = await Promise.all([startLocalDynamo(), startSandbox({ seed: 23 })]);
});
afterAll(async () => {
  await Promise.all([dynamo.close(), sandbox.close()]);
});

beforeEach(async () => {
  sandbox.reset();
  tableSeq += 1;
  tables = { ledger: '', circuits: `sync-circuits-${tableSeq}`, checkpoints: `sync-checkpoints-${tableSeq}` };
  await dynamo.createTable(tables.circuits, { partitionKey: 'circuitId' });
  await dynamo.createTable(tables.checkpoints, { partitionKey: 'syncId' });
  secretsManager = providerSecrets(sandbox);
});

function buildSync(options: { pageSize?: number; crmCircuit?: { failureThreshold?: number; breakMs?: number }; maxAttempts?: number; clock?: Clock } = {}) {
  const metrics = new RecordingMetricsSink();
  const http = { maxAttempts: options.maxAttempts ?? 3 };
  const task = createContactSyncTask(
    {
      source: taskSettings('contacts', sandbox, tables, http),
      crm: taskSettings('crm', sandbox, tables, http),
      checkpointsTableName: tables.checkpoints,
      pageSize: options.pageSize ?? 100,
      circuits: { crm: options.crmCircuit },
    },
    {
      dynamodb: dynamo.client,
      secrets: new SecretsManagerSecretSource({ client: secretsManager.client }),
      logger: new Logger({ serviceName: 'integration-hub', logLevel: 'SILENT' }),
      metrics,
      clock: options.clock,
    },
  );
  return { task, metrics };
}

const checkpoints = () => new DynamoDbCheckpointStore({ tableName: tables.checkpoints, client: dynamo.client });

/** The run lease the state machine passes (its execution timeout). */
const LEASE_SECONDS = 13 * 60;

/** The task input of page `pagesThisRun` of run `executionName`, as the state machine builds it. */
const pageInput = (executionName: string, pagesThisRun: number, maxPagesPerExecution = 500) => ({
  syncId: SYNC_ID,
  executionName,
  pagesThisRun,
  maxPagesPerExecution,
  leaseSeconds: LEASE_SECONDS,
});

/** One execution as the state machine runs it: pages while hasMore, at most `maxPages`. */
async function runExecution(task: ContactSyncTask, executionName: string, maxPages = 500): Promise<ContactSyncTaskOutput[]> {
  const outputs: ContactSyncTaskOutput[] = [];
  let pagesThisRun = 0;
  for (;;) {
    const output = await task.syncPage(pageInput(executionName, pagesThisRun, maxPages), lambdaContext('contact-sync', 60_000));
    outputs.push(output);
    pagesThisRun = output.pagesThisRun;
    if (output.skipped || !output.hasMore || pagesThisRun >= maxPages) return outputs;
  }
}

/** What the state machine's ReleaseRun state does after a page failed for good. */
const releaseRun = (task: ContactSyncTask, executionName: string) => task.releaseRun({ syncId: SYNC_ID, executionName, release: true });

/** The CRM contact a source contact must become. */
function expectedCrmContact(contact: SourceContact) {
  const full = [contact.first_name, contact.last_name].filter((part) => part).join(' ');
  return {
    externalId: contact.id,
    email: contact.email_address,
    name: full || contact.display_name || contact.email_address.split('@')[0],
    phone: contact.phone ?? null,
    status: contact.active ? 'active' : 'inactive',
    sourceUpdatedAt: contact.updated_at,
  };
}

/** The CRM holds exactly the source's live contacts, mapped, each once. */
function expectCrmEqualsSource(): void {
  const crmContacts = sandbox.crm.contacts();
  const live = sandbox.contacts.live();
  expect(crmContacts).toHaveLength(live.length);
  expect(new Set(crmContacts.map((c) => c.externalId)).size).toBe(crmContacts.length);
  const byExternalId = new Map(crmContacts.map((c) => [c.externalId, c]));
  for (const contact of live) expect(byExternalId.get(contact.id)).toMatchObject(expectedCrmContact(contact));
}

describe('contact sync task', () => {
  it('syncs 230 seeded contacts page by page until the source has no more, mapping every field', async () => {
    sandbox.contacts.seed(230);
    const { task } = buildSync({ pageSize: 100 });

    const outputs = await runExecution(task, 'run-1');

    expect(outputs.map((o) => [o.pagesThisRun, o.hasMore, o.upserted])).toEqual([
      [1, true, 100],
      [2, true, 100],
      [3, false, 30],
    ]);
    expectCrmEqualsSource();
    // The seeded data has every shape the mapping must handle.
    const crmContacts = sandbox.crm.contacts();
    expect(crmContacts.some((c) => c.phone === null)).toBe(true);
    expect(crmContacts.some((c) => c.status === 'inactive')).toBe(true);
    const live = sandbox.contacts.live();
    expect(live.some((c) => !c.first_name && !c.last_name && c.display_name)).toBe(true);
    expect(live.some((c) => !c.first_name && !c.last_name && !c.display_name)).toBe(true);
    const checkpoint = await checkpoints().load(SYNC_ID);
    expect(checkpoint).toMatchObject({ since: sandbox.contacts.all().at(-1)?.updated_at, cursor: null, version: 3 });
    expect(checkpoint.highWater).toBeUndefined();
  });

  it('keeps page contents out of the state: the output carries counters only', async () => {
    sandbox.contacts.seed(3);
    const [output] = await runExecution(buildSync().task, 'run-small');

    expect(output).toEqual({ syncId: SYNC_ID, pagesThisRun: 1, hasMore: false, upserted: 3, deleted: 0, skipped: false });
  });

  it('sends each page with Idempotency-Key = execution name + page position, and the execution name as correlation id', async () => {
    sandbox.contacts.seed(150);
    await runExecution(buildSync({ pageSize: 100 }).task, 'run-keys');

    const keys = sandbox.journal.entries({ provider: 'crm', path: '/contacts/bulk' }).map((e) => [e.idempotencyKey, e.correlationId]);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toEqual(['contact-sync:run-keys:since=', 'run-keys']);
    expect(keys[1]?.[0]).toMatch(/^contact-sync:run-keys:[A-Za-z0-9_-]+$/);
    expect(keys[1]?.[0]).not.toBe(keys[0]?.[0]);
  });

  it('stops after the page bound and lets the next execution continue from the checkpoint', async () => {
    sandbox.contacts.seed(230);
    const { task } = buildSync({ pageSize: 50 });

    const first = await runExecution(task, 'bounded-1', 2);
    expect(first.at(-1)).toMatchObject({ pagesThisRun: 2, hasMore: true });
    expect(sandbox.crm.contacts()).toHaveLength(100);

    const second = await runExecution(task, 'bounded-2', 2);
    const third = await runExecution(task, 'bounded-3', 2);
    expect([...second, ...third].map((o) => o.upserted)).toEqual([50, 50, 30]);
    expectCrmEqualsSource();
  });

  it('throws and leaves the checkpoint unchanged when the CRM write of page k fails; a rerun resumes with no gap', async () => {
    sandbox.contacts.seed(230);
    const { task } = buildSync({ pageSize: 100, maxAttempts: 3 });
    const [page1] = await runExecution(task, 'fail-run', 1);
    expect(page1).toMatchObject({ pagesThisRun: 1, hasMore: true });
    const before = await checkpoints().load(SYNC_ID);

    // Page 2's write fails on every in-process attempt.
    sandbox.setFaults('crm', { failNext: { count: 3 }, pathFilter: '/contacts/bulk' });
    const error = await rejectionOf(task.syncPage(pageInput('fail-run', 1), lambdaContext('contact-sync')));

    expect(error.name).toBe(TASK_ERROR_NAMES.transient);
    expect(await checkpoints().load(SYNC_ID)).toEqual(before);
    expect(sandbox.crm.contacts()).toHaveLength(100);

    sandbox.clearFaults('crm');
    const rerun = await runExecution(task, 'rerun');
    expect(rerun.map((o) => o.upserted)).toEqual([100, 30]);
    expectCrmEqualsSource();
    // Each page reached the CRM once successfully: nothing was re-sent, nothing skipped.
    expect(sandbox.journal.count({ provider: 'crm', path: '/contacts/bulk', status: 200 })).toBe(3);
  });

  it('fails with Integration.Permanent and keeps the checkpoint when the CRM rejects a page', async () => {
    sandbox.contacts.seed(10);
    sandbox.setFaults('crm', { failNext: { count: 1, status: 400 }, pathFilter: '/contacts/bulk' });
    const { task } = buildSync();

    const error = await rejectionOf(task.syncPage(pageInput('perm', 0), lambdaContext('contact-sync')));

    expect(error.name).toBe(TASK_ERROR_NAMES.permanent);
    expect(await checkpoints().load(SYNC_ID)).toMatchObject({ since: '', cursor: null, version: 0 });
    await releaseRun(task, 'perm');
    await runExecution(task, 'perm-rerun');
    expectCrmEqualsSource();
  });

  it('propagates deletions, changes and new contacts on the next run', async () => {
    const seeded = sandbox.contacts.seed(120);
    const { task } = buildSync({ pageSize: 100 });
    await runExecution(task, 'initial');

    const deletedIds = seeded.slice(0, 5).map((c) => c.id);
    for (const id of deletedIds) sandbox.contacts.delete(id);
    sandbox.contacts.upsert({ id: seeded[10]!.id, first_name: 'Renamed', last_name: 'Person', phone: undefined });
    sandbox.contacts.upsert({ id: seeded[11]!.id, active: false });
    sandbox.contacts.upsert({ email_address: 'new.one@example.com', display_name: 'New One' });
    sandbox.contacts.upsert({ email_address: 'plain@example.com' });

    const outputs = await runExecution(task, 'incremental');

    expect(outputs).toEqual([{ syncId: SYNC_ID, pagesThisRun: 1, hasMore: false, upserted: 4, deleted: 5, skipped: false }]);
    expectCrmEqualsSource();
    for (const id of deletedIds) expect(sandbox.crm.contactByExternalId(id)).toBeUndefined();
    expect(sandbox.crm.contactByExternalId(seeded[10]!.id)).toMatchObject({ name: 'Renamed Person', phone: null });
    expect(sandbox.crm.contactByExternalId(seeded[11]!.id)).toMatchObject({ status: 'inactive' });
    expect(sandbox.crm.contacts().find((c) => c.email === 'plain@example.com')).toMatchObject({ name: 'plain' });

    // Nothing changed since: the next run reads an empty page and writes nothing.
    const idle = await runExecution(task, 'idle');
    expect(idle).toEqual([{ syncId: SYNC_ID, pagesThisRun: 1, hasMore: false, upserted: 0, deleted: 0, skipped: false }]);
    expect(sandbox.journal.count({ provider: 'crm', path: '/contacts/bulk' })).toBe(3);
  });

  it('picks up a contact changed while a pass pages through the source', async () => {
    const seeded = sandbox.contacts.seed(150);
    const { task } = buildSync({ pageSize: 100 });
    await runExecution(task, 'moving', 1);
    // Changed after page 1 was read: it moves behind the cursor and comes again.
    sandbox.contacts.upsert({ id: seeded[0]!.id, display_name: 'Changed Mid-pass', first_name: null, last_name: null });

    await runExecution(task, 'moving');

    expectCrmEqualsSource();
    expect(sandbox.crm.contactByExternalId(seeded[0]!.id)?.name).toBe('Changed Mid-pass');
  });

  it('restarts the pass from the watermark when the source refuses the stored cursor', async () => {
    sandbox.contacts.seed(120);
    const { task } = buildSync({ pageSize: 100 });
    await runExecution(task, 'cursor-1', 1);
    const store = checkpoints();
    const held = await store.load(SYNC_ID);
    await store.advance(SYNC_ID, held, { since: held.since, cursor: 'not-a-cursor' }, { executionName: 'operator', upserted: 0, deleted: 0 });

    await runExecution(task, 'cursor-2');

    expect(sandbox.journal.count({ provider: 'contacts', path: '/changes', status: 400 })).toBe(1);
    expectCrmEqualsSource();
  });

  it('fails with Integration.CircuitOpen before reading the source while the CRM circuit is open', async () => {
    sandbox.contacts.seed(20);
    sandbox.setFaults('crm', { status: 503, pathFilter: '/contacts/bulk' });
    const { task, metrics } = buildSync({ crmCircuit: { failureThreshold: 2, breakMs: 60_000 }, maxAttempts: 2 });
    await rejectionOf(task.syncPage(pageInput('trip', 0), lambdaContext('contact-sync')));
    await releaseRun(task, 'trip');
    const sourceCalls = sandbox.journal.count({ provider: 'contacts' });

    const error = await rejectionOf(task.syncPage(pageInput('open', 0), lambdaContext('contact-sync')));

    expect(error.name).toBe(TASK_ERROR_NAMES.circuitOpen);
    expect(sandbox.journal.count({ provider: 'contacts' })).toBe(sourceCalls);
    expect(metrics.total('CircuitRejected')).toBe(1);
    expect(await checkpoints().load(SYNC_ID)).toMatchObject({ version: 0 });
  });

  it('fails with Integration.Permanent on an invalid task input, without any call', async () => {
    const error = await rejectionOf(buildSync().task.syncPage({ syncId: '', executionName: 'x', pagesThisRun: -1 } as never));

    expect(error.name).toBe(TASK_ERROR_NAMES.permanent);
    expect(sandbox.journal.count()).toBe(0);
  });
});

describe('contact sync run lease', () => {
  const SKIPPED = { syncId: SYNC_ID, pagesThisRun: 0, hasMore: false, upserted: 0, deleted: 0, skipped: true };

  it('ends a run started while another holds the lease at once, with no call, and the holder does one more pass for it', async () => {
    const seeded = sandbox.contacts.seed(150);
    const { task, metrics } = buildSync({ pageSize: 100 });
    const holderStore = checkpoints();
    // A run in progress: page 1 done, the source has more.
    const page1 = await task.syncPage(pageInput('holder-2', 0), lambdaContext('contact-sync', 60_000));
    expect(page1).toMatchObject({ pagesThisRun: 1, hasMore: true, skipped: false });
    expect((await holderStore.load(SYNC_ID)).lease).toMatchObject({ runId: 'holder-2', rerunRequested: false });
    // Meanwhile a contact changes at the source (the webhook's reason).
    sandbox.contacts.upsert({ id: seeded[0]!.id, display_name: 'Changed by webhook', first_name: null, last_name: null });
    const callsBefore = sandbox.journal.count();

    const skipped = await runExecution(task, 'webhook-run');

    expect(skipped).toEqual([SKIPPED]);
    expect(sandbox.journal.count()).toBe(callsBefore);
    expect(metrics.total('SyncRunSkipped')).toBe(1);
    expect((await holderStore.load(SYNC_ID)).lease).toMatchObject({ runId: 'holder-2', rerunRequested: true });

    // The holder finishes its pass, consumes the request, does one more pass, then releases the lease.
    const rest: ContactSyncTaskOutput[] = [];
    for (let pagesThisRun = 1; ; ) {
      const output = await task.syncPage(pageInput('holder-2', pagesThisRun), lambdaContext('contact-sync', 60_000));
      rest.push(output);
      pagesThisRun = output.pagesThisRun;
      if (!output.hasMore) break;
    }
    expect(rest.map((o) => o.hasMore)).toEqual([true, false]);
    expect(metrics.total('SyncPassRepeated')).toBe(1);
    expect((await holderStore.load(SYNC_ID)).lease).toBeUndefined();
    expectCrmEqualsSource();
    expect(sandbox.crm.contactByExternalId(seeded[0]!.id)?.name).toBe('Changed by webhook');
  });

  it('costs a burst of skipped runs one rerun request, and the holder one extra pass', async () => {
    sandbox.contacts.seed(30);
    const { task, metrics } = buildSync({ pageSize: 10 });
    await task.syncPage(pageInput('holder', 0), lambdaContext('contact-sync', 60_000));
    sandbox.contacts.upsert({ email_address: 'burst@example.com' });

    const burst = await Promise.all([1, 2, 3, 4, 5].map((n) => runExecution(task, `burst-${n}`)));

    expect(burst.flat()).toEqual(Array.from({ length: 5 }, () => SKIPPED));
    expect(metrics.total('SyncRunSkipped')).toBe(5);
    const holder = [];
    for (let pagesThisRun = 1; ; ) {
      const output = await task.syncPage(pageInput('holder', pagesThisRun), lambdaContext('contact-sync', 60_000));
      holder.push(output);
      pagesThisRun = output.pagesThisRun;
      if (!output.hasMore) break;
    }
    expect(metrics.total('SyncPassRepeated')).toBe(1);
    // Pages 2 and 3 of the first pass (30 seeded + 1 new contact, 10 per page: 4 pages), then one more pass of 1 page.
    expect(holder.map((o) => o.pagesThisRun)).toEqual([2, 3, 4, 5]);
    expectCrmEqualsSource();
  });

  it('lets a run take over a lease that ran out (a run that crashed or timed out)', async () => {
    sandbox.contacts.seed(30);
    let offsetMs = 0;
    const clock: Clock = { ...systemClock, now: () => Date.now() + offsetMs };
    const { task } = buildSync({ pageSize: 10, clock });
    await task.syncPage(pageInput('crashed', 0), lambdaContext('contact-sync', 60_000));

    expect(await runExecution(task, 'too-early')).toEqual([SKIPPED]);
    offsetMs = LEASE_SECONDS * 1000 + 1;
    const takeover = await runExecution(task, 'after-the-lease');

    expect(takeover.every((o) => !o.skipped)).toBe(true);
    expectCrmEqualsSource();
    expect((await checkpoints().load(SYNC_ID)).lease).toBeUndefined();
  });

  it('releases the lease at the page bound whatever was requested: the next run carries on', async () => {
    sandbox.contacts.seed(30);
    const { task } = buildSync({ pageSize: 10 });
    await task.syncPage(pageInput('bounded', 0, 2), lambdaContext('contact-sync', 60_000));
    expect(await runExecution(task, 'meanwhile')).toEqual([SKIPPED]);

    const last = await task.syncPage(pageInput('bounded', 1, 2), lambdaContext('contact-sync', 60_000));

    expect(last).toMatchObject({ pagesThisRun: 2, hasMore: true, skipped: false });
    expect((await checkpoints().load(SYNC_ID)).lease).toBeUndefined();
    await runExecution(task, 'next');
    expectCrmEqualsSource();
  });

  it('treats a retry of the first page as the same run (the lease is already its own)', async () => {
    sandbox.contacts.seed(5);
    sandbox.setFaults('crm', { failNext: { count: 1, status: 400 }, pathFilter: '/contacts/bulk' });
    const { task } = buildSync();
    await rejectionOf(task.syncPage(pageInput('retried', 0), lambdaContext('contact-sync')));
    const { lease } = await checkpoints().load(SYNC_ID);

    const retry = await task.syncPage(pageInput('retried', 0), lambdaContext('contact-sync'));

    expect(lease).toMatchObject({ runId: 'retried' });
    expect(retry).toMatchObject({ pagesThisRun: 1, hasMore: false, skipped: false, upserted: 5 });
    expect((await checkpoints().load(SYNC_ID)).lease).toBeUndefined();
  });

  it('releases a failed run\'s lease on request, and only its own', async () => {
    sandbox.contacts.seed(5);
    const { task } = buildSync();
    await task.syncPage(pageInput('owner', 0, 1), lambdaContext('contact-sync'));
    await task.syncPage(pageInput('owner-2', 0, 5), lambdaContext('contact-sync'));
    // owner-2's only page ended its pass: the lease is free again.
    expect(await releaseRun(task, 'owner-2')).toEqual({ released: false });
    sandbox.contacts.seed(150);
    await task.syncPage(pageInput('owner-3', 0, 5), lambdaContext('contact-sync'));

    expect(await releaseRun(task, 'someone-else')).toEqual({ released: false });
    expect((await checkpoints().load(SYNC_ID)).lease).toMatchObject({ runId: 'owner-3' });
    expect(await releaseRun(task, 'owner-3')).toEqual({ released: true });
    expect((await checkpoints().load(SYNC_ID)).lease).toBeUndefined();
  });
});

describe('DynamoDB checkpoint store', () => {
  it('takes, asks for a pass on, consumes and releases the run lease with conditional writes only', async () => {
    const store = checkpoints();
    const now = 1_000_000;
    expect(await store.acquireLease('s2', 'a', now + 60_000, now)).toBe(true);
    expect(await store.acquireLease('s2', 'b', now + 60_000, now)).toBe(false);
    expect(await store.requestRerun('s2', 'a', now)).toBe(false); // not from the holder itself
    expect(await store.requestRerun('s2', 'b', now)).toBe(true);
    expect(await store.load('s2')).toEqual({ since: '', cursor: null, version: 0, lease: { runId: 'a', runningUntil: now + 60_000, rerunRequested: true } });

    // A page's advance keeps the lease and the request (it updates its own attributes only).
    const moved = await store.advance('s2', await store.load('s2'), { since: 't1', cursor: null }, { executionName: 'a', upserted: 1, deleted: 0 });
    expect(await store.load('s2')).toEqual({ ...moved, lease: { runId: 'a', runningUntil: now + 60_000, rerunRequested: true } });

    expect(await store.finishRun('s2', 'b')).toBe('not-held');
    expect(await store.finishRun('s2', 'a')).toBe('rerun');
    expect((await store.load('s2')).lease).toEqual({ runId: 'a', runningUntil: now + 60_000, rerunRequested: false });
    expect(await store.finishRun('s2', 'a')).toBe('released');
    expect((await store.load('s2')).lease).toBeUndefined();
    // Nobody holds it now: a request is refused (the asking run takes the lease itself), and a new run gets it.
    expect(await store.requestRerun('s2', 'b', now)).toBe(false);
    expect(await store.acquireLease('s2', 'b', now + 60_000, now)).toBe(true);
    // Ran out: another run takes it over, and the old holder can neither release nor finish it.
    expect(await store.requestRerun('s2', 'c', now + 60_000)).toBe(false);
    expect(await store.acquireLease('s2', 'c', now + 120_000, now + 60_000)).toBe(true);
    expect(await store.releaseLease('s2', 'b')).toBe(false);
    expect(await store.finishRun('s2', 'b')).toBe('not-held');
    expect(await store.releaseLease('s2', 'c')).toBe(true);
    expect(await store.load('s2')).toEqual(moved);
  });

  it('keeps the in-memory store\'s answers equal to the DynamoDB adapter\'s', async () => {
    const stores = [checkpoints(), new InMemoryCheckpointStore()];
    const answers = [];
    for (const store of stores) {
      const now = 5_000;
      const claimA = await claimRun(store, 's3', 'a', { now, leaseMs: 1000 }, await store.load('s3'));
      const claimB = await claimRun(store, 's3', 'b', { now, leaseMs: 1000 }, await store.load('s3'));
      const claimC = await claimRun(store, 's3', 'c', { now, leaseMs: 1000 }, await store.load('s3'));
      const end1 = await store.finishRun('s3', 'a');
      const end2 = await store.finishRun('s3', 'a');
      const late = await claimRun(store, 's3', 'd', { now: now + 2000, leaseMs: 1000 }, await store.load('s3'));
      answers.push({ claimA, claimB, claimC, end1, end2, late, final: await store.load('s3') });
    }
    expect(answers[0]).toEqual({
      claimA: { kind: 'leader' },
      claimB: { kind: 'skipped', holder: 'a', requested: true },
      claimC: { kind: 'skipped', holder: 'a', requested: false },
      end1: 'rerun',
      end2: 'released',
      late: { kind: 'leader' },
      final: { since: '', cursor: null, version: 0, lease: { runId: 'd', runningUntil: 8000, rerunRequested: false } },
    });
    expect(answers[1]).toEqual(answers[0]);
  });


  it('starts from the beginning and advances only from the version it read', async () => {
    const store = checkpoints();
    const start = await store.load('s1');
    expect(start).toEqual({ since: '', cursor: null, version: 0 });

    const next = await store.advance('s1', start, { since: '', cursor: 'c1', highWater: '2030-01-01T00:00:00.000Z' }, { executionName: 'e', upserted: 1, deleted: 0 });
    expect(next).toEqual({ since: '', cursor: 'c1', highWater: '2030-01-01T00:00:00.000Z', version: 1 });
    expect(await store.load('s1')).toEqual(next);

    // A second run that read version 0 loses: it must not overwrite the newer checkpoint.
    const conflict = await rejectionOf(store.advance('s1', start, { since: '', cursor: 'other' }, { executionName: 'e2', upserted: 0, deleted: 0 }));
    expect(conflict).toMatchObject({ errorClass: 'CheckpointConflict', category: 'transient' });
    const stale = await rejectionOf(store.advance('s1', { ...next, version: 0 }, { since: 'x', cursor: null }, { executionName: 'e3', upserted: 0, deleted: 0 }));
    expect(stale).toMatchObject({ errorClass: 'CheckpointConflict' });
    expect(await store.load('s1')).toEqual(next);
  });
});
