import { beforeAll, describe, expect, it } from 'vitest';
import { INTEGRATIONS } from '../../lib/catalog.js';
import { WORKFLOWS } from '../../lib/workflow-catalog.js';
import { InvalidEventPatternError, UnsupportedPatternError } from '../../local/event-pattern.js';
import { readTemplateRules, rulesMatching, type TemplateRules, TemplateRulesError, TemplateRulesErrors } from '../../local/template-rules.js';
import { type HubApp, logicalIdOf, synthesizeHub } from '../lib/hub-app.js';

let hub: HubApp;
let read: TemplateRules;

beforeAll(() => {
  hub = synthesizeHub();
  read = readTemplateRules(hub.template.toJSON());
}, 120_000);

const eventOf = (source: string, detailType: string): object => ({
  version: '0',
  id: 'e-1',
  source,
  'detail-type': detailType,
  account: '123456789012',
  time: '2026-01-01T00:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail: { id: 'x' },
});

describe('rules of the synthesized hub', () => {
  it('routes every catalog route to its integration queue only, with the DLQ, on the hub bus', () => {
    const busId = logicalIdOf(hub.stack.bus.bus, hub.stack);
    const allDetailTypes = [...INTEGRATIONS.flatMap((entry) => entry.routes.flatMap((route) => route.detailTypes)), WORKFLOWS.orderSaga.trigger.detailTypes[0]!, 'SomethingElse'];
    for (const entry of INTEGRATIONS) {
      const pipeline = hub.stack.pipelines.get(entry.name)!;
      const queueId = logicalIdOf(pipeline.queue, hub.stack);
      const dlqId = logicalIdOf(pipeline.deadLetterQueue, hub.stack);
      for (const route of entry.routes) {
        for (const source of route.sources) {
          for (const detailType of route.detailTypes) {
            const matched = rulesMatching(read.rules, eventOf(source, detailType), busId);
            const toQueue = matched.filter((rule) => rule.targets.some((target) => target.arnRef === queueId));
            expect(toQueue, `${entry.name}: ${source}/${detailType}`).toHaveLength(1);
            const target = toQueue[0]!.targets.find((t) => t.arnRef === queueId)!;
            expect(target).toMatchObject({ type: 'sqs', resourceType: 'AWS::SQS::Queue', deadLetterConfig: { arnRef: dlqId } });
            expect(toQueue[0]!.eventBusRef).toBe(busId);
          }
          for (const other of allDetailTypes.filter((dt) => !route.detailTypes.includes(dt))) {
            const stray = read.rules.filter((rule) => rule.targets.some((t) => t.arnRef === queueId) && rule.matches(eventOf(source, other)));
            expect(stray, `${entry.name}: ${source}/${other}`).toHaveLength(0);
          }
        }
        // An unknown source with a routed detail type does not match either.
        expect(read.rules.filter((rule) => rule.targets.some((t) => t.arnRef === queueId) && rule.matches(eventOf('unknown.service', route.detailTypes[0]!)))).toHaveLength(0);
      }
    }
  });

  it('routes OrderPlaced from the saga trigger sources to the starter queue', () => {
    const starter = hub.stack.orderSagaStarter!;
    const queueId = logicalIdOf(starter.queue, hub.stack);
    for (const source of WORKFLOWS.orderSaga.trigger.sources) {
      const matched = rulesMatching(read.rules, eventOf(source, 'OrderPlaced'));
      const targets = matched.flatMap((rule) => rule.targets).filter((target) => target.arnRef === queueId);
      expect(targets).toHaveLength(1);
      expect(targets[0]).toMatchObject({ type: 'sqs', deadLetterConfig: { arnRef: logicalIdOf(starter.deadLetterQueue, hub.stack) } });
      expect(rulesMatching(read.rules, eventOf(source, 'OrderShipped')).flatMap((rule) => rule.targets).some((t) => t.arnRef === queueId)).toBe(false);
    }
  });

  it('lists the schedule rules separately: the contact sync (state machine) and the prober (lambda, disabled)', () => {
    expect(read.rules.every((rule) => rule.pattern !== undefined)).toBe(true);
    const sync = read.schedules.find((s) => s.scheduleExpression === `rate(${WORKFLOWS.contactSync.scheduleMinutes} minutes)`);
    expect(sync).toMatchObject({ state: 'ENABLED', targets: [{ type: 'states', arnRef: logicalIdOf(hub.stack.contactSync!.stateMachine, hub.stack) }] });
    const prober = read.schedules.find((s) => s.scheduleExpression === 'rate(1 minute)');
    expect(prober).toMatchObject({ state: 'DISABLED', targets: [{ type: 'lambda' }] });
    const ruleCount = Object.values(hub.template.toJSON().Resources as Record<string, { Type: string }>).filter((r) => r.Type === 'AWS::Events::Rule').length;
    expect(read.rules.length + read.schedules.length).toBe(ruleCount);
  });
});

