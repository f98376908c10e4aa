/**
 * The operator CLI's command line: every command, its arguments and options in one table, parsed with
 * `node:util` parseArgs, and the help generated from the same table, so the help cannot drift from what is accepted.
 *
 * Global options may appear anywhere (`hub --local dlq list crm` = `hub dlq list crm --local`). Anything the table
 * does not know is a {@link UsageError} that lists what exists.
 */
import { parseArgs } from 'node:util';
import type { WorkflowExecutionView } from './hub-operator.js';
import { MAX_REDRIVE_MESSAGES_PER_SECOND, OperatorError } from './hub-operator.js';
import { DEFAULT_STAGE } from '../../lib/stage-config.js';
import { INTEGRATIONS } from '../../lib/catalog.js';
import { wrap } from './format.js';

/** The command line is wrong (exit code 2). `usage` is the help of the command concerned, printed after the message. */
export class UsageError extends OperatorError {
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
  }
}

/** Which hub the command goes to. */
export type TargetOptions =
  | { readonly kind: 'aws'; readonly stage: string; readonly region?: string; readonly profile?: string }
  | { readonly kind: 'local'; readonly url?: string };

/** A valid command with its arguments. */
export type Invocation =
  | { readonly command: 'describe' }
  | { readonly command: 'send'; readonly detailType: string; readonly detail: string; readonly source?: string }
  | { readonly command: 'dlq list'; readonly integration: string; readonly limit: number }
  | { readonly command: 'dlq show'; readonly integration: string; readonly messageId: string }
  | { readonly command: 'dlq redrive'; readonly integration: string; readonly force: boolean; readonly rate?: number }
  | { readonly command: 'circuit status'; readonly circuit?: string }
  | { readonly command: 'circuit isolate'; readonly circuit: string; readonly reason?: string }
  | { readonly command: 'circuit reset'; readonly circuit: string }
  | { readonly command: 'auth set-refresh-token'; readonly circuit: string }
  | { readonly command: 'ledger show'; readonly entityType: string; readonly entityId: string; readonly fullLog: boolean }
  | {
      readonly command: 'workflows list';
      readonly workflow?: string;
      readonly status?: WorkflowExecutionView['status'];
      readonly limit: number;
    }
  | { readonly command: 'workflows redrive'; readonly execution: string }
  | {
      readonly command: 'webhooks';
      readonly integration?: string;
      readonly limit: number;
      readonly rejectedOnly: boolean;
      /** How far back to look, in milliseconds. */
      readonly sinceMs: number;
    };

/** What the command line asks for: help text to print, or a command to run. */
export type ParsedCommandLine =
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'run'; readonly invocation: Invocation; readonly target: TargetOptions; readonly json: boolean };

// ---------------------------------------------------------------- the table

interface OptionSpec {
  readonly type: 'boolean' | 'string';
  readonly short?: string;
  /** Placeholder of the value in the help. */
  readonly value?: string;
  readonly description: string;
}

interface ArgumentSpec {
  readonly name: string;
  readonly optional?: boolean;
  readonly description: string;
}

interface CommandSpec {
  /** `send`, `dlq list`, … */
  readonly name: Invocation['command'];
  readonly summary: string;
  /** Paragraphs after the usage line. */
  readonly description?: string;
  readonly args: readonly ArgumentSpec[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly examples: readonly string[];
}

const WORKFLOW_STATUSES: readonly WorkflowExecutionView['status'][] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'];

const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  local: { type: 'boolean', description: 'Operate the local hub of `npm start` (found through .hub/hub.json). Without it the CLI operates AWS.' },
  url: { type: 'string', value: 'url', description: 'Operate the local hub at this URL (implies --local).' },
  stage: { type: 'string', value: 'name', description: `AWS: the deployed stage, stages/<name>.json (default ${DEFAULT_STAGE}).` },
  region: { type: 'string', value: 'region', description: 'AWS: the region (default: AWS_REGION, then the profile\'s).' },
  profile: { type: 'string', value: 'name', description: 'AWS: a profile of ~/.aws/config (default: AWS_PROFILE, then the credential chain).' },
  json: { type: 'boolean', description: 'Print the result (or the error) as JSON instead of a table.' },
  help: { type: 'boolean', short: 'h', description: 'Show the help of the command.' },
};

