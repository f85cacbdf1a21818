// A small OTLP/HTTP metrics receiver for the tests: takes POSTs of
// ExportMetricsServiceRequest (protobuf) and decodes the fields the tests
// read with a protobuf wire-format reader of its own (no schema compiler).
// (Not a test file.)
import { createServer, type Server } from 'node:http';

type Field = { wire: number; num?: bigint; bytes?: Buffer };

/** One message's fields by number (a repeated field has several). */
function fields(buf: Buffer): Map<number, Field[]> {
  const out = new Map<number, Field[]>();
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[i++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
  };
  while (i < buf.length) {
    const tag = Number(varint());
    const wire = tag & 7;
    const f: Field = { wire };
    if (wire === 0) f.num = varint();
    else if (wire === 1) (f.bytes = buf.subarray(i, i + 8)), (i += 8);
    else if (wire === 5) (f.bytes = buf.subarray(i, i + 4)), (i += 4);
    else if (wire === 2) {
      const len = Number(varint());
      f.bytes = buf.subarray(i, i + len);
      i += len;
    } else throw new Error(`wire type ${wire}`);
    const list = out.get(tag >>> 3) ?? [];
    list.push(f);
    out.set(tag >>> 3, list);
  }
  return out;
}

const all = (m: Map<number, Field[]>, n: number) => m.get(n) ?? [];
const msgs = (m: Map<number, Field[]>, n: number) => all(m, n).map((f) => fields(f.bytes!));
const str = (m: Map<number, Field[]>, n: number) => all(m, n)[0]?.bytes?.toString('utf8') ?? '';
const f64 = (f: Field | undefined) => (f?.bytes ? f.bytes.readDoubleLE(0) : 0);
const u64 = (f: Field | undefined) => (f?.bytes ? Number(f.bytes.readBigUInt64LE(0)) : 0);
/** Packed repeated fixed64/double: the field's bytes, 8 at a time. */
const packed = (f: Field | undefined, read: (b: Buffer, o: number) => number) => {
  const out: number[] = [];
  for (let o = 0; f?.bytes && o < f.bytes.length; o += 8) out.push(read(f.bytes, o));
  return out;
};

export interface Point {
  attributes: Record<string, string>;
  /** Sum points: the value. */
  value?: number;
  /** Histogram points. */
  count?: number;
  sum?: number;
  bounds?: number[];
  counts?: number[];
}

export interface OtlpMetric {
  name: string;
  unit: string;
  kind: 'sum' | 'histogram' | 'other';
  monotonic?: boolean;
  points: Point[];
}

function attributes(kvs: Array<Map<number, Field[]>>): Record<string, string> {
  const o: Record<string, string> = {};
  for (const kv of kvs) o[str(kv, 1)] = str(msgs(kv, 2)[0] ?? new Map(), 1);
  return o;
}

/** ExportMetricsServiceRequest → its metrics (every resource and scope). */
export function decodeMetrics(body: Buffer): OtlpMetric[] {
  const out: OtlpMetric[] = [];
  for (const rm of msgs(fields(body), 1)) {
    for (const sm of msgs(rm, 2)) {
      for (const m of msgs(sm, 2)) {
        const metric: OtlpMetric = { name: str(m, 1), unit: str(m, 3), kind: 'other', points: [] };
        const sum = msgs(m, 7)[0];
        const hist = msgs(m, 9)[0];
        if (sum) {
          metric.kind = 'sum';
          metric.monotonic = all(sum, 3)[0]?.num === 1n;
          for (const p of msgs(sum, 1)) {
            const asInt = all(p, 6)[0];
            metric.points.push({ attributes: attributes(msgs(p, 7)), value: asInt ? Number(asInt.bytes!.readBigInt64LE(0)) : f64(all(p, 4)[0]) });
          }
        } else if (hist) {
          metric.kind = 'histogram';
          for (const p of msgs(hist, 1)) {
            metric.points.push({
              attributes: attributes(msgs(p, 9)),
              count: u64(all(p, 4)[0]),
              sum: f64(all(p, 5)[0]),
              counts: packed(all(p, 6)[0], (b, o) => Number(b.readBigUInt64LE(o))),
              bounds: packed(all(p, 7)[0], (b, o) => b.readDoubleLE(o)),
            });
          }
        }
        out.push(metric);
      }
    }
  }
  return out;
}

export interface Receiver {
  url: string;
  /** The last request's metrics ([] before the first). */
  latest: OtlpMetric[];
  requests: number;
  /** Content types seen. */
  contentTypes: Set<string>;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (a free port) for POST /v1/metrics. */
export async function otlpReceiver(): Promise<Receiver> {
  const r: Receiver = { url: '', latest: [], requests: 0, contentTypes: new Set(), close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.contentTypes.add(String(req.headers['content-type']));
      if (req.method === 'POST' && req.url === '/v1/metrics') {
        r.latest = decodeMetrics(Buffer.concat(chunks));
        r.requests++;
      }
      // An empty ExportMetricsServiceResponse.
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address() as { port: number };
  r.url = `http://127.0.0.1:${a.port}/v1/metrics`;
  r.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return r;
}
