/**
 * The webhook signature schemes. Standard Webhooks: the spec's known-answer vector and its verification cases
 * (valid, wrong key, tampered body, missing/old/future timestamp, several signatures, key rotation). The timestamped
 * HMAC: the same cases in its own format. The clock is fixed (the library reads Date.now()).
 */
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebhookRejectedError } from '../../../functions/runtime/errors.js';
import { standardWebhooksScheme } from '../../../functions/webhooks/standard-webhooks-scheme.js';
import { timestampedHmacScheme, timestampedHmacSignature } from '../../../functions/webhooks/timestamped-hmac-scheme.js';
import { signingSecretsOf, type WebhookRequest, type WebhookScheme } from '../../../functions/webhooks/webhook-scheme.js';

/** The rejection `verify` throws, or a failure when it verifies. */
function rejection(scheme: WebhookScheme, request: WebhookRequest, secrets: readonly string[], now: Date): WebhookRejectedError {
  try {
    scheme.verify(request, secrets, now);
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookRejectedError);
    return error as WebhookRejectedError;
  }
  throw new Error('expected a rejection, the webhook verified');
}

describe('Standard Webhooks', () => {
  // The spec's example (standard-webhooks README / the library's tests).
  const VECTOR = {
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    timestamp: 1614265330,
    body: '{"test": 2432232314}',
    signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  };
  const NOW = new Date(1_796_000_000_000);
  const SECRET = 'whsec_' + Buffer.from('integration-hub test secret 0001').toString('base64');
  const OTHER = 'whsec_' + Buffer.from('integration-hub test secret 0002').toString('base64');
  const scheme = standardWebhooksScheme();
  const body = JSON.stringify({ type: 'contact.updated', timestamp: NOW.toISOString(), data: { id: 'c_1' } });

  function signed(options: { secret?: string; at?: Date; id?: string; payload?: string } = {}): WebhookRequest {
    const at = options.at ?? NOW;
    const id = options.id ?? 'msg_1';
    const payload = options.payload ?? body;
    return {
      headers: {
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': new Webhook(options.secret ?? SECRET).sign(id, at, payload),
      },
      body: payload,
    };
  }

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
  });
  afterEach(() => vi.useRealTimers());

  it("computes the spec's known-answer signature and verifies it (the body has no type: refused as an event, not as a signature)", () => {
    vi.setSystemTime(VECTOR.timestamp * 1000);
    const now = new Date(VECTOR.timestamp * 1000);
    expect(new Webhook(VECTOR.secret).sign(VECTOR.id, now, VECTOR.body)).toBe(VECTOR.signature);
    const request = { headers: { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp), 'webhook-signature': VECTOR.signature }, body: VECTOR.body };
    expect(rejection(scheme, request, [VECTOR.secret], now).reason).toBe('missing_event_fields');
    expect(rejection(scheme, { ...request, headers: { ...request.headers, 'webhook-signature': 'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=' } }, [VECTOR.secret], now).reason).toBe('bad_signature');
  });

  it('verifies a valid webhook: id from the header, type from the body', () => {
    expect(scheme.verify(signed(), [SECRET], NOW)).toMatchObject({ id: 'msg_1', type: 'contact.updated', signedAt: new Date(Math.floor(NOW.getTime() / 1000) * 1000) });
  });

  it('refuses a wrong key, a tampered body and a signature moved to another id', () => {
    expect(rejection(scheme, signed({ secret: OTHER }), [SECRET], NOW)).toMatchObject({ reason: 'bad_signature', status: 401 });
    const tampered = signed();
    expect(rejection(scheme, { ...tampered, body: tampered.body.replace('c_1', 'c_2') }, [SECRET], NOW).reason).toBe('bad_signature');
    const moved = signed();
    expect(rejection(scheme, { ...moved, headers: { ...moved.headers, 'webhook-id': 'msg_2' } }, [SECRET], NOW).reason).toBe('bad_signature');
  });

  it('refuses missing headers, naming them', () => {
    for (const header of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const request = signed();
      const error = rejection(scheme, { ...request, headers: { ...request.headers, [header]: undefined } }, [SECRET], NOW);
      expect(error).toMatchObject({ reason: 'missing_headers', status: 400 });
      expect(error.message).toContain(header);
    }
  });

  it('refuses a timestamp too old or too far in the future (5 minutes either way), and one that is not a number', () => {
    const old = new Date(NOW.getTime() - 301_000);
    const future = new Date(NOW.getTime() + 301_000);
    expect(rejection(scheme, signed({ at: old }), [SECRET], NOW)).toMatchObject({ reason: 'timestamp_out_of_tolerance', status: 401 });
    expect(rejection(scheme, signed({ at: future }), [SECRET], NOW).message).toContain('in the future');
    expect(scheme.verify(signed({ at: new Date(NOW.getTime() - 299_000) }), [SECRET], NOW).id).toBe('msg_1');
    const request = signed();
    expect(rejection(scheme, { ...request, headers: { ...request.headers, 'webhook-timestamp': 'soon' } }, [SECRET], NOW).reason).toBe('bad_timestamp');
    expect(rejection(standardWebhooksScheme({ toleranceSeconds: 60 }), signed({ at: new Date(NOW.getTime() - 61_000) }), [SECRET], NOW).reason).toBe('timestamp_out_of_tolerance');
    expect(() => standardWebhooksScheme({ toleranceSeconds: 301 })).toThrow(RangeError);
  });

  it('accepts a header with several signatures when one matches, whatever their order and versions', () => {
    const request = signed();
    const valid = request.headers['webhook-signature']!;
    const wrong = new Webhook(OTHER).sign('msg_1', NOW, body);
    for (const signatures of [`${wrong} ${valid}`, `${valid} ${wrong}`, `v2,abc ${valid}`]) {
      expect(scheme.verify({ ...request, headers: { ...request.headers, 'webhook-signature': signatures } }, [SECRET], NOW).id).toBe('msg_1');
    }
    expect(rejection(scheme, { ...request, headers: { ...request.headers, 'webhook-signature': `${wrong} v2,abc` } }, [SECRET], NOW).reason).toBe('bad_signature');
  });

  it('accepts both keys during a rotation, and only the new one after it', () => {
    expect(scheme.verify(signed({ secret: OTHER }), [SECRET, OTHER], NOW).id).toBe('msg_1');
    expect(scheme.verify(signed({ secret: SECRET }), [SECRET, OTHER], NOW).id).toBe('msg_1');
    expect(rejection(scheme, signed({ secret: OTHER }), [SECRET], NOW).reason).toBe('bad_signature');
  });

  it('refuses a signed body that is not a JSON object', () => {
    expect(rejection(scheme, signed({ payload: 'not json' }), [SECRET], NOW)).toMatchObject({ reason: 'not_json', status: 400 });
    expect(rejection(scheme, signed({ payload: '[1,2]' }), [SECRET], NOW).reason).toBe('not_json');
  });
});

