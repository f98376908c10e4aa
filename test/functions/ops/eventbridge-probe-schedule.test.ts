import { DisableRuleCommand, EnableRuleCommand, EventBridgeClient, ResourceNotFoundException } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { EventBridgeProbeSchedule } from '../../../functions/ops/eventbridge-probe-schedule.js';
import { DependencyError } from '../../../functions/runtime/errors.js';

const client = new EventBridgeClient({ region: 'us-east-1' });
const events = mockClient(client);
const schedule = new EventBridgeProbeSchedule(client, 'hub-circuit-prober');

beforeEach(() => {
  events.reset();
});

describe('EventBridge probe schedule adapter', () => {
  it('enables and disables exactly the prober rule', async () => {
    events.on(EnableRuleCommand).resolves({});
    events.on(DisableRuleCommand).resolves({});

    await schedule.enable();
    await schedule.disable();

    expect(events.commandCalls(EnableRuleCommand).map((c) => c.args[0].input)).toEqual([{ Name: 'hub-circuit-prober' }]);
    expect(events.commandCalls(DisableRuleCommand).map((c) => c.args[0].input)).toEqual([{ Name: 'hub-circuit-prober' }]);
  });

  it('translates EventBridge failures into a DependencyError naming the rule', async () => {
    events.on(EnableRuleCommand).rejects(new ResourceNotFoundException({ message: 'Rule does not exist', $metadata: {} }));
    const error = await schedule.enable().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as DependencyError).errorClass).toBe('ProbeScheduleUnavailable');
    expect((error as Error).message).toContain('hub-circuit-prober');
  });
});
