/**
 * The contract between the Step Functions state machines (lib/constructs/*-state-machine.ts) and the task Lambdas
 * (functions/workflows/*): error names the state machines retry or catch, and the shapes of the states.
 * lib/ restates the error names (it does not import functions/); a test keeps both equal.
 */

/**
 * Error names a task Lambda fails with (the `errorType` Step Functions matches in Retry/Catch):
 * - transient: timeouts, 5xx, 429, our own dependencies — retried with full jitter;
 * - permanent: 4xx, validation, business refusals — never retried, caught → compensation;
 * - circuitOpen: the provider's shared circuit is open or throttled — retried later with long intervals.
 */
export const TASK_ERROR_NAMES = {
  transient: 'Integration.Transient',
  permanent: 'Integration.Permanent',
  circuitOpen: 'Integration.CircuitOpen',
} as const;

/** The OrderPlaced event detail, as the saga's input carries it. */
export interface OrderPlaced {
  orderId: string;
  customerId: string;
  email: string;
  items: { sku: string; quantity: number }[];
  /** Major units, decimal string or number. */
  amount: string | number;
  currency: string;
  shippingAddress: { name: string; line1: string; line2?: string; city: string; postalCode: string; country: string };
}

/** What each forward step stores in the execution state (`$.steps.<step>`). */
export interface SagaSteps {
  reserveInventory?: { reservationId: string };
  chargePayment?: { chargeId: string; status: string };
  createShipment?: { shipmentId: string; trackingNumber: string };
  sendConfirmation?: { messageId: string };
}

/** The saga's execution state: `{ order, steps }` (the starter passes `steps: {}`). */
export interface SagaState {
  order: OrderPlaced;
  steps: SagaSteps;
}

/**
 * What every saga task Lambda receives (the state machine's task Parameters):
 * `{ order.$: $.order, steps.$: $.steps, executionName.$: $$.Execution.Name, retryCount.$: $$.State.RetryCount }`.
 */
export interface SagaTaskInput extends SagaState {
  /** The execution name = the order id (the starter names executions so a duplicate event starts none). */
  executionName: string;
  /** 0 on the first attempt of this state. */
  retryCount: number;
}

/** The contact sync's task input (state machine Parameters) and output (ResultPath `$.sync`). */
export interface ContactSyncTaskInput {
  syncId: string;
  executionName: string;
  /** Pages already synced by this execution. */
  pagesThisRun: number;
  /** The state machine's page bound: the page that reaches it is the run's last (it releases the run lease). */
  maxPagesPerExecution: number;
  /** The run lease, seconds: the state machine's execution timeout (a run cannot outlive it). */
  leaseSeconds: number;
}

export interface ContactSyncTaskOutput {
  syncId: string;
  pagesThisRun: number;
  /** More changes are waiting at the source after this page, or another run asked for one more pass. */
  hasMore: boolean;
  upserted: number;
  deleted: number;
  /** Another run holds the checkpoint's lease: this run read and wrote nothing and ends (the holder does one more pass). */
  skipped: boolean;
}

/** The contact sync's release request (its ReleaseRun state, after a failed page): gives up the run lease. */
export interface ContactSyncReleaseInput {
  syncId: string;
  executionName: string;
  release: true;
}

export interface ContactSyncReleaseOutput {
  /** False when the run did not hold the lease (it failed before taking it, or it ran out). */
  released: boolean;
}

/**
 * What a compensation task returns (ResultPath `$.compensations.<task>` or wherever the state machine keeps it).
 * `compensated: false` means there was nothing to undo (the forward step never ran) and no call was made;
 * `compensated: true` covers an undo done now, one done earlier (replayed), and a resource the provider does not
 * know (404: treated as already undone).
 */
export interface CompensationResult {
  compensated: boolean;
  /** Why nothing was done, or how the provider's answer was read ('the warehouse made no reservation …', 'not found at the provider: …'). */
  reason?: string;
  /** The provider's id of the undone resource or of the undoing action (refund id). */
  reservationId?: string;
  chargeId?: string;
  refundId?: string;
  shipmentId?: string;
  /** The provider's status of the undo (released, cancelled, succeeded, pending). */
  status?: string;
}
