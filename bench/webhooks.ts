/**
 * `npm run bench:webhooks` — the inbound webhook endpoint's acknowledgement latency and throughput, against a plain
 * "parse and 200" handler in the same run (bench/README.md says what is and is not emulated).
 *
 * Three processes: this one is the provider (the load generator, support/webhooks-load.ts); one serves the real
 * endpoint and the baseline (support/webhooks-servers.ts); one is the AWS side (dynalite and a PutEvents endpoint,
 * support/webhooks-aws-process.ts). Per concurrency level and run, each side gets its own fresh, uniquely identified,
 * pre-signed deliveries; the sides alternate which goes first. While measuring it checks that every endpoint answer
 * is 200 `accepted`, that the bus received each delivery exactly once, and finally that replaying a sample is
 * answered `duplicate` and forwards nothing. Writes bench/results/webhooks.json and prints a markdown table; exits 1
 * when a check failed.
 *
 * Options (environment): WEBHOOKS_DELIVERIES (2000 per run and side), WEBHOOKS_RUNS (3), WEBHOOKS_CONCURRENCY
 * ("1,16"), WEBHOOKS_WARMUP (300), WEBHOOKS_REPLAYS (50), WEBHOOKS_SCHEME (standard-webhooks | timestamped-hmac).
 */
import os from 'node:os';
import type { WebhookSchemeDeclaration } from '../functions/webhooks/webhook-declaration.js';
import { newSigningSecret } from '../local/sandbox/webhook-sender.js';
import type { BusCounts } from './support/webhooks-aws-process.js';
import { signedDeliveries, type SignedDelivery } from './support/webhooks-deliveries.js';
import { createLoadAgent, type LoadRun, type LoadSummary, runLoad, summarize } from './support/webhooks-load.js';
import { median } from './support/statistics.js';
import { forkBenchChild } from './support/webhooks-processes.js';
import { round } from './support/statistics.js';
import { writeBenchResult } from './support/results.js';

const DELIVERIES = Number(process.env.WEBHOOKS_DELIVERIES ?? 2000);
const RUNS = Number(process.env.WEBHOOKS_RUNS ?? 3);
const CONCURRENCY = (process.env.WEBHOOKS_CONCURRENCY ?? '1,16').split(',').map(Number);
const WARMUP = Number(process.env.WEBHOOKS_WARMUP ?? 300);
const REPLAYS = Number(process.env.WEBHOOKS_REPLAYS ?? 50);
const SCHEME: WebhookSchemeDeclaration =
  process.env.WEBHOOKS_SCHEME === 'timestamped-hmac' ? { scheme: 'timestamped-hmac', header: 'X-Bench-Signature' } : { scheme: 'standard-webhooks' };

type Side = 'endpoint' | 'baseline';
// Other work on the machine moves these figures; the load average says how busy it was.
const loadAverageAtStart = os.loadavg().map((load) => round(load, 2));
const signingSecret = newSigningSecret(SCHEME);
const problems: string[] = [];
const deliveriesOf = (idPrefix: string, count = DELIVERIES) => signedDeliveries({ scheme: SCHEME, signingSecret, count, idPrefix });

const aws = await forkBenchChild<{ dynamoEndpoint: string; eventsEndpoint: string; tableName: string }>('./webhooks-aws-process.ts', {});
const servers = await forkBenchChild<{ endpointUrl: string; baselineUrl: string }>(
  './webhooks-server-process.ts',
  { WEBHOOKS_SERVER_OPTIONS: JSON.stringify({ ...aws.info, scheme: SCHEME, signingSecret }) },
  true,
);
const url: Record<Side, string> = { endpoint: servers.info.endpointUrl, baseline: servers.info.baselineUrl };
const agents = { endpoint: createLoadAgent(Math.max(...CONCURRENCY)), baseline: createLoadAgent(Math.max(...CONCURRENCY)) };
const bus = () => aws.ask<BusCounts>('bus');
/** CPU ms both children used so far: which process a side costs (the endpoint's handler or dynalite). */
const cpuMs = async () => {
  const [server, awsSide] = await Promise.all([servers.ask<NodeJS.CpuUsage>('cpu'), aws.ask<NodeJS.CpuUsage>('cpu')]);
  return { server: (server.user + server.system) / 1000, aws: (awsSide.user + awsSide.system) / 1000 };
};

/** Answers that are not `200 { status: expected }` (the baseline answers `accepted` too). */
function wrongAnswers(run: LoadRun, expected: 'accepted' | 'duplicate'): string[] {
  return run.answers.flatMap((answer, n) => {
    const status = answer.status === 200 ? (JSON.parse(answer.body) as { status?: string }).status : undefined;
    return status === expected ? [] : [`#${n}: ${answer.status} ${answer.body.slice(0, 120)}`];
  });
}

