import { PowertoolsFunctions } from '@aws-lambda-powertools/jmespath/functions';

/**
 * The JMESPath functions Powertools idempotency selects the key and the validated payload with
 * (operation-executor.ts), listed once. Powertools builds a tree interpreter for every search — two per write, four
 * per message — and each one lists the functions again by walking the class prototypes; with one shared instance
 * that walk ran on every message (bench/runtime.ts's profile). The set of functions never changes, so the first walk's
 * answer is kept. Same functions as Powertools' default, so the hashes (and existing records) are unchanged.
 */
export class IdempotencyKeyFunctions extends PowertoolsFunctions {
  #methods?: Set<string>;

  override introspectMethods(scope?: Parameters<PowertoolsFunctions['introspectMethods']>[0]): Set<string> {
    // The base class calls this on each prototype of the chain too: only the instance keeps an answer.
    if (!(#methods in this)) return super.introspectMethods(scope);
    this.#methods ??= super.introspectMethods(scope);
    return this.#methods;
  }
}
