/**
 * What each operator command does, against the {@link HubOperator} port only (so it is the same on AWS and on the
 * local hub), and how its result reads for a human. `--json` prints the port's result as is.
 */
import { resolve } from 'node:path';
import { INTEGRATIONS } from '../../lib/catalog.js';
import { WORKFLOWS } from '../../lib/workflow-catalog.js';
import type { LedgerEntry } from '../../functions/runtime/sync-ledger.js';
import { DEFAULT_EVENT_SOURCE } from './hub-operator.js';
import { type Invocation, UsageError } from './args.js';
import { fields, isoTime, oneLine, plural, table, time, truncate } from './format.js';
import type { CircuitView, DeadLetterMessage, HubOperator, RefreshTokenSetResult, WebhookActivity, WorkflowExecutionView } from './hub-operator.js';
import { isAwaitingReauthorization } from '../../functions/ops/ports.js';
import { refreshTokenProblem } from '../../functions/runtime/refresh-token-replacement.js';

/** A command ready to run: its input read and checked, its defaults applied. */
export type PreparedCommand =
  | Exclude<Invocation, { command: 'send' } | { command: 'circuit isolate' } | { command: 'auth set-refresh-token' }>
  | {
      readonly command: 'send';
      readonly detailType: string;
      readonly detail: Record<string, unknown>;
      readonly source: string;
      /** Where the source came from: --source, the catalog's route for the detail type, or the port's default. */
      readonly sourceFrom: 'option' | 'catalog' | 'default';
    }
  | { readonly command: 'circuit isolate'; readonly circuit: string; readonly reason: string }
  | { readonly command: 'auth set-refresh-token'; readonly circuit: string; readonly refreshToken: string };

/** What {@link prepareCommand} needs from the machine. */
export interface PrepareContext {
  /** Relative `@file` paths resolve against it. */
  readonly cwd: string;
  readonly readFile: (path: string) => string;
  /** Who runs the CLI, for the default isolate reason. */
  readonly user: string;
  /** Reads a secret from standard input (a prompt without echo on a terminal); local/cli/secret-input.ts. */
  readonly readSecret: (prompt: string) => Promise<string>;
}

/** What a command produced. */
export interface CommandOutput {
  /** The port's result, printed by --json. */
  readonly result: unknown;
  /** The human rendering. */
  readonly text: string;
  /** False when the hub answered but did not do what was asked (exit code 1). @default true */
  readonly ok?: boolean;
}

/**
 * Reads and checks a command's input before any hub is contacted, so bad input fails fast and the same way on both
 * targets: the detail of `send` (inline or @file, must be a JSON object), the refresh token of `auth
 * set-refresh-token` (standard input). Throws {@link UsageError}.
 */
export async function prepareCommand(invocation: Invocation, context: PrepareContext): Promise<PreparedCommand> {
  if (invocation.command === 'auth set-refresh-token') {
    const refreshToken = await context.readSecret(`Refresh token for ${invocation.circuit} (input hidden, Enter to finish): `);
    const problem = refreshTokenProblem(refreshToken);
    if (problem !== undefined) {
      // Never quotes the input: it may be a token with a typo.
      throw new UsageError(`The refresh token read from standard input is not valid: ${problem}. Pipe it in (… < token.txt) or paste it at the prompt.`);
    }
    return { ...invocation, refreshToken };
  }
  if (invocation.command === 'circuit isolate') {
    return { ...invocation, reason: invocation.reason?.trim() || `isolated by ${context.user} via CLI` };
  }
  if (invocation.command !== 'send') return invocation;
  const detail = readDetail(invocation.detail, context);
  const fromCatalog = catalogSourceFor(invocation.detailType);
  const source = invocation.source ?? fromCatalog ?? DEFAULT_EVENT_SOURCE;
  const sourceFrom = invocation.source !== undefined ? 'option' : fromCatalog !== undefined ? 'catalog' : 'default';
  return { command: 'send', detailType: invocation.detailType, detail, source, sourceFrom };
}