/** An integration of the catalog that declares webhooks, for the help's example. */
const WEBHOOK_EXAMPLE = INTEGRATIONS.find((entry) => entry.webhooks !== undefined)?.name ?? '<integration>';

/** The longest `webhooks --since`: the webhook functions keep their logs a month (lib/constructs/service-function.ts). */
const MAX_WEBHOOK_WINDOW_DAYS = 30;

/** Refused with --local/--url. `rate`: the local hub moves a DLQ at once (a move task's rate is an SQS feature). */
const AWS_ONLY_OPTIONS = ['stage', 'region', 'profile', 'rate'] as const;

const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'describe',
    summary: 'Show what the hub is made of: its integrations, workflows and circuits.',
    args: [],
    options: {},
    examples: ['npm run hub -- describe --local', 'npm run hub -- describe --region eu-west-1'],
  },
  {
    name: 'send',
    summary: 'Put an event on the hub\'s bus.',
    description:
      'The detail is inline JSON or @path to a JSON file; it must be a JSON object. Without --source, the source is the ' +
      'one the catalog routes the detail type from (e.g. files.service for FileUploaded), so the event reaches its ' +
      'integration or workflow; a detail type no route names gets integration-hub.cli.',
    args: [
      { name: 'detail-type', description: 'The event\'s detail-type, e.g. FileUploaded.' },
      { name: 'json|@file', description: 'The detail: a JSON object, inline or in a file.' },
    ],
    options: { source: { type: 'string', value: 'source', description: 'The event\'s source (default: see above).' } },
    examples: [
      `npm run hub -- send FileUploaded '{"fileId":"f-1","version":1,"name":"a.pdf"}' --local`,
      'npm run hub -- send PaymentRequested @events/payment.json --source billing.service',
    ],
  },
  {
    name: 'dlq list',
    summary: 'List the messages waiting in an integration\'s DLQ, with the reason the runtime attached.',
    description:
      'On AWS the listing receives the messages with a visibility timeout of 0: they stay in the DLQ and visible, but ' +
      'their receive count in the DLQ goes up. SQS returns a sample per receive, so a large DLQ is listed in part.',
    args: [{ name: 'integration', description: 'e.g. crm' }],
    options: { limit: { type: 'string', value: 'n', description: 'At most this many messages (1-1000, default 10).' } },
    examples: ['npm run hub -- dlq list crm --local', 'npm run hub -- dlq list payments --limit 50 --json'],
  },
  {
    name: 'dlq show',
    summary: 'Show one DLQ message: its attributes (errorClass, errorMessage, correlationId, …) and body.',
    args: [
      { name: 'integration', description: 'e.g. crm' },
      { name: 'message-id', description: 'The id `dlq list` shows.' },
    ],
    options: {},
    examples: ['npm run hub -- dlq show crm 3f1c…'],
  },
  {
    name: 'dlq redrive',
    summary: 'Move the DLQ\'s messages back to the integration\'s queue.',
    description:
      'Refused while the integration\'s circuit is open, half-open or isolated: the messages would be parked or fail ' +
      'again. On AWS this starts an SQS message move task (StartMessageMoveTask) for the whole DLQ; follow it with ' +
      '`aws sqs list-message-move-tasks`.',
    args: [{ name: 'integration', description: 'e.g. crm' }],
    options: {
      force: { type: 'boolean', description: 'Redrive even though the circuit is not closed.' },
      rate: {
        type: 'string',
        value: 'n',
        description: `AWS only: at most n messages per second (1-${MAX_REDRIVE_MESSAGES_PER_SECOND}), to spare a provider that just recovered (default: the rate SQS chooses).`,
      },
    },
    examples: ['npm run hub -- dlq redrive crm --local', 'npm run hub -- dlq redrive payments --rate 20', 'npm run hub -- dlq redrive payments --force'],
  },
  {
    name: 'circuit status',
    summary: 'Show the shared circuits (each integration\'s and each workflow provider\'s), or one.',
    args: [{ name: 'circuit', optional: true, description: 'an integration (crm, payments) or a workflow provider (inventory, shipping, …); default: every circuit.' }],
    options: {},
    examples: ['npm run hub -- circuit status --local', 'npm run hub -- circuit status payments --json'],
  },
  {
    name: 'circuit isolate',
    summary: 'Force a circuit open (no instance or workflow task calls the provider) until `circuit reset`.',
    args: [{ name: 'circuit', description: 'an integration or a workflow provider, e.g. crm, shipping' }],
    options: { reason: { type: 'string', value: 'text', description: 'Why, stored with the circuit (default "isolated by <user> via CLI").' } },
    examples: [
      'npm run hub -- circuit isolate payments --reason "gateway maintenance until 14:00 UTC, INC-1234"',
      'npm run hub -- circuit isolate shipping --local --reason "carrier sandbox down"',
    ],
  },
  {
    name: 'circuit reset',
    summary: 'Close a circuit and clear its counters and grown break.',
    description: 'Do not reset a circuit while the provider still fails: the next calls re-open it after failureThreshold failures, with the break back at its shortest.',
    args: [{ name: 'circuit', description: 'an integration or a workflow provider, e.g. crm, shipping' }],
    options: {},
    examples: ['npm run hub -- circuit reset payments'],
  },
  {
    name: 'auth set-refresh-token',
    summary: 'Put a new OAuth2 refresh token into a circuit\'s secret after the customer re-authorized the hub.',
    description:
      'For circuits of auth scheme oauth2_refresh_token. The token is read from standard input, never from the ' +
      'command line (which shell history and the process list keep): pipe it in, or type or paste it at the prompt, ' +
      'which does not echo it. It is written as a new version of the secret, without the access token of the old ' +
      'grant, under the lease the functions elect a refresher with, so a refresh in flight cannot overwrite it. A ' +
      'circuit isolated with "re-authorization needed" closes by itself once the prober refreshes with the new token ' +
      '(its next run); `circuit status` shows it. Runbook: docs/runbooks/reauthorization-needed.md.',
    args: [{ name: 'circuit', description: 'an integration or a workflow provider whose auth scheme is oauth2_refresh_token' }],
    options: {},
    examples: [
      'npm run hub -- auth set-refresh-token crm --stage prod < refresh-token.txt',
      'npm run hub -- auth set-refresh-token crm --local        (then paste the token at the hidden prompt)',
    ],
  },
  {
    name: 'ledger show',
    summary: 'Show where an entity stands with every integration, and its audit log.',
    args: [
      { name: 'entity-type', description: 'e.g. file (crm), payment or refund (payments).' },
      { name: 'id', description: 'The entity\'s id, e.g. the file id.' },
    ],
    options: {
      'full-log': {
        type: 'boolean',
        description: 'The whole audit log: the pages archived out of the entry too (every 100 entries), oldest first.',
      },
    },
    examples: ['npm run hub -- ledger show file f-1 --local', 'npm run hub -- ledger show payment p-9 --full-log'],
  },
  {
    name: 'workflows list',
    summary: 'List the newest executions of the Step Functions workflows.',
    args: [],
    options: {
      workflow: { type: 'string', value: 'name', description: 'Only this workflow, e.g. order-saga.' },
      status: { type: 'string', value: 'status', description: `Only executions in this status: ${WORKFLOW_STATUSES.join(', ')}.` },
      limit: { type: 'string', value: 'n', description: 'At most this many executions (1-1000, default 50).' },
    },
    examples: ['npm run hub -- workflows list --status FAILED', 'npm run hub -- workflows list --workflow order-saga --local'],
  },
  {
    name: 'workflows redrive',
    summary: 'Redrive a failed, timed-out or aborted execution from the state that failed.',
    args: [{ name: 'execution', description: 'The execution ARN (or its name) from `workflows list`.' }],
    options: {},
    examples: ['npm run hub -- workflows redrive arn:aws:states:eu-west-1:123456789012:execution:OrderSaga…:order-o-1'],
  },
  {
    name: 'webhooks',
    summary: 'List recent webhook deliveries (accepted, duplicate) and rejections (with the reason), newest first.',
    description:
      'No secret or signature is shown: a rejection has its reason, its detail and the delivery id the request claimed. ' +
      'On AWS the deliveries come from a Scan of the webhook delivery table (small: its TTL drops each id after the ' +
      "provider's retry window) and the rejections and duplicates from the webhook functions' logs (FilterLogEvents); " +
      'the local hub keeps its last 500.',
    args: [{ name: 'integration', optional: true, description: 'an integration that declares webhooks; default: every one.' }],
    options: {
      limit: { type: 'string', value: 'n', description: 'At most this many deliveries and this many rejections (1-1000, default 20).' },
      rejected: { type: 'boolean', description: 'Only the rejections.' },
      since: { type: 'string', value: 'duration', description: `Look this far back: <n>m, <n>h or <n>d, at most ${MAX_WEBHOOK_WINDOW_DAYS}d (default 1h).` },
    },
    examples: [
      'npm run hub -- webhooks --local',
      `npm run hub -- webhooks ${WEBHOOK_EXAMPLE} --rejected --since 24h`,
      'npm run hub -- webhooks --limit 100 --json',
    ],
  },
];

