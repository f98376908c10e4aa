import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** Counts the commands an SDK client sends, by command name (e.g. UpdateItemCommand). */
export interface CallCounter {
  readonly counts: Map<string, number>;
  total(...commandNames: string[]): number;
  reset(): void;
}

const WRITE_COMMANDS = ['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand', 'TransactWriteItemsCommand'];
const READ_COMMANDS = ['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand'];

/** Installs a counting middleware on the client (every call counts, failed ones too). */
export function countCalls(client: DynamoDBClient): CallCounter & { writes(): number; reads(): number } {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? 'unknown';
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: `callCounter${Math.random()}` },
  );
  const total = (...names: string[]) => names.reduce((sum, name) => sum + (counts.get(name) ?? 0), 0);
  return {
    counts,
    total,
    writes: () => total(...WRITE_COMMANDS),
    reads: () => total(...READ_COMMANDS),
    reset: () => counts.clear(),
  };
}
