import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../local/cli/cli.js';
import { CircuitNotClosedError, NotFoundError, OperatorError, UnknownCircuitError, UnknownIntegrationError } from '../../../local/cli/hub-operator.js';
import {
  HUB_INFO_FILE,
  type HubOperatorServer,
  LocalHubClient,
  readHubInfo,
  removeHubInfo,
  serveHubOperator,
  writeHubInfo,
} from '../../../local/cli/local-hub-http.js';
import { createOperator } from '../../../local/cli/operator-factory.js';
import { circuitView, FakeHubOperator } from './fake-hub-operator.js';

let operator: FakeHubOperator;
let server: HubOperatorServer;
let client: LocalHubClient;
const unexpected: unknown[] = [];

beforeAll(async () => {
  operator = new FakeHubOperator();
  server = await serveHubOperator(operator, { onUnexpectedError: (error) => unexpected.push(error) });
  client = new LocalHubClient(server.url);
});
afterAll(() => server.close());

describe('serveHubOperator + LocalHubClient', () => {
  it('serves on loopback', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('round-trips every method of the port with its arguments and result', async () => {
    const direct = new FakeHubOperator();
    expect(await client.describe()).toEqual(await direct.describe());
    expect(await client.send({ detailType: 'AlphaRequested', detail: { itemId: 'i' }, source: 'alpha.upstream' })).toEqual({ eventId: 'e-1', routedTo: ['alpha'] });
    expect(operator.sent).toEqual([{ detailType: 'AlphaRequested', detail: { itemId: 'i' }, source: 'alpha.upstream' }]);
    expect(await client.dlqList('alpha', { limit: 5 })).toEqual(await direct.dlqList('alpha', { limit: 5 }));
    expect(await client.dlqList('alpha')).toEqual(await direct.dlqList('alpha'));
    expect(await client.dlqShow('alpha', 'm-1')).toEqual(await direct.dlqShow('alpha', 'm-1'));
    expect(await client.circuitStatus()).toEqual(await direct.circuitStatus());
    expect(await client.circuitStatus('beta-two')).toEqual(await direct.circuitStatus('beta-two'));
    expect(await client.ledgerShow('item', 'i-1')).toEqual(await direct.ledgerShow('item', 'i-1'));
    expect(await client.workflowsList({ status: 'FAILED' })).toEqual(await direct.workflowsList({ status: 'FAILED' }));
    expect(await client.workflowsList()).toEqual(await direct.workflowsList());
    expect(await client.workflowsRedrive('order-o-1')).toEqual(await direct.workflowsRedrive('order-o-1'));
    expect(await client.circuitIsolate('beta-two', 'maintenance')).toEqual(await direct.circuitIsolate('beta-two', 'maintenance'));
    expect(await client.circuitReset('beta-two')).toEqual(await direct.circuitReset('beta-two'));
    expect(await client.dlqRedrive('alpha', { force: false })).toEqual({ integration: 'alpha', messages: 1 });
  });

  it('passes omitted optional arguments as absent, not null', async () => {
    operator.calls.length = 0;
    await client.circuitStatus();
    await client.dlqList('beta-two');
    expect(operator.calls).toEqual([
      { method: 'circuitStatus', args: [undefined] },
      { method: 'dlqList', args: ['beta-two', undefined] },
    ]);
  });

  it('keeps the class, message and fields of UnknownIntegrationError', async () => {
    const error = await client.dlqList('alpah').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownIntegrationError);
    expect(error).toMatchObject({ name: 'UnknownIntegrationError', message: "Unknown integration 'alpah'. The hub has: alpha, beta-two", integration: 'alpah', known: ['alpha', 'beta-two'] });
  });

  it('keeps the class, message and fields of UnknownCircuitError', async () => {
    const error = await client.circuitReset('alpah').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownCircuitError);
    expect(error).toMatchObject({ name: 'UnknownCircuitError', message: "Unknown circuit 'alpah'. The hub has: alpha, beta-two, gamma", circuit: 'alpah', known: ['alpha', 'beta-two', 'gamma'] });
  });

  it('keeps the class, message and fields of CircuitNotClosedError', async () => {
    operator.circuits.set('beta-two', circuitView('beta-two', 'isolated'));
    const error = await client.dlqRedrive('beta-two').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitNotClosedError);
    expect(error).toMatchObject({ integration: 'beta-two', state: 'isolated', message: expect.stringContaining("The circuit of 'beta-two' is isolated") });
    operator.circuits.set('beta-two', circuitView('beta-two'));
  });

  it('keeps NotFoundError and plain OperatorError', async () => {
    const notFound = await client.dlqShow('alpha', 'nope').catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(NotFoundError);
    expect((notFound as Error).message).toBe("Message nope is not in the DLQ of 'alpha'");
    const plain = await client.workflowsList({ workflow: 'nightly' }).catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(OperatorError);
    expect(plain).not.toBeInstanceOf(NotFoundError);
    expect((plain as Error).message).toBe("Unknown workflow 'nightly'. The hub has: order-saga, contact-sync");
  });

  it('turns an unexpected error of the hub into an OperatorError and reports it to the hub', async () => {
    const broken = new FakeHubOperator();
    broken.describe = async () => {
      throw new TypeError('cannot read x of undefined');
    };
    const seen: unknown[] = [];
    const brokenServer = await serveHubOperator(broken, { onUnexpectedError: (error) => seen.push(error) });
    try {
      const error = await new LocalHubClient(brokenServer.url).describe().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OperatorError);
      expect((error as Error).message).toBe('The local hub failed (TypeError): cannot read x of undefined');
      expect(seen).toHaveLength(1);
    } finally {
      await brokenServer.close();
    }
  });

  it('answers HTTP errors with the right status', async () => {
    const post = (path: string, init: RequestInit = {}) =>
      fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]', ...init });
    expect((await post('/operator/circuitReset', { body: '["alpah"]' })).status).toBe(404);
    expect((await post('/operator/dlqShow', { body: '["alpha","nope"]' })).status).toBe(404);
    expect((await post('/operator/launchMissiles')).status).toBe(404);
    expect((await post('/operator/describe', { body: '{"not":"an array"}' })).status).toBe(400);
    expect((await post('/operator/describe', { body: '[' })).status).toBe(400);
    expect((await post('/operator/describe', { headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    expect((await post('/operator/describe', { body: JSON.stringify(['x'.repeat(1024 * 1024 + 1)]) })).status).toBe(413);
    expect((await fetch(`${server.url}/operator/describe`)).status).toBe(404);
    const ok = await post('/operator/describe');
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { result: { target: string } }).result.target).toBe('local');
    expect(unexpected).toEqual([]);
  });

  it('refuses a request whose Host is not loopback (DNS rebinding)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/operator/describe`, { method: 'POST', headers: { host: 'evil.example:80', 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('[]');
    });
    expect(status).toBe(403);
  });

  it('says no hub is answering when the connection is refused', async () => {
    const gone = await serveHubOperator(new FakeHubOperator());
    await gone.close();
    const error = await new LocalHubClient(gone.url).describe().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperatorError);
    expect((error as Error).message).toBe(`No local hub is answering at ${gone.url}: start one with \`npm start -- --keep-running\``);
  });
});

