/**
 * Entry of the operator CLI: `npm run hub -- <command> [arguments] [options]` (docs/operator-cli.md).
 * Targets AWS (standard credential chain and region) unless `--local` or `--url` is given.
 */
import { runCli } from './cli.js';
import { createOperator } from './operator-factory.js';

// The SDK warns on Node < 22 about its releases after January 2027 (docs/architecture.md "Conventions": toolchain): noise above every answer in an
// operator's terminal. Clients are built after this line, which is when the SDK checks.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

process.exitCode = await runCli(process.argv.slice(2), process, (target) => createOperator(target));
