import { describe, expect, it } from 'vitest';
import { DependencyError } from '../../functions/runtime/errors.js';
import {
  InvalidParameterValueError,
  LocalDeadLetterQueue,
  LocalMessageParker,
  LocalQueue,
  type LocalQueueSettings,
  MessageNotInflightError,
  ReceiptHandleIsInvalidError,
} from '../../local/local-queue.js';

function virtualClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (seconds: number) => void (t += seconds * 1000) };
}

function setup(settings: Partial<LocalQueueSettings> = {}) {
  const clock = virtualClock();
  const queue = new LocalQueue({ name: 'alpha', visibilityTimeoutSeconds: 30, clock, ...settings });
  return { clock, queue };
}

describe('LocalQueue', () => {
  it('hides a received message for the visibility timeout, then re-delivers it with receive count + 1', () => {
    const { clock, queue } = setup();
    const id = queue.send({ body: 'a', attributes: { correlationId: 'c-1' } });
    const [first] = queue.receive(10);
    expect(first).toMatchObject({ messageId: id, body: 'a', receiveCount: 1, attributes: { correlationId: 'c-1' } });
    expect(queue.stats()).toMatchObject({ visible: 0, inFlight: 1 });

    clock.advance(29);
    expect(queue.receive(10)).toEqual([]);
    clock.advance(1);
    const [second] = queue.receive(10);
    expect(second).toMatchObject({ messageId: id, receiveCount: 2 });
    expect(second!.receiptHandle).not.toBe(first!.receiptHandle);
    expect(second!.firstReceiveTimestamp).toBe(first!.firstReceiveTimestamp);
  });

  it('returns at most the requested number of messages, in the order they became available', () => {
    const { queue } = setup();
    for (const body of ['1', '2', '3']) queue.send({ body });
    expect(queue.receive(2).map((m) => m.body)).toEqual(['1', '2']);
    expect(queue.receive(2).map((m) => m.body)).toEqual(['3']);
    expect(() => queue.receive(0)).toThrow(InvalidParameterValueError);
    expect(() => queue.receive(11)).toThrow(InvalidParameterValueError);
  });

  it('deletes a message by its receipt handle, and a second delete reports nothing deleted', () => {
    const { clock, queue } = setup();
    queue.send({ body: 'a' });
    const [message] = queue.receive();
    expect(queue.delete(message!.receiptHandle)).toBe(true);
    expect(queue.delete(message!.receiptHandle)).toBe(false);
    clock.advance(60);
    expect(queue.receive(10)).toEqual([]);
    expect(queue.stats()).toMatchObject({ visible: 0, inFlight: 0, deleted: 1 });
  });

  it('still deletes with the current handle after the visibility expired, as long as nobody re-received it', () => {
    const { clock, queue } = setup();
    queue.send({ body: 'a' });
    const [message] = queue.receive();
    clock.advance(31);
    expect(queue.delete(message!.receiptHandle)).toBe(true);
    expect(queue.stats().visible).toBe(0);
  });

  it('extends the visibility from now with changeVisibility', () => {
    const { clock, queue } = setup();
    queue.send({ body: 'a' });
    const [message] = queue.receive();
    clock.advance(20);
    queue.changeVisibility(message!.receiptHandle, 120);
    clock.advance(119);
    expect(queue.receive()).toEqual([]);
    clock.advance(1);
    expect(queue.receive()).toHaveLength(1);
  });

  it('releases a message at once with changeVisibility 0', () => {
    const { queue } = setup();
    queue.send({ body: 'a' });
    const [message] = queue.receive();
    queue.changeVisibility(message!.receiptHandle, 0);
    expect(queue.receive()[0]).toMatchObject({ body: 'a', receiveCount: 2 });
  });

  it('rejects a visibility that would keep the message in flight past 12 hours from its receive', () => {
    const { clock, queue } = setup();
    queue.send({ body: 'a' });
    const [message] = queue.receive();
    clock.advance(20);
    expect(() => queue.changeVisibility(message!.receiptHandle, 43_200)).toThrow(InvalidParameterValueError);
    queue.changeVisibility(message!.receiptHandle, 43_180);
    expect(() => queue.changeVisibility(message!.receiptHandle, 43_201)).toThrow(InvalidParameterValueError);
  });

  it('rejects stale and unknown receipt handles like SQS (MessageNotInflight / ReceiptHandleIsInvalid)', () => {
    const { clock, queue } = setup();
    queue.send({ body: 'a' });
    const [first] = queue.receive();
    clock.advance(30);
    // Visibility expired: not in flight any more.
    expect(() => queue.changeVisibility(first!.receiptHandle, 10)).toThrow(MessageNotInflightError);
    const [second] = queue.receive();
    // Re-received: the first handle is stale.
    expect(() => queue.changeVisibility(first!.receiptHandle, 10)).toThrow(MessageNotInflightError);
    expect(queue.delete(first!.receiptHandle)).toBe(false);
    expect(queue.stats().inFlight).toBe(1);
    expect(() => queue.changeVisibility('made-up', 10)).toThrow(ReceiptHandleIsInvalidError);
    expect(() => queue.delete('made-up')).toThrow(ReceiptHandleIsInvalidError);
    expect(queue.delete(second!.receiptHandle)).toBe(true);
    expect(() => queue.changeVisibility(second!.receiptHandle, 10)).toThrow(MessageNotInflightError);
  });

  it('moves a message to the DLQ on the receive after maxReceiveCount receives, keeping its id and attributes', () => {
    const clock = virtualClock();
    const dlq = new LocalQueue({ name: 'alpha-dlq', clock });
    const queue = new LocalQueue({ name: 'alpha', visibilityTimeoutSeconds: 30, maxReceiveCount: 2, deadLetterQueue: dlq, clock });
    const id = queue.send({ body: 'poison', attributes: { correlationId: 'c-9' } });
    expect(queue.receive()[0]!.receiveCount).toBe(1);
    clock.advance(30);
    expect(queue.receive()[0]!.receiveCount).toBe(2);
    clock.advance(30);
    expect(queue.receive()).toEqual([]);
    expect(queue.stats()).toMatchObject({ visible: 0, inFlight: 0, movedToDlq: 1 });
    const [dead] = dlq.receive();
    expect(dead).toMatchObject({ messageId: id, body: 'poison', attributes: { correlationId: 'c-9' }, receiveCount: 1 });
  });

  it('fills the receive with the next messages when one is moved to the DLQ', () => {
    const clock = virtualClock();
    const dlq = new LocalQueue({ name: 'alpha-dlq', clock });
    const queue = new LocalQueue({ name: 'alpha', maxReceiveCount: 1, deadLetterQueue: dlq, clock });
    queue.send({ body: 'old' });
    queue.receive();
    clock.advance(30);
    queue.send({ body: 'new' });
    expect(queue.receive(10).map((m) => m.body)).toEqual(['new']);
    expect(dlq.stats().visible).toBe(1);
  });

  it('delays delivery by the queue delay', () => {
    const { clock, queue } = setup({ delaySeconds: 60 });
    queue.send({ body: 'a' });
    expect(queue.receive()).toEqual([]);
    expect(queue.stats()).toMatchObject({ visible: 0, inFlight: 0, delayed: 1 });
    clock.advance(60);
    expect(queue.receive()).toHaveLength(1);
  });

  it('lets a per-message delay override the queue delay', () => {
    const { clock, queue } = setup({ delaySeconds: 60 });
    queue.send({ body: 'now', delaySeconds: 0 });
    queue.send({ body: 'later', delaySeconds: 5 });
    expect(queue.receive(10).map((m) => m.body)).toEqual(['now']);
    clock.advance(5);
    expect(queue.receive(10).map((m) => m.body)).toEqual(['later']);
    expect(() => queue.send({ body: 'x', delaySeconds: 901 })).toThrow(InvalidParameterValueError);
  });

  it('drops messages older than the retention period, in flight or not, and counts them as expired', () => {
    const { clock, queue } = setup({ messageRetentionSeconds: 60 });
    queue.send({ body: 'visible' });
    queue.send({ body: 'in flight' });
    queue.receive(1);
    queue.receive(1);
    clock.advance(30);
    queue.send({ body: 'young' });
    clock.advance(30);
    expect(queue.stats()).toMatchObject({ visible: 1, inFlight: 0, expired: 2 });
    expect(queue.receive(10).map((m) => m.body)).toEqual(['young']);
  });

  it('reports the age of the oldest visible or in-flight message', () => {
    const { clock, queue } = setup();
    expect(queue.stats().ageOfOldestMessageSeconds).toBe(0);
    queue.send({ body: 'a' });
    clock.advance(10);
    queue.send({ body: 'b' });
    queue.receive(1);
    clock.advance(5);
    expect(queue.stats()).toMatchObject({ visible: 1, inFlight: 1, ageOfOldestMessageSeconds: 15 });
  });

  it('reports every invalid setting at once', () => {
    expect(() => new LocalQueue({ name: 'q', visibilityTimeoutSeconds: -1, delaySeconds: 901, maxReceiveCount: 3 })).toThrow(
      /visibilityTimeoutSeconds.*delaySeconds.*deadLetterQueue/,
    );
  });
});

