/**
 * The inbound webhook endpoint's logic, written against ports (docs/webhooks.md): acknowledge fast, trust nothing
 * unverified, forward each delivery once.
 *
 *   1. size: a body over `maxBodyBytes` is refused (413) before anything else is done with it;
 *   2. verify with the provider's scheme (webhook-scheme.ts) against its signing secrets, read from the secret store
 *      (cached); a bad signature re-reads the secret once, fresh, since our side may have rotated the key;
 *   3. once per webhook id: Powertools idempotency keyed by the id (the body's hash as its payload check) wraps ONE
 *      PutEvents to the hub's bus. A replay of a forwarded delivery is acknowledged (200, `duplicate`) and not
 *      forwarded again; one still being forwarded by another request gets 409 (the provider retries later); the same id
 *      with another body gets 409 too. If PutEvents fails the claim is released and the answer is 503, so the
 *      provider's retry gets through: nothing is lost and nothing unverified reaches the bus.
 *
 * No third-party call happens in the request path. Secrets and signatures are never logged; a rejection logs its
 * reason and the delivery id the request claims, when it claims one. The stored result of a forward
 * ({@link WebhookDeliveryRecord}) and the rejection and replay log lines are what the operator CLI lists
 * (`npm run hub -- webhooks`, webhook-records.ts).
 */
import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { createHash } from 'node:crypto';
import { DuplicateInFlightError, type IntegrationError, IdempotencyKeyReuseError, toIntegrationError, WebhookRejectedError } from '../runtime/errors.js';
import { fromIdempotencyError } from '../runtime/idempotency-errors.js';
import type { Clock, SecretSource } from '../runtime/ports.js';
import { type MetricsSink, RuntimeMetric } from '../runtime/telemetry.js';
import { MAX_LOGGED_ID_LENGTH, WEBHOOK_LOG, type WebhookDeliveryRecord, webhookKeyPrefix } from './webhook-records.js';
import { signingSecretsOf, type VerifiedWebhook, type WebhookRequest, type WebhookScheme } from './webhook-scheme.js';

/** What one provider's endpoint is configured with. */
export interface WebhookIngressSettings {
  /** The provider (integration) whose webhooks these are: metric dimension, log key, idempotency prefix. */
  readonly provider: string;
  /** The secret holding `signingSecrets` (or `signingSecret`). */
  readonly secretName: string;
  /** The forwarded events' `source`. */
  readonly eventSource: string;
  /** Larger bodies are refused with 413. */
  readonly maxBodyBytes: number;
  /** How long a delivery id is remembered: longer than the provider's retry window. */
  readonly dedupeSeconds: number;
}

/** The event a verified webhook becomes on the hub's bus. */
export interface ForwardedWebhook {
  readonly source: string;
  /** The provider's event type. */
  readonly detailType: string;
  readonly detail: {
    readonly webhookId: string;
    readonly provider: string;
    readonly type: string;
    readonly signedAt: string;
    readonly receivedAt: string;
    readonly payload: Readonly<Record<string, unknown>>;
  };
}

/** Puts a verified webhook on the hub's bus (EventBridge PutEvents in AWS). Throws when the event was not put. */
export interface WebhookForwarder {
  forward(event: ForwardedWebhook): Promise<void>;
}

/** The answer to the sender. */
export interface WebhookResponse {
  readonly status: number;
  readonly body: Readonly<Record<string, string>>;
}

/** What became of one request, as an operator lists it (the local hub keeps the recent ones: local/hub/local-webhooks.ts). */
export type WebhookOutcome =
  | {
      readonly kind: 'accepted' | 'duplicate';
      readonly provider: string;
      readonly webhookId: string;
      readonly type: string;
      readonly receivedAt: Date;
      /** ISO 8601: when it was put on the bus (for a duplicate: the first time; absent when its record predates this field). */
      readonly forwardedAt?: string;
    }
  | {
      readonly kind: 'rejected';
      readonly provider: string;
      readonly reason: string;
      /** Why, in words (never a secret or a signature). */
      readonly detail: string;
      /** The id the request claims (unverified), when it claims one. */
      readonly webhookId?: string;
      readonly receivedAt: Date;
    };

