/**
 * The operator runbooks: one markdown file per alarm in docs/runbooks/, named by the alarm's slug. Alarm
 * descriptions and the dashboard link to them, either as a repository-relative path or, when the deployment gives
 * a base URL (context `runbookBaseUrl`), as `<base>/<slug>.md`.
 */
import { type AuthScheme, canRequireReauthorization } from '../functions/runtime/auth-config.js';

/** Where the runbooks live, relative to the repository root. */
export const RUNBOOK_DIRECTORY = 'docs/runbooks';

/**
 * The runbook slugs of an integration's alarms; each one names an alarm of {@link IntegrationAlarms} and a file
 * `docs/runbooks/<slug>.md`. Every integration gets each alarm except `reauthorization-needed`, which only circuits
 * whose grant can be revoked get (see {@link integrationRunbookSlugs}); a standalone workflow provider's circuit gets
 * `circuit-open-too-long` and that one (lib/constructs/provider-circuit-alarm.ts).
 */
export const RUNBOOK_SLUGS = [
  'dlq-not-empty',
  'oldest-message-too-old',
  'circuit-open-too-long',
  'function-errors',
  'breaker-store-fallback',
  'dlq-message-expiring',
  'function-throttled',
  'reauthorization-needed',
] as const;

/** The slug of one runbook (and of the alarm it belongs to). */
export type RunbookSlug = (typeof RUNBOOK_SLUGS)[number];

/**
 * The slugs of the alarms an integration of auth scheme `scheme` gets, in {@link RUNBOOK_SLUGS} order:
 * `reauthorization-needed` only for a scheme whose grant the provider can revoke (`oauth2_refresh_token`).
 */
export function integrationRunbookSlugs(scheme: AuthScheme): readonly RunbookSlug[] {
  return canRequireReauthorization(scheme) ? RUNBOOK_SLUGS : RUNBOOK_SLUGS.filter((slug) => slug !== 'reauthorization-needed');
}

/** The runbooks of the Step Functions workflows' alarms ({@link WorkflowAlarms}); a file `docs/runbooks/<slug>.md` each. */
export const WORKFLOW_RUNBOOK_SLUGS = [
  'saga-executions-failed',
  'saga-compensation-failed',
  'saga-not-started',
  'sync-executions-failed',
] as const;

/** The slug of one workflow runbook. */
export type WorkflowRunbookSlug = (typeof WORKFLOW_RUNBOOK_SLUGS)[number];

/** Runbooks of the hub-wide alarms (one per hub, not per integration). */
export const HUB_RUNBOOK_SLUGS = [
  'controller-records-failed',
  'circuit-controller-errors',
  'circuit-prober-errors',
  'controller-stream-behind',
  'status-events-failed',
] as const;

/** One of {@link HUB_RUNBOOK_SLUGS}. */
export type HubRunbookSlug = (typeof HUB_RUNBOOK_SLUGS)[number];

/** Runbooks of the webhook endpoints' alarms (lib/constructs/hub-webhooks.ts). */
export const WEBHOOK_RUNBOOK_SLUGS = ['webhook-rejections', 'webhook-errors'] as const;

/** One of {@link WEBHOOK_RUNBOOK_SLUGS}. */
export type WebhookRunbookSlug = (typeof WEBHOOK_RUNBOOK_SLUGS)[number];

/** Any runbook. */
type AnyRunbookSlug = RunbookSlug | WorkflowRunbookSlug | HubRunbookSlug | WebhookRunbookSlug;

/** The runbook's path relative to the repository root, e.g. `docs/runbooks/dlq-not-empty.md`. */
export function runbookPath(slug: AnyRunbookSlug): string {
  return `${RUNBOOK_DIRECTORY}/${slug}.md`;
}

/** The link put in alarm descriptions: `<baseUrl>/<slug>.md` with a base URL, else the repository-relative path. */
export function runbookLink(slug: AnyRunbookSlug, baseUrl?: string): string {
  return baseUrl ? `${baseUrl.replace(/\/+$/, '')}/${slug}.md` : runbookPath(slug);
}

/**
 * Checks a runbook base URL (context `runbookBaseUrl`): absent or empty means "link repository paths"; anything else
 * must be an http(s) URL without spaces, query or fragment (the slug is appended to it). Returns the problem, if any.
 */
export function runbookBaseUrlProblem(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !/^https?:\/\/[^\s?#]+$/.test(value)) {
    return `runbookBaseUrl must be an http(s) URL without query or fragment, e.g. https://github.com/acme/integration-hub/blob/main/docs/runbooks (got ${JSON.stringify(value)})`;
  }
  return undefined;
}
