// Photos taken on the street: checked to be images, resized on the phone when large, hashed
// (SHA-256, WebCrypto) and kept as blobs in IndexedDB until the server has them.
import { photoGet, photoPut } from './kv.js'

export const MAX_SIDE = 1920
const RESIZE_ABOVE_BYTES = 1.5 * 1024 * 1024

export class NotAnImage extends Error {}

export async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
}

async function decode(file) {
  try {
    return await createImageBitmap(file)
  } catch (_) {
    throw new NotAnImage(file.name)
  }
}

async function shrink(bitmap) {
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height))
  const canvas = document.createElement('canvas')
  canvas.width = Math.max(1, Math.round(bitmap.width * scale))
  canvas.height = Math.max(1, Math.round(bitmap.height * scale))
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height)
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('toBlob'))), 'image/jpeg', 0.85),
  )
}

// Store one photo from <input type=file>; returns its SHA-256. Throws NotAnImage.
export async function addPhoto(file) {
  if (file.type && !file.type.startsWith('image/')) throw new NotAnImage(file.name)
  const bitmap = await decode(file)
  let blob = file
  if (Math.max(bitmap.width, bitmap.height) > MAX_SIDE || file.size > RESIZE_ABOVE_BYTES) {
    blob = await shrink(bitmap) // the phone's original stays in its own gallery
  }
  if (bitmap.close) bitmap.close()
  const sha256 = await sha256Hex(blob)
  const existing = await photoGet(sha256)
  if (!existing) {
    await photoPut({ sha256, blob, type: blob.type || 'image/jpeg', size: blob.size, createdAt: Date.now(), uploaded: false })
  }
  return sha256
}

export async function photoUrl(sha256) {
  const p = await photoGet(sha256)
  return p ? URL.createObjectURL(p.blob) : null
}
