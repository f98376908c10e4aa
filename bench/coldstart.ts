/**
 * `npm run bench:coldstart` — bundle size and cold import time of every function a stage deploys, against a floor
 * handler that imports the same AWS SDK clients and Powertools packages and nothing else (bench/README.md).
 *
 * The bundles are CDK's own: the stage is synthesized with bundling on (support/coldstart-stage.ts), so each one is
 * built by NodejsFunction/esbuild with ServiceFunction's options, as `cdk deploy` would upload it. Each floor is built
 * by a ServiceFunction with the same options (support/coldstart-floor.ts). Import time is the median over fresh
 * `node` processes, function and floor alternating in the same run (support/coldstart-import.ts).
 * Writes bench/results/coldstart.json and prints a markdown table.
 *
 * Options (environment): COLDSTART_RUNS (9 processes per bundle, at least 7), COLDSTART_STAGE (cdk.json's stage).
 */
import { rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESM_REQUIRE_BANNER } from '../lib/constructs/service-function.js';
import { CDK_CONTEXT } from './support/coldstart-cdk.js';
import { buildFloors, floorImportsOf, floorSource } from './support/coldstart-floor.js';
import { importOnce, startFakeParameterStore } from './support/coldstart-import.js';
import { synthesizeStage } from './support/coldstart-stage.js';
import { median, round } from './support/statistics.js';
import { writeBenchResult } from './support/results.js';

const RUNS = Math.max(7, Number(process.env.COLDSTART_RUNS ?? 9));
const STAGE = process.env.COLDSTART_STAGE ?? String(CDK_CONTEXT.stage ?? 'dev');
const ROOT = fileURLToPath(new URL('..', import.meta.url));
// Inside the repository so that the floors' imports resolve from its node_modules; ignored by git.
const SCRATCH = join(ROOT, 'node_modules', '.cache', 'coldstart-bench');
process.env.CDK_DISABLE_VERSION_CHECK = '1';

const loadAverageAtStart = os.loadavg().map((load) => round(load, 2));
rmSync(SCRATCH, { recursive: true, force: true });

const started = performance.now();
const stage = synthesizeStage(STAGE, join(SCRATCH, 'stage.out'));
const floors = await Promise.all(
  stage.functions.map(async (f) => {
    const imports = await floorImportsOf(f.fn.entry, ROOT);
    const { banner, ...bundling } = f.fn.bundling;
    // ServiceFunction adds the ESM banner itself; pass on only what the function had besides it.
    const extraBanner = banner?.replace(ESM_REQUIRE_BANNER, '').trim();
    return { name: f.name, imports, source: floorSource(imports), fn: f.fn, bundling: { ...bundling, ...(extraBanner ? { banner: extraBanner } : {}) } };
  }),
);
const floorBundles = buildFloors(floors, join(SCRATCH, 'floors'), join(SCRATCH, 'floors.out'));
console.error(`built ${stage.functions.length} functions and their floors in ${Math.round((performance.now() - started) / 1000)} s; importing each ${RUNS} times`);

const ssm = await startFakeParameterStore(stage.parameters);
const timings = new Map<string, { fn: number[]; floor: number[] }>(stage.functions.map((f) => [f.name, { fn: [], floor: [] }]));
try {
  for (let run = 0; run < RUNS; run++) {
    for (const f of stage.functions) {
      const environment = { ...f.environment, SSM_ENDPOINT: ssm.endpoint };
      const floorPath = floorBundles.get(f.name)!;
      const sides = [
        async () => timings.get(f.name)!.fn.push(await importOnce(f.bundlePath, f.handlerExport, environment)),
        async () => timings.get(f.name)!.floor.push(await importOnce(floorPath, 'handler', environment)),
      ];
      // Alternate which side goes first, so neither always gets the warmer disk cache.
      for (const side of run % 2 === 0 ? sides : sides.reverse()) await side();
    }
  }
} finally {
  ssm.server.close();
}

const functions = stage.functions.map((f) => {
  const t = timings.get(f.name)!;
  const floorPath = floorBundles.get(f.name)!;
  const bytes = statSync(f.bundlePath).size;
  const floorBytes = statSync(floorPath).size;
  const importMs = round(median(t.fn), 1);
  const floorImportMs = round(median(t.floor), 1);
  const floor = floors.find((candidate) => candidate.name === f.name)!;
  return {
    name: f.name,
    entry: relative(ROOT, f.fn.entry),
    bytes,
    importMs,
    floorBytes,
    floorImportMs,
    bytesRatio: round(bytes / floorBytes, 2),
    importRatio: round(importMs / floorImportMs, 2),
    importMsRuns: t.fn.map((ms) => round(ms, 1)),
    floorImportMsRuns: t.floor.map((ms) => round(ms, 1)),
    floorImports: [...floor.imports.keys()].sort(),
  };
});

const firstBundling = stage.functions[0]?.fn.bundling;
// NodejsFunction's rule: explicit externals, else none when the SDK is bundled, else the runtime's SDK.
const externalModules = firstBundling?.externalModules ?? (firstBundling?.bundleAwsSDK ? [] : ['@aws-sdk/*']);
const result = {
  generatedAt: new Date().toISOString(),
  node: process.version,
  platform: `${process.platform}/${process.arch}`,
  cpus: os.cpus().length,
  loadAverageAtStart,
  stage: STAGE,
  runs: RUNS,
  bundling: { externalModules, minify: firstBundling?.minify },
  targets: { bytesRatio: 1.25, importRatio: 1.25 },
  functions,
};
writeBenchResult('coldstart.json', result);

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
console.log(`\nCold start, stage ${STAGE}, ${RUNS} fresh processes per bundle, Node ${process.version}, external: ${JSON.stringify(result.bundling.externalModules)}\n`);
console.log('| function | bytes | floor bytes | × floor | import ms | floor import ms | × floor |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const f of functions) {
  console.log(`| ${f.name} | ${kb(f.bytes)} | ${kb(f.floorBytes)} | ${f.bytesRatio.toFixed(2)} | ${f.importMs.toFixed(1)} | ${f.floorImportMs.toFixed(1)} | ${f.importRatio.toFixed(2)} |`);
}
console.log('\nbench/results/coldstart.json written');


