import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { LocalEventSourceMapping, type LocalEventSourceMappingSettings } from '../../local/local-event-source.js';
import { LocalQueue } from '../../local/local-queue.js';

/** Virtual time: sleeping advances the clock and yields one macrotask, so nothing waits for real. */
function virtualClock(start = 1_700_000_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (seconds: number) => void (t += seconds * 1000),
    sleep: async (ms: number) => {
      t += ms;
      await tick();
    },
  };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Lets the background poller run until `condition` holds (bounded by a number of macrotasks, not by time). */
async function until(condition: () => boolean, ticks = 2000): Promise<void> {
  for (let i = 0; i < ticks && !condition(); i++) await tick();
  expect(condition()).toBe(true);
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

function setup(settings: Partial<LocalEventSourceMappingSettings> = {}, queueVisibilitySeconds = 30) {
  const clock = virtualClock();
  const queue = new LocalQueue({ name: 'alpha', visibilityTimeoutSeconds: queueVisibilitySeconds, clock });
  const events: SQSEvent[] = [];
  const mapping = new LocalEventSourceMapping({
    queue,
    clock,
    handler: async (event) => {
      events.push(event);
    },
    ...settings,
  });
  return { clock, queue, mapping, events };
}

const bodies = (event: SQSEvent | undefined) => event?.Records.map((r) => r.body);

describe('LocalEventSourceMapping', () => {
  it('invokes with at most batchSize records per batch', async () => {
    const { queue, mapping, events } = setup({ batchSize: 10 });
    for (let i = 0; i < 25; i++) queue.send({ body: String(i) });
    const sizes = [];
    for (let outcome = await mapping.pollOnce(); outcome; outcome = await mapping.pollOnce()) sizes.push(outcome.records);
    expect(sizes).toEqual([10, 10, 5]);
    expect(events.flatMap((e) => e.Records)).toHaveLength(25);
    expect(queue.stats()).toMatchObject({ visible: 0, inFlight: 0, deleted: 25 });
  });

  it('builds the records from the queue: receipt handle, receive count, ARN and virtual timestamps', async () => {
    const { clock, queue, mapping, events } = setup({}, 30);
    const sentAt = clock.now();
    const id = queue.send({ body: 'a', attributes: { correlationId: 'c-1' } });
    queue.receive();
    clock.advance(30);
    await mapping.pollOnce();
    const [record] = events[0]!.Records;
    expect(record).toMatchObject({
      messageId: id,
      body: 'a',
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      attributes: { ApproximateReceiveCount: '2', SentTimestamp: String(sentAt) },
      messageAttributes: { correlationId: { stringValue: 'c-1', dataType: 'String' } },
    });
    expect(record!.receiptHandle).toContain(id);
  });

  it('deletes the successful records of a partial batch failure; only the failed ones come back', async () => {
    const { clock, queue, mapping } = setup({
      handler: async (event): Promise<SQSBatchResponse> => ({
        batchItemFailures: event.Records.filter((r) => r.body === 'b').map((r) => ({ itemIdentifier: r.messageId })),
      }),
    });
    for (const body of ['a', 'b', 'c']) queue.send({ body });
    expect(await mapping.pollOnce()).toEqual({ records: 3, deleted: 2, failed: 1, invocationFailed: false });
    expect(queue.stats()).toMatchObject({ visible: 0, inFlight: 1 });
    clock.advance(29);
    expect(queue.receive(10)).toEqual([]);
    clock.advance(1);
    expect(queue.receive(10).map((m) => [m.body, m.receiveCount])).toEqual([['b', 2]]);
  });

  it('keeps the visibility a handler gave a failed record (parked) instead of the queue timeout', async () => {
    const { clock, queue, mapping } = setup({
      handler: async (event) => {
        const record = event.Records[0]!;
        queue.changeVisibility(record.receiptHandle, 300);
        return { batchItemFailures: [{ itemIdentifier: record.messageId }] };
      },
    });
    queue.send({ body: 'a' });
    await mapping.pollOnce();
    clock.advance(299);
    expect(queue.receive()).toEqual([]);
    clock.advance(1);
    expect(queue.receive()).toHaveLength(1);
  });

  it('fails the whole batch when a batch item failure names no record of the batch', async () => {
    const { queue, mapping } = setup({ handler: async () => ({ batchItemFailures: [{ itemIdentifier: '' }] }) });
    for (const body of ['a', 'b']) queue.send({ body });
    expect(await mapping.pollOnce()).toEqual({ records: 2, deleted: 0, failed: 2, invocationFailed: true });
    expect(queue.stats().inFlight).toBe(2);
  });

  it('brings the whole batch back after the visibility timeout when the handler throws', async () => {
    const errors: unknown[] = [];
    const { clock, queue, mapping } = setup({
      handler: async () => {
        throw new Error('boom');
      },
      onInvocationError: (error) => errors.push(error),
    });
    for (const body of ['a', 'b', 'c']) queue.send({ body });
    expect(await mapping.pollOnce()).toEqual({ records: 3, deleted: 0, failed: 3, invocationFailed: true });
    expect(errors).toHaveLength(1);
    expect(await mapping.pollOnce()).toBeUndefined();
    clock.advance(30);
    const again = queue.receive(10);
    expect(again.map((m) => [m.body, m.receiveCount])).toEqual([
      ['a', 2],
      ['b', 2],
      ['c', 2],
    ]);
  });

  it('never runs more than maximumConcurrency invocations at once', async () => {
    const release = gate();
    let active = 0;
    let maxActive = 0;
    let calls = 0;
    let done = 0;
    const { queue, mapping } = setup(
      {
        batchSize: 1,
        maximumConcurrency: 3,
        handler: async () => {
          calls += 1;
          active += 1;
          maxActive = Math.max(maxActive, active);
          await release.opened;
          active -= 1;
          done += 1;
        },
      },
      600,
    );
    for (let i = 0; i < 8; i++) queue.send({ body: String(i) });
    mapping.start();
    await until(() => calls === 3);
    for (let i = 0; i < 50; i++) await tick(); // give the poller every chance to overrun
    expect(calls).toBe(3);
    expect(queue.stats()).toMatchObject({ visible: 5, inFlight: 3 });
    release.open();
    await until(() => done === 8);
    await mapping.stop();
    expect(maxActive).toBe(3);
    expect(mapping.stats()).toMatchObject({ invocations: 8, maxConcurrentInvocations: 3, inFlightInvocations: 0 });
    expect(queue.stats()).toMatchObject({ visible: 0, inFlight: 0, deleted: 8 });
  });

  it('applies a lowered maximum concurrency to new invocations (UpdateEventSourceMapping ScalingConfig)', async () => {
    const release = gate();
    let calls = 0;
    const { queue, mapping } = setup(
      {
        batchSize: 1,
        maximumConcurrency: 5,
        handler: async () => {
          calls += 1;
          await release.opened;
        },
      },
      600,
    );
    mapping.setMaximumConcurrency(2);
    expect(mapping.maximumConcurrency).toBe(2);
    expect(() => mapping.setMaximumConcurrency(1)).toThrow(/maximumConcurrency must be an integer in 2-1000/);
    for (let i = 0; i < 6; i++) queue.send({ body: String(i) });
    mapping.start();
    await until(() => calls === 2);
    for (let i = 0; i < 50; i++) await tick();
    expect(calls).toBe(2);
    release.open();
    await until(() => queue.stats().deleted === 6);
    await mapping.stop();
    expect(mapping.stats().maxConcurrentInvocations).toBe(2);
  });

  it('receives nothing while disabled and resumes when enabled', async () => {
    const { queue, mapping, events } = setup({ enabled: false });
    queue.send({ body: 'a' });
    expect(await mapping.pollOnce()).toBeUndefined();
    mapping.start();
    for (let i = 0; i < 50; i++) await tick();
    expect(events).toHaveLength(0);
    expect(queue.stats()).toMatchObject({ visible: 1, inFlight: 0 });
    mapping.enable();
    await until(() => events.length === 1);
    await mapping.stop();
    expect(queue.stats()).toMatchObject({ visible: 0, deleted: 1 });
  });

  it('lets a running batch finish and applies its result after the mapping is disabled', async () => {
    const release = gate();
    let started = false;
    const { queue, mapping } = setup({
      handler: async () => {
        started = true;
        await release.opened;
      },
    });
    queue.send({ body: 'a' });
    mapping.start();
    await until(() => started);
    mapping.disable();
    queue.send({ body: 'b' });
    release.open();
    await mapping.stop();
    expect(queue.stats()).toMatchObject({ visible: 1, inFlight: 0, deleted: 1 });
  });

  it('waits up to the batching window to fill the batch', async () => {
    const { clock, queue, mapping, events } = setup({ batchSize: 3, maximumBatchingWindowSeconds: 5 });
    const start = clock.now();
    queue.send({ body: 'a' });
    queue.send({ body: 'b', delaySeconds: 1 });
    queue.send({ body: 'c', delaySeconds: 2 });
    queue.send({ body: 'd', delaySeconds: 3 });
    expect((await mapping.pollOnce())?.records).toBe(3);
    expect(bodies(events[0])).toEqual(['a', 'b', 'c']);
    expect(clock.now() - start).toBe(2000); // stopped as soon as the batch was full
  });

  it('invokes with what it has once the batching window has passed', async () => {
    const { clock, queue, mapping, events } = setup({ batchSize: 10, maximumBatchingWindowSeconds: 5 });
    const start = clock.now();
    queue.send({ body: 'a' });
    queue.send({ body: 'late', delaySeconds: 60 });
    await mapping.pollOnce();
    expect(bodies(events[0])).toEqual(['a']);
    expect(clock.now() - start).toBe(5000);
  });

  it('does not wait without a batching window', async () => {
    const { clock, queue, mapping, events } = setup({ batchSize: 3 });
    const start = clock.now();
    queue.send({ body: 'a' });
    queue.send({ body: 'b', delaySeconds: 1 });
    await mapping.pollOnce();
    expect(bodies(events[0])).toEqual(['a']);
    expect(clock.now()).toBe(start);
  });

  it('rejects settings outside Lambda limits, all at once', () => {
    const clock = virtualClock();
    const queue = new LocalQueue({ name: 'q', clock });
    expect(
      () => new LocalEventSourceMapping({ queue, clock, handler: async () => undefined, batchSize: 11, maximumConcurrency: 1 }),
    ).toThrow(/batchSize.*maximumConcurrency/);
  });
});
