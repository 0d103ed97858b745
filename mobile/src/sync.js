// Sync with the server: photos first (HEAD, then PUT by SHA-256), then WatermelonDB's
// synchronize() against /api/v1/sync/pull and /push — the same protocol as any device.
// Runs on start, on `online`, every few minutes, and soon after each new record; failures
// back off with jitter; a 409 (records changed meanwhile) pulls and pushes again.
// After a sync the phone drops its copies of photos no record lists any more; a photo whose
// hash left a record in a pull and that the server answers 410 (a photo of people removed
// under retention) is dropped whatever lists it, and the record shows a placeholder.
import { synchronize } from '@nozbe/watermelondb/sync'
import { flush, pending } from './db.js'
import { kvGet, kvSet, photoGet, photoPut } from './kv.js'
import { dropUnlisted, leftRecords, listedBefore, noteRemoved, photosOf } from './photos.js'

export const PUSH_TABLES = ['patrols', 'patrol_logs', 'cases', 'case_actions']
export const APP_VERSION = 'minqing-app-1'
const TIMEOUT_MS = 30000
const PERIOD_MS = 3 * 60 * 1000
const BACKOFF_BASE_MS = 5000
const BACKOFF_MAX_MS = 10 * 60 * 1000
const MAX_CONFLICT_RETRIES = 3

export class HttpError extends Error {
  constructor(status, body, what) {
    const msg = body && typeof body === 'object' ? body.message : String(body || '').slice(0, 120)
    super(`${what}: HTTP ${status}${msg ? ' ' + msg : ''}`)
    this.status = status
    this.body = body && typeof body === 'object' ? body : null
    this.code = this.body && this.body.code
    this.messageZh = this.body && this.body.message_zh
  }
}

export class NetworkError extends Error {}

export async function api(token, method, path, { json, body, headers, what } = {}) {
  const h = { Accept: 'application/json', 'X-App-Version': APP_VERSION, ...(headers || {}) }
  if (token) h.Authorization = `Bearer ${token}`
  if (json !== undefined) h['Content-Type'] = 'application/json'
  let response
  try {
    response = await fetch(path, {
      method,
      headers: h,
      body: json !== undefined ? JSON.stringify(json) : body,
      cache: 'no-store',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    })
  } catch (err) {
    throw new NetworkError(`${what || path}: ${err && err.message}`)
  }
  const date = response.headers.get('Date')
  if (date) clockSkewMs = Date.parse(date) - Date.now()
  if (method === 'HEAD') return { status: response.status }
  const text = await response.text()
  const isJson = (response.headers.get('Content-Type') || '').includes('json')
  let parsed = null
  if (isJson) {
    try {
      parsed = text ? JSON.parse(text) : null
    } catch (_) {
      parsed = null
    }
  }
  if (!response.ok) throw new HttpError(response.status, parsed || text, what || path)
  // A proxy's or captive portal's HTML page is not an answer: keep the data, try later.
  if (!isJson) throw new HttpError(response.status, 'not JSON', what || path)
  return parsed
}

export let clockSkewMs = 0

export class SyncEngine {
  constructor({ database, token, onChange }) {
    this.database = database
    this.token = token
    this.onChange = onChange || (() => {})
    this.state = { phase: 'idle', lastOkAt: null, error: null, errorZh: null, pendingRecords: 0, pendingPhotos: 0 }
    this.running = null
    this.again = false
    this.failures = 0
    this.timer = null
    this.stopped = false
    this.left = {} // {"table/id": [sha256]} hashes that left records in this run's pulls
  }

  async start() {
    this.state.lastOkAt = (await kvGet('lastSyncAt')) || null
    if (await kvGet('revoked')) this.state.phase = 'revoked'
    await this.count()
    window.addEventListener('online', () => this.run('online'))
    if (this.state.phase !== 'revoked') this.run('start')
  }

  set(patch) {
    Object.assign(this.state, patch)
    this.onChange(this.state)
  }

  async count() {
    const mine = await pending(this.database, PUSH_TABLES)
    let records = 0
    const hashes = new Set()
    for (const rows of Object.values(mine)) {
      records += rows.length
      for (const r of rows) photosOf(r).forEach((h) => hashes.add(h))
    }
    let photos = 0
    for (const h of hashes) {
      const p = await photoGet(h)
      if (p && !p.uploaded) photos += 1
    }
    this.set({ pendingRecords: records, pendingPhotos: photos })
    return mine
  }

  schedule(ms) {
    clearTimeout(this.timer)
    if (this.stopped || this.state.phase === 'revoked') return
    this.timer = setTimeout(() => this.run('timer'), ms)
  }

  soon() {
    this.count().catch(() => {})
    this.schedule(800)
  }

  run(reason) {
    if (this.stopped || this.state.phase === 'revoked') return Promise.resolve()
    if (this.running) {
      this.again = true
      return this.running
    }
    this.running = this._run(reason).finally(() => {
      this.running = null
      if (this.again) {
        this.again = false
        this.run('again')
      }
    })
    return this.running
  }

