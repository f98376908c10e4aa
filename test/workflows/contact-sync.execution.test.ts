/**
 * Executions of the SYNTHESIZED contact sync (aws-local-stepfunctions) with its real task handler against dynalite,
 * the sandbox contacts source and CRM, and an in-memory Secrets Manager.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbCircuitStore } from '../../functions/runtime/dynamodb-circuit-store.js';
import { createBreaker } from '../../functions/runtime/runtime-environment.js';
import { RecordingMetricsSink } from '../../functions/runtime/telemetry.js';
import { DynamoDbCheckpointStore } from '../../functions/workflows/dynamodb-checkpoint-store.js';
import { TASK_ERROR_NAMES } from '../../functions/workflows/workflow-contract.js';
import { contactSyncHistoryBound, EXECUTION_HISTORY_LIMIT, resolveWorkflows, WORKFLOWS } from '../../lib/workflow-catalog.js';
import { resolveCatalog } from '../../lib/catalog.js';
import type { CfnTemplate, ExecutionRecord } from '../../local/local-step-functions.js';
import { type Sandbox, startSandbox } from '../../local/sandbox/index.js';
import { type LocalDynamo, startLocalDynamo } from '../support/dynalite.js';
import { buildWorld, synthesizeAgainstSandbox, type WorkflowWorld } from './workflow-harness.js';

let dynamo: LocalDynamo;
let sandbox: Sandbox;
let template: CfnTemplate;
let world: WorkflowWorld;
const SYNC_ID = WORKFLOWS.contactSync.syncId;

beforeAll(async () => {
  [dynamo, sandbox] = await Promise.all([startLocalDynamo(), startSandbox({ seed: 31 })]);
  template = synthesizeAgainstSandbox(sandbox);
});
afterAll(async () => {
  await Promise.all([dynamo.close(), sandbox.close()]);
});
beforeEach(async () => {
  sandbox.reset();
  world = await buildWorld(template, dynamo, sandbox);
});

const checkpoint = () => new DynamoDbCheckpointStore({ tableName: world.table('CoreTablesCheckpoints'), client: dynamo.client }).load(SYNC_ID);
/** What the schedule rule passes (StartSync drops it). */
const SCHEDULED_EVENT = {
  version: '0',
  id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: '2026-11-22T04:00:00Z',
  region: 'us-east-1',
  resources: ['arn:aws:events:us-east-1:123456789012:rule/IntegrationHub-ContactSyncSchedule'],
  detail: {},
};
const runSync = (name: string, options: Parameters<WorkflowWorld['sync']['run']>[1] = {}) => world.sync.run(SCHEDULED_EVENT, { name, ...options });
/** What an operator (or the break running out) does: the shared circuit closes. */
async function resetCircuit(circuitId: string): Promise<void> {
  const breaker = createBreaker({
    circuitId,
    settings: {},
    store: new DynamoDbCircuitStore({ tableName: world.table('CoreTablesCircuits'), client: dynamo.client }),
    metrics: new RecordingMetricsSink(),
  });
  await breaker.reset();
}
const pages = (record: ExecutionRecord) => record.invocations.filter((i) => i.state === 'SyncPage' && i.outcome.ok).length;

/** The CRM holds exactly the source's live contacts (with an e-mail address), once each, with their latest data. */
function expectCrmEqualsSourceLiveSet(): void {
  const crm = sandbox.crm.contacts();
  const externalIds = crm.map((contact) => contact.externalId);
  expect(new Set(externalIds).size, 'no duplicates').toBe(externalIds.length);
  const live = sandbox.contacts.live().filter((contact) => contact.email_address.trim() !== '');
  expect([...externalIds].sort(), 'no gaps, deletions applied').toEqual(live.map((contact) => contact.id).sort());
  for (const contact of live) {
    expect(sandbox.crm.contactByExternalId(contact.id), contact.id).toMatchObject({
      email: contact.email_address,
      status: contact.active ? 'active' : 'inactive',
      sourceUpdatedAt: contact.updated_at,
    });
  }
}

