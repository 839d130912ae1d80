/**
 * `regate holds list|show|approve|deny`: the approvers' console for people who live in a
 * terminal. It speaks the admin API (docs/holds.md) with the approver's own token, so the same
 * rules apply as in the web console: no self-approval, approver groups, distinct approvers.
 */
import { request } from 'undici';
import type { Argv, CommandModule } from 'yargs';
import { RegateError } from '../util/index.js';
import { UsageError } from './exit.js';
import { report } from './output.js';

/** The admin API refused a call or could not be reached; the message says which and why. */
export class AdminApiError extends RegateError {
  static override readonly code: string = 'ERR_ADMIN_API';
}

interface CommonArgs { admin: string; token?: string }
interface ListArgs extends CommonArgs { json?: boolean; state: string }
interface IdArgs extends CommonArgs { id: string; json?: boolean }
interface ApproveArgs extends IdArgs { comment: string; 'grant-minutes'?: number }
interface DenyArgs extends IdArgs { reason: string }

interface HoldView {
  id: string;
  state: string;
  requester: { sub: string; groups: string[] };
  route: string;
  method: string;
  path: string;
  summary: string;
  spec: { reason: string; approvers: string[] };
  approvals: { by: { sub: string }; comment: string }[];
  approvals_required: number;
  denial: { by: { sub: string }; reason: string } | null;
  created_at_ms: number;
  expires_at_ms: number;
  grant_id: string | null;
  /** Whether the requester's client is still held open, and when it gives up (the gateway's wait, not the hold's TTL). */
  client?: { waiting: boolean; gives_up_at_ms: number };
}

/** For a pending hold: how long its client still waits for the answer (0: gone), as the web console says it. */
function clientLeftMs(hold: HoldView, now: number): number | undefined {
  if (hold.state !== 'pending' || !hold.client) return undefined;
  return hold.client.waiting ? Math.max(0, hold.client.gives_up_at_ms - now) : 0;
}

function tokenOf(args: CommonArgs): string {
  const token = args.token ?? process.env.REGATE_TOKEN;
  if (!token) throw new UsageError('give your own token with --token or the REGATE_TOKEN environment variable');
  return token;
}