  async _run() {
    clearTimeout(this.timer)
    this.set({ phase: 'syncing', error: null, errorZh: null })
    try {
      const mine = await this.count()
      await this.uploadPhotos(mine)
      for (let attempt = 0; ; attempt += 1) {
        try {
          // After a push, pull once more: what the server made of it (a case's number, a
          // refusal in sync_rejections) shows at once, not at the next sync.
          if ((await this.synchronizeOnce()) && attempt <= MAX_CONFLICT_RETRIES) await this.synchronizeOnce()
          break
        } catch (err) {
          if (err instanceof HttpError && err.status === 409 && attempt < MAX_CONFLICT_RETRIES) continue
          throw err
        }
      }
      await flush(this.database)
      await this.dropPhotos().catch(() => {}) // tidying: never fails a sync
      const now = Date.now()
      await kvSet('lastSyncAt', now)
      this.failures = 0
      await this.refreshExtras()
      await this.count()
      this.set({ phase: 'ok', lastOkAt: now })
      this.schedule(PERIOD_MS)
    } catch (err) {
      await this.failed(err)
    }
  }

  async failed(err) {
    if (err instanceof HttpError && err.status === 401) {
      // A revoked (or otherwise dead) token: say so plainly and stop syncing for good.
      await kvSet('revoked', { code: err.code || 'invalid_token', at: Date.now() })
      this.set({ phase: 'revoked', error: err.message, errorZh: err.messageZh })
      return
    }
    this.failures += 1
    const offline = err instanceof NetworkError || !navigator.onLine
    this.set({
      phase: offline ? 'offline' : 'failed',
      error: err && err.message ? err.message : String(err),
      errorZh: err instanceof HttpError ? err.messageZh || `服务器错误 ${err.status}` : null,
    })
    const delay = Math.min(BACKOFF_BASE_MS * 2 ** (this.failures - 1), BACKOFF_MAX_MS)
    this.schedule(delay * (0.5 + Math.random())) // jitter: phones do not retry in step
    try {
      await this.count()
    } catch (_) {
      // counting is only for the display
    }
  }

  // Drop cached photos no record lists any more, and those the server removed (410).
  async dropPhotos() {
    const left = this.left
    this.left = {}
    const removed = new Set()
    for (const sha of new Set(Object.values(left).flat())) {
      try {
        const head = await api(this.token, 'HEAD', `/api/v1/sync/attachments/${sha}`, { what: 'photo' })
        if (head.status === 410) removed.add(sha)
      } catch (_) {
        // offline again: the unlisted copies go anyway, the placeholder waits for a later pull
      }
    }
    await noteRemoved(left, removed)
    return dropUnlisted(this.database, removed)
  }

  async uploadPhotos(mine) {
    const hashes = new Set()
    for (const rows of Object.values(mine)) for (const r of rows) photosOf(r).forEach((h) => hashes.add(h))
    for (const sha of hashes) {
      const photo = await photoGet(sha)
      if (!photo || photo.uploaded) continue
      const head = await api(this.token, 'HEAD', `/api/v1/sync/attachments/${sha}`, { what: 'photo' })
      if (head.status === 401) throw new HttpError(401, null, 'photo')
      if (head.status !== 200) {
        const flag = photo.personal ? '?personal=true' : ''
        await api(this.token, 'PUT', `/api/v1/sync/attachments/${sha}${flag}`, {
          body: photo.blob,
          headers: { 'Content-Type': 'application/octet-stream' },
          what: 'photo',
        })
      } else if (photo.personal) {
        // stored already (the same bytes): say it shows people; refused if not ours, fine
        try {
          await api(this.token, 'PATCH', `/api/v1/attachments/${sha}`, { json: { personal: true }, what: 'photo' })
        } catch (err) {
          if (!(err instanceof HttpError) || err.status === 401) throw err
        }
      }
      await photoPut({ ...photo, uploaded: true })
    }
  }

  // One synchronize(); true when it pushed something.
  async synchronizeOnce() {
    const token = this.token
    let pushed = false
    await synchronize({
      database: this.database,
      pullChanges: async ({ lastPulledAt, schemaVersion, migration }) => {
        const q = new URLSearchParams({
          last_pulled_at: lastPulledAt == null ? 'null' : String(lastPulledAt),
          schema_version: String(schemaVersion),
          migration: JSON.stringify(migration == null ? null : migration),
        })
        const answer = await api(token, 'GET', `/api/v1/sync/pull?${q}`, { what: 'pull' })
        // what the records listed before this pull applies: hashes that leave them are dropped
        const before = await listedBefore(this.database, answer && answer.changes)
        for (const [key, hashes] of Object.entries(leftRecords(before, answer && answer.changes))) {
          this.left[key] = [...new Set([...(this.left[key] || []), ...hashes])]
        }
        return answer
      },
      pushChanges: async ({ changes, lastPulledAt }) => {
        pushed = true
        const answer = await api(token, 'POST', `/api/v1/sync/push?last_pulled_at=${lastPulledAt}`, {
          json: changes,
          what: 'push',
        })
        return answer || {}
      },
      migrationsEnabledAtVersion: 1,
    })
    return pushed
  }

  async refreshExtras() {
    // Not part of the sync protocol: the collector's schedules, for the day's slots.
    try {
      const schedules = await api(this.token, 'GET', '/api/v1/patrol-schedules', { what: 'schedules' })
      await kvSet('schedules', schedules)
      const me = await api(this.token, 'GET', '/api/v1/me', { what: 'me' })
      await kvSet('me', me)
    } catch (_) {
      // the day's slots stay as last fetched
    }
  }
}
