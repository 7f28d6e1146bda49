/** A frame's size in pixels. Named fields, never a (height, width) pair that a caller can swap. */
export interface FrameSize { width: number; height: number }

/** The size once the short side becomes `shortSide` (aspect kept, rounded), the long side capped at `maxLongSide`. */
export function resizeShortSide(frame: FrameSize, shortSide: number, maxLongSide = Infinity): FrameSize {
  const long = (length: number) => Math.min(Math.max(shortSide, maxLongSide), Math.max(shortSide, length));
  if (frame.width <= frame.height) return { width: shortSide, height: long(Math.round((frame.height * shortSide) / frame.width)) };
  return { width: long(Math.round((frame.width * shortSide) / frame.height)), height: shortSide };
}
