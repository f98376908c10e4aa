/**
 * A sandbox started with given credentials (`startSandbox({ credentials })`), as the hub's secrets hold them: the
 * providers accept exactly those, rotation still works, and the mapping between a dedicated provider's credential and
 * the secret's fields (local/sandbox/hub-secrets.ts) goes both ways.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SECRET_FIELDS } from '../../../functions/runtime/auth-config.js';
import {
  credentialsOfSecret,
  DEDICATED_PROVIDER_AUTH,
  PROVIDER_NAMES,
  type Sandbox,
  SandboxConfigError,
  type SandboxOptions,
  secretOfCredentials,
  startSandbox,
} from '../../../local/sandbox/index.js';
import { basicAuth, chargeBody, crmToken, errorCode, postJson, requestCrmToken, shipmentBody } from './helpers.js';

const opened: Sandbox<string>[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

async function start<const G extends string = never>(options: SandboxOptions<G>): Promise<Sandbox<G>> {
  const s = await startSandbox<G>({ seed: 7, ...options });
  opened.push(s);
  return s;
}

const CRM = { clientId: 'hub-crm-client', clientSecret: 'hub-crm-secret' };
const PAYMENTS = { token: 'sk_live_from_the_hub_secret' };
// '+' and '%' would be mangled by form-decoding: HTTP Basic carries them as they are (RFC 7617).
const SHIPPING = { username: 'hub-shipper', password: 'p+ss%20w:rd' };
const HELPDESK = { token: 'helpdesk-token-from-secret' };

describe('sandbox started with given credentials', () => {
  it('accepts a dedicated bearer provider’s given token, held as the secret’s `token`, and rejects any other', async () => {
    const s = await start({ credentials: { payments: PAYMENTS } });
    const seeded = await start({});

    expect(s.credentials('payments')).toEqual({ secretKey: PAYMENTS.token });
    const url = `${s.providerUrl('payments')}/charges`;
    expect((await postJson(url, chargeBody(), { authorization: `Bearer ${PAYMENTS.token}` })).status).toBe(201);
    const withSeeded = await postJson(url, chargeBody(), { authorization: `Bearer ${seeded.credentials('payments').secretKey}` });
    expect(withSeeded.status).toBe(401);
    expect(await errorCode(withSeeded)).toBe('invalid_credentials');
  });

  it('issues CRM tokens for the given client credentials only', async () => {
    const s = await start({ credentials: { crm: CRM } });

    expect(s.credentials('crm')).toEqual(CRM);
    expect(await crmToken(s, CRM)).toMatch(/^crm_at_/);
    expect((await requestCrmToken(s, { ...CRM, clientSecret: 'not-the-secret' })).status).toBe(401);
  });

  it('checks HTTP Basic against the given username and password, characters as they are', async () => {
    const s = await start({ credentials: { shipping: SHIPPING } });
    const url = `${s.providerUrl('shipping')}/shipments`;

    expect((await postJson(url, shipmentBody(), { authorization: basicAuth(SHIPPING.username, SHIPPING.password) })).status).toBe(201);
    expect((await postJson(url, shipmentBody(), { authorization: basicAuth(SHIPPING.username, 'p ss w:rd') })).status).toBe(401);
  });

  it('gives a generic provider its credential as it is', async () => {
    const s = await start({ generic: [{ name: 'helpdesk', auth: 'bearer' }], credentials: { helpdesk: HELPDESK } });
    const url = `${s.providerUrl('helpdesk')}/tickets`;

    expect(s.credentials('helpdesk')).toEqual(HELPDESK);
    expect((await postJson(url, {}, { authorization: `Bearer ${HELPDESK.token}` })).status).toBe(201);
    expect((await postJson(url, {}, { authorization: 'Bearer another-token' })).status).toBe(401);
  });

  it('still rotates: the given credential stops working, the new one works, a client id and username stay', async () => {
    const s = await start({ credentials: { payments: PAYMENTS, crm: CRM, shipping: SHIPPING } });

    const rotated = s.rotateCredentials('payments');
    expect(rotated.secretKey).not.toBe(PAYMENTS.token);
    const url = `${s.providerUrl('payments')}/charges`;
    expect((await postJson(url, chargeBody(), { authorization: `Bearer ${PAYMENTS.token}` })).status).toBe(401);
    expect((await postJson(url, chargeBody(), { authorization: `Bearer ${rotated.secretKey}` })).status).toBe(201);

    expect(s.rotateCredentials('crm').clientId).toBe(CRM.clientId);
    expect((await requestCrmToken(s, CRM)).status).toBe(401);
    expect(s.rotateCredentials('shipping').username).toBe(SHIPPING.username);
  });

  it('keeps given credentials across a reset, and leaves every other provider’s seeded credentials as they were', async () => {
    const s = await start({ credentials: { payments: PAYMENTS } });
    const seeded = await start({});

    s.reset();
    expect(s.credentials('payments')).toEqual({ secretKey: PAYMENTS.token });
    for (const name of PROVIDER_NAMES.filter((provider) => provider !== 'payments')) expect(s.credentials(name)).toEqual(seeded.credentials(name));
  });

  it('refuses to start on invalid credentials, listing every problem without quoting a value', async () => {
    const failure = await startSandbox({
      generic: [{ name: 'helpdesk', auth: 'bearer' }],
      credentials: {
        payments: { secretKey: 'sk_wrong_shape' },
        shipping: { username: 'a:b', password: 'pw' },
        helpdesk: { token: 'has a space' },
        crm: { clientId: 'id' },
        billing: { token: 't' },
      },
    }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(SandboxConfigError);
    const { problems } = failure as SandboxConfigError;
    expect(problems).toEqual([
      'credentials.payments: field(s) secretKey do not belong to scheme bearer (expected token)',
      'credentials.payments: field(s) token must be non-empty strings (scheme bearer)',
      "credentials.shipping: field username must not contain ':'",
      'credentials.helpdesk: field(s) token must be printable ASCII without spaces',
      'credentials.crm: field(s) clientSecret must be non-empty strings (scheme oauth2_client_credentials)',
      expect.stringMatching(/^credentials: unknown provider "billing"/),
    ]);
    expect(problems.join('\n')).not.toMatch(/sk_wrong_shape|has a space/);
  });
});

describe('dedicated providers’ credentials as the hub’s secrets hold them', () => {
  it('maps each dedicated credential onto exactly its scheme’s secret fields', () => {
    for (const name of PROVIDER_NAMES) {
      const { scheme, secretFields } = DEDICATED_PROVIDER_AUTH[name];
      expect(Object.values(secretFields).sort(), name).toEqual([...SECRET_FIELDS[scheme]].sort());
    }
  });

  it('goes both ways: credential → secret → credential', async () => {
    const s = await start({});
    for (const name of PROVIDER_NAMES) {
      const credentials = s.credentials(name);
      expect(credentialsOfSecret(name, secretOfCredentials(name, credentials)), name).toEqual(credentials);
    }
    expect(secretOfCredentials('payments', s.credentials('payments'))).toEqual({ token: s.credentials('payments').secretKey });
  });
});
