/**
 * Faults of the hub's own parts (local/hub/hub-faults.ts) fail the way AWS fails them, and the local hub survives
 * them: a table's calls fail inside the SDK's retries, Secrets Manager down leaves cached secrets served, a crash
 * after the provider answered loses nothing and duplicates nothing, a controller that is down pauses nothing and
 * its records leave the stream for the on-failure queue. The hub runs a fixture catalog (one integration with a short
 * function timeout, so a crashed batch comes back within seconds); outcomes are awaited, never timed.
 */
import { GetItemCommand, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { loadAdapter } from '../../../functions/ops/integration-adapters.js';
import { SecretsManagerSecretSource } from '../../../functions/runtime/secrets-manager-secret-source.js';
import { HubFaultInjector, InvocationCrashedError } from '../../../local/hub/hub-faults.js';
import { localDynamoClient } from '../../../local/local-dynamo.js';
import { createLocalSecretsManager } from '../../../local/local-secrets-manager.js';
import { startLocalDynamo } from '../../support/dynalite.js';
import { eventually } from '../../support/eventually.js';
import { useFixtureHub } from '../../support/fixture-hub.js';

describe('HubFaultInjector', () => {
  it('fails DynamoDB calls on the chosen table inside the SDK retry loop, and only there, until cleared', async () => {
    const dynamo = await startLocalDynamo();
    const client = localDynamoClient(dynamo.endpoint);
    try {
      await dynamo.createTable('ledger-t', { partitionKey: 'pk' });
      await dynamo.createTable('circuits-t', { partitionKey: 'pk' });
      const injector = new HubFaultInjector({ ledger: 'ledger-t', circuits: 'circuits-t' }, { setAvailable: () => undefined });
      injector.faultDynamo(client);
      const get = (table: string) => client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'x' } } }));

      injector.set({ dynamo: { tables: ['ledger'], error: 'throttling' } });
      const error = await get('ledger-t').then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(ProvisionedThroughputExceededException);
      // The SDK retried it as throttling, as it would a real throttled table.
      expect((error as ProvisionedThroughputExceededException).$metadata.attempts).toBeGreaterThan(1);
      await expect(get('circuits-t')).resolves.toBeDefined();

      injector.set({ dynamo: { tables: ['ledger'], error: 'internal', rate: 0 } });
      await expect(get('ledger-t')).resolves.toBeDefined();
      injector.clear();
      await expect(get('ledger-t')).resolves.toBeDefined();
      expect(() => injector.set({ dynamo: { tables: ['ledger'], error: 'internal', rate: 2 } })).toThrow(RangeError);
      expect(() => injector.set({ disk: 'full' } as never)).toThrow(/unknown hub fault\(s\): disk/);
    } finally {
      client.destroy();
      await dynamo.close();
    }
  });

  it('takes Secrets Manager down: reads fail, a secret a container cached is still served', async () => {
    const secretsManager = createLocalSecretsManager({ 'x/credentials': { token: 't-1' } });
    const injector = new HubFaultInjector({ ledger: 'l', circuits: 'c' }, secretsManager);
    const warm = new SecretsManagerSecretSource({ client: secretsManager.client, maxAgeSeconds: 300 });
    await expect(warm.getJson('x/credentials')).resolves.toEqual({ token: 't-1' });

    injector.set({ secretsManager: 'unavailable' });
    await expect(warm.getJson('x/credentials')).resolves.toEqual({ token: 't-1' });
    const cold = new SecretsManagerSecretSource({ client: secretsManager.client, maxAgeSeconds: 300 });
    await expect(cold.getJson('x/credentials')).rejects.toMatchObject({ errorClass: 'SecretsManagerUnavailable' });
    await expect(warm.getJson('x/credentials', { forceFetch: true })).rejects.toMatchObject({ errorClass: 'SecretsManagerUnavailable' });

    injector.clear();
    await expect(cold.getJson('x/credentials')).resolves.toEqual({ token: 't-1' });
  });
});

describe('the local hub under faults of its own parts', () => {
  const SOURCE = 'test.faults';
  const DETAIL_TYPE = 'TicketRequested';
  const fixture = useFixtureHub(
    'faults',
    {
      description: 'Fixture: tickets for the hub-faults test.',
      routes: [{ sources: [SOURCE], detailTypes: [DETAIL_TYPE] }],
      // A crashed invocation's batch comes back after the visibility timeout, 6 × this (+ the batching window).
      functionTimeoutSeconds: 2,
      httpTimeoutMs: 1_000,
    },
    { seed: 9 },
  );

  it('a crash after the provider answered loses nothing and applies nothing twice: the batch comes back and is replayed', async () => {
    const name = fixture.adapter.name;
    const integration = fixture.hub.integration(name)!;
    const definition = (await loadAdapter(name)).bind(name);
    const examples = Array.from({ length: 4 }, (_, n) => definition.example!(100 + n) as { ticketId: string; version: number });
    fixture.hub.faults.set({ crashAfterCall: { integration: name, rate: 1 } });
    fixture.hub.putEvents(examples.map((detail) => ({ source: SOURCE, detailType: DETAIL_TYPE, detail })));

    await eventually(() => expect(fixture.backgroundErrors.some(({ error }) => error instanceof InvocationCrashedError)).toBe(true), 20_000);
    fixture.hub.faults.clear();
    await eventually(() => expect(integration.queue.stats()).toMatchObject({ visible: 0, inFlight: 0, delayed: 0 }), 40_000);
    await fixture.hub.settle();

    const keys = fixture.sandbox.sideEffects(name).map((effect) => effect.idempotencyKey);
    const expected = examples.map((e) => `${name}:ticket:${e.ticketId}:v${e.version}`);
    for (const key of expected) expect(keys.filter((k) => k === key), key).toHaveLength(1);
    expect(integration.deadLetterQueue.stats().visible).toBe(0);
    // The crashed call reached the provider; the one after the crash was answered from the provider's replay.
    expect(fixture.sandbox.journal.count({ provider: name })).toBeGreaterThan(expected.length);
  }, 90_000);

  it('a controller that is down pauses nothing; its records leave the stream for the on-failure queue; back up, it acts again', async () => {
    const name = fixture.adapter.name;
    const integration = fixture.hub.integration(name)!;
    const breaker = fixture.hub.circuitBreaker(name)!;
    const [stream] = fixture.hub.blueprint.streamMappings.values();
    const onFailure = fixture.hub.queues.get(stream!.onFailureQueue!)!;
    const failuresBefore = onFailure.stats().visible;
    fixture.hub.faults.set({ controller: 'down' });
    await breaker.isolate('maintenance (test)');
    // Each poll is one invocation of the controller: it fails them all, so the record is retried, then discarded.
    for (let invocation = 0; invocation <= stream!.maximumRetryAttempts; invocation++) await fixture.hub.pollCircuitStream();
    expect(fixture.backgroundErrors.map(({ error }) => String(error))).toContainEqual(expect.stringMatching(/discarded after/));
    expect(integration.mapping.enabled).toBe(true);
    expect(onFailure.stats().visible).toBeGreaterThan(failuresBefore);

    // Back up: each change is seen by the next scan (polled here, so none is missed between two scans).
    fixture.hub.faults.clear();
    await breaker.reset();
    await fixture.hub.pollCircuitStream();
    await breaker.isolate('maintenance again (test)');
    await fixture.hub.pollCircuitStream();
    expect(integration.mapping.enabled).toBe(false);
    await breaker.reset();
    await fixture.hub.pollCircuitStream();
    expect(integration.mapping.enabled).toBe(true);
  });
});
