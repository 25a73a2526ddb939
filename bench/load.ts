// The load generator: the same signed Archivus `document.processed` event for
// every contender, each request with a fresh id (Relay answers a repeated id
// with `duplicate`, which would measure the wrong path). autocannon runs in
// this process; wrk, when it is on PATH, runs as a child with a Lua script
// that signs in LuaJIT, so the generator costs the server less CPU.

import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createHistogram } from 'node:perf_hooks';

export const SECRET = 'bench-secret-0123456789';
export const PATH = '/webhooks/archivus';

// ~400 bytes with the id, like the provider's example event. The id goes
// between PREFIX and SUFFIX so the wrk script can build the same bytes.
const PREFIX = '{"id":"';
const SUFFIX =
  '","type":"document.processed","timestamp":"2025-12-16T10:30:00Z","data":{"document_id":"doc_abc123",' +
  '"document":{"id":"doc_abc123","filename":"contract.pdf","mime_type":"application/pdf",' +
  '"size_bytes":482113,"page_count":12,"status":"completed","ai_status":"completed",' +
  '"ai_summary":"A services agreement between Acme and Globex.","ai_tags":["contract","legal"]}}}';

export function eventBody(id: string): string {
  return PREFIX + id + SUFFIX;
}

export function sign(body: string): string {
  return `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
}

// Unique across the whole bench run, fixed width so every body has one size.
const runTag = randomBytes(4).toString('hex');
let invocations = 0;

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  tool: 'autocannon' | 'wrk';
  /** Every event id of this load starts with `evt_<tag>_`. */
  tag: string;
  seconds: number;
  /** 2xx answers; only these count as throughput. */
  ok: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  /** Non-2xx answers plus connection errors and timeouts. */
  errors: number;
  /** Answers by status, when the tool reports them. */
  statuses: Record<string, number>;
}

export type LoaderName = 'autocannon' | 'wrk';

export function wrkAvailable(): boolean {
  return spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
}

export function runLoad(tool: LoaderName, opts: LoadOptions, scratch: string): Promise<LoadResult> {
  const tag = `${runTag}${(invocations++).toString(36).padStart(3, '0')}`;
  return tool === 'wrk' ? runWrk(opts, tag, scratch) : runAutocannon(opts, tag);
}

// autocannon ships no types; this is the part of its API used here.
interface Autocannon {
  (opts: Record<string, unknown>): PromiseLike<AutocannonResult> & {
    on(event: 'response', cb: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  };
}
interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
}

async function runAutocannon(opts: LoadOptions, tag: string): Promise<LoadResult> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  let n = 0;
  // autocannon's own histogram keeps whole milliseconds; this one keeps µs.
  const hist = createHistogram();
  const instance = autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.seconds,
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        method: 'POST',
        path: PATH,
        setupRequest(req: { body?: string; headers: Record<string, string> }) {
          const body = eventBody(`evt_${tag}_${(n++).toString().padStart(10, '0')}`);
          req.body = body;
          req.headers['x-archivus-signature'] = sign(body);
          return req;
        },
      },
    ],
  });
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) hist.record(Math.max(1, Math.round(ms * 1000)));
  });
  const r = await instance;
  const statuses = Object.fromEntries(Object.entries(r.statusCodeStats).map(([k, v]) => [k, v.count]));
  const ok = Object.entries(statuses).reduce((sum, [k, v]) => (k.startsWith('2') ? sum + v : sum), 0);
  return {
    tool: 'autocannon',
    tag,
    seconds: r.duration,
    ok,
    rps: ok / r.duration,
    p50ms: hist.count ? hist.percentile(50) / 1000 : NaN,
    p99ms: hist.count ? hist.percentile(99) / 1000 : NaN,
    errors: r.non2xx + r.errors,
    statuses,
  };
}

async function runWrk(opts: LoadOptions, tag: string, scratch: string): Promise<LoadResult> {
  const script = join(scratch, `wrk-${tag}.lua`);
  writeFileSync(script, wrkScript(tag));
  const threads = Math.max(1, Math.min(opts.connections, 4, Math.floor(availableParallelism() / 2)));
  const args = ['-t', String(threads), '-c', String(opts.connections), '-d', `${opts.seconds}s`, '-s', script, opts.url];
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}: ${text}`))));
  });
  const line = out.split('\n').find((l) => l.startsWith('{"wrk":'));
  if (!line) throw new Error(`wrk printed no result:\n${out}`);
  const w = JSON.parse(line) as { requests: number; us: number; connect: number; read: number; write: number; status: number; timeout: number; p50: number; p99: number };
  const seconds = w.us / 1e6;
  const ok = w.requests - w.status; // wrk counts answers >= 400 as status errors
  return {
    tool: 'wrk',
    tag,
    seconds,
    ok,
    rps: ok / seconds,
    p50ms: w.p50 / 1000,
    p99ms: w.p99 / 1000,
    errors: w.status + w.connect + w.read + w.write + w.timeout,
    statuses: {},
  };
}

