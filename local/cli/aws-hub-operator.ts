/**
 * The operator port on a deployed hub: every SDK call of the operator CLI lives here, and every SDK error is
 * translated here into an `OperatorError` an operator can act on (no credentials, no region, no stack, which IAM
 * action was denied).
 *
 * Names are resolved from the CloudFormation stack's Outputs (one DescribeStacks per process), never guessed from
 * generated resource names. Circuit and ledger operations use the runtime's own adapters (`CircuitBreaker` over
 * `DynamoDbCircuitStore`, `DynamoDBSyncLedger`), so the CLI reads and writes exactly what the Lambdas do. Webhook
 * deliveries are read from what the endpoints leave behind (functions/webhooks/webhook-records.ts): the delivery-id
 * table's records and the endpoint functions' log lines.
 */
import { CloudFormationClient, CloudFormationServiceException, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, FilterLogEventsCommand, type FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import { type AttributeValue, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  ExecutionNotRedrivable,
  type ExecutionListItem,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  SFNClient,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { GetQueueAttributesCommand, type Message, QueueDoesNotExist, ReceiveMessageCommand, SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { INTEGRATIONS, pascalCase } from '../../lib/catalog.js';
import { providerOfRecordId, WEBHOOK_LOG, webhookKeyPrefix } from '../../functions/webhooks/webhook-records.js';
import { WORKFLOWS } from '../../lib/workflow-catalog.js';
import { CircuitBreaker } from '../../functions/runtime/circuit-breaker.js';
import type { CircuitBreakerSettingsInput } from '../../functions/runtime/circuit-settings.js';
import { systemClock } from '../../functions/runtime/clock.js';
import { DynamoDbCircuitStore } from '../../functions/runtime/dynamodb-circuit-store.js';
import { DynamoDBSyncLedger } from '../../functions/runtime/dynamodb-sync-ledger.js';
import { DynamoDbRefreshLeases } from '../../functions/runtime/dynamodb-refresh-leases.js';
import { SecretsManagerSecretSource } from '../../functions/runtime/secrets-manager-secret-source.js';
import type { Clock } from '../../functions/runtime/ports.js';
import type { LedgerEntry } from '../../functions/runtime/sync-ledger.js';
import {
  CircuitNotClosedError,
  type CircuitView,
  type DeadLetterMessage,
  type HubDescription,
  type HubOperator,
  NotFoundError,
  OperatorError,
  MAX_REDRIVE_MESSAGES_PER_SECOND,
  type LedgerShowOptions,
  type RedriveOptions,
  type RedriveResult,
  type SendRequest,
  type SendResult,
  UnknownCircuitError,
  UnknownIntegrationError,
  type WorkflowExecutionView,
  type WorkflowListRequest,
  type WorkflowRedriveResult,
  DEFAULT_EVENT_SOURCE,
  DEFAULT_WEBHOOK_LIST_LIMIT,
  DEFAULT_WEBHOOK_WINDOW_MS,
  type WebhookActivity,
  type WebhookDeliveryView,
  type WebhookListRequest,
  type WebhookRejectionView,
  webhookIntegrationsToList,
  type CircuitCredentials,
  type RefreshTokenSetResult,
} from './hub-operator.js';
import { circuitCredentialsOfOpsCatalog, setRefreshToken } from './refresh-token-operation.js';
import { CIRCUIT_SETTINGS_OUTPUT, circuitSettingsOfOpsCatalog, parseCircuitSettingsOutput } from './circuit-settings-output.js';
import { type OpsCatalogParameter, opsCatalogEntries, ssmParameterReader } from '../../functions/ops/ops-catalog.js';

/** The stack name `cdk deploy` uses (bin/integration-hub.ts). */
export const DEFAULT_STACK_NAME = 'IntegrationHub';

/** The SDK clients the operator uses; tests pass mocked or local ones. */
export interface AwsHubClients {
  readonly cloudFormation: CloudFormationClient;
  readonly sqs: SQSClient;
  readonly eventBridge: EventBridgeClient;
  readonly sfn: SFNClient;
  readonly dynamodb: DynamoDBClient;
  /** Reads a stage's circuit settings (`circuitsPath`). */
  readonly ssm?: SSMClient;
  /** Reads the webhook functions' rejections and replays. */
  readonly logs?: CloudWatchLogsClient;
  /** Writes a new refresh token (`auth set-refresh-token`). */
  readonly secretsManager?: SecretsManagerClient;
}

/** Options of {@link AwsHubOperator}. */
export interface AwsHubOperatorOptions {
  /**
   * The deployed stacks whose Outputs name the resources: a stage's (lib/hub-stage.ts stageStackNames), or one stack
   * holding the whole hub. @default ['IntegrationHub']
   */
  readonly stackNames?: readonly string[];
  /** How `describe` and the errors name what is operated. @default the stack names */
  readonly location?: string;
  /**
   * The SSM path of the circuits' parameters (functions/ops/ops-catalog.ts opsCatalogPath of the core stack): a
   * stage's circuits and their settings are read there. @default the stack's CircuitSettings output
   */
  readonly circuitsPath?: string;
  /** @default the SDK's (AWS_REGION, then the profile's region) */
  readonly region?: string;
  /** A profile of the shared config files. @default the SDK's (AWS_PROFILE, then `default`) */
  readonly profile?: string;
  /** Clients to use instead of new ones built from `region` and `profile`. */
  readonly clients?: Partial<AwsHubClients>;
  /** @default systemClock */
  readonly clock?: Clock;
}

/** What the stack's Outputs say the hub is made of. */
interface HubResources {
  readonly region: string;
  readonly stackStatus: string;
  readonly outputs: ReadonlyMap<string, string>;
  readonly integrations: ReadonlyMap<string, { readonly queueUrl: string; readonly deadLetterQueueUrl: string }>;
  readonly workflows: ReadonlyMap<string, string>;
  /** Circuit id → breaker settings (the CircuitSettings output; the integrations with the catalog's settings when a stack predates it). */
  readonly circuits: ReadonlyMap<string, CircuitBreakerSettingsInput>;
  /** Integration that declares webhooks → its webhook function's log group (`<Pascal>WebhookLogGroupName` outputs). */
  readonly webhookLogGroups: ReadonlyMap<string, string>;
  /** Circuit id → its auth scheme and secret, from the circuits' parameters; empty without `circuitsPath`. */
  readonly credentials: ReadonlyMap<string, CircuitCredentials>;
}

/** Polls of a DLQ that bring nothing new before a listing stops (a receive samples some of the queue's servers). */
const IDLE_POLLS_BEFORE_STOP = 2;
/** Long-poll wait of each DLQ receive: unlike a short poll it asks every server, so a nearly empty queue is found. */
const DLQ_WAIT_SECONDS = 1;
/** Upper bound of the polls of one `dlq show` (it looks for one message in a sample). */
const SHOW_MAX_POLLS = 20;
/** Concurrent DescribeExecution calls when `workflows list` fetches the error of failed executions. */
const DESCRIBE_CONCURRENCY = 5;
/** Scan pages (≤ 1 MB each) of the webhook delivery table one listing reads at most: its TTL keeps it far smaller. */
const MAX_DELIVERY_SCAN_PAGES = 20;
/** FilterLogEvents pages per webhook function one listing reads at most. */
const MAX_LOG_PAGES = 10;

/** The endpoint's log lines `webhooks` lists (CloudWatch Logs JSON filter patterns over Powertools Logger's `message`). */
export function webhookLogFilterPattern(rejectedOnly: boolean): string {
  const rejected = `($.message = "${WEBHOOK_LOG.rejected}")`;
  return rejectedOnly ? `{ ${rejected} }` : `{ ${rejected} || ($.message = "${WEBHOOK_LOG.replay}") }`;
}

/** {@link HubOperator} on a deployed IntegrationHub stack, with the standard credential chain and region. */
export class AwsHubOperator implements HubOperator {
  readonly stackNames: readonly string[];
  readonly location: string;
  private readonly circuitsPath?: string;
  private readonly clients: AwsHubClients;
  private readonly clock: Clock;
  private resources: Promise<HubResources> | undefined;

  constructor(options: AwsHubOperatorOptions = {}) {
    this.stackNames = options.stackNames ?? [DEFAULT_STACK_NAME];
    this.location = options.location ?? this.stackNames.join(', ');
    const config = { region: options.region, profile: options.profile };
    this.clients = {
      cloudFormation: options.clients?.cloudFormation ?? new CloudFormationClient(config),
      sqs: options.clients?.sqs ?? new SQSClient(config),
      eventBridge: options.clients?.eventBridge ?? new EventBridgeClient(config),
      sfn: options.clients?.sfn ?? new SFNClient(config),
      dynamodb: options.clients?.dynamodb ?? new DynamoDBClient(config),
      ssm: options.clients?.ssm ?? new SSMClient(config),
      logs: options.clients?.logs ?? new CloudWatchLogsClient(config),
      secretsManager: options.clients?.secretsManager ?? new SecretsManagerClient(config),
    };
    this.circuitsPath = options.circuitsPath;
    this.clock = options.clock ?? systemClock;
  }

  /** The integrations and workflows the stack's Outputs name. */
  async describe(): Promise<HubDescription> {
    const hub = await this.hub();
    return {
      target: 'aws',
      location: `${this.location} in ${hub.region}`,
      integrations: [...hub.integrations.keys()],
      workflows: [...hub.workflows.keys()],
      circuits: [...hub.circuits.keys()],
    };
  }

  /** PutEvents on the hub's bus; an entry EventBridge refuses is an OperatorError with its error code. */
  async send(request: SendRequest): Promise<SendResult> {
    const hub = await this.hub();
    const bus = this.output(hub, 'EventBusName');
    const result = await this.aws('events:PutEvents', () =>
      this.clients.eventBridge.send(
        new PutEventsCommand({
          Entries: [{ EventBusName: bus, Source: request.source ?? DEFAULT_EVENT_SOURCE, DetailType: request.detailType, Detail: JSON.stringify(request.detail) }],
        }),
      ),
    );
    const [entry] = result.Entries ?? [];
    // PutEvents answers 200 even when it refused the entry: the refusal is in the entry.
    if ((result.FailedEntryCount ?? 0) > 0 || !entry?.EventId) {
      const why = `${entry?.ErrorCode ?? 'unknown error'}${entry?.ErrorMessage ? `: ${entry.ErrorMessage}` : ''}`;
      throw new OperatorError(`EventBridge refused the event on bus ${bus}: ${why}`);
    }
    return { eventId: entry.EventId };
  }

  /**
   * A sample of the DLQ, up to `limit` (default 10) messages. Listing RECEIVES the messages with a visibility timeout
   * of 0, so they stay visible to everyone, but each listing increments their receive count in the DLQ (the DLQ has
   * no redrive policy of its own, so the count only shows up in ApproximateReceiveCount). SQS returns a sample of
   * its servers per receive: the listing polls until `limit` distinct messages or two polls bring nothing new.
   */
  async dlqList(integration: string, options: { readonly limit?: number } = {}): Promise<DeadLetterMessage[]> {
    const { deadLetterQueueUrl } = await this.integration(integration);
    const limit = options.limit ?? 10;
    const seen = new Map<string, DeadLetterMessage>();
    let idle = 0;
    // Bounded so a queue whose sample keeps repeating cannot make the listing loop for long.
    const maxPolls = Math.ceil(limit / 10) * 3 + IDLE_POLLS_BEFORE_STOP;
    for (let poll = 0; poll < maxPolls && seen.size < limit && idle < IDLE_POLLS_BEFORE_STOP; poll++) {
      const fresh = (await this.receiveSample(deadLetterQueueUrl, Math.min(10, limit - seen.size))).filter((m) => !seen.has(m.messageId));
      idle = fresh.length === 0 ? idle + 1 : 0;
      for (const message of fresh) if (seen.size < limit) seen.set(message.messageId, message);
    }
    return [...seen.values()];
  }

  /** One DLQ message by id, found by sampling the queue like {@link dlqList} (same receive-count caveat). */
  async dlqShow(integration: string, messageId: string): Promise<DeadLetterMessage> {
    const { deadLetterQueueUrl } = await this.integration(integration);
    const seen = new Set<string>();
    let idle = 0;
    for (let poll = 0; poll < SHOW_MAX_POLLS && idle < IDLE_POLLS_BEFORE_STOP + 1; poll++) {
      const sample = await this.receiveSample(deadLetterQueueUrl, 10);
      const found = sample.find((m) => m.messageId === messageId);
      if (found) return found;
      const fresh = sample.filter((m) => !seen.has(m.messageId));
      for (const message of fresh) seen.add(message.messageId);
      idle = fresh.length === 0 ? idle + 1 : 0;
    }
    throw new NotFoundError(
      `Message ${messageId} is not in the DLQ of '${integration}' (sampled ${seen.size} message${seen.size === 1 ? '' : 's'}; ` +
        'SQS receives return a sample, so retry if the DLQ is large, or check the id with `dlq list`)',
    );
  }

  /**
   * Starts an SQS message move task from the DLQ back to the integration's queue (the whole DLQ, at
   * `maxMessagesPerSecond` or the rate SQS chooses). Refused with CircuitNotClosedError while the circuit is open,
   * half-open or isolated, unless `force`: the messages would only be parked again or fail into the DLQ again.
   */
  async dlqRedrive(integration: string, options: RedriveOptions = {}): Promise<RedriveResult> {
    const rate = options.maxMessagesPerSecond;
    if (rate !== undefined && (!Number.isInteger(rate) || rate < 1 || rate > MAX_REDRIVE_MESSAGES_PER_SECOND)) {
      throw new OperatorError(`The redrive rate must be an integer from 1 to ${MAX_REDRIVE_MESSAGES_PER_SECOND} messages per second (got ${rate})`);
    }
    const { queueUrl, deadLetterQueueUrl } = await this.integration(integration);
    if (!options.force) {
      const [circuit] = await this.circuitStatus(integration);
      if (circuit && circuit.state !== 'closed') throw new CircuitNotClosedError(integration, circuit.state);
    }
    const [dlq, source] = await Promise.all([
      this.queueAttributes(deadLetterQueueUrl, ['QueueArn', 'ApproximateNumberOfMessages']),
      this.queueAttributes(queueUrl, ['QueueArn']),
    ]);
    const task = await this.aws('sqs:StartMessageMoveTask', () =>
      this.clients.sqs.send(
        new StartMessageMoveTaskCommand({
          SourceArn: dlq.QueueArn,
          DestinationArn: source.QueueArn,
          ...(rate !== undefined ? { MaxNumberOfMessagesPerSecond: rate } : {}),
        }),
      ),
    );
    return { integration, taskHandle: task.TaskHandle, messages: Number(dlq.ApproximateNumberOfMessages ?? 0) };
  }

  /** A consistent read of each circuit item through the runtime's breaker (a never-used circuit has no item: closed). */
  async circuitStatus(circuit?: string): Promise<CircuitView[]> {
    const names = circuit === undefined ? [...(await this.hub()).circuits.keys()] : [circuit];
    const breakers = await Promise.all(names.map((name) => this.breaker(name)));
    return Promise.all(
      breakers.map(async ({ name, breaker }) => ({ ...(await this.aws('dynamodb:GetItem on the circuits table', () => breaker.status())), circuit: name })),
    );
  }

  /** The breaker's isolate(): a version-checked write of `isolated`, so a concurrent runtime write is never lost. */
  async circuitIsolate(circuit: string, reason: string): Promise<CircuitView> {
    const { name, breaker } = await this.breaker(circuit);
    const status = await this.aws('dynamodb:GetItem/PutItem on the circuits table', () => breaker.isolate(reason));
    return { ...status, circuit: name };
  }

  /** The breaker's reset(): a version-checked write of `closed` with counters, grown break and throttle cleared. */
  async circuitReset(circuit: string): Promise<CircuitView> {
    const { name, breaker } = await this.breaker(circuit);
    const status = await this.aws('dynamodb:GetItem/PutItem on the circuits table', () => breaker.reset());
    return { ...status, circuit: name };
  }

  /** Queries the ledger table for the entity's partition; with `fullLog`, one more Query per integration with archived log pages. */
  async ledgerShow(entityType: string, entityId: string, options: LedgerShowOptions = {}): Promise<LedgerEntry[]> {
    const hub = await this.hub();
    const ledger = new DynamoDBSyncLedger({ tableName: this.output(hub, 'LedgerTableName'), client: this.clients.dynamodb, clock: this.clock });
    return this.aws('dynamodb:Query on the ledger table', () => (options.fullLog ? ledger.entriesWithFullLog(entityType, entityId) : ledger.entries(entityType, entityId)));
  }

  /** The newest executions of every workflow (or one), newest first; the error of failed ones via DescribeExecution. */
  async workflowsList(request: WorkflowListRequest = {}): Promise<WorkflowExecutionView[]> {
    const hub = await this.hub();
    const limit = request.limit ?? 50;
    let machines = [...hub.workflows];
    if (request.workflow !== undefined) {
      machines = machines.filter(([name]) => name === request.workflow);
      if (machines.length === 0) {
        throw new OperatorError(`Unknown workflow '${request.workflow}'. The hub has: ${[...hub.workflows.keys()].join(', ') || '(none)'}`);
      }
    }
    const pages = await Promise.all(
      machines.map(async ([workflow, stateMachineArn]) => {
        const page = await this.aws('states:ListExecutions', () =>
          this.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: request.status, maxResults: Math.min(limit, 1000) })),
        );
        return (page.executions ?? []).map((item) => ({ workflow, item }));
      }),
    );
    const newest = pages
      .flat()
      .sort((a, b) => (b.item.startDate?.getTime() ?? 0) - (a.item.startDate?.getTime() ?? 0))
      .slice(0, limit);
    return mapLimited(newest, DESCRIBE_CONCURRENCY, ({ workflow, item }) => this.executionView(workflow, item));
  }

  /** Redrives a failed, timed-out or aborted execution, given by ARN or by name (looked up in every workflow). */
  async workflowsRedrive(execution: string): Promise<WorkflowRedriveResult> {
    const executionArn = execution.startsWith('arn:') ? execution : await this.executionArnByName(execution);
    try {
      const result = await this.clients.sfn.send(new RedriveExecutionCommand({ executionArn }));
      return { executionArn, redriven: true, detail: `redriven at ${result.redriveDate?.toISOString() ?? 'an unknown time'}` };
    } catch (error) {
      if (error instanceof ExecutionNotRedrivable) {
        throw new OperatorError(`Execution ${executionArn} cannot be redriven: ${error.message}`, { cause: error });
      }
      if (error instanceof ExecutionDoesNotExist) throw new NotFoundError(`No execution ${executionArn}: ${error.message}`, { cause: error });
      throw this.translate(error, 'states:RedriveExecution');
    }
  }

  /**
   * Recent webhook activity, newest first: the accepted deliveries from a Scan of the delivery-id table (its TTL keeps
   * it to the providers' retry windows; at most {@link MAX_DELIVERY_SCAN_PAGES} pages), the rejections and the replays
   * from FilterLogEvents on each webhook function's log group within the window (at most {@link MAX_LOG_PAGES} pages
   * each). Whatever a bound left out is said in `partial`.
   */
  async webhooksList(request: WebhookListRequest = {}): Promise<WebhookActivity> {
    const limit = request.limit ?? DEFAULT_WEBHOOK_LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) throw new OperatorError(`The limit must be a positive integer, got ${limit}`);
    const hub = await this.hub();
    const integrations = webhookIntegrationsToList(request.integration, [...hub.webhookLogGroups.keys()], [...hub.integrations.keys()]);
    const since = request.since ?? this.clock.now() - DEFAULT_WEBHOOK_WINDOW_MS;
    const partial: string[] = [];
    const [logs, stored] = await Promise.all([
      Promise.all(integrations.map((integration) => this.webhookLogLines(integration, hub.webhookLogGroups.get(integration)!, since, request.rejectedOnly === true, partial))),
      request.rejectedOnly ? Promise.resolve([]) : this.storedDeliveries(this.output(hub, 'WebhookDeliveriesTableName'), integrations, since, partial),
    ]);
    const rejections = logs.flatMap((lines) => lines.rejections).sort(newestFirst).slice(0, limit);
    const deliveries = request.rejectedOnly ? [] : [...stored, ...logs.flatMap((lines) => lines.duplicates)].sort(newestFirst).slice(0, limit);
    return { integrations, since, deliveries, rejections, ...(partial.length > 0 ? { partial: partial.join('; ') } : {}) };
  }

  /**
   * Writes the new refresh token into the circuit's secret (GetSecretValue, PutSecretValue) under the refresh lease in
   * the circuits table (UpdateItem), with the runtime's own adapters; the circuit's secret is the one its functions
   * were given (the circuits' SSM parameters). The prober re-authorizes on its next run.
   */
  async authSetRefreshToken(circuit: string, refreshToken: string): Promise<RefreshTokenSetResult> {
    // Known before any AWS call: without the parameters there is no secret to write.
    if (this.circuitsPath === undefined) {
      throw new OperatorError(`The CLI finds a circuit's secret in the stage's circuit parameters: pass --stage (operating ${this.location} without them)`);
    }
    const hub = await this.hub();
    return setRefreshToken(circuit, refreshToken, {
      credentials: hub.credentials,
      circuits: [...hub.circuits.keys()],
      secrets: new SecretsManagerSecretSource({ client: this.clients.secretsManager }),
      leases: new DynamoDbRefreshLeases({ tableName: this.output(hub, 'CircuitsTableName'), client: this.clients.dynamodb }),
      translate: (error, action) => this.translate(error, action),
      status: async (name) => (await this.circuitStatus(name))[0]!,
    });
  }

  // ---------------------------------------------------------------- internals

  /** The accepted deliveries of `integrations` forwarded since `since`, from the delivery-id table's completed records. */
  private async storedDeliveries(tableName: string, integrations: readonly string[], since: number, partial: string[]): Promise<WebhookDeliveryView[]> {
    const deliveries: WebhookDeliveryView[] = [];
    const prefixes = Object.fromEntries(integrations.map((integration, index) => [`:p${index}`, { S: `${webhookKeyPrefix(integration)}#` }]));
    let startKey: Record<string, AttributeValue> | undefined;
    let pages = 0;
    do {
      const page = await this.aws('dynamodb:Scan on the webhook delivery table', () =>
        this.clients.dynamodb.send(
          new ScanCommand({
            TableName: tableName,
            // In-progress records have no result yet: a forward under way (or one whose Lambda died) is not a delivery.
            FilterExpression: `#status = :completed AND (${Object.keys(prefixes).map((name) => `begins_with(#id, ${name})`).join(' OR ')})`,
            ProjectionExpression: '#id, #status, #data',
            ExpressionAttributeNames: { '#id': 'id', '#status': 'status', '#data': 'data' },
            ExpressionAttributeValues: { ':completed': { S: 'COMPLETED' }, ...prefixes },
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      pages += 1;
      for (const item of page.Items ?? []) {
        const delivery = deliveryOfRecord(unmarshall(item));
        if (delivery && delivery.at >= since) deliveries.push(delivery);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey && pages < MAX_DELIVERY_SCAN_PAGES);
    if (startKey) partial.push(`the delivery table was read ${MAX_DELIVERY_SCAN_PAGES} pages far, not to its end: some accepted deliveries may be missing`);
    return deliveries;
  }

  /** The rejections (and, unless `rejectedOnly`, the replays) an endpoint function logged since `since`. */
  private async webhookLogLines(
    integration: string,
    logGroupName: string,
    since: number,
    rejectedOnly: boolean,
    partial: string[],
  ): Promise<{ rejections: WebhookRejectionView[]; duplicates: WebhookDeliveryView[] }> {
    const rejections: WebhookRejectionView[] = [];
    const duplicates: WebhookDeliveryView[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await this.aws(`logs:FilterLogEvents on ${logGroupName}`, () =>
        this.clients.logs!.send(
          new FilterLogEventsCommand({ logGroupName, startTime: since, endTime: this.clock.now(), filterPattern: webhookLogFilterPattern(rejectedOnly), nextToken }),
        ),
      );
      pages += 1;
      for (const event of page.events ?? []) {
        const line = webhookLogLine(integration, event);
        if (line?.kind === 'rejection') rejections.push(line.view);
        else if (line?.kind === 'duplicate' && !rejectedOnly) duplicates.push(line.view);
      }
      nextToken = page.nextToken;
    } while (nextToken && pages < MAX_LOG_PAGES);
    // FilterLogEvents reads oldest first: what a bound leaves out is the newest.
    if (nextToken) partial.push(`${logGroupName} has more log lines than ${MAX_LOG_PAGES} pages: the newest ${integration} ones are missing, narrow --since`);
    return { rejections, duplicates };
  }

  /** The stack's resources, described once per operator (a CLI run is one process). */
  private hub(): Promise<HubResources> {
    if (!this.resources) {
      const pending = this.describeStack();
      // A failed lookup is not cached: a long-lived caller (the tests, a script) may fix its credentials and retry.
      pending.catch(() => {
        if (this.resources === pending) this.resources = undefined;
      });
      this.resources = pending;
    }
    return this.resources;
  }

  /** The Outputs of every stack, merged (their keys do not overlap: each names its own resources). */
  private async describeStack(): Promise<HubResources> {
    const region = await this.region();
    const outputs: Output[] = [];
    const statuses: string[] = [];
    for (const stackName of this.stackNames) {
      try {
        const { Stacks } = await this.clients.cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
        const stack = Stacks?.[0];
        if (!stack) throw new OperatorError(this.stackNotFound(stackName, region));
        outputs.push(...(stack.Outputs ?? []));
        statuses.push(`${stackName} ${stack.StackStatus ?? 'UNKNOWN'}`);
      } catch (error) {
        // CloudFormation reports a missing stack as an unmodeled ValidationError: its message is all there is.
        if (error instanceof CloudFormationServiceException && /does not exist/i.test(error.message)) {
          throw new OperatorError(this.stackNotFound(stackName, region), { cause: error });
        }
        throw this.translate(error, 'cloudformation:DescribeStacks');
      }
    }
    const resources = { region, stackStatus: statuses.join(', '), ...parseStackOutputs(outputs), credentials: new Map<string, CircuitCredentials>() };
    if (this.circuitsPath === undefined) return resources;
    const path = this.circuitsPath;
    let parameters: OpsCatalogParameter[];
    try {
      parameters = await ssmParameterReader(this.clients.ssm!, 'the circuits and their settings')(path);
    } catch (error) {
      throw this.translate(error, `ssm:GetParametersByPath on ${path}`);
    }
    try {
      const entries = opsCatalogEntries(parameters, path);
      return { ...resources, circuits: circuitSettingsOfOpsCatalog(entries, path), credentials: circuitCredentialsOfOpsCatalog(entries) };
    } catch (error) {
      throw new OperatorError(`${(error as Error).message}: redeploy the stage (docs/deploy.md)`, { cause: error });
    }
  }

  private stackNotFound(stackName: string, region: string): string {
    return `Stack ${stackName} (${this.location}) not found in ${region}: deploy it (docs/deploy.md) or pass --stage <name> (and --region)`;
  }

  private async region(): Promise<string> {
    try {
      return await this.clients.cloudFormation.config.region();
    } catch (error) {
      throw this.translate(error, 'resolve the region');
    }
  }

  private output(hub: HubResources, key: string): string {
    const value = hub.outputs.get(key);
    if (!value) {
      throw new OperatorError(
        `The stacks of ${this.location} (${hub.stackStatus}) have no output ${key}: deploy the current version of the hub (docs/deploy.md)`,
      );
    }
    return value;
  }

  private async integration(name: string): Promise<{ name: string; queueUrl: string; deadLetterQueueUrl: string }> {
    const hub = await this.hub();
    const queues = hub.integrations.get(name);
    if (!queues) throw new UnknownIntegrationError(name, [...hub.integrations.keys()]);
    return { name, ...queues };
  }

  private async breaker(name: string): Promise<{ name: string; breaker: CircuitBreaker }> {
    const hub = await this.hub();
    const settings = hub.circuits.get(name);
    if (!settings) throw new UnknownCircuitError(name, [...hub.circuits.keys()]);
    const store = new DynamoDbCircuitStore({ tableName: this.output(hub, 'CircuitsTableName'), client: this.clients.dynamodb });
    // No hooks: an operator's isolate/reset is not a runtime transition to count in the integration's metrics. The
    // settings only shape the status view (effective state, next break, probe successes to close), never the stored state.
    const breaker = new CircuitBreaker({ circuitId: name, store, settings, clock: this.clock, instanceId: 'operator-cli' });
    return { name, breaker };
  }

  private async receiveSample(queueUrl: string, max: number): Promise<DeadLetterMessage[]> {
    const { Messages } = await this.aws('sqs:ReceiveMessage', () =>
      this.clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.max(1, Math.min(10, max)),
          // 0: the messages stay visible, nothing is taken away from a redrive or from another operator.
          VisibilityTimeout: 0,
          WaitTimeSeconds: DLQ_WAIT_SECONDS,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
      ),
    );
    return (Messages ?? []).map(toDeadLetterMessage);
  }

  private async queueAttributes(queueUrl: string, names: ('QueueArn' | 'ApproximateNumberOfMessages')[]): Promise<Record<string, string>> {
    const { Attributes } = await this.aws('sqs:GetQueueAttributes', () =>
      this.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: names })),
    );
    if (!Attributes?.QueueArn) throw new OperatorError(`SQS returned no QueueArn for ${queueUrl}`);
    return Attributes;
  }

  private async executionView(workflow: string, item: ExecutionListItem): Promise<WorkflowExecutionView> {
    const status = (item.status ?? 'RUNNING') as WorkflowExecutionView['status'];
    const executionArn = item.executionArn ?? '';
    let error: string | undefined;
    // ListExecutions does not say why an execution failed; one DescribeExecution per unsuccessful one does.
    if (status === 'FAILED' || status === 'TIMED_OUT' || status === 'ABORTED' || status === 'PENDING_REDRIVE') {
      const described = await this.aws('states:DescribeExecution', () => this.clients.sfn.send(new DescribeExecutionCommand({ executionArn })));
      error = described.error;
    }
    return {
      workflow,
      name: item.name ?? '',
      status,
      startedAt: item.startDate?.getTime() ?? 0,
      stoppedAt: item.stopDate?.getTime(),
      executionArn,
      error,
    };
  }

  /** An execution's ARN from its name: `arn:…:stateMachine:<machine>` → `arn:…:execution:<machine>:<name>`. */
  private async executionArnByName(name: string): Promise<string> {
    const hub = await this.hub();
    const candidates = [...hub.workflows.values()].map((arn) => `${arn.replace(':stateMachine:', ':execution:')}:${name}`);
    const found: string[] = [];
    for (const executionArn of candidates) {
      try {
        await this.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
        found.push(executionArn);
      } catch (error) {
        if (error instanceof ExecutionDoesNotExist || error instanceof StateMachineDoesNotExist) continue;
        throw this.translate(error, 'states:DescribeExecution');
      }
    }
    if (found.length === 0) {
      throw new NotFoundError(`No execution named '${name}' in ${[...hub.workflows.keys()].join(', ') || 'any workflow'}: pass its ARN (see \`workflows list\`)`);
    }
    if (found.length > 1) throw new OperatorError(`Several workflows have an execution named '${name}': pass its ARN\n  ${found.join('\n  ')}`);
    return found[0]!;
  }

  /** Runs an SDK call (or a runtime adapter making some), translating its errors; `action` names the IAM action. */
  private async aws<T>(action: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw this.translate(error, action);
    }
  }

  private translate(error: unknown, action: string): OperatorError {
    return translateAwsError(error, action);
  }
}

