/**
 * Import time of a bundle: a fresh `node` process imports it (ESM, the function's environment as deployed, fake
 * credentials, so module-scope clients and configuration run as in a Lambda init) and reports how long the
 * `import()` took. The controller and prober read their catalog from SSM at init: {@link startFakeParameterStore}
 * answers GetParametersByPath from the parameters the stage writes, over loopback.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const IMPORT_SCRIPT = `
const { pathToFileURL } = await import('node:url');
const started = performance.now();
const module = await import(pathToFileURL(process.argv[1]).href);
const ms = performance.now() - started;
if (typeof module[process.argv[2]] !== 'function') throw new Error('the bundle exports no function ' + process.argv[2]);
process.stdout.write(JSON.stringify({ ms }));
`;

/** Imports `bundlePath` in a fresh process with `environment`, checks it exports `handlerExport`; resolves to the import's milliseconds. */
export function importOnce(bundlePath: string, handlerExport: string, environment: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', IMPORT_SCRIPT, bundlePath, handlerExport],
      {
        env: {
          PATH: process.env.PATH,
          AWS_REGION: 'eu-west-1',
          AWS_DEFAULT_REGION: 'eu-west-1',
          AWS_ACCESS_KEY_ID: 'bench',
          AWS_SECRET_ACCESS_KEY: 'bench',
          AWS_LAMBDA_FUNCTION_NAME: 'coldstart-bench',
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
          ...environment,
        },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`importing ${bundlePath} failed: ${error.message}\n${stderr}`));
        try {
          resolve((JSON.parse(stdout) as { ms: number }).ms);
        } catch {
          reject(new Error(`importing ${bundlePath} printed no timing: ${stdout}\n${stderr}`));
        }
      },
    );
  });
}

/** A loopback SSM endpoint answering GetParametersByPath (recursive) from `parameters`. */
export async function startFakeParameterStore(parameters: readonly { name: string; value: string }[]): Promise<{ endpoint: string; server: Server }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const target = String(request.headers['x-amz-target'] ?? '');
      if (target !== 'AmazonSSM.GetParametersByPath') {
        response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify({ __type: 'UnknownOperationException', message: target }));
        return;
      }
      const { Path } = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { Path?: string };
      const prefix = `${(Path ?? '/').replace(/\/+$/, '')}/`;
      const found = parameters.filter((parameter) => parameter.name.startsWith(prefix)).map((p) => ({ Name: p.name, Value: p.value, Type: 'String', Version: 1 }));
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify({ Parameters: found }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
