/**
 * The e-mail sandbox provider (`/email`): templated transactional messages, queued for delivery. Auth: bearer
 * token.
 *
 *   GET  /email/health        200 { status: 'ok' }                                              no auth
 *   POST /email/messages      { to, template, data? } -> 202 { id: 'msg_<n>', status: 'queued', to, template, createdAt }
 *                             -> 422 invalid_recipient when `to` ends with `@invalid.example`   idempotent
 *   GET  /email/messages      200 { data: Message[] } (every accepted message, in order; for inspection)
 *
 * Nothing is ever sent: accepted messages are kept for tests to read.
 */
import * as z from 'zod';
import { bearerAuth } from './credential-schemes.js';
import {
  describeIssue,
  errorResponse,
  invalidRequest,
  type JsonObject,
  type JsonValue,
  NO_FAULT_EXTRAS,
  type NoFaultExtras,
  type ProviderContext,
  type ProviderRoute,
  type RouteResponse,
  type SandboxProvider,
  HEALTH_ROUTE,
} from './provider.js';

/** The e-mail API token, as a secret store would hold it. */
export interface EmailCredentials {
  readonly token: string;
}

/** An accepted message. */
export interface EmailMessage {
  readonly id: string;
  readonly status: 'queued';
  readonly to: string;
  readonly template: string;
  readonly data: JsonObject;
  /** ISO-8601, sandbox clock. */
  readonly createdAt: string;
}

/** E-mail has no provider-specific fault options. */
export type EmailFaultExtras = NoFaultExtras;

/** The e-mail provider plus state inspection for tests. */
export interface EmailApi extends SandboxProvider<EmailCredentials, EmailFaultExtras> {
  /** Every accepted message, in order. */
  messages(): readonly EmailMessage[];
  /** One message by id. */
  message(id: string): EmailMessage | undefined;
}

/** Recipients in this domain are refused with 422 `invalid_recipient` (a deterministic permanent failure). */
export const INVALID_RECIPIENT_DOMAIN = '@invalid.example';

const messageSchema = z.strictObject({
  to: z.email().max(254),
  template: z.string().min(1).max(128),
  data: z.record(z.string(), z.json()).optional(),
});

/** Builds the e-mail provider. */
export function createEmailApi(context: ProviderContext): EmailApi {
  const secrets = context.random('credentials');
  const auth = bearerAuth({ field: 'token', mint: () => `em_${secrets.token(32)}`, principal: 'email-account' });
  const messages = new Map<string, EmailMessage>();
  let messageSeq = 0;

  const send = (body: unknown): RouteResponse => {
    const parsed = messageSchema.safeParse(body);
    if (!parsed.success) return invalidRequest(parsed.error.issues.map(describeIssue));
    const { to, template, data } = parsed.data;
    if (to.toLowerCase().endsWith(INVALID_RECIPIENT_DOMAIN)) {
      return errorResponse(422, 'invalid_recipient', `the recipient ${to} does not accept mail`);
    }
    messageSeq++;
    const message: EmailMessage = {
      id: `msg_${messageSeq}`,
      status: 'queued',
      to,
      template,
      // zod's json() output is JSON by construction.
      data: (data ?? {}) as JsonObject,
      createdAt: new Date(context.now()).toISOString(),
    };
    messages.set(message.id, message);
    return {
      status: 202,
      body: { id: message.id, status: message.status, to, template, createdAt: message.createdAt },
      sideEffect: { type: 'message', id: message.id },
    };
  };

  const routes: ProviderRoute[] = [
    HEALTH_ROUTE,
    { method: 'POST', path: '/messages', auth: 'required', body: 'json', idempotent: true, handle: (r) => send(r.body) },
    {
      method: 'GET',
      path: '/messages',
      auth: 'required',
      handle: () => ({ status: 200, body: { data: [...messages.values()].map(messageJson) } }),
    },
  ];

  return {
    name: 'email',
    routes,
    ...auth,
    ...NO_FAULT_EXTRAS,
    reset() {
      messages.clear();
      messageSeq = 0;
    },
    messages: () => [...messages.values()],
    message: (id) => messages.get(id),
  };
}

function messageJson(message: EmailMessage): JsonValue {
  return { ...message };
}