/**
 * Turns an SDK error (possibly wrapped by a runtime adapter in a DependencyError) into an OperatorError saying what
 * to do. Exported for tests.
 */
export function translateAwsError(error: unknown, action: string): OperatorError {
  if (error instanceof OperatorError) return error;
  const root = rootCause(error);
  const name = root instanceof Error ? root.name : 'Error';
  const message = root instanceof Error ? root.message : String(root);
  // The credential chain's CredentialsProviderError and the region resolver's error come from packages this project
  // does not depend on directly, so they cannot be matched with instanceof: their name and message are their contract.
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new OperatorError(
      'No AWS credentials: set AWS_PROFILE (or pass --profile) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), ' +
        'run `aws sso login` for an SSO profile, or use --local for the local hub',
      { cause: error },
    );
  }
  if (/Region is missing/i.test(message)) {
    return new OperatorError('No AWS region: pass --region, set AWS_REGION, or give the profile a region', { cause: error });
  }
  if (REJECTED_CREDENTIALS.has(name)) {
    return new OperatorError(`AWS rejected the credentials (${name}: ${message}): refresh them (e.g. \`aws sso login\`) or pick another --profile`, { cause: error });
  }
  if (/AccessDenied|UnauthorizedOperation|NotAuthorized/i.test(name) || httpStatus(root) === 403) {
    return new OperatorError(`Access denied: the caller may not ${action} (docs/operator-cli.md lists the permissions the CLI needs). AWS said: ${message}`, {
      cause: error,
    });
  }
  if (root instanceof QueueDoesNotExist) {
    return new OperatorError(`${action} failed: the queue named by the stack's outputs does not exist (${message}); redeploy the stack`, { cause: error });
  }
  return new OperatorError(`${action} failed: ${name}: ${message}`, { cause: error });
}

