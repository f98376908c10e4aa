import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import { describe, expect, it } from 'vitest';
import { SYNC_STATUS_CHANGED, SYNC_STATUS_EVENT_SOURCE } from '../../functions/outbox/sync-status-events.js';
import { LEDGER_STATUS_FILTER, SyncStatusOutbox } from '../../lib/constructs/sync-status-outbox.js';
import { asArray, logicalIdOf, newTestStack, statementsOfRole, synthesizeHub } from './hub-app.js';

const hub = synthesizeHub();
const { stack, template } = hub;
const getAtt = (construct: unknown, attribute: string) => ({ 'Fn::GetAtt': [logicalIdOf(construct as never, stack), attribute] });

describe('sync status outbox (ledger stream → pipe → bus)', () => {
  const pipes = template.findResources('AWS::Pipes::Pipe');
  const [pipe] = Object.values(pipes) as { Properties: Record<string, any> }[];

  it('streams the ledger with both images and pipes it, filtered and enriched, to the hub bus as SyncStatusChanged', () => {
    expect(Object.keys(pipes)).toHaveLength(1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    expect(pipe?.Properties.Source).toEqual(getAtt(stack.tables.ledger, 'StreamArn'));
    expect(pipe?.Properties.Target).toEqual(getAtt(stack.bus.bus, 'Arn'));
    expect(pipe?.Properties.Enrichment).toEqual(getAtt(stack.statusOutbox.enrichmentFunction, 'Arn'));
    expect(pipe?.Properties.TargetParameters).toEqual({ EventBridgeEventBusParameters: { Source: SYNC_STATUS_EVENT_SOURCE, DetailType: SYNC_STATUS_CHANGED } });
    const filters = pipe?.Properties.SourceParameters.FilterCriteria.Filters as { Pattern: string }[];
    expect(filters.map((filter) => JSON.parse(filter.Pattern))).toEqual([LEDGER_STATUS_FILTER]);
  });

  it('keeps each entity in order and dead-letters what fails every retry', () => {
    const stream = pipe?.Properties.SourceParameters.DynamoDBStreamParameters;
    expect(stream).toMatchObject({ StartingPosition: 'LATEST', ParallelizationFactor: 1, OnPartialBatchItemFailure: 'AUTOMATIC_BISECT' });
    expect(stream.BatchSize).toBeLessThanOrEqual(10); // PutEvents takes 10 entries
    expect(stream.DeadLetterConfig.Arn).toEqual(getAtt(stack.statusOutbox.failedBatchesQueue, 'Arn'));
    const alarm = Object.values(template.findResources('AWS::CloudWatch::Alarm', { Properties: { AlarmName: 'IntegrationHub-status-events-failed' } }))[0] as { Properties: Record<string, any> };
    expect(alarm.Properties).toMatchObject({ MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1 });
    expect(alarm.Properties.Dimensions).toEqual([{ Name: 'QueueName', Value: getAtt(stack.statusOutbox.failedBatchesQueue, 'QueueName') }]);
  });

  it('gives the pipe a role that only pipes may assume, with exactly what it uses', () => {
    const roleId = (pipe?.Properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const role = template.toJSON().Resources[roleId];
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({ Principal: { Service: 'pipes.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': expect.anything() } } }),
    ]);
    const granted = new Map(statementsOfRole(template, roleId).map((statement) => [asArray(statement.Action).sort().join(','), asArray(statement.Resource)]));
    expect(granted).toEqual(
      new Map<string, unknown[]>([
        ['dynamodb:DescribeStream,dynamodb:GetRecords,dynamodb:GetShardIterator', [getAtt(stack.tables.ledger, 'StreamArn')]],
        ['dynamodb:ListStreams', ['*']],
        ['lambda:InvokeFunction', [getAtt(stack.statusOutbox.enrichmentFunction, 'Arn')]],
        ['events:PutEvents', [getAtt(stack.bus.bus, 'Arn')]],
        ['sqs:SendMessage', [getAtt(stack.statusOutbox.failedBatchesQueue, 'Arn')]],
        ['logs:CreateLogStream,logs:PutLogEvents', [expect.anything()]],
      ]),
    );
  });

  it('lets the enrichment touch no table and no bus: it only maps records', () => {
    const fnRole = logicalIdOf(stack.statusOutbox.enrichmentFunction.role as never, stack);
    const actions = statementsOfRole(template, fnRole).flatMap((statement) => asArray(statement.Action));
    expect(actions.filter((action) => /^(dynamodb|events|sqs|secretsmanager):/.test(action))).toEqual([]);
  });

  it('refuses a table without a stream and a batch PutEvents cannot take', () => {
    const scope = newTestStack();
    const bus = new events.EventBus(scope, 'Bus');
    const plain = new dynamodb.Table(scope, 'Plain', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    expect(() => new SyncStatusOutbox(scope, 'NoStream', { ledgerTable: plain, bus })).toThrow(/needs a stream/);
    const streamed = new dynamodb.Table(scope, 'Streamed', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING }, stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES });
    expect(() => new SyncStatusOutbox(scope, 'Big', { ledgerTable: streamed, bus, batchSize: 11 })).toThrow(/batchSize must be an integer from 1 to 10/);
    new SyncStatusOutbox(scope, 'Fine', { ledgerTable: streamed, bus });
    Template.fromStack(scope).resourceCountIs('AWS::Pipes::Pipe', 1);
  });
});
