import { CloudFormationClient, CloudFormationServiceException, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, FilterLogEventsCommand, type FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient, GetItemCommand, PutItemCommand, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  ExecutionNotRedrivable,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient, SQSServiceException, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveCircuitBreakerSettings } from '../../../functions/runtime/circuit-settings.js';
import { DynamoDBSyncLedger } from '../../../functions/runtime/dynamodb-sync-ledger.js';
import { ledgerPartitionKey } from '../../../functions/runtime/sync-ledger.js';
import { DependencyError } from '../../../functions/runtime/errors.js';
import { pascalCase } from '../../../lib/catalog.js';
import { AwsHubOperator, parseStackOutputs, translateAwsError, webhookLogFilterPattern } from '../../../local/cli/aws-hub-operator.js';
import { webhookKeyPrefix, WEBHOOK_LOG } from '../../../functions/webhooks/webhook-records.js';
import { webhookLogGroupOutputKey } from '../../../lib/constructs/hub-webhooks.js';
import { CircuitNotClosedError, NotFoundError, OperatorError, UnknownCircuitError, UnknownIntegrationError } from '../../../local/cli/hub-operator.js';
import { CATALOG, type CatalogSubject, catalogSubjects, CIRCUITS, STANDALONE_PROVIDERS } from '../../support/catalog-subjects.js';
import { type LocalDynamo, startLocalDynamo } from '../../support/dynalite.js';
import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { refreshLeaseKey } from '../../../functions/runtime/refresh-token-credentials.js';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const sqsUrl = (name: string) => `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`;
const sqsArn = (name: string) => `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`;
const ORDER_SAGA = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:OrderSagaStateMachine15260A25-abc`;
const CONTACT_SYNC = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:ContactSyncStateMachineA31A2B0E-def`;

/** The catalog's integrations and circuits (test/support/catalog-subjects.ts): what the stack's outputs name. */
const INTEGRATION_NAMES = CATALOG.map((integration) => integration.name);
const CIRCUIT_IDS = [...CIRCUITS.keys()];
/** The integration the DLQ and circuit tests use: the catalog's first. */
const SUBJECT = INTEGRATION_NAMES[0]!;
/** A workflow provider with a circuit of its own and no queue, if the catalog has one. */
const PROVIDER = STANDALONE_PROVIDERS[0]?.name;
/** The break of circuit `name` as the catalog sets it. */
const catalogBreakMs = (name: string) => resolveCircuitBreakerSettings(CIRCUITS.get(name)).breakMs;

/**
 * The Outputs of the IntegrationHub stack synthesized from the catalog (lib/integration-hub-stack.ts `outputs`), with
 * deployed values: a queue and a DLQ per integration, the circuits with their catalog settings.
 */
const OUTPUTS: Output[] = Object.entries({
  EventBusName: 'IntegrationHubEventsBus45DE4339',
  CircuitsTableName: 'circuits',
  LedgerTableName: 'ledger',
  CheckpointsTableName: 'IntegrationHub-TablesCheckpoints',
  ...Object.fromEntries(
    INTEGRATION_NAMES.flatMap((name) => [
      [`${pascalCase(name)}QueueUrl`, sqsUrl(`${name}-queue`)],
      [`${pascalCase(name)}DeadLetterQueueUrl`, sqsUrl(`${name}-dlq`)],
    ]),
  ),
  OrderSagaStateMachineArn: ORDER_SAGA,
  OrderSagaStarterQueueUrl: sqsUrl('starter-queue'),
  OrderSagaStarterDeadLetterQueueUrl: sqsUrl('starter-dlq'),
  ContactSyncStateMachineArn: CONTACT_SYNC,
  CircuitSettings: JSON.stringify(Object.fromEntries(CIRCUITS)),
}).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue }));

const cloudFormation = new CloudFormationClient({ region: REGION });
const sqs = new SQSClient({ region: REGION });
const eventBridge = new EventBridgeClient({ region: REGION });
const sfn = new SFNClient({ region: REGION });
const cfnMock = mockClient(cloudFormation);
const sqsMock = mockClient(sqs);
const eventsMock = mockClient(eventBridge);
const sfnMock = mockClient(sfn);

let dynamo: LocalDynamo;
/** The subject integration's adapter: the ledger tests store the entities of its examples. */
let subject: CatalogSubject;

beforeAll(async () => {
  [subject] = (await catalogSubjects()) as [CatalogSubject];
  dynamo = await startLocalDynamo();
  await dynamo.createTable('circuits', { partitionKey: 'circuitId' });
  await dynamo.createTable('ledger');
});
afterAll(() => dynamo.close());

beforeEach(() => {
  for (const mock of [cfnMock, sqsMock, eventsMock, sfnMock]) mock.reset();
  cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'IntegrationHub', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(), Outputs: OUTPUTS }] });
});

let circuitCounter = 0;
/** An operator on the mocked clients; DynamoDB is dynalite. `circuitsTable` lets a test use fresh circuits. */
function operator(outputs: Output[] = OUTPUTS): AwsHubOperator {
  if (outputs !== OUTPUTS) cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'IntegrationHub', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(), Outputs: outputs }] });
  return new AwsHubOperator({ stackNames: ['IntegrationHub'], clients: { cloudFormation, sqs, eventBridge, sfn, dynamodb: dynamo.client } });
}

/** Outputs with a circuits table of its own, so circuit tests do not see each other's state. */
async function withFreshCircuits(): Promise<Output[]> {
  const table = `circuits-${++circuitCounter}`;
  await dynamo.createTable(table, { partitionKey: 'circuitId' });
  return OUTPUTS.map((o) => (o.OutputKey === 'CircuitsTableName' ? { ...o, OutputValue: table } : o));
}

function serviceError<T extends Error>(error: T, status = 400): T {
  return Object.assign(error, { $metadata: { httpStatusCode: status } });
}

