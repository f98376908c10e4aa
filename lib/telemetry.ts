/**
 * Names shared by the infrastructure and the code that runs in Lambda. lib/ never imports functions/, so the
 * runtime's constants are restated here; test/lib/service-function.test.ts keeps both copies equal.
 */

/** CloudWatch namespace of every hub metric (functions/runtime/telemetry.ts METRICS_NAMESPACE). */
export const METRICS_NAMESPACE = 'IntegrationHub';

/** Powertools service name of every hub function (the `service` key of each log line and metric). */
export const SERVICE_NAME = 'integration-hub';