describe('readTemplateRules on hand-written templates', () => {
  const template = (rule: Record<string, unknown>) => ({
    Resources: {
      Fn: { Type: 'AWS::Lambda::Function', Properties: {} },
      Topic: { Type: 'AWS::SNS::Topic', Properties: {} },
      Rule: { Type: 'AWS::Events::Rule', Properties: rule },
    },
  });

  it('resolves Ref / Fn::GetAtt targets to logical ids and types, literal ARNs as other, and defaults the bus', () => {
    const { rules } = readTemplateRules(
      template({
        EventPattern: '{"source":["a"]}',
        Targets: [
          { Id: 'T1', Arn: { 'Fn::GetAtt': ['Fn', 'Arn'] } },
          { Id: 'T2', Arn: { Ref: 'Topic' } },
          { Id: 'T3', Arn: 'arn:aws:sqs:us-east-1:123456789012:external' },
        ],
      }),
    );
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatchObject({ logicalId: 'Rule', eventBusRef: 'default', state: 'ENABLED', pattern: { source: ['a'] } });
    expect(rules[0]!.targets.map(({ arnRef, type, id }) => ({ arnRef, type, id }))).toEqual([
      { arnRef: 'Fn', type: 'lambda', id: 'T1' },
      { arnRef: 'Topic', type: 'other', id: 'T2' },
      { arnRef: 'arn:aws:sqs:us-east-1:123456789012:external', type: 'other', id: 'T3' },
    ]);
    expect(rules[0]!.matches({ source: 'a' })).toBe(true);
    expect(rules[0]!.matches({ source: 'b' })).toBe(false);
  });

  it('fails loudly, naming the rule, on an unsupported operator or an invalid pattern', () => {
    const unsupported = () => readTemplateRules(template({ EventPattern: { detail: { ip: [{ cidr: '10.0.0.0/8' }] } }, Targets: [] }));
    expect(unsupported).toThrow(TemplateRulesError);
    expect(unsupported).toThrow(/Rule Rule: .*"cidr" at detail\.ip/);
    try {
      unsupported();
    } catch (error) {
      expect((error as Error).cause).toBeInstanceOf(UnsupportedPatternError);
    }
    try {
      readTemplateRules(template({ EventPattern: { source: 'a' } }));
    } catch (error) {
      expect((error as Error).cause).toBeInstanceOf(InvalidEventPatternError);
    }
    expect(() => readTemplateRules(template({ EventPattern: { source: 'a' } }))).toThrow(TemplateRulesError);
  });

  it('names every rule it cannot interpret, not only the first', () => {
    const rule = (pattern: object) => ({ Type: 'AWS::Events::Rule', Properties: { EventPattern: pattern, Targets: [] } });
    const read = () => readTemplateRules({ Resources: { First: rule({ source: [{ wildcard: 'a*' }] }), Good: rule({ source: ['a'] }), Second: rule({ source: 'a' }) } });
    expect(read).toThrow(TemplateRulesErrors);
    try {
      read();
    } catch (error) {
      expect((error as TemplateRulesErrors).errors.map((e) => e.logicalId)).toEqual(['First', 'Second']);
      expect((error as Error).message).toMatch(/^2 rules cannot be interpreted:\n- Rule First: .*\n- Rule Second: /);
    }
  });

  it('rejects targets it cannot resolve and rules without pattern or schedule', () => {
    expect(() => readTemplateRules(template({ EventPattern: { source: ['a'] }, Targets: [{ Id: 'T', Arn: { 'Fn::Join': ['', ['arn:', 'x']] } }] }))).toThrow(/target T Arn/);
    expect(() => readTemplateRules(template({ Targets: [] }))).toThrow(/neither EventPattern nor ScheduleExpression/);
  });

  it('skips disabled rules in rulesMatching', () => {
    const { rules } = readTemplateRules(template({ EventPattern: { source: ['a'] }, State: 'DISABLED', Targets: [] }));
    expect(rulesMatching(rules, { source: 'a' })).toHaveLength(0);
  });
});