/** Error names (unmodeled in the clients) meaning the credentials were found but are expired or invalid. */
const REJECTED_CREDENTIALS = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'TokenRefreshRequired',
]);

/** The innermost `cause`: the runtime's adapters wrap SDK errors (DependencyError), the SDK error is what tells why. */
function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 10 && current instanceof Error && current.cause !== undefined; depth++) current = current.cause;
  return current;
}

function httpStatus(error: unknown): number | undefined {
  const metadata = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata;
  return metadata?.httpStatusCode;
}

/**
 * Reads the hub's integrations and workflows from the stack's Outputs: an integration is a `<Pascal>QueueUrl` +
 * `<Pascal>DeadLetterQueueUrl` pair (a workflow's starter queue, `<Workflow>Starter…`, is not one); a workflow is a
 * `<Pascal>StateMachineArn`. Names are the catalog's when the Pascal id matches one, else the kebab-case of the id.
 */
export function parseStackOutputs(outputs: readonly Output[]): Pick<HubResources, 'outputs' | 'integrations' | 'workflows' | 'circuits' | 'webhookLogGroups'> {
  const byKey = new Map<string, string>();
  for (const output of outputs) if (output.OutputKey && output.OutputValue) byKey.set(output.OutputKey, output.OutputValue);

  const workflows = new Map<string, string>();
  const workflowIds = new Set<string>();
  for (const [key, value] of byKey) {
    const id = /^(.+)StateMachineArn$/.exec(key)?.[1];
    if (!id) continue;
    workflowIds.add(id);
    workflows.set(nameOf(id, WORKFLOW_NAMES), value);
  }

  const integrations = new Map<string, { queueUrl: string; deadLetterQueueUrl: string }>();
  for (const [key, deadLetterQueueUrl] of byKey) {
    const id = /^(.+)DeadLetterQueueUrl$/.exec(key)?.[1];
    const queueUrl = id ? byKey.get(`${id}QueueUrl`) : undefined;
    if (!id || !queueUrl) continue;
    if (id.endsWith('Starter') && workflowIds.has(id.slice(0, -'Starter'.length))) continue;
    integrations.set(nameOf(id, INTEGRATION_NAMES), { queueUrl, deadLetterQueueUrl });
  }
  const webhookLogGroups = new Map<string, string>();
  for (const [key, value] of byKey) {
    const id = /^(.+)WebhookLogGroupName$/.exec(key)?.[1];
    if (id) webhookLogGroups.set(nameOf(id, INTEGRATION_NAMES), value);
  }
  return { outputs: byKey, integrations, workflows, circuits: circuitsOf(byKey, integrations.keys()), webhookLogGroups };
}