// wrk's LuaJIT has no HMAC, so the script carries SHA-256 (FIPS 180-4) with
// the HMAC key pads precomputed once per thread. A wrong signature shows up
// as 401s in the warm-up, which the runner treats as fatal.
function wrkScript(tag: string): string {
  return String.raw`
local bit = require("bit")
local band, bor, bxor, bnot, rshift, lshift, ror, tobit, tohex =
  bit.band, bit.bor, bit.bxor, bit.bnot, bit.rshift, bit.lshift, bit.ror, bit.tobit, bit.tohex
local byte, char, rep = string.byte, string.char, string.rep
local K = {
0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2}
for i = 1, 64 do K[i] = tobit(K[i]) end
local IV = {0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19}
for i = 1, 8 do IV[i] = tobit(IV[i]) end
local W = {}
local function compress(H, s, off)
  for j = 0, 15 do
    local a, b, c, d = byte(s, off + j * 4 + 1, off + j * 4 + 4)
    W[j] = bor(lshift(a, 24), lshift(b, 16), lshift(c, 8), d)
  end
  for j = 16, 63 do
    local w15, w2 = W[j - 15], W[j - 2]
    local s0 = bxor(ror(w15, 7), ror(w15, 18), rshift(w15, 3))
    local s1 = bxor(ror(w2, 17), ror(w2, 19), rshift(w2, 10))
    W[j] = tobit(W[j - 16] + s0 + W[j - 7] + s1)
  end
  local a, b, c, d, e, f, g, h = H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
  for j = 0, 63 do
    local S1 = bxor(ror(e, 6), ror(e, 11), ror(e, 25))
    local ch = bxor(band(e, f), band(bnot(e), g))
    local t1 = h + S1 + ch + K[j + 1] + W[j]
    local S0 = bxor(ror(a, 2), ror(a, 13), ror(a, 22))
    local maj = bxor(band(a, b), band(a, c), band(b, c))
    h, g, f, e, d, c, b, a = g, f, e, tobit(d + t1), c, b, a, tobit(t1 + S0 + maj)
  end
  H[1], H[2], H[3], H[4] = tobit(H[1] + a), tobit(H[2] + b), tobit(H[3] + c), tobit(H[4] + d)
  H[5], H[6], H[7], H[8] = tobit(H[5] + e), tobit(H[6] + f), tobit(H[7] + g), tobit(H[8] + h)
end
-- Hash msg as if 'prelen' bytes (already folded into init) came before it.
local function sha(init, prelen, msg)
  local H = {init[1], init[2], init[3], init[4], init[5], init[6], init[7], init[8]}
  local bits = (prelen + #msg) * 8
  local p = msg .. "\128" .. rep("\0", (55 - #msg) % 64) .. "\0\0\0\0" ..
    char(band(rshift(bits, 24), 255), band(rshift(bits, 16), 255), band(rshift(bits, 8), 255), band(bits, 255))
  for off = 0, #p - 1, 64 do compress(H, p, off) end
  return H
end
local function pad(key, x)
  local t = {}
  for i = 1, 64 do t[i] = char(bxor(byte(key, i) or 0, x)) end
  local H = {IV[1], IV[2], IV[3], IV[4], IV[5], IV[6], IV[7], IV[8]}
  compress(H, table.concat(t), 0)
  return H
end
local KEY = [==[${SECRET}]==]
local IPAD, OPAD = pad(KEY, 0x36), pad(KEY, 0x5c)
local function hmac_hex(msg)
  local inner = sha(IPAD, 64, msg)
  local b = {}
  for i = 1, 8 do
    local v = inner[i]
    b[i] = char(band(rshift(v, 24), 255), band(rshift(v, 16), 255), band(rshift(v, 8), 255), band(v, 255))
  end
  local H = sha(OPAD, 64, table.concat(b))
  local hex = {}
  for i = 1, 8 do hex[i] = tohex(H[i]) end
  return table.concat(hex)
end

local PREFIX, SUFFIX = [==[${PREFIX}]==], [==[${SUFFIX}]==]
local threads, n = {}, 0
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function request()
  n = n + 1
  local body = PREFIX .. string.format("evt_${tag}_%d%09d", tid, n) .. SUFFIX
  return wrk.format("POST", "${PATH}",
    {["Content-Type"] = "application/json", ["X-Archivus-Signature"] = "sha256=" .. hmac_hex(body)}, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"wrk":1,"requests":%d,"us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p99":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;
}