const GROUPS: Readonly<Record<string, string>> = {
  dlq: 'Dead-letter queues of the integrations.',
  circuit: 'The shared circuit breakers of the integrations and workflow providers.',
  auth: 'Credentials the hub keeps for its providers.',
  ledger: 'The sync ledger: where each entity stands.',
  workflows: 'Executions of the Step Functions workflows.',
};

// ---------------------------------------------------------------- parsing

/**
 * Parses the arguments after `npm run hub --`. Returns help to print (for --help) or the command to run; throws a
 * {@link UsageError} for anything else.
 */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const allOptions: Record<string, { type: 'boolean' | 'string'; short?: string }> = {};
  for (const [name, spec] of [...Object.entries(GLOBAL_OPTIONS), ...COMMANDS.flatMap((c) => Object.entries(c.options))]) {
    allOptions[name] = { type: spec.type, ...(spec.short ? { short: spec.short } : {}) };
  }
  // Not strict: unknown options are reported below, with the options of the command they were given to.
  const { values, positionals, tokens } = parseArgs({ args: [...argv], options: allOptions, strict: false, allowPositionals: true, tokens: true });
  const help = values.help === true;

  const [first, second] = positionals;
  if (first === undefined) {
    if (help) return { kind: 'help', text: topHelp() };
    throw new UsageError('No command given.', topHelp());
  }
  if (first === 'help') return { kind: 'help', text: topHelp() };

  let spec: CommandSpec | undefined;
  let consumed = 1;
  if (Object.hasOwn(GROUPS, first)) {
    const subcommands = COMMANDS.filter((c) => c.name.startsWith(`${first} `));
    if (second === undefined) {
      if (help) return { kind: 'help', text: groupHelp(first) };
      throw new UsageError(`'${first}' needs a subcommand: ${subcommands.map((c) => c.name.split(' ')[1]).join(', ')}.`, groupHelp(first));
    }
    spec = subcommands.find((c) => c.name === `${first} ${second}`);
    if (!spec) {
      if (help) return { kind: 'help', text: groupHelp(first) };
      throw new UsageError(`Unknown subcommand '${first} ${second}'. '${first}' has: ${subcommands.map((c) => c.name.split(' ')[1]).join(', ')}.`, groupHelp(first));
    }
    consumed = 2;
  } else {
    spec = COMMANDS.find((c) => c.name === first);
    if (!spec) {
      if (help) return { kind: 'help', text: topHelp() };
      throw new UsageError(`Unknown command '${first}'. Commands: ${commandNames().join(', ')}.`, topHelp());
    }
  }
  if (help) return { kind: 'help', text: commandHelp(spec) };

  const usage = commandHelp(spec);
  const allowed = { ...GLOBAL_OPTIONS, ...spec.options };
  for (const token of tokens ?? []) {
    if (token.kind !== 'option') continue;
    const option = Object.hasOwn(allowed, token.name) ? allowed[token.name] : undefined;
    if (!option) {
      const known = Object.keys(allowed).map((name) => `--${name}`).join(', ');
      throw new UsageError(`Unknown option '${token.rawName}' for '${spec.name}'. Options: ${known}.`, usage);
    }
    // parseArgs (not strict) takes the next argument as the value even when it is an option (`--url --json`).
    const swallowedOption = !token.inlineValue && token.value?.startsWith('-') === true;
    if (option.type === 'string' && (token.value === undefined || swallowedOption)) {
      throw new UsageError(`Option --${token.name} needs a value (--${token.name} <${option.value ?? 'value'}>).`, usage);
    }
    if (option.type === 'boolean' && token.inlineValue) throw new UsageError(`Option --${token.name} takes no value.`, usage);
  }

  const given = positionals.slice(consumed);
  const required = spec.args.filter((a) => !a.optional);
  if (given.length < required.length) {
    const missing = required.slice(given.length).map((a) => `<${a.name}>`);
    throw new UsageError(`'${spec.name}' needs ${missing.join(' and ')}.`, usage);
  }
  if (given.length > spec.args.length) {
    throw new UsageError(`Too many arguments for '${spec.name}': ${given.slice(spec.args.length).map((a) => `'${a}'`).join(' ')}.`, usage);
  }

  const str = (name: string): string | undefined => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  return { kind: 'run', invocation: invocation(spec, given, str, values, usage), target: target(str, values, usage), json: values.json === true };
}