function newestFirst(a: { readonly at: number }, b: { readonly at: number }): number {
  return b.at - a.at;
}

/** An accepted delivery from a completed Powertools record (`data`: the stored WebhookDeliveryRecord, a map or JSON). */
function deliveryOfRecord(item: Record<string, unknown>): WebhookDeliveryView | undefined {
  const integration = typeof item.id === 'string' ? providerOfRecordId(item.id) : undefined;
  if (!integration) return undefined;
  let data = item.data;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      data = undefined;
    }
  }
  const record = (data !== null && typeof data === 'object' ? data : {}) as Record<string, unknown>;
  const forwardedAt = typeof record.forwardedAt === 'string' ? Date.parse(record.forwardedAt) : Number.NaN;
  // A record without a forward time (written before the records said it) cannot be placed in the window.
  if (Number.isNaN(forwardedAt)) return undefined;
  return {
    webhookId: typeof record.webhookId === 'string' ? record.webhookId : '-',
    integration,
    type: typeof record.type === 'string' ? record.type : '-',
    outcome: 'accepted',
    at: forwardedAt,
    forwardedAt,
  };
}

type WebhookLogLine = { readonly kind: 'rejection'; readonly view: WebhookRejectionView } | { readonly kind: 'duplicate'; readonly view: WebhookDeliveryView };

