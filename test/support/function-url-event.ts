/** Lambda Function URL events (payload v2) and answers, for the tests of local/sandbox/function-url/. */
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** What a test sets of a Function URL request. */
export interface FunctionUrlRequest {
  readonly method?: string;
  /** Raw path, e.g. `/helpdesk/tickets`. */
  readonly path: string;
  /** Raw query string, without `?`. */
  readonly query?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly cookies?: readonly string[];
  /** A string body, or a JSON value (sent as JSON with its content type unless one is given). */
  readonly body?: unknown;
  /** Send the body base64-encoded, as Function URLs do for binary content types. */
  readonly base64?: boolean;
}

/** A Function URL event as Lambda delivers it: lower-case header names, the body as text or base64. */
export function functionUrlEvent(request: FunctionUrlRequest): APIGatewayProxyEventV2 {
  const method = request.method ?? (request.body === undefined ? 'GET' : 'POST');
  const json = request.body !== undefined && typeof request.body !== 'string';
  const text = request.body === undefined ? undefined : json ? JSON.stringify(request.body) : (request.body as string);
  const headers: Record<string, string> = {
    host: 'abcdefghij.lambda-url.us-east-1.on.aws',
    'x-forwarded-proto': 'https',
    ...(json ? { 'content-type': 'application/json' } : {}),
    ...Object.fromEntries(Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value])),
  };
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: request.path,
    rawQueryString: request.query ?? '',
    headers,
    ...(request.cookies ? { cookies: [...request.cookies] } : {}),
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abcdefghij',
      domainName: 'abcdefghij.lambda-url.us-east-1.on.aws',
      domainPrefix: 'abcdefghij',
      http: { method, path: request.path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'integration-hub-test' },
      requestId: 'req-1',
      routeKey: '$default',
      stage: '$default',
      time: '01/Jan/2030:12:00:00 +0000',
      timeEpoch: Date.UTC(2030, 0, 1, 12),
    },
    ...(text === undefined ? {} : { body: request.base64 ? Buffer.from(text, 'utf8').toString('base64') : text }),
    isBase64Encoded: request.base64 === true,
  };
}

/** The structured answer (the handler never answers a bare string). */
export function structured(result: APIGatewayProxyResultV2): APIGatewayProxyStructuredResultV2 {
  if (typeof result === 'string') throw new Error(`expected a structured Function URL answer, got the string ${result}`);
  return result;
}

/** The JSON body of an answer. */
export function jsonBody<T = Record<string, unknown>>(result: APIGatewayProxyResultV2): T {
  const { body, isBase64Encoded } = structured(result);
  return JSON.parse(isBase64Encoded ? Buffer.from(body ?? '', 'base64').toString('utf8') : (body ?? '')) as T;
}
