/**
 * Lambda entry of the try stage's sandbox: the sandbox third-party APIs of the local hub (local/sandbox/) behind one
 * Lambda Function URL, so a deployed hub runs end to end against them. The start is in sandbox-startup.ts, the
 * request forwarding and the control-plane guard in function-url-proxy.ts; this file only wires AWS to them.
 *
 * Environment:
 *   OPS_CATALOG_PATH          required: the SSM parameter path of the stack's ops catalog (`/<stack>/circuit-ops/`,
 *                             functions/ops/ops-catalog.ts), which says which integrations and standalone workflow
 *                             providers to serve, with their auth and secret
 *   CONTROL_TOKEN_SECRET      required: Secrets Manager name or ARN of the control token; its SecretString is JSON
 *                             `{"token": "<at least 16 characters>"}`; `/_sandbox/...` requests must carry that token
 *                             in the `x-sandbox-control-token` header (else 403)
 *   SSM_ENDPOINT, SECRETS_MANAGER_ENDPOINT   optional endpoint overrides (VPC endpoints, emulators)
 *
 * IAM (besides CloudWatch Logs):
 *   ssm:GetParametersByPath         arn:aws:ssm:<region>:<account>:parameter/<stack>/circuit-ops, i.e. OPS_CATALOG_PATH
 *                                   without its trailing slash (authorized on the path itself, also when recursive)
 *   secretsmanager:GetSecretValue   the secret of every ops catalog entry (`secretName`: the very secrets the hub's
 *                                   functions read) and CONTROL_TOKEN_SECRET; plus kms:Decrypt on their key when a
 *                                   customer-managed key encrypts them
 *
 * Function URL: auth type NONE (the hub calls it as a third party: providers check their own credentials, the control
 * plane its token), invoke mode BUFFERED. Each sandbox provider is at `<function url>/<provider>`: an integration's
 * base URL is `<function url>/<its serving provider>` (local/hub/serving-provider.ts), e.g. `/helpdesk`, `/crm`.
 *
 * The sandbox keeps its state (resources, faults, journal, idempotency keys) in memory, per execution environment:
 * only with reserved concurrency 1 do all requests see one state (concurrent calls are then throttled with 429, which
 * the runtime retries), and a recycled environment starts empty again (the credentials come from the secrets, so they
 * stay). A request the sandbox holds (hang fault) is answered 504 just before the function's timeout, which should
 * therefore be above the catalog's longest httpTimeoutMs.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { ssmParameterReader } from '../../../functions/ops/ops-catalog.js';
import { SecretsManagerSecretSource } from '../../../functions/runtime/secrets-manager-secret-source.js';
import { createSandboxProxy } from './function-url-proxy.js';
import { startTrySandbox, trySandboxSettings } from './sandbox-startup.js';

/** Time kept to answer a request the sandbox still holds before Lambda ends the invocation. */
const ANSWER_MARGIN_MS = 1_000;

const logger = new Logger({ serviceName: 'integration-hub', persistentKeys: { function: 'sandbox-function-url' } });
const readParameters = ssmParameterReader(new SSMClient({ endpoint: process.env.SSM_ENDPOINT || undefined }), 'the integrations to serve');
const secrets = new SecretsManagerSecretSource({ client: new SecretsManagerClient({ endpoint: process.env.SECRETS_MANAGER_ENDPOINT || undefined }) });

const proxy = createSandboxProxy({
  start: async () => {
    const sandbox = await startTrySandbox(trySandboxSettings(process.env), {
      readParameters,
      // Afresh on every start: a start retried after an operator fixed a secret must not see the cached old value.
      readSecret: (secretId) => secrets.getJson(secretId, { forceFetch: true }),
    });
    logger.info('Sandbox started', { baseUrl: sandbox.baseUrl });
    return sandbox;
  },
  onStartFailure: (error) => logger.error('The sandbox did not start; the next request tries again', { error }),
});

/** The Lambda entry: one Function URL request (payload v2), forwarded to the sandbox. */
export async function handler(event: APIGatewayProxyEventV2, context?: Context): Promise<APIGatewayProxyResultV2> {
  const remainingMs = context?.getRemainingTimeInMillis();
  const signal = remainingMs === undefined ? undefined : AbortSignal.timeout(Math.max(remainingMs - ANSWER_MARGIN_MS, 0));
  return proxy(event, signal ? { signal } : {});
}
