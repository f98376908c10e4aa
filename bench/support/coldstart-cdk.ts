/** cdk.json's context, so the bench synthesizes what `cdk synth` does. */
import { readFileSync } from 'node:fs';

export const CDK_CONTEXT = (JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> }).context;
