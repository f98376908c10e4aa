/**
 * What the local hub's demo scenario records: a timeline of samples while it runs and a summary when it ends.
 * Plain data, so the renderers (terminal progress, summary table, HTML report) are pure functions of it and the
 * hub that produces it never depends on how it is shown.
 *
 * Besides the types, this file holds the few presentation-neutral facts every renderer shares (which summary
 * columns exist and must be zero, the verdict sentence), so the terminal and the HTML report cannot disagree.
 */
import type { StatusEventSummary } from './status-event-summary.js';
import type { CircuitState } from '../../functions/runtime/circuit-store.js';

/** One integration at one instant (counters are cumulative since start unless said otherwise). */
export interface IntegrationSample {
  /** Now: visible + delayed messages in its work queue. */
  readonly queued: number;
  /** Now: received, not yet deleted. */
  readonly inFlight: number;
  /** Cumulative: messages whose call succeeded (or were already done). */
  readonly delivered: number;
  /** Cumulative: transient failures returned to the queue for a retry. */
  readonly retried: number;
  /** Cumulative: messages parked because the circuit was open. */
  readonly parked: number;
  /** Now: messages in its DLQ. */
  readonly dlq: number;
  /** Now: 'closed' | 'open' | 'half_open' | 'isolated'. */
  readonly circuit: CircuitState;
  /** Now: whether its event source mapping polls. */
  readonly mappingEnabled: boolean;
}

/** One workflow (state machine) at one instant; `running` is now, the others are cumulative. */
export interface WorkflowSample {
  readonly started: number;
  readonly running: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly compensated: number;
}

/** The whole hub at one instant. */
export interface HubSample {
  /** Ms since the scenario started. */
  readonly atMs: number;
  /** Cumulative events put on the bus. */
  readonly published: number;
  readonly integrations: Readonly<Record<string, IntegrationSample>>;
  /** Keyed by workflow name, e.g. 'order-saga', 'contact-sync'. */
  readonly workflows: Readonly<Record<string, WorkflowSample>>;
  /**
   * Now: the stored circuit state of each standalone workflow provider (lib/workflow-catalog.ts PROVIDERS), the
   * circuit every task calling it shares. Such a circuit has no prober: after its break the next task call probes.
   */
  readonly providerCircuits?: Readonly<Record<string, CircuitState>>;
}

/** A period during which the scenario made one integration's sandbox API fail. */
export interface OutageWindow {
  readonly integration: string;
  /** Ms since the scenario started, inclusive. */
  readonly fromMs: number;
  /** Ms since the scenario started, exclusive. */
  readonly toMs: number;
}

/** What happened to one integration's messages over the whole run. */
export interface IntegrationSummary {
  readonly integration: string;
  /** Messages routed to it. */
  readonly published: number;
  /** Unique business keys that reached the third party. */
  readonly delivered: number;
  /** Deliberately invalid messages that ended in the DLQ (expected). */
  readonly invalidInDlq: number;
  /** Valid messages in the DLQ (should be 0). */
  readonly validInDlq: number;
  /** Neither delivered, nor queued, nor in the DLQ (must be 0). */
  readonly lost: number;
  /** Side effects performed more than once at the third party (must be 0). */
  readonly duplicates: number;
  /** Older versions of an entity not sent because a newer one was (events published out of order). */
  readonly skippedStale: number;
  readonly retried: number;
  readonly parked: number;
  /** How many times its circuit went to open. */
  readonly circuitOpened: number;
}

/** What happened to one workflow's executions over the whole run. */
export interface WorkflowSummary {
  readonly workflow: string;
  readonly started: number;
  readonly succeeded: number;
  readonly compensated: number;
  readonly failed: number;
  /** Side effects performed more than once (must be 0). */
  readonly duplicates: number;
}

/**
 * What one integration's webhook endpoint did with the signed deliveries its sandbox provider sent during the run
 * (demo-webhooks.ts): the endpoint's own figures (local-webhooks.ts `stats()`), and what the checks against the
 * senders' records and the events that reached the bus found.
 */
export interface WebhookSummary {
  readonly integration: string;
  /** The signing scheme (`standard-webhooks`, `timestamped-hmac`). */
  readonly scheme: string;
  /** Deliveries the provider made (one event each; retries and replays are more requests of the same delivery). */
  readonly sent: number;
  /** Requests the endpoint received. */
  readonly received: number;
  /** Deliveries the endpoint answered `accepted` (verified, new). */
  readonly accepted: number;
  /** Replays answered `duplicate` and not forwarded again. */
  readonly duplicates: number;
  /** Requests refused with a 4xx. */
  readonly rejected: number;
  /** Rejections by reason (`bad_signature`, `timestamp_out_of_tolerance`, …). */
  readonly rejectedBy: Readonly<Record<string, number>>;
  /** Events the endpoint put on the bus. */
  readonly forwarded: number;
  /** Tampered or late deliveries that reached the bus (must be 0). */
  readonly unverifiedForwarded: number;
  /** Accepted deliveries that did not reach the bus (must be 0). */
  readonly acceptedNotForwarded: number;
  /** Deliveries that reached the bus more than once, e.g. a replay forwarded again (must be 0). */
  readonly forwardedTwice: number;
}