/** Sends `deliveries` to one side; for the endpoint, checks each was forwarded exactly once. */
async function measure(side: Side, deliveries: SignedDelivery[], concurrency: number, label: string): Promise<Measured> {
  const before = side === 'endpoint' ? await bus() : undefined;
  const cpuBefore = await cpuMs();
  const ownBefore = process.cpuUsage();
  const run = await runLoad(url[side], deliveries, concurrency, agents[side]);
  const own = process.cpuUsage(ownBefore);
  const cpuAfter = await cpuMs();
  const wrong = wrongAnswers(run, 'accepted');
  if (wrong.length > 0) problems.push(`${label} ${side}: ${wrong.length} answers not 200 accepted, e.g. ${wrong[0]}`);
  if (before) {
    const after = await bus();
    const [entries, ids] = [after.entries - before.entries, after.webhookIds - before.webhookIds];
    if (entries !== deliveries.length || ids !== deliveries.length) problems.push(`${label}: ${deliveries.length} deliveries, ${entries} PutEvents entries for ${ids} new ids`);
  }
  const perDelivery = (ms: number) => ms / deliveries.length;
  return {
    ...summarize(run),
    serverCpuMsPerDelivery: perDelivery(cpuAfter.server - cpuBefore.server),
    awsCpuMsPerDelivery: perDelivery(cpuAfter.aws - cpuBefore.aws),
    loadGeneratorCpuMsPerDelivery: perDelivery((own.user + own.system) / 1000),
  };
}

/** One run's latency and throughput, and the CPU each child process spent per delivery. */
interface Measured extends LoadSummary {
  readonly serverCpuMsPerDelivery: number;
  readonly awsCpuMsPerDelivery: number;
  readonly loadGeneratorCpuMsPerDelivery: number;
}

interface SideFigures extends Omit<Measured, 'requests'> {
  readonly runs: readonly Measured[];
}

/** Medians over the runs of p50, p99 and throughput; the largest max of any run. */
function figuresOf(runs: Measured[]): SideFigures {
  const rounded = (run: Measured): Measured => ({
    requests: run.requests,
    p50Ms: round(run.p50Ms, 3),
    p99Ms: round(run.p99Ms, 3),
    maxMs: round(run.maxMs, 3),
    throughputPerSecond: round(run.throughputPerSecond, 1),
    serverCpuMsPerDelivery: round(run.serverCpuMsPerDelivery, 3),
    awsCpuMsPerDelivery: round(run.awsCpuMsPerDelivery, 3),
    loadGeneratorCpuMsPerDelivery: round(run.loadGeneratorCpuMsPerDelivery, 3),
  });
  return {
    p50Ms: round(median(runs.map((run) => run.p50Ms)), 3),
    p99Ms: round(median(runs.map((run) => run.p99Ms)), 3),
    maxMs: round(Math.max(...runs.map((run) => run.maxMs)), 3),
    throughputPerSecond: round(median(runs.map((run) => run.throughputPerSecond)), 1),
    serverCpuMsPerDelivery: round(median(runs.map((run) => run.serverCpuMsPerDelivery)), 3),
    awsCpuMsPerDelivery: round(median(runs.map((run) => run.awsCpuMsPerDelivery)), 3),
    loadGeneratorCpuMsPerDelivery: round(median(runs.map((run) => run.loadGeneratorCpuMsPerDelivery)), 3),
    runs: runs.map(rounded),
  };
}