describe('LocalMessageParker', () => {
  it('parks a message by changing its visibility on the queue of its event source ARN', async () => {
    const { clock, queue } = setup();
    queue.send({ body: 'a' });
    const [message] = queue.receive();
    await new LocalMessageParker([queue]).park({ ...message!, eventSourceArn: queue.arn }, 90.2);
    clock.advance(90);
    expect(queue.receive()).toEqual([]);
    clock.advance(1);
    expect(queue.receive()).toHaveLength(1);
  });

  it('translates a stale receipt handle into a DependencyError', async () => {
    const { queue } = setup();
    queue.send({ body: 'a' });
    const [message] = queue.receive();
    queue.delete(message!.receiptHandle);
    await expect(new LocalMessageParker(queue).park({ ...message!, eventSourceArn: queue.arn }, 10)).rejects.toBeInstanceOf(
      DependencyError,
    );
  });
});

describe('LocalDeadLetterQueue', () => {
  it('sends the message with the reason and the original attributes as message attributes', async () => {
    const { clock, queue: dlq } = setup({ name: 'alpha-dlq' });
    await new LocalDeadLetterQueue(dlq, 'alpha').send(
      { messageId: 'm-1', receiptHandle: 'rh', eventSourceArn: 'arn', body: '{}', attributes: { tenant: 't-1', errorClass: 'spoof' } },
      { errorClass: 'PoisonMessage', errorMessage: 'bad schema', correlationId: 'c-1' },
    );
    const [dead] = dlq.receive();
    expect(dead).toMatchObject({
      body: '{}',
      attributes: {
        errorClass: 'PoisonMessage',
        errorMessage: 'bad schema',
        correlationId: 'c-1',
        sourceMessageId: 'm-1',
        integration: 'alpha',
        failedAt: new Date(clock.now()).toISOString(),
        tenant: 't-1',
      },
    });
  });
});