describe('contact sync (synthesized definition, real task handler)', () => {
  it('syncs every page of the change feed into the CRM in one run, then a later run applies only the new changes', async () => {
    sandbox.contacts.seed(250);
    const first = await runSync('sync-1');

    expect(first.status).toBe('SUCCEEDED');
    expect(pages(first)).toBe(3);
    expect(first.path).toEqual(['StartSync', 'SyncPage', 'MorePages', 'SyncPage', 'MorePages', 'SyncPage', 'MorePages', 'SyncDone']);
    expect(first.output).toEqual({ sync: { syncId: SYNC_ID, pagesThisRun: 3, hasMore: false, upserted: 50, deleted: 0, skipped: false } });
    expectCrmEqualsSourceLiveSet();
    expect((await checkpoint()).cursor).toBeNull();

    const [changed, removed] = sandbox.contacts.live();
    sandbox.contacts.upsert({ id: changed!.id, email_address: 'changed@example.com' });
    sandbox.contacts.delete(removed!.id);
    sandbox.contacts.upsert({ email_address: 'new@example.com', first_name: 'New' });
    const second = await runSync('sync-2');

    expect(second.status).toBe('SUCCEEDED');
    expect(second.output).toMatchObject({ sync: { pagesThisRun: 1, hasMore: false, upserted: 2, deleted: 1 } });
    expectCrmEqualsSourceLiveSet();
  });

  it('fails a run interrupted at page 2 without moving the checkpoint past page 1; the next run resumes and ends equal to the source', async () => {
    sandbox.contacts.seed(250);
    const interrupted = await runSync('sync-interrupted', {
      hooks: {
        beforeInvoke(invocation) {
          // The CRM bulk endpoint starts failing on the 2nd page (and keeps failing through every retry).
          if (invocation.state === 'SyncPage' && invocation.invocation === 2) {
            sandbox.setFaults('crm', { failNext: { count: 1000, status: 503 }, pathFilter: '/contacts/bulk' });
          }
        },
      },
    });

    expect(interrupted.status).toBe('FAILED');
    // Page 1 done; page 2 failed on every attempt: transient failures until the CRM's shared circuit opened, then
    // circuit-open retries, then the execution failed (no Catch: nothing to undo, the checkpoint did not move).
    const [pageOne, ...pageTwo] = interrupted.invocations.filter((invocation) => invocation.state === 'SyncPage');
    expect(pageOne!.outcome.ok).toBe(true);
    expect(pageTwo.every((attempt) => !attempt.outcome.ok)).toBe(true);
    expect(pageTwo.map((attempt) => attempt.retryCount)).toEqual(pageTwo.map((_, index) => index));
    const { transient, circuitOpen } = WORKFLOWS.contactSync.retry;
    expect(pageTwo.length).toBeLessThanOrEqual(1 + transient.maxAttempts + circuitOpen.maxAttempts);
    // The page's own error fails the execution, after ReleaseRun gave up the run lease.
    expect([TASK_ERROR_NAMES.transient, TASK_ERROR_NAMES.circuitOpen]).toContain(interrupted.error);
    expect(interrupted.path.slice(-3)).toEqual(['SyncPage', 'ReleaseRun', 'SyncFailed']);
    expect((await checkpoint()).lease).toBeUndefined();
    expect(sandbox.crm.contacts()).toHaveLength(100);
    const afterFailure = await checkpoint();
    expect(afterFailure.version).toBe(1);
    expect(afterFailure.cursor).not.toBeNull();

    // Meanwhile the source changes: a synced contact is deleted, one not yet synced is deleted, a synced one changes.
    const live = sandbox.contacts.live();
    sandbox.contacts.delete(live[0]!.id);
    sandbox.contacts.delete(live[200]!.id);
    sandbox.contacts.upsert({ id: live[1]!.id, email_address: 'moved@example.com', active: false });
    // By the next scheduled run (15 min later) the CRM is back and its circuit's break (30 s) is long over.
    sandbox.clearFaults('crm');
    const operator = world.rebuild();
    await resetCircuit('crm');

    const resumed = await operator.sync.run(SCHEDULED_EVENT, { name: 'sync-resumed' });
    expect(resumed.status).toBe('SUCCEEDED');
    // Resumed from the checkpoint: 149 unread contacts + 3 changed = 2 pages, page 1 is not read again.
    expect(pages(resumed)).toBe(2);
    expectCrmEqualsSourceLiveSet();
    expect(sandbox.crm.contactByExternalId(live[0]!.id)).toBeUndefined();
    expect(sandbox.crm.contactByExternalId(live[200]!.id)).toBeUndefined();
    expect(sandbox.crm.contactByExternalId(live[1]!.id)).toMatchObject({ email: 'moved@example.com', status: 'inactive' });
    expect((await checkpoint()).version).toBe(3);
  });

  it('stops after maxPagesPerExecution pages; the next runs continue from the checkpoint', async () => {
    const bounded = { ...WORKFLOWS, contactSync: { ...WORKFLOWS.contactSync, maxPagesPerExecution: 2, pageSize: 10 } };
    const boundedWorld = await buildWorld(synthesizeAgainstSandbox(sandbox, bounded), dynamo, sandbox);
    sandbox.contacts.seed(45);

    const runs: ExecutionRecord[] = [];
    for (const name of ['bounded-1', 'bounded-2', 'bounded-3']) runs.push(await boundedWorld.sync.run(SCHEDULED_EVENT, { name }));

    expect(runs.map((run) => run.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(runs.map((run) => (run.output as { sync: { pagesThisRun: number; hasMore: boolean } }).sync)).toMatchObject([
      { pagesThisRun: 2, hasMore: true },
      { pagesThisRun: 2, hasMore: true },
      { pagesThisRun: 1, hasMore: false },
    ]);
    expectCrmEqualsSourceLiveSet();
  });

  it('keeps the biggest run (5,000 contacts, 50 pages) far inside the history and payload limits', async () => {
    sandbox.contacts.seed(5000, { stepMs: 10 });
    const record = await runSync('sync-big');

    expect(record.status).toBe('SUCCEEDED');
    const pageCount = pages(record);
    expect(pageCount).toBe(50);
    expectCrmEqualsSourceLiveSet();
    // 6 fixed events + 7 per page, as contactSyncHistoryBound counts them; the state stays a few hundred bytes.
    const bound = contactSyncHistoryBound(resolveWorkflows(resolveCatalog()).contactSync);
    expect(record.awsHistoryEvents).toBe(bound.fixed + bound.perPage * pageCount);
    expect(bound.worstCase).toBeLessThan(EXECUTION_HISTORY_LIMIT / 10);
    // The largest payload is the scheduled event itself (execution input); the state after StartSync is ~100 bytes.
    expect(record.largestPayloadBytes).toBe(Buffer.byteLength(JSON.stringify(SCHEDULED_EVENT)));
    const states = record.events.flatMap((e) => [e.state?.output]).filter((o) => o !== undefined);
    expect(Math.max(...states.map((o) => Buffer.byteLength(JSON.stringify(o))))).toBeLessThan(160);
    console.info(
      `[contact-sync biggest run] pages=${pageCount} engineEvents=${record.events.length} awsHistoryEvents=${record.awsHistoryEvents} ` +
        `largestPayloadBytes=${record.largestPayloadBytes} bound(typical@max pages)=${bound.typical} bound(worst)=${bound.worstCase}`,
    );
  });
});
