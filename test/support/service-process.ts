/**
 * The service as operators run it: `src/main.ts` in a child process of its own (through tsx), configured only by its
 * environment, so a test can SIGKILL it mid-job and start it again, or run several nodes side by side.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

const ROOT = path.resolve(__dirname, '../..');

export interface ServiceProcess {
  /** http://127.0.0.1:port once it listens. */
  baseUrl: string;
  pid: number;
  /** The JSON log lines it wrote so far (parsed). */
  logs: Record<string, any>[];
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<number | string>;
  /** Sends a signal; with SIGKILL nothing of the service runs any more (no shutdown hook). */
  kill(signal: NodeJS.Signals): Promise<number | string>;
}

/**
 * Starts `src/main.ts` with `env` (on top of a clean environment: PATH only) and resolves when it logs that it listens
 * (so LOG_LEVEL must let info through).
 * Rejects with its last log lines when it exits or stays silent for `timeoutMs`.
 */
export async function startServiceProcess(env: Record<string, string>, opts: { timeoutMs?: number; name?: string } = {}): Promise<ServiceProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    // No inherited configuration: every key the service reads comes from the test.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TMPDIR: process.env.TMPDIR ?? '', LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, any>[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  readline.createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${opts.name ?? 'service'} did not start within ${opts.timeoutMs ?? 60_000} ms:\n${tail()}`)), opts.timeoutMs ?? 60_000);
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, any>;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      logs.push(entry);
      if (typeof entry.address === 'string' && typeof entry.msg === 'string' && entry.msg.startsWith('Countersign listening')) {
        clearTimeout(timer);
        resolve(entry.address);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${opts.name ?? 'service'} exited (${code}) before listening:\n${tail()}`));
    });
  });
  const tail = () => [...logs.slice(-10).map((l) => JSON.stringify(l)), ...stderr.slice(-10)].join('\n');
  let address: string;
  try {
    address = await listening;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    baseUrl: address.replace('0.0.0.0', '127.0.0.1'),
    pid: child.pid!,
    logs,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
