import { beforeAll, describe, expect, it } from 'vitest';
import { INTEGRATIONS, resolveCatalog } from '../../lib/catalog.js';
import { resolveWorkflows } from '../../lib/workflow-catalog.js';
import {
  type CfnTemplate,
  ExecutionAlreadyExistsError,
  fakeFunctionArn,
  functionEnvironment,
  LocalStateMachine,
  resolveIntrinsics,
  type SynthesizedStateMachine,
  stateMachinesOf,
  synthesizeHubTemplate,
  validateDefinition,
} from '../../local/local-step-functions.js';

/**
 * The provider of the saga's ReserveInventory step, as the workflow catalog resolves it. Its base URL is set by the
 * `baseUrl:<name>` context of the provider, or of its integration when it is an integration's provider.
 */
const INVENTORY = resolveWorkflows(resolveCatalog(INTEGRATIONS)).orderSaga.providers.inventory;
const INVENTORY_URL = 'http://127.0.0.1:1/inventory-step';

let template: CfnTemplate;
let saga: SynthesizedStateMachine;
let sync: SynthesizedStateMachine;

beforeAll(() => {
  template = synthesizeHubTemplate({ context: { [`baseUrl:${INVENTORY.integration ?? INVENTORY.name}`]: INVENTORY_URL } });
  const machines = [...stateMachinesOf(template, { tableNames: { Anything: 'x' } }).values()];
  saga = machines.find((m) => m.logicalId.startsWith('WorkflowsOrderSaga'))!;
  sync = machines.find((m) => m.logicalId.startsWith('WorkflowsContactSync'))!;
});

const failure = (name: string, message = 'boom') => Object.assign(new Error(message), { name });
const STEP_RESULT = { reservationId: 'r', chargeId: 'c', status: 'completed', shipmentId: 's', trackingNumber: 't', messageId: 'm' };
const ok = () => STEP_RESULT;
const sagaHandlers = (overrides: Record<string, (input: unknown) => unknown> = {}) => ({
  reserveInventory: ok,
  chargePayment: ok,
  createShipment: ok,
  sendConfirmation: ok,
  cancelShipment: () => ({ compensated: true }),
  refundPayment: () => ({ compensated: true }),
  releaseInventory: () => ({ compensated: true }),
  ...overrides,
});
const input = { order: { orderId: 'o-1' }, steps: {} };

describe('resolving the synthesized template', () => {
  it('resolves Fn::Join, Fn::GetAtt, Ref and pseudo parameters; refuses what it does not know', () => {
    const fn = Object.entries(template.Resources).find(([, r]) => r.Type === 'AWS::Lambda::Function')![0];
    const table = Object.entries(template.Resources).find(([, r]) => r.Type === 'AWS::DynamoDB::Table')![0];
    expect(
      resolveIntrinsics(
        { a: { 'Fn::Join': [':', [{ Ref: 'AWS::Partition' }, { Ref: 'AWS::Region' }, { Ref: 'AWS::AccountId' }]] }, b: { 'Fn::GetAtt': [fn, 'Arn'] }, c: { Ref: table } },
        template,
        { region: 'eu-west-1', account: '111111111111', tableNames: { [table]: 'local-table' } },
      ),
    ).toEqual({ a: 'aws:eu-west-1:111111111111', b: fakeFunctionArn(fn, { region: 'eu-west-1', account: '111111111111' }), c: 'local-table' });
    expect(() => resolveIntrinsics({ 'Fn::ImportValue': 'x' }, template)).toThrow(/Unsupported intrinsic Fn::ImportValue/);
    expect(() => resolveIntrinsics({ Ref: 'Nope' }, template)).toThrow(/unknown resource Nope/);
  });

  it('finds both state machines with every task bound to its function (fake ARN) and handler export', () => {
    expect(saga.tasks.map((t) => t.handler)).toEqual([
      'reserveInventory',
      'chargePayment',
      'createShipment',
      'sendConfirmation',
      'cancelShipment',
      'refundPayment',
      'releaseInventory',
    ]);
    for (const task of [...saga.tasks, ...sync.tasks]) {
      expect(task.resource).toBe(fakeFunctionArn(task.functionLogicalId));
      expect(template.Resources[task.functionLogicalId]?.Type).toBe('AWS::Lambda::Function');
    }
    // SyncPage, and ReleaseRun after a failed page: the same function.
    expect(sync.tasks.map((t) => [t.state, t.handler])).toEqual([
      ['SyncPage', 'syncPage'],
      ['ReleaseRun', 'syncPage'],
    ]);
  });

  it('reads a task function environment with secrets as names and tables as local names', () => {
    const reserve = saga.tasks.find((t) => t.state === 'ReserveInventory')!;
    const ledger = Object.keys(template.Resources).find((id) => id.startsWith('CoreTablesLedger'))!;
    const env = functionEnvironment(template, reserve.functionLogicalId, { tableNames: { [ledger]: 'my-ledger' } });
    expect(env).toMatchObject({ BASE_URL: INVENTORY_URL, SECRET_NAME: INVENTORY.secret.name, LEDGER_TABLE_NAME: 'my-ledger' });
  });

  it('validates definitions with asl-validator', () => {
    expect(validateDefinition(saga.definition).isValid).toBe(true);
    const broken = structuredClone(saga.definition);
    (broken.States.ReserveInventory as { Next?: string }).Next = 'Nowhere';
    const result = validateDefinition(broken);
    expect(result.isValid).toBe(false);
    expect(result.errors.join('\n')).toMatch(/Nowhere/);
  });
});

