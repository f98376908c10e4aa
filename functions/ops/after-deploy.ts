/**
 * The prober's run after a deploy. CloudFormation applies a changed event source mapping's or rule's template values
 * whatever the circuits say — a paused mapping enabled again at the catalog's concurrency, the probe schedule
 * disabled — so the stack (lib/constructs/circuit-controller.ts) has a custom resource served by the prober itself,
 * created or updated after the mappings and the rule whenever what they are made from changes. The prober then runs
 * once, pauses the mappings of circuits that are not closed, and turns its schedule on while work is left
 * (docs/runbooks/circuit-open-too-long.md, "Deploying during an outage").
 */

/** The marker the stack puts in the custom resource's properties. */
export const AFTER_DEPLOY_EVENT = { reconcile: 'after-deploy' } as const;

/** The CloudFormation custom resource request the prober answers. */
export interface CustomResourceEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties?: Record<string, unknown>;
}

/** True for `{ "reconcile": "after-deploy" }` sent by hand (an operator's re-run of a failed after-deploy run). */
export function isReconcileRequest(event: unknown): boolean {
  return typeof event === 'object' && event !== null && (event as { reconcile?: unknown }).reconcile === AFTER_DEPLOY_EVENT.reconcile;
}

/** True for a custom resource request of the stack's after-deploy resource. */
export function isAfterDeployRequest(event: unknown): event is CustomResourceEvent {
  if (typeof event !== 'object' || event === null) return false;
  const request = event as Partial<CustomResourceEvent>;
  return (
    typeof request.RequestType === 'string' &&
    typeof request.ResponseURL === 'string' &&
    request.ResourceProperties?.reconcile === AFTER_DEPLOY_EVENT.reconcile
  );
}

/**
 * Runs `reconcile` for a Create or Update (nothing for a Delete) and answers CloudFormation, always with SUCCESS: a
 * failed run must not roll back a deploy, and it fails the invocation afterwards (the prober's errors alarm) with
 * its reason in the answer. `fetch` puts the answer to the request's pre-signed URL.
 */
export async function answerAfterDeploy(
  event: CustomResourceEvent,
  reconcile: () => Promise<string>,
  fetchFn: typeof fetch = fetch,
): Promise<{ reason: string; failure?: unknown }> {
  let reason = 'Deleted: nothing to reconcile';
  let failure: unknown;
  if (event.RequestType !== 'Delete') {
    try {
      reason = await reconcile();
    } catch (error) {
      failure = error;
      reason = `The reconcile run failed (the deploy goes on; see the circuit-prober-errors runbook): ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  const body = JSON.stringify({
    Status: 'SUCCESS',
    Reason: reason.slice(0, 1000),
    PhysicalResourceId: event.PhysicalResourceId ?? `circuit-reconcile-${event.LogicalResourceId}`,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  });
  // The URL is pre-signed without a content type: sending one would break its signature.
  const response = await fetchFn(event.ResponseURL, { method: 'PUT', body, headers: { 'content-type': '' } });
  if (!response.ok) throw new Error(`CloudFormation did not take the custom resource answer: HTTP ${response.status}`);
  return { reason, ...(failure !== undefined ? { failure } : {}) };
}
