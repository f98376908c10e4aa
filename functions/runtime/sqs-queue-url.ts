import { ConfigurationError } from './errors.js';

/**
 * Turns a queue ARN (the record's eventSourceARN) into its queue URL without an API call.
 * `endpoint` overrides the service endpoint (the local hub, or a VPC endpoint); by default the regional one.
 */
export function queueUrlFromArn(arn: string, endpoint?: string): string {
  const parts = arn.split(':');
  const [, partition, service, region, account, name] = parts;
  if (parts.length !== 6 || service !== 'sqs' || !region || !account || !name) {
    throw new ConfigurationError(`Not an SQS queue ARN: ${arn}`);
  }
  const base = endpoint ?? `https://sqs.${region}.${partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com'}`;
  return `${base.replace(/\/+$/, '')}/${account}/${name}`;
}
