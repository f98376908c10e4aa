#!/usr/bin/env node
/**
 * The CDK app: the stacks of one stage (lib/hub-stage.ts) from its file stages/<name>.json, chosen with
 * `-c stage=<name>` (cdk.json's `stage` when absent), checked by cdk-nag's AWS Solutions pack. An invalid stage
 * file fails synth with every problem listed; an unacknowledged cdk-nag finding fails it too (CDK policy validation).
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { HubStage } from '../lib/hub-stage.js';
import { DEFAULT_STAGE, loadStage } from '../lib/stage-config.js';

const app = new App();
const requested: unknown = app.node.tryGetContext('stage');
new HubStage(app, loadStage(typeof requested === 'string' && requested.trim() !== '' ? requested.trim() : DEFAULT_STAGE));
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
