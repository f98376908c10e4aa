/**
 * The request journal: one entry per request to a provider (control-plane `/_sandbox/*` requests are not
 * journaled). Entries never hold credentials: no header values, no bodies, no query strings; only the auth
 * scheme, the Idempotency-Key and the correlation id.
 */
import type { FaultKind } from './faults.js';

/** One request as the sandbox saw it. */
export interface JournalEntry {
  /** Arrival order, from 1. */
  readonly seq: number;
  /** Provider name, or null when the path matched no provider. */
  readonly provider: string | null;
  /** HTTP method. */
  readonly method: string;
  /** Path below the provider prefix, without query string (`/files`). */
  readonly path: string;
  /** Matched route pattern (`/files/:id`), or null when no route matched. */
  readonly route: string | null;
  /** Status sent, or null when no response was sent (reset, hang, client gone, sandbox closed). */
  readonly status: number | null;
  /** Idempotency-Key header. */
  readonly idempotencyKey: string | null;
  /** X-Correlation-Id header. */
  readonly correlationId: string | null;
  /** Scheme of the Authorization header (`Bearer`, `Basic`; `other` for anything unrecognised; `ApiKey` for an X-Api-Key header); never its value. */
  readonly authScheme: string | null;
  /** True when the request changed provider state. */
  readonly sideEffect: boolean;
  /** The resource created (or changed), if any. */
  readonly created: { readonly type: string; readonly id: string } | null;
  /** True when the response was a replay of a stored idempotent response. */
  readonly replayed: boolean;
  /** The fault that changed the outcome, if any. */
  readonly fault: FaultKind | null;
  /** Latency injected before the answer, ms. */
  readonly injectedLatencyMs: number;
  /** True when the client went away before a response was written. */
  readonly clientAborted: boolean;
  /** Arrival time on the sandbox clock, epoch ms. */
  readonly at: number;
  /** Wall-clock time from arrival to response (or to the socket closing), ms. */
  readonly durationMs: number;
}

/** A resource a provider created or changed (one per side effect). */
export interface SideEffect<TProvider extends string = string> {
  readonly provider: TProvider;
  /** Resource type (`file`, `charge`, `refund`, `reservation`, `release`, `shipment`, `cancellation`, `message`, `contact_batch`; `resource` for generic providers). */
  readonly type: string;
  /** Provider id of the resource. */
  readonly id: string;
  readonly idempotencyKey: string | null;
  readonly correlationId: string | null;
  /** Sandbox clock, epoch ms. */
  readonly at: number;
}

/** Which entries to select; every given field must match. */
export interface JournalFilter {
  readonly provider?: string | null;
  readonly method?: string;
  readonly path?: string;
  readonly route?: string;
  readonly status?: number | null;
  readonly idempotencyKey?: string;
  readonly correlationId?: string;
  readonly sideEffect?: boolean;
  readonly replayed?: boolean;
  readonly fault?: FaultKind | null;
}

/** The read side of the journal, as tests use it. */
export interface JournalView {
  /** Entries matching the filter, in arrival order. */
  entries(filter?: JournalFilter): readonly JournalEntry[];
  /** Number of entries matching the filter. */
  count(filter?: JournalFilter): number;
  /** Calls per `provider` then per path, e.g. `{ crm: { '/oauth/token': 1, '/files': 3 } }`. */
  countsByPath(): Record<string, Record<string, number>>;
  /** Forgets every entry (provider state is untouched). */
  clear(): void;
}

/** In-memory journal. */
export class RequestJournal implements JournalView {
  private readonly list: JournalEntry[] = [];
  private nextSeq = 1;

  /** Keeps at most `capacity` entries (the oldest are dropped), so long benchmark runs stay bounded. */
  constructor(private readonly capacity = 100_000) {}

  /** Reserves the sequence number of a request as it arrives. */
  reserveSeq(): number {
    return this.nextSeq++;
  }

  /** Appends a finished request. */
  record(entry: JournalEntry): void {
    const frozen = Object.freeze({ ...entry, created: entry.created ? Object.freeze({ ...entry.created }) : null });
    // Entries finish out of arrival order under concurrency; insert so the list stays in arrival order.
    let index = this.list.length;
    while (index > 0 && (this.list[index - 1]?.seq ?? 0) > frozen.seq) index--;
    this.list.splice(index, 0, frozen);
    if (this.list.length > this.capacity) this.list.splice(0, this.list.length - this.capacity);
  }

  entries(filter: JournalFilter = {}): readonly JournalEntry[] {
    return this.list.filter((entry) => matches(entry, filter));
  }

  count(filter: JournalFilter = {}): number {
    return this.entries(filter).length;
  }

  countsByPath(): Record<string, Record<string, number>> {
    const counts: Record<string, Record<string, number>> = {};
    for (const entry of this.list) {
      const provider = entry.provider ?? '(none)';
      const perPath = (counts[provider] ??= {});
      perPath[entry.path] = (perPath[entry.path] ?? 0) + 1;
    }
    return counts;
  }

  clear(): void {
    this.list.length = 0;
  }
}

function matches(entry: JournalEntry, filter: JournalFilter): boolean {
  return (Object.keys(filter) as (keyof JournalFilter)[]).every((key) => filter[key] === undefined || entry[key] === filter[key]);
}
