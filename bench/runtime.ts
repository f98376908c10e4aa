/**
 * `npm run bench:runtime` — what the runtime costs per message, against a bare handler.
 *
 * 2,000 CRM `FileUploaded` messages in batches of 10 go through the real runtime (dynalite, the sandbox with
 * 50 ms of added latency per call, Secrets Manager answered in memory behind the real Powertools cache) and
 * through a bare handler that only parses the body and POSTs the same request with `fetch`. Both run in this
 * process, one batch after the other like one Lambda instance; dynalite and the sandbox run in a child process
 * so that the CPU measured here is the handlers' own. Writes bench/results/runtime.json and prints a table.
 *
 * Options (environment): BENCH_MESSAGES (2000), BENCH_RUNS (5), BENCH_LATENCY_MS (50).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Logger } from '@aws-lambda-powertools/logger';
import { crm, toCrmFile, type FileUploaded } from '../functions/integrations/crm.js';
import { SecretsManagerSecretSource } from '../functions/runtime/secrets-manager-secret-source.js';
import { countCalls } from '../local/dynamo-call-counter.js';
import { lambdaContext, type LocalMessage, sqsEvent } from '../local/lambda-events.js';
import { localDynamoClient } from '../local/local-dynamo.js';
import { createHubTables, createLocalIntegration } from '../local/local-integration.js';
import { createLocalSecretsManager } from '../local/local-secrets-manager.js';
import { startBackends } from './support/backends.js';
import { catalogIntegration } from '../lib/catalog.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 50);
const BATCH_SIZE = 10;

const backends = await startBackends(LATENCY_MS);
const dynamoClient = localDynamoClient(backends.dynamoEndpoint);
const dynamoCalls = countCalls(dynamoClient);
const secretsManager = createLocalSecretsManager({ 'crm/credentials': backends.crmCredentials });
let httpCalls = 0;
const countingFetch: typeof fetch = (input, init) => {
  httpCalls += 1;
  return fetch(input, init);
};

function fileEvents(runId: string): FileUploaded[] {
  return Array.from({ length: MESSAGES }, (_, i) => ({
    fileId: `${runId}-${i}`,
    version: 1,
    name: `report-${i}.pdf`,
    mimeType: 'application/pdf',
    sizeBytes: 1000 + i,
    uploadedBy: { email: 'bench@example.com' },
    uploadedAt: '2026-11-20T10:00:00Z',
    tags: ['bench'],
  }));
}

function batches(events: FileUploaded[]): LocalMessage[][] {
  const result: LocalMessage[][] = [];
  for (let i = 0; i < events.length; i += BATCH_SIZE) {
    result.push(events.slice(i, i + BATCH_SIZE).map((event) => ({ body: JSON.stringify(event) })));
  }
  return result;
}

/** One cold "Lambda instance" of the runtime: new caches, shared tables. */
function runtimeInstance(tables: { ledger: string; circuits: string }) {
  return createLocalIntegration(crm, {
    name: 'crm',
    auth: catalogIntegration('crm').auth,
    dynamo: { client: dynamoClient },
    tables,
    baseUrl: backends.crmUrl,
    secrets: new SecretsManagerSecretSource({ client: secretsManager.client }),
    logger: new Logger({ serviceName: 'integration-hub', logLevel: 'SILENT' }),
    fetch: countingFetch,
  });
}

interface Measured {
  wallMs: number;
  cpuMicros: number;
}

async function measure(work: () => Promise<void>): Promise<Measured> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await work();
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { wallMs, cpuMicros: cpu.user + cpu.system };
}

async function runRuntime(tables: { ledger: string; circuits: string }, events: FileUploaded[]): Promise<Measured> {
  const instance = runtimeInstance(tables);
  return measure(async () => {
    for (const batch of batches(events)) {
      const response = await instance.runtime.handleBatch(sqsEvent(batch), lambdaContext('bench-crm', 60_000));
      if (response.batchItemFailures.length > 0) throw new Error(`runtime reported ${response.batchItemFailures.length} failures`);
    }
  });
}

