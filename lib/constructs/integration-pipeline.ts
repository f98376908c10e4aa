import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { EventSourceMapping } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption, type QueueProps } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SECRET_FIELDS, SECRET_PLACEHOLDER } from '../../functions/runtime/auth-config.js';
import { type CatalogAuthScheme, REPOSITORY_ROOT, type ResolvedIntegration } from '../catalog.js';
import { TABLE_ITEM_ACTIONS } from './hub-tables.js';
import { assertNoProblems } from '../props-validation.js';
import { secretAccessOf, ServiceFunction } from './service-function.js';

/** The repository root: catalog entry paths (`functions/integrations/crm.ts`) are relative to it. */

/** Props of {@link IntegrationPipeline}. */
export interface IntegrationPipelineProps {
  /** The catalog entry, defaults applied (`resolveCatalog`). */
  readonly integration: ResolvedIntegration;
  /** The bus whose events the integration's routes match. */
  readonly bus: IEventBus;
  /** The sync ledger table (read/write). */
  readonly ledgerTable: ITable;
  /** The circuits table (read/write). */
  readonly circuitsTable: ITable;
  /**
   * What happens to the created secret and the function's log group when they leave the stack. Use DESTROY only
   * for throwaway dev stacks.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /** Retention of the function's log group. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * Overrides for the work queue. Encryption, TLS-only access, the redrive policy and the visibility timeout are
   * set by this construct whatever is passed here.
   * @default SQS-managed encryption, 4 days retention
   */
  readonly queueProps?: Omit<QueueProps, 'deadLetterQueue' | 'visibilityTimeout' | 'enforceSSL'>;
  /** The directory catalog entry paths are relative to. @default the repository root */
  readonly repositoryRoot?: string;
}

/**
 * One integration, deployed from its catalog entry: the routes from the hub bus to a work queue, the queue and its
 * DLQ, the function (the adapter on the runtime), the event source mapping between them, and the credentials secret.
 *
 * ```
 * bus ──rule per route──> queue ──ESM (partial batch response, max concurrency)──> function ──> third party
 *          │ (undeliverable)  │ redrive after maxReceiveCount          │ permanent failures, with the reason
 *          └──────────────────┴──────────────> DLQ (14 days) <─────────┘
 * ```
 *
 * The function may: read its own secret, read/write the ledger and circuits tables, send to its own DLQ, consume
 * and change the visibility of messages on its own queue. Nothing else.
 *
 * The secret is created with a generated placeholder (`{"<field>": "SET_AFTER_DEPLOY", ..., "<last field>":
 * <random>}` with the auth scheme's fields) — no secret value is in the template; set the real value after the
 * first deploy. With `secret.import: true` in the catalog the existing secret of that name is used instead (create
 * it first, in the same account and region); the grant then covers `<name>-??????`, Secrets Manager's suffix.
 */
export class IntegrationPipeline extends Construct {
  /** The catalog entry this pipeline was built from. */
  public readonly integration: ResolvedIntegration;
  /** The work queue: the rules deliver here, the function consumes from here. */
  public readonly queue: Queue;
  /** Redriven messages (after maxReceiveCount), permanent failures (sent by the runtime) and undeliverable events. */
  public readonly deadLetterQueue: Queue;
  /** The integration's function (handler `handler` of the catalog entry's module). */
  public readonly function: ServiceFunction;
  /** The SQS event source mapping; the circuit controller disables/enables it by `eventSourceMappingId`. */
  public readonly eventSourceMapping: EventSourceMapping;
  /** The credentials secret; undefined when the auth scheme is `none`. */
  public readonly secret?: ISecret;
  /** One rule per catalog route, in catalog order. */
  public readonly rules: readonly Rule[];