function invocation(
  spec: CommandSpec,
  args: readonly string[],
  str: (name: string) => string | undefined,
  values: Record<string, unknown>,
  usage: string,
): Invocation {
  const arg = (index: number): string => args[index]!;
  switch (spec.name) {
    case 'describe':
      return { command: 'describe' };
    case 'send':
      return { command: 'send', detailType: nonEmpty(arg(0), 'detail-type', usage), detail: arg(1), source: str('source') };
    case 'dlq list':
      return { command: 'dlq list', integration: arg(0), limit: positiveInteger('limit', str('limit'), 10, 1000, usage) };
    case 'dlq show':
      return { command: 'dlq show', integration: arg(0), messageId: arg(1) };
    case 'dlq redrive':
      return {
        command: 'dlq redrive',
        integration: arg(0),
        force: values.force === true,
        ...(str('rate') !== undefined ? { rate: positiveInteger('rate', str('rate'), 0, MAX_REDRIVE_MESSAGES_PER_SECOND, usage) } : {}),
      };
    case 'circuit status':
      return { command: 'circuit status', circuit: args[0] };
    case 'circuit isolate':
      return { command: 'circuit isolate', circuit: arg(0), reason: str('reason') };
    case 'circuit reset':
      return { command: 'circuit reset', circuit: arg(0) };
    case 'auth set-refresh-token':
      return { command: 'auth set-refresh-token', circuit: arg(0) };
    case 'ledger show':
      return { command: 'ledger show', entityType: arg(0), entityId: arg(1), fullLog: values['full-log'] === true };
    case 'workflows list': {
      const status = str('status')?.toUpperCase();
      if (status !== undefined && !WORKFLOW_STATUSES.includes(status as WorkflowExecutionView['status'])) {
        throw new UsageError(`--status must be one of ${WORKFLOW_STATUSES.join(', ')} (got '${str('status')}').`, usage);
      }
      return {
        command: 'workflows list',
        workflow: str('workflow'),
        status: status as WorkflowExecutionView['status'] | undefined,
        limit: positiveInteger('limit', str('limit'), 50, 1000, usage),
      };
    }
    case 'workflows redrive':
      return { command: 'workflows redrive', execution: arg(0) };
    case 'webhooks':
      return {
        command: 'webhooks',
        integration: args[0],
        limit: positiveInteger('limit', str('limit'), 20, 1000, usage),
        rejectedOnly: values.rejected === true,
        sinceMs: duration('since', str('since'), 60 * 60 * 1000, MAX_WEBHOOK_WINDOW_DAYS * 86_400_000, usage),
      };
  }
}

