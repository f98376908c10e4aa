/**
 * The webhooks part of the demo (demo-scenario.ts): every catalog integration that declares webhooks gets signed
 * deliveries from the sandbox provider serving it (serving-provider.ts; what the events say is the provider's:
 * local/sandbox/webhook-events.ts), sent to the hub's endpoint with the secret the hub checks
 * (LocalHub.webhookSigningSecret) by a webhook sender (local/sandbox/webhook-sender.ts). Some deliveries are replayed,
 * some tampered with after signing, some signed too long ago (past the scheme's tolerance) — which ones is drawn from
 * the demo seed.
 *
 * Then each endpoint is accounted for: its own figures (LocalWebhookServer.stats()), cross-checked against what the
 * senders were answered and against the webhook ids that reached the bus (LocalWebhookServer.forwardedIds()). A
 * tampered or late delivery on the bus, an accepted delivery not on it, or one on it twice is a problem of the run.
 */
import { DEFAULT_TOLERANCE_SECONDS } from '../../functions/webhooks/webhook-scheme.js';
import type { ResolvedIntegration } from '../../lib/catalog.js';
import type { Sandbox } from '../sandbox/index.js';
import { SeededRandom } from '../sandbox/random.js';
import { providerWebhookEvents } from '../sandbox/webhook-events.js';
import { createWebhookSender, type WebhookDelivery, type WebhookSendOptions, type WebhookSender } from '../sandbox/webhook-sender.js';
import type { WebhookSummary } from './hub-timeline.js';
import type { LocalHub } from './local-hub.js';
import type { WebhookEndpointStats } from './local-webhooks.js';
import { servingProviderOf } from './serving-provider.js';

/** Deliveries per integration when the demo does not say. */
export const DEFAULT_WEBHOOK_DELIVERIES = 10;

/** How late a `late` delivery is signed: this much past the scheme's tolerance. */
const LATE_MARGIN_SECONDS = 300;

/** One integration's webhooks in a run: its sender and what each delivery was meant to be. */
export interface DemoWebhookRun {
  readonly integration: string;
  readonly scheme: string;
  readonly sender: WebhookSender;
  /** The tolerance the endpoint applies, seconds. */
  readonly toleranceSeconds: number;
  /** The endpoint's figures before the round (a hub may have taken webhooks before): the round's are the difference. */
  readonly statsBefore: WebhookEndpointStats;
  /** How many events the endpoint had forwarded before the round. */
  readonly forwardedBefore: number;
}

/**
 * Which misbehaviour each of `count` deliveries gets: about a fifth replayed, a fifth tampered, a tenth late (at least
 * one of each from 4 deliveries on), at positions drawn from `random`; the rest are plain.
 */
export function planMisbehaviour(count: number, random: SeededRandom, lateBySeconds: number): WebhookSendOptions[] {
  const at = (share: number) => (count >= 4 ? Math.max(1, Math.round(count * share)) : 0);
  const kinds: WebhookSendOptions[] = [
    ...Array.from({ length: at(0.2) }, () => ({ duplicate: true })),
    ...Array.from({ length: at(0.2) }, () => ({ tamper: true })),
    ...Array.from({ length: at(0.1) }, () => ({ lateBySeconds })),
  ];
  const plan: WebhookSendOptions[] = Array.from({ length: count }, () => ({}));
  const free = Array.from({ length: count }, (_, n) => n);
  for (const kind of kinds.slice(0, count)) plan[free.splice(random.int(free.length), 1)[0]!] = kind;
  return plan;
}

/**
 * Sends each webhook-declaring integration's deliveries to the hub and waits until every one has ended (retries
 * included). Integrations the hub serves no endpoint for are left out.
 */
export async function sendDemoWebhooks(
  hub: LocalHub,
  sandbox: Sandbox,
  catalog: readonly ResolvedIntegration[],
  options: { readonly seed: number; readonly deliveries?: number },
): Promise<DemoWebhookRun[]> {
  const server = hub.webhooks;
  if (!server) return [];
  const runs: DemoWebhookRun[] = [];
  for (const entry of catalog) {
    const webhooks = entry.webhooks;
    if (!webhooks || !server.integrations.includes(entry.name)) continue;
    const random = new SeededRandom(options.seed, `demo-webhooks:${entry.name}`);
    const events = await providerWebhookEvents(servingProviderOf(entry).name, {
      sandbox,
      random,
      types: webhooks.events,
      count: options.deliveries ?? DEFAULT_WEBHOOK_DELIVERIES,
    });
    const toleranceSeconds = webhooks.scheme.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
    const statsBefore = server.stats().find((row) => row.integration === entry.name)!;
    const forwardedBefore = server.forwardedIds(entry.name).length;
    const sender = createWebhookSender({
      url: server.urlOf(entry.name),
      scheme: webhooks.scheme,
      signingSecret: hub.webhookSigningSecret(entry.name),
      seed: options.seed,
      // Short retry delays: a delivery the endpoint could not take now (503) is retried within the demo.
      baseDelayMs: 50,
    });
    const misbehaviour = planMisbehaviour(events.length, random, toleranceSeconds + LATE_MARGIN_SECONDS);
    await Promise.all(events.map((event, n) => sender.send(event, misbehaviour[n])));
    await sender.drain();
    runs.push({ integration: entry.name, scheme: webhooks.scheme.scheme, sender, toleranceSeconds, statsBefore, forwardedBefore });
  }
  return runs;
}