describe('timestamped HMAC (t=…,v1=…)', () => {
  const NOW = new Date(1_796_000_000_000);
  const scheme = timestampedHmacScheme({ header: 'Payments-Signature' });
  const body = JSON.stringify({ id: 'evt_1', type: 'charge.refunded', data: { chargeId: 'ch_1' } });
  const request = (signature: string, payload = body): WebhookRequest => ({ headers: { 'payments-signature': signature }, body: payload });

  it('verifies a valid signature, with the id and type from the body', () => {
    expect(scheme.verify(request(timestampedHmacSignature(body, 'sec-1', NOW)), ['sec-1'], NOW)).toMatchObject({ id: 'evt_1', type: 'charge.refunded' });
  });

  it('refuses a wrong key, a tampered body, a missing or malformed header, a late or early timestamp', () => {
    expect(rejection(scheme, request(timestampedHmacSignature(body, 'sec-2', NOW)), ['sec-1'], NOW).reason).toBe('bad_signature');
    expect(rejection(scheme, request(timestampedHmacSignature(body, 'sec-1', NOW), body.replace('ch_1', 'ch_2')), ['sec-1'], NOW).reason).toBe('bad_signature');
    expect(rejection(scheme, { headers: {}, body }, ['sec-1'], NOW).reason).toBe('missing_headers');
    expect(rejection(scheme, request('v1=abc'), ['sec-1'], NOW).reason).toBe('missing_headers');
    expect(rejection(scheme, request(timestampedHmacSignature(body, 'sec-1', new Date(NOW.getTime() - 301_000))), ['sec-1'], NOW).reason).toBe('timestamp_out_of_tolerance');
    expect(rejection(scheme, request(timestampedHmacSignature(body, 'sec-1', new Date(NOW.getTime() + 301_000))), ['sec-1'], NOW).reason).toBe('timestamp_out_of_tolerance');
  });

  it('accepts any of several v1 signatures and any of several secrets (rotation on either side)', () => {
    const [t, good] = timestampedHmacSignature(body, 'sec-new', NOW).split(',');
    const [, bad] = timestampedHmacSignature(body, 'sec-x', NOW).split(',');
    expect(scheme.verify(request(`${t},${bad},${good}`), ['sec-new'], NOW).id).toBe('evt_1');
    expect(scheme.verify(request(timestampedHmacSignature(body, 'sec-old', NOW)), ['sec-new', 'sec-old'], NOW).id).toBe('evt_1');
  });

  it('refuses a signed body without an id or a type', () => {
    const noType = JSON.stringify({ id: 'evt_2' });
    expect(rejection(scheme, request(timestampedHmacSignature(noType, 'sec-1', NOW), noType), ['sec-1'], NOW)).toMatchObject({ reason: 'missing_event_fields', status: 400 });
  });
});

describe('signingSecretsOf', () => {
  it('reads a list (rotation) or a single secret, and names the field when neither is usable', () => {
    expect(signingSecretsOf({ signingSecrets: ['a', 'b'] }, 'x')).toEqual(['a', 'b']);
    expect(signingSecretsOf({ signingSecret: 'a' }, 'x')).toEqual(['a']);
    expect(() => signingSecretsOf({ signingSecrets: ['a', ''] }, 'hub/payments-webhooks')).toThrow(/'hub\/payments-webhooks' needs 'signingSecrets'/);
    expect(() => signingSecretsOf({}, 'x')).toThrow(/signingSecret/);
  });
});