function target(str: (name: string) => string | undefined, values: Record<string, unknown>, usage: string): TargetOptions {
  const url = str('url');
  if (values.local === true || url !== undefined) {
    // Refused rather than ignored: an operator typing --region believes they are acting on AWS.
    const awsOnly = AWS_ONLY_OPTIONS.filter((name) => values[name] !== undefined);
    if (awsOnly.length > 0) {
      const [verb, pronoun] = awsOnly.length > 1 ? ['apply', 'them'] : ['applies', 'it'];
      throw new UsageError(`${awsOnly.map((n) => `--${n}`).join(', ')} ${verb} to AWS only: drop ${pronoun} or drop --local/--url.`, usage);
    }
    if (url !== undefined && !/^https?:\/\/[^/]+/i.test(url)) throw new UsageError(`--url must be an http(s) URL, e.g. http://127.0.0.1:4000 (got '${url}').`, usage);
    return { kind: 'local', url };
  }
  return { kind: 'aws', stage: str('stage') ?? DEFAULT_STAGE, region: str('region'), profile: str('profile') };
}

function positiveInteger(option: string, raw: string | undefined, fallback: number, max: number, usage: string): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new UsageError(`--${option} must be an integer from 1 to ${max} (got '${raw}').`, usage);
  }
  return value;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30m`, `1h`, `2d` in milliseconds, from 1 minute to `max`. */
function duration(option: string, raw: string | undefined, fallback: number, max: number, usage: string): number {
  if (raw === undefined) return fallback;
  const match = /^(\d+)([mhd])$/.exec(raw.trim());
  const value = match ? Number(match[1]) * DURATION_UNITS_MS[match[2]!]! : Number.NaN;
  if (!(value >= 60_000 && value <= max)) {
    throw new UsageError(`--${option} must be a duration like 30m, 1h or 2d, at most ${max / 86_400_000}d (got '${raw}').`, usage);
  }
  return value;
}

function nonEmpty(value: string, name: string, usage: string): string {
  if (value.trim() === '') throw new UsageError(`<${name}> must not be empty.`, usage);
  return value;
}

// ---------------------------------------------------------------- help

/** Paragraphs of the help are wrapped to this many columns. */
const HELP_WIDTH = 100;

function commandNames(): string[] {
  return [...new Set(COMMANDS.map((c) => c.name.split(' ')[0]!))];
}

function usageLine(spec: CommandSpec): string {
  const args = spec.args.map((a) => (a.optional ? `[${a.name}]` : `<${a.name}>`));
  const options = Object.entries(spec.options).map(([name, o]) => `[--${name}${o.type === 'string' ? ` <${o.value ?? 'value'}>` : ''}]`);
  return ['npm run hub --', spec.name, ...args, ...options, '[global options]'].join(' ');
}

function optionLines(options: Readonly<Record<string, OptionSpec>>): string[] {
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` <${o.value ?? 'value'}>` : ''}`;
    return [flag, o.description] as const;
  });
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, text]) => `  ${left.padEnd(width)}  ${text}`);
}

