/** The formats `format: "auto"` chooses from, best first: the first one the client accepts wins. */
export const NEGOTIATED_FORMATS = ['avif', 'webp', 'jpeg'] as const;
export type NegotiatedFormat = (typeof NEGOTIATED_FORMATS)[number];

const MIME_OF: Record<NegotiatedFormat, string> = { avif: 'image/avif', webp: 'image/webp', jpeg: 'image/jpeg' };

/** One range of an Accept header and its q-value. */
interface AcceptRange {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(header: string): AcceptRange[] {
  return header.split(',').flatMap((part) => {
    const [range, ...parameters] = part.split(';').map((piece) => piece.trim());
    const [type, subtype] = range.toLowerCase().split('/');
    if (!type || !subtype) return [];
    const qParameter = parameters.find((parameter) => /^q\s*=/i.test(parameter));
    const q = qParameter === undefined ? 1 : Number(qParameter.split('=')[1].trim());
    return Number.isFinite(q) ? [{ type, subtype, q: Math.min(Math.max(q, 0), 1) }] : [];
  });
}

/**
 * The q-value a client gives `mime`, from the most specific range that matches it (RFC 9110,
 * 12.5.1): `image/webp` before `image/*` before `*\/*`; 0 when no range matches.
 */
function qualityOf(ranges: AcceptRange[], mime: string): number {
  const [type, subtype] = mime.split('/');
  const exact = ranges.find((range) => range.type === type && range.subtype === subtype);
  if (exact) return exact.q;
  const sameType = ranges.find((range) => range.type === type && range.subtype === '*');
  if (sameType) return sameType.q;
  return ranges.find((range) => range.type === '*' && range.subtype === '*')?.q ?? 0;
}

/**
 * What a preset's `format: "auto"` becomes for a request: the acceptable format of highest
 * q-value among AVIF, WebP and JPEG, in that order when they tie. AVIF and WebP must be named
 * outright: a wildcard (`*\/*`, `image/*`) says nothing about what the client decodes (browsers
 * send one for every <img>), so it only ever stands for JPEG, which every client decodes and which
 * is also the answer when nothing else is acceptable.
 */
export function negotiateFormat(accept: string | undefined): NegotiatedFormat {
  const ranges = parseAccept(accept ?? '');
  let best: { format: NegotiatedFormat; q: number } = { format: 'jpeg', q: qualityOf(ranges, MIME_OF.jpeg) };
  for (const format of ['webp', 'avif'] as const) {
    const named = ranges.some((range) => `${range.type}/${range.subtype}` === MIME_OF[format]);
    const q = named ? qualityOf(ranges, MIME_OF[format]) : 0;
    if (q > 0 && q >= best.q) best = { format, q };
  }
  return best.format;
}
