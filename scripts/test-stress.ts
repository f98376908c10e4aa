/**
 * `npm run test:stress`: `npm test` on an overloaded machine. Six busy loops (`node -e "for(;;){}"`) run beside the
 * suite for as long as it runs — on 2 cores a load of about 7 — so a test that races wall-clock time instead of
 * controlling the clock or asserting outcomes fails here (docs/architecture.md "Tests and time"). Exits with the
 * suite's code and prints how long it took.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** Busy processes beside the suite. */
const BUSY_LOOPS = Number(process.env.STRESS_LOOPS ?? 6);

const loops = Array.from({ length: BUSY_LOOPS }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
const stopLoops = () => {
  for (const loop of loops) loop.kill('SIGKILL');
};
process.on('exit', stopLoops);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

const started = performance.now();
const suite = spawn('npm', ['test'], { stdio: 'inherit' });
suite.on('exit', (code, signal) => {
  stopLoops();
  const minutes = ((performance.now() - started) / 60_000).toFixed(1);
  console.log(`\ntest:stress: npm test ${code === 0 ? 'passed' : `failed (${signal ?? code})`} in ${minutes} min beside ${BUSY_LOOPS} busy loops`);
  process.exit(code ?? 1);
});
