/**
 * The builtins regate's host provides to policy modules, beyond those OPA's Wasm runtime implements
 * natively. They come from `@open-policy-agent/opa-wasm`'s JavaScript implementations; the build's
 * capabilities file admits exactly these plus the native set, so a policy that calls anything else
 * fails at `regate build`, not at request time.
 */
export const HOST_BUILTINS: readonly string[] = ['sprintf'];
