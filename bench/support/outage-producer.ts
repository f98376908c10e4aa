/**
 * The steady producer: message i is sent at start + i / rate (catching up after a late timer rather than drifting),
 * each a valid charge with its own business key, the key also as the `correlationId` attribute.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LocalQueue } from '../../local/local-queue.js';
import type { ProducedMessage } from './outage-accounting.js';
import { chargeEvent } from './outage-messages.js';

export class SteadyProducer {
  readonly sent: ProducedMessage[] = [];
  #stopped = false;
  #loop?: Promise<void>;

  constructor(
    private readonly queue: LocalQueue,
    private readonly runId: string,
    private readonly eventsPerSecond: number,
  ) {}

  start(): void {
    if (this.#loop) return;
    const intervalMs = 1000 / this.eventsPerSecond;
    const startedAt = Date.now();
    this.#loop = (async () => {
      while (!this.#stopped) {
        while (startedAt + this.sent.length * intervalMs <= Date.now()) this.#sendNext();
        await sleep(Math.max(1, startedAt + this.sent.length * intervalMs - Date.now()));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  #sendNext(): void {
    const event = chargeEvent(this.runId, this.sent.length);
    const messageId = this.queue.send({ body: JSON.stringify(event), attributes: { correlationId: event.paymentId } });
    this.sent.push({ messageId, key: event.paymentId, sentAt: Date.now() });
  }
}
