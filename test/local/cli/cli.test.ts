import { describe, expect, it } from 'vitest';
import { INTEGRATIONS, resolveCatalog } from '../../../lib/catalog.js';
import type { TargetOptions } from '../../../local/cli/args.js';
import { runCli } from '../../../local/cli/cli.js';
import type { HubOperator } from '../../../local/cli/hub-operator.js';
import { circuitView, FakeHubOperator } from './fake-hub-operator.js';
import { DEFAULT_STAGE } from '../../../lib/stage-config.js';
import { readSecretInput } from '../../../local/cli/secret-input.js';
import { Readable } from 'node:stream';

/**
 * A detail type the catalog routes, with the source it is routed from: the first route of the catalog's first
 * integration (`send` without --source takes the catalog's source for it). The hub is a fake with made-up
 * integrations (alpha, beta-two; provider gamma): the CLI prints whatever names the hub has.
 */
const [FIRST] = resolveCatalog(INTEGRATIONS);
const ROUTED = { detailType: FIRST!.routes[0]!.detailTypes[0]!, source: FIRST!.routes[0]!.sources[0]! };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  targets: TargetOptions[];
  operator: FakeHubOperator;
}

/** Runs the CLI in-process against a fake hub; `files` are what @file arguments may read. */
async function run(argv: string[], options: { operator?: FakeHubOperator; files?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  const operator = options.operator ?? new FakeHubOperator();
  let stdout = '';
  let stderr = '';
  const targets: TargetOptions[] = [];
  const stderrStream = { write: (text: string) => (stderr += text) };
  const code = await runCli(
    argv,
    { stdout: { write: (text: string) => (stdout += text) }, stderr: stderrStream },
    (target): HubOperator => {
      targets.push(target);
      return operator;
    },
    {
      cwd: '/project',
      user: 'jdoe',
      readFile: (path) => {
        const content = options.files?.[path];
        if (content === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
        return content;
      },
      // Standard input as a pipe: the CLI's own reader, so its trimming is part of what is tested.
      readSecret: (prompt) => readSecretInput(prompt, Readable.from([options.stdin ?? '']), stderrStream),
    },
  );
  return { code, stdout, stderr, targets, operator };
}

const EVERY_COMMAND = [
  ['describe'],
  ['send'],
  ['dlq'],
  ['dlq', 'list'],
  ['dlq', 'show'],
  ['dlq', 'redrive'],
  ['circuit'],
  ['circuit', 'status'],
  ['circuit', 'isolate'],
  ['circuit', 'reset'],
  ['auth'],
  ['auth', 'set-refresh-token'],
  ['ledger'],
  ['ledger', 'show'],
  ['workflows'],
  ['workflows', 'list'],
  ['workflows', 'redrive'],
  ['webhooks'],
];

describe('help', () => {
  it('prints the top-level help with every command and exits 0', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const { code, stdout, stderr } = await run(argv);
      expect(code).toBe(0);
      expect(stderr).toBe('');
      for (const command of ['send', 'dlq list', 'dlq redrive', 'circuit isolate', 'ledger show', 'workflows redrive']) expect(stdout).toContain(command);
      expect(stdout).toContain('--local');
    }
  });

  it.each(EVERY_COMMAND)('prints the help of `%s %s` with --help and exits 0, contacting no hub', async (...path) => {
    const { code, stdout, stderr, targets } = await run([...path, '--help']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(new RegExp(`^Usage: npm run hub -- ${path.join(' ')}`));
    expect(targets).toEqual([]);
  });

  it('shows the arguments, options and examples of a subcommand', async () => {
    const { stdout } = await run(['dlq', 'redrive', '-h']);
    expect(stdout).toContain('<integration>');
    expect(stdout).toContain('--force');
    expect(stdout).toContain('Examples:');
    expect(stdout).toContain('StartMessageMoveTask');
  });

  it('prints help even when the rest of the line is incomplete', async () => {
    expect((await run(['send', '--help'])).code).toBe(0);
    expect((await run(['circuit', 'isolate', '--help', '--bogus'])).code).toBe(0);
  });
});

describe('usage errors (exit 2, no hub contacted)', () => {
  it.each([
    [[], 'No command given'],
    [['frobnicate'], "Unknown command 'frobnicate'. Commands: describe, send, dlq, circuit, auth, ledger, workflows, webhooks"],
    [['dlq'], "'dlq' needs a subcommand: list, show, redrive"],
    [['dlq', 'purge', 'alpha'], "Unknown subcommand 'dlq purge'. 'dlq' has: list, show, redrive"],
    [['dlq', 'list'], "'dlq list' needs <integration>"],
    [['dlq', 'show', 'alpha'], "'dlq show' needs <message-id>"],
    [['ledger', 'show'], "'ledger show' needs <entity-type> and <id>"],
    [['send', 'ItemRequested'], "'send' needs <json|@file>"],
    [['circuit', 'reset', 'alpha', 'beta-two'], "Too many arguments for 'circuit reset': 'beta-two'"],
    [['dlq', 'list', 'alpha', '--bogus'], "Unknown option '--bogus' for 'dlq list'. Options: --local, --url, --stage, --region, --profile, --json, --help, --limit"],
    [['dlq', 'list', 'alpha', '--force'], "Unknown option '--force' for 'dlq list'"],
    [['dlq', 'list', 'alpha', '--limit'], 'Option --limit needs a value'],
    [['circuit', 'status', '--url', '--local'], 'Option --url needs a value (--url <url>)'],
    [['dlq', 'list', 'alpha', '--limit', 'lots'], "--limit must be an integer from 1 to 1000 (got 'lots')"],
    [['dlq', 'list', 'alpha', '--limit', '0'], '--limit must be an integer from 1 to 1000'],
    [['dlq', 'redrive', 'alpha', '--force=yes'], 'Option --force takes no value'],
    [['dlq', 'redrive', 'alpha', '--rate', '0'], "--rate must be an integer from 1 to 500 (got '0')"],
    [['dlq', 'redrive', 'alpha', '--rate', '501'], '--rate must be an integer from 1 to 500'],
    [['dlq', 'redrive', 'alpha', '--rate', 'fast'], '--rate must be an integer from 1 to 500'],
    [['dlq', 'redrive', 'alpha', '--rate', '20', '--local'], '--rate applies to AWS only: drop it or drop --local/--url.'],
    [['workflows', 'list', '--status', 'BROKEN'], '--status must be one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE'],
    [['circuit', 'status', '--local', '--region', 'eu-west-1'], '--region applies to AWS only'],
    [['circuit', 'status', '--url', 'localhost:4000'], '--url must be an http(s) URL'],
    [['send', '', '{}'], '<detail-type> must not be empty'],
  ])('%j → %s', async (argv, message) => {
    const { code, stderr, stdout, targets } = await run(argv);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`error: ${message}`);
    expect(targets).toEqual([]);
  });

  it('follows the error with the usage of the command concerned', async () => {
    const { stderr } = await run(['dlq', 'show', 'alpha']);
    expect(stderr).toContain('Usage: npm run hub -- dlq show <integration> <message-id>');
  });

  it('prints a usage error as JSON with --json', async () => {
    const { code, stderr } = await run(['dlq', 'list', '--json']);
    expect(code).toBe(2);
    expect(JSON.parse(stderr)).toEqual({ error: { name: 'UsageError', message: "'dlq list' needs <integration>." } });
  });
});

