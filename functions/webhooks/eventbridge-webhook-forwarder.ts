/** The {@link WebhookForwarder} port on EventBridge: one PutEvents entry per verified webhook, on the hub's bus. */
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DependencyError } from '../runtime/errors.js';
import type { ForwardedWebhook, WebhookForwarder } from './webhook-ingress.js';

export class EventBridgeWebhookForwarder implements WebhookForwarder {
  constructor(private readonly options: { readonly client: EventBridgeClient; readonly eventBusName: string }) {}

  async forward(event: ForwardedWebhook): Promise<void> {
    const entry = {
      EventBusName: this.options.eventBusName,
      Source: event.source,
      DetailType: event.detailType,
      Detail: JSON.stringify(event.detail),
      Time: new Date(event.detail.receivedAt),
    };
    let failed: { ErrorCode?: string; ErrorMessage?: string } | undefined;
    try {
      const response = await this.options.client.send(new PutEventsCommand({ Entries: [entry] }));
      if ((response.FailedEntryCount ?? 0) > 0) failed = response.Entries?.[0] ?? {};
    } catch (error) {
      throw new DependencyError('EventBus', `PutEvents failed: ${(error as Error).name ?? 'Error'}`, { cause: error });
    }
    // PutEvents answers 200 with the entry refused (throttled, internal error): not put, so not forwarded.
    if (failed) throw new DependencyError('EventBus', `PutEvents refused the event: ${failed.ErrorCode ?? 'unknown'} ${failed.ErrorMessage ?? ''}`.trim());
  }
}
