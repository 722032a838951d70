// `make start`: the service and the gateway side by side, on their defaults.
// SIGTERM/SIGINT go to both; each drains and exits 0. If either stops on its
// own, the other is stopped too and the exit code is passed on.
import { spawn } from 'node:child_process';

const procs = [
  spawn(process.execPath, ['dist/src/main.js'], { stdio: 'inherit' }),
  spawn(process.execPath, ['dist/gateway/main.js'], { stdio: 'inherit' }),
];
let exitCode = 0;
let stopping = false;
let left = procs.length;

const stopAll = (signal) => {
  if (stopping) return;
  stopping = true;
  for (const p of procs) if (p.exitCode === null) p.kill(signal);
};

for (const p of procs) {
  p.on('exit', (code, signal) => {
    if (code !== 0 && !stopping) exitCode = code ?? 1;
    if (code !== 0 && stopping && code !== null) exitCode = code;
    if (signal && !stopping) exitCode = 1;
    stopAll('SIGTERM');
    if (--left === 0) process.exit(exitCode);
  });
}
process.on('SIGTERM', () => stopAll('SIGTERM'));
process.on('SIGINT', () => stopAll('SIGTERM'));