function globalHelp(): string[] {
  return ['Global options (anywhere on the line):', ...optionLines(GLOBAL_OPTIONS)];
}

/** The help of one command (`npm run hub -- dlq redrive --help`). */
function commandHelp(spec: CommandSpec): string {
  const lines = [`Usage: ${usageLine(spec)}`, '', spec.summary];
  if (spec.description) lines.push('', wrap(spec.description, HELP_WIDTH));
  if (spec.args.length > 0) {
    const width = Math.max(...spec.args.map((a) => a.name.length + 2));
    lines.push('', 'Arguments:', ...spec.args.map((a) => `  ${(a.optional ? `[${a.name}]` : `<${a.name}>`).padEnd(width)}  ${a.description}`));
  }
  if (Object.keys(spec.options).length > 0) lines.push('', 'Options:', ...optionLines(spec.options));
  lines.push('', ...globalHelp(), '', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  return `${lines.join('\n')}\n`;
}

function groupHelp(group: string): string {
  const subcommands = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  const width = Math.max(...subcommands.map((c) => c.name.length));
  const lines = [
    `Usage: npm run hub -- ${group} <${subcommands.map((c) => c.name.split(' ')[1]).join('|')}> … [global options]`,
    '',
    GROUPS[group]!,
    '',
    'Subcommands:',
    ...subcommands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `Run \`npm run hub -- ${group} <subcommand> --help\` for its arguments and options.`,
  ];
  return `${lines.join('\n')}\n`;
}

/** The top-level help (`npm run hub -- --help`). */
export function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = [
    'Usage: npm run hub -- <command> [arguments] [options]',
    '',
    'Operate an integration hub: the deployed stack on AWS (default; standard credential chain and region),',
    'or the local hub of `npm start` with --local.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    ...globalHelp(),
    '',
    'Run `npm run hub -- <command> --help` for a command\'s arguments, options and examples.',
    'Exit codes: 0 done, 1 the operation failed, 2 the command line is wrong. Guide: docs/operator-cli.md',
  ];
  return `${lines.join('\n')}\n`;
}