describe('send: the detail', () => {
  it('rejects malformed inline JSON naming the cause and its position', async () => {
    const { code, stderr, operator } = await run(['send', 'ItemRequested', '{"itemId": "i-1",}']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/error: The inline detail is not valid JSON: .*position 17.*\(line 1,? column 18\)/);
    expect(operator.sent).toEqual([]);
  });

  it('rejects malformed JSON in an @file naming the file and the line', async () => {
    const { code, stderr } = await run(['send', 'ItemRequested', '@events/bad.json'], { files: { '/project/events/bad.json': '{\n  "itemId": "i-1"\n  "version": 1\n}' } });
    expect(code).toBe(2);
    expect(stderr).toMatch(/error: The detail file events\/bad\.json is not valid JSON: .*\(line 3,? column 3\)/);
  });

  it('reports a missing @file', async () => {
    const { code, stderr } = await run(['send', 'ItemRequested', '@missing.json']);
    expect(code).toBe(2);
    expect(stderr).toContain('error: Cannot read the detail file missing.json: no such file.');
  });

  it('reports an empty @', async () => {
    expect((await run(['send', 'ItemRequested', '@'])).stderr).toContain('The detail file is missing after @');
  });

  it.each([
    ['[1, 2]', 'an array'],
    ['"text"', 'a string'],
    ['42', 'a number'],
    ['null', 'null'],
  ])('rejects a detail that is not an object: %s', async (detail, kind) => {
    const { code, stderr } = await run(['send', 'ItemRequested', detail]);
    expect(code).toBe(2);
    expect(stderr).toContain(`must be a JSON object ({…}), not ${kind}`);
  });

  it('sends an inline detail with the source the catalog routes the detail type from', async () => {
    const operator = new FakeHubOperator();
    operator.routes.set(ROUTED.detailType, ['alpha']);
    const { code, stdout } = await run(['send', ROUTED.detailType, '{"itemId":"i-1","version":1}', '--local'], { operator });
    expect(code).toBe(0);
    expect(operator.sent).toEqual([{ detailType: ROUTED.detailType, detail: { itemId: 'i-1', version: 1 }, source: ROUTED.source }]);
    expect(stdout).toContain(`Event e-1 put on the bus (detail-type ${ROUTED.detailType}, source ${ROUTED.source}, from the catalog's route`);
    expect(stdout).toContain('Delivered to: alpha');
  });

  it('sends a detail from a file, with --source when given (over the catalog route of the detail type)', async () => {
    const { code, operator } = await run(['send', ROUTED.detailType, '@p.json', '--source', 'elsewhere.service'], { files: { '/project/p.json': '{"itemId":"i-2"}' } });
    expect(code).toBe(0);
    expect(operator.sent[0]).toEqual({ detailType: ROUTED.detailType, detail: { itemId: 'i-2' }, source: 'elsewhere.service' });
  });

  it('uses the default source for a detail type no route names, and says no rule may deliver it', async () => {
    const { stdout, operator } = await run(['send', 'SomethingElse', '{}']);
    expect(operator.sent[0]?.source).toBe('integration-hub.cli');
    expect(stdout).toContain('No route of the catalog names detail-type SomethingElse');
  });
});