describe('hub discovery (.hub/hub.json)', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'hub-cli-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('writes and reads the hub record', () => {
    const dir = tempDir();
    const info = { url: 'http://127.0.0.1:4321', pid: 42, startedAt: '2026-11-20T10:00:00.000Z' };
    const path = writeHubInfo(dir, info);
    expect(path).toBe(join(dir, '.hub', 'hub.json'));
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(info);
    expect(readHubInfo(dir)).toEqual(info);
  });

  it('says how to start a hub when there is no record', () => {
    const dir = tempDir();
    expect(() => readHubInfo(dir)).toThrow(OperatorError);
    expect(() => readHubInfo(dir)).toThrow(`No local hub is running (no ${join(dir, HUB_INFO_FILE)}): start one with \`npm start -- --keep-running\`, or pass --url <url>`);
  });

  it('rejects a record that is not a hub', () => {
    const dir = tempDir();
    mkdirSync(join(dir, '.hub'));
    writeFileSync(join(dir, HUB_INFO_FILE), '{"url":');
    expect(() => readHubInfo(dir)).toThrow(/is not valid JSON/);
    writeFileSync(join(dir, HUB_INFO_FILE), '{"url":"http://x"}');
    expect(() => readHubInfo(dir)).toThrow(/does not describe a hub/);
  });

  it('removes the record only for the hub that wrote it', () => {
    const dir = tempDir();
    writeHubInfo(dir, { url: 'http://127.0.0.1:1', pid: 7, startedAt: 'now' });
    removeHubInfo(dir, 8);
    expect(readHubInfo(dir).pid).toBe(7);
    removeHubInfo(dir, 7);
    expect(() => readHubInfo(dir)).toThrow(/No local hub is running/);
    expect(() => removeHubInfo(dir, 7)).not.toThrow();
  });

  it('runs the CLI against the hub the record names, errors included', async () => {
    const dir = tempDir();
    writeHubInfo(dir, { url: server.url, pid: process.pid, startedAt: new Date().toISOString() });
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) } };
    const factory = (target: Parameters<typeof createOperator>[0]) => createOperator(target, dir);

    expect(await runCli(['--local', 'circuit', 'status', 'alpha'], io, factory)).toBe(0);
    expect(out.join('')).toMatch(/^CIRCUIT\s+STATE/);

    expect(await runCli(['--local', 'dlq', 'list', 'nope'], io, factory)).toBe(1);
    expect(err.join('')).toBe("error: Unknown integration 'nope'. The hub has: alpha, beta-two\n");
  });

  it('fails with the start hint when --local finds no record', async () => {
    const dir = tempDir();
    const err: string[] = [];
    const io = { stdout: { write: () => true }, stderr: { write: (t: string) => err.push(t) } };
    expect(await runCli(['circuit', 'status', '--local'], io, (target) => createOperator(target, dir))).toBe(1);
    expect(err.join('')).toContain('error: No local hub is running');
  });
});