describe('the stack outputs', () => {
  it('describes the hub from the outputs: integrations are queue + DLQ pairs, the saga starter is not one', async () => {
    const hub = operator();
    expect(await hub.describe()).toEqual({
      target: 'aws',
      location: `IntegrationHub in ${REGION}`,
      integrations: INTEGRATION_NAMES,
      workflows: ['order-saga', 'contact-sync'],
      circuits: CIRCUIT_IDS,
    });
    await hub.describe();
    expect(cfnMock.commandCalls(DescribeStacksCommand)).toHaveLength(1);
    expect(cfnMock.commandCalls(DescribeStacksCommand)[0]?.args[0].input).toEqual({ StackName: 'IntegrationHub' });
  });

  it('names integrations like the catalog, and kebab-cases ids the catalog does not know', () => {
    const outputs = [
      { OutputKey: 'OrderSyncQueueUrl', OutputValue: 'q' },
      { OutputKey: 'OrderSyncDeadLetterQueueUrl', OutputValue: 'd' },
      { OutputKey: 'LonelyDeadLetterQueueUrl', OutputValue: 'd' },
    ];
    expect([...parseStackOutputs(outputs).integrations.keys()]).toEqual(['order-sync']);
    expect(pascalCase('order-sync')).toBe('OrderSync');
  });

  it('says the stack was not found, in which region, and what to do', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(
      new CloudFormationServiceException({ name: 'ValidationError', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Stack with id IntegrationHub does not exist' }),
    );
    const error = await operator().describe().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperatorError);
    expect((error as Error).message).toBe(`Stack IntegrationHub (IntegrationHub) not found in ${REGION}: deploy it (docs/deploy.md) or pass --stage <name> (and --region)`);
  });

  it("reads a stage's circuits and their settings from the circuits' parameters, not from an output", async () => {
    const ssmMock = mockClient(SSMClient);
    const path = '/IntegrationHub-qa-core/circuit-ops/';
    const circuit = { failureThreshold: 4, breakMs: 12_000 };
    ssmMock.on(GetParametersByPathCommand).resolves({
      Parameters: [
        { Name: `${path}integrations/made-up`, Value: JSON.stringify({ name: 'made-up', mappingUuid: 'u', circuit }) },
        { Name: `${path}providers/courier`, Value: JSON.stringify({ name: 'courier', circuit: {} }) },
      ],
    });
    const outputs = OUTPUTS.filter((o) => o.OutputKey !== 'CircuitSettings');
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'IntegrationHub-qa-core', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(), Outputs: outputs }] });
    const hub = new AwsHubOperator({ stackNames: ['IntegrationHub-qa-core'], circuitsPath: path, clients: { cloudFormation, sqs, eventBridge, sfn, dynamodb: dynamo.client, ssm: new SSMClient({ region: REGION }) } });
    expect((await hub.describe()).circuits).toEqual(['made-up', 'courier']);
    expect(ssmMock.commandCalls(GetParametersByPathCommand)[0]?.args[0].input).toMatchObject({ Path: path.slice(0, -1), Recursive: true });
    // Settings that are no circuit settings are refused, naming where they are.
    ssmMock.on(GetParametersByPathCommand).resolves({ Parameters: [{ Name: `${path}integrations/x`, Value: JSON.stringify({ name: 'x', circuit: { failureThreshold: 'many' } }) }] });
    const broken = new AwsHubOperator({ stackNames: ['IntegrationHub-qa-core'], circuitsPath: path, clients: { cloudFormation, sqs, eventBridge, sfn, dynamodb: dynamo.client, ssm: new SSMClient({ region: REGION }) } });
    await expect(broken.describe()).rejects.toThrow(/The x circuit under \/IntegrationHub-qa-core\/circuit-ops\/ has invalid settings[\s\S]*redeploy the stage/);
    ssmMock.restore();
  });

  it("reads a stage's stacks and merges their outputs: the core's tables, each group's queues, the workflows'", async () => {
    const [core, group, workflows] = ['IntegrationHub-qa-core', 'IntegrationHub-qa-integrations', 'IntegrationHub-qa-workflows'];
    const isQueue = (key: string) => /QueueUrl$/.test(key) && !key.startsWith('OrderSagaStarter');
    const part = (name: string, keep: (key: string) => boolean) => ({
      Stacks: [{ StackName: name, StackStatus: 'UPDATE_COMPLETE' as const, CreationTime: new Date(), Outputs: OUTPUTS.filter((o) => keep(o.OutputKey!)) }],
    });
    cfnMock.on(DescribeStacksCommand, { StackName: core }).resolves(part(core, (key) => !isQueue(key) && !/StateMachineArn$|^OrderSagaStarter/.test(key)));
    cfnMock.on(DescribeStacksCommand, { StackName: group }).resolves(part(group, isQueue));
    cfnMock.on(DescribeStacksCommand, { StackName: workflows }).resolves(part(workflows, (key) => /StateMachineArn$|^OrderSagaStarter/.test(key)));
    const hub = new AwsHubOperator({ stackNames: [core, group, workflows], location: 'stage qa', clients: { cloudFormation, sqs, eventBridge, sfn, dynamodb: dynamo.client } });
    expect(await hub.describe()).toEqual({ target: 'aws', location: `stage qa in ${REGION}`, integrations: INTEGRATION_NAMES, workflows: ['order-saga', 'contact-sync'], circuits: CIRCUIT_IDS });
    expect(cfnMock.commandCalls(DescribeStacksCommand).map((call) => call.args[0].input.StackName)).toEqual([core, group, workflows]);
  });

  it('says which output is missing from an older or failed stack', async () => {
    const hub = operator(OUTPUTS.filter((o) => o.OutputKey !== 'EventBusName'));
    await expect(hub.send({ detailType: 'X', detail: {} })).rejects.toThrow('The stacks of IntegrationHub (IntegrationHub UPDATE_COMPLETE) have no output EventBusName: deploy the current version of the hub (docs/deploy.md)');
  });

  it('reports missing credentials with what to set, through the real SDK credential chain', async () => {
    const noCredentials = new CloudFormationClient({
      region: REGION,
      credentials: async () => {
        throw Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
      },
    });
    const hub = new AwsHubOperator({ clients: { cloudFormation: noCredentials, sqs, eventBridge, sfn, dynamodb: dynamo.client } });
    const error = await hub.dlqList(SUBJECT).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperatorError);
    expect((error as Error).message).toMatch(/^No AWS credentials: set AWS_PROFILE \(or pass --profile\) or AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY.*or use --local/);
  });

  it('does not cache a failed stack lookup', async () => {
    cfnMock.on(DescribeStacksCommand).rejectsOnce(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
    const hub = new AwsHubOperator({ clients: { cloudFormation, sqs, eventBridge, sfn, dynamodb: dynamo.client } });
    await expect(hub.describe()).rejects.toThrow(/No AWS credentials/);
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'IntegrationHub', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(), Outputs: OUTPUTS }] });
    expect((await hub.describe()).integrations).toEqual(INTEGRATION_NAMES);
  });
});