describe('LocalStateMachine', () => {
  it('refuses to run without a handler for every task, or a JSONata definition', () => {
    expect(() => new LocalStateMachine(saga, { reserveInventory: ok })).toThrow(/No local handler for task state\(s\): ChargePayment/);
    const jsonata = { ...saga, definition: { ...saga.definition, QueryLanguage: 'JSONata' } };
    expect(() => new LocalStateMachine(jsonata, sagaHandlers())).toThrow(/JSONata/);
  });

  it('gives tasks $$.Execution.Name and $$.State.RetryCount, counting retries per state visit', async () => {
    let charges = 0;
    const machine = new LocalStateMachine(
      saga,
      sagaHandlers({
        chargePayment: () => {
          charges += 1;
          if (charges <= 2) throw failure('Integration.Transient');
          return STEP_RESULT;
        },
      }),
    );
    const record = await machine.run(input, { name: 'o-1' });

    expect(record.status).toBe('SUCCEEDED');
    expect(record.invocations.map((i) => [i.state, i.retryCount])).toEqual([
      ['ReserveInventory', 0],
      ['ChargePayment', 0],
      ['ChargePayment', 1],
      ['ChargePayment', 2],
      ['CreateShipment', 0],
      ['SendConfirmation', 0],
    ]);
    for (const invocation of record.invocations) expect(invocation.input).toMatchObject({ executionName: 'o-1', retryCount: invocation.retryCount });
  });

  it('resets the retry count when a state gives up (its catch target starts at 0), and reports the Lambda error as the cause', async () => {
    const machine = new LocalStateMachine(
      saga,
      sagaHandlers({
        createShipment: () => {
          throw failure('Integration.Transient', 'carrier 503');
        },
      }),
    );
    const record = await machine.run(input, { name: 'o-2' });

    expect(record.status).toBe('FAILED');
    expect(record.error).toBe('OrderFailed');
    expect(JSON.parse(record.cause!)).toEqual({ errorType: 'Integration.Transient', errorMessage: 'carrier 503' });
    const ship = record.invocations.filter((i) => i.state === 'CreateShipment');
    expect(ship.map((i) => i.retryCount)).toEqual([0, 1, 2, 3, 4]);
    expect(record.invocations.filter((i) => i.state !== 'CreateShipment' && i.state !== 'ReserveInventory' && i.state !== 'ChargePayment').map((i) => [i.state, i.retryCount])).toEqual([
      ['CancelShipment', 0],
      ['RefundPayment', 0],
      ['ReleaseInventory', 0],
    ]);
  });

  it('refuses a second execution with a name already used (ExecutionAlreadyExists)', async () => {
    const machine = new LocalStateMachine(saga, sagaHandlers());
    const first = machine.start(input, { name: 'dup' });
    await expect(machine.start(input, { name: 'dup' })).rejects.toBeInstanceOf(ExecutionAlreadyExistsError);
    expect((await first).status).toBe('SUCCEEDED');
    expect(machine.executionNames).toEqual(['dup']);
  });

  it('counts the history events AWS would record, and the largest payload', async () => {
    const machine = new LocalStateMachine(saga, sagaHandlers());
    const record = await machine.run(input, { name: 'o-3' });
    // ExecutionStarted + 4 × (TaskStateEntered, LambdaFunctionScheduled/Started/Succeeded, TaskStateExited)
    // + SucceedStateEntered/Exited + ExecutionSucceeded.
    expect(record.awsHistoryEvents).toBe(1 + 4 * 5 + 2 + 1);
    expect(record.largestPayloadBytes).toBe(Buffer.byteLength(JSON.stringify(record.output)));
  });

  it('runs hooks around every invocation', async () => {
    const seen: string[] = [];
    const machine = new LocalStateMachine(sync, {
      syncPage: (event) => {
        const { pagesThisRun } = event as { pagesThisRun: number };
        return { syncId: 's', pagesThisRun: pagesThisRun + 1, hasMore: pagesThisRun < 2, upserted: 1, deleted: 0, skipped: false };
      },
    });
    const record = await machine.run({}, { name: 'hooks', hooks: { beforeInvoke: (i) => void seen.push(`before ${i.invocation}`), afterInvoke: (i, o) => void seen.push(`after ${i.invocation} ${o.ok}`) } });
    expect(record.status).toBe('SUCCEEDED');
    expect(seen).toEqual(['before 1', 'after 1 true', 'before 2', 'after 2 true', 'before 3', 'after 3 true']);
    expect(record.awsHistoryEvents).toBe(6 + 7 * 3);
  });
});