async function call(args: CommonArgs, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  let url: URL;
  try {
    url = new URL(path, args.admin.endsWith('/') ? args.admin : `${args.admin}/`);
  } catch {
    throw new UsageError(`--admin ${args.admin} is not a URL (e.g. http://127.0.0.1:9091)`);
  }
  const headers: Record<string, string> = { authorization: `Bearer ${tokenOf(args)}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await request(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new AdminApiError(`cannot reach the admin API at ${url.origin}: ${(err as { code?: string }).code ?? (err as Error).message}`);
  }
  const text = await res.body.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AdminApiError(`the admin API at ${url.origin} answered HTTP ${res.statusCode} without JSON`);
  }
  if (res.statusCode >= 400) {
    const message = (value as { message?: string }).message ?? `HTTP ${res.statusCode}`;
    throw new AdminApiError(`${method} ${url.pathname} refused (HTTP ${res.statusCode}): ${message}`);
  }
  return value;
}

function ago(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

function describe(hold: HoldView, now: number): string {
  const lines = [
    `hold      ${hold.id} (${hold.state})`,
    `requester ${hold.requester.sub} [${hold.requester.groups.join(', ')}]`,
    `request   ${hold.method} ${hold.path} on route ${hold.route}`,
    `reason    ${hold.spec.reason}`,
    `summary   ${hold.summary}`,
    `approvers ${hold.spec.approvers.join(', ')}; ${hold.approvals.length} of ${hold.approvals_required} approved` +
      (hold.approvals.length ? ` (${hold.approvals.map((a) => a.by.sub + (a.comment ? `: ${a.comment}` : '')).join('; ')})` : ''),
    `age       ${ago(now - hold.created_at_ms)}, expires in ${ago(hold.expires_at_ms - now)}`,
  ];
  const left = clientLeftMs(hold, now);
  if (left !== undefined) lines.push(`client    ${left > 0 ? `waiting, gives up in ${ago(left)}` : 'gone: an approval lets the same request through once'}`);
  if (hold.denial) lines.push(`denied    by ${hold.denial.by.sub}: ${hold.denial.reason}`);
  if (hold.grant_id) lines.push(`grant     ${hold.grant_id}`);
  return lines.join('\n') + '\n';
}

function printHold(hold: HoldView, json: boolean | undefined): void {
  report(json, describe(hold, Date.now()), { hold });
}

function withCommon<T>(y: Argv<T>): Argv<T & CommonArgs> {
  return y
    .option('admin', { type: 'string', demandOption: 'give the admin listener URL with --admin or the REGATE_ADMIN environment variable', describe: 'Admin listener URL (default $REGATE_ADMIN)', default: process.env.REGATE_ADMIN || undefined })
    .option('token', { type: 'string', describe: 'Your own bearer token (or REGATE_TOKEN)' }) as Argv<T & CommonArgs>;
}

function withId<T>(y: Argv<T>): Argv<T & IdArgs> {
  return withCommon(y)
    .positional('id', { type: 'string', demandOption: true, describe: 'Hold id' }) as unknown as Argv<T & IdArgs>;
}

const listCommand: CommandModule<object, ListArgs> = {
  command: 'list',
  describe: 'List holds you may approve or requested (pending by default)',
  builder: (y) =>
    withCommon(y)
      .option('state', { type: 'string', default: 'pending', choices: ['pending', 'approved', 'denied', 'expired', 'all'] })
      .example('$0 holds list --admin http://127.0.0.1:9091 --token "$TOKEN"', 'pending holds, one a line') as Argv<ListArgs>,
  handler: async (args) => {
    const query = args.state === 'all' ? '' : `?state=${encodeURIComponent(args.state)}`;
    const { holds } = (await call(args, 'GET', `api/holds${query}`)) as { holds: HoldView[] };
    const now = Date.now();
    const client = (left: number | undefined) => (left === undefined ? '' : left > 0 ? `client=waiting ${ago(left)}  ` : 'client=gone  ');
    const lines = holds.map((h) =>
      `${h.id}  ${h.state}  ${h.requester.sub}  ${h.method} ${h.path}  route=${h.route}  ` +
        `${h.approvals.length}/${h.approvals_required}  age=${ago(now - h.created_at_ms)}  ${client(clientLeftMs(h, now))}${h.spec.reason}`,
    );
    report(args.json, holds.length === 0 ? `no ${args.state === 'all' ? '' : `${args.state} `}holds` : lines.join('\n'), { holds });
  },
};

const showCommand: CommandModule<object, IdArgs> = {
  command: 'show <id>',
  describe: 'Show one hold in full',
  builder: (y) => withId(y),
  handler: async (args) => printHold((await call(args, 'GET', `api/holds/${encodeURIComponent(args.id)}`)) as HoldView, args.json),
};

const approveCommand: CommandModule<object, ApproveArgs> = {
  command: 'approve <id>',
  describe: 'Approve a hold (optionally as a time-boxed grant)',
  builder: (y) =>
    withId(y)
      .option('comment', { type: 'string', default: '', describe: 'Why you approve' })
      .option('grant-minutes', { type: 'number', describe: 'Also grant this identity the route for N minutes' })
      .example('$0 holds approve hold_abc --comment "ticket FR-12" --admin URL', 'approve one request') as Argv<ApproveArgs>,
  handler: async (args) => {
    const minutes = args['grant-minutes'];
    if (minutes !== undefined && !(minutes > 0)) throw new UsageError('--grant-minutes must be a positive number');
    const body = { comment: args.comment, ...(minutes === undefined ? {} : { grant_seconds: Math.round(minutes * 60) }) };
    printHold((await call(args, 'POST', `api/holds/${encodeURIComponent(args.id)}/approve`, body)) as HoldView, args.json);
  },
};

const denyCommand: CommandModule<object, DenyArgs> = {
  command: 'deny <id>',
  describe: 'Deny a hold with a reason the requester reads',
  builder: (y) =>
    withId(y).option('reason', { type: 'string', demandOption: true, describe: 'Why (shown to the requester)' }) as Argv<DenyArgs>,
  handler: async (args) =>
    printHold((await call(args, 'POST', `api/holds/${encodeURIComponent(args.id)}/deny`, { reason: args.reason })) as HoldView, args.json),
};

/** `regate holds <subcommand>`. */
export const holdsCommand: CommandModule = {
  command: 'holds',
  describe: 'List, show, approve or deny held requests (admin API)',
  builder: (y) =>
    y
      .command(listCommand)
      .command(showCommand)
      .command(approveCommand)
      .command(denyCommand)
      .demandCommand(1, 'Name a holds command: list, show, approve or deny.')
      .epilogue('REGATE_ADMIN and REGATE_TOKEN may stand in for --admin and --token (keeps the token out of `ps`).'),
  handler: () => undefined,
};
