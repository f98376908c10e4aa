/**
 * EventBridge Pipes for the local hub, read from the template: a pipe whose source is the stream of one of the
 * template's tables (local-dynamo-streams.ts gives the records), whose target is the hub's bus, and whose enrichment
 * the local hub knows how to run (`enrichments`, by the target's detail type). Anything else in an
 * `AWS::Pipes::Pipe` is refused at start, so the local hub never silently differs from the stack.
 *
 * What is emulated: the filter criteria (the template's patterns, local/event-pattern.ts, over the stream record),
 * batches of up to `BatchSize` records in stream order, one batch at a time (parallelization 1), the enrichment's
 * array as the events put on the bus with the target's source and detail type, a failed batch retried up to
 * `MaximumRetryAttempts` times and then counted as dead-lettered. Not emulated: batching windows, bisection of a
 * failing batch, the starting position (records from the pipe's creation on, as LATEST).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { DynamoDBRecord } from 'aws-lambda';
import { compileEventPattern, type EventPredicate } from './event-pattern.js';
import type { CfnTemplate } from './local-step-functions.js';

/** One pipe of the template, as the local hub runs it. */
export interface PipeBlueprint {
  readonly logicalId: string;
  /** The table whose stream is the source (logical id). */
  readonly sourceTable: string;
  readonly filters: readonly EventPredicate[];
  readonly batchSize: number;
  readonly retryAttempts: number;
  /** The enrichment function (logical id). */
  readonly enrichmentFunction: string;
  readonly target: { readonly bus: string; readonly source: string; readonly detailType: string };
}

/** Maps a batch of stream records to event details, as the enrichment function does. */
export type LocalEnrichment = (records: readonly DynamoDBRecord[]) => Promise<readonly unknown[]>;

/** An event the pipe puts on the bus. */
export interface PipeEvent {
  readonly source: string;
  readonly detailType: string;
  readonly detail: unknown;
}

type Properties = Record<string, any>;

/**
 * The template's pipes; `problems` names each one the local hub cannot run (an unknown source, target or enrichment),
 * `enrichments` being the detail types whose enrichment it can run.
 */
export function pipesOf(template: CfnTemplate, enrichments: ReadonlySet<string>): { pipes: PipeBlueprint[]; problems: string[] } {
  const pipes: PipeBlueprint[] = [];
  const problems: string[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Pipes::Pipe') continue;
    const p = (resource.Properties ?? {}) as Properties;
    const [sourceTable, sourceAttribute] = p.Source?.['Fn::GetAtt'] ?? [];
    const [bus, busAttribute] = p.Target?.['Fn::GetAtt'] ?? [];
    const [enrichmentFunction] = p.Enrichment?.['Fn::GetAtt'] ?? [];
    const stream = p.SourceParameters?.DynamoDBStreamParameters ?? {};
    const target = p.TargetParameters?.EventBridgeEventBusParameters ?? {};
    const pipeProblems: string[] = [];
    if (sourceAttribute !== 'StreamArn' || template.Resources[sourceTable]?.Type !== 'AWS::DynamoDB::Table') pipeProblems.push('its source must be the stream of a table of the template');
    if (busAttribute !== 'Arn' || template.Resources[bus]?.Type !== 'AWS::Events::EventBus') pipeProblems.push('its target must be an event bus of the template');
    if (!enrichmentFunction || template.Resources[enrichmentFunction]?.Type !== 'AWS::Lambda::Function') pipeProblems.push('it needs a Lambda enrichment of the template');
    if (!enrichments.has(target.DetailType)) pipeProblems.push(`no local enrichment for detail type ${JSON.stringify(target.DetailType)}`);
    if (p.TargetParameters?.InputTemplate || p.EnrichmentParameters) pipeProblems.push('input templates are not emulated');
    if (pipeProblems.length > 0) {
      problems.push(...pipeProblems.map((problem) => `pipe ${logicalId}: ${problem}`));
      continue;
    }
    pipes.push({
      logicalId,
      sourceTable,
      filters: ((p.SourceParameters?.FilterCriteria?.Filters ?? []) as { Pattern: string }[]).map((filter) => compileEventPattern(JSON.parse(filter.Pattern))),
      batchSize: Number(stream.BatchSize ?? 100),
      retryAttempts: Number(stream.MaximumRetryAttempts ?? -1),
      enrichmentFunction,
      target: { bus, source: String(target.Source), detailType: String(target.DetailType) },
    });
  }
  return { pipes, problems };
}

/** What a local pipe did so far. */
export interface LocalPipeStats {
  /** Stream records that passed the filter. */
  readonly records: number;
  readonly batches: number;
  readonly published: number;
  /** Batches that failed every retry (on AWS: their positions in the dead-letter queue). */
  readonly failedBatches: number;
}

/** Runs one pipe: {@link LocalPipe.push} each stream record of its table, in order. */
export class LocalPipe {
  readonly #blueprint: PipeBlueprint;
  readonly #enrich: LocalEnrichment;
  readonly #put: (events: readonly PipeEvent[]) => void;
  readonly #onError: (error: unknown) => void;
  readonly #waiting: DynamoDBRecord[] = [];
  #draining: Promise<void> = Promise.resolve();
  #records = 0;
  #batches = 0;
  #published = 0;
  #failedBatches = 0;

  constructor(blueprint: PipeBlueprint, parts: { enrich: LocalEnrichment; put: (events: readonly PipeEvent[]) => void; onError?: (error: unknown) => void }) {
    this.#blueprint = blueprint;
    this.#enrich = parts.enrich;
    this.#put = parts.put;
    this.#onError = parts.onError ?? (() => undefined);
  }

  /** Takes a record of the source table's stream (records of one item must be pushed in write order). */
  push(record: DynamoDBRecord): void {
    const { filters } = this.#blueprint;
    if (filters.length > 0 && !filters.some((matches) => matches(record))) return;
    this.#records += 1;
    this.#waiting.push(record);
    if (this.#waiting.length === 1) this.#draining = this.#draining.then(() => this.#drain());
  }

  /** Resolves when every record pushed so far went through. */
  async settle(): Promise<void> {
    while (this.#waiting.length > 0) await this.#draining;
    await this.#draining;
  }

  get stats(): LocalPipeStats {
    return { records: this.#records, batches: this.#batches, published: this.#published, failedBatches: this.#failedBatches };
  }

  async #drain(): Promise<void> {
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, this.#blueprint.batchSize);
      this.#batches += 1;
      await this.#deliver(batch);
    }
  }

  async #deliver(batch: readonly DynamoDBRecord[]): Promise<void> {
    const { retryAttempts, target } = this.#blueprint;
    for (let attempt = 0; ; attempt++) {
      try {
        const details = await this.#enrich(batch);
        this.#put(details.map((detail) => ({ source: target.source, detailType: target.detailType, detail })));
        this.#published += details.length;
        return;
      } catch (error) {
        this.#onError(error);
        if (retryAttempts >= 0 && attempt >= retryAttempts) {
          this.#failedBatches += 1;
          return;
        }
        // The pipe backs off between retries; a short, growing pause keeps a failing enrichment from spinning.
        await delay(Math.min(1_000, 10 * 2 ** attempt));
      }
    }
  }
}
