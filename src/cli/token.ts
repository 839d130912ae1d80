/**
 * `regate token`: mint a token from the dev identity provider (the one `regate demo` trusts), so a
 * developer can call the demo gateway as any subject and groups without a real IdP.
 */
import type { CommandModule } from 'yargs';
import { DEV_AUDIENCE, ensureDevIdentity } from '../identity/index.js';
import { UsageError } from './exit.js';
import { report } from './output.js';

interface Args { sub: string; groups: string; state: string; ttl: string; aud: string[]; json?: boolean }

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Seconds in a duration like `90`, `90s`, `10m`, `2h`, `1d`; `flag` names the option in the error. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  const seconds = m ? Number(m[1]) * UNIT_SECONDS[m[2] || 's']! : NaN;
  if (!(seconds > 0 && Number.isSafeInteger(seconds))) {
    throw new UsageError(`${flag} must be a positive duration such as 90s, 10m, 2h or 1d; got ${JSON.stringify(text)}`);
  }
  return seconds;
}

export const tokenCommand: CommandModule<object, Args> = {
  command: 'token',
  describe: 'Print a token from the dev identity provider (for the demo gateway)',
  builder: (y) =>
    y
      .option('sub', { type: 'string', demandOption: true, describe: 'Subject (the caller\'s name)' })
      .option('groups', { type: 'string', default: '', describe: 'Comma-separated groups, e.g. fraud-analysts,pci-approvers' })
      .option('state', { type: 'string', default: '.regate', describe: 'State directory holding the dev IdP key (created on first use)' })
      .option('ttl', { type: 'string', default: '10m', describe: 'Lifetime: seconds or a number with s, m, h or d' })
      .option('aud', { type: 'string', array: true, default: [DEV_AUDIENCE], describe: 'Audience (repeat for several)' })
      .example('$0 token --sub alice --groups fraud-analysts', 'a 10-minute token for alice')
      .example('TOKEN=$($0 token --sub bob --groups pci-approvers --ttl 1h)', 'keep an approver\'s token in a shell variable')
      .example('curl -H "Authorization: Bearer $($0 token --sub alice --groups fraud-analysts)" http://127.0.0.1:8080/v1/transactions', 'call the demo gateway')
      .epilogue('The token is signed with the key under <state>/dev-idp/, which `regate demo --state <state>` trusts. Dev use only.'),
  handler: async (args) => {
    const ttlSeconds = parseDuration(args.ttl, '--ttl');
    if (args.sub.trim() === '') throw new UsageError('--sub must name a subject');
    const groups = args.groups.split(',').map((g) => g.trim()).filter((g) => g !== '');
    const dev = await ensureDevIdentity(args.state);
    const audience = args.aud.length === 1 ? args.aud[0]! : args.aud;
    const expiresAt = new Date(Math.floor(Date.now() / 1000 + ttlSeconds) * 1000).toISOString();
    const token = await dev.sign({ sub: args.sub, groups, ttlSeconds, audience });
    report(args.json, token, { token, sub: args.sub, groups, audience: args.aud, expires_at: expiresAt });
  },
};
