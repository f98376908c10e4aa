/**
 * `npm run bench:runtime` — what the runtime costs per message, against a bare handler.
 *
 * 2,000 CRM `FileUploaded` messages in batches of 10 go through the real runtime (the sandbox with 50 ms of added
 * latency per call, Secrets Manager answered in memory behind the real Powertools cache) and through a bare handler
 * that only parses the body and POSTs the same request with `fetch`. Everything runs in this process, one batch
 * after the other like one Lambda instance; dynalite and the sandbox run in a child process so that the CPU
 * measured here is the handlers' own. The runtime runs twice per run, against two DynamoDBs:
 *   - the latency model (support/dynamodb-latency-model.ts): the real SDK stack whose request handler answers from
 *     an in-memory table after a fixed latency (5 ms, 10 requests in flight) — DynamoDB's cost as the design meets
 *     it in a region, without dynalite's own speed and CPU in the figure; its CPU is profiled once more at the end;
 *   - dynalite over loopback, as the local hub runs it.
 * Writes bench/results/runtime.json and prints a table.
 *
 * Options (environment): BENCH_MESSAGES (2000), BENCH_RUNS (5), BENCH_LATENCY_MS (50), BENCH_MODEL_LATENCY_MS (5),
 * BENCH_DYNALITE (1; 0 skips the dynalite runs, for quick iterations on the model figures).
 */
import os from 'node:os';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { crm, toCrmFile, type FileUploaded } from '../functions/integrations/crm.js';
import { RUNTIME_DYNAMODB_CLIENT_CONFIG } from '../functions/runtime/dynamodb-items.js';
import { SecretsManagerSecretSource } from '../functions/runtime/secrets-manager-secret-source.js';
import { countCalls } from '../local/dynamo-call-counter.js';
import { lambdaContext, type LocalMessage, sqsEvent } from '../local/lambda-events.js';
import { localDynamoClient } from '../local/local-dynamo.js';
import { createHubTables, createLocalIntegration, type LocalTables } from '../local/local-integration.js';
import { createLocalSecretsManager } from '../local/local-secrets-manager.js';
import { startBackends } from './support/backends.js';
import { profileShares } from './support/cpu-profile.js';
import { DynamoDbLatencyModel } from './support/dynamodb-latency-model.js';
import { catalogIntegration } from '../lib/catalog.js';
import { median, round } from './support/statistics.js';
import { writeBenchResult } from './support/results.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 50);
const MODEL_LATENCY_MS = Number(process.env.BENCH_MODEL_LATENCY_MS ?? 5);
const WITH_DYNALITE = process.env.BENCH_DYNALITE !== '0';
const BATCH_SIZE = 10;
const MODEL_MAX_IN_FLIGHT = 10;