describe('translateAwsError', () => {
  it('names the missing region', () => {
    expect(translateAwsError(new Error('Region is missing'), 'x').message).toBe('No AWS region: pass --region, set AWS_REGION, or give the profile a region');
  });

  it('names the denied action', () => {
    const denied = serviceError(Object.assign(new Error('User: arn:aws:iam::1:user/op is not authorized to perform: sqs:startmessagemovetask'), { name: 'AccessDenied' }), 403);
    expect(translateAwsError(denied, 'sqs:StartMessageMoveTask').message).toMatch(/^Access denied: the caller may not sqs:StartMessageMoveTask \(docs\/operator-cli\.md lists the permissions the CLI needs\)\. AWS said: User: /);
  });

  it('finds the SDK error inside a runtime adapter DependencyError', () => {
    const sdk = serviceError(Object.assign(new Error('not authorized to perform: dynamodb:PutItem'), { name: 'AccessDeniedException' }), 400);
    const wrapped = new DependencyError('Circuits', 'circuits table write failed for alpha: AccessDeniedException', { cause: sdk });
    const translated = translateAwsError(wrapped, 'dynamodb:GetItem/PutItem on the circuits table');
    expect(translated.message).toMatch(/^Access denied: the caller may not dynamodb:GetItem\/PutItem on the circuits table/);
    expect(translated.cause).toBe(wrapped);
  });

  it('says when found credentials are expired or invalid', () => {
    const expired = Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException' });
    expect(translateAwsError(expired, 'x').message).toMatch(/^AWS rejected the credentials \(ExpiredTokenException: .*\): refresh them/);
  });

  it('keeps an OperatorError as is, and names the action of anything else', () => {
    const own = new NotFoundError('nope');
    expect(translateAwsError(own, 'x')).toBe(own);
    expect(translateAwsError(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }), 'states:ListExecutions').message).toBe('states:ListExecutions failed: ThrottlingException: slow down');
  });
});

describe('unknown integrations', () => {
  type UnknownIntegrationCase = [label: string, name: string, call: (hub: AwsHubOperator) => Promise<unknown>];
  const providerCase: UnknownIntegrationCase[] = PROVIDER ? [['dlqList of a workflow provider', PROVIDER, (hub) => hub.dlqList(PROVIDER)]] : [];
  it.each<UnknownIntegrationCase>([
    ['dlqList', 'nope', (hub) => hub.dlqList('nope')],
    ['dlqShow', 'nope', (hub) => hub.dlqShow('nope', 'm')],
    ['dlqRedrive', 'nope', (hub) => hub.dlqRedrive('nope', { force: true })],
    // A workflow provider has a circuit but no queue of its own.
    ...providerCase,
  ])('%s names the integrations of the stack', async (_, name, call) => {
    const error = await call(operator()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownIntegrationError);
    expect((error as Error).message).toBe(`Unknown integration '${name}'. The hub has: ${INTEGRATION_NAMES.join(', ')}`);
    expect(sqsMock.calls()).toHaveLength(0);
  });

  it.each([
    ['circuitStatus', (hub: AwsHubOperator) => hub.circuitStatus('nope')],
    ['circuitIsolate', (hub: AwsHubOperator) => hub.circuitIsolate('nope', 'r')],
    ['circuitReset', (hub: AwsHubOperator) => hub.circuitReset('nope')],
  ])('%s names the circuits of the stack', async (_, call) => {
    const error = await call(operator()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownCircuitError);
    expect((error as Error).message).toBe(`Unknown circuit 'nope'. The hub has: ${CIRCUIT_IDS.join(', ')}`);
  });
});

describe('send', () => {
  it('puts the event on the hub bus', async () => {
    eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'ev-1' }] });
    const result = await operator().send({ detailType: 'ItemRequested', detail: { itemId: 'i-1', version: 1 }, source: 'items.service' });
    expect(result).toEqual({ eventId: 'ev-1' });
    expect(eventsMock.commandCalls(PutEventsCommand)[0]?.args[0].input).toEqual({
      Entries: [{ EventBusName: 'IntegrationHubEventsBus45DE4339', Source: 'items.service', DetailType: 'ItemRequested', Detail: '{"itemId":"i-1","version":1}' }],
    });
  });

  it('uses the default source when none is given', async () => {
    eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'ev-2' }] });
    await operator().send({ detailType: 'X', detail: {} });
    expect(eventsMock.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0]?.Source).toBe('integration-hub.cli');
  });

  it('reports an entry EventBridge refused', async () => {
    eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' }] });
    await expect(operator().send({ detailType: 'X', detail: {} })).rejects.toThrow('EventBridge refused the event on bus IntegrationHubEventsBus45DE4339: MalformedDetail: Detail is malformed.');
  });

  it('names events:PutEvents when access is denied', async () => {
    eventsMock.on(PutEventsCommand).rejects(serviceError(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }), 400));
    await expect(operator().send({ detailType: 'X', detail: {} })).rejects.toThrow(/^Access denied: the caller may not events:PutEvents/);
  });
});

