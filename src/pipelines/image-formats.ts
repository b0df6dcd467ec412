/** The upload whitelist, by the name sharp's metadata gives a format, with how files of it are served. */
export const IMAGE_FORMATS = {
  jpeg: { mime: 'image/jpeg', extension: 'jpg' },
  png: { mime: 'image/png', extension: 'png' },
  webp: { mime: 'image/webp', extension: 'webp' },
  gif: { mime: 'image/gif', extension: 'gif' },
  tiff: { mime: 'image/tiff', extension: 'tif' },
  avif: { mime: 'image/avif', extension: 'avif' },
} as const;

export type ImageFormat = keyof typeof IMAGE_FORMATS;

/**
 * sharp names AVIF "heif" (its container); other HEIF flavours (HEIC's HEVC) are not accepted.
 * Returns the accepted format's name, or null.
 */
export function acceptedFormat(metadata: { format?: string; compression?: string }): ImageFormat | null {
  if (metadata.format === 'heif') return metadata.compression === 'av1' ? 'avif' : null;
  return metadata.format && metadata.format in IMAGE_FORMATS ? (metadata.format as ImageFormat) : null;
}

export function formatOf(name: string | null): (typeof IMAGE_FORMATS)[ImageFormat] {
  return IMAGE_FORMATS[(name ?? 'png') as ImageFormat] ?? { mime: 'application/octet-stream', extension: 'bin' };
}
