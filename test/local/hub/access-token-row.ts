/**
 * One row of the demo summary's access tokens table (local/hub/hub-timeline.ts AccessTokenSummary), as a run with one
 * token expiry during 28.4 s of traffic has it: shared by the summary's two renderings' tests (progress view, HTML).
 */
import type { AccessTokenSummary } from '../../../local/hub/hub-timeline.js';

export const ACCESS_TOKEN_ROW: AccessTokenSummary = {
  integration: 'newsletter',
  delivered: 73,
  lifetimeSeconds: 20,
  trafficMs: 28_400,
  instances: 4,
  refreshCalls: 2,
  refreshesGranted: 2,
  onExpiry: 1,
  maxRefreshes: 2,
  refused: 0,
  beyondOnePerLifetime: 0,
  unauthorized: 0,
};
