/** Byte offset of the image height (big-endian uint32) in a PNG: after the signature and IHDR's length, type and width. */
export const PNG_HEIGHT_OFFSET = 20;
