/**
 * The outage benchmark drives the sandbox through its control plane (`/_sandbox/*`, never faulted, not journaled),
 * so it works the same whether the sandbox runs in a child process (the benchmark) or in the test's process.
 */
import type { JournalEntry, SideEffect } from '../../local/sandbox/index.js';
import type { DownPhase } from './outage-shapes.js';

/** The control-plane calls the outage benchmark needs. */
export class SandboxControlClient {
  constructor(
    /** The sandbox's base URL (`http://127.0.0.1:<port>`). */
    readonly baseUrl: string,
  ) {}

  /** The payments provider's base URL. */
  get paymentsUrl(): string {
    return `${this.baseUrl}/payments`;
  }

  /** Resources, idempotency records, journal, side effects and faults cleared; credentials kept. */
  async reset(): Promise<void> {
    await this.call('POST', '/reset');
  }

  /** The payments secret key (a bearer token). */
  async paymentsSecretKey(): Promise<string> {
    const answer = (await this.call('GET', '/credentials/payments')) as { credentials: { secretKey: string } };
    return answer.credentials.secretKey;
  }

  /** Every payments request (health included) answers 503 from `fromMs` (inclusive) to `toMs` (exclusive), epoch ms. */
  async schedulePaymentsOutage(fromMs: number, toMs: number): Promise<void> {
    await this.call('POST', '/faults', { provider: 'payments', faults: { outage: { fromMs, toMs, clock: 'epoch' } } });
  }

  /** The payments API is down in each phase (epoch ms): 503 to everything, or no answer at all (`hang`). */
  async schedulePaymentsDownPhases(phases: readonly DownPhase[]): Promise<void> {
    const outage = phases.map((phase) => ({ fromMs: phase.fromMs, toMs: phase.toMs, clock: 'epoch', mode: phase.mode }));
    await this.call('POST', '/faults', { provider: 'payments', faults: { outage } });
  }

  /** Every journaled payments request, in arrival order. */
  async paymentsJournal(): Promise<JournalEntry[]> {
    return ((await this.call('GET', '/journal?provider=payments')) as { entries: JournalEntry[] }).entries;
  }

  /** Every payments side effect (charges), in order. */
  async paymentsSideEffects(): Promise<SideEffect[]> {
    return ((await this.call('GET', '/side-effects?provider=payments')) as { sideEffects: SideEffect[] }).sideEffects;
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${this.baseUrl}/_sandbox${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`sandbox control ${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as unknown;
  }
}
