import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE as RUNTIME_METRICS_NAMESPACE } from '../../functions/runtime/telemetry.js';
import { ConstructPropsError } from '../../lib/props-validation.js';
import { ESM_REQUIRE_BANNER, ServiceFunction } from '../../lib/constructs/service-function.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../lib/telemetry.js';
import { asArray, logicalIdOf, newTestStack, statementsOfRole } from './hub-app.js';

const ENTRY = join(import.meta.dirname, 'fixtures', 'esm-handler.ts');
const SDK_ENTRY = join(import.meta.dirname, 'fixtures', 'sdk-handler.ts');

describe('lib/telemetry', () => {
  it('uses the same metrics namespace as the runtime', () => {
    expect(METRICS_NAMESPACE).toBe(RUNTIME_METRICS_NAMESPACE);
  });
});

describe('ServiceFunction', () => {
  let stack: Stack;
  let template: Template;
  let plain: ServiceFunction;
  let tuned: ServiceFunction;
  let reader: ServiceFunction;

  beforeAll(() => {
    stack = newTestStack();
    plain = new ServiceFunction(stack, 'Plain', { entry: ENTRY });
    tuned = new ServiceFunction(stack, 'Tuned', {
      entry: ENTRY,
      timeout: Duration.seconds(60),
      memorySize: 1024,
      logGroupRetention: RetentionDays.ONE_WEEK,
      logGroupRemovalPolicy: RemovalPolicy.DESTROY,
      environment: { FEATURE: 'on' },
    });
    reader = new ServiceFunction(stack, 'Reader', { entry: ENTRY });
    const table = new Table(stack, 'Table', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
    plain.bindTable(table, 'readWrite', 'TABLE_NAME');
    reader.bindTable(table, 'read', 'TABLE_NAME');
    plain.bindSecret(new Secret(stack, 'Own'), 'SECRET_NAME');
    reader.bindSecret(Secret.fromSecretNameV2(stack, 'Imported', 'vendor/token'), 'SECRET_NAME');
    plain.bindQueue(new Queue(stack, 'Out'), 'OUT_URL');
    template = Template.fromStack(stack);
  });

  const fnProps = (fn: ServiceFunction) => template.toJSON().Resources[logicalIdOf(fn, stack)].Properties;
  const roleStatements = (fn: ServiceFunction) => statementsOfRole(template, logicalIdOf(fn.role as never, stack));

  it('runs Node.js 22 on arm64 with active tracing, the handler export and a 30 s timeout by default', () => {
    expect(fnProps(plain)).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Handler: 'index.handler',
      Timeout: 30,
    });
  });

  it('enables source maps and sets the Powertools service and metrics namespace', () => {
    expect(fnProps(plain).Environment.Variables).toMatchObject({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: 'IntegrationHub',
    });
  });

  it('logs to its own log group, kept one month and retained by default', () => {
    const logGroupId = fnProps(plain).LoggingConfig.LogGroup.Ref as string;
    expect(template.toJSON().Resources[logGroupId]).toMatchObject({
      Type: 'AWS::Logs::LogGroup',
      Properties: { RetentionInDays: 30 },
      DeletionPolicy: 'Retain',
    });
  });

  it('lets props override the defaults and merges the environment', () => {
    expect(fnProps(tuned)).toMatchObject({ Timeout: 60, MemorySize: 1024 });
    expect(fnProps(tuned).Environment.Variables).toMatchObject({ FEATURE: 'on', POWERTOOLS_SERVICE_NAME: SERVICE_NAME });
    const logGroupId = fnProps(tuned).LoggingConfig.LogGroup.Ref as string;
    expect(template.toJSON().Resources[logGroupId]).toMatchObject({ Properties: { RetentionInDays: 7 }, DeletionPolicy: 'Delete' });
  });

  it('has a role with no managed policy that may write only to its own log group', () => {
    const roleId = logicalIdOf(plain.role as never, stack);
    expect(template.toJSON().Resources[roleId].Properties.ManagedPolicyArns).toBeUndefined();
    const logs = roleStatements(plain).filter((statement) => asArray(statement.Action).some((action) => action.startsWith('logs:')));
    expect(logs).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [fnProps(plain).LoggingConfig.LogGroup.Ref, 'Arn'] },
      },
    ]);
  });

  it('bindTable grants the access asked for and names the table in the environment', () => {
    const writes = (fn: ServiceFunction) =>
      roleStatements(fn)
        .flatMap((statement) => asArray(statement.Action))
        .filter((action) => action.startsWith('dynamodb:'));
    expect(writes(plain)).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query']));
    expect(writes(reader)).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
    expect(writes(reader)).not.toEqual(expect.arrayContaining(['dynamodb:PutItem']));
    expect(fnProps(plain).Environment.Variables.TABLE_NAME).toEqual({ Ref: expect.stringMatching(/^Table/) });
  });

  it('bindSecret grants reading that secret only and passes its ARN, or its name when imported by name', () => {
    expect(fnProps(plain).Environment.Variables.SECRET_NAME).toEqual({ Ref: expect.stringMatching(/^Own/) });
    expect(fnProps(reader).Environment.Variables.SECRET_NAME).toBe('vendor/token');
    const secretStatements = roleStatements(reader).filter((statement) => asArray(statement.Action).some((action) => action.startsWith('secretsmanager:')));
    expect(secretStatements).toHaveLength(1);
    expect(asArray(secretStatements[0]!.Action).sort()).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    expect(JSON.stringify(secretStatements[0]?.Resource)).toContain(':secret:vendor/token-??????');
  });

  it('bindQueue grants sending and passes the queue URL', () => {
    expect(fnProps(plain).Environment.Variables.OUT_URL).toEqual({ Ref: expect.stringMatching(/^Out/) });
    expect(roleStatements(plain).flatMap((statement) => asArray(statement.Action))).toContain('sqs:SendMessage');
  });

  it('rejects bad props listing every problem at once', () => {
    const attempt = () =>
      new ServiceFunction(newTestStack(), 'Bad', {
        entry: 'nowhere/handler.ts',
        runtime: Runtime.PYTHON_3_13,
        memorySize: 64,
        timeout: Duration.minutes(20),
        logRetention: RetentionDays.ONE_DAY,
        bundling: { format: OutputFormat.CJS },
        environment: { 'bad-name': 'x' },
      });
    expect(attempt).toThrow(ConstructPropsError);
    try {
      attempt();
    } catch (error) {
      expect((error as ConstructPropsError).problems).toEqual([
        expect.stringMatching(/entry .* does not exist/),
        expect.stringMatching(/runtime must be a Node\.js runtime/),
        expect.stringMatching(/memorySize must be an integer from 128 to 10240/),
        expect.stringMatching(/timeout must be from 1 to 900 seconds \(got 1200\)/),
        expect.stringMatching(/bundling\.format must be ESM/),
        expect.stringMatching(/logRetention .* set logGroupRetention/),
        expect.stringMatching(/environment variable name "bad-name"/),
      ]);
    }
  });

  it('bundles a minified ESM module with the pinned AWS SDK in it, the createRequire banner and a source map', async () => {
    // The one test that bundles (local esbuild, ~1 s): a stack of its own, bundling on.
    const app = new App({ context: { '@aws-cdk/core:appMode': 'inmemory' }, builtinCloudFormationValidation: false });
    const fn = new ServiceFunction(new Stack(app, 'Bundled'), 'Fn', { entry: SDK_ENTRY });
    const assembly = app.synth();
    const assetDir = readdirSync(assembly.directory).find((name) => name.startsWith('asset.'));
    expect(assetDir).toBeDefined();
    const files = readdirSync(join(assembly.directory, assetDir!));
    expect(files.sort()).toEqual(['index.mjs', 'index.mjs.map']);
    const bundlePath = join(assembly.directory, assetDir!, 'index.mjs');
    const code = readFileSync(bundlePath, 'utf8');
    expect(code.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    expect(code).toMatch(/export\s*\{[^}]*handler/);
    // Minified: a few very long lines (the SDK's multi-line template strings keep their line breaks).
    expect(code.length / code.split('\n').length).toBeGreaterThan(1000);
    expect(code).toContain('sourceMappingURL=index.mjs.map');
    // Tested = deployed: no import or require of the client is left for the Lambda runtime's SDK to satisfy ...
    expect(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["']@aws-sdk\/client-dynamodb["']/.test(code)).toBe(false);
    expect(fn.bundling).toMatchObject({ bundleAwsSDK: true, minify: true, sourceMap: true, format: OutputFormat.ESM });
    expect(fn.bundling.externalModules).toBeUndefined();
    const map = JSON.parse(readFileSync(join(assembly.directory, assetDir!, 'index.mjs.map'), 'utf8')) as { sourcesContent?: unknown };
    expect(map.sourcesContent).toBeUndefined();
    // ... and the bundle loads on its own, outside the repository (no node_modules to fall back on; the SDK's CommonJS
    // parts get `require` from the banner).
    expect(assembly.directory.startsWith(join(import.meta.dirname, '..', '..'))).toBe(false);
    const loaded = (await import(pathToFileURL(bundlePath).href)) as { handler: () => Promise<{ command: string }> };
    await expect(loaded.handler()).resolves.toMatchObject({ command: expect.any(String) });
  });

  it('keeps a caller\'s externalModules', () => {
    const fn = new ServiceFunction(newTestStack(), 'Fn', { entry: ENTRY, bundling: { externalModules: ['left-out'] } });
    expect(fn.bundling.externalModules).toEqual(['left-out']);
    expect(fn.entry).toBe(ENTRY);
  });
});

describe('ServiceFunction acknowledgements', () => {
  const acknowledged = (construct: { node: { findAll(): { node: { metadata: { type: string; data: unknown }[] } }[] } }) =>
    construct.node
      .findAll()
      .flatMap((child) => child.node.metadata)
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.keys(entry.data as object));

  it('acknowledges the X-Ray "*" resource on its own role only when tracing is on', () => {
    const stack = newTestStack();
    const traced = new ServiceFunction(stack, 'Traced', { entry: ENTRY });
    const untraced = new ServiceFunction(stack, 'Untraced', { entry: ENTRY, tracing: Tracing.DISABLED });
    expect(acknowledged(traced.role as never)).toEqual([expect.stringMatching(/AwsSolutions-IAM5\[Resource::\*\]$/)]);
    expect(acknowledged(untraced.role as never)).toEqual([]);
  });
});