describe('targets', () => {
  it('targets AWS by default with the default stage', async () => {
    expect((await run(['circuit', 'status'])).targets).toEqual([{ kind: 'aws', stage: DEFAULT_STAGE, region: undefined, profile: undefined }]);
  });

  it('passes --stage, --region and --profile, wherever they are on the line', async () => {
    const { targets } = await run(['--region', 'eu-west-1', 'circuit', '--profile', 'ops', 'status', '--stage', 'staging']);
    expect(targets).toEqual([{ kind: 'aws', stage: 'staging', region: 'eu-west-1', profile: 'ops' }]);
  });

  it('targets the local hub with --local or --url', async () => {
    expect((await run(['--local', 'circuit', 'status'])).targets).toEqual([{ kind: 'local', url: undefined }]);
    expect((await run(['circuit', 'status', '--url', 'http://127.0.0.1:4000'])).targets).toEqual([{ kind: 'local', url: 'http://127.0.0.1:4000' }]);
  });

  it('reports an operator factory failure (no local hub) as a failed operation', async () => {
    let stderr = '';
    const code = await runCli(['circuit', 'status', '--local'], { stdout: { write: () => true }, stderr: { write: (t: string) => (stderr += t) } }, async () => {
      const { OperatorError } = await import('../../../local/cli/hub-operator.js');
      throw new OperatorError('No local hub is running');
    });
    expect(code).toBe(1);
    expect(stderr).toBe('error: No local hub is running\n');
  });
});

