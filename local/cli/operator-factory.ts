/**
 * Picks the operator for a target: the deployed stage's stacks through the AWS SDK, or the local hub of `npm start` over
 * loopback (its URL from --url, else from the `.hub/hub.json` the running hub wrote in the project directory).
 */
import type { TargetOptions } from './args.js';
import { opsCatalogPath } from '../../functions/ops/ops-catalog.js';
import { coreStackName, stageStackNames } from '../../lib/hub-stage.js';
import { loadStage, type ResolvedStage } from '../../lib/stage-config.js';
import { AwsHubOperator } from './aws-hub-operator.js';
import { OperatorError } from './hub-operator.js';
import type { HubOperator } from './hub-operator.js';
import { HUB_INFO_FILE, LocalHubClient, readHubInfo } from './local-hub-http.js';

/** The CLI's operator for `target`. `projectDir` holds `.hub/hub.json`. @throws OperatorError when no local hub is recorded */
export async function createOperator(target: TargetOptions, projectDir: string = process.cwd()): Promise<HubOperator> {
  if (target.kind === 'local') {
    if (target.url !== undefined) return new LocalHubClient(target.url, { origin: 'from --url' });
    const info = readHubInfo(projectDir);
    return new LocalHubClient(info.url, { origin: `${HUB_INFO_FILE} of pid ${info.pid}, started ${info.startedAt}` });
  }
  // The stage file names the stacks (lib/hub-stage.ts): an invalid or missing one is refused with the file's problems.
  let stage: ResolvedStage;
  try {
    stage = loadStage(target.stage);
  } catch (error) {
    throw new OperatorError(`${(error as Error).message}\n(--stage names a file stages/<name>.json of this repository)`, { cause: error });
  }
  return new AwsHubOperator({
    stackNames: stageStackNames(stage),
    location: `stage ${stage.name}`,
    circuitsPath: opsCatalogPath(coreStackName(stage)),
    region: target.region,
    profile: target.profile,
  });
}