  constructor(scope: Construct, id: string, props: IntegrationPipelineProps) {
    super(scope, id);
    const integration = props.integration;
    const root = props.repositoryRoot ?? REPOSITORY_ROOT;
    const entry = join(root, integration.entry);
    const timeout = Duration.seconds(integration.functionTimeoutSeconds);
    // AWS's guidance for SQS event sources: at least 6 × the function timeout, plus the batching window.
    const visibilityTimeoutSeconds = 6 * integration.functionTimeoutSeconds + integration.batchWindowSeconds;
    assertNoProblems(this.node.path, pipelineProblems(props, entry));
    this.integration = integration;
    const description = `integration-hub ${integration.name}: ${integration.description}`;

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // SQS's maximum: the time operators have to inspect and redrive.
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'Queue', {
      // SQS-managed SSE: EventBridge can deliver to it (it cannot use the aws/sqs AWS managed KMS key), with no key
      // policy to maintain.
      encryption: QueueEncryption.SQS_MANAGED,
      // SQS's maximum (its default is 4 days): while a circuit is open the mapping is paused and messages wait here,
      // so a long outage must not expire them before the provider is back (docs/runbooks/circuit-open-too-long.md).
      retentionPeriod: Duration.days(14),
      ...props.queueProps,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: integration.maxReceiveCount },
    });

    this.function = new ServiceFunction(this, 'Function', {
      entry,
      description,
      timeout,
      memorySize: integration.memoryMb,
      logGroupRetention: props.logRetention,
      logGroupRemovalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      projectRoot: root,
      ...(existsSync(join(root, 'package-lock.json')) ? { depsLockFilePath: join(root, 'package-lock.json') } : {}),
      environment: {
        // The runtime keeps the circuit, ledger rows, metrics and idempotency keys under the integration's name; the
        // adapter's name tells the local hub (local/hub/local-hub.ts) and operators which module the bundle is.
        INTEGRATION_NAME: integration.name,
        ADAPTER: integration.adapter,
        BASE_URL: integration.baseUrl,
        AUTH: JSON.stringify(integration.auth),
        RECORD_CONCURRENCY: String(integration.recordConcurrency),
        // The redrive policy's count: a message that only waited is handed back before it (functions/runtime/integration-runtime.ts).
        MAX_RECEIVE_COUNT: String(integration.maxReceiveCount),
        CIRCUIT_SETTINGS: JSON.stringify(integration.circuit),
        ...(integration.httpTimeoutMs !== undefined ? { HTTP_TIMEOUT_MS: String(integration.httpTimeoutMs) } : {}),
        ...(integration.maxAttempts !== undefined ? { HTTP_MAX_ATTEMPTS: String(integration.maxAttempts) } : {}),
      },
    });
    // Exactly the item actions the runtime sends. Its own circuit only: a compromised adapter cannot open, close or
    // rewrite another integration's circuit. The ledger's partition key is the entity, shared by every integration
    // syncing it, so IAM cannot split it by integration (docs/architecture.md "Shared state").
    this.function.bindTable(props.ledgerTable, { actions: TABLE_ITEM_ACTIONS.ledger }, 'LEDGER_TABLE_NAME');
    this.function.bindTable(props.circuitsTable, { actions: TABLE_ITEM_ACTIONS.circuits, leadingKeys: [integration.name] }, 'CIRCUITS_TABLE_NAME');
    // Permanent failures go straight to the DLQ, with the reason as message attributes.
    this.function.bindQueue(this.deadLetterQueue, 'DLQ_URL');
    this.queue.grantConsumeMessages(this.function);
    // Parking: an open circuit extends a message's visibility instead of burning its receive count; on its last
    // receive a message that only waited is sent back as a copy with a fresh count (the original is then deleted).
    this.queue.grant(this.function, 'sqs:ChangeMessageVisibility');
    this.queue.grantSendMessages(this.function);

    this.secret = createOrImportCredentialsSecret(this, 'Secret', {
      owner: integration.name,
      auth: integration.auth.scheme,
      secret: integration.secret,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    if (this.secret) this.function.bindSecret(this.secret, 'SECRET_NAME', secretAccessOf(integration.auth.scheme));

    this.eventSourceMapping = new EventSourceMapping(this, 'EventSource', {
      target: this.function,
      eventSourceArn: this.queue.queueArn,
      batchSize: integration.batchSize,
      maxBatchingWindow: integration.batchWindowSeconds > 0 ? Duration.seconds(integration.batchWindowSeconds) : undefined,
      reportBatchItemFailures: true,
      maxConcurrency: integration.maxConcurrency,
    });
    // The mapping is validated against the role's permissions when it is created.
    this.eventSourceMapping.node.addDependency(this.function);

    this.rules = integration.routes.map(
      (route, index) =>
        new Rule(this, `Route${index + 1}`, {
          eventBus: props.bus,
          description: `${integration.name} route ${index + 1}: ${route.detailTypes.join(', ')} from ${route.sources.join(', ')}`,
          eventPattern: { source: [...route.sources], detailType: [...route.detailTypes] },
          // Events EventBridge cannot deliver (after its 24 h of retries) land in the integration's DLQ with the
          // others, where the same redrive brings them back.
          targets: [new SqsQueue(this.queue, { deadLetterQueue: this.deadLetterQueue })],
        }),
    );
  }

  /** The event source mapping's UUID (for `lambda:UpdateEventSourceMapping`). */
  get eventSourceMappingId(): string {
    return this.eventSourceMapping.eventSourceMappingId;
  }

  /** The event source mapping's ARN (the IAM resource of the circuit controller's grant). */
  get eventSourceMappingArn(): string {
    return this.eventSourceMapping.eventSourceMappingArn;
  }

  /** Lets `grantee` pause and resume delivery to the function (the circuit controller), on this mapping only. */
  grantEventSourceControl(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'],
      resourceArns: [this.eventSourceMappingArn],
    });
  }

  /** Lets `grantee` send messages straight to the work queue (producers that do not use the bus). */
  grantEnqueue(grantee: IGrantable): Grant {
    return this.queue.grantSendMessages(grantee);
  }

  /**
   * Lets `grantee` move messages from the DLQ back to the work queue (SQS message move task), and inspect them.
   */
  grantRedrive(grantee: IGrantable): Grant {
    const moveTask = Grant.addToPrincipal({
      grantee,
      actions: ['sqs:StartMessageMoveTask', 'sqs:ListMessageMoveTasks', 'sqs:CancelMessageMoveTask'],
      resourceArns: [this.deadLetterQueue.queueArn],
    });
    return moveTask.combine(this.deadLetterQueue.grantConsumeMessages(grantee)).combine(this.queue.grantSendMessages(grantee));
  }
}

