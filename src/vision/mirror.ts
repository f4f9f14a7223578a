// Left-right flip of row-major pixels with `channels` interleaved values per pixel: the one flip behind the
// mirrored query (greyscale for ORB, RGB for the colour grid, and CHW planes for the model, whose stacked
// plane rows flip like a one-channel image).
type Pixels = Uint8Array | Float32Array;

export function mirrorRows<T extends Pixels>(data: T, width: number, channels = 1): T {
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const stride = width * channels;
  for (let row = 0; row < data.length; row += stride)
    for (let x = 0; x < width; x++) {
      const a = row + x * channels, b = row + (width - 1 - x) * channels;
      for (let c = 0; c < channels; c++) out[b + c] = data[a + c];
    }
  return out;
}