/** The webhooks table of the run, each problem found added to `problems`. */
export function accountWebhooks(hub: LocalHub, runs: readonly DemoWebhookRun[], problems: string[]): WebhookSummary[] {
  const server = hub.webhooks;
  if (!server) return [];
  const stats = new Map(server.stats().map((row) => [row.integration, row]));
  return runs.map((run) => {
    const endpoint = difference(stats.get(run.integration)!, run.statsBefore);
    const deliveries = run.sender.deliveries();
    const onBus = countBy(server.forwardedIds(run.integration).slice(run.forwardedBefore));
    const where = `${run.integration} webhooks`;
    const unverified = deliveries.filter((delivery) => isUnverified(delivery, run) && onBus.has(delivery.id));
    const accepted = deliveries.filter(wasAccepted);
    const notForwarded = accepted.filter((delivery) => !onBus.has(delivery.id));
    const twice = [...onBus.values()].filter((times) => times > 1).length;
    if (unverified.length > 0) problems.push(`${where}: ${unverified.length} tampered or late deliver${unverified.length === 1 ? 'y' : 'ies'} reached the bus`);
    if (notForwarded.length > 0) problems.push(`${where}: ${notForwarded.length} accepted deliver${notForwarded.length === 1 ? 'y' : 'ies'} did not reach the bus`);
    if (twice > 0) problems.push(`${where}: ${twice} deliver${twice === 1 ? 'y' : 'ies'} reached the bus more than once (a replay forwarded again)`);
    for (const delivery of deliveries) {
      const expected = expectedOutcome(delivery, run);
      const got = delivery.outcome === 'refused' ? `refused (${delivery.error ?? delivery.status})` : delivery.outcome;
      if (got !== expected) problems.push(`${where}: delivery ${delivery.seq} (${describe(delivery)}) ended ${got}, expected ${expected}`);
    }
    // The endpoint's figures and the senders' records must tell the same story.
    const summary = run.sender.summary();
    const refusedBySender = Object.values(summary.refusedBy).reduce((a, b) => a + b, 0);
    const requests = deliveries.reduce((n, delivery) => n + delivery.attempts.length, 0);
    if (endpoint.received !== requests) problems.push(`${where}: the endpoint received ${endpoint.received} requests, the provider sent ${requests}`);
    if (endpoint.forwarded !== accepted.length) problems.push(`${where}: the endpoint forwarded ${endpoint.forwarded}, the provider was answered accepted ${accepted.length} times`);
    if (endpoint.rejected !== refusedBySender) problems.push(`${where}: the endpoint rejected ${endpoint.rejected}, the provider was refused ${refusedBySender} times`);
    if (endpoint.duplicates !== summary.byOutcome.duplicate) problems.push(`${where}: the endpoint dropped ${endpoint.duplicates} duplicates, the provider was answered duplicate ${summary.byOutcome.duplicate} times`);
    return {
      integration: run.integration,
      scheme: run.scheme,
      sent: deliveries.length,
      received: endpoint.received,
      accepted: accepted.length,
      duplicates: endpoint.duplicates,
      rejected: endpoint.rejected,
      rejectedBy: endpoint.rejectedBy,
      forwarded: endpoint.forwarded,
      unverifiedForwarded: unverified.length,
      acceptedNotForwarded: notForwarded.length,
      forwardedTwice: twice,
    };
  });
}

/** Tampered after signing, or signed past the endpoint's tolerance: must never reach the bus. */
function isUnverified(delivery: WebhookDelivery, run: DemoWebhookRun): boolean {
  return delivery.options.tamper || delivery.options.lateBySeconds > run.toleranceSeconds;
}

/** The endpoint answered `accepted` to one of its first requests (a replay is answered `duplicate`). */
function wasAccepted(delivery: WebhookDelivery): boolean {
  return delivery.attempts.some((attempt) => !attempt.replay && attempt.answer === 'accepted');
}

/** How a delivery must end: refused with the reason when unverified, `duplicate` when replayed, else `accepted`. */
function expectedOutcome(delivery: WebhookDelivery, run: DemoWebhookRun): string {
  if (delivery.options.tamper) return 'refused (bad_signature)';
  if (delivery.options.lateBySeconds > run.toleranceSeconds) return 'refused (timestamp_out_of_tolerance)';
  return delivery.options.duplicate ? 'duplicate' : 'accepted';
}

function describe(delivery: WebhookDelivery): string {
  const { tamper, lateBySeconds, duplicate } = delivery.options;
  const traits = [tamper ? 'tampered' : '', lateBySeconds > 0 ? `${lateBySeconds} s late` : '', duplicate ? 'replayed' : ''].filter(Boolean);
  return [delivery.type, ...traits].join(', ');
}

/** The endpoint's figures since `before`. */
function difference(now: WebhookEndpointStats, before: WebhookEndpointStats): WebhookEndpointStats {
  const rejectedBy: Record<string, number> = {};
  for (const [reason, count] of Object.entries(now.rejectedBy)) {
    const since = count - (before.rejectedBy[reason] ?? 0);
    if (since > 0) rejectedBy[reason] = since;
  }
  return {
    integration: now.integration,
    received: now.received - before.received,
    forwarded: now.forwarded - before.forwarded,
    duplicates: now.duplicates - before.duplicates,
    rejected: now.rejected - before.rejected,
    rejectedBy,
    notAccepted: now.notAccepted - before.notAccepted,
  };
}

function countBy(ids: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}
