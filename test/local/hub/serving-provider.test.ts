import { describe, expect, it } from 'vitest';
import { servingProviderOf } from '../../../local/hub/serving-provider.js';
import { PROVIDER_NAMES } from '../../../local/sandbox/index.js';

describe('servingProviderOf', () => {
  const dedicated = ['gateway', 'ledger-api'];

  it('is the dedicated provider named like the integration first', () => {
    expect(servingProviderOf({ name: 'gateway', adapter: 'ledger-api' }, dedicated)).toEqual({ name: 'gateway', generic: false });
  });

  it('else the dedicated provider named like its adapter', () => {
    expect(servingProviderOf({ name: 'gateway-eu', adapter: 'gateway' }, dedicated)).toEqual({ name: 'gateway', generic: false });
  });

  it('else the generic provider named like the integration', () => {
    expect(servingProviderOf({ name: 'helpdesk', adapter: 'helpdesk' }, dedicated)).toEqual({ name: 'helpdesk', generic: true });
  });

  it("takes the sandbox's dedicated providers by default", () => {
    const first = PROVIDER_NAMES[0]!;
    expect(servingProviderOf({ name: `${first}-second-account`, adapter: first })).toEqual({ name: first, generic: false });
  });
});