describe('operator errors (exit 1)', () => {
  it.each([
    [['dlq', 'list', 'alpah']],
    [['dlq', 'redrive', 'alpah']],
    // A workflow provider has a circuit but no queue of its own.
    [['dlq', 'list', 'gamma']],
  ])('names the known integrations for an unknown one: %j', async (argv) => {
    const { code, stderr } = await run(argv);
    expect(code).toBe(1);
    expect(stderr).toBe(`error: Unknown integration '${argv[2]}'. The hub has: alpha, beta-two\n`);
  });

  it.each([[['circuit', 'status', 'alpah']], [['circuit', 'isolate', 'alpah']], [['circuit', 'reset', 'alpah']]])(
    'names the known circuits, integrations and workflow providers, for an unknown one: %j',
    async (argv) => {
      const { code, stderr } = await run(argv);
      expect(code).toBe(1);
      expect(stderr).toBe("error: Unknown circuit 'alpah'. The hub has: alpha, beta-two, gamma\n");
    },
  );

  it('prints the error with its fields as JSON with --json', async () => {
    const { code, stderr } = await run(['circuit', 'reset', 'alpah', '--json']);
    expect(code).toBe(1);
    expect(JSON.parse(stderr)).toEqual({
      error: { name: 'UnknownCircuitError', message: "Unknown circuit 'alpah'. The hub has: alpha, beta-two, gamma", circuit: 'alpah', known: ['alpha', 'beta-two', 'gamma'] },
    });
  });

  it('refuses a redrive while the circuit is open, and redrives with --force', async () => {
    const operator = new FakeHubOperator();
    operator.circuits.set('alpha', circuitView('alpha', 'open'));
    const refused = await run(['dlq', 'redrive', 'alpha'], { operator });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("The circuit of 'alpha' is open");
    expect(refused.stderr).toContain('--force');
    expect(operator.dlqs.get('alpha')).toHaveLength(1);

    const forced = await run(['dlq', 'redrive', 'alpha', '--force'], { operator });
    expect(forced.code).toBe(0);
    expect(forced.stdout).toBe('Moved 1 message from the DLQ of alpha back to its queue.\n');
    expect(operator.calls.at(-1)).toEqual({ method: 'dlqRedrive', args: ['alpha', { force: true }] });
  });

  it('passes --rate to the redrive as messages per second', async () => {
    const { code, operator } = await run(['dlq', 'redrive', 'alpha', '--rate', '20']);
    expect(code).toBe(0);
    expect(operator.calls.at(-1)).toEqual({ method: 'dlqRedrive', args: ['alpha', { force: false, maxMessagesPerSecond: 20 }] });
  });

  it('reports a DLQ message that is not there', async () => {
    const { code, stderr } = await run(['dlq', 'show', 'alpha', 'm-404']);
    expect(code).toBe(1);
    expect(stderr).toContain('Message m-404 is not in the DLQ');
  });

  it('exits 1 when a workflow execution was not redriven', async () => {
    const { code, stdout } = await run(['workflows', 'redrive', 'sync-1']);
    expect(code).toBe(1);
    expect(stdout).toContain('was not redriven (it succeeded)');
  });

  it('prints an unexpected error with its stack', async () => {
    const operator = new FakeHubOperator();
    operator.describe = async () => {
      throw new TypeError('boom');
    };
    const { code, stderr } = await run(['describe'], { operator });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^unexpected error: TypeError: boom\n {4}at /);
  });
});

describe('auth set-refresh-token: the token from standard input', () => {
  const TOKEN = '1//rt-new.Abc_def-ghi';

  it('passes the piped token (its trailing line break dropped) to the operator and says what happens next', async () => {
    const { code, stdout, stderr, operator } = await run(['auth', 'set-refresh-token', 'gamma'], { stdin: `${TOKEN}\n` });
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(operator.calls.at(-1)).toEqual({ method: 'authSetRefreshToken', args: ['gamma', TOKEN] });
    expect(operator.refreshTokens.get('hub/gamma')).toBe(TOKEN);
    expect(stdout).toContain("Stored a new refresh token for gamma in secret hub/gamma (a new secret version; the old grant's access token was dropped).");
    expect(stdout).toContain('The next call to the provider refreshes with it.');
    expect(stdout).not.toContain(TOKEN);
  });

  it('tells the operator the prober closes a circuit isolated for re-authorization', async () => {
    const operator = new FakeHubOperator();
    operator.circuits.set('gamma', circuitView('gamma', 'isolated', { stateReason: 're-authorization needed: the provider refused the refresh token (invalid_grant)' }));
    const { code, stdout } = await run(['auth', 'set-refresh-token', 'gamma'], { operator, stdin: TOKEN });
    expect(code).toBe(0);
    expect(stdout).toContain('the prober refreshes with the new token on its next run and closes it');
    expect(stdout).toContain('npm run hub -- circuit status gamma');
  });

  it('prints the result without the token with --json', async () => {
    const { code, stdout } = await run(['auth', 'set-refresh-token', 'gamma', '--json'], { stdin: TOKEN });
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as Record<string, unknown>;
    expect(result).toMatchObject({ circuit: 'gamma', secret: 'hub/gamma', unsetFields: [], replacedRefusedToken: true, droppedAccessToken: true });
    expect(stdout).not.toContain(TOKEN);
  });

  it.each([
    ['', 'it is empty'],
    ['\n', 'it is empty'],
    [` ${TOKEN}`, 'it starts or ends with white space'],
    [`${TOKEN}\tmore`, 'character 22 is not printable ASCII (RFC 6749 allows no other)'],
  ])('refuses %j before contacting any hub, without quoting the input (exit 2)', async (input, problem) => {
    const { code, stderr, stdout, targets, operator } = await run(['auth', 'set-refresh-token', 'gamma'], { stdin: input });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`error: The refresh token read from standard input is not valid: ${problem}.`);
    expect(stderr).not.toContain(TOKEN);
    expect(targets).toEqual([]);
    expect(operator.calls).toEqual([]);
  });

  it('never takes the token as an argument', async () => {
    const { code, stderr, targets } = await run(['auth', 'set-refresh-token', 'gamma', TOKEN]);
    expect(code).toBe(2);
    expect(stderr).toContain("Too many arguments for 'auth set-refresh-token'");
    expect(targets).toEqual([]);
  });

  it('names the circuits that take a refresh token for one of another scheme, and an unknown circuit (exit 1)', async () => {
    const other = await run(['auth', 'set-refresh-token', 'alpha'], { stdin: TOKEN });
    expect(other.code).toBe(1);
    expect(other.stderr).toBe("error: Circuit 'alpha' authenticates with api_key, not oauth2_refresh_token: it has no refresh token. Circuits with one: gamma\n");
    const unknown = await run(['auth', 'set-refresh-token', 'gama'], { stdin: TOKEN });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("error: Unknown circuit 'gama'. The hub has: alpha, beta-two, gamma\n");
  });
});

