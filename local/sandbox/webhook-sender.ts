/**
 * The sandbox providers' side of inbound webhooks (docs/webhooks.md): a sender that delivers events to a hub webhook
 * endpoint (`http://127.0.0.1:<port>/webhooks/<integration>`) the way a real provider does, so tests and the local
 * hub's demo can drive the endpoint's real logic (functions/webhooks/webhook-ingress.ts) end to end.
 *
 * One `send` is one delivery: the event's body is built once and keeps its id on every attempt (the hub's
 * deduplication key; functions/webhooks/webhook-scheme.ts `VerifiedWebhook.id`); each attempt is signed afresh, with
 * the time of that attempt, as real providers re-sign their retries:
 *   - `standard-webhooks` (standard-webhooks-scheme.ts): body `{ type, timestamp, data }`, headers `webhook-id`
 *     (`msg_<random>`), `webhook-timestamp`, `webhook-signature` made by the `standardwebhooks` library's
 *     `Webhook.sign`;
 *   - `timestamped-hmac` (timestamped-hmac-scheme.ts): body `{ id: 'evt_<random>', type, created, data }`, the
 *     declared header `t=…,v1=…` made by `timestampedHmacSignature`.
 * An answer 5xx, 409, 429 or no answer at all (a network error or the per-attempt timeout) is retried after an
 * exponential delay with jitter; 2xx ends the delivery (`accepted`, or `duplicate` when the hub says it saw the id
 * before); any other 4xx ends it as `refused`; `maxAttempts` answers that all asked for a retry end it as `gave_up`.
 *
 * Misbehaviour on request, to prove the endpoint refuses it: `tamper` changes the body after signing (401
 * `bad_signature`), `lateBySeconds` signs with an old timestamp (401 `timestamp_out_of_tolerance` past the hub's
 * tolerance), `duplicate` sends the very same request (same id, headers and body) once more after a 2xx (a replay:
 * the hub answers `duplicate` and forwards nothing).
 *
 * Deterministic under a seed: ids come from one seeded stream (local/sandbox/random.ts) drawn when `send` is called,
 * and each delivery's jitter from its own stream derived from its id, so concurrent sends do not shift each other.
 * The clock and the sleep are injectable, so tests never wait on wall time. The sender logs nothing, and neither
 * the signing secret nor any signature is kept in what {@link WebhookSender.deliveries} returns.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { timestampedHmacSignature } from '../../functions/webhooks/timestamped-hmac-scheme.js';
import { type WebhookSchemeDeclaration, webhookSchemeProblems } from '../../functions/webhooks/webhook-declaration.js';
import { SeededRandom } from './random.js';

/** Options of {@link createWebhookSender}. */
export interface WebhookSenderOptions {
  /** The endpoint, e.g. `http://127.0.0.1:<port>/webhooks/crm`. */
  readonly url: string;
  /** How the provider signs (the catalog entry's `webhooks` declaration, or the function's `WEBHOOK_SCHEME`). */
  readonly scheme: WebhookSchemeDeclaration;
  /** The key the hub checks with: a `whsec_<base64>` secret for `standard-webhooks` ({@link newSigningSecret}). */
  readonly signingSecret: string;
  /** Seed of the delivery ids and the retry jitter. @default 1 */
  readonly seed?: number;
  /** The provider's clock, epoch ms: signature timestamps and the bodies' event times. @default Date.now */
  readonly now?: () => number;
  /** Waits between attempts. @default a setTimeout-based delay */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Attempts per delivery, the first included (a `duplicate` replay gets its own). @default 5 */
  readonly maxAttempts?: number;
  /** Delay before the first retry; doubled on each further one, jittered to between half and all of it. @default 200 */
  readonly baseDelayMs?: number;
  /** Upper bound of a retry delay (before jitter). @default 30000 */
  readonly maxDelayMs?: number;
  /** An attempt without an answer within this is a network error. @default 10000 */
  readonly timeoutMs?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** An event to deliver: its type (the forwarded event's detail-type) and its data. */
export interface WebhookEvent {
  readonly type: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** Misbehaviour of one delivery; see the file comment. */
export interface WebhookSendOptions {
  /** Change the body after signing: the hub must answer 401 `bad_signature`. */
  readonly tamper?: boolean;
  /** Sign with a timestamp this many seconds in the past (every attempt; the body's event time too). */
  readonly lateBySeconds?: number;
  /** After the first 2xx, send the very same request once more (a replay). */
  readonly duplicate?: boolean;
}

/** How a delivery ended (`pending` while it is in progress). */
export type WebhookDeliveryOutcome = 'accepted' | 'duplicate' | 'refused' | 'gave_up';

/** The outcomes, in report order. */
export const WEBHOOK_DELIVERY_OUTCOMES: readonly WebhookDeliveryOutcome[] = ['accepted', 'duplicate', 'refused', 'gave_up'];

/** One HTTP request of a delivery. */
export interface WebhookAttempt {
  /** 1-based, over the whole delivery (a replay's attempts continue the count). */
  readonly attempt: number;
  /** True for the `duplicate` option's replay of the accepted request. */
  readonly replay: boolean;
  /** The signature's timestamp, Unix seconds. */
  readonly signedAt: number;
  /** How long the sender waited before this attempt, ms (0 for the first). */
  readonly delayMs: number;
  /** The HTTP status, or `network_error` when no answer came (refused connection, reset, timeout). */
  readonly status: number | 'network_error';
  /** The answer's `status` (`accepted`, `duplicate`) or `error` (`bad_signature`, `unavailable`, …) when it was JSON. */
  readonly answer?: string;
}

/** One `send`, as {@link WebhookSender.deliveries} reports it. */
export interface WebhookDelivery {
  /** Order of the `send` calls, from 1. */
  readonly seq: number;
  /** The delivery id (`msg_…` or `evt_…`), the same on every attempt. */
  readonly id: string;
  readonly type: string;
  /** The options used (defaults filled in). */
  readonly options: Required<WebhookSendOptions>;
  readonly attempts: readonly WebhookAttempt[];
  /** With `duplicate`, the answer to the replay (`duplicate` when the hub deduplicated it). */
  readonly outcome: WebhookDeliveryOutcome | 'pending';
  /** The last attempt's status. */
  readonly status?: number | 'network_error';
  /** The `error` field of the last answer, when it had one (the refusal's reason for `refused`). */
  readonly error?: string;
}

/** Counts over every delivery so far. */
export interface WebhookSenderSummary {
  readonly total: number;
  readonly pending: number;
  readonly byOutcome: Readonly<Record<WebhookDeliveryOutcome, number>>;
  /** Refused deliveries by the answer's `error` (`http_<status>` when it had none). */
  readonly refusedBy: Readonly<Record<string, number>>;
}

/** A provider sending webhooks to one endpoint; see the file comment. */
export interface WebhookSender {
  /** The endpoint. */
  readonly url: string;
  /** The scheme's name. */
  readonly scheme: WebhookSchemeDeclaration['scheme'];
  /** Delivers `event` (retrying as configured); resolves with the finished delivery, never rejects for an answer. */
  send(event: WebhookEvent, options?: WebhookSendOptions): Promise<WebhookDelivery>;
  /** Every delivery so far, in `send` order (copies). */
  deliveries(): WebhookDelivery[];
  summary(): WebhookSenderSummary;
  /** Resolves when every `send` in progress (including ones started while waiting) has finished. */
  drain(): Promise<void>;
}

/** Thrown by {@link createWebhookSender} for unusable options; the message never contains the secret. */
export class WebhookSenderConfigError extends Error {
  override readonly name = 'WebhookSenderConfigError';
}

/** Statuses a provider retries (besides no answer at all); the hub's 409 is "being processed, retry later". */
function isRetryable(status: number): boolean {
  return status >= 500 || status === 409 || status === 429;
}

/**
 * A valid signing secret for `scheme`: `whsec_<base64 of 32 bytes>` (usable by both schemes; Standard Webhooks
 * requires the form). From `random` when given (deterministic), else from node:crypto.
 */
export function newSigningSecret(scheme: WebhookSchemeDeclaration | WebhookSchemeDeclaration['scheme'], random?: SeededRandom): string {
  const name = typeof scheme === 'string' ? scheme : scheme.scheme;
  if (name !== 'standard-webhooks' && name !== 'timestamped-hmac') throw new WebhookSenderConfigError(`unknown webhook scheme ${JSON.stringify(name)}`);
  const bytes = random ? Buffer.from(Array.from({ length: 32 }, () => random.int(256))) : randomBytes(32);
  return `whsec_${bytes.toString('base64')}`;
}

/** A request as sent: kept privately (it holds a signature) for the `duplicate` replay. */
interface SignedRequest {
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly signedAt: number;
}

interface MutableDelivery {
  seq: number;
  id: string;
  type: string;
  options: Required<WebhookSendOptions>;
  attempts: WebhookAttempt[];
  outcome: WebhookDeliveryOutcome | 'pending';
  status?: number | 'network_error';
  error?: string;
}

/** What an attempt got back. */
interface Answer {
  readonly status: number | 'network_error';
  readonly answer?: string;
  readonly error?: string;
}

/** Creates a sender; throws a {@link WebhookSenderConfigError} listing every problem of the options. */
export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const problems = senderOptionProblems(options);
  if (problems.length > 0) throw new WebhookSenderConfigError(`webhook sender: ${problems.join('; ')}`);
  const scheme = options.scheme;
  const secret = options.signingSecret;
  const seed = options.seed ?? 1;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const maxAttempts = options.maxAttempts ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 200;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const doFetch = options.fetch ?? globalThis.fetch;
  const signer = scheme.scheme === 'standard-webhooks' ? new Webhook(secret) : undefined;
  const signatureHeader = scheme.scheme === 'timestamped-hmac' ? scheme.header.toLowerCase() : undefined;
  const ids = new SeededRandom(seed, 'webhook-sender:ids');
  const all: MutableDelivery[] = [];
  const inFlight = new Set<Promise<unknown>>();

  /** The body as the scheme's providers send it; built once per delivery, identical on every attempt. */
  function bodyOf(id: string, event: WebhookEvent, eventTimeMs: number): Record<string, unknown> {
    return scheme.scheme === 'standard-webhooks'
      ? { type: event.type, timestamp: new Date(eventTimeMs).toISOString(), data: event.data }
      : { id, type: event.type, created: Math.floor(eventTimeMs / 1000), data: event.data };
  }

  /** Signs `payload` now (minus `lateBySeconds`); with `tamper`, the body sent is changed after signing. */
  function sign(id: string, payload: Record<string, unknown>, sendOptions: Required<WebhookSendOptions>): SignedRequest {
    const body = JSON.stringify(payload);
    const signedAtMs = now() - sendOptions.lateBySeconds * 1000;
    const signedAt = Math.floor(signedAtMs / 1000);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'integration-hub-sandbox-webhooks/1' };
    if (signer) {
      headers['webhook-id'] = id;
      headers['webhook-timestamp'] = String(signedAt);
      headers['webhook-signature'] = signer.sign(id, new Date(signedAtMs), body);
    } else {
      headers[signatureHeader!] = timestampedHmacSignature(body, secret, new Date(signedAtMs));
    }
    const sent = sendOptions.tamper ? JSON.stringify({ ...payload, data: { ...(payload.data as Record<string, unknown>), tampered: true } }) : body;
    return { headers, body: sent, signedAt };
  }

  async function post(request: SignedRequest): Promise<Answer> {
    let response: Response;
    let text: string;
    try {
      response = await doFetch(options.url, { method: 'POST', headers: request.headers, body: request.body, signal: AbortSignal.timeout(timeoutMs) });
      text = await response.text();
    } catch {
      // Refused connection, reset, timeout: the provider does not know whether the hub got it, so it retries.
      return { status: 'network_error' };
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const fields = json !== null && typeof json === 'object' ? (json as Record<string, unknown>) : {};
    const error = typeof fields.error === 'string' ? fields.error : undefined;
    const answer = typeof fields.status === 'string' ? fields.status : error;
    return { status: response.status, ...(answer !== undefined ? { answer } : {}), ...(error !== undefined ? { error } : {}) };
  }

  /** Attempts until an answer ends it; `requestFor` makes each attempt's request. Returns the last request sent. */
  async function attempt(delivery: MutableDelivery, jitter: SeededRandom, replay: boolean, requestFor: () => SignedRequest): Promise<SignedRequest> {
    let request!: SignedRequest;
    for (let n = 1; n <= maxAttempts; n++) {
      let delayMs = 0;
      if (n > 1) {
        const exponential = Math.min(maxDelayMs, baseDelayMs * 2 ** (n - 2));
        delayMs = Math.round(exponential / 2 + (jitter.float() * exponential) / 2);
        await sleep(delayMs);
      }
      request = requestFor();
      const answer = await post(request);
      delivery.attempts.push(
        Object.freeze({ attempt: delivery.attempts.length + 1, replay, signedAt: request.signedAt, delayMs, status: answer.status, ...(answer.answer !== undefined ? { answer: answer.answer } : {}) }),
      );
      delivery.status = answer.status;
      delivery.error = answer.error;
      if (answer.status === 'network_error' || isRetryable(answer.status)) {
        if (n === maxAttempts) delivery.outcome = 'gave_up';
        continue;
      }
      if (answer.status >= 200 && answer.status < 300) delivery.outcome = answer.answer === 'duplicate' ? 'duplicate' : 'accepted';
      else delivery.outcome = 'refused';
      return request;
    }
    return request;
  }

  async function deliver(delivery: MutableDelivery, event: WebhookEvent): Promise<void> {
    const eventTimeMs = now() - delivery.options.lateBySeconds * 1000;
    const payload = bodyOf(delivery.id, event, eventTimeMs);
    const jitter = new SeededRandom(seed, `webhook-sender:jitter:${delivery.id}`);
    const last = await attempt(delivery, jitter, false, () => sign(delivery.id, payload, delivery.options));
    if (delivery.options.duplicate && (delivery.outcome === 'accepted' || delivery.outcome === 'duplicate')) {
      delivery.outcome = 'pending';
      await attempt(delivery, jitter, true, () => last);
    }
  }

  return {
    url: options.url,
    scheme: scheme.scheme,

    send(event: WebhookEvent, sendOptions: WebhookSendOptions = {}): Promise<WebhookDelivery> {
      const lateBySeconds = sendOptions.lateBySeconds ?? 0;
      if (!(Number.isFinite(lateBySeconds) && lateBySeconds >= 0)) return Promise.reject(new RangeError(`lateBySeconds must be a number >= 0 (got ${lateBySeconds})`));
      // The id is drawn now, synchronously: ids follow the order of the `send` calls whatever the concurrency.
      const token = ids.token(24);
      const delivery: MutableDelivery = {
        seq: all.length + 1,
        id: scheme.scheme === 'standard-webhooks' ? `msg_${token}` : `evt_${token}`,
        type: event.type,
        options: { tamper: sendOptions.tamper ?? false, lateBySeconds, duplicate: sendOptions.duplicate ?? false },
        attempts: [],
        outcome: 'pending',
      };
      all.push(delivery);
      const running = deliver(delivery, event).then(() => snapshot(delivery));
      inFlight.add(running);
      void running.finally(() => inFlight.delete(running)).catch(() => undefined);
      return running;
    },

    deliveries(): WebhookDelivery[] {
      return all.map(snapshot);
    },

    summary(): WebhookSenderSummary {
      const byOutcome = Object.fromEntries(WEBHOOK_DELIVERY_OUTCOMES.map((outcome) => [outcome, 0])) as Record<WebhookDeliveryOutcome, number>;
      const refusedBy: Record<string, number> = {};
      let pending = 0;
      for (const delivery of all) {
        if (delivery.outcome === 'pending') {
          pending += 1;
          continue;
        }
        byOutcome[delivery.outcome] += 1;
        if (delivery.outcome === 'refused') {
          const reason = delivery.error ?? `http_${String(delivery.status)}`;
          refusedBy[reason] = (refusedBy[reason] ?? 0) + 1;
        }
      }
      return { total: all.length, pending, byOutcome, refusedBy };
    },

    async drain(): Promise<void> {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

function snapshot(delivery: MutableDelivery): WebhookDelivery {
  return {
    seq: delivery.seq,
    id: delivery.id,
    type: delivery.type,
    options: { ...delivery.options },
    attempts: [...delivery.attempts],
    outcome: delivery.outcome,
    ...(delivery.status !== undefined ? { status: delivery.status } : {}),
    ...(delivery.error !== undefined ? { error: delivery.error } : {}),
  };
}

/** Every problem of the options, one each; never quotes the secret. */
function senderOptionProblems(options: WebhookSenderOptions): string[] {
  const problems: string[] = [];
  let url: URL | undefined;
  try {
    url = new URL(options.url);
  } catch {
    problems.push(`url is not a URL (got ${JSON.stringify(options.url)})`);
  }
  if (url && url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(`url must be http(s) (got ${url.protocol})`);
  problems.push(...webhookSchemeProblems(options.scheme).map((problem) => `scheme: ${problem}`));
  if (typeof options.signingSecret !== 'string' || options.signingSecret.length === 0) {
    problems.push('signingSecret must be a non-empty string');
  } else if (options.scheme?.scheme === 'standard-webhooks' && !/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(options.signingSecret)) {
    problems.push('signingSecret must be whsec_<base64> for standard-webhooks (newSigningSecret makes one)');
  }
  const integer = (name: string, value: number | undefined, min: number) => {
    if (value !== undefined && !(Number.isInteger(value) && value >= min)) problems.push(`${name} must be an integer >= ${min} (got ${value})`);
  };
  integer('maxAttempts', options.maxAttempts, 1);
  integer('baseDelayMs', options.baseDelayMs, 0);
  integer('maxDelayMs', options.maxDelayMs, 0);
  integer('timeoutMs', options.timeoutMs, 1);
  return problems;
}
