/**
 * A lenient intrinsic resolver for importing bundles outside AWS: every `Ref`, `Fn::GetAtt`, `Fn::ImportValue`,
 * `Fn::Join`, `Fn::Select`, `Fn::Split` and `Fn::Sub` becomes a plausible fake value (a queue URL for a queue, an ARN
 * for an `Arn`, the logical id otherwise). Unlike local/local-step-functions.ts it never throws: a function only
 * needs well-formed configuration to finish its init, not values that point anywhere.
 */
import { createHash } from 'node:crypto';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';

/** The part of a CloudFormation template the bench reads. */
export interface Template {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

/** `value` with every intrinsic replaced by a fake value. */
export function resolveLeniently(value: unknown, template: Template): unknown {
  const resolve = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(resolve);
    if (node === null || typeof node !== 'object') return node;
    const object = node as Record<string, unknown>;
    const keys = Object.keys(object);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0]!.startsWith('Fn::'))) {
      const [key] = keys as [string];
      const argument = object[key];
      switch (key) {
        case 'Ref':
          return refOf(String(argument), template);
        case 'Fn::GetAtt': {
          const [logicalId, attribute] = (Array.isArray(argument) ? argument : String(argument).split('.')) as [string, string];
          const type = template.Resources[logicalId]?.Type ?? 'AWS::Unknown::Resource';
          const service = type.split('::')[1]!.toLowerCase();
          if (attribute === 'Arn' || attribute.endsWith('Arn')) return `arn:aws:${service}:${REGION}:${ACCOUNT}:${logicalId.toLowerCase()}`;
          if (attribute === 'QueueUrl') return queueUrl(logicalId);
          return `${logicalId}.${attribute}`.toLowerCase();
        }
        case 'Fn::ImportValue':
          return fakeFromExportName(String(resolve(argument)));
        case 'Fn::Join': {
          const [separator, parts] = argument as [string, unknown[]];
          return (parts as unknown[]).map((part) => String(resolve(part))).join(separator);
        }
        case 'Fn::Select': {
          const [index, list] = argument as [number, unknown];
          return (resolve(list) as unknown[])[Number(index)];
        }
        case 'Fn::Split': {
          const [separator, text] = argument as [string, unknown];
          return String(resolve(text)).split(separator);
        }
        case 'Fn::Sub': {
          const [text, variables] = (Array.isArray(argument) ? argument : [argument, {}]) as [string, Record<string, unknown>];
          return text.replace(/\$\{([^}]+)\}/g, (_, name: string) =>
            name in variables ? String(resolve(variables[name])) : String(resolve(name.includes('.') ? { 'Fn::GetAtt': name } : { Ref: name })),
          );
        }
        default:
          return `${key}-unresolved`;
      }
    }
    return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, resolve(v)]));
  };
  return resolve(value);
}

function refOf(name: string, template: Template): string {
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': REGION,
    'AWS::AccountId': ACCOUNT,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': 'IntegrationHub',
    'AWS::NoValue': '',
  };
  if (name in pseudo) return pseudo[name]!;
  const resource = template.Resources[name];
  switch (resource?.Type) {
    case 'AWS::SQS::Queue':
      return queueUrl(name);
    case 'AWS::Lambda::EventSourceMapping': {
      const hex = createHash('sha256').update(name).digest('hex');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
    }
    case 'AWS::SecretsManager::Secret':
    case 'AWS::StepFunctions::StateMachine':
    case 'AWS::SNS::Topic': {
      const service = resource.Type.split('::')[1]!.toLowerCase();
      const kind = { secretsmanager: 'secret', stepfunctions: 'stateMachine', sns: '' }[service];
      return `arn:aws:${service === 'stepfunctions' ? 'states' : service}:${REGION}:${ACCOUNT}:${kind ? `${kind}:` : ''}${name}`;
    }
    default:
      return name;
  }
}

function queueUrl(name: string): string {
  return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`;
}

function fakeFromExportName(exportName: string): string {
  if (/QueueUrl|Queue.*Url/i.test(exportName)) return queueUrl(exportName.replace(/[^A-Za-z0-9-]/g, ''));
  if (/Arn/i.test(exportName)) return `arn:aws:local:${REGION}:${ACCOUNT}:${exportName.replace(/[^A-Za-z0-9-]/g, '')}`;
  return exportName.replace(/[^A-Za-z0-9-_.]/g, '');
}
