/**
 * Unit-tests an adapter's `send` and `probe` without a network: a recording HTTP client that answers every request
 * with a fixed 2xx, the way functions/runtime/http-client.ts resolves (non-2xx and transport failures are the
 * runtime's business, tested in test/functions/runtime/). Used by the adapter tests, including the ones
 * `npm run add:integration` writes.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { HttpClient, HttpRequest, HttpResponse } from '../../functions/runtime/http-client.js';
import type { AdapterDefinition, SendResult } from '../../functions/runtime/integration-definition.js';

/** A 2xx answer of the fake provider. */
export interface FakeAnswer {
  readonly status?: number;
  readonly body?: unknown;
}

/** An HTTP client that records each request and answers it with `answer` (a fixed answer, or one per request). */
export function recordingHttp(answer: FakeAnswer | ((request: HttpRequest) => FakeAnswer) = {}): { http: HttpClient; requests: HttpRequest[] } {
  const requests: HttpRequest[] = [];
  const request = async <T>(call: HttpRequest): Promise<HttpResponse<T>> => {
    requests.push(call);
    const { status = 200, body } = typeof answer === 'function' ? answer(call) : answer;
    if (status < 200 || status > 299) throw new RangeError(`recordingHttp answers 2xx only (got ${status}): the runtime turns other statuses into errors`);
    return { status, headers: {}, body: body as T };
  };
  const http: HttpClient = {
    request,
    get: (path, options) => request({ method: 'GET', path, ...options }),
    delete: (path, options) => request({ method: 'DELETE', path, ...options }),
    post: (path, body, options) => request({ method: 'POST', path, body, ...options }),
    put: (path, body, options) => request({ method: 'PUT', path, body, ...options }),
    patch: (path, body, options) => request({ method: 'PATCH', path, body, ...options }),
  };
  return { http, requests };
}

const silent = new Logger({ serviceName: 'adapter-test', logLevel: 'SILENT' });

/** Runs the adapter's `send` for an already validated input against {@link recordingHttp}. */
export async function sendWith<TInput>(
  definition: AdapterDefinition<TInput, SendResult>,
  input: TInput,
  answer: FakeAnswer | ((request: HttpRequest) => FakeAnswer) = {},
): Promise<{ result: SendResult; requests: HttpRequest[] }> {
  const { http, requests } = recordingHttp(answer);
  const idempotencyKey = `test:${definition.idempotencyKey(input)}`;
  const result = await definition.send(input, { http, logger: silent, correlationId: 'test-correlation-id', idempotencyKey });
  return { result, requests };
}
