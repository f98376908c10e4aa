import { describe, expect, it } from 'vitest';
import { baseUrlProblem } from '../../../functions/runtime/base-url.js';

describe('the base URL rule', () => {
  it.each(['https://api.crm.example.com/v1', 'https://10.0.0.5:8443', 'http://127.0.0.1:4100/crm', 'http://localhost:4000', 'http://[::1]:9000/x'])('accepts %s', (url) => {
    expect(baseUrlProblem(url)).toBeUndefined();
  });

  it('refuses plain http anywhere but the loopback interface, saying why', () => {
    expect(baseUrlProblem('http://api.crm.example.com')).toMatch(/must use https: plain http is allowed on the loopback interface only/);
    expect(baseUrlProblem('http://10.0.0.5', 'BASE_URL')).toMatch(/^BASE_URL must use https/);
  });

  it.each([undefined, '', 'ftp://x.example.com', 'not a url', 'https://', 'https://a b.example.com', 42])('refuses %j', (value) => {
    expect(baseUrlProblem(value)).toMatch(/must be an https URL/);
  });
});
