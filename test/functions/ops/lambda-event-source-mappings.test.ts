import {
  GetEventSourceMappingCommand,
  LambdaClient,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { EventSourceMappingBusyError, EventSourceMappingNotFoundError } from '../../../functions/ops/errors.js';
import { LambdaEventSourceMappings } from '../../../functions/ops/lambda-event-source-mappings.js';
import { RESUME_MAXIMUM_CONCURRENCY } from '../../../functions/ops/ports.js';
import { DependencyError } from '../../../functions/runtime/errors.js';
import { CRM_MAPPING } from './ops-test-support.js';

const client = new LambdaClient({ region: 'us-east-1' });
const lambda = mockClient(client);
const mappings = new LambdaEventSourceMappings(client);

beforeEach(() => {
  lambda.reset();
});

const updates = () => lambda.commandCalls(UpdateEventSourceMappingCommand).map((call) => call.args[0].input);

describe('Lambda event source mappings adapter', () => {
  it('disables a mapping with exactly Enabled false', async () => {
    lambda.on(UpdateEventSourceMappingCommand).resolves({});
    await mappings.update(CRM_MAPPING, { enabled: false });
    expect(updates()).toEqual([{ UUID: CRM_MAPPING, Enabled: false }]);
  });

  it('resumes a mapping with Enabled true and MaximumConcurrency 2', async () => {
    lambda.on(UpdateEventSourceMappingCommand).resolves({});
    await mappings.update(CRM_MAPPING, { enabled: true, maximumConcurrency: RESUME_MAXIMUM_CONCURRENCY });
    expect(updates()).toEqual([{ UUID: CRM_MAPPING, Enabled: true, ScalingConfig: { MaximumConcurrency: 2 } }]);
  });

  it("restores the catalog's concurrency without touching Enabled", async () => {
    lambda.on(UpdateEventSourceMappingCommand).resolves({});
    await mappings.update(CRM_MAPPING, { maximumConcurrency: 10 });
    expect(updates()).toEqual([{ UUID: CRM_MAPPING, ScalingConfig: { MaximumConcurrency: 10 } }]);
  });

  it('reads the state and maximum concurrency of a mapping', async () => {
    lambda.on(GetEventSourceMappingCommand, { UUID: CRM_MAPPING }).resolves({ UUID: CRM_MAPPING, State: 'Disabling', ScalingConfig: { MaximumConcurrency: 5 } });
    expect(await mappings.get(CRM_MAPPING)).toEqual({ uuid: CRM_MAPPING, state: 'disabling', maximumConcurrency: 5 });
  });

  it('reads a mapping without a scaling config as having no maximum concurrency', async () => {
    lambda.on(GetEventSourceMappingCommand).resolves({ UUID: CRM_MAPPING, State: 'Enabled' });
    expect(await mappings.get(CRM_MAPPING)).toEqual({ uuid: CRM_MAPPING, state: 'enabled' });
  });

  it('reports a mapping that is still being changed as busy', async () => {
    lambda.on(UpdateEventSourceMappingCommand).rejects(new ResourceInUseException({ message: 'in use', $metadata: {} }));
    const error = await mappings.update(CRM_MAPPING, { enabled: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventSourceMappingBusyError);
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as Error).cause).toBeInstanceOf(ResourceInUseException);
  });

  it('reports a mapping that does not exist as not found', async () => {
    lambda.on(GetEventSourceMappingCommand).rejects(new ResourceNotFoundException({ message: 'gone', $metadata: {} }));
    await expect(mappings.get(CRM_MAPPING)).rejects.toBeInstanceOf(EventSourceMappingNotFoundError);
  });

  it('translates any other failure, and an unknown state, into a DependencyError', async () => {
    lambda.on(UpdateEventSourceMappingCommand).rejects(new Error('ServiceException: boom'));
    lambda.on(GetEventSourceMappingCommand).resolves({ UUID: CRM_MAPPING, State: 'Melting' });
    await expect(mappings.update(CRM_MAPPING, { enabled: false })).rejects.toThrow(DependencyError);
    await expect(mappings.get(CRM_MAPPING)).rejects.toThrow(/unknown state "Melting"/);
  });
});
