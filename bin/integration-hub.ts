#!/usr/bin/env node
/**
 * The CDK app: the IntegrationHub stack from the catalog (+ context overrides such as `-c baseUrl:crm=...`),
 * checked by cdk-nag's AWS Solutions pack. An unacknowledged finding fails synth (CDK policy validation).
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { INTEGRATIONS } from '../lib/catalog.js';
import { IntegrationHubStack } from '../lib/integration-hub-stack.js';

const app = new App();
new IntegrationHubStack(app, 'IntegrationHub', { integrations: INTEGRATIONS });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
