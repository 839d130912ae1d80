/**
 * From bundle bytes to a running PolicyEngine: read within limits, verify the signature when a
 * key is configured, compile the module once, load the data. Also signs bundles, for
 * `regate build --signing-key` and for operators (and the demo) signing a committed bundle.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { DEFAULT_ENTRYPOINT, parseBundle, SIGNATURES, type Bundle } from './bundle.js';
import { customDetectorsOf } from './detectors.js';
import { BundleError, BundleSignatureError, BundleTooLarge } from './errors.js';
import { createEngine, type PolicyEngine } from './evaluator.js';
import { canonicalJson } from './filehash.js';
import { signaturesFile, signFiles, verifyFiles, type SignOptions, type VerifyOptions } from './signature.js';
import { DEFAULT_TAR_LIMITS, readTarGz, type TarLimits, writeTarGz } from './tar.js';

export interface LoadOptions extends Omit<VerifyOptions, 'publicKeyPem'> {
  /** Verify the bundle's signature with this PEM public key (SPKI); or give `keys`. */
  publicKeyPem?: string | undefined;
  /** Refuse unsigned bundles (default: true when a key is given). */
  requireSignature?: boolean;
  entrypoint?: string;
  limits?: TarLimits;
}

/** What an fs error code means for a bundle path, in words an operator acts on. */
function readFailure(code: string | undefined): string {
  switch (code) {
    case 'ENOENT': return 'the file does not exist';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'it is a folder, not a bundle file';
    default: return code ?? 'unreadable';
  }
}

/** Reads a bundle file within the compressed-size limit; failures are BundleErrors saying why. */
export async function readBundleFile(path: string, limits: TarLimits = DEFAULT_TAR_LIMITS): Promise<Buffer> {
  try {
    const size = (await stat(path)).size;
    if (size > limits.maxCompressedBytes) throw new BundleTooLarge(`bundle ${path} is ${size} bytes, over the ${limits.maxCompressedBytes}-byte limit`);
    return await readFile(path);
  } catch (err) {
    if (err instanceof BundleError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new BundleError(`cannot read bundle ${path}: ${readFailure(code)}${code ? ` (${code})` : ''}`, { cause: err });
  }
}

/** A content digest naming a module+data pair, for bundles whose manifest has no revision. */
export function contentRevision(wasm: Uint8Array, dataJson: Uint8Array): string {
  const h = createHash('sha256').update(wasm).update(canonicalJson('data.json', dataJson));
  return `sha256:${h.digest('hex').slice(0, 16)}`;
}

/** Reads and (when configured) verifies a bundle without compiling it. */
export async function openBundle(source: string | Uint8Array, opts: LoadOptions = {}): Promise<Bundle> {
  const limits = opts.limits ?? DEFAULT_TAR_LIMITS;
  const entries = readTarGz(typeof source === 'string' ? await readBundleFile(source, limits) : source, limits);
  // The signature is checked before anything else in the bundle is interpreted.
  if (opts.publicKeyPem !== undefined || opts.keys?.length) {
    await verifyFiles(new Map(entries.map((e) => [e.name, e.bytes])), { publicKeyPem: opts.publicKeyPem, keys: opts.keys, keyId: opts.keyId, scope: opts.scope });
  } else if (opts.requireSignature) {
    throw new BundleSignatureError('a bundle signature is required but no public key was configured to verify it');
  }
  return parseBundle(entries, opts.entrypoint ?? DEFAULT_ENTRYPOINT);
}

/** Loads a bundle (a file path or its bytes) into a PolicyEngine. */
export async function loadBundle(source: string | Uint8Array, opts: LoadOptions = {}): Promise<PolicyEngine> {
  const bundle = await openBundle(source, opts);
  const customDetectors = customDetectorsOf(bundle.data);
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(bundle.wasm);
  } catch (err) {
    throw new BundleError(`${bundle.wasmPath} is not a valid WebAssembly module: ${(err as Error).message}`, { cause: err, file: bundle.wasmPath });
  }
  const revision = bundle.manifest.revision || contentRevision(bundle.wasm, bundle.files.get('data.json') ?? new TextEncoder().encode('{}'));
  return createEngine({ module, data: bundle.data, revision, entrypoint: bundle.entrypoint, customDetectors });
}

/** Returns the bundle re-packed with a fresh `.signatures.json` covering all its other files. */
export async function signBundle(gz: Uint8Array, opts: SignOptions): Promise<Buffer> {
  const entries = readTarGz(gz).filter((e) => e.name !== SIGNATURES);
  const jws = await signFiles(entries, opts);
  return writeTarGz([signaturesFile(jws), ...entries]);
}