/** A rejection or a replay from one of an endpoint's JSON log lines; undefined for anything else. */
function webhookLogLine(integration: string, event: FilteredLogEvent): WebhookLogLine | undefined {
  const text = event.message ?? '';
  let line: Record<string, unknown>;
  try {
    // Powertools writes the JSON alone on the line; a runtime prefix (text log format) is skipped.
    line = JSON.parse(text.slice(Math.max(0, text.indexOf('{')))) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const string = (key: string) => (typeof line[key] === 'string' && line[key] !== '' ? (line[key] as string) : undefined);
  const at = event.timestamp ?? Date.parse(string('timestamp') ?? '');
  const webhookId = string('webhookId');
  if (line.message === WEBHOOK_LOG.rejected) {
    const detail = string('detail');
    return {
      kind: 'rejection',
      view: { at, integration, reason: string('reason') ?? 'unknown', ...(detail !== undefined ? { detail } : {}), ...(webhookId !== undefined ? { webhookId } : {}) },
    };
  }
  if (line.message === WEBHOOK_LOG.replay && webhookId !== undefined) {
    const forwardedAt = Date.parse(string('forwardedAt') ?? '');
    return {
      kind: 'duplicate',
      view: { webhookId, integration, type: string('type') ?? '-', outcome: 'duplicate', at, ...(Number.isNaN(forwardedAt) ? {} : { forwardedAt }) },
    };
  }
  return undefined;
}

/** The CircuitSettings output; for a stack deployed before it existed, the integrations' circuits with the catalog's settings. */
function circuitsOf(outputs: ReadonlyMap<string, string>, integrations: Iterable<string>): Map<string, CircuitBreakerSettingsInput> {
  const raw = outputs.get(CIRCUIT_SETTINGS_OUTPUT);
  if (raw === undefined) return new Map([...integrations].map((name) => [name, { ...INTEGRATIONS.find((entry) => entry.name === name)?.circuit }]));
  try {
    return parseCircuitSettingsOutput(raw);
  } catch (error) {
    throw new OperatorError(`${(error as Error).message}: redeploy the hub (docs/deploy.md)`, { cause: error });
  }
}

const INTEGRATION_NAMES = INTEGRATIONS.map((entry) => entry.name);
const WORKFLOW_NAMES = [WORKFLOWS.orderSaga.name, WORKFLOWS.contactSync.name];

function nameOf(id: string, catalogNames: readonly string[]): string {
  return catalogNames.find((name) => pascalCase(name) === id) ?? kebabCase(id);
}


function kebabCase(id: string): string {
  return id.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

function toDeadLetterMessage(message: Message): DeadLetterMessage {
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    // String and Number attributes carry StringValue; a binary one is only flagged (the CLI prints text).
    attributes[name] = value.StringValue ?? (value.BinaryValue ? '(binary)' : '');
  }
  return {
    messageId: message.MessageId ?? '',
    body: message.Body ?? '',
    attributes,
    sentAt: Number(message.Attributes?.SentTimestamp ?? 0),
    receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
  };
}

/** `map` with at most `limit` calls in flight, keeping the order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await map(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