/**
 * How an `oauth2_refresh_token` integration's access tokens were refreshed during the run, from its sandbox provider's
 * side (the grant's counters and the request journal, local/sandbox/credential-schemes.ts `oauth2RefreshToken`): the
 * hub must make one refresh call per token lifetime across all of its instances, and never have one refused.
 */
export interface AccessTokenSummary {
  readonly integration: string;
  /** Unique business keys that reached the third party (as in its IntegrationSummary). */
  readonly delivered: number;
  /** The provider's access-token lifetime, seconds. */
  readonly lifetimeSeconds: number;
  /** From the first refresh call to the last API call, ms: the time the hub needed tokens for. */
  readonly trafficMs: number;
  /** Lambda instances (local containers) the integration ran in. */
  readonly instances: number;
  /** Refresh calls the token endpoint got (client authenticated), granted or not. */
  readonly refreshCalls: number;
  /** Refreshes that issued a token: the first one (the secret holds no access token at start), then one per expiry. */
  readonly refreshesGranted: number;
  /** Granted refreshes after the first: tokens replaced because they were about to expire. */
  readonly onExpiry: number;
  /**
   * The most refreshes one per token lifetime allows over `trafficMs` (a token is refreshed shortly before it
   * expires, functions/runtime/oauth2-token-endpoint.ts `refreshAtOf`): more means instances refreshed on their own.
   */
  readonly maxRefreshes: number;
  /** Refresh calls refused (`invalid_grant` for a reused or lost rotated refresh token, …); must be 0. */
  readonly refused: number;
  /** Granted refreshes beyond `maxRefreshes`; must be 0. */
  readonly beyondOnePerLifetime: number;
  /** API calls answered 401 (an expired or revoked access token presented). */
  readonly unauthorized: number;
}

/** The outcome of one scenario run. */
export interface RunSummary {
  /** ISO timestamp. */
  readonly startedAt: string;
  readonly durationMs: number;
  readonly seed: number;
  readonly events: number;
  readonly outages: readonly OutageWindow[];
  readonly integrations: readonly IntegrationSummary[];
  readonly workflows: readonly WorkflowSummary[];
  /** One row per integration whose provider sent webhooks during the run; absent when none did. */
  readonly webhooks?: readonly WebhookSummary[];
  /** The SyncStatusChanged events the status outbox published, per integration (status-event-summary.ts). */
  readonly statusEvents?: readonly StatusEventSummary[];
  /** One row per integration on the `oauth2_refresh_token` scheme whose sandbox provider reports its grant; absent when none. */
  readonly accessTokens?: readonly AccessTokenSummary[];
  /** No loss, no duplicate. */
  readonly ok: boolean;
  /** Human sentences for whatever is not ok. */
  readonly problems: readonly string[];
}

/** One column of a summary table, shared by the terminal table and the HTML report. */
export interface SummaryColumn<Row> {
  /** Column heading. */
  readonly label: string;
  /** The cell's value. */
  readonly value: (row: Row) => string | number;
  /** A non-zero value in this column is a problem, so renderers may highlight it. */
  readonly mustBeZero?: boolean;
  /** Text columns are left-aligned, numbers right-aligned. */
  readonly text?: boolean;
}

/** The columns of the integrations summary table, in display order. */
export const INTEGRATION_SUMMARY_COLUMNS: readonly SummaryColumn<IntegrationSummary>[] = [
  { label: 'integration', value: (r) => r.integration, text: true },
  { label: 'published', value: (r) => r.published },
  { label: 'delivered', value: (r) => r.delivered },
  { label: 'invalid in DLQ', value: (r) => r.invalidInDlq },
  { label: 'valid in DLQ', value: (r) => r.validInDlq, mustBeZero: true },
  { label: 'lost', value: (r) => r.lost, mustBeZero: true },
  { label: 'duplicates', value: (r) => r.duplicates, mustBeZero: true },
  { label: 'retried', value: (r) => r.retried },
  { label: 'parked', value: (r) => r.parked },
  { label: 'circuit opened', value: (r) => r.circuitOpened },
];

/** The columns of the workflows summary table, in display order. */
export const WORKFLOW_SUMMARY_COLUMNS: readonly SummaryColumn<WorkflowSummary>[] = [
  { label: 'workflow', value: (r) => r.workflow, text: true },
  { label: 'started', value: (r) => r.started },
  { label: 'succeeded', value: (r) => r.succeeded },
  { label: 'compensated', value: (r) => r.compensated },
  { label: 'failed', value: (r) => r.failed },
  { label: 'duplicates', value: (r) => r.duplicates, mustBeZero: true },
];

