// The field app's service worker: the whole shell of one version in one cache, so the app
// opens with no network (reload or cold start) and a new version replaces the old one whole.
// The API is never cached here: the app keeps its data in IndexedDB (WatermelonDB).
/* global __VERSION__ */
const VERSION = __VERSION__
const CACHE = `minqing-app-${VERSION}`
const SHELL = [
  '/app/',
  `/app/app.js?v=${VERSION}`,
  `/app/app.css?v=${VERSION}`,
  '/app/manifest.webmanifest',
  '/app/icons/icon-192.png',
  '/app/icons/icon-512.png',
]

self.addEventListener('install', (event) => {
  // addAll is all or nothing: a half-downloaded version is never installed.
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  )
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys.filter((k) => k.startsWith('minqing-app-') && k !== CACHE).map((k) => caches.delete(k)),
        ),
      )
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('message', (event) => {
  if (event.data === 'version' && event.source) event.source.postMessage({ version: VERSION })
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin || !url.pathname.startsWith('/app/')) return
  if (request.mode === 'navigate') {
    // Every page of the app is the one shell page (the route is in the #hash).
    event.respondWith(
      caches.open(CACHE).then((cache) =>
        cache.match('/app/').then((hit) => hit || fetch(request)),
      ),
    )
    return
  }
  event.respondWith(
    caches.open(CACHE).then((cache) => cache.match(request).then((hit) => hit || fetch(request))),
  )
})
