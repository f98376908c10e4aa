/**
 * {@link EventSourceMappings} on AWS Lambda: GetEventSourceMapping / UpdateEventSourceMapping by UUID. SDK errors
 * are translated here: ResourceInUseException (an earlier change still being applied) becomes
 * EventSourceMappingBusyError, ResourceNotFoundException EventSourceMappingNotFoundError, anything else a
 * DependencyError.
 */
import {
  GetEventSourceMappingCommand,
  type LambdaClient,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateEventSourceMappingCommand,
  type UpdateEventSourceMappingCommandInput,
} from '@aws-sdk/client-lambda';
import { DependencyError } from '../runtime/errors.js';
import { EventSourceMappingBusyError, EventSourceMappingNotFoundError } from './errors.js';
import type { EventSourceMappings, MappingChange, MappingState, MappingStatus } from './ports.js';

const STATES: Readonly<Record<string, MappingState>> = {
  Creating: 'creating',
  Enabling: 'enabling',
  Enabled: 'enabled',
  Disabling: 'disabling',
  Disabled: 'disabled',
  Updating: 'updating',
  Deleting: 'deleting',
};

/** Event source mappings through the Lambda API. */
export class LambdaEventSourceMappings implements EventSourceMappings {
  constructor(private readonly lambda: LambdaClient) {}

  async get(uuid: string): Promise<MappingStatus> {
    try {
      const mapping = await this.lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
      const state = STATES[mapping.State ?? ''];
      if (!state) throw new DependencyError('EventSourceMapping', `Event source mapping ${uuid} reported an unknown state ${JSON.stringify(mapping.State)}`);
      const maximumConcurrency = mapping.ScalingConfig?.MaximumConcurrency;
      return maximumConcurrency === undefined ? { uuid, state } : { uuid, state, maximumConcurrency };
    } catch (error) {
      throw translate('read', uuid, error);
    }
  }

  async update(uuid: string, change: MappingChange): Promise<void> {
    const input: UpdateEventSourceMappingCommandInput = { UUID: uuid };
    if (change.enabled !== undefined) input.Enabled = change.enabled;
    if (change.maximumConcurrency !== undefined) input.ScalingConfig = { MaximumConcurrency: change.maximumConcurrency };
    try {
      await this.lambda.send(new UpdateEventSourceMappingCommand(input));
    } catch (error) {
      throw translate('update', uuid, error);
    }
  }
}

function translate(operation: 'read' | 'update', uuid: string, error: unknown): Error {
  if (error instanceof DependencyError) return error;
  if (error instanceof ResourceInUseException) return new EventSourceMappingBusyError(uuid, { cause: error });
  if (error instanceof ResourceNotFoundException) return new EventSourceMappingNotFoundError(uuid, { cause: error });
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new DependencyError('EventSourceMapping', `Could not ${operation} event source mapping ${uuid}: ${reason}`, { cause: error });
}