describe('dlq', () => {
  const message = (id: string, extra: Record<string, string> = {}) => ({
    MessageId: id,
    ReceiptHandle: `rh-${id}`,
    Body: `{"id":"${id}"}`,
    Attributes: { SentTimestamp: '1763632800000', ApproximateReceiveCount: '3' },
    MessageAttributes: Object.fromEntries(Object.entries({ errorClass: 'Http400', ...extra }).map(([k, v]) => [k, { DataType: 'String', StringValue: v }])),
  });

  it('lists by receiving with a visibility timeout of 0, deduplicating repeated samples', async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message('a'), message('b')] })
      .resolvesOnce({ Messages: [message('b'), message('c')] })
      .resolves({ Messages: [message('a')] });
    const messages = await operator().dlqList(SUBJECT, { limit: 10 });
    expect(messages.map((m) => m.messageId)).toEqual(['a', 'b', 'c']);
    expect(messages[0]).toEqual({ messageId: 'a', body: '{"id":"a"}', attributes: { errorClass: 'Http400' }, sentAt: 1763632800000, receiveCount: 3 });
    const calls = sqsMock.commandCalls(ReceiveMessageCommand);
    // Two polls that bring nothing new end the listing.
    expect(calls).toHaveLength(4);
    expect(calls[0]?.args[0].input).toEqual({
      QueueUrl: sqsUrl(`${SUBJECT}-dlq`),
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 0,
      WaitTimeSeconds: 1,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
    });
  });

  it('stops at the limit', async () => {
    sqsMock.on(ReceiveMessageCommand).resolvesOnce({ Messages: [message('a'), message('b')] }).resolves({ Messages: [message('c')] });
    const messages = await operator().dlqList(SUBJECT, { limit: 2 });
    expect(messages.map((m) => m.messageId)).toEqual(['a', 'b']);
    expect(sqsMock.commandCalls(ReceiveMessageCommand)).toHaveLength(1);
    expect(sqsMock.commandCalls(ReceiveMessageCommand)[0]?.args[0].input.QueueUrl).toBe(sqsUrl(`${SUBJECT}-dlq`));
  });

  it('lists an empty DLQ as empty', async () => {
    sqsMock.on(ReceiveMessageCommand).resolves({});
    expect(await operator().dlqList(SUBJECT)).toEqual([]);
  });

  it('shows one message by id, and says when it is not there', async () => {
    sqsMock.on(ReceiveMessageCommand).resolvesOnce({ Messages: [message('a')] }).resolves({ Messages: [message('b', { correlationId: 'c-9' })] });
    expect((await operator().dlqShow(SUBJECT, 'b')).attributes).toEqual({ errorClass: 'Http400', correlationId: 'c-9' });

    sqsMock.reset();
    sqsMock.on(ReceiveMessageCommand).resolves({ Messages: [message('a')] });
    const error = await operator().dlqShow(SUBJECT, 'zzz').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toMatch(new RegExp(`^Message zzz is not in the DLQ of '${SUBJECT}' \\(sampled 1 message;`));
  });

  describe('redrive', () => {
    beforeEach(() => {
      sqsMock.on(GetQueueAttributesCommand, { QueueUrl: sqsUrl(`${SUBJECT}-dlq`) }).resolves({ Attributes: { QueueArn: sqsArn(`${SUBJECT}-dlq`), ApproximateNumberOfMessages: '7' } });
      sqsMock.on(GetQueueAttributesCommand, { QueueUrl: sqsUrl(`${SUBJECT}-queue`) }).resolves({ Attributes: { QueueArn: sqsArn(`${SUBJECT}-queue`) } });
      sqsMock.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-1' });
    });

    it('starts a message move task from the DLQ to the source queue when the circuit is closed (never used)', async () => {
      const hub = operator(await withFreshCircuits());
      expect(await hub.dlqRedrive(SUBJECT)).toEqual({ integration: SUBJECT, taskHandle: 'task-1', messages: 7 });
      expect(sqsMock.commandCalls(StartMessageMoveTaskCommand)[0]?.args[0].input).toEqual({ SourceArn: sqsArn(`${SUBJECT}-dlq`), DestinationArn: sqsArn(`${SUBJECT}-queue`) });
      expect(sqsMock.commandCalls(GetQueueAttributesCommand).map((c) => c.args[0].input)).toEqual([
        { QueueUrl: sqsUrl(`${SUBJECT}-dlq`), AttributeNames: ['QueueArn', 'ApproximateNumberOfMessages'] },
        { QueueUrl: sqsUrl(`${SUBJECT}-queue`), AttributeNames: ['QueueArn'] },
      ]);
    });

    it('asks SQS for the given rate, and refuses a rate SQS would refuse before calling it', async () => {
      const hub = operator(await withFreshCircuits());
      await hub.dlqRedrive(SUBJECT, { maxMessagesPerSecond: 25 });
      expect(sqsMock.commandCalls(StartMessageMoveTaskCommand)[0]?.args[0].input).toEqual({
        SourceArn: sqsArn(`${SUBJECT}-dlq`),
        DestinationArn: sqsArn(`${SUBJECT}-queue`),
        MaxNumberOfMessagesPerSecond: 25,
      });
      await expect(hub.dlqRedrive(SUBJECT, { maxMessagesPerSecond: 501 })).rejects.toThrow('The redrive rate must be an integer from 1 to 500 messages per second (got 501)');
      expect(sqsMock.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(1);
    });

    it('refuses while the circuit is not closed, and moves with force', async () => {
      const hub = operator(await withFreshCircuits());
      await hub.circuitIsolate(SUBJECT, 'maintenance');
      const error = await hub.dlqRedrive(SUBJECT).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CircuitNotClosedError);
      expect(error).toMatchObject({ integration: SUBJECT, state: 'isolated' });
      expect(sqsMock.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);

      expect(await hub.dlqRedrive(SUBJECT, { force: true })).toMatchObject({ taskHandle: 'task-1' });
      expect(sqsMock.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(1);
    });

    it('reports a move task SQS refuses with the action', async () => {
      sqsMock.on(StartMessageMoveTaskCommand).rejects(new SQSServiceException({ name: 'UnsupportedOperation', $fault: 'client', $metadata: {}, message: 'A move task is already running' }));
      const hub = operator(await withFreshCircuits());
      await expect(hub.dlqRedrive(SUBJECT)).rejects.toThrow('sqs:StartMessageMoveTask failed: UnsupportedOperation: A move task is already running');
    });
  });
});

