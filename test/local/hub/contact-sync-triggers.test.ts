/**
 * The contact sync's event trigger on the local hub: the template's rule (lib/constructs/contact-sync-state-machine.ts
 * `triggerRules`) routes the CRM's `contact.updated` webhook event on the hub's bus to the synthesized state machine,
 * and the run lease (functions/workflows/checkpoint-store.ts) keeps a burst of such events to one run plus one pass.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { webhookEventSource } from '../../../functions/webhooks/webhook-declaration.js';
import { DynamoDbCheckpointStore } from '../../../functions/workflows/dynamodb-checkpoint-store.js';
import { type HubExecution, LocalHub } from '../../../local/hub/local-hub.js';
import { startSandboxForCatalog } from '../../../local/hub/sandbox-wiring.js';
import type { Sandbox } from '../../../local/sandbox/index.js';
import { WORKFLOWS } from '../../../lib/workflow-catalog.js';
import { until } from '../../support/eventually.js';

const SYNC_ID = WORKFLOWS.contactSync.syncId;
const contactUpdated = (id: string) => ({ source: webhookEventSource('crm'), detailType: 'contact.updated', detail: { id } });

describe('contact sync event trigger on the local hub', () => {
  let sandbox: Sandbox;
  let hub: LocalHub;
  let checkpoints: DynamoDbCheckpointStore;
  const syncRuns = (): HubExecution[] => hub.executions.filter((execution) => execution.workflow === 'contact-sync');
  const skipped = (execution: HubExecution) => execution.record?.path.at(-1) === 'SyncSkipped';
  const pageInvocations = (execution: HubExecution) => execution.record?.invocations.filter((invocation) => invocation.state === 'SyncPage') ?? [];

  beforeAll(async () => {
    sandbox = await startSandboxForCatalog({ seed: 11 });
    // timeScale 1: the 15-minute schedule does not fire during the test, so every run here is the trigger's.
    hub = await LocalHub.start({ sandbox, timeScale: 1 });
    const table = Object.entries(hub.tables).find(([logicalId]) => logicalId.startsWith('CoreTablesCheckpoints'))![1];
    checkpoints = new DynamoDbCheckpointStore({ tableName: table, client: hub.dynamo.client });
  }, 60_000);

  afterAll(async () => {
    await hub?.stop();
    await sandbox?.close();
  });

  beforeEach(async () => {
    await hub.settle();
  });

  it('starts one contact sync run per contact.updated event from the CRM webhook source', async () => {
    const seeded = sandbox.contacts.seed(5);
    const before = syncRuns().length;

    const [routed] = hub.putEvents([contactUpdated(seeded[0]!.id)]);
    await hub.settle();

    expect(routed!.routedTo).toHaveLength(1);
    expect(routed!.routedTo[0]).toMatch(/^WorkflowsContactSyncStateMachine/);
    const runs = syncRuns().slice(before);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'SUCCEEDED' });
    expect(runs[0]!.record!.path).toEqual(['StartSync', 'SyncPage', 'MorePages', 'SyncDone']);
    expect(sandbox.crm.contacts()).toHaveLength(5);
    expect(await checkpoints.load(SYNC_ID)).toMatchObject({ version: 1 });
    expect((await checkpoints.load(SYNC_ID)).lease).toBeUndefined();
  });

  it('skips every run started while another run holds the lease, asking the holder once for one more pass: no call, no conflict', async () => {
    // The holder is this test (a run in progress, as far as the checkpoint says), so the burst surely meets a held
    // lease whatever the machine's speed; the holder's extra pass itself is tested in test/functions/workflows/contact-sync.test.ts.
    const holder = 'a-run-in-progress';
    const [changed] = sandbox.contacts.live();
    const start = await checkpoints.load(SYNC_ID);
    const before = syncRuns().length;
    const sourceReadsBefore = sandbox.journal.count({ provider: 'contacts', path: '/changes' });
    expect(await checkpoints.acquireLease(SYNC_ID, holder, Date.now() + 10 * 60_000, Date.now())).toBe(true);

    hub.putEvents(Array.from({ length: 5 }, () => contactUpdated(changed!.id)));
    await until(() => syncRuns().length === before + 5, 20_000);
    await hub.settle();

    const burst = syncRuns().slice(before);
    expect(burst.map((run) => run.status)).toEqual(Array.from({ length: 5 }, () => 'SUCCEEDED'));
    expect(burst.map(skipped)).toEqual([true, true, true, true, true]);
    for (const run of burst) {
      expect(run.record!.output).toMatchObject({ sync: { pagesThisRun: 0, hasMore: false, upserted: 0, deleted: 0, skipped: true } });
      // No CheckpointConflict, no retry: every page succeeded at its first attempt.
      expect(run.record!.invocations.filter((invocation) => !invocation.outcome.ok)).toEqual([]);
    }
    expect(sandbox.journal.count({ provider: 'contacts', path: '/changes' }) - sourceReadsBefore).toBe(0);
    const held = await checkpoints.load(SYNC_ID);
    expect(held.lease).toMatchObject({ runId: holder, rerunRequested: true });
    expect(held.version).toBe(start.version);
    // The holder's pass ends: the one request is consumed (one more pass), then the lease is free.
    expect(await checkpoints.finishRun(SYNC_ID, holder)).toBe('rerun');
    expect(await checkpoints.finishRun(SYNC_ID, holder)).toBe('released');

    // The next event leads a run of its own and syncs the change.
    sandbox.contacts.upsert({ id: changed!.id, display_name: 'After the burst', first_name: null, last_name: null });
    hub.putEvents([contactUpdated(changed!.id)]);
    await until(() => syncRuns().length === before + 6, 20_000);
    await hub.settle();
    const leader = syncRuns().at(-1)!;
    expect(leader.status).toBe('SUCCEEDED');
    expect(skipped(leader)).toBe(false);
    expect(pageInvocations(leader).length).toBeGreaterThan(0);
    expect((await checkpoints.load(SYNC_ID)).lease).toBeUndefined();
    expect(sandbox.crm.contactByExternalId(changed!.id)?.name).toBe('After the burst');
  });
});
