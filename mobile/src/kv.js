// A small IndexedDB store of the app's own (outside WatermelonDB): the device token, the
// cached schema and schedules, form drafts, settings, and photos as blobs until uploaded.
const DB_NAME = 'minqing-app'
const DB_VERSION = 1
let opening = null

export class StorageFull extends Error {
  constructor(cause) {
    super('storage full')
    this.name = 'StorageFull'
    this.cause = cause
  }
}

function wrap(err) {
  if (err && (err.name === 'QuotaExceededError' || /quota/i.test(String(err.message)))) {
    return new StorageFull(err)
  }
  return err
}

export function openKv() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION)
      req.onupgradeneeded = () => {
        const db = req.result
        if (!db.objectStoreNames.contains('kv')) db.createObjectStore('kv')
        if (!db.objectStoreNames.contains('photos')) db.createObjectStore('photos', { keyPath: 'sha256' })
      }
      req.onsuccess = () => resolve(req.result)
      req.onerror = () => reject(wrap(req.error))
      req.onblocked = () => reject(new Error('IndexedDB blocked'))
    })
  }
  return opening
}

async function run(store, mode, fn) {
  const db = await openKv()
  return new Promise((resolve, reject) => {
    let result
    const tx = db.transaction(store, mode)
    const req = fn(tx.objectStore(store))
    if (req) req.onsuccess = () => (result = req.result)
    // resolve only once the transaction is durable (committed)
    tx.oncomplete = () => resolve(result)
    tx.onerror = () => reject(wrap(tx.error))
    tx.onabort = () => reject(wrap(tx.error))
  })
}

export const kvGet = (key) => run('kv', 'readonly', (s) => s.get(key))
export const kvSet = (key, value) => run('kv', 'readwrite', (s) => s.put(value, key))
export const kvDel = (key) => run('kv', 'readwrite', (s) => s.delete(key))
export const kvKeys = () => run('kv', 'readonly', (s) => s.getAllKeys())

export const photoPut = (photo) => run('photos', 'readwrite', (s) => s.put(photo))
export const photoGet = (sha256) => run('photos', 'readonly', (s) => s.get(sha256))
export const photoAll = () => run('photos', 'readonly', (s) => s.getAll())
export const photoDel = (sha256) => run('photos', 'readwrite', (s) => s.delete(sha256))

export async function wipeKv() {
  const db = await openKv()
  db.close()
  opening = null
  await new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(DB_NAME)
    req.onsuccess = req.onerror = req.onblocked = () => resolve()
  })
}
