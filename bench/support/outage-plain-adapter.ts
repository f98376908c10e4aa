/**
 * The plain adapter of strategies (b) and (c): what a team writes without the hub. Parse the record, POST the charge
 * with `fetch` (bearer key, the same body, `Idempotency-Key` and `X-Correlation-Id` as the hub sends), report a
 * failed record as a batch item failure so that SQS redelivers it after the visibility timeout (and redrives it to
 * the DLQ after maxReceiveCount). No idempotency table, no ledger, no parking.
 *
 * Lambda ends an invocation at the function timeout: the handler gives every record a signal that aborts at the
 * context's deadline, and a call in flight or a retry not yet made stops there. Without it a call hanging past the
 * HTTP timeout would keep its invocation (and its retries) alive after Lambda would have killed it.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { toMinorUnits } from '../../functions/integrations/payments.js';
import { type ChargeEvent, chargeIdempotencyKey } from './outage-messages.js';

/** A non-2xx answer, a timeout or a connection failure. */
export class ChargeFailedError extends Error {
  constructor(
    message: string,
    /** The HTTP status, when there was an answer. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ChargeFailedError';
  }
}

/** POSTs one charge. */
export class PlainChargeClient {
  constructor(
    private readonly paymentsUrl: string,
    private readonly secretKey: string,
    private readonly timeoutMs: number,
  ) {}

  /** Resolves on 2xx; throws {@link ChargeFailedError} otherwise; gives up at the HTTP timeout or when `deadline` aborts. */
  async charge(event: ChargeEvent, correlationId: string, deadline?: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let response: Response;
    try {
      response = await fetch(`${this.paymentsUrl}/charges`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.secretKey}`,
          'content-type': 'application/json',
          'idempotency-key': chargeIdempotencyKey(event),
          'x-correlation-id': correlationId,
        },
        body: JSON.stringify({
          amount: toMinorUnits(event.amount, event.currency),
          currency: event.currency,
          reference: event.orderId,
          customerId: event.customerId,
        }),
        signal: deadline ? AbortSignal.any([timeout, deadline]) : timeout,
      });
    } catch (error) {
      throw new ChargeFailedError(`POST /charges failed: ${(error as Error).message}`, undefined, { cause: error });
    }
    // Read the body either way: it frees the connection.
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) throw new ChargeFailedError(`POST /charges answered ${response.status}`, response.status);
  }
}

/**
 * Handles every record of a batch at once with `send`; the records it throws for are batch item failures. `deadline`
 * aborts when the invocation's remaining time is up.
 */
export function plainBatchHandler(
  send: (event: ChargeEvent, correlationId: string, deadline: AbortSignal) => Promise<void>,
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  return async (event, context) => {
    const deadline = AbortSignal.timeout(Math.max(1, context.getRemainingTimeInMillis()));
    const outcomes = await Promise.all(
      event.Records.map(async (record) => {
        try {
          const charge = JSON.parse(record.body) as ChargeEvent;
          await send(charge, record.messageAttributes.correlationId?.stringValue ?? record.messageId, deadline);
          return undefined;
        } catch {
          return { itemIdentifier: record.messageId };
        }
      }),
    );
    return { batchItemFailures: outcomes.filter((failure): failure is { itemIdentifier: string } => failure !== undefined) };
  };
}
