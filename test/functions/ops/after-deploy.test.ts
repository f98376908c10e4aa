import { describe, expect, it } from 'vitest';
import { AFTER_DEPLOY_EVENT, answerAfterDeploy, type CustomResourceEvent, isAfterDeployRequest, isReconcileRequest } from '../../../functions/ops/after-deploy.js';

const request = (requestType: CustomResourceEvent['RequestType']): CustomResourceEvent => ({
  RequestType: requestType,
  ResponseURL: 'https://cloudformation-answers.example/answer',
  StackId: 'arn:aws:cloudformation:eu-west-1:1:stack/IntegrationHub/x',
  RequestId: `req-${requestType}`,
  LogicalResourceId: 'ReconcileAfterDeploy',
  ResourceProperties: { ...AFTER_DEPLOY_EVENT, fingerprint: 'f' },
});

/** A fetch that records the answers and replies with `status`. */
function recordingFetch(status = 200) {
  const answers: { url: string; init: RequestInit }[] = [];
  const fetchFn = (async (url: string, init: RequestInit) => {
    answers.push({ url, init });
    return new Response(null, { status });
  }) as unknown as typeof fetch;
  return { fetchFn, answers, body: (index = 0) => JSON.parse(String(answers[index]!.init.body)) as Record<string, string> };
}

describe("the prober's after-deploy custom resource", () => {
  it('tells its requests from scheduled events and other custom resources, and takes the same run by hand', () => {
    expect(isAfterDeployRequest(request('Update'))).toBe(true);
    expect(isReconcileRequest({ reconcile: 'after-deploy' })).toBe(true);
    expect(isReconcileRequest({ source: 'aws.events' })).toBe(false);
    expect(isAfterDeployRequest({ source: 'aws.events', 'detail-type': 'Scheduled Event' })).toBe(false);
    expect(isAfterDeployRequest({ ...request('Create'), ResourceProperties: { other: 1 } })).toBe(false);
    expect(isAfterDeployRequest(null)).toBe(false);
  });

  it('runs the reconcile on create and update, and answers SUCCESS to the pre-signed URL without a content type', async () => {
    for (const type of ['Create', 'Update'] as const) {
      const { fetchFn, answers, body } = recordingFetch();
      let runs = 0;
      const outcome = await answerAfterDeploy(request(type), async () => `run ${++runs}`, fetchFn);
      expect(runs).toBe(1);
      expect(outcome).toEqual({ reason: 'run 1' });
      expect(answers[0]).toMatchObject({ url: request(type).ResponseURL, init: { method: 'PUT', headers: { 'content-type': '' } } });
      expect(body()).toMatchObject({ Status: 'SUCCESS', Reason: 'run 1', RequestId: `req-${type}`, LogicalResourceId: 'ReconcileAfterDeploy', PhysicalResourceId: 'circuit-reconcile-ReconcileAfterDeploy' });
    }
  });

  it('does nothing on delete but answer', async () => {
    const { fetchFn, body } = recordingFetch();
    let runs = 0;
    await answerAfterDeploy(request('Delete'), async () => `run ${++runs}`, fetchFn);
    expect(runs).toBe(0);
    expect(body().Status).toBe('SUCCESS');
  });

  it('never rolls a deploy back: a failed run still answers SUCCESS, with the reason, and hands the failure back', async () => {
    const { fetchFn, body } = recordingFetch();
    const failure = new Error('circuits table unavailable');
    const outcome = await answerAfterDeploy(request('Update'), () => Promise.reject(failure), fetchFn);
    expect(outcome.failure).toBe(failure);
    expect(body()).toMatchObject({ Status: 'SUCCESS', Reason: expect.stringContaining('circuits table unavailable') });
  });

  it('fails loudly when CloudFormation refuses the answer', async () => {
    const { fetchFn } = recordingFetch(403);
    await expect(answerAfterDeploy(request('Create'), async () => 'ok', fetchFn)).rejects.toThrow(/HTTP 403/);
  });
});
