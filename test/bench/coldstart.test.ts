import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { floorImportsOf, floorSource } from '../../bench/support/coldstart-floor.js';
import { resolveLeniently, type Template } from '../../bench/support/coldstart-template.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('bench:coldstart floor', () => {
  it('finds the SDK and Powertools bindings of every module the entry reaches, leaving type-only imports out', async () => {
    const imports = await floorImportsOf(join(ROOT, 'functions', 'ops', 'circuit-controller.ts'), ROOT);
    expect([...imports.get('@aws-sdk/client-ssm')!.names]).toEqual(expect.arrayContaining(['SSMClient', 'GetParametersByPathCommand']));
    expect([...imports.get('@aws-lambda-powertools/logger')!.names]).toEqual(['Logger']);
    // ConditionalCheckFailedException is imported by the circuit store the controller reaches, not by its entry.
    expect(imports.get('@aws-sdk/client-dynamodb')!.names.has('ConditionalCheckFailedException')).toBe(true);
    expect([...imports.keys()].every((specifier) => /^@(aws-sdk|smithy|aws-lambda-powertools)\//.test(specifier))).toBe(true);
    for (const entry of imports.values()) for (const name of entry.names) expect(name).not.toMatch(/^type\b|\s/);
  });

  it('writes a handler that imports those bindings, keeps each one alive and does nothing else', () => {
    const source = floorSource(
      new Map([
        ['@aws-sdk/client-dynamodb', { names: new Set(['DynamoDBClient', 'GetItemCommand']), namespace: false, default: false }],
        ['@aws-lambda-powertools/logger', { names: new Set(['Logger']), namespace: false, default: false }],
      ]),
    );
    expect(source).toContain("import { Logger as _0 } from '@aws-lambda-powertools/logger';");
    expect(source).toContain("import { DynamoDBClient as _1, GetItemCommand as _2 } from '@aws-sdk/client-dynamodb';");
    expect(source).toContain('const kept: unknown[] = [_0, _1, _2];');
    expect(source.match(/^import /gm)).toHaveLength(2);
    expect(source).toMatch(/export const handler = async/);
  });
});

describe('bench:coldstart environment', () => {
  const template: Template = {
    Resources: {
      Queue: { Type: 'AWS::SQS::Queue' },
      Mapping: { Type: 'AWS::Lambda::EventSourceMapping' },
      Secret: { Type: 'AWS::SecretsManager::Secret' },
      Table: { Type: 'AWS::DynamoDB::Table' },
    },
  };

  it('resolves every intrinsic to a well-formed fake value instead of failing', () => {
    const resolved = resolveLeniently(
      {
        QUEUE_URL: { Ref: 'Queue' },
        MAPPING: { Ref: 'Mapping' },
        SECRET: { Ref: 'Secret' },
        TABLE: { Ref: 'Table' },
        TABLE_ARN: { 'Fn::GetAtt': ['Table', 'Arn'] },
        JOINED: { 'Fn::Join': ['/', [{ Ref: 'AWS::Region' }, 'x']] },
        IMPORTED: { 'Fn::ImportValue': 'Core:ExportsOutputRefTableName' },
      },
      template,
    ) as Record<string, string>;
    expect(resolved.QUEUE_URL).toMatch(/^https:\/\/sqs\.[a-z0-9-]+\.amazonaws\.com\/\d{12}\/Queue$/);
    expect(resolved.MAPPING).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(resolved.SECRET).toMatch(/^arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:Secret$/);
    expect(resolved.TABLE).toBe('Table');
    expect(resolved.TABLE_ARN).toMatch(/^arn:aws:dynamodb:/);
    expect(resolved.JOINED).toBe('eu-west-1/x');
    expect(resolved.IMPORTED).toBe('CoreExportsOutputRefTableName');
  });
});
