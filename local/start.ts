/**
 * `npm start`: runs the whole hub on this machine (local/hub/local-hub.ts) against the sandbox third parties and
 * plays the default demo (local/hub/demo-scenario.ts): a realistic mix of events with an outage in the middle,
 * live progress, a summary table and `.hub/report.html`. Exit code 1 when a message was lost or duplicated,
 * 2 on bad options. `--keep-running` leaves the hub up (with the operator CLI usable: `npm run hub -- --local …`)
 * until Ctrl-C.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { removeHubInfo, serveHubOperator, writeHubInfo } from './cli/local-hub-http.js';
import {
  checkOutageProvider,
  DEMO_ACCESS_TOKEN_LIFETIME_SECONDS,
  DemoOptionError,
  type OutageOption,
  parseOutage,
  runDemo,
  sandboxProviderNames,
} from './hub/demo-scenario.js';
import { writeHtmlReport } from './hub/html-report.js';
import { LocalHub } from './hub/local-hub.js';
import { LocalHubOperator } from './hub/local-hub-operator.js';
import { ProgressPrinter, renderSummaryTable } from './hub/progress-view.js';
import { startSandboxForCatalog } from './hub/sandbox-wiring.js';

// The SDK's notice that Node 20 support ends in 2027 would print in the middle of the demo; docs/architecture.md "Conventions" covers it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const USAGE = `Usage: npm start -- [options]

Runs the integration hub locally (no AWS account) and plays a demo: events published through the hub's
EventBridge rules, a third-party outage in the middle, live progress, then a summary and .hub/report.html.

Options:
  --events <n>                    events to publish (default 300)
  --outage <provider>:<time>      third party (any sandbox provider, dedicated or generic) to take down
                                  and for how long, e.g. payments:20s, crm:1m, or 'none' (default payments:20s)
  --seed <n>                      seed of the event mix and of the sandbox (default 42)
  --keep-running                  keep the hub up after the demo, with the operator CLI usable
                                  (npm run hub -- --local <command>), until Ctrl-C
  -h, --help                      this help

Exit code: 0 when every event was delivered once, compensated or dead-lettered for a reason;
1 when a message was lost or duplicated; 2 on bad options.`;

/** The parsed options. */
interface StartOptions {
  readonly events: number;
  readonly outage?: OutageOption;
  readonly seed: number;
  readonly keepRunning: boolean;
}

function parseOptions(argv: string[]): StartOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: 'string' },
      outage: { type: 'string' },
      seed: { type: 'string' },
      'keep-running': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const integer = (name: string, raw: string | undefined, fallback: number, min: number, max: number): number => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new DemoOptionError(`--${name} must be an integer from ${min} to ${max} (got '${raw}')`);
    return value;
  };
  const outage = values.outage ?? 'payments:20s';
  return {
    events: integer('events', values.events, 300, 1, 100_000),
    seed: integer('seed', values.seed, 42, 0, 2 ** 31 - 1),
    // Only the form here: whether the provider exists is the started sandbox's to say (checked in main).
    ...(outage === 'none' ? {} : { outage: parseOutage(outage) }),
    keepRunning: values['keep-running'] === true,
  };
}

async function main(): Promise<number> {
  let options: StartOptions;
  try {
    const parsed = parseOptions(process.argv.slice(2));
    if (parsed === 'help') {
      console.log(USAGE);
      return 0;
    }
    options = parsed;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }

  const hubDir = resolve('.hub');
  mkdirSync(hubDir, { recursive: true });
  const logPath = resolve(hubDir, 'hub.log');
  writeFileSync(logPath, '');
  const log = (where: string, error: unknown) => appendFileSync(logPath, `${new Date().toISOString()} ${where}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);

  console.log('Starting the local hub: synthesizing the IntegrationHub stack, creating its tables, queues, rules and state machines…');
  // Short-lived access tokens, so the OAuth2 integrations' tokens expire during the traffic (the demo reports the refreshes).
  const sandbox = await startSandboxForCatalog({ seed: options.seed, accessTokenLifetimeSeconds: DEMO_ACCESS_TOKEN_LIFETIME_SECONDS });
  if (options.outage) {
    // Any provider the sandbox mounts can go down, the generic ones it mounts for catalog integrations included.
    try {
      checkOutageProvider(options.outage, await sandboxProviderNames(sandbox));
    } catch (error) {
      await sandbox.close();
      if (!(error instanceof DemoOptionError)) throw error;
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
  }
  // Schedules and Step Functions retries run 30× faster (the prober every 2 s instead of every minute); queues,
  // circuits and HTTP timeouts keep the template's values.
  const hub = await LocalHub.start({ sandbox, timeScale: 1 / 30, onError: log });
  // The operator CLI (`npm run hub -- --local …`) finds the hub through .hub/hub.json, during the demo and after.
  let url = '';
  const server = await serveHubOperator(new LocalHubOperator(hub, () => url), { onUnexpectedError: (error) => log('operator', error) });
  url = server.url;
  writeHubInfo(process.cwd(), { url, pid: process.pid, startedAt: new Date().toISOString() });
  const removeInfo = () => removeHubInfo(process.cwd());
  process.once('exit', removeInfo);
  const stop = async () => {
    removeInfo();
    await server.close();
    await hub.stop();
    await sandbox.close();
  };
  try {
    console.log(`  third parties (sandbox): ${sandbox.baseUrl}`);
    console.log(`  operator endpoint: ${url}  (npm run hub -- --local <command>)`);
    console.log(`  integrations: ${[...hub.integrations.keys()].join(', ')}   workflows: ${[...hub.workflows.keys()].join(', ')}`);
    console.log(`  queues: ${hub.queues.size}, event source mappings: ${hub.mappings.size}, rules: ${hub.blueprint.rules.rules.length}, schedules: ${hub.blueprint.rules.schedules.length}`);
    const outageText = options.outage ? `, ${options.outage.provider} down for ${options.outage.durationMs / 1000} s` : '';
    console.log(`Demo: ${options.events} events (seed ${options.seed})${outageText}. Errors of background work go to ${logPath}.\n`);

    let printer: ProgressPrinter | undefined;
    const { summary, timeline } = await runDemo(hub, sandbox, {
      events: options.events,
      seed: options.seed,
      outage: options.outage,
      onSample: (sample, outages) => {
        printer ??= new ProgressPrinter(process.stdout, { outages });
        printer.update(sample);
      },
    });
    printer?.finish();
    console.log(`\n${renderSummaryTable(summary, { color: process.stdout.isTTY === true })}`);
    const reportPath = resolve(hubDir, 'report.html');
    await writeHtmlReport(reportPath, timeline, summary);
    writeFileSync(resolve(hubDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    console.log(`\nReport: ${reportPath}`);

    if (options.keepRunning) {
      console.log('\nThe hub keeps running. Try: npm run hub -- --local circuit status   (Ctrl-C to stop)');
      await new Promise<void>((done) => process.once('SIGINT', () => done()));
    }
    return summary.ok ? 0 : 1;
  } finally {
    await stop();
  }
}

process.exitCode = await main();