const backends = await startBackends(LATENCY_MS);
const dynamoClient = localDynamoClient(backends.dynamoEndpoint);
const dynamoCalls = countCalls(dynamoClient);
const model = new DynamoDbLatencyModel({ latencyMs: MODEL_LATENCY_MS, maxInFlight: MODEL_MAX_IN_FLIGHT });
// As a function's client is built (runtime-environment.ts), with the model in place of the network.
const modelClient = new DynamoDBClient({
  ...RUNTIME_DYNAMODB_CLIENT_CONFIG,
  region: 'us-east-1',
  credentials: { accessKeyId: 'model', secretAccessKey: 'model' },
  requestHandler: model,
});
const modelCalls = countCalls(modelClient);
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
function runtimeInstance(tables: LocalTables, client: DynamoDBClient = dynamoClient) {
  return createLocalIntegration(crm, {
    name: 'crm',
    auth: catalogIntegration('crm').auth,
    dynamo: { client },
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

async function runRuntime(tables: LocalTables, events: FileUploaded[], client: DynamoDBClient = dynamoClient): Promise<Measured> {
  const instance = runtimeInstance(tables, client);
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

/** The model's tables for one run (empty). */
function modelTables(name: string): LocalTables {
  const tables = { ledger: `ledger-${name}`, circuits: `circuits-${name}` };
  model.createTable(tables.ledger, { partitionKey: 'pk', sortKey: 'sk' });
  model.createTable(tables.circuits, { partitionKey: 'circuitId' });
  return tables;
}

/** A runtime run against the model; the model's own answering time is taken out of the CPU. */
async function runModel(tables: LocalTables, events: FileUploaded[]): Promise<Measured & { modelMicros: number }> {
  const answeringBefore = model.answeringMs;
  const measured = await runRuntime(tables, events, modelClient);
  const modelMicros = (model.answeringMs - answeringBefore) * 1000;
  return { wallMs: measured.wallMs, cpuMicros: measured.cpuMicros - modelMicros, modelMicros };
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


try {
  const token = await baselineToken();
  // Warm-up: module loading, JIT, connection pools.
  const warmTables = { ledger: 'ledger-warm', circuits: 'circuits-warm' };
  await runRuntime(modelTables('warm'), fileEvents('warm-model').slice(0, 200), modelClient);
  if (WITH_DYNALITE) {
    await createHubTables({ client: dynamoClient }, warmTables);
    await runRuntime(warmTables, fileEvents('warm').slice(0, 100));
  }
  await runBaseline(token, fileEvents('warm-baseline').slice(0, 100));

  const runtimeRuns: Measured[] = [];
  const modelRuns: (Measured & { modelMicros: number })[] = [];
  const baselineRuns: Measured[] = [];
  let writes = 0;
  let reads = 0;
  let modelWrites = 0;
  let modelReads = 0;
  let secretsCalls = 0;
  let runtimeHttpCalls = 0;
  let tables = warmTables;
  for (let run = 1; run <= RUNS; run += 1) {
    modelCalls.reset();
    modelRuns.push(await runModel(modelTables(`run${run}`), fileEvents(`model${run}`)));
    modelWrites += modelCalls.writes();
    modelReads += modelCalls.reads();
    baselineRuns.push(await runBaseline(token, fileEvents(`base${run}`)));
    if (WITH_DYNALITE) {
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
    }
    const ms = (m: Measured | undefined) => `${m?.wallMs.toFixed(0)} ms`;
    process.stderr.write(
      `run ${run}/${RUNS}: model ${ms(modelRuns.at(-1))}, baseline ${ms(baselineRuns.at(-1))}${WITH_DYNALITE ? `, dynalite ${ms(runtimeRuns.at(-1))}` : ''}\n`,
    );
  }

  // A completed duplicate, delivered to a warm instance (its circuit state cached, like a container in use).
  const duplicate = async (client: DynamoDBClient, calls: ReturnType<typeof countCalls>, runTables: LocalTables, runId: string) => {
    const warm = runtimeInstance(runTables, client);
    const first = fileEvents(runId)[0] as FileUploaded;
    await warm.runtime.handleBatch(sqsEvent([{ body: JSON.stringify({ ...first, fileId: 'dup-warmup' }) }]), lambdaContext('bench-crm'));
    calls.reset();
    const httpBefore = httpCalls;
    await warm.runtime.handleBatch(sqsEvent([{ body: JSON.stringify(first), receiveCount: 2 }]), lambdaContext('bench-crm'));
    if (warm.metrics.total('IdempotentReplay') !== 1) throw new Error('the duplicate was not answered as a replay');
    return { dynamodbCalls: calls.writes() + calls.reads(), breakdown: Object.fromEntries(calls.counts), httpCalls: httpCalls - httpBefore };
  };
  const modelDuplicate = await duplicate(modelClient, modelCalls, { ledger: `ledger-run${RUNS}`, circuits: `circuits-run${RUNS}` }, `model${RUNS}`);
  const dynaliteDuplicate = WITH_DYNALITE ? await duplicate(dynamoClient, dynamoCalls, tables, `run${RUNS}`) : undefined;

  // Where the runtime's CPU goes under the model: one more run, profiled (the profiler's own cost stays out of the
  // timed runs above).
  const profile = await profileShares(async () => {
    await runRuntime(modelTables('profile'), fileEvents('profile'), modelClient);
  });

  const totalMessages = MESSAGES * RUNS;
  const ratios = runtimeRuns.map((r, i) => r.wallMs / (baselineRuns[i] as Measured).wallMs);
  const modelRatios = modelRuns.map((r, i) => r.wallMs / (baselineRuns[i] as Measured).wallMs);
  const baselineCpuMs = median(baselineRuns.map((r) => r.cpuMicros / MESSAGES)) / 1000;
  const modelResult = {
    dynamodbLatencyMs: MODEL_LATENCY_MS,
    maxInFlight: MODEL_MAX_IN_FLIGHT,
    overheadRatio: round(median(modelRatios), 3),
    overheadRatios: modelRatios.map((r) => round(r, 3)),
    runtimeWallMsMedian: round(median(modelRuns.map((r) => r.wallMs)), 1),
    baselineWallMsMedian: round(median(baselineRuns.map((r) => r.wallMs)), 1),
    cpuPerMessageMs: {
      runtime: round(median(modelRuns.map((r) => r.cpuMicros / MESSAGES)) / 1000, 3),
      baseline: round(baselineCpuMs, 3),
    },
    modelAnsweringCpuPerMessageMs: round(median(modelRuns.map((r) => r.modelMicros / MESSAGES)) / 1000, 3),
    dynamodbWritesPerMessage: round(modelWrites / totalMessages, 4),
    dynamodbReadsPerMessage: round(modelReads / totalMessages, 4),
    duplicateDeliveryDynamodbCalls: modelDuplicate.dynamodbCalls,
    duplicateDeliveryDynamodbBreakdown: modelDuplicate.breakdown,
    duplicateDeliveryHttpCalls: modelDuplicate.httpCalls,
    profile,
  };
  const dynaliteResult = WITH_DYNALITE
    ? {
        dynamodbWritesPerMessage: round(writes / totalMessages, 4),
        dynamodbReadsPerMessage: round(reads / totalMessages, 4),
        secretsCallsPerMessage: round(secretsCalls / totalMessages, 5),
        httpCallsPerMessage: round(runtimeHttpCalls / totalMessages, 4),
        duplicateDeliveryDynamodbCalls: dynaliteDuplicate?.dynamodbCalls,
        duplicateDeliveryDynamodbBreakdown: dynaliteDuplicate?.breakdown,
        duplicateDeliveryHttpCalls: dynaliteDuplicate?.httpCalls,
        overheadRatio: round(median(ratios), 3),
        overheadRatios: ratios.map((r) => round(r, 3)),
        runtimeWallMsMedian: round(median(runtimeRuns.map((r) => r.wallMs)), 1),
        baselineWallMsMedian: round(median(baselineRuns.map((r) => r.wallMs)), 1),
        cpuMicrosPerMessage: round(median(runtimeRuns.map((r) => r.cpuMicros / MESSAGES)), 1),
        baselineCpuMicrosPerMessage: round(baselineCpuMs * 1000, 1),
      }
    : { dynalite: 'skipped (BENCH_DYNALITE=0)' };
  const result = {
    benchmark: 'runtime',
    command: 'npm run bench:runtime',
    messages: MESSAGES,
    runs: RUNS,
    batchSize: BATCH_SIZE,
    providerLatencyMs: LATENCY_MS,
    ...dynaliteResult,
    model: modelResult,
    environment: { node: process.version, cpus: os.cpus().length, platform: `${os.platform()} ${os.arch()}` },
    notes: [
      'Top-level figures: the runtime against dynalite over loopback; `model`: the same runtime and SDK stack against the DynamoDB latency model (bench/support/dynamodb-latency-model.ts), in the same runs and against the same baseline runs.',
      "model.cpuPerMessageMs.runtime excludes the model's own answering time (modelAnsweringCpuPerMessageMs); profile shares are of one extra profiled model run, by the file of each sample's frame (a builtin counts for its caller).",
      'DynamoDB calls exclude table creation; reads include circuit-state refreshes (cache TTL 2 s).',
      'dynalite ignores ReturnValuesOnConditionCheckFailure, so a duplicate costs a refused write plus a read there; the model answers it as DynamoDB does (the refused write returns the item: 1 call).',
      'Logger at SILENT and metrics recorded in memory in both handlers; the baseline reuses one OAuth token fetched up front.',
    ],
  };

  writeBenchResult('runtime.json', result);
  const shares = Object.entries(profile.shares)
    .map(([part, share]) => `${part} ${(share * 100).toFixed(0)} %`)
    .join(', ');
  const rows: [string, string | number | undefined][] = [
    ['messages (per run × runs)', `${MESSAGES} × ${RUNS}`],
    [`model (${MODEL_LATENCY_MS} ms) overheadRatio (median)`, modelResult.overheadRatio],
    ['model cpu ms/message runtime / baseline', `${modelResult.cpuPerMessageMs.runtime} / ${modelResult.cpuPerMessageMs.baseline}`],
    ['model dynamodb writes / reads per message', `${modelResult.dynamodbWritesPerMessage} / ${modelResult.dynamodbReadsPerMessage}`],
    ['model duplicateDeliveryDynamodbCalls', modelResult.duplicateDeliveryDynamodbCalls],
    ['model profile shares', shares],
    ...(WITH_DYNALITE && 'overheadRatio' in dynaliteResult
      ? ([
          ['dynalite overheadRatio (median)', dynaliteResult.overheadRatio],
          ['dynalite dynamodbWritesPerMessage', dynaliteResult.dynamodbWritesPerMessage],
          ['dynalite dynamodbReadsPerMessage', dynaliteResult.dynamodbReadsPerMessage],
          ['dynalite secretsCallsPerMessage', dynaliteResult.secretsCallsPerMessage],
          ['dynalite duplicateDeliveryDynamodbCalls', dynaliteResult.duplicateDeliveryDynamodbCalls],
          ['dynalite runtime / baseline wall ms (median)', `${dynaliteResult.runtimeWallMsMedian} / ${dynaliteResult.baselineWallMsMedian}`],
          ['dynalite cpuMicrosPerMessage / baseline', `${dynaliteResult.cpuMicrosPerMessage} / ${dynaliteResult.baselineCpuMicrosPerMessage}`],
        ] as [string, string | number | undefined][])
      : []),
  ];
  console.log(['| metric | value |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n'));
} finally {
  dynamoClient.destroy();
  modelClient.destroy();
  await backends.stop();
}

