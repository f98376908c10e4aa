import { describe, expect, it } from 'vitest';
import type { ServiceFunction } from '../../lib/constructs/service-function.js';
import { TABLE_ITEM_ACTIONS } from '../../lib/constructs/hub-tables.js';
import { asArray, logicalIdOf, type PolicyStatementJson, statementsOfRole, synthesizeHub } from './hub-app.js';

const hub = synthesizeHub();
const { stack, template } = hub;
const arnOf = (table: unknown) => JSON.stringify({ 'Fn::GetAtt': [logicalIdOf(table as never, stack), 'Arn'] });

/** The statements of `fn`'s role that name `table` (its ARN) as a resource. */
function onTable(fn: ServiceFunction, table: unknown): PolicyStatementJson[] {
  return statementsOfRole(template, logicalIdOf(fn.role as never, stack)).filter((statement) =>
    asArray(statement.Resource).some((resource) => JSON.stringify(resource) === arnOf(table)),
  );
}

const leadingKeysOf = (statement: PolicyStatementJson) =>
  (statement.Condition as { 'ForAllValues:StringEquals'?: { 'dynamodb:LeadingKeys'?: string[] } } | undefined)?.['ForAllValues:StringEquals']?.['dynamodb:LeadingKeys'];

describe('least privilege on the shared tables', () => {
  it("lets each integration function touch only its own circuit, with exactly the item actions its runtime sends", () => {
    for (const [name, pipeline] of stack.pipelines) {
      const statements = onTable(pipeline.function, stack.tables.circuits);
      expect(statements.length, name).toBeGreaterThan(0);
      for (const statement of statements) {
        expect(leadingKeysOf(statement), name).toEqual([name]);
        expect(asArray(statement.Action).sort(), name).toEqual([...TABLE_ITEM_ACTIONS.circuits].sort());
      }
    }
  });

  it('grants no function Scan, BatchWriteItem or DeleteItem on the ledger or the circuits table', () => {
    const functions = [...stack.pipelines.values()].map((pipeline) => pipeline.function as ServiceFunction);
    functions.push(stack.circuitController.controllerFunction as ServiceFunction, stack.circuitController.proberFunction as ServiceFunction);
    for (const task of stack.orderSaga?.taskFunctions.values() ?? []) functions.push(task);
    if (stack.contactSync) functions.push(stack.contactSync.syncPageFunction);
    for (const fn of functions) {
      for (const table of [stack.tables.ledger, stack.tables.circuits, stack.tables.checkpoints]) {
        const actions = onTable(fn, table).flatMap((statement) => asArray(statement.Action));
        for (const forbidden of ['dynamodb:Scan', 'dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:*']) {
          expect(actions, `${fn.node.path} on ${table.node.path}`).not.toContain(forbidden);
        }
      }
    }
  });

  it("lets each workflow task touch only its providers' circuits", () => {
    const tasks = [...(stack.orderSaga?.taskFunctions.values() ?? []), ...(stack.contactSync ? [stack.contactSync.syncPageFunction] : [])];
    expect(tasks.length).toBeGreaterThan(0);
    const circuits = new Set([...stack.pipelines.keys(), ...[...(stack.workflowProviders?.providers.values() ?? [])].map((p) => p.integration ?? p.name)]);
    for (const task of tasks) {
      const statements = onTable(task, stack.tables.circuits);
      expect(statements.length, task.node.path).toBeGreaterThan(0);
      for (const statement of statements) {
        const keys = leadingKeysOf(statement);
        expect(keys, task.node.path).toBeDefined();
        expect(keys!.length, task.node.path).toBeLessThan(circuits.size);
        for (const key of keys!) expect(circuits.has(key), `${task.node.path}: ${key}`).toBe(true);
      }
    }
  });
});
