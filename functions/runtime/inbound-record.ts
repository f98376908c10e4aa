import { randomUUID } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import { PoisonMessageError } from './errors.js';
import type { QueueMessageRef } from './ports.js';
import type { SchemaError } from './schema.js';

/** One SQS record, unwrapped: the event payload and the facts the runtime logs and forwards. */
export interface InboundRecord {
  /** The business payload: the EventBridge `detail`, or the raw JSON body sent straight to SQS. */
  payload: unknown;
  /** How it arrived. */
  envelope: 'eventbridge' | 'raw';
  /** The EventBridge `detail-type`, when there is one. */
  detailType?: string;
  /** Message attribute `correlationId`, else the EventBridge event id, else a new UUID. */
  correlationId: string;
  /** SQS ApproximateReceiveCount: 1 on the first delivery. */
  receiveCount: number;
  /**
   * When the message first entered the queue, epoch ms: a copy handed back with a fresh receive count carries its
   * original's (attribute `hubFirstSentAt`), else SQS's SentTimestamp.
   */
  firstSentAt: number;
  message: QueueMessageRef;
  /** Set when the body cannot be read at all (not JSON, broken envelope): the message is poison. */
  unreadable?: PoisonMessageError;
}

/** Message attribute of a handed-back copy: when its original first entered the queue (epoch ms). */
export const FIRST_SENT_AT_ATTRIBUTE = 'hubFirstSentAt';

/** Message attribute of a handed-back copy: how many times it was handed back. */
export const HAND_BACKS_ATTRIBUTE = 'hubHandBacks';

/** Field of the payload that carries its schema version; events without it are version '1'. */
export const EVENT_VERSION_FIELD = 'schemaVersion';

/**
 * The EventBridge event envelope as a rule target receives it. Declared here rather than imported from Powertools'
 * parser: its schemas import zod whole (every locale included), which made up a third of each function's bundle
 * (bench/coldstart.ts). Built with zod/mini, whose functions (`z.optional(s)`) let the bundler keep only what is used;
 * classic zod's schemas carry every method and keep all of it (see schema.ts).
 */
const EventBridgeEnvelope = z.object({
  version: z.string(),
  id: z.string(),
  source: z.string(),
  account: z.string(),
  time: z.iso.datetime(),
  region: z.string(),
  resources: z.array(z.string()),
  'detail-type': z.string(),
  detail: z.unknown(),
  'replay-name': z.optional(z.string()),
});

/** Reads the SQS record: JSON, envelope detection, correlation id. Never throws: an unreadable body is reported. */
export function readInboundRecord(record: SQSRecord): InboundRecord {
  const attributes = stringAttributes(record);
  const message: QueueMessageRef = {
    messageId: record.messageId,
    receiptHandle: record.receiptHandle,
    eventSourceArn: record.eventSourceARN,
    body: record.body,
    attributes,
  };
  const receiveCount = Number.parseInt(record.attributes?.ApproximateReceiveCount ?? '1', 10) || 1;
  const firstSentAt = Number(attributes[FIRST_SENT_AT_ATTRIBUTE] ?? record.attributes?.SentTimestamp) || Date.now();
  const base = { message, receiveCount, firstSentAt, correlationId: attributes.correlationId ?? randomUUID() };

  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch (error) {
    const reason = `Message body is not valid JSON: ${(error as Error).message}`;
    return { ...base, payload: undefined, envelope: 'raw', unreadable: new PoisonMessageError('InvalidJson', reason) };
  }
  if (!looksLikeEventBridgeEvent(body)) return { ...base, payload: body, envelope: 'raw' };

  const parsed = z.safeParse(EventBridgeEnvelope, body);
  if (!parsed.success) {
    const reason = `Malformed EventBridge envelope: ${describeIssues(parsed.error)}`;
    return { ...base, payload: undefined, envelope: 'eventbridge', unreadable: new PoisonMessageError('ValidationFailed', reason) };
  }
  return {
    ...base,
    payload: parsed.data.detail,
    envelope: 'eventbridge',
    detailType: parsed.data['detail-type'],
    correlationId: attributes.correlationId ?? parsed.data.id,
  };
}

/** The payload's schema version ('1' when absent). */
export function eventVersionOf(payload: unknown): string {
  if (payload !== null && typeof payload === 'object' && EVENT_VERSION_FIELD in payload) {
    return String((payload as Record<string, unknown>)[EVENT_VERSION_FIELD]);
  }
  return '1';
}

/**
 * Summarises schema issues as `path: message` pairs. Values are deliberately left out: payloads may carry
 * personal data, and the summary travels into DLQ attributes and logs.
 */
export function describeIssues(error: SchemaError): string {
  return error.issues
    .slice(0, 10)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}

function looksLikeEventBridgeEvent(body: unknown): boolean {
  return body !== null && typeof body === 'object' && 'detail-type' in body && 'detail' in body && 'source' in body;
}

function stringAttributes(record: SQSRecord): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, attribute] of Object.entries(record.messageAttributes ?? {})) {
    if (attribute.stringValue !== undefined) result[name] = attribute.stringValue;
  }
  return result;
}