/** What {@link createOrImportCredentialsSecret} needs: who the credentials are for, their scheme and the secret's name. */
export interface CredentialsSecretOptions {
  /** The integration or provider name (descriptions and the acknowledgement). */
  readonly owner: string;
  readonly auth: CatalogAuthScheme;
  readonly secret: { readonly name: string; readonly import: boolean };
  readonly removalPolicy: RemovalPolicy;
}

/**
 * An existing secret, by name or ARN: a stage may import by ARN (a secret of another account, or to pin one); the
 * catalog imports by name.
 */
export function importSecret(scope: Construct, id: string, name: string): ISecret {
  if (!name.startsWith('arn:')) return Secret.fromSecretNameV2(scope, id, name);
  return /-[A-Za-z0-9]{6}$/.test(name) ? Secret.fromSecretCompleteArn(scope, id, name) : Secret.fromSecretPartialArn(scope, id, name);
}

/**
 * The credentials secret of an integration or a workflow provider: imported by name (`import: true`), or created
 * with a generated placeholder (`{"<field>": "SET_AFTER_DEPLOY", ..., "<last field>": <random>}` with the auth
 * scheme's fields, so no secret value is in the template). Undefined for auth scheme `none`.
 */
export function createOrImportCredentialsSecret(scope: Construct, id: string, options: CredentialsSecretOptions): ISecret | undefined {
  const { owner, auth } = options;
  if (options.secret.import) return importSecret(scope, id, options.secret.name);
  const fields = SECRET_FIELDS[auth];
  const generated = fields.at(-1);
  if (generated === undefined) return undefined;
  const secret = new Secret(scope, id, {
    secretName: options.secret.name,
    description: `Credentials of integration-hub ${owner} (${auth}): replace the placeholder values after deploy`,
    generateSecretString: {
      secretStringTemplate: JSON.stringify(Object.fromEntries(fields.slice(0, -1).map((field) => [field, SECRET_PLACEHOLDER]))),
      generateStringKey: generated,
      excludePunctuation: true,
      passwordLength: 32,
    },
    removalPolicy: options.removalPolicy,
  });
  Validations.of(secret).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason:
      `The ${owner} credentials are issued by the third party and rotated there; no rotation Lambda can ` +
      'mint them. The runtime re-reads the secret on 401/403 and every few minutes, so a rotated value is picked up without a deploy.',
  });
  return secret;
}

function pipelineProblems(props: IntegrationPipelineProps, entry: string): string[] {
  const problems: string[] = [];
  const { integration } = props;
  if (!existsSync(entry)) problems.push(`entry ${integration.entry} does not exist under ${props.repositoryRoot ?? REPOSITORY_ROOT}`);
  if (integration.routes.length === 0) problems.push('needs at least one route');
  if (integration.batchSize > 10 && integration.batchWindowSeconds === 0) problems.push('a batch size above 10 needs a batching window');
  if (props.queueProps?.encryption === QueueEncryption.UNENCRYPTED) problems.push('queueProps.encryption must not be UNENCRYPTED');
  if (props.queueProps?.fifo) problems.push('FIFO work queues are not supported: EventBridge rules target a standard queue');
  return problems;
}