try {
  // Warm-up: module loading, JIT, the secret cache, open keep-alive connections, dynalite's first writes.
  for (const side of ['endpoint', 'baseline'] as const) await measure(side, deliveriesOf(`warm-${side}`, WARMUP), Math.max(...CONCURRENCY), 'warm-up');

  const results = [];
  let lastEndpointRun: SignedDelivery[] = [];
  for (const concurrency of CONCURRENCY) {
    const summaries: Record<Side, Measured[]> = { endpoint: [], baseline: [] };
    for (let run = 1; run <= RUNS; run += 1) {
      // Alternating the order spreads any drift of the machine (dynalite's growing table, GC) over both sides.
      const order: Side[] = run % 2 ? ['endpoint', 'baseline'] : ['baseline', 'endpoint'];
      for (const side of order) {
        const deliveries = deliveriesOf(`c${concurrency}-r${run}-${side}`);
        summaries[side].push(await measure(side, deliveries, concurrency, `concurrency ${concurrency} run ${run}`));
        if (side === 'endpoint') lastEndpointRun = deliveries;
      }
      const [e, b] = [summaries.endpoint.at(-1)!, summaries.baseline.at(-1)!];
      process.stderr.write(
        `concurrency ${concurrency} run ${run}/${RUNS}: endpoint p50 ${e.p50Ms.toFixed(2)} ms ${e.throughputPerSecond.toFixed(0)}/s, baseline p50 ${b.p50Ms.toFixed(2)} ms ${b.throughputPerSecond.toFixed(0)}/s\n`,
      );
    }
    const endpoint = figuresOf(summaries.endpoint);
    const baseline = figuresOf(summaries.baseline);
    results.push({
      concurrency,
      endpoint,
      baseline,
      ratios: {
        p50: round(endpoint.p50Ms / baseline.p50Ms, 2),
        p99: round(endpoint.p99Ms / baseline.p99Ms, 2),
        throughput: round(endpoint.throughputPerSecond / baseline.throughputPerSecond, 3),
      },
    });
  }

  // Replays of already forwarded deliveries, byte for byte (a provider retrying after a lost answer).
  const sample = lastEndpointRun.slice(0, REPLAYS);
  const busBefore = await bus();
  const replayRun: LoadRun = await runLoad(url.endpoint, sample, Math.min(...CONCURRENCY), agents.endpoint);
  const extraForwards = (await bus()).entries - busBefore.entries;
  const notDuplicate = wrongAnswers(replayRun, 'duplicate');
  if (notDuplicate.length > 0) problems.push(`replay: ${notDuplicate.length} answers not 200 duplicate, e.g. ${notDuplicate[0]}`);
  if (extraForwards !== 0) problems.push(`replay: ${extraForwards} events forwarded again`);

  const busTotal = await bus();
  const result = {
    benchmark: 'webhooks',
    command: 'npm run bench:webhooks',
    at: new Date().toISOString(),
    machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', platform: `${os.platform()} ${os.arch()}`, loadAverageAtStart, loadAverageAtEnd: os.loadavg().map((load) => round(load, 2)) },
    parameters: {
      scheme: SCHEME.scheme,
      deliveriesPerRun: DELIVERIES,
      runs: RUNS,
      concurrency: CONCURRENCY,
      warmupDeliveries: WARMUP,
      replaySample: sample.length,
      bodyBytes: Buffer.byteLength(lastEndpointRun[0]?.body ?? ''),
    },
    results,
    replay: {
      sample: sample.length,
      answeredDuplicate: sample.length - notDuplicate.length,
      extraForwards,
      p50Ms: sample.length > 0 ? round(summarize(replayRun).p50Ms, 3) : null,
    },
    bus: { entries: busTotal.entries, distinctWebhookIds: busTotal.webhookIds },
    problems,
    notes: [
      'Latency is client-observed on 127.0.0.1 over keep-alive connections, from writing the request to reading the whole answer; throughput is answers per second of a run at a fixed number in flight (closed loop).',
      'Per concurrency: medians over the runs of p50, p99, throughput and CPU; maxMs is the largest of any run. Ratios are endpoint / baseline.',
      'CPU ms per delivery is process.cpuUsage() of the server process (endpoint or baseline handler) and of the AWS-side process (dynalite + PutEvents) and of the load generator over a run; the three share the machine’s cores, so their sum times the throughput shows how close a run came to saturating it.',
      'Endpoint: WebhookIngress from webhookIngressFromEnvironment with real DynamoDB and EventBridge SDK clients against dynalite and a local PutEvents endpoint in another process; Secrets Manager answered in memory behind the real cached secret source; INFO logs and EMF metrics written to a discarded stdout.',
      'Not emulated: API Gateway, Lambda (cold starts, one request per container), DynamoDB and EventBridge service latency (dynalite and the PutEvents endpoint answer over loopback).',
    ],
  };
  writeBenchResult('webhooks.json', result);

  const ms = (value: number) => value.toFixed(2);
  const lines = ['| in flight | side | p50 ms | p99 ms | max ms | deliveries/s | CPU ms/delivery: server, AWS side, load generator |', '| --- | --- | --- | --- | --- | --- | --- |'];
  for (const { concurrency, endpoint, baseline, ratios } of results) {
    for (const [side, f] of [['endpoint', endpoint], ['baseline', baseline]] as const) {
      lines.push(`| ${concurrency} | ${side} | ${ms(f.p50Ms)} | ${ms(f.p99Ms)} | ${ms(f.maxMs)} | ${f.throughputPerSecond.toFixed(0)} | ${ms(f.serverCpuMsPerDelivery)}, ${ms(f.awsCpuMsPerDelivery)}, ${ms(f.loadGeneratorCpuMsPerDelivery)} |`);
    }
    lines.push(`| ${concurrency} | **endpoint / baseline** | ×${ratios.p50} | ×${ratios.p99} | | ×${ratios.throughput} | |`);
  }
  console.log(lines.join('\n'));
  console.log(`\n${SCHEME.scheme}, ${DELIVERIES} deliveries × ${RUNS} runs per side and level; replay of ${sample.length}: ${result.replay.answeredDuplicate} duplicate, ${extraForwards} forwarded again.`);
  if (problems.length > 0) {
    console.error(`PROBLEMS:\n${problems.join('\n')}`);
    process.exitCode = 1;
  }
} finally {
  agents.endpoint.destroy();
  agents.baseline.destroy();
  await Promise.allSettled([servers.stop(), aws.stop()]);
}

