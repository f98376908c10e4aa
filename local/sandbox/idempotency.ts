/**
 * Stripe-like Idempotency-Key handling. Keys are scoped per provider (an account, not a credential: a retry after
 * a credential rotation still replays). The request is fingerprinted by method, path and canonical JSON body, so
 * key order and whitespace do not matter but any value change does.
 *
 * - new key: the key is held "in progress" while the request executes, then the response is saved (unless the
 *   route says the request never started executing, e.g. a validation failure);
 * - same key, same fingerprint, saved: the saved status + body are replayed byte for byte, no side effect;
 * - same key, different fingerprint: 422 `idempotency_key_reused` (even while in progress);
 * - same key, same fingerprint, in progress: 409 `idempotency_in_progress`.
 * Saved responses expire after `ttlMs` on the sandbox clock (24 h, like Stripe).
 */

/** A response as saved for replay. */
export interface StoredResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** What to do with a request carrying an Idempotency-Key. */
export type IdempotencyCheck =
  | { readonly outcome: 'execute' }
  | { readonly outcome: 'replay'; readonly response: StoredResponse }
  | { readonly outcome: 'reused' }
  | { readonly outcome: 'in_progress' };

interface KeyRecord {
  readonly fingerprint: string;
  response: StoredResponse | null;
  expiresAt: number;
}

/** Maximum Idempotency-Key length (Stripe's). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** Idempotency records of all providers. */
export class IdempotencyStore {
  private readonly records = new Map<string, KeyRecord>();

  /** `ttlMs`: how long a saved response is replayed. */
  constructor(private readonly ttlMs = 24 * 60 * 60 * 1000) {}

  /** Checks a key; on `execute` the key is now held in progress until {@link complete} or {@link release}. */
  begin(scope: string, key: string, fingerprint: string, nowMs: number): IdempotencyCheck {
    const id = recordId(scope, key);
    const existing = this.records.get(id);
    if (existing && existing.response !== null && existing.expiresAt <= nowMs) this.records.delete(id);
    const record = this.records.get(id);
    if (!record) {
      this.records.set(id, { fingerprint, response: null, expiresAt: Number.POSITIVE_INFINITY });
      return { outcome: 'execute' };
    }
    if (record.fingerprint !== fingerprint) return { outcome: 'reused' };
    if (record.response === null) return { outcome: 'in_progress' };
    return { outcome: 'replay', response: record.response };
  }

  /** Saves the response of an executed request for replay. */
  complete(scope: string, key: string, response: StoredResponse, nowMs: number): void {
    const record = this.records.get(recordId(scope, key));
    if (record) {
      record.response = response;
      record.expiresAt = nowMs + this.ttlMs;
    }
  }

  /** Frees a key whose request must not be replayed (never executed, or crashed). */
  release(scope: string, key: string): void {
    const id = recordId(scope, key);
    if (this.records.get(id)?.response === null) this.records.delete(id);
  }

  /** Forgets the records of one scope, or all. */
  clear(scope?: string): void {
    if (scope === undefined) {
      this.records.clear();
      return;
    }
    for (const id of [...this.records.keys()]) if (id.startsWith(`${scope}\u0000`)) this.records.delete(id);
  }
}

/** Method + path + canonical JSON (sorted keys) of the body; identical for semantically identical requests. */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  return `${method} ${path} ${canonicalJson(body)}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function recordId(scope: string, key: string): string {
  return `${scope}\u0000${key}`;
}