/** The parts {@link WebhookIngress} runs against. */
export interface WebhookIngressDependencies {
  readonly settings: WebhookIngressSettings;
  readonly scheme: WebhookScheme;
  readonly secrets: SecretSource;
  readonly forwarder: WebhookForwarder;
  /** Where delivery ids are remembered (a DynamoDB table keyed `id` in AWS). */
  readonly persistence: BasePersistenceLayer;
  readonly metrics: MetricsSink;
  readonly logger: Logger;
  readonly clock: Pick<Clock, 'now'>;
  /** Told what became of each request that was accepted, acknowledged as a duplicate or rejected. @default nobody */
  readonly onOutcome?: (outcome: WebhookOutcome) => void;
}

/** Marks an answer Powertools returned from its store rather than from a forward made now. */
const REPLAY_MARKER = '__webhookReplay';

interface Delivery {
  readonly id: string;
  readonly bodyHash: string;
}

/** See the file comment. */
export class WebhookIngress {
  readonly #deps: WebhookIngressDependencies;
  readonly #config: IdempotencyConfig;
  readonly #forwardOnce: (delivery: Delivery, webhook: VerifiedWebhook, receivedAt: Date) => Promise<JSONValue>;

  constructor(deps: WebhookIngressDependencies) {
    this.#deps = deps;
    this.#config = new IdempotencyConfig({
      eventKeyJmesPath: 'id',
      payloadValidationJmesPath: 'bodyHash',
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: deps.settings.dedupeSeconds,
      responseHook: (response) => ({ ...(response as Record<string, JSONValue>), [REPLAY_MARKER]: true }),
    });
    this.#forwardOnce = makeIdempotent(
      // The first argument is what Powertools keys and hashes; the others ride along.
      async (_delivery: Delivery, webhook: VerifiedWebhook, receivedAt: Date) => {
        await this.#forward(webhook, receivedAt);
        // Stored in the delivery-id table: what the operator CLI lists, and what a replay is answered from.
        const record: WebhookDeliveryRecord = {
          webhookId: webhook.id,
          provider: deps.settings.provider,
          type: webhook.type,
          forwardedAt: new Date(deps.clock.now()).toISOString(),
        };
        return { ...record };
      },
      { persistenceStore: deps.persistence, config: this.#config, keyPrefix: webhookKeyPrefix(deps.settings.provider) },
    );
  }

  /** Call once per invocation: a claim in progress expires with the invocation. */
  startInvocation(context: Context): void {
    this.#config.registerLambdaContext(context);
  }

  async handle(request: WebhookRequest): Promise<WebhookResponse> {
    const { metrics, logger, settings } = this.#deps;
    const receivedAt = new Date(this.#deps.clock.now());
    metrics.count(RuntimeMetric.WebhookReceived);
    let webhook: VerifiedWebhook;
    try {
      if (Buffer.byteLength(request.body, 'utf8') > settings.maxBodyBytes) {
        throw new WebhookRejectedError('body_too_large', `the body is over ${settings.maxBodyBytes} bytes`);
      }
      webhook = await this.#verify(request, receivedAt);
    } catch (error) {
      // Our secret store failed or the secret is unusable: nothing was decided about the webhook, the sender retries.
      if (!(error instanceof WebhookRejectedError)) return this.#notForwarded(undefined, toIntegrationError(error));
      // A body over the limit is not parsed even for its claimed id.
      const webhookId = error.reason === 'body_too_large' ? undefined : this.#claimedId(request);
      this.#reject(error.reason, error.message, receivedAt, webhookId);
      return { status: error.status, body: { error: error.reason, message: error.message } };
    }

    const delivery: Delivery = { id: webhook.id, bodyHash: createHash('sha256').update(request.body).digest('hex') };
    let result: JSONValue;
    try {
      result = await this.#forwardOnce(delivery, webhook, receivedAt);
    } catch (cause) {
      return this.#notForwarded(webhook, fromIdempotencyError(cause), receivedAt);
    }
    const stored = result !== null && typeof result === 'object' && !Array.isArray(result) ? (result as Record<string, JSONValue>) : {};
    const replay = REPLAY_MARKER in stored;
    // A record written before the result held the delivery has no forwardedAt.
    const forwardedAt = typeof stored.forwardedAt === 'string' ? stored.forwardedAt : undefined;
    metrics.count(replay ? RuntimeMetric.WebhookDuplicate : RuntimeMetric.WebhookForwarded);
    logger.info(replay ? WEBHOOK_LOG.replay : WEBHOOK_LOG.forwarded, {
      provider: settings.provider,
      webhookId: webhook.id,
      type: webhook.type,
      ...(replay && forwardedAt ? { forwardedAt } : {}),
    });
    this.#deps.onOutcome?.({
      kind: replay ? 'duplicate' : 'accepted',
      provider: settings.provider,
      webhookId: webhook.id,
      type: webhook.type,
      receivedAt,
      ...(forwardedAt ? { forwardedAt } : {}),
    });
    return { status: 200, body: { status: replay ? 'duplicate' : 'accepted', id: webhook.id } };
  }

  /** Verifies with the cached secret, then once more with a fresh one when the signature did not match. */
  async #verify(request: WebhookRequest, now: Date): Promise<VerifiedWebhook> {
    const { scheme, secrets, settings } = this.#deps;
    const verifyWith = async (forceFetch: boolean) => scheme.verify(request, signingSecretsOf(await secrets.getJson(settings.secretName, { forceFetch }), settings.secretName), now);
    try {
      return await verifyWith(false);
    } catch (error) {
      if (error instanceof WebhookRejectedError && error.reason === 'bad_signature') return verifyWith(true);
      throw error;
    }
  }

  async #forward(webhook: VerifiedWebhook, receivedAt: Date): Promise<void> {
    const { settings } = this.#deps;
    await this.#deps.forwarder.forward({
      source: settings.eventSource,
      detailType: webhook.type,
      detail: {
        webhookId: webhook.id,
        provider: settings.provider,
        type: webhook.type,
        signedAt: webhook.signedAt.toISOString(),
        receivedAt: receivedAt.toISOString(),
        payload: webhook.payload,
      },
    });
  }

  /** One rejection: the alarm's metric, the breakdown by reason, the log line operators list, the outcome. */
  #reject(reason: string, detail: string, receivedAt: Date, webhookId: string | undefined): void {
    const { metrics, logger, settings } = this.#deps;
    metrics.count(RuntimeMetric.WebhookRejected);
    metrics.count(RuntimeMetric.WebhookRejectedByReason, 1, reason);
    logger.warn(WEBHOOK_LOG.rejected, { provider: settings.provider, reason, detail, ...(webhookId !== undefined ? { webhookId } : {}) });
    this.#deps.onOutcome?.({ kind: 'rejected', provider: settings.provider, reason, detail, receivedAt, ...(webhookId !== undefined ? { webhookId } : {}) });
  }

  /** The id the request claims, unverified and cut to a bounded length (it is the sender's input). */
  #claimedId(request: WebhookRequest): string | undefined {
    const id = this.#deps.scheme.claimedId?.(request);
    return id === undefined ? undefined : id.slice(0, MAX_LOGGED_ID_LENGTH);
  }

  /** The answer when a delivery was not forwarded now: the provider must retry (or stop, for a conflict). */
  #notForwarded(webhook: VerifiedWebhook | undefined, error: IntegrationError, receivedAt?: Date): WebhookResponse {
    const { metrics, logger, settings } = this.#deps;
    const context = { provider: settings.provider, webhookId: webhook?.id, errorClass: error.errorClass };
    if (error instanceof DuplicateInFlightError) {
      logger.info('Webhook delivery already being forwarded by another request', context);
      return { status: 409, body: { error: 'in_progress', message: 'this delivery is being processed; retry later' } };
    }
    if (error instanceof IdempotencyKeyReuseError) {
      this.#reject('id_reused', 'this webhook id was delivered before with a different body', receivedAt ?? new Date(this.#deps.clock.now()), webhook?.id);
      return { status: 409, body: { error: 'id_reused', message: 'this webhook id was delivered before with a different body' } };
    }
    metrics.count(RuntimeMetric.WebhookForwardFailed, 1, error.errorClass);
    logger.error('Webhook not forwarded; the sender will retry', { ...context, reason: error.message });
    return { status: 503, body: { error: 'unavailable', message: 'not accepted now; retry later' } };
  }
}
