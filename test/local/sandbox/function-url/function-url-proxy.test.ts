/**
 * The translation between Function URL requests and the sandbox (local/sandbox/function-url/function-url-proxy.ts), without a
 * sandbox: what is forwarded, how control requests are recognized, what comes back, and the start memo.
 */
import { describe, expect, it, vi } from 'vitest';
import { ConfigurationError } from '../../../../functions/runtime/errors.js';
import {
  CONTROL_TOKEN_HEADER,
  controlTokenMatches,
  createSandboxProxy,
  functionUrlResult,
  onceSuccessful,
  sandboxRequest,
} from '../../../../local/sandbox/function-url/function-url-proxy.js';
import { functionUrlEvent, jsonBody } from '../../../support/function-url-event.js';

const SANDBOX = 'http://127.0.0.1:40123';

describe('a Function URL request as the sandbox gets it', () => {
  it('keeps method, raw path and raw query string, on the sandbox origin', () => {
    const request = sandboxRequest(functionUrlEvent({ method: 'GET', path: '/crm/files', query: 'externalRef=a%20b&x=1' }), SANDBOX);
    expect(request?.url.href).toBe(`${SANDBOX}/crm/files?externalRef=a%20b&x=1`);
    expect(request?.init.method).toBe('GET');
    expect(request?.controlPlane).toBe(false);
  });

  it('decodes a base64 body and passes a text body as it is; a GET carries none', () => {
    const bytes = (init: RequestInit | undefined) => Buffer.from(init?.body as Buffer | string).toString('utf8');
    expect(bytes(sandboxRequest(functionUrlEvent({ path: '/helpdesk/tickets', body: { subject: 'é' }, base64: true }), SANDBOX)?.init)).toBe('{"subject":"é"}');
    expect(sandboxRequest(functionUrlEvent({ path: '/helpdesk/tickets', body: 'a=1' }), SANDBOX)?.init.body).toBe('a=1');
    expect(sandboxRequest(functionUrlEvent({ method: 'GET', path: '/helpdesk/health', body: 'ignored' }), SANDBOX)?.init.body).toBeUndefined();
  });

  it('forwards the headers but the hop-by-hop ones, host, length and the control token; cookies go back into cookie', () => {
    const event = functionUrlEvent({
      path: '/_sandbox/journal',
      headers: { authorization: 'Bearer t', 'idempotency-key': 'k-1', connection: 'keep-alive', 'transfer-encoding': 'chunked', 'content-length': '12', [CONTROL_TOKEN_HEADER]: 'secret-token' },
      cookies: ['a=1', 'b=2'],
    });
    const headers = sandboxRequest(event, SANDBOX)?.init.headers;
    expect(headers).toMatchObject({ authorization: 'Bearer t', 'idempotency-key': 'k-1', 'x-forwarded-proto': 'https', cookie: 'a=1; b=2', connection: 'close' });
    expect(Object.keys(headers ?? {})).not.toContain('host');
    expect(Object.keys(headers ?? {})).not.toContain('transfer-encoding');
    expect(Object.keys(headers ?? {})).not.toContain('content-length');
    expect(Object.keys(headers ?? {})).not.toContain(CONTROL_TOKEN_HEADER);
  });

  it('recognizes a control request as the sandbox server routes it, also when only normalization makes it one', () => {
    const control = (path: string) => sandboxRequest(functionUrlEvent({ path }), SANDBOX)?.controlPlane;
    expect(control('/_sandbox/faults')).toBe(true);
    expect(control('/_sandbox')).toBe(true);
    expect(control('/helpdesk/../_sandbox/faults')).toBe(true);
    expect(control('/helpdesk/%2e%2e/_sandbox/faults')).toBe(true);
    expect(control('/helpdesk\\..\\_sandbox/faults')).toBe(true);
    expect(control('/helpdesk/_sandbox')).toBe(false);
    expect(control('/%5Fsandbox/faults')).toBe(false);
  });

  it('refuses a path that would leave the sandbox origin', () => {
    expect(sandboxRequest(functionUrlEvent({ path: '@attacker.example/x' }), SANDBOX)).toBeUndefined();
  });
});

describe('a sandbox answer as the Function URL returns it', () => {
  it('returns status, headers and a JSON body as text, without hop-by-hop headers and with cookies apart', async () => {
    const headers = new Headers({ 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'req_1', 'keep-alive': 'timeout=5' });
    headers.append('set-cookie', 'a=1');
    headers.append('set-cookie', 'b=2');
    const result = await functionUrlResult(new Response('{"id":"helpdesk_1"}', { status: 201, headers }));
    expect(result).toEqual({
      statusCode: 201,
      headers: { 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'req_1' },
      cookies: ['a=1', 'b=2'],
      body: '{"id":"helpdesk_1"}',
      isBase64Encoded: false,
    });
  });

  it('base64-encodes a body that is not text', async () => {
    const bytes = Buffer.from([0, 255, 1, 254]);
    const result = await functionUrlResult(new Response(bytes, { status: 200, headers: { 'content-type': 'application/octet-stream' } }));
    expect(result).toMatchObject({ isBase64Encoded: true, body: bytes.toString('base64') });
  });
});

describe('the control token', () => {
  it('matches only the exact token', () => {
    const token = 'a-control-token-of-some-length';
    expect(controlTokenMatches(token, token)).toBe(true);
    expect(controlTokenMatches(`${token}x`, token)).toBe(false);
    expect(controlTokenMatches(token.slice(0, -1), token)).toBe(false);
    expect(controlTokenMatches(undefined, token)).toBe(false);
    expect(controlTokenMatches('', '')).toBe(false);
  });
});

describe('starting once', () => {
  it('shares one start between callers, and starts again after a failure', async () => {
    const start = vi.fn<() => Promise<string>>().mockRejectedValueOnce(new Error('secret unreadable')).mockResolvedValue('started');
    const sandbox = onceSuccessful(start);

    await expect(sandbox()).rejects.toThrow('secret unreadable');
    expect(await Promise.all([sandbox(), sandbox()])).toEqual(['started', 'started']);
    expect(await sandbox()).toBe('started');
    expect(start).toHaveBeenCalledTimes(2);
  });
});

describe('a start that fails', () => {
  it('is reported (the handler logs it) and answered 503 with every problem; the next request starts again', async () => {
    const failure = ConfigurationError.listing('try-stage sandbox configuration', ["integration 'helpdesk': Could not read secret 'try/helpdesk': AccessDeniedException"]);
    const start = vi.fn<() => Promise<{ baseUrl: string; controlToken: string }>>().mockRejectedValueOnce(failure).mockResolvedValue({ baseUrl: SANDBOX, controlToken: 't' });
    const onStartFailure = vi.fn();
    const fetchFn = vi.fn<typeof fetch>().mockResolvedValue(new Response('{"status":"ok"}', { status: 200, headers: { 'content-type': 'application/json' } }));
    const proxy = createSandboxProxy({ start, onStartFailure, fetch: fetchFn });

    const failed = await proxy(functionUrlEvent({ path: '/helpdesk/health' }));
    expect(failed.statusCode).toBe(503);
    expect(jsonBody(failed)).toEqual({ error: { code: 'sandbox_not_started', message: failure.message, problems: failure.problems } });
    expect(onStartFailure).toHaveBeenCalledWith(failure);
    expect(fetchFn).not.toHaveBeenCalled();

    expect((await proxy(functionUrlEvent({ path: '/helpdesk/health' }))).statusCode).toBe(200);
    expect(fetchFn.mock.calls[0]?.[0]).toEqual(new URL(`${SANDBOX}/helpdesk/health`));
  });
});
