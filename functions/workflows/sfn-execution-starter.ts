/**
 * The Step Functions adapter behind the saga starter's {@link ExecutionStarter} port: StartExecution, with the SDK's
 * errors translated at this boundary into the runtime's hierarchy.
 */
import {
  ExecutionAlreadyExists,
  InvalidExecutionInput,
  InvalidName,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { DependencyError, PoisonMessageError } from '../runtime/errors.js';

/** How a start request ended. */
export type StartOutcome =
  | { kind: 'started'; executionArn: string }
  /** An execution of that name exists (running or closed): the work is already under way or done. */
  | { kind: 'already_exists' };

/** Starts named executions of one state machine. */
export interface ExecutionStarter {
  /**
   * Starts an execution called `name` with `input`. Rejects with a PoisonMessageError when Step Functions refuses the
   * name or input (the same request always fails), with a DependencyError otherwise (throttling, 5xx, network).
   */
  start(name: string, input: unknown): Promise<StartOutcome>;
}

/** {@link ExecutionStarter} on Step Functions. */
export class SfnExecutionStarter implements ExecutionStarter {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(name: string, input: unknown): Promise<StartOutcome> {
    try {
      const result = await this.sfn.send(
        new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) }),
      );
      return { kind: 'started', executionArn: result.executionArn ?? '' };
    } catch (error) {
      // A standard workflow answers a repeated start with the same name and input while it runs with success, and
      // with ExecutionAlreadyExists once it has closed or when the input differs: both mean "this saga exists".
      if (error instanceof ExecutionAlreadyExists) return { kind: 'already_exists' };
      if (error instanceof InvalidExecutionInput || error instanceof InvalidName) {
        throw new PoisonMessageError('ValidationFailed', `Step Functions refused the execution ${name}: ${error.message}`, { cause: error });
      }
      throw new DependencyError('StepFunctions', `StartExecution ${name} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
    }
  }
}