async function baselineToken(): Promise<string> {
  const { clientId, clientSecret } = backends.crmCredentials;
  const response = await fetch(`${backends.crmUrl}/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

/** The bare handler: parse, POST, read the answer. No validation, idempotency, ledger, breaker or retries. */
async function runBaseline(token: string, events: FileUploaded[]): Promise<Measured> {
  return measure(async () => {
    for (const batch of batches(events)) {
      await Promise.all(
        batch.map(async (message) => {
          const event = JSON.parse(message.body) as FileUploaded;
          const response = await fetch(`${backends.crmUrl}/files`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify(toCrmFile(event)),
          });
          if (!response.ok) throw new Error(`baseline call failed: ${response.status}`);
          await response.json();
        }),
      );
    }
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

try {
  const token = await baselineToken();
  // Warm-up: module loading, JIT, connection pools.
  const warmTables = { ledger: 'ledger-warm', circuits: 'circuits-warm' };
  await createHubTables({ client: dynamoClient }, warmTables);
  await runRuntime(warmTables, fileEvents('warm').slice(0, 100));
  await runBaseline(token, fileEvents('warm-baseline').slice(0, 100));

  const runtimeRuns: Measured[] = [];
  const baselineRuns: Measured[] = [];
  let writes = 0;
  let reads = 0;
  let secretsCalls = 0;
  let runtimeHttpCalls = 0;
  let tables = warmTables;
  for (let run = 1; run <= RUNS; run += 1) {
    tables = { ledger: `ledger-${run}`, circuits: `circuits-${run}` };
    await createHubTables({ client: dynamoClient }, tables);
    dynamoCalls.reset();
    const secretsBefore = secretsManager.getSecretValueCalls();
    const httpBefore = httpCalls;
    runtimeRuns.push(await runRuntime(tables, fileEvents(`run${run}`)));
    writes += dynamoCalls.writes();
    reads += dynamoCalls.reads();
    secretsCalls += secretsManager.getSecretValueCalls() - secretsBefore;
    runtimeHttpCalls += httpCalls - httpBefore;
    baselineRuns.push(await runBaseline(token, fileEvents(`base${run}`)));
    process.stderr.write(`run ${run}/${RUNS}: runtime ${runtimeRuns.at(-1)?.wallMs.toFixed(0)} ms, baseline ${baselineRuns.at(-1)?.wallMs.toFixed(0)} ms\n`);
  }

  // A completed duplicate, delivered to a warm instance (its circuit state cached, like a container in use).
  const warm = runtimeInstance(tables);
  const first = fileEvents(`run${RUNS}`)[0] as FileUploaded;
  await warm.runtime.handleBatch(sqsEvent([{ body: JSON.stringify({ ...first, fileId: 'dup-warmup' }) }]), lambdaContext('bench-crm'));
  dynamoCalls.reset();
  const httpBeforeDuplicate = httpCalls;
  await warm.runtime.handleBatch(sqsEvent([{ body: JSON.stringify(first), receiveCount: 2 }]), lambdaContext('bench-crm'));
  const duplicateDynamodbCalls = dynamoCalls.writes() + dynamoCalls.reads();
  const duplicateDynamodbBreakdown = Object.fromEntries(dynamoCalls.counts);
  const duplicateHttpCalls = httpCalls - httpBeforeDuplicate;
  if (warm.metrics.total('IdempotentReplay') !== 1) throw new Error('the duplicate was not answered as a replay');

  const totalMessages = MESSAGES * RUNS;
  const ratios = runtimeRuns.map((r, i) => r.wallMs / (baselineRuns[i] as Measured).wallMs);
  const result = {
    benchmark: 'runtime',
    command: 'npm run bench:runtime',
    messages: MESSAGES,
    runs: RUNS,
    batchSize: BATCH_SIZE,
    providerLatencyMs: LATENCY_MS,
    dynamodbWritesPerMessage: round(writes / totalMessages, 4),
    dynamodbReadsPerMessage: round(reads / totalMessages, 4),
    secretsCallsPerMessage: round(secretsCalls / totalMessages, 5),
    httpCallsPerMessage: round(runtimeHttpCalls / totalMessages, 4),
    duplicateDeliveryDynamodbCalls: duplicateDynamodbCalls,
    duplicateDeliveryDynamodbBreakdown: duplicateDynamodbBreakdown,
    duplicateDeliveryHttpCalls: duplicateHttpCalls,
    overheadRatio: round(median(ratios), 3),
    overheadRatios: ratios.map((r) => round(r, 3)),
    runtimeWallMsMedian: round(median(runtimeRuns.map((r) => r.wallMs)), 1),
    baselineWallMsMedian: round(median(baselineRuns.map((r) => r.wallMs)), 1),
    cpuMicrosPerMessage: round(median(runtimeRuns.map((r) => r.cpuMicros / MESSAGES)), 1),
    baselineCpuMicrosPerMessage: round(median(baselineRuns.map((r) => r.cpuMicros / MESSAGES)), 1),
    environment: { node: process.version, cpus: os.cpus().length, platform: `${os.platform()} ${os.arch()}` },
    notes: [
      'DynamoDB calls exclude table creation; reads include circuit-state refreshes (cache TTL 2 s).',
      'dynalite ignores ReturnValuesOnConditionCheckFailure, so a duplicate costs a refused write plus a read here; on DynamoDB the refused write returns the item (1 call).',
      'Logger at SILENT and metrics recorded in memory in both handlers; the baseline reuses one OAuth token fetched up front.',
    ],
  };

  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/runtime.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
  const rows: [string, string | number][] = [
    ['messages (per run × runs)', `${MESSAGES} × ${RUNS}`],
    ['dynamodbWritesPerMessage', result.dynamodbWritesPerMessage],
    ['dynamodbReadsPerMessage', result.dynamodbReadsPerMessage],
    ['secretsCallsPerMessage', result.secretsCallsPerMessage],
    ['duplicateDeliveryDynamodbCalls', result.duplicateDeliveryDynamodbCalls],
    ['duplicateDeliveryHttpCalls', result.duplicateDeliveryHttpCalls],
    ['overheadRatio (median)', result.overheadRatio],
    ['runtime wall ms (median)', result.runtimeWallMsMedian],
    ['baseline wall ms (median)', result.baselineWallMsMedian],
    ['cpuMicrosPerMessage', result.cpuMicrosPerMessage],
    ['baselineCpuMicrosPerMessage', result.baselineCpuMicrosPerMessage],
  ];
  console.log(['| metric | value |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n'));
} finally {
  dynamoClient.destroy();
  await backends.stop();
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
