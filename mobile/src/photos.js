// Photos taken on the street: checked to be images, resized on the phone when large, hashed
// (SHA-256, WebCrypto) and kept as blobs in IndexedDB, with whether they show people
// (`personal`, sent with the upload). A copy the server has stays while a record on the
// phone (or a form's draft) lists it; after a sync, `dropUnlisted` deletes the others —
// photos of people removed on the server (their hash left the records in the pull) among
// them. A photo still waiting to upload is never dropped.
import { Q } from '@nozbe/watermelondb'
import { kvGet, kvKeys, kvSet, photoAll, photoDel, photoGet, photoPut } from './kv.js'

// The synced tables whose records list photos (a JSON list of SHA-256 in `photos`).
export const PHOTO_TABLES = ['patrol_logs', 'cases', 'case_actions']
// kv key: {"table/id": [sha256, ...]} photos of people the server removed from a record
export const REMOVED_KEY = 'removedPhotos'

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
// `personal`: the photo shows people (the picker's box).
export async function addPhoto(file, { personal = false } = {}) {
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
    await photoPut({ sha256, blob, type: blob.type || 'image/jpeg', size: blob.size, createdAt: Date.now(), uploaded: false, personal: Boolean(personal) })
  } else if (personal && !existing.personal) {
    await photoPut({ ...existing, personal: true, flagSent: false })
  }
  return sha256
}

// The picker's box changed: the form's photos show people (or not). Only photos not yet
// sent change; the server keeps a flag once set (a dispatcher may clear it).
export async function setPersonal(hashes, personal) {
  for (const sha256 of hashes) {
    const p = await photoGet(sha256)
    if (p && !p.uploaded && Boolean(p.personal) !== Boolean(personal)) await photoPut({ ...p, personal: Boolean(personal) })
  }
}

export function photosOf(record) {
  try {
    const list = JSON.parse((record && record.photos) || '[]')
    return Array.isArray(list) ? list.filter((h) => typeof h === 'string') : []
  } catch (_) {
    return []
  }
}

// Photos listed by local records, before a pull changes them: {"table/id": [sha256]}.
export async function listedBefore(database, changes) {
  const out = {}
  for (const table of PHOTO_TABLES) {
    const c = changes && changes[table]
    if (!c) continue
    const ids = [...(c.updated || []), ...(c.created || [])].map((r) => r.id).concat(c.deleted || [])
    if (!ids.length) continue
    if (!database.collections.map[table]) continue
    // one query a table (records not on the phone yet are simply not found)
    for (const record of await database.get(table).query(Q.where('id', Q.oneOf(ids))).fetch()) {
      const had = photosOf(record._raw)
      if (had.length) out[`${table}/${record.id}`] = had
    }
  }
  return out
}

// The hashes that left each record in the pull: {"table/id": [sha256]}.
export function leftRecords(before, changes) {
  const out = {}
  for (const table of PHOTO_TABLES) {
    const c = changes && changes[table]
    if (!c) continue
    const now = new Map([...(c.updated || []), ...(c.created || [])].map((r) => [r.id, photosOf(r)]))
    for (const id of c.deleted || []) now.set(id, [])
    for (const [id, list] of now) {
      const had = before[`${table}/${id}`] || []
      const left = had.filter((h) => !list.includes(h))
      if (left.length) out[`${table}/${id}`] = left
    }
  }
  return out
}

// Note which photos the server removed (photos of people, 410): the record then shows a
// placeholder where the photo was. `removed` is a set of hashes; `left` as leftRecords.
export async function noteRemoved(left, removed) {
  if (!removed.size) return
  const notes = (await kvGet(REMOVED_KEY)) || {}
  for (const [key, hashes] of Object.entries(left)) {
    const gone = hashes.filter((h) => removed.has(h))
    if (gone.length) notes[key] = [...new Set([...(notes[key] || []), ...gone])]
  }
  await kvSet(REMOVED_KEY, notes)
}

export async function removedFrom(table, id) {
  const notes = (await kvGet(REMOVED_KEY)) || {}
  return notes[`${table}/${id}`] || []
}

// Delete every cached photo the server has that no record on the phone and no form draft
// lists any more, and those in `removed` (the server deleted them) whatever lists them.
// Photos still waiting to upload stay. Returns the hashes dropped.
export async function dropUnlisted(database, removed = new Set()) {
  const listed = new Set()
  for (const table of PHOTO_TABLES) {
    if (!database.collections.map[table]) continue
    for (const record of await database.get(table).query().fetch()) photosOf(record._raw).forEach((h) => listed.add(h))
  }
  for (const key of await kvKeys()) {
    if (typeof key !== 'string' || !key.startsWith('draft:')) continue
    const draft = await kvGet(key)
    photosOf(draft).forEach((h) => listed.add(h))
  }
  // notes of removed photos of records no longer on the phone go too
  const notes = (await kvGet(REMOVED_KEY)) || {}
  const noted = Object.keys(notes)
  if (noted.length) {
    const kept = {}
    for (const table of PHOTO_TABLES) {
      const ids = noted.filter((k) => k.startsWith(`${table}/`)).map((k) => k.slice(table.length + 1))
      if (!ids.length || !database.collections.map[table]) continue
      for (const record of await database.get(table).query(Q.where('id', Q.oneOf(ids))).fetch()) {
        kept[`${table}/${record.id}`] = notes[`${table}/${record.id}`]
      }
    }
    if (Object.keys(kept).length !== noted.length) await kvSet(REMOVED_KEY, kept)
  }
  const dropped = []
  for (const p of await photoAll()) {
    if (!p.uploaded) continue
    if (removed.has(p.sha256) || !listed.has(p.sha256)) {
      await photoDel(p.sha256)
      dropped.push(p.sha256)
    }
  }
  return dropped
}

export async function photoUrl(sha256) {
  const p = await photoGet(sha256)
  return p ? URL.createObjectURL(p.blob) : null
}
