/**
 * The webhook benchmark's load generator (bench/webhooks.ts): sends prepared requests to one URL with a fixed number
 * in flight (a closed loop: each of `concurrency` workers sends its next request as soon as its previous answer has
 * been read) and times each one as the sender sees it, from just before the request is written to the end of the
 * answer. It uses node:http with a keep-alive agent rather than fetch, so the generator's own CPU per request stays
 * small next to what it measures, and a reused connection means no TCP handshake is timed.
 */
import { Agent, request as httpRequest } from 'node:http';
import { percentile } from './statistics.js';

/** One request to send: headers and body exactly as signed. */
export interface LoadRequest {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The answer to one request. */
export interface LoadAnswer {
  /** The HTTP status, or `network_error` when no answer came. */
  readonly status: number | 'network_error';
  readonly body: string;
  /** Sender-observed latency, ms. */
  readonly latencyMs: number;
}

/** What one {@link runLoad} observed; `answers` are in the order of `requests`. */
export interface LoadRun {
  readonly answers: readonly LoadAnswer[];
  /** First request written → last answer read, ms. */
  readonly wallMs: number;
}

/** Latency and throughput of one run. */
export interface LoadSummary {
  readonly requests: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Answers per second of wall time. */
  readonly throughputPerSecond: number;
}

/** A keep-alive agent for one server: reuse it across warm-up and runs so every run starts with open connections. */
export function createLoadAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets });
}

/** Sends every request (POST) with `concurrency` in flight; never rejects for an answer or a network error. */
export async function runLoad(url: string, requests: readonly LoadRequest[], concurrency: number, agent: Agent): Promise<LoadRun> {
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError(`concurrency must be an integer >= 1 (got ${concurrency})`);
  const answers: LoadAnswer[] = new Array(requests.length);
  let next = 0;
  const worker = async () => {
    // Single-threaded: taking the index and incrementing it cannot interleave with another worker.
    for (let index = next++; index < requests.length; index = next++) answers[index] = await send(url, requests[index]!, agent);
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, worker));
  return { answers, wallMs: performance.now() - started };
}

function send(url: string, load: LoadRequest, agent: Agent): Promise<LoadAnswer> {
  return new Promise((resolve) => {
    const started = performance.now();
    const done = (status: LoadAnswer['status'], body: string) => resolve({ status, body, latencyMs: performance.now() - started });
    const request = httpRequest(url, { method: 'POST', agent, headers: { ...load.headers, 'content-length': String(Buffer.byteLength(load.body)) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => done(response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
      response.on('error', () => done('network_error', ''));
    });
    request.on('error', () => done('network_error', ''));
    request.end(load.body);
  });
}

/** p50, p99, max and throughput of a run. */
export function summarize(run: LoadRun): LoadSummary {
  const latencies = run.answers.map((answer) => answer.latencyMs);
  return {
    requests: latencies.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: Math.max(...latencies),
    throughputPerSecond: (latencies.length / run.wallMs) * 1000,
  };
}
