/**
 * Errors of the workflow tasks' business, in the runtime's hierarchy (functions/runtime/errors.ts): a refusal is a
 * permanent error with its own stable `errorClass`, so the ledger, the logs and the state machine's error cause say
 * `InsufficientStock` or `PaymentDeclined` instead of a bare status code.
 */
import { PermanentError, ProviderRejectedError } from '../runtime/errors.js';

/** The provider understood the request and refused it for a business reason; retrying cannot help. */
export class BusinessRefusalError extends PermanentError {
  readonly errorClass: string;

  constructor(errorClass: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.errorClass = errorClass;
  }
}

/**
 * Runs a provider call and turns the listed rejection statuses into business refusals, keeping the rejection as
 * the cause; every other failure passes through unchanged.
 */
export async function refusalsOf<T>(call: () => Promise<T>, refusals: Readonly<Record<number, string>>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ProviderRejectedError) {
      const errorClass = refusals[error.status];
      if (errorClass !== undefined) throw new BusinessRefusalError(errorClass, error.message, { cause: error });
    }
    throw error;
  }
}

/** Runs a provider call; a 404 (the resource is unknown to the provider) resolves with `onNotFound()` instead. */
export async function unlessNotFound<T>(call: () => Promise<T>, onNotFound: () => T): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ProviderRejectedError && error.status === 404) return onNotFound();
    throw error;
  }
}