describe('output', () => {
  it('describes the hub', async () => {
    const { stdout } = await run(['describe', '--local']);
    expect(stdout).toBe('Hub           local: http://127.0.0.1:0\nIntegrations  alpha, beta-two\nWorkflows     order-saga, contact-sync\nCircuits      alpha, beta-two, gamma\n');
  });

  it('lists a DLQ as a table of id, error class, error message and failure time', async () => {
    const { code, stdout, operator } = await run(['dlq', 'list', 'alpha', '--limit', '5']);
    expect(code).toBe(0);
    expect(operator.calls[0]).toEqual({ method: 'dlqList', args: ['alpha', { limit: 5 }] });
    const [header, row] = stdout.split('\n');
    expect(header).toMatch(/^MESSAGE ID\s+ERROR CLASS\s+ERROR MESSAGE\s+FAILED AT$/);
    expect(row).toMatch(/^m-1\s+ValidationFailed\s+name: Required\s+2026-11-20T10:00:00Z$/);
    expect(stdout).toContain('1 message.');
  });

  it('truncates long error messages in the DLQ table', async () => {
    const operator = new FakeHubOperator();
    operator.dlqs.get('alpha')![0] = { ...operator.dlqs.get('alpha')![0]!, attributes: { errorClass: 'Http400', errorMessage: `bad\n${'x'.repeat(200)}` } };
    const { stdout } = await run(['dlq', 'list', 'alpha'], { operator });
    const row = stdout.split('\n')[1]!;
    expect(row).toContain(`bad ${'x'.repeat(55)}…`);
    expect(row).not.toContain('x'.repeat(60));
  });

  it('says when a DLQ is empty', async () => {
    expect((await run(['dlq', 'list', 'beta-two'])).stdout).toBe('No messages in the DLQ of beta-two.\n');
  });

  it('shows one DLQ message with its attributes and pretty body', async () => {
    const { stdout } = await run(['dlq', 'show', 'alpha', 'm-1']);
    expect(stdout).toContain('Message   m-1');
    expect(stdout).toContain('  errorClass     ValidationFailed');
    expect(stdout).toContain('Body:\n  {\n    "itemId": "i-1",');
  });

  it('prints the raw result with --json', async () => {
    const operator = new FakeHubOperator();
    const { stdout } = await run(['dlq', 'list', 'alpha', '--json'], { operator });
    expect(JSON.parse(stdout)).toEqual(operator.dlqs.get('alpha'));
  });

  it('shows circuits: circuit, state, effective state, since, open until, failures, reopens', async () => {
    const operator = new FakeHubOperator();
    operator.circuits.set(
      'beta-two',
      circuitView('beta-two', 'open', {
        effectiveState: 'half_open',
        stateSince: Date.parse('2026-11-20T10:00:00Z'),
        openUntil: Date.parse('2026-11-20T10:00:30Z'),
        consecutiveFailures: 5,
        reopenCount: 2,
        stateReason: 'consecutive_failures',
      }),
    );
    const { stdout } = await run(['circuit', 'status'], { operator });
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CIRCUIT\s+STATE\s+EFFECTIVE\s+SINCE\s+OPEN UNTIL\s+FAILURES\s+REOPENS\s+REASON$/);
    expect(lines[1]).toMatch(/^alpha\s+closed\s+closed\s+-\s+-\s+0\s+0\s+-$/);
    expect(lines[2]).toMatch(/^beta-two\s+open\s+half_open\s+2026-11-20T10:00:00Z\s+2026-11-20T10:00:30Z\s+5\s+2\s+consecutive_failures$/);
    expect(lines[3]).toMatch(/^gamma\s+closed\s+closed\s/);
  });

  it('isolates with the default reason naming the user, and with --reason', async () => {
    const first = await run(['circuit', 'isolate', 'beta-two']);
    expect(first.operator.calls[0]).toEqual({ method: 'circuitIsolate', args: ['beta-two', 'isolated by jdoe via CLI'] });
    expect(first.stdout).toContain('Circuit beta-two isolated ("isolated by jdoe via CLI")');
    const second = await run(['circuit', 'isolate', 'beta-two', '--reason', 'INC-1234 maintenance']);
    expect(second.operator.calls[0]?.args).toEqual(['beta-two', 'INC-1234 maintenance']);
  });

  it('resets a circuit', async () => {
    const { code, stdout } = await run(['circuit', 'reset', 'alpha']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Circuit alpha reset: closed\./);
  });

  it("isolates a workflow provider's circuit", async () => {
    const { code, stdout, operator } = await run(['circuit', 'isolate', 'gamma', '--reason', 'carrier down']);
    expect(code).toBe(0);
    expect(operator.calls[0]).toEqual({ method: 'circuitIsolate', args: ['gamma', 'carrier down'] });
    expect(stdout).toContain('Circuit gamma isolated ("carrier down")');
  });

  it('shows ledger entries with the audit log, and says when there are none', async () => {
    const { stdout } = await run(['ledger', 'show', 'item', 'i-1']);
    expect(stdout).toContain('item i-1 with alpha');
    expect(stdout).toMatch(/status\s+synced/);
    expect(stdout).toMatch(/external id\s+ext-9/);
    expect(stdout).toMatch(/AT\s+EVENT\s+VERSION\s+ATTEMPT\s+ERROR\s+EXTERNAL ID\s+CORRELATION ID/);
    expect(stdout).toMatch(/2026-11-20T09:00:01Z\s+synced\s+2\s+1\s+-\s+ext-9\s+c-1/);
    expect((await run(['ledger', 'show', 'item', 'nope'])).stdout).toContain('No ledger entry for item nope');
    expect(stdout).not.toContain('archived');
  });

  it('says when older pages of the audit log are archived, and asks for the whole log with --full-log', async () => {
    const operator = new FakeHubOperator();
    operator.ledger[0] = { ...operator.ledger[0]!, archivedLogPages: 2 };
    const inline = await run(['ledger', 'show', 'item', 'i-1'], { operator });
    expect(inline.stdout).toContain('(2 older pages of this log archived: --full-log shows them)');
    expect(operator.calls.at(-1)).toEqual({ method: 'ledgerShow', args: ['item', 'i-1', { fullLog: false }] });
    const full = await run(['ledger', 'show', 'item', 'i-1', '--full-log'], { operator });
    expect(operator.calls.at(-1)).toEqual({ method: 'ledgerShow', args: ['item', 'i-1', { fullLog: true }] });
    expect(full.stdout).not.toContain('archived');
  });

  it('lists workflow executions with filters', async () => {
    const { stdout, operator } = await run(['workflows', 'list', '--status', 'failed', '--workflow', 'order-saga', '--limit', '3']);
    expect(operator.calls[0]).toEqual({ method: 'workflowsList', args: [{ workflow: 'order-saga', status: 'FAILED', limit: 3 }] });
    expect(stdout).toMatch(/^WORKFLOW\s+NAME\s+STATUS\s+STARTED\s+STOPPED\s+ERROR\n/);
    expect(stdout).toMatch(/order-saga\s+order-o-1\s+FAILED\s+2026-11-20T08:00:00Z\s+2026-11-20T08:01:00Z\s+CompensationFailed/);
  });

  it('lists webhook deliveries and rejections newest first, with outcome, reason and claimed id, and no signature', async () => {
    const before = Date.now();
    const { code, stdout, operator } = await run(['webhooks', 'alpha', '--limit', '5', '--since', '2h']);
    expect(code).toBe(0);
    const [request] = operator.calls[0]!.args as [{ since: number }];
    expect(operator.calls[0]).toEqual({ method: 'webhooksList', args: [{ integration: 'alpha', limit: 5, rejectedOnly: false, since: expect.any(Number) }] });
    expect(request.since).toBeGreaterThanOrEqual(before - 2 * 3_600_000);
    expect(request.since).toBeLessThanOrEqual(Date.now() - 2 * 3_600_000);
    expect(stdout).toMatch(/Deliveries of alpha since \S+Z, newest first:\nAT\s+INTEGRATION\s+WEBHOOK ID\s+EVENT TYPE\s+OUTCOME\s+FORWARDED AT\n/);
    expect(stdout).toMatch(/2026-11-20T10:05:00Z\s+alpha\s+msg_2\s+thing.updated\s+duplicate\s+2026-11-20T10:00:00Z\n2026-11-20T10:00:00Z\s+alpha\s+msg_2\s+thing.updated\s+accepted/);
    expect(stdout).toMatch(/Rejections of alpha since \S+Z, newest first:\nAT\s+INTEGRATION\s+REASON\s+WEBHOOK ID\s+DETAIL\n/);
    expect(stdout).toMatch(/2026-11-20T10:06:00Z\s+alpha\s+bad_signature\s+msg_3\s+no signature matches any of the signing secrets\n2026-11-20T10:04:00Z\s+alpha\s+not_json\s+-\s+the body is not JSON/);
    expect(stdout).toContain('docs/runbooks/webhook-rejections.md');
  });

  it('lists only the rejections with --rejected, defaults to the last hour and 20 of each, and says when there are none', async () => {
    const operator = new FakeHubOperator();
    const rejected = await run(['webhooks', '--rejected'], { operator });
    expect(operator.calls[0]).toEqual({ method: 'webhooksList', args: [{ integration: undefined, limit: 20, rejectedOnly: true, since: expect.any(Number) }] });
    expect(Date.now() - (operator.calls[0]!.args[0] as { since: number }).since).toBeGreaterThanOrEqual(3_600_000);
    expect(rejected.stdout).not.toContain('Deliveries');
    expect(rejected.stdout).toContain('bad_signature');
    operator.webhookDeliveries.splice(0);
    operator.webhookRejections.splice(0);
    const empty = await run(['webhooks'], { operator });
    expect(empty.stdout).toMatch(/^No webhook deliveries accepted for alpha since \S+Z\.\n\nNo webhook rejections for alpha since \S+Z\.\n$/);
  });

  it('refuses a bad --since or --limit before contacting the hub, and names what exists for an unknown integration', async () => {
    for (const since of ['1w', '0m', '31d', 'soon']) {
      const { code, stderr, targets } = await run(['webhooks', '--since', since]);
      expect(code, since).toBe(2);
      expect(stderr).toContain('--since must be a duration like 30m, 1h or 2d, at most 30d');
      expect(targets).toEqual([]);
    }
    expect((await run(['webhooks', '--limit', '0'])).code).toBe(2);
    const unknown = await run(['webhooks', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("error: Unknown integration 'nope'. The hub has: alpha, beta-two\n");
    const without = await run(['webhooks', 'beta-two']);
    expect(without.code).toBe(1);
    expect(without.stderr).toBe("error: Integration 'beta-two' declares no webhooks. Integrations with webhooks: alpha\n");
  });

  it('redrives a workflow execution', async () => {
    const { code, stdout } = await run(['workflows', 'redrive', 'arn:local:execution:order-saga:order-o-1']);
    expect(code).toBe(0);
    expect(stdout).toBe('Execution arn:local:execution:order-saga:order-o-1 redriven.\n');
  });
});