describe('circuits (dynalite)', () => {
  it("shows a never-used circuit as closed, for every integration and workflow provider, with the stack's settings", async () => {
    const circuits = await operator(await withFreshCircuits()).circuitStatus();
    expect(circuits.map((c) => [c.circuit, c.state, c.effectiveState, c.version, c.nextBreakMs])).toEqual(
      CIRCUIT_IDS.map((name) => [name, 'closed', 'closed', 0, catalogBreakMs(name)]),
    );
  });

  it.runIf(PROVIDER !== undefined)("isolates a workflow provider's circuit and names the known circuits for an unknown one", async () => {
    const outputs = await withFreshCircuits();
    const table = outputs.find((o) => o.OutputKey === 'CircuitsTableName')!.OutputValue!;
    const hub = operator(outputs);
    expect(await hub.circuitIsolate(PROVIDER!, 'provider maintenance')).toMatchObject({ circuit: PROVIDER, circuitId: PROVIDER, state: 'isolated' });
    const { Item } = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: { circuitId: { S: PROVIDER! } }, ConsistentRead: true }));
    expect(Item?.state?.S).toBe('isolated');
    const typo = `${PROVIDER}-typo`;
    const error = await hub.circuitReset(typo).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownCircuitError);
    expect((error as Error).message).toBe(`Unknown circuit '${typo}'. The hub has: ${CIRCUIT_IDS.join(', ')}`);
  });

  it("falls back to the integrations' circuits with the catalog's settings for a stack deployed before the CircuitSettings output", async () => {
    const outputs = (await withFreshCircuits()).filter((o) => o.OutputKey !== 'CircuitSettings');
    const hub = operator(outputs);
    expect((await hub.describe()).circuits).toEqual(INTEGRATION_NAMES);
    expect((await hub.circuitStatus()).map((c) => [c.circuit, c.nextBreakMs])).toEqual(INTEGRATION_NAMES.map((name) => [name, catalogBreakMs(name)]));
  });

  it('refuses a CircuitSettings output that is not JSON, saying to redeploy', async () => {
    const hub = operator(OUTPUTS.map((o) => (o.OutputKey === 'CircuitSettings' ? { ...o, OutputValue: '{not json' } : o)));
    await expect(hub.circuitStatus()).rejects.toThrow(/^Output CircuitSettings is not JSON: .*: redeploy the hub \(docs\/deploy\.md\)$/);
  });

  it('isolates and resets through the real breaker, visible to the runtime in the circuits table', async () => {
    const outputs = await withFreshCircuits();
    const table = outputs.find((o) => o.OutputKey === 'CircuitsTableName')!.OutputValue!;
    const hub = operator(outputs);

    const isolated = await hub.circuitIsolate(SUBJECT, 'INC-1234 provider maintenance');
    expect(isolated).toMatchObject({ circuit: SUBJECT, circuitId: SUBJECT, state: 'isolated', stateReason: 'INC-1234 provider maintenance' });
    const { Item } = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: { circuitId: { S: SUBJECT } }, ConsistentRead: true }));
    expect(Item?.state?.S).toBe('isolated');

    const [status] = await hub.circuitStatus(SUBJECT);
    expect(status?.state).toBe('isolated');

    const reset = await hub.circuitReset(SUBJECT);
    expect(reset).toMatchObject({ circuit: SUBJECT, state: 'closed', consecutiveFailures: 0, reopenCount: 0 });
    expect(reset.version).toBeGreaterThan(isolated.version);
  });

  it('reports a circuits table it cannot read with the action and the SDK error', async () => {
    const hub = operator(OUTPUTS.map((o) => (o.OutputKey === 'CircuitsTableName' ? { ...o, OutputValue: 'no-such-table' } : o)));
    await expect(hub.circuitStatus(SUBJECT)).rejects.toThrow(/^dynamodb:GetItem on the circuits table failed: ResourceNotFoundException: /);
  });
});

describe('auth set-refresh-token (circuits table on dynalite, Secrets Manager mocked)', () => {
  const path = '/IntegrationHub-qa-core/circuit-ops/';
  const deskSecret = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:integration-hub/qa/desk-AbCdEf`;
  const secretsManager = new SecretsManagerClient({ region: REGION });
  const secretsMock = mockClient(secretsManager);
  const ssmMock = mockClient(SSMClient);
  afterAll(() => {
    secretsMock.restore();
    ssmMock.restore();
  });

  /** A stage whose parameters name a made-up integration on oauth2_refresh_token and a provider on basic auth. */
  async function stage(): Promise<{ hub: AwsHubOperator; table: string }> {
    for (const mock of [secretsMock, ssmMock]) mock.reset();
    ssmMock.on(GetParametersByPathCommand).resolves({
      Parameters: [
        {
          Name: `${path}integrations/desk`,
          Value: JSON.stringify({ name: 'desk', mappingUuid: 'u', auth: { scheme: 'oauth2_refresh_token', tokenUrl: '/oauth/token' }, secretName: deskSecret, circuit: {} }),
        },
        { Name: `${path}providers/courier`, Value: JSON.stringify({ name: 'courier', auth: { scheme: 'basic' }, secretName: 'integration-hub/qa/courier', circuit: {} }) },
      ],
    });
    secretsMock.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ clientId: 'c', clientSecret: 's', refreshToken: 'rt-old', accessToken: 'at-old', accessTokenIssuedAt: 1, accessTokenExpiresAt: 2 }),
    });
    secretsMock.on(PutSecretValueCommand).resolves({ VersionId: 'v2' });
    const outputs = await withFreshCircuits();
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'IntegrationHub-qa-core', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(), Outputs: outputs }] });
    const hub = new AwsHubOperator({
      stackNames: ['IntegrationHub-qa-core'],
      circuitsPath: path,
      clients: { cloudFormation, sqs, eventBridge, sfn, dynamodb: dynamo.client, ssm: new SSMClient({ region: REGION }), secretsManager },
    });
    return { hub, table: outputs.find((o) => o.OutputKey === 'CircuitsTableName')!.OutputValue! };
  }

  it("writes the token into the secret the circuit's parameters name, without the old access token, under the lease in the circuits table", async () => {
    const { hub, table } = await stage();

    const result = await hub.authSetRefreshToken('desk', 'rt-new');

    expect(result).toMatchObject({ circuit: 'desk', secret: deskSecret, unsetFields: [], replacedRefusedToken: false, droppedAccessToken: true, circuitAfter: { circuit: 'desk', state: 'closed' } });
    const [put] = secretsMock.commandCalls(PutSecretValueCommand);
    expect(put?.args[0].input.SecretId).toBe(deskSecret);
    expect(JSON.parse(put!.args[0].input.SecretString!)).toEqual({ clientId: 'c', clientSecret: 's', refreshToken: 'rt-new' });
    expect(secretsMock.commandCalls(GetSecretValueCommand)[0]?.args[0].input.SecretId).toBe(deskSecret);
    // The lease was taken and freed: its item is there, held by nobody.
    const { Item } = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: { circuitId: { S: refreshLeaseKey(deskSecret) } }, ConsistentRead: true }));
    expect(Item).toBeDefined();
    expect(Item?.leaseOwner).toBeUndefined();
  });

  it('refuses a circuit of another scheme, naming those that take a refresh token, and an unknown circuit', async () => {
    const { hub } = await stage();
    await expect(hub.authSetRefreshToken('courier', 'rt-new')).rejects.toThrow(
      new OperatorError("Circuit 'courier' authenticates with basic, not oauth2_refresh_token: it has no refresh token. Circuits with one: desk"),
    );
    await expect(hub.authSetRefreshToken('desc', 'rt-new')).rejects.toBeInstanceOf(UnknownCircuitError);
    expect(secretsMock.commandCalls(PutSecretValueCommand)).toEqual([]);
  });

  it('says which action was denied when the caller may not write the secret', async () => {
    const { hub } = await stage();
    secretsMock.on(PutSecretValueCommand).rejects(serviceError(Object.assign(new Error('User is not authorized to perform secretsmanager:PutSecretValue'), { name: 'AccessDeniedException' }), 403));
    await expect(hub.authSetRefreshToken('desk', 'rt-new')).rejects.toThrow(`Access denied: the caller may not write the refresh token into secret ${deskSecret}`);
  });

  it('needs the stage (its circuit parameters name the secrets)', async () => {
    await expect(operator().authSetRefreshToken(SUBJECT, 'rt-new')).rejects.toThrow(/pass --stage/);
  });
});

describe('ledger (dynalite)', () => {
  it('shows the entity rows of every integration with their audit log', async () => {
    const ledger = new DynamoDBSyncLedger({ tableName: 'ledger', client: dynamo.client });
    const { type, id } = subject.entity(7);
    await ledger.markPending({ integration: SUBJECT, entity: { type, id, version: 3 }, correlationId: 'c-7', attempt: 2 }, 'CircuitOpen');

    const entries = await operator().ledgerShow(type, id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ entityType: type, entityId: id, integration: SUBJECT, status: 'pending_sync', entityVersion: 3, lastErrorClass: 'CircuitOpen' });
    expect(entries[0]?.log.map((l) => l.event)).toEqual(['pending_sync']);
    expect(await operator().ledgerShow(type, 'unknown')).toEqual([]);
  });

  it('reads the archived pages of the audit log with fullLog, oldest first', async () => {
    const ledger = new DynamoDBSyncLedger({ tableName: 'ledger', client: dynamo.client });
    const { type, id } = subject.entity(8);
    await ledger.markPending({ integration: SUBJECT, entity: { type, id, version: 2 }, correlationId: 'c-8', attempt: 1 }, 'CircuitOpen');
    // An archived page as the ledger writes it when the inline log is full (see dynamodb-sync-ledger.ts).
    const pk = ledgerPartitionKey(type, id);
    const old = { at: '2026-11-01T00:00:00.000Z', event: 'synced', version: 1, attempt: 1, correlationId: 'c-old' };
    await dynamo.client.send(new PutItemCommand({ TableName: 'ledger', Item: marshall({ pk, sk: `log#${SUBJECT}#${old.at}#c-old`, integration: SUBJECT, entries: [old] }) }));
    await dynamo.client.send(
      new UpdateItemCommand({ TableName: 'ledger', Key: marshall({ pk, sk: SUBJECT }), UpdateExpression: 'ADD logPages :one', ExpressionAttributeValues: marshall({ ':one': 1 }) }),
    );

    const [inline] = await operator().ledgerShow(type, id);
    expect(inline).toMatchObject({ archivedLogPages: 1 });
    expect(inline?.log.map((l) => l.event)).toEqual(['pending_sync']);
    const [full] = await operator().ledgerShow(type, id, { fullLog: true });
    expect(full?.log.map((l) => `${l.event}@${l.version}`)).toEqual(['synced@1', 'pending_sync@2']);
  });
});

