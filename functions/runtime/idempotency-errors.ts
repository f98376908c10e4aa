/**
 * Powertools idempotency's errors in the runtime's hierarchy (functions/runtime/errors.ts): the integration runtime's
 * claims (operation-executor.ts) and the webhook endpoints' (functions/webhooks/webhook-ingress.ts) fail alike.
 */
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyInconsistentStateError,
  IdempotencyPersistenceLayerError,
  IdempotencyValidationError,
} from '@aws-lambda-powertools/idempotency';
import { DuplicateInFlightError, IdempotencyKeyReuseError, type IntegrationError, toIntegrationError } from './errors.js';

/** Translates Powertools idempotency errors into the runtime's hierarchy. */
export function fromIdempotencyError(error: unknown): IntegrationError {
  if (error instanceof IdempotencyValidationError) {
    return new IdempotencyKeyReuseError('Idempotency key reused with a different payload', { cause: error });
  }
  if (error instanceof IdempotencyAlreadyInProgressError || error instanceof IdempotencyInconsistentStateError) {
    return new DuplicateInFlightError('The same operation is being processed by another delivery', { cause: error });
  }
  if (error instanceof IdempotencyPersistenceLayerError && error.cause !== undefined) return toIntegrationError(error.cause);
  return toIntegrationError(error);
}
