import { describe, expect, it } from 'vitest';
import { AUTH_SCHEMES, authConfigFromEnvironment, authConfigProblems, isOAuth2, SECRET_FIELDS, toAuthConfig } from '../../../functions/runtime/auth-config.js';

describe('auth declarations', () => {
  it('accepts every parameterless scheme as a bare string, and makes it an object', () => {
    for (const scheme of AUTH_SCHEMES.filter((s) => !isOAuth2({ scheme: s } as never))) {
      expect(authConfigProblems(scheme)).toEqual([]);
      expect(toAuthConfig(scheme as never)).toEqual({ scheme });
    }
  });

  it('has the secret fields of every scheme', () => {
    expect(Object.keys(SECRET_FIELDS)).toEqual(AUTH_SCHEMES);
    expect(SECRET_FIELDS.none).toEqual([]);
  });

  it('needs a token URL (absolute or a path) for OAuth2 client credentials', () => {
    expect(authConfigProblems('oauth2_client_credentials')).toEqual([expect.stringContaining('auth.tokenUrl is required')]);
    expect(authConfigProblems({ scheme: 'oauth2_client_credentials', tokenUrl: 'ftp://x' })).toHaveLength(1);
    expect(authConfigProblems({ scheme: 'oauth2_client_credentials', tokenUrl: '/oauth/token', scope: 'files:write' })).toEqual([]);
    expect(authConfigProblems({ scheme: 'oauth2_client_credentials', tokenUrl: 'https://id.example.com/token' })).toEqual([]);
  });

  it('needs a token URL for OAuth2 refresh tokens, and checks the scopes and scopeOnRefresh', () => {
    expect(authConfigProblems('oauth2_refresh_token')).toEqual([expect.stringContaining('auth.tokenUrl is required for oauth2_refresh_token')]);
    expect(authConfigProblems({ scheme: 'oauth2_refresh_token', tokenUrl: '/oauth/token', scopes: ['contacts:write'], scopeOnRefresh: false })).toEqual([]);
    expect(authConfigProblems({ scheme: 'oauth2_refresh_token', tokenUrl: '/t', scopes: ['a b'], scopeOnRefresh: 'yes' })).toEqual([
      expect.stringContaining('auth.scopes must be a non-empty list of OAuth scope names'),
      'auth.scopeOnRefresh must be true or false',
    ]);
    expect(authConfigProblems({ scheme: 'oauth2_refresh_token', tokenUrl: '/t', scopes: [] })).toEqual([expect.stringContaining('auth.scopes must be a non-empty list')]);
    expect(authConfigProblems({ scheme: 'oauth2_refresh_token', tokenUrl: '/t', scopes: ['a', 'a'] })).toEqual(['auth.scopes must not repeat a scope']);
    expect(authConfigProblems({ scheme: 'oauth2_refresh_token', tokenUrl: '/t', scope: 'a' })).toEqual([expect.stringContaining("auth field(s) scope do not apply to scheme 'oauth2_refresh_token'")]);
  });

  it('lists every problem: unknown scheme, fields of another scheme, a bad header name', () => {
    expect(authConfigProblems('kerberos')).toEqual([expect.stringContaining("auth scheme must be one of none, bearer, api_key, basic, oauth2_client_credentials, oauth2_refresh_token (got \"kerberos\")")]);
    expect(authConfigProblems({ scheme: 'bearer', tokenUrl: '/t' })).toEqual([expect.stringContaining("auth field(s) tokenUrl do not apply to scheme 'bearer'")]);
    expect(authConfigProblems({ scheme: 'api_key', headerName: 'X Key' })).toEqual([expect.stringContaining('auth.headerName must be an HTTP header name')]);
    expect(authConfigProblems(42)).toHaveLength(1);
    expect(authConfigProblems(null)).toHaveLength(1);
  });

  it('reads AUTH from the environment, naming the variable in every problem', () => {
    const problems: string[] = [];
    expect(authConfigFromEnvironment('{"scheme":"api_key","headerName":"X-Key"}', 'AUTH', problems)).toEqual({ scheme: 'api_key', headerName: 'X-Key' });
    expect(authConfigFromEnvironment('"basic"', 'AUTH', problems)).toEqual({ scheme: 'basic' });
    expect(authConfigFromEnvironment(undefined, 'AUTH', problems)).toBeUndefined();
    expect(problems).toEqual([]);
    expect(authConfigFromEnvironment('{nope', 'CRM_AUTH', problems)).toBeUndefined();
    expect(authConfigFromEnvironment('{"scheme":"digest"}', 'CRM_AUTH', problems)).toBeUndefined();
    expect(problems).toEqual([expect.stringMatching(/^CRM_AUTH must be JSON/), expect.stringMatching(/^CRM_AUTH: auth scheme must be one of/)]);
  });
});