/** Parses the detail argument: inline JSON or `@path`. */
export function readDetail(argument: string, context: Pick<PrepareContext, 'cwd' | 'readFile'>): Record<string, unknown> {
  let text = argument;
  let where = 'the inline detail';
  if (argument.startsWith('@')) {
    const path = argument.slice(1);
    if (path === '') throw new UsageError('The detail file is missing after @ (use @path/to/event.json).');
    where = path;
    try {
      text = context.readFile(resolve(context.cwd, path));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
      throw new UsageError(`Cannot read the detail file ${path}: ${why}.`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const subject = where === 'the inline detail' ? 'The inline detail' : `The detail file ${where}`;
    throw new UsageError(`${subject} is not valid JSON: ${describeJsonError(error as Error, text)}.`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const kind = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
    throw new UsageError(`The detail (${where}) must be a JSON object ({…}), not ${kind}: EventBridge rules match fields of the detail.`);
  }
  return parsed as Record<string, unknown>;
}

/** V8's message, with the line and column of its "position N" when it does not say them (Node 20 does not). */
function describeJsonError(error: Error, text: string): string {
  const message = error.message.replace(/^JSON\.parse: /, '');
  const position = /at position (\d+)/.exec(message)?.[1];
  if (position === undefined || /line \d+/.test(message)) return message;
  const before = text.slice(0, Number(position));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `${message} (line ${line}, column ${column})`;
}

/**
 * The source the catalog routes a detail type from (first listed), so an event sent without --source reaches the
 * integration or workflow that handles it. Undefined when no route names the detail type.
 */
export function catalogSourceFor(detailType: string): string | undefined {
  const routes = [...INTEGRATIONS.flatMap((entry) => entry.routes), WORKFLOWS.orderSaga.trigger];
  return routes.find((route) => route.detailTypes.includes(detailType))?.sources[0];
}

/** Runs a prepared command against the hub. OperatorErrors propagate (the caller prints them). */
export async function executeCommand(operator: HubOperator, command: PreparedCommand): Promise<CommandOutput> {
  switch (command.command) {
    case 'describe': {
      const hub = await operator.describe();
      const text = fields([
        ['Hub', `${hub.target === 'aws' ? 'AWS' : 'local'}: ${hub.location}`],
        ['Integrations', hub.integrations.join(', ') || '(none)'],
        ['Workflows', hub.workflows.join(', ') || '(none)'],
        ['Circuits', hub.circuits.join(', ') || '(none)'],
      ]);
      return { result: hub, text };
    }
    case 'send': {
      const result = await operator.send({ detailType: command.detailType, detail: command.detail, source: command.source });
      const origin = command.sourceFrom === 'catalog' ? ", from the catalog's route" : '';
      const lines = [`Event ${result.eventId} put on the bus (detail-type ${command.detailType}, source ${command.source}${origin}).`];
      if (command.sourceFrom === 'default') {
        lines.push(`No route of the catalog names detail-type ${command.detailType}: unless the deployed hub has one, no rule delivers it.`);
      }
      if (result.routedTo) lines.push(result.routedTo.length > 0 ? `Delivered to: ${result.routedTo.join(', ')}` : 'No rule matched it: it was delivered nowhere.');
      return { result, text: lines.join('\n') };
    }
    case 'dlq list': {
      const messages = await operator.dlqList(command.integration, { limit: command.limit });
      if (messages.length === 0) return { result: messages, text: `No messages in the DLQ of ${command.integration}.` };
      const rows = messages.map((m) => [m.messageId, oneLine(m.attributes.errorClass), truncate(oneLine(m.attributes.errorMessage), 60), failedAt(m)]);
      const more = messages.length >= command.limit ? ` (the first ${command.limit}; --limit for more)` : '';
      const footer =
        `${plural(messages.length, 'message')}${more}. \`dlq show ${command.integration} <message-id>\` for one; ` +
        "no errorClass = moved by the queue's redrive policy after maxReceiveCount.";
      return { result: messages, text: `${table(['message id', 'error class', 'error message', 'failed at'], rows)}\n\n${footer}` };
    }
    case 'dlq show': {
      const message = await operator.dlqShow(command.integration, command.messageId);
      return { result: message, text: renderMessage(message) };
    }
    case 'dlq redrive': {
      const result = await operator.dlqRedrive(command.integration, { force: command.force, ...(command.rate !== undefined ? { maxMessagesPerSecond: command.rate } : {}) });
      const text = result.taskHandle
        ? `Redrive of ${result.integration} started: SQS move task ${result.taskHandle} moves the DLQ's ~${plural(result.messages, 'message')} ` +
          `back to its queue${command.rate !== undefined ? ` at up to ${command.rate}/s` : ''}. Follow it with \`aws sqs list-message-move-tasks --source-arn <DLQ ARN>\`.`
        : `Moved ${plural(result.messages, 'message')} from the DLQ of ${result.integration} back to its queue.`;
      return { result, text };
    }
    case 'circuit status': {
      const circuits = await operator.circuitStatus(command.circuit);
      return { result: circuits, text: renderCircuits(circuits) };
    }
    case 'circuit isolate': {
      const circuit = await operator.circuitIsolate(command.circuit, command.reason);
      return {
        result: circuit,
        text:
          `Circuit ${circuit.circuit} isolated ("${command.reason}"): no instance calls the provider until ` +
          `\`circuit reset ${circuit.circuit}\`.\n\n${renderCircuits([circuit])}`,
      };
    }
    case 'circuit reset': {
      const circuit = await operator.circuitReset(command.circuit);
      return { result: circuit, text: `Circuit ${circuit.circuit} reset: ${circuit.state}.\n\n${renderCircuits([circuit])}` };
    }
    case 'auth set-refresh-token': {
      const result = await operator.authSetRefreshToken(command.circuit, command.refreshToken);
      return { result, text: renderRefreshTokenSet(result) };
    }
    case 'ledger show': {
      const entries = await operator.ledgerShow(command.entityType, command.entityId, { fullLog: command.fullLog });
      if (entries.length === 0) {
        const text =
          `No ledger entry for ${command.entityType} ${command.entityId}: no integration has seen this entity ` +
          '(check the entity type: e.g. file for crm, payment or refund for payments).';
        return { result: entries, text };
      }
      return { result: entries, text: entries.map((entry) => renderLedgerEntry(entry, command.fullLog)).join('\n\n') };
    }
    case 'workflows list': {
      const executions = await operator.workflowsList({ workflow: command.workflow, status: command.status, limit: command.limit });
      if (executions.length === 0) return { result: executions, text: 'No executions.' };
      return { result: executions, text: renderExecutions(executions) };
    }
    case 'workflows redrive': {
      const result = await operator.workflowsRedrive(command.execution);
      const detail = result.detail ? ` (${result.detail})` : '';
      return {
        result,
        ok: result.redriven,
        text: result.redriven ? `Execution ${result.executionArn} redriven${detail}.` : `Execution ${result.executionArn} was not redriven${detail}.`,
      };
    }
    case 'webhooks': {
      const activity = await operator.webhooksList({
        integration: command.integration,
        limit: command.limit,
        rejectedOnly: command.rejectedOnly,
        since: Date.now() - command.sinceMs,
      });
      return { result: activity, text: renderWebhooks(activity, command.limit, command.rejectedOnly) };
    }
  }
}

// ---------------------------------------------------------------- rendering

function failedAt(message: DeadLetterMessage): string {
  return message.attributes.failedAt ? isoTime(message.attributes.failedAt) : time(message.sentAt);
}

function renderMessage(message: DeadLetterMessage): string {
  const lines = [
    fields([
      ['Message', message.messageId],
      ['Sent at', time(message.sentAt)],
      ['Receives', String(message.receiveCount)],
    ]),
    '',
    'Attributes:',
    Object.keys(message.attributes).length > 0
      ? fields(Object.entries(message.attributes).sort(([a], [b]) => a.localeCompare(b)), '  ')
      : '  (none: moved by the redrive policy)',
    '',
    'Body:',
    indent(prettyJson(message.body), '  '),
  ];
  return lines.join('\n');
}

function renderRefreshTokenSet(result: RefreshTokenSetResult): string {
  const { circuit, circuitAfter } = result;
  const lines = [
    `Stored a new refresh token for ${circuit} in secret ${result.secret} (a new secret version${result.droppedAccessToken ? '; the old grant\'s access token was dropped' : ''}).`,
  ];
  if (result.unsetFields.length > 0) {
    lines.push(`Warning: the secret's ${result.unsetFields.join(', ')} ${result.unsetFields.length === 1 ? 'is' : 'are'} missing or still the deploy placeholder: no refresh can succeed until set (docs/deploy.md).`);
  }
  if (isAwaitingReauthorization(circuitAfter)) {
    lines.push(`The circuit is isolated for re-authorization: the prober refreshes with the new token on its next run and closes it. Watch it with \`npm run hub -- circuit status ${circuit}\`.`);
  } else if (circuitAfter.state === 'isolated') {
    lines.push(`The circuit is isolated by an operator: it stays so until \`npm run hub -- circuit reset ${circuit}\`.`);
  } else {
    lines.push('The next call to the provider refreshes with it.');
  }
  return `${lines.join('\n')}\n\n${renderCircuits([circuitAfter])}`;
}

function renderCircuits(circuits: readonly CircuitView[]): string {
  if (circuits.length === 0) return 'The hub has no circuits.';
  const rows = circuits.map((c) => [
    c.circuit,
    c.state,
    c.effectiveState,
    time(c.stateSince),
    time(c.openUntil),
    String(c.consecutiveFailures),
    String(c.reopenCount),
    truncate(oneLine(c.stateReason), 60),
  ]);
  const notes = circuits
    .filter((c) => c.throttledUntil !== undefined && c.throttledUntil > Date.now())
    .map((c) => `${c.circuit}: throttled until ${time(c.throttledUntil)} (the provider's Retry-After)`);
  return [table(['circuit', 'state', 'effective', 'since', 'open until', 'failures', 'reopens', 'reason'], rows), ...notes].join('\n');
}

function renderLedgerEntry(entry: LedgerEntry, fullLog: boolean): string {
  const lastError = entry.lastErrorClass ? `${entry.lastErrorClass}${entry.lastErrorMessage ? `: ${entry.lastErrorMessage}` : ''}` : '-';
  const head = `${entry.entityType} ${entry.entityId} with ${entry.integration}`;
  const summary = fields(
    [
      ['status', entry.status],
      ['version', String(entry.entityVersion)],
      ['attempts', String(entry.attempts)],
      ['external id', entry.externalId ?? '-'],
      ...(entry.externalStatus ? [['external status', entry.externalStatus] as [string, string]] : []),
      ['updated', isoTime(entry.updatedAt)],
      ['synced', isoTime(entry.syncedAt)],
      ['last error', oneLine(lastError)],
      ['correlation id', entry.correlationId ?? '-'],
    ],
    '  ',
  );
  const log =
    entry.log.length === 0
      ? '(empty)'
      : table(
          ['at', 'event', 'version', 'attempt', 'error', 'external id', 'correlation id'],
          entry.log.map((l) => [
            isoTime(l.at),
            l.event,
            String(l.version),
            String(l.attempt),
            truncate(oneLine(l.errorClass ? `${l.errorClass}${l.errorMessage ? `: ${l.errorMessage}` : ''}` : undefined), 50),
            l.externalId ?? '-',
            l.correlationId,
          ]),
        );
  const archived =
    entry.archivedLogPages && !fullLog
      ? `\n    (${plural(entry.archivedLogPages, 'older page')} of this log archived: --full-log shows them)`
      : '';
  return `${head}\n${summary}\n  Audit log (oldest first):\n${indent(log, '    ')}${archived}`;
}

function renderExecutions(executions: readonly WorkflowExecutionView[]): string {
  const rows = executions.map((e) => [e.workflow, e.name, e.status, time(e.startedAt), time(e.stoppedAt), e.error ?? '-']);
  const failed = executions.some((e) => e.status === 'FAILED' || e.status === 'TIMED_OUT' || e.status === 'ABORTED');
  const hint = failed ? '\n\n`workflows list --json` shows the execution ARNs; `workflows redrive <arn>` resumes a failed one from where it failed.' : '';
  return `${table(['workflow', 'name', 'status', 'started', 'stopped', 'error'], rows)}${hint}`;
}

function renderWebhooks(activity: WebhookActivity, limit: number, rejectedOnly: boolean): string {
  const scope = `${activity.integrations.join(', ')} since ${time(activity.since)}`;
  const more = (count: number) => (count >= limit ? ` (the newest ${limit}; --limit for more)` : '');
  const sections: string[] = [];
  if (!rejectedOnly) {
    sections.push(
      activity.deliveries.length === 0
        ? `No webhook deliveries accepted for ${scope}.`
        : `Deliveries of ${scope}, newest first${more(activity.deliveries.length)}:\n` +
            table(
              ['at', 'integration', 'webhook id', 'event type', 'outcome', 'forwarded at'],
              activity.deliveries.map((d) => [time(d.at), d.integration, truncate(oneLine(d.webhookId), 40), truncate(oneLine(d.type), 40), d.outcome, time(d.forwardedAt)]),
            ),
    );
  }
  sections.push(
    activity.rejections.length === 0
      ? `No webhook rejections for ${scope}.`
      : `Rejections of ${scope}, newest first${more(activity.rejections.length)}:\n` +
          table(
            ['at', 'integration', 'reason', 'webhook id', 'detail'],
            activity.rejections.map((r) => [time(r.at), r.integration, r.reason, truncate(oneLine(r.webhookId), 40), truncate(oneLine(r.detail), 70)]),
          ),
  );
  const notes = [
    ...(activity.partial ? [`Partial: ${activity.partial}.`] : []),
    ...(activity.rejections.length > 0 ? ['A rejection\'s webhook id is the one the request claimed, unverified. Runbook: docs/runbooks/webhook-rejections.md'] : []),
  ];
  return [...sections, ...(notes.length > 0 ? [notes.join('\n')] : [])].join('\n\n');
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => `${prefix}${line}`)
    .join('\n');
}
