/**
 * Contender 7: the LiteLLM proxy (PyPI) with its built-in `litellm_content_filter` guardrail
 * masking Visa, Mastercard and Amex numbers on the way in and out — the LLM-gateway alternative.
 * It lives in a venv under ~/.cache/regate/bench; with BENCH_INSTALL_LITELLM=1 the harness creates
 * it (pip, pinned version), otherwise a missing venv skips the contender with the reason.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitHttp } from './contenders.js';
import { startPinned, type Started } from './proc.js';

const run = promisify(execFile);
export const LITELLM_VERSION = '1.104.0';
const venv = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'regate', 'bench', 'litellm-venv');
const bin = join(venv, 'bin', 'litellm');

async function ensureInstalled(): Promise<void> {
  if (existsSync(bin)) return;
  if (process.env.BENCH_INSTALL_LITELLM !== '1') {
    throw new Error(`LiteLLM is not installed at ${venv}; set BENCH_INSTALL_LITELLM=1 to pip-install litellm[proxy]==${LITELLM_VERSION} there`);
  }
  mkdirSync(join(venv, '..'), { recursive: true });
  process.stdout.write(`  installing litellm[proxy]==${LITELLM_VERSION} into ${venv} (several minutes)...\n`);
  await run('python3', ['-m', 'venv', venv]);
  await run(join(venv, 'bin', 'pip'), ['install', '-q', `litellm[proxy]==${LITELLM_VERSION}`], { maxBuffer: 64 << 20 });
}

/** Starts the proxy; its master key (it refuses to run without one) is the bearer clients send. */
export async function startLiteLlm(upstream: string, cpus: string): Promise<{ base: string; auth: string; proc: Started; cleanup(): void }> {
  await ensureInstalled();
  const port = await freePort();
  const masterKey = `sk-${randomBytes(32).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'regate-bench-litellm-'));
  const cards = ['visa', 'mastercard', 'amex'].map((p) => `        - { pattern_type: prebuilt, pattern_name: ${p}, action: MASK }`).join('\n');
  const guard = (name: string, mode: string) => `  - guardrail_name: ${name}
    litellm_params:
      guardrail: litellm_content_filter
      mode: ${mode}
      default_on: true
      patterns:
${cards}`;
  writeFileSync(join(dir, 'config.yaml'), `model_list:
  - model_name: demo
    litellm_params: { model: openai/demo, api_base: "${upstream}/v1", api_key: bench-upstream-secret }
guardrails:
${guard('cards-in', 'pre_call')}
${guard('cards-out', 'post_call')}
litellm_settings: { drop_params: true, telemetry: false }
general_settings: { master_key: ${masterKey} }
`);
  const proc = await startPinned(cpus, bin, ['--config', join(dir, 'config.yaml'), '--host', '127.0.0.1', '--port', String(port), '--num_workers', '1'], {
    readyPort: port,
    env: { LITELLM_LOG: 'ERROR', LITELLM_TELEMETRY: 'False', NO_DOCS: 'True' },
  });
  try {
    await waitHttp(`http://127.0.0.1:${port}/health/liveliness`, 120_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { base: `http://127.0.0.1:${port}`, auth: `Bearer ${masterKey}`, proc, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
