/**
 * {@link ProbeSchedule} on an EventBridge rule (EnableRule / DisableRule; both idempotent). SDK errors become
 * DependencyError('ProbeSchedule').
 */
import { DisableRuleCommand, EnableRuleCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DependencyError } from '../runtime/errors.js';
import type { ProbeSchedule } from './ports.js';

/** The prober's schedule rule on the default event bus. */
export class EventBridgeProbeSchedule implements ProbeSchedule {
  constructor(
    private readonly events: EventBridgeClient,
    private readonly ruleName: string,
  ) {}

  async enable(): Promise<void> {
    try {
      await this.events.send(new EnableRuleCommand({ Name: this.ruleName }));
    } catch (error) {
      throw translate('enable', this.ruleName, error);
    }
  }

  async disable(): Promise<void> {
    try {
      await this.events.send(new DisableRuleCommand({ Name: this.ruleName }));
    } catch (error) {
      throw translate('disable', this.ruleName, error);
    }
  }
}

function translate(operation: 'enable' | 'disable', ruleName: string, error: unknown): DependencyError {
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new DependencyError('ProbeSchedule', `Could not ${operation} the probe schedule rule ${ruleName}: ${reason}`, { cause: error });
}