/** The columns of the webhooks summary table, in display order. */
export const WEBHOOK_SUMMARY_COLUMNS: readonly SummaryColumn<WebhookSummary>[] = [
  { label: 'integration', value: (r) => r.integration, text: true },
  { label: 'sent', value: (r) => r.sent },
  { label: 'received', value: (r) => r.received },
  { label: 'accepted', value: (r) => r.accepted },
  { label: 'duplicates dropped', value: (r) => r.duplicates },
  { label: 'rejected', value: (r) => r.rejected },
  { label: 'rejected by reason', value: (r) => formatReasons(r.rejectedBy), text: true },
  { label: 'forwarded', value: (r) => r.forwarded },
  { label: 'unverified forwarded', value: (r) => r.unverifiedForwarded, mustBeZero: true },
  { label: 'accepted not forwarded', value: (r) => r.acceptedNotForwarded, mustBeZero: true },
  { label: 'forwarded twice', value: (r) => r.forwardedTwice, mustBeZero: true },
];

/** The columns of the status events table, in display order. */
export const STATUS_EVENT_SUMMARY_COLUMNS: readonly SummaryColumn<StatusEventSummary>[] = [
  { label: 'integration', value: (r) => r.integration, text: true },
  { label: 'events', value: (r) => r.events },
  { label: 'entities', value: (r) => r.entities },
  ...(['pending_sync', 'syncing', 'synced', 'sync_failed', 'skipped_stale'] as const).map(
    (status): SummaryColumn<StatusEventSummary> => ({ label: status, value: (r) => r.byStatus[status] ?? 0 }),
  ),
  { label: 'not as in the ledger', value: (r) => r.mismatched, mustBeZero: true },
  { label: 'repeated', value: (r) => r.repeated, mustBeZero: true },
];

/** The columns of the access tokens table, in display order. */
export const ACCESS_TOKEN_SUMMARY_COLUMNS: readonly SummaryColumn<AccessTokenSummary>[] = [
  { label: 'integration', value: (r) => r.integration, text: true },
  { label: 'token lifetime', value: (r) => `${r.lifetimeSeconds}s` },
  { label: 'traffic', value: (r) => formatSeconds(r.trafficMs) },
  { label: 'instances', value: (r) => r.instances },
  { label: 'refresh calls', value: (r) => r.refreshCalls },
  { label: 'granted', value: (r) => r.refreshesGranted },
  { label: 'on expiry', value: (r) => r.onExpiry },
  { label: 'refused', value: (r) => r.refused, mustBeZero: true },
  { label: 'beyond 1 per lifetime', value: (r) => r.beyondOnePerLifetime, mustBeZero: true },
  { label: '401 answered', value: (r) => r.unauthorized },
];

/**
 * One sentence per refresh-token integration, e.g. `newsletter: 70 delivered, access token refreshed 2 times on expiry
 * (20s tokens, 31.0s of traffic): 1 refresh call per expiry across 5 instances, none refused`.
 */
export function accessTokenSentence(row: AccessTokenSummary): string {
  const times = `${row.onExpiry} time${row.onExpiry === 1 ? '' : 's'}`;
  const head = `${row.integration}: ${row.delivered} delivered, access token refreshed ${times} on expiry (${row.lifetimeSeconds}s tokens, ${formatSeconds(row.trafficMs)} of traffic)`;
  const instances = `${row.instances} instance${row.instances === 1 ? '' : 's'}`;
  if (row.refused === 0 && row.beyondOnePerLifetime === 0) return `${head}: 1 refresh call per expiry across ${instances}, none refused`;
  return `${head}: ${row.refreshCalls} refresh calls across ${instances}, ${row.refused} refused, ${row.beyondOnePerLifetime} beyond one per token lifetime`;
}

/** `bad_signature 2, timestamp_out_of_tolerance 1` (reasons sorted), or `-` when there is none. */
export function formatReasons(counts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(counts).filter(([, count]) => count > 0);
  return entries.length === 0 ? '-' : entries.sort(([a], [b]) => a.localeCompare(b)).map(([reason, count]) => `${reason} ${count}`).join(', ');
}

/** The run's verdict: a headline ("OK: 0 lost, 0 duplicated") and, when not ok, the problems to list under it. */
export interface RunVerdict {
  readonly ok: boolean;
  readonly headline: string;
  readonly problems: readonly string[];
}

/**
 * The verdict of a run. `summary.ok` decides (the scenario knows more than the counters show), but the headline
 * always carries the totals so a reader sees the numbers the verdict rests on.
 */
export function runVerdict(summary: RunSummary): RunVerdict {
  const lost = sum(summary.integrations.map((i) => i.lost));
  const duplicated = sum([...summary.integrations, ...summary.workflows].map((r) => r.duplicates));
  const counts = `${lost} lost, ${duplicated} duplicated`;
  if (summary.ok) return { ok: true, headline: `OK: ${counts}`, problems: [] };
  // A run marked not ok without a reason would leave the reader guessing; say so rather than print nothing.
  const problems = summary.problems.length > 0 ? summary.problems : ['the run was marked not ok without a stated problem'];
  return { ok: false, headline: `NOT OK: ${counts}`, problems };
}

/** Formats ms since start as seconds with one decimal, the unit every renderer uses for time. */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