describe('workflows', () => {
  const started = (minute: number) => new Date(Date.UTC(2026, 10, 20, 8, minute));

  it('lists the executions of both state machines, newest first, with the error of failed ones', async () => {
    sfnMock.on(ListExecutionsCommand, { stateMachineArn: ORDER_SAGA }).resolves({
      executions: [
        { executionArn: `${ORDER_SAGA.replace(':stateMachine:', ':execution:')}:order-o-2`, stateMachineArn: ORDER_SAGA, name: 'order-o-2', status: 'FAILED', startDate: started(30), stopDate: started(31) },
        { executionArn: 'arn:x:order-o-1', stateMachineArn: ORDER_SAGA, name: 'order-o-1', status: 'SUCCEEDED', startDate: started(10), stopDate: started(11) },
      ],
    });
    sfnMock.on(ListExecutionsCommand, { stateMachineArn: CONTACT_SYNC }).resolves({
      executions: [{ executionArn: 'arn:x:sync-1', stateMachineArn: CONTACT_SYNC, name: 'sync-1', status: 'RUNNING', startDate: started(20) }],
    });
    sfnMock.on(DescribeExecutionCommand).resolves({ error: 'CompensationFailed', status: 'FAILED', startDate: started(30), executionArn: 'x', stateMachineArn: ORDER_SAGA });

    const executions = await operator().workflowsList({ limit: 2 });
    expect(executions).toEqual([
      { workflow: 'order-saga', name: 'order-o-2', status: 'FAILED', startedAt: started(30).getTime(), stoppedAt: started(31).getTime(), executionArn: `${ORDER_SAGA.replace(':stateMachine:', ':execution:')}:order-o-2`, error: 'CompensationFailed' },
      { workflow: 'contact-sync', name: 'sync-1', status: 'RUNNING', startedAt: started(20).getTime(), stoppedAt: undefined, executionArn: 'arn:x:sync-1', error: undefined },
    ]);
    expect(sfnMock.commandCalls(ListExecutionsCommand).map((c) => c.args[0].input)).toEqual([
      { stateMachineArn: ORDER_SAGA, statusFilter: undefined, maxResults: 2 },
      { stateMachineArn: CONTACT_SYNC, statusFilter: undefined, maxResults: 2 },
    ]);
    expect(sfnMock.commandCalls(DescribeExecutionCommand)).toHaveLength(1);
  });

  it('filters by workflow and status, and names the workflows for an unknown one', async () => {
    sfnMock.on(ListExecutionsCommand).resolves({ executions: [] });
    await operator().workflowsList({ workflow: 'contact-sync', status: 'TIMED_OUT', limit: 5 });
    expect(sfnMock.commandCalls(ListExecutionsCommand).map((c) => c.args[0].input)).toEqual([{ stateMachineArn: CONTACT_SYNC, statusFilter: 'TIMED_OUT', maxResults: 5 }]);
    await expect(operator().workflowsList({ workflow: 'nightly' })).rejects.toThrow("Unknown workflow 'nightly'. The hub has: order-saga, contact-sync");
  });

  it('redrives an execution by ARN', async () => {
    sfnMock.on(RedriveExecutionCommand).resolves({ redriveDate: new Date('2026-11-20T09:00:00Z') });
    expect(await operator().workflowsRedrive('arn:aws:states:eu-west-1:1:execution:M:order-o-2')).toEqual({
      executionArn: 'arn:aws:states:eu-west-1:1:execution:M:order-o-2',
      redriven: true,
      detail: 'redriven at 2026-11-20T09:00:00.000Z',
    });
    expect(sfnMock.commandCalls(RedriveExecutionCommand)[0]?.args[0].input).toEqual({ executionArn: 'arn:aws:states:eu-west-1:1:execution:M:order-o-2' });
  });

  it('finds an execution given by name in the state machine that has it', async () => {
    const arn = `${CONTACT_SYNC.replace(':stateMachine:', ':execution:')}:sync-9`;
    sfnMock.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} }));
    sfnMock.on(DescribeExecutionCommand, { executionArn: arn }).resolves({ executionArn: arn, stateMachineArn: CONTACT_SYNC, status: 'FAILED', startDate: new Date() });
    sfnMock.on(RedriveExecutionCommand).resolves({ redriveDate: new Date() });
    expect((await operator().workflowsRedrive('sync-9')).executionArn).toBe(arn);
    await expect(operator().workflowsRedrive('nope')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('passes on why Step Functions cannot redrive an execution', async () => {
    sfnMock.on(RedriveExecutionCommand).rejects(new ExecutionNotRedrivable({ message: 'Execution is SUCCEEDED and cannot be redriven', $metadata: {} }));
    const error = await operator().workflowsRedrive('arn:x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperatorError);
    expect((error as Error).message).toBe('Execution arn:x cannot be redriven: Execution is SUCCEEDED and cannot be redriven');

    sfnMock.on(RedriveExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} }));
    await expect(operator().workflowsRedrive('arn:y')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('webhooks', () => {
  /** The catalog's integrations that declare webhooks, and one that does not (if any). */
  const WITH_WEBHOOKS = CATALOG.filter((integration) => integration.webhooks !== undefined).map((integration) => integration.name);
  const WITHOUT_WEBHOOKS = CATALOG.find((integration) => integration.webhooks === undefined)?.name;
  const [FIRST, SECOND] = WITH_WEBHOOKS as [string, string | undefined];
  const NOW = Date.parse('2026-11-20T12:00:00Z');
  const logGroupOf = (name: string) => `IntegrationHub-Webhooks${pascalCase(name)}FunctionLogGroup-abc`;
  const WEBHOOK_OUTPUTS: Output[] = [
    ...OUTPUTS,
    { OutputKey: 'WebhookDeliveriesTableName', OutputValue: 'IntegrationHub-WebhooksDeliveries-xyz' },
    ...WITH_WEBHOOKS.map((name) => ({ OutputKey: webhookLogGroupOutputKey(name), OutputValue: logGroupOf(name) })),
  ];
  const dynamodb = new DynamoDBClient({ region: REGION });
  const logs = new CloudWatchLogsClient({ region: REGION });
  const dynamoMock = mockClient(dynamodb);
  const logsMock = mockClient(logs);

  function webhookOperator(outputs: Output[] = WEBHOOK_OUTPUTS): AwsHubOperator {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'IntegrationHub', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(), Outputs: outputs }] });
    return new AwsHubOperator({ stackNames: ['IntegrationHub'], clients: { cloudFormation, sqs, eventBridge, sfn, dynamodb, logs }, clock: { now: () => NOW } as never });
  }

  /** A completed Powertools record of a forward, as the endpoint stores it (`data` a map). */
  const record = (integration: string, webhookId: string, forwardedAt: string, type = 'thing.updated') =>
    marshall({ id: `${webhookKeyPrefix(integration)}#${webhookId}-hash`, status: 'COMPLETED', expiration: NOW / 1000 + 86_400, data: { webhookId, provider: integration, type, forwardedAt } });
  const logLine = (at: string, fields: Record<string, unknown>): FilteredLogEvent => ({
    timestamp: Date.parse(at),
    message: JSON.stringify({ level: 'WARN', timestamp: at, service: 'integration-hub', ...fields }),
  });

  beforeEach(() => {
    dynamoMock.reset();
    logsMock.reset();
    dynamoMock.on(ScanCommand).resolves({ Items: [] });
    logsMock.on(FilterLogEventsCommand).resolves({ events: [] });
  });

  it('finds each webhook function log group in the outputs, named like the catalog', () => {
    expect([...parseStackOutputs(WEBHOOK_OUTPUTS).webhookLogGroups]).toEqual(WITH_WEBHOOKS.map((name) => [name, logGroupOf(name)]));
  });

  it('lists the delivery records of every page of the Scan and the replays from the logs, newest first, bounded by the limit', async () => {
    dynamoMock
      .on(ScanCommand)
      .resolvesOnce({ Items: [record(FIRST, 'msg_1', '2026-11-20T11:10:00.000Z'), record(FIRST, 'msg_old', '2026-11-20T10:00:00.000Z')], LastEvaluatedKey: { id: { S: 'k' } } })
      .resolvesOnce({ Items: [record(FIRST, 'msg_2', '2026-11-20T11:30:00.000Z', 'thing.created')] });
    logsMock.on(FilterLogEventsCommand, { logGroupName: logGroupOf(FIRST) }).resolves({
      events: [logLine('2026-11-20T11:20:00.000Z', { message: WEBHOOK_LOG.replay, provider: FIRST, webhookId: 'msg_1', type: 'thing.updated', forwardedAt: '2026-11-20T11:10:00.000Z' })],
    });
    const activity = await webhookOperator().webhooksList({ integration: FIRST, limit: 3 });
    expect(activity.integrations).toEqual([FIRST]);
    expect(activity.since).toBe(NOW - 3_600_000);
    expect(activity.deliveries).toEqual([
      { webhookId: 'msg_2', integration: FIRST, type: 'thing.created', outcome: 'accepted', at: Date.parse('2026-11-20T11:30:00Z'), forwardedAt: Date.parse('2026-11-20T11:30:00Z') },
      { webhookId: 'msg_1', integration: FIRST, type: 'thing.updated', outcome: 'duplicate', at: Date.parse('2026-11-20T11:20:00Z'), forwardedAt: Date.parse('2026-11-20T11:10:00Z') },
      { webhookId: 'msg_1', integration: FIRST, type: 'thing.updated', outcome: 'accepted', at: Date.parse('2026-11-20T11:10:00Z'), forwardedAt: Date.parse('2026-11-20T11:10:00Z') },
    ]);
    // msg_old is outside the hour; the second Scan page continues from the first.
    const scans = dynamoMock.commandCalls(ScanCommand).map((call) => call.args[0].input);
    expect(scans).toHaveLength(2);
    expect(scans[1]!.ExclusiveStartKey).toEqual({ id: { S: 'k' } });
    expect(scans[0]).toMatchObject({
      TableName: 'IntegrationHub-WebhooksDeliveries-xyz',
      FilterExpression: '#status = :completed AND (begins_with(#id, :p0))',
      ExpressionAttributeValues: { ':completed': { S: 'COMPLETED' }, ':p0': { S: `${webhookKeyPrefix(FIRST)}#` } },
    });
    expect(logsMock.commandCalls(FilterLogEventsCommand)[0]!.args[0].input).toMatchObject({
      logGroupName: logGroupOf(FIRST),
      startTime: NOW - 3_600_000,
      filterPattern: webhookLogFilterPattern(false),
    });
    dynamoMock.on(ScanCommand).resolves({ Items: [record(FIRST, 'msg_1', '2026-11-20T11:10:00.000Z'), record(FIRST, 'msg_2', '2026-11-20T11:30:00.000Z')] });
    const limited = await webhookOperator().webhooksList({ integration: FIRST, limit: 1 });
    expect(limited.deliveries.map((delivery) => [delivery.webhookId, delivery.outcome])).toEqual([['msg_2', 'accepted']]);
  });

  it("lists every webhook function's rejections from FilterLogEvents pages, newest first, with reason and claimed id", async () => {
    logsMock
      .on(FilterLogEventsCommand, { logGroupName: logGroupOf(FIRST) })
      .resolvesOnce({
        events: [logLine('2026-11-20T11:01:00.000Z', { message: WEBHOOK_LOG.rejected, provider: FIRST, reason: 'bad_signature', detail: 'no signature matches', webhookId: 'msg_9' })],
        nextToken: 'page-2',
      })
      .resolvesOnce({ events: [logLine('2026-11-20T11:40:00.000Z', { message: WEBHOOK_LOG.rejected, provider: FIRST, reason: 'not_json', detail: 'the body is not JSON' })] });
    if (SECOND) {
      logsMock.on(FilterLogEventsCommand, { logGroupName: logGroupOf(SECOND) }).resolves({
        events: [logLine('2026-11-20T11:30:00.000Z', { message: WEBHOOK_LOG.rejected, provider: SECOND, reason: 'timestamp_out_of_tolerance', detail: 'the signature timestamp is 900 s old' })],
      });
    }
    const activity = await webhookOperator().webhooksList({ rejectedOnly: true, since: NOW - 24 * 3_600_000 });
    expect(activity.integrations).toEqual(WITH_WEBHOOKS);
    expect(activity.deliveries).toEqual([]);
    expect(dynamoMock.commandCalls(ScanCommand)).toHaveLength(0);
    expect(activity.rejections.map((r) => [r.integration, r.reason, r.webhookId])).toEqual([
      [FIRST, 'not_json', undefined],
      ...(SECOND ? [[SECOND, 'timestamp_out_of_tolerance', undefined]] : []),
      [FIRST, 'bad_signature', 'msg_9'],
    ]);
    expect(activity.rejections.at(-1)).toEqual({ at: Date.parse('2026-11-20T11:01:00Z'), integration: FIRST, reason: 'bad_signature', detail: 'no signature matches', webhookId: 'msg_9' });
    const calls = logsMock.commandCalls(FilterLogEventsCommand).map((call) => call.args[0].input);
    expect(calls.filter((input) => input.logGroupName === logGroupOf(FIRST)).map((input) => input.nextToken)).toEqual([undefined, 'page-2']);
    expect(calls.every((input) => input.filterPattern === webhookLogFilterPattern(true) && input.startTime === NOW - 24 * 3_600_000)).toBe(true);
    expect(webhookLogFilterPattern(true)).toBe('{ ($.message = "Webhook rejected") }');
  });

  it('says when a bound left part of the window unread', async () => {
    logsMock.on(FilterLogEventsCommand).resolves({ events: [], nextToken: 'more' });
    dynamoMock.on(ScanCommand).resolves({ Items: [], LastEvaluatedKey: { id: { S: 'k' } } });
    const activity = await webhookOperator().webhooksList({ integration: FIRST });
    expect(activity.partial).toContain('the delivery table was read 20 pages far, not to its end');
    expect(activity.partial).toContain(`${logGroupOf(FIRST)} has more log lines than 10 pages: the newest ${FIRST} ones are missing, narrow --since`);
    expect(logsMock.commandCalls(FilterLogEventsCommand)).toHaveLength(10);
  });

  it('names the integrations for an unknown one, those with webhooks for one without, and the missing outputs of an older stack', async () => {
    const unknown = await webhookOperator().webhooksList({ integration: 'nope' }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(UnknownIntegrationError);
    expect((unknown as Error).message).toBe(`Unknown integration 'nope'. The hub has: ${INTEGRATION_NAMES.join(', ')}`);
    if (WITHOUT_WEBHOOKS) {
      await expect(webhookOperator().webhooksList({ integration: WITHOUT_WEBHOOKS })).rejects.toThrow(
        `Integration '${WITHOUT_WEBHOOKS}' declares no webhooks. Integrations with webhooks: ${WITH_WEBHOOKS.join(', ')}`,
      );
    }
    await expect(webhookOperator(OUTPUTS).webhooksList()).rejects.toThrow(/The hub receives no webhooks/);
    expect(dynamoMock.calls()).toHaveLength(0);
    expect(logsMock.calls()).toHaveLength(0);
  });

  it('names logs:FilterLogEvents when access is denied', async () => {
    logsMock.on(FilterLogEventsCommand).rejects(serviceError(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }), 403));
    await expect(webhookOperator().webhooksList({ integration: FIRST })).rejects.toThrow(`Access denied: the caller may not logs:FilterLogEvents on ${logGroupOf(FIRST)}`);
  });
});
